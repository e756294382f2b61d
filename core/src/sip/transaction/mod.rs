//! The transaction layer (RFC 3261 §17, with the RFC 6026 "Accepted" states): four state
//! machines with timers A–M, driven by the `now` passed in, plus the matching rules of
//! §17.1.3 and §17.2.3.
//!
//! The layer never reads a clock. Callers feed it requests, responses, timeouts and
//! transport errors, then drain [`TransactionLayer::poll_transmit`] and
//! [`TransactionLayer::poll_event`], and arm one timer at [`TransactionLayer::poll_timeout`].

mod client_invite;
mod client_non_invite;
mod server_invite;
mod server_non_invite;
#[cfg(test)]
mod tests;

use super::message::{Method, Request, Response};
use super::target::Target;
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use client_invite::ClientInvite;
use client_non_invite::ClientNonInvite;
use server_invite::ServerInvite;
use server_non_invite::ServerNonInvite;

/// The timer base values of §17.1.1.1 and Table 4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    /// RTT estimate, 500 ms by default.
    pub t1: Duration,
    /// Longest retransmit interval for non-INVITE requests and INVITE responses, 4 s.
    pub t2: Duration,
    /// Longest time a message stays in the network, 5 s.
    pub t4: Duration,
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

impl Timers {
    /// 64·T1: timers B, F, H, J (unreliable), L and M.
    pub fn timeout(&self) -> Duration {
        self.t1 * 64
    }
}

/// The bytes to send and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub target: Target,
    pub payload: Vec<u8>,
}

/// A method name usable in hash keys (rsip's `Method` does not implement `Hash`).
fn method_key(m: Method) -> &'static str {
    match m {
        Method::Ack => "ACK",
        Method::Bye => "BYE",
        Method::Cancel => "CANCEL",
        Method::Info => "INFO",
        Method::Invite => "INVITE",
        Method::Message => "MESSAGE",
        Method::Notify => "NOTIFY",
        Method::Options => "OPTIONS",
        Method::PRack => "PRACK",
        Method::Publish => "PUBLISH",
        Method::Refer => "REFER",
        Method::Register => "REGISTER",
        Method::Subscribe => "SUBSCRIBE",
        Method::Update => "UPDATE",
    }
}

/// Identifies a client transaction: top Via branch and CSeq method (§17.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientKey {
    pub branch: String,
    method: &'static str,
}

impl ClientKey {
    fn new(branch: &str, method: Method) -> Self {
        ClientKey {
            branch: branch.to_owned(),
            method: method_key(method),
        }
    }

    pub fn is_invite(&self) -> bool {
        self.method == "INVITE"
    }
}

/// Identifies a server transaction: branch, sent-by and method, where ACK matches INVITE
/// (§17.2.3). Requests without the RFC 3261 magic cookie get a key made of the fields
/// RFC 2543 matching compares.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServerKey {
    branch: String,
    sent_by: String,
    method: &'static str,
}

impl ServerKey {
    pub fn for_request(req: &Request) -> Self {
        let via = req.top_via();
        let method = match req.method() {
            Method::Ack => Method::Invite,
            m => m,
        };
        let branch = if via.has_rfc3261_branch() {
            via.branch().unwrap_or_default().to_owned()
        } else {
            // §17.2.3, RFC 2543 compatibility: Request-URI, From tag, Call-ID, CSeq number and
            // top Via identify the transaction (the To tag is left out so that the ACK, which
            // carries the tag of our response, matches too).
            format!(
                "2543;{};{};{};{};{}",
                req.uri,
                req.from().tag().unwrap_or_default(),
                req.call_id(),
                req.cseq().seq,
                via.sent_by()
            )
        };
        ServerKey {
            branch,
            sent_by: via.sent_by(),
            method: method_key(method),
        }
    }

    /// The key of the INVITE transaction a CANCEL refers to (§9.2).
    pub fn invite_of_cancel(&self) -> ServerKey {
        ServerKey {
            method: "INVITE",
            ..self.clone()
        }
    }
}

/// What the layer reports to the transaction user (TU).
#[derive(Debug, Clone)]
pub enum TransactionEvent {
    /// A response for the TU (provisional, 2xx including retransmissions in Accepted, or the
    /// first copy of a final non-2xx).
    Response(ClientKey, Box<Response>),
    /// Timer B or F fired: no final response (the TU acts as if a 408 arrived, §8.1.3.1).
    Timeout(ClientKey),
    /// The transport reported the target unreachable (§8.1.3.1: treat as 503).
    TransportError(ClientKey),
    /// Timer H fired: the ACK for our non-2xx final response never came (§17.2.1).
    AckTimeout(ServerKey),
}

