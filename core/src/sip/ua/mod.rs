//! The SIP user agent, sans-I/O: registration, calls, and everything a contact-center
//! softphone answers (RFC 3261 and the extensions of DESIGN §3).
//!
//! The runtime feeds it datagrams and stream frames ([`UserAgent::handle_datagram`]), flow
//! status ([`UserAgent::handle_flow_ready`], [`UserAgent::handle_flow_failed`]), timeouts and
//! commands, and drains [`UserAgent::poll_output`] after each.

mod call;
mod core;
mod in_dialog;
mod incoming;
mod outgoing;
#[cfg(test)]
mod tests;
mod types;

pub use types::*;

use self::call::{Call, Phase};
use self::core::{Core, Flow, Owner};
use super::codec::{decode, Malformed};
use super::message::{Message, Method, Request, Response};
use super::name_addr::Uri;
use super::registration::{granted_expires, Registration, RegistrationState, Retry};
use super::target::{Target, TargetList};
use super::transaction::{ServerKey, ServerMatch, TransactionEvent};
use rand::SeedableRng;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// How long to wait for a CRLF pong before declaring a flow dead (RFC 5626 §4.4.1).
const PONG_TIMEOUT: Duration = Duration::from_secs(10);

/// One SIP account's user agent.
#[derive(Debug)]
pub struct UserAgent {
    core: Core,
    registration: Registration,
    /// REGISTER requests share one Call-ID and From tag and count up CSeq (§10.2).
    register_call_id: String,
    register_tag: String,
    register_cseq: u32,
    register_auth_attempts: u32,
    /// Whether the agent wants to be registered (set by register/unregister).
    want_registered: bool,
    calls: BTreeMap<CallHandle, Call>,
    by_call_id: HashMap<String, CallHandle>,
    invite_servers: HashMap<ServerKey, CallHandle>,
    next_handle: u64,
    availability: Availability,
    keepalive_at: Option<Instant>,
    pong_deadline: Option<Instant>,
}

impl UserAgent {
    /// `seed` feeds the random generator for tags, branches and Call-IDs; the runtime
    /// passes OS entropy, tests a fixed value.
    pub fn new(config: UaConfig, seed: u64) -> Self {
        let mut core = Core::new(config.clone(), rand::rngs::StdRng::seed_from_u64(seed));
        let register_call_id = core.token();
        let register_tag = core.token();
        UserAgent {
            registration: Registration::new(config.registration),
            register_call_id,
            register_tag,
            register_cseq: 0,
            register_auth_attempts: 0,
            want_registered: config.register_on_start,
            calls: BTreeMap::new(),
            by_call_id: HashMap::new(),
            invite_servers: HashMap::new(),
            next_handle: 1,
            availability: Availability::Available,
            keepalive_at: None,
            pong_deadline: None,
            core,
        }
    }

    // ---- I/O boundary -------------------------------------------------------------------

    pub fn poll_output(&mut self) -> Option<Output> {
        self.core.out.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        let calls = self.calls.values().filter_map(Call::next_timeout);
        [
            self.core.tx.poll_timeout(),
            self.registration.poll_timeout(),
            self.keepalive_at,
            self.pong_deadline,
        ]
        .into_iter()
        .flatten()
        .chain(calls)
        .min()
    }

    /// The registrar/proxy addresses, in RFC 3263 order. Opens a flow to the first.
    pub fn set_targets(&mut self, now: Instant, targets: Vec<Target>) {
        self.core
            .trusted
            .set_proxies(targets.iter().map(|t| t.addr.ip()));
        self.core.targets = TargetList::new(targets);
        self.open_current_flow(now);
    }

    fn open_current_flow(&mut self, now: Instant) {
        if let Some(old) = self.core.flow.take() {
            self.core.out.push_back(Output::CloseFlow(old.target));
        }
        if self.want_registered {
            self.registration.start_attempt();
            self.report_registration();
        }
        match self.core.targets.current().copied() {
            Some(target) => {
                self.core.flow = Some(Flow {
                    target,
                    local: None,
                });
                self.core.out.push_back(Output::OpenFlow(target));
            }
            None if self.want_registered => {
                self.registration.abandon();
                self.registration.handle_failure(
                    now,
                    None,
                    "no address of the SIP server could be reached".into(),
                    Retry::Backoff,
                    &mut self.core.rng,
                );
                self.report_registration();
            }
            None => {}
        }
    }

    /// The flow to `target` is usable; `local` is our address on it (for Via and Contact).
    pub fn handle_flow_ready(&mut self, now: Instant, target: Target, local: SocketAddr) {
        match &mut self.core.flow {
            Some(flow) if flow.target == target => flow.local = Some(local),
            _ => return,
        }
        self.core.emit(UaEvent::Connected {
            server: target,
            local,
        });
        self.keepalive_at = match (target.transport.is_reliable(), self.core.config.keepalive) {
            (true, Some(every)) => Some(now + every),
            _ => None,
        };
        self.pong_deadline = None;
        if self.want_registered {
            self.send_register(now, true);
        }
    }

    /// The flow to `target` could not be opened or broke: fail what used it and move to
    /// the next target (RFC 3263 §4.3).
    pub fn handle_flow_failed(&mut self, now: Instant, target: Target, reason: &str) {
        if self.core.flow.map(|f| f.target) != Some(target) {
            return;
        }
        tracing::warn!(%reason, ?target, "SIP flow failed");
        self.core.flow = None;
        self.core.emit(UaEvent::Disconnected {
            server: target,
            reason: reason.to_owned(),
        });
        self.keepalive_at = None;
        self.pong_deadline = None;
        self.core.tx.handle_transport_error(target);
        self.process_transaction_events(now);
        self.fail_over(now, reason);
    }

    /// Moves to the next target, or gives up until the retry timer when none is left.
    fn fail_over(&mut self, now: Instant, reason: &str) {
        if let Some(old) = self.core.flow.take() {
            self.core.out.push_back(Output::CloseFlow(old.target));
        }
        if self.core.targets.fail_current().is_some() {
            self.registration.abandon();
            self.open_current_flow(now);
        } else {
            self.core.targets.reset();
            if self.want_registered {
                self.registration.abandon();
                self.registration.handle_failure(
                    now,
                    None,
                    format!("cannot reach the SIP server: {reason}"),
                    Retry::Backoff,
                    &mut self.core.rng,
                );
                self.report_registration();
            }
        }
    }

    /// A keep-alive pong arrived on a reliable flow (RFC 5626 §4.4.1).
    pub fn handle_pong(&mut self) {
        self.pong_deadline = None;
    }

    /// Bytes from the network: a UDP datagram or one frame of a TCP/TLS stream. `source`
    /// is the peer's address and the transport it came over.
    pub fn handle_datagram(&mut self, now: Instant, source: Target, bytes: &[u8]) {
        match decode(bytes) {
            Ok(Message::Request(req)) => self.handle_request(now, *req, source),
            Ok(Message::Response(resp)) => self.handle_response(now, *resp),
            Err(malformed) => self.handle_malformed(malformed, source),
        }
        self.process_transaction_events(now);
    }