/// How an incoming request was matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerMatch {
    /// A new transaction; the TU must answer it through [`TransactionLayer::respond`].
    New(ServerKey),
    /// A retransmission, answered (or ignored) by the existing transaction.
    Absorbed,
    /// An ACK the TU must handle: the ACK for a 2xx, which is its own transaction (§17.1.1.3).
    Ack,
}

/// Errors of the TU's calls into the layer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransactionError {
    #[error("no such server transaction")]
    NoTransaction,
    #[error("the transaction has already sent its final response")]
    AlreadyFinal,
}

/// Where transactions put their output.
#[derive(Debug, Default)]
struct Outbox {
    transmits: VecDeque<Transmit>,
    events: VecDeque<TransactionEvent>,
}

impl Outbox {
    fn send(&mut self, target: Target, payload: Vec<u8>) {
        self.transmits.push_back(Transmit { target, payload });
    }
}

/// A retransmission timer whose interval doubles up to an optional cap (timers A, E, G).
#[derive(Debug, Clone, Copy)]
struct Backoff {
    at: Instant,
    interval: Duration,
    cap: Option<Duration>,
}

impl Backoff {
    fn new(now: Instant, interval: Duration, cap: Option<Duration>) -> Self {
        Backoff {
            at: now + interval,
            interval,
            cap,
        }
    }

    /// Moves to the next firing after one at `now`.
    fn advance(&mut self, now: Instant) {
        let doubled = self.interval * 2;
        self.interval = self.cap.map_or(doubled, |cap| doubled.min(cap));
        self.at = now + self.interval;
    }
}

/// The earliest of some optional deadlines.
fn earliest(deadlines: impl IntoIterator<Item = Option<Instant>>) -> Option<Instant> {
    deadlines.into_iter().flatten().min()
}

/// How long a transaction lingers to absorb retransmissions (timers D, I, J, K): the
/// unreliable value over UDP, zero over TCP/TLS, where nothing is retransmitted
/// (§17.1.1.2, §17.1.2.2, §17.2.1, §17.2.2).
fn absorb_for(target: Target, unreliable: Duration) -> Duration {
    if target.transport.is_reliable() {
        Duration::ZERO
    } else {
        unreliable
    }
}

/// Whether `deadline` has passed at `now`.
fn due(deadline: Option<Instant>, now: Instant) -> bool {
    deadline.is_some_and(|d| d <= now)
}

#[derive(Debug)]
enum Client {
    Invite(Box<ClientInvite>),
    NonInvite(ClientNonInvite),
}

#[derive(Debug)]
enum Server {
    Invite(ServerInvite),
    NonInvite(ServerNonInvite),
}

macro_rules! dispatch {
    ($value:expr, $enum:ident, $t:ident => $body:expr) => {
        match $value {
            $enum::Invite($t) => $body,
            $enum::NonInvite($t) => $body,
        }
    };
}

/// All transactions of one user agent.
#[derive(Debug)]
pub struct TransactionLayer {
    timers: Timers,
    clients: HashMap<ClientKey, Client>,
    servers: HashMap<ServerKey, Server>,
    out: Outbox,
}

impl TransactionLayer {
    pub fn new(timers: Timers) -> Self {
        TransactionLayer {
            timers,
            clients: HashMap::new(),
            servers: HashMap::new(),
            out: Outbox::default(),
        }
    }

    pub fn timers(&self) -> Timers {
        self.timers
    }

    /// Starts a client transaction for `request` (which carries a fresh branch) and sends it.
    /// ACK is not a transaction (§17.1.1.3): send it with the TU's own transmit queue.
    pub fn send_request(&mut self, now: Instant, request: Request, target: Target) -> ClientKey {
        let key = ClientKey::new(
            request.top_via().branch().unwrap_or_default(),
            request.method(),
        );
        let client = if request.method() == Method::Invite {
            Client::Invite(Box::new(ClientInvite::start(
                now,
                request,
                target,
                self.timers,
                &mut self.out,
            )))
        } else {
            Client::NonInvite(ClientNonInvite::start(
                now,
                request,
                target,
                self.timers,
                &mut self.out,
            ))
        };
        self.clients.insert(key.clone(), client);
        key
    }