    /// A malformed request gets its 400/501/505 (§8.2, §21.4) from a trusted source; a
    /// malformed response is dropped (§18.1.2).
    fn handle_malformed(&mut self, malformed: Malformed, source: Target) {
        tracing::info!(error = %malformed.error, from = %source.addr, "malformed SIP message");
        if !self.core.trusted.is_trusted(source.addr.ip()) {
            return;
        }
        let tag = self.core.token();
        if let Some(resp) = malformed.error_response(&tag) {
            self.core.transmit(source, resp);
        }
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        self.core.tx.handle_timeout(now);
        self.core.drain_transmits();
        self.process_transaction_events(now);
        if let Some(expires) = self.registration.handle_timeout(now) {
            if self.core.flow.is_none() {
                self.registration.abandon();
                self.core.out.push_back(Output::Resolve);
            } else {
                self.send_register_with(now, expires, true);
            }
        }
        self.keepalive(now);
        let handles: Vec<CallHandle> = self
            .calls
            .iter()
            .filter(|(_, c)| c.next_timeout().is_some_and(|t| t <= now))
            .map(|(h, _)| *h)
            .collect();
        for handle in handles {
            self.call_timeout(now, handle);
        }
        self.process_transaction_events(now);
        self.reap_calls();
    }

    /// CRLF pings on reliable flows keep NAT bindings and detect dead connections.
    fn keepalive(&mut self, now: Instant) {
        if self.pong_deadline.is_some_and(|d| d <= now) {
            if let Some(flow) = self.core.flow {
                self.handle_flow_failed(now, flow.target, "no keep-alive answer");
            }
            return;
        }
        if self.keepalive_at.is_some_and(|k| k <= now) {
            if let (Some(flow), Some(every)) = (self.core.flow, self.core.config.keepalive) {
                self.core.transmit(flow.target, b"\r\n\r\n".to_vec());
                self.pong_deadline = Some(now + PONG_TIMEOUT);
                self.keepalive_at = Some(now + every);
            }
        }
    }

    // ---- dispatch -----------------------------------------------------------------------

    fn handle_request(&mut self, now: Instant, mut req: Request, source: Target) {
        req.common.vias[0].stamp_source(source.addr);
        let method = req.method();
        if !self.core.trusted.is_trusted(source.addr.ip()) {
            // No ghost calls (DESIGN §2): not even a 100 Trying, no ring, no event per
            // packet except for INVITE so the agent can see a scan happened.
            tracing::warn!(from = %source.addr, %method, "request from an untrusted source refused");
            if method != Method::Ack {
                let to = reply_target(&req, source);
                self.core.reply_stateless(&req, to, 403, Some("Forbidden"));
            }
            if method == Method::Invite {
                self.core.emit(UaEvent::Deflected {
                    from: req.from().uri.to_string(),
                    reason: DeflectReason::UntrustedSource,
                    code: 403,
                });
            }
            return;
        }
        let reply_to = reply_target(&req, source);
        match self.core.tx.handle_request(now, &req, reply_to) {
            ServerMatch::Absorbed => self.core.drain_transmits(),
            ServerMatch::Ack => self.handle_ack(now, req),
            ServerMatch::New(key) => {
                self.core.drain_transmits();
                self.handle_new_request(now, req, key);
            }
        }
    }

    fn handle_new_request(&mut self, now: Instant, req: Request, key: ServerKey) {
        // §8.2.2.3: refuse extensions we do not implement.
        if !matches!(req.method(), Method::Ack | Method::Cancel) {
            let unsupported: Vec<&str> = super::header::list(req.headers(), "Require")
                .into_iter()
                .filter(|t| {
                    !core::SUPPORTED_TAGS
                        .iter()
                        .any(|s| s.eq_ignore_ascii_case(t))
                        || (t.eq_ignore_ascii_case("100rel")
                            && self.core.config.prack == PrackMode::Off)
                })
                .collect();
            if !unsupported.is_empty() {
                let value = unsupported.join(", ");
                self.core.reply_with(
                    now,
                    &key,
                    &req,
                    420,
                    None,
                    vec![super::header::make("Unsupported", value)],
                    None,
                );
                return;
            }
        }
        if !matches!(req.uri, Uri::Sip(_)) {
            self.core.reply(now, &key, &req, 416, None);
            return;
        }
        let in_dialog = req.to().tag().is_some();
        match req.method() {
            Method::Options => {
                let extra = vec![
                    super::header::make("Accept", "application/sdp"),
                    super::header::make("Supported", self.core.supported()),
                ];
                self.core
                    .reply_with(now, &key, &req, 200, None, extra, None);
            }
            Method::Invite if !in_dialog => self.incoming_invite(now, req, key),
            Method::Cancel => self.incoming_cancel(now, req, key),
            Method::Register | Method::Subscribe | Method::Publish | Method::Message => {
                self.core.reply(now, &key, &req, 405, None);
            }
            Method::Notify if !in_dialog => {
                // Unsolicited NOTIFY (e.g. message-summary from PBXs that send MWI without a
                // subscription): acknowledge so the PBX stops retrying.
                self.core.reply(now, &key, &req, 200, None);
            }
            _ if in_dialog => self.in_dialog_request(now, req, key),
            _ => self.core.reply(now, &key, &req, 481, None),
        }
    }

    fn handle_response(&mut self, now: Instant, resp: Response) {
        if !self.core.tx.handle_response(now, resp.clone()) {
            self.stray_response(now, resp);
        }
        self.core.drain_transmits();
    }

    fn process_transaction_events(&mut self, now: Instant) {
        while let Some(event) = self.core.tx.poll_event() {
            match event {
                TransactionEvent::Response(key, resp) => {
                    let Some(pending) = self.core.pending.get(&key) else {
                        // Retransmitted 2xx to an INVITE whose first 2xx we handled.
                        self.stray_response(now, *resp);
                        continue;
                    };
                    let owner = pending.owner;
                    let request = pending.request.clone();
                    if resp.code >= 200 {
                        self.core.pending.remove(&key);
                    }
                    self.dispatch_response(now, owner, request, *resp);
                }
                TransactionEvent::Timeout(key) | TransactionEvent::TransportError(key) => {
                    let failure = if self.core.flow.is_none() { 503 } else { 408 };
                    if let Some(pending) = self.core.pending.remove(&key) {
                        self.dispatch_failure(now, pending.owner, pending.request, failure);
                    }
                }
                TransactionEvent::AckTimeout(key) => {
                    tracing::debug!(?key, "no ACK for our final response");
                }
            }
            self.core.drain_transmits();
        }
        self.reap_calls();
    }

    fn dispatch_response(&mut self, now: Instant, owner: Owner, request: Request, resp: Response) {
        match owner {
            Owner::Register => self.register_response(now, request, resp),
            Owner::Call(handle, purpose) => self.call_response(now, handle, purpose, request, resp),
            Owner::Nobody => {}
        }
    }

    /// A transaction ended without a response: act as if a 408 (timeout) or 503 (transport
    /// error) had arrived (§8.1.3.1), and try the next server for out-of-dialog requests.
    fn dispatch_failure(&mut self, now: Instant, owner: Owner, request: Request, code: u16) {
        match owner {
            // A transport error (503) comes from a failed flow, which `handle_flow_failed`
            // already moves past; a timeout means this server does not answer.
            Owner::Register => {
                self.registration.abandon();
                if code == 408 && self.want_registered {
                    self.fail_over(now, "no response from the SIP server (timeout)");
                }
            }
            Owner::Call(handle, purpose) => self.call_failure(now, handle, purpose, request, code),
            Owner::Nobody => {}
        }
    }

    // ---- registration -------------------------------------------------------------------

    /// Registers now (and keeps the registration refreshed).
    pub fn register(&mut self, now: Instant) {
        self.want_registered = true;
        self.register_auth_attempts = 0;
        if self.core.flow.is_none() {
            // After every target failed: start over from the first.
            self.core.targets.reset();
            self.open_current_flow(now);
            return;
        }
        self.send_register(now, true);
    }

    /// Removes our binding (Expires: 0, §10.2.2).
    pub fn unregister(&mut self, now: Instant) {
        self.want_registered = false;
        if let Some(expires) = self.registration.unregister() {
            self.send_register_with(now, expires, false);
        }
        self.report_registration();
    }