    /// Matches a response to its client transaction (§17.1.3). Returns `false` for a stray
    /// response: the TU drops it (§18.1.2), except a 2xx to INVITE, which may be another
    /// fork's answer after the transaction ended (§13.2.2.4).
    pub fn handle_response(&mut self, now: Instant, response: Response) -> bool {
        let key = ClientKey::new(
            response.top_via().branch().unwrap_or_default(),
            response.cseq().method,
        );
        match self.clients.get_mut(&key) {
            Some(client) => {
                dispatch!(client, Client, c => c.on_response(now, &key, response, &mut self.out));
                true
            }
            None => false,
        }
    }

    /// Matches a request to a server transaction (§17.2.3), creating one for a new request.
    /// `reply_to` is where responses go (§18.2.2): the connection it came on, or the Via
    /// address for UDP.
    pub fn handle_request(
        &mut self,
        now: Instant,
        request: &Request,
        reply_to: Target,
    ) -> ServerMatch {
        let key = ServerKey::for_request(request);
        match (request.method(), self.servers.get_mut(&key)) {
            (Method::Ack, Some(Server::Invite(tx))) => {
                if tx.on_ack(now) {
                    ServerMatch::Absorbed
                } else {
                    ServerMatch::Ack
                }
            }
            (Method::Ack, _) => ServerMatch::Ack,
            (_, Some(server)) => {
                dispatch!(server, Server, s => s.on_retransmission(&mut self.out));
                ServerMatch::Absorbed
            }
            (method, None) => {
                let server = if method == Method::Invite {
                    Server::Invite(ServerInvite::start(
                        now,
                        request,
                        reply_to,
                        self.timers,
                        &mut self.out,
                    ))
                } else {
                    Server::NonInvite(ServerNonInvite::start(reply_to, self.timers))
                };
                self.servers.insert(key.clone(), server);
                ServerMatch::New(key)
            }
        }
    }

    /// Sends a response through a server transaction.
    pub fn respond(
        &mut self,
        now: Instant,
        key: &ServerKey,
        response: rsip::Response,
    ) -> Result<(), TransactionError> {
        let server = self
            .servers
            .get_mut(key)
            .ok_or(TransactionError::NoTransaction)?;
        dispatch!(server, Server, s => s.respond(now, response, &mut self.out))
    }

    /// Gives an INVITE client transaction in Proceeding a deadline for its final response.
    /// §9.1: once CANCEL is sent, a transaction without a final response after 64·T1 is
    /// considered cancelled and destroyed; it then reports [`TransactionEvent::Timeout`].
    pub fn expect_final_by(&mut self, key: &ClientKey, deadline: Instant) {
        if let Some(Client::Invite(tx)) = self.clients.get_mut(key) {
            tx.expect_final_by(deadline);
        }
    }

    /// Whether a server transaction still waits for its final response (used to decide
    /// whether a CANCEL can take effect, §9.2).
    pub fn is_pending(&self, key: &ServerKey) -> bool {
        matches!(self.servers.get(key), Some(s) if dispatch!(s, Server, s => !s.has_final()))
    }

    /// Fires every timer that is due.
    pub fn handle_timeout(&mut self, now: Instant) {
        for (key, client) in self.clients.iter_mut() {
            dispatch!(client, Client, c => c.on_timeout(now, key, &mut self.out));
        }
        for (key, server) in self.servers.iter_mut() {
            dispatch!(server, Server, s => s.on_timeout(now, key, &mut self.out));
        }
        self.clients
            .retain(|_, c| !dispatch!(c, Client, c => c.is_terminated()));
        self.servers
            .retain(|_, s| !dispatch!(s, Server, s => s.is_terminated()));
    }

    /// The transport could not deliver to `target` (connection refused or lost, ICMP
    /// error): every client transaction towards it fails (§17.1.4), and server transactions
    /// replying there are dropped.
    pub fn handle_transport_error(&mut self, target: Target) {
        let out = &mut self.out;
        self.clients.retain(|key, c| {
            let hit = dispatch!(c, Client, c => c.target() == target);
            if hit {
                out.events
                    .push_back(TransactionEvent::TransportError(key.clone()));
            }
            !hit
        });
        self.servers
            .retain(|_, s| dispatch!(s, Server, s => s.reply_to()) != target);
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.transmits.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<TransactionEvent> {
        self.out.events.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        let clients = self
            .clients
            .values()
            .map(|c| dispatch!(c, Client, c => c.next_timeout()));
        let servers = self
            .servers
            .values()
            .map(|s| dispatch!(s, Server, s => s.next_timeout()));
        earliest(clients.chain(servers))
    }

    /// Number of live transactions (for tests and diagnostics).
    pub fn len(&self) -> usize {
        self.clients.len() + self.servers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