    fn send_register(&mut self, now: Instant, fresh: bool) {
        if let Some(expires) = self.registration.register() {
            self.send_register_with(now, expires, fresh);
        }
        self.report_registration();
    }

    fn send_register_with(&mut self, now: Instant, expires: u32, fresh: bool) {
        if fresh {
            self.register_auth_attempts = 0;
        }
        if let Err(e) = self.build_and_send_register(now, expires, Vec::new()) {
            tracing::debug!(error = %e, "REGISTER not sent");
            self.registration.abandon();
        }
        self.report_registration();
    }

    fn build_and_send_register(
        &mut self,
        now: Instant,
        expires: u32,
        auth: Vec<rsip::Header>,
    ) -> Result<(), CommandError> {
        self.register_cseq += 1;
        let aor = self.core.local_identity();
        let mut contact = self.core.contact()?;
        contact.set_param("expires", Some(&expires.to_string()));
        let mut b = self.core.out_of_dialog(
            Method::Register,
            Uri::Sip(self.core.config.registrar.clone()),
            aor.clone().with_tag(&self.register_tag),
            aor,
            self.register_call_id.clone(),
            self.register_cseq,
        )?;
        b.contact = Some(contact);
        b.extra
            .push(super::header::make("Expires", expires.to_string()));
        b.extra.push(super::header::make("Allow", super::ALLOW));
        b.extra
            .push(super::header::make("Supported", self.core.supported()));
        b.extra.extend(auth);
        self.core.send(now, b, Owner::Register)?;
        Ok(())
    }

    fn register_response(&mut self, now: Instant, request: Request, resp: Response) {
        let asked: u32 = request
            .header("Expires")
            .and_then(|e| e.parse().ok())
            .unwrap_or(0);
        match resp.code {
            100..=199 => {}
            200..=299 => {
                let ours = self.core.contact_uri().ok();
                let granted = ours.map_or(asked, |c| granted_expires(&resp, &c, asked));
                self.registration.handle_success(now, granted);
            }
            401 | 407 if self.register_auth_attempts < 3 => {
                self.register_auth_attempts += 1;
                match self.core.answer_challenge(&request, &resp) {
                    // The same attempt goes on with credentials: the registration still has
                    // it in flight.
                    Ok(auth) => {
                        if self.build_and_send_register(now, asked, auth).is_err() {
                            self.registration.abandon();
                        }
                    }
                    Err(e) => self.registration.handle_failure(
                        now,
                        Some(resp.code),
                        e.to_string(),
                        Retry::Never,
                        &mut self.core.rng,
                    ),
                }
            }
            423 => {
                let min: u32 = resp
                    .header("Min-Expires")
                    .and_then(|m| m.trim().parse().ok())
                    .unwrap_or(0);
                match self.registration.handle_too_brief(min) {
                    Some(expires) => self.send_register_with(now, expires, false),
                    None => self.registration.handle_failure(
                        now,
                        Some(423),
                        resp.reason.clone(),
                        Retry::Backoff,
                        &mut self.core.rng,
                    ),
                }
            }
            code => {
                let retry = match code {
                    401 | 403 | 404 | 407 => Retry::Never,
                    _ => match resp
                        .header("Retry-After")
                        .and_then(|r| r.split(';').next()?.trim().parse().ok())
                    {
                        Some(secs) => Retry::After(Duration::from_secs(secs)),
                        None => Retry::Backoff,
                    },
                };
                let reason = match code {
                    401 | 407 => "the server rejected the user name or password".to_owned(),
                    _ => format!("{code} {}", resp.reason),
                };
                self.registration.handle_failure(
                    now,
                    Some(code),
                    reason,
                    retry,
                    &mut self.core.rng,
                );
            }
        }
        self.report_registration();
    }

    fn report_registration(&mut self) {
        while let Some(state) = self.registration.poll_change() {
            self.core.emit(UaEvent::Registration(state));
        }
    }

    pub fn registration_state(&self) -> &RegistrationState {
        self.registration.state()
    }

    // ---- calls: shared helpers ---------------------------------------------------------

    /// Whether incoming calls may ring; set from the agent state.
    pub fn set_availability(&mut self, availability: Availability) {
        self.availability = availability;
    }

    /// Every live call and its state.
    pub fn calls(&self) -> impl Iterator<Item = (CallHandle, CallState)> + '_ {
        self.calls.iter().map(|(h, c)| (*h, c.state()))
    }

    fn new_handle(&mut self) -> CallHandle {
        let h = CallHandle(self.next_handle);
        self.next_handle += 1;
        h
    }

    /// Emits the call's state if it changed since last reported.
    fn report(&mut self, handle: CallHandle) {
        let Some(call) = self.calls.get_mut(&handle) else {
            return;
        };
        let state = call.state();
        if call.reported.as_ref() != Some(&state) {
            call.reported = Some(state.clone());
            self.core.emit(UaEvent::CallState {
                call: handle,
                state,
            });
        }
    }

    /// Ends a call: stops its media, reports why, and forgets it once its transactions end.
    fn end_call(&mut self, handle: CallHandle, reason: EndReason, code: Option<u16>, phrase: &str) {
        let Some(call) = self.calls.get_mut(&handle) else {
            return;
        };
        if call.phase == Phase::Terminated {
            return;
        }
        call.phase = Phase::Terminated;
        call.ended = Some((reason, code, phrase.to_owned()));
        call.ok_retransmission = None;
        call.reliable_provisional = None;
        call.refresh_at = None;
        call.expire_at = None;
        call.retry_modify = None;
        call.no_answer_at = None;
        let had_media = call.media.take().is_some();
        if had_media {
            self.core.emit(UaEvent::Media {
                call: handle,
                media: None,
            });
        }
        self.report(handle);
    }

    /// Drops ended calls whose INVITE has completed; their late messages then get 481
    /// (§12.2.2).
    fn reap_calls(&mut self) {
        let pending = &self.core.pending;
        let ended: Vec<CallHandle> = self
            .calls
            .iter()
            .filter(|(_, c)| c.phase == Phase::Terminated)
            .filter(|(_, c)| {
                !c.invite_client
                    .as_ref()
                    .is_some_and(|k| pending.contains_key(k))
            })
            .map(|(h, _)| *h)
            .collect();
        for handle in ended {
            if let Some(call) = self.calls.remove(&handle) {
                if self.by_call_id.get(&call.sip_call_id) == Some(&handle) {
                    self.by_call_id.remove(&call.sip_call_id);
                }
                if let Some(key) = &call.invite_server {
                    self.invite_servers.remove(key);
                }
            }
        }
    }

    /// Ends every call and unregisters (on quit).
    pub fn shutdown(&mut self, now: Instant) {
        let handles: Vec<CallHandle> = self.calls.keys().copied().collect();
        for h in handles {
            let _ = self.hangup(now, h);
        }
        self.unregister(now);
    }

    fn active_calls(&self) -> usize {
        self.calls.values().filter(|c| c.is_active()).count()
    }
}

/// A live call, for commands (a free function so that `core` stays borrowable beside it).
fn active(
    calls: &mut BTreeMap<CallHandle, Call>,
    handle: CallHandle,
) -> Result<&mut Call, CommandError> {
    calls
        .get_mut(&handle)
        .filter(|c| c.is_active())
        .ok_or(CommandError::UnknownCall(handle))
}

/// Where responses to `req` go (§18.2.2): back over the connection for TCP/TLS; for UDP to
/// the address in the top Via (RFC 3581: the source port when `rport` was asked).
fn reply_target(req: &Request, source: Target) -> Target {
    if source.transport.is_reliable() {
        source
    } else {
        Target {
            transport: source.transport,
            addr: req.top_via().response_address(source.addr),
        }
    }
}
