//! Services every part of the user agent shares: the transaction layer, the flow to the
//! registrar/proxy, identifiers, digest answers and the output queue.

use super::types::{CommandError, Output, PrackMode, UaConfig, UaEvent};
use crate::sip::auth::{self, ChallengeVerdict, DigestChallenge, DigestClient};
use crate::sip::builder::{self, RequestBuilder};
use crate::sip::codec::encode_response;
use crate::sip::dialog::Dialog;
use crate::sip::header::{self, make};
use crate::sip::message::{Method, Request, Response};
use crate::sip::name_addr::{NameAddr, Uri};
use crate::sip::target::{Target, TargetList, TransportKind};
use crate::sip::transaction::{ClientKey, ServerKey, TransactionLayer, Transmit};
use crate::sip::trust::TrustedSources;
use crate::sip::uri::{Host, SipUri};
use crate::sip::via::{Via, BRANCH_COOKIE};
use rand::rngs::StdRng;
use rand::RngExt;
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;

/// Option tags we implement (§19.2): reliable provisionals, session timers, Replaces.
pub(super) const SUPPORTED_TAGS: &[&str] = &["100rel", "timer", "replaces"];

/// The connection (or UDP path) all requests use: RFC 3261 §8.1.2 lets a UA send every
/// request to its outbound proxy, which is how agents behind an SBC work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Flow {
    pub target: Target,
    /// Our address on this flow, for Via and Contact; `None` while it is being opened.
    pub local: Option<SocketAddr>,
}

/// Who is waiting for a client transaction's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Owner {
    Register,
    Call(super::types::CallHandle, Purpose),
    /// Requests whose outcome nobody needs (BYE to a stray fork, NOTIFY after the call).
    Nobody,
}

/// What a call's client transaction is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Purpose {
    Invite,
    ReInvite,
    Update,
    Bye,
    Cancel,
    Prack,
    Refer,
    Notify,
    Info,
}

/// A client transaction in flight: its owner and the request, for digest retries.
#[derive(Debug)]
pub(super) struct Pending {
    pub owner: Owner,
    pub request: Request,
}

/// Why a challenge could not be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(super) enum AuthFailure {
    #[error("the server asks for a password and none is configured")]
    NoCredentials,
    #[error("the server rejected the user name or password")]
    Rejected,
    #[error("the server's challenge cannot be answered: {0}")]
    Unusable(String),
}

#[derive(Debug)]
pub(super) struct Core {
    pub config: UaConfig,
    pub tx: TransactionLayer,
    pub rng: StdRng,
    pub targets: TargetList,
    pub flow: Option<Flow>,
    pub trusted: TrustedSources,
    pub digest: Option<DigestClient>,
    pub pending: HashMap<ClientKey, Pending>,
    pub out: VecDeque<Output>,
}

impl Core {
    pub fn new(config: UaConfig, rng: StdRng) -> Self {
        Core {
            tx: TransactionLayer::new(config.timers),
            trusted: TrustedSources::new(config.trusted.clone()),
            digest: config.credentials.clone().map(DigestClient::new),
            targets: TargetList::new(Vec::new()),
            flow: None,
            pending: HashMap::new(),
            out: VecDeque::new(),
            rng,
            config,
        }
    }

    pub fn emit(&mut self, event: UaEvent) {
        self.out.push_back(Output::Event(event));
    }

    /// Moves the transaction layer's datagrams to our output, keeping their order.
    pub fn drain_transmits(&mut self) {
        while let Some(t) = self.tx.poll_transmit() {
            self.out.push_back(Output::Transmit(t));
        }
    }

    pub fn transmit(&mut self, target: Target, payload: Vec<u8>) {
        self.out
            .push_back(Output::Transmit(Transmit { target, payload }));
    }

    /// A random token for tags, branches and Call-IDs (§19.3: at least 32 bits of
    /// randomness; this has 96).
    pub fn token(&mut self) -> String {
        let v: u128 = self.rng.random();
        format!("{:024x}", v >> 32)
    }

    /// The offer/answer state of a new call at `local_media`, with a random SRTP master
    /// key and salt when SRTP may be used (RFC 4568 §6.1: a fresh key per session).
    pub fn sdp_session(&mut self, local_media: SocketAddr) -> crate::sdp::SdpSession {
        let session_id = self.rng.random::<u32>().into();
        let mut sdp =
            crate::sdp::SdpSession::new(session_id, local_media, self.config.media.clone());
        if self.config.media.srtp != crate::sdp::crypto::SrtpPolicy::Off {
            sdp.set_srtp_key(self.rng.random());
        }
        sdp
    }

    pub fn branch(&mut self) -> String {
        format!("{BRANCH_COOKIE}{}", self.token())
    }

    /// The flow if it is ready to carry requests.
    pub fn ready_flow(&self) -> Result<(Target, SocketAddr), CommandError> {
        match self.flow {
            Some(Flow {
                target,
                local: Some(local),
            }) => Ok((target, local)),
            _ => Err(CommandError::NoFlow),
        }
    }

    /// Our Contact on the current flow (§8.1.1.8): reachable through this very flow, so
    /// that the proxy can send requests back over the connection we opened (RFC 5626 §5).
    pub fn contact(&self) -> Result<NameAddr, CommandError> {
        let (target, local) = self.ready_flow()?;
        let mut uri = SipUri::new(
            self.config.aor.user.as_deref(),
            Host::Ip(local.ip()),
            Some(local.port()),
        );
        if target.transport != TransportKind::Udp {
            uri.set_param("transport", Some(&target.transport.to_string()));
        }
        Ok(NameAddr::new(None, uri))
    }

    pub fn contact_uri(&self) -> Result<SipUri, CommandError> {
        self.contact()?
            .sip_uri()
            .cloned()
            .map_err(|e| CommandError::Build(e.to_string()))
    }

    fn via(&mut self) -> Result<Via, CommandError> {
        let (target, local) = self.ready_flow()?;
        let branch = self.branch();
        Ok(Via::new(target.transport.via_name(), local, &branch))
    }

    /// Our From for new dialogs and registrations.
    pub fn local_identity(&self) -> NameAddr {
        NameAddr::new(self.config.display_name.as_deref(), self.config.aor.clone())
    }

    /// A request outside any dialog: Route to the outbound proxy if one is configured.
    pub fn out_of_dialog(
        &mut self,
        method: Method,
        uri: Uri,
        from: NameAddr,
        to: NameAddr,
        call_id: String,
        cseq: u32,
    ) -> Result<RequestBuilder, CommandError> {
        let routes = self
            .config
            .outbound_proxy
            .iter()
            .map(|p| {
                let mut p = p.clone();
                p.set_param("lr", None);
                NameAddr::new(None, p)
            })
            .collect();
        let b = RequestBuilder {
            method,
            uri,
            via: self.via()?,
            from,
            to,
            call_id,
            cseq,
            routes,
            contact: None,
            extra: Vec::new(),
            body: None,
        };
        Ok(self.common_headers(b))
    }

    /// A request inside `dialog` (§12.2.1.1). ACK and CANCEL pass the CSeq number to use.
    pub fn in_dialog(
        &mut self,
        dialog: &mut Dialog,
        method: Method,
        cseq: Option<u32>,
    ) -> Result<RequestBuilder, CommandError> {
        let (uri, routes) = dialog.request_target();
        let cseq = cseq.unwrap_or_else(|| dialog.next_seq());
        let b = RequestBuilder {
            method,
            uri: Uri::Sip(uri),
            via: self.via()?,
            from: dialog.local_with_tag(),
            to: dialog.remote_with_tag(),
            call_id: dialog.id.call_id.clone(),
            cseq,
            routes,
            contact: None,
            extra: Vec::new(),
            body: None,
        };
        Ok(self.common_headers(b))
    }

    fn common_headers(&self, mut b: RequestBuilder) -> RequestBuilder {
        if matches!(
            b.method,
            Method::Invite | Method::Update | Method::Refer | Method::Subscribe | Method::Notify
        ) {
            // Target-refresh and dialog-creating requests carry our Contact (§8.1.1.8,
            // RFC 3311 §5.1, RFC 3515 §2.4.1).
            b.contact = self.contact().ok();
        }
        if b.method != Method::Ack && b.method != Method::Cancel {
            b.extra
                .push(make("User-Agent", self.config.user_agent.clone()));
        }
        b
    }

    /// Builds `b`, starts its client transaction on the flow and remembers the owner.
    pub fn send(
        &mut self,
        now: Instant,
        b: RequestBuilder,
        owner: Owner,
    ) -> Result<ClientKey, CommandError> {
        let request = b.build().map_err(|e| CommandError::Build(e.to_string()))?;
        self.send_request(now, request, owner)
    }

    /// Starts a client transaction for a request built elsewhere (CANCEL, §9.1).
    pub fn send_request(
        &mut self,
        now: Instant,
        request: Request,
        owner: Owner,
    ) -> Result<ClientKey, CommandError> {
        let (target, _) = self.ready_flow()?;
        let key = self.tx.send_request(now, request.clone(), target);
        self.pending.insert(key.clone(), Pending { owner, request });
        self.drain_transmits();
        Ok(key)
    }

    /// Sends a request without a transaction: the ACK for a 2xx (§13.2.2.4, §17.1.1.3).
    pub fn send_stateless(&mut self, b: RequestBuilder) -> Result<Vec<u8>, CommandError> {
        let (target, _) = self.ready_flow()?;
        let bytes = b
            .build()
            .map_err(|e| CommandError::Build(e.to_string()))?
            .encode();
        self.transmit(target, bytes.clone());
        Ok(bytes)
    }

    /// Answers a request through its server transaction.
    pub fn respond(&mut self, now: Instant, key: &ServerKey, response: rsip::Response) {
        if let Err(e) = self.tx.respond(now, key, response) {
            tracing::debug!(error = %e, "response not sent");
        }
        self.drain_transmits();
    }

    /// A response with just the mandatory headers, plus Server.
    pub fn reply(
        &mut self,
        now: Instant,
        key: &ServerKey,
        req: &Request,
        code: u16,
        phrase: Option<&str>,
    ) {
        self.reply_with(now, key, req, code, phrase, Vec::new(), None);
    }

    /// A response with extra headers and an optional body, sent at once.
    #[allow(clippy::too_many_arguments)]
    pub fn reply_with(
        &mut self,
        now: Instant,
        key: &ServerKey,
        req: &Request,
        code: u16,
        phrase: Option<&str>,
        extra: Vec<rsip::Header>,
        body: Option<(&str, Vec<u8>)>,
    ) {
        let resp = self.build_reply(req, code, phrase, None, extra, body);
        self.respond(now, key, resp);
    }

    /// A response with no body and the To tag of the dialog it belongs to (§9.2, §12.1.1).
    pub fn reply_tagged(
        &mut self,
        now: Instant,
        key: &ServerKey,
        req: &Request,
        code: u16,
        phrase: Option<&str>,
        tag: &str,
    ) {
        let resp = self.build_reply(req, code, phrase, Some(tag), Vec::new(), None);
        self.respond(now, key, resp);
    }

    /// Builds a response (§8.2.6): the request's mandatory headers, the To tag (`tag`, else
    /// the request's, else a new one), our Contact and Allow on responses that can
    /// establish or refresh a dialog (§12.1.1, §13.3.1.4), Allow where RFC 3261 asks for it
    /// (405, 501, OPTIONS), Server, then `extra` and the body.
    pub fn build_reply(
        &mut self,
        req: &Request,
        code: u16,
        phrase: Option<&str>,
        tag: Option<&str>,
        extra: Vec<rsip::Header>,
        body: Option<(&str, Vec<u8>)>,
    ) -> rsip::Response {
        let tag = tag
            .or(req.to().tag())
            .map(str::to_owned)
            .unwrap_or_else(|| self.token());
        let mut resp = builder::response(req, code, phrase, Some(&tag));
        let dialog_forming = matches!(
            req.method(),
            Method::Invite | Method::Update | Method::Subscribe | Method::Refer
        ) && (101..300).contains(&code);
        if dialog_forming {
            if let Ok(contact) = self.contact() {
                resp.headers.push(make("Contact", contact.to_string()));
            }
        }
        if dialog_forming
            || matches!(code, 405 | 501)
            || (req.method() == Method::Options && code == 200)
        {
            resp.headers.push(make("Allow", crate::sip::ALLOW));
        }
        resp.headers
            .push(make("Server", self.config.user_agent.clone()));
        builder::finish_response(resp, extra, body)
    }

    /// The option tags we advertise in Supported.
    pub fn supported(&self) -> String {
        SUPPORTED_TAGS
            .iter()
            .filter(|t| **t != "100rel" || self.config.prack != PrackMode::Off)
            .copied()
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The Authorization / Proxy-Authorization headers answering a 401/407 to `request`
    /// (§22.2, §22.3): one per realm challenged.
    pub fn answer_challenge(
        &mut self,
        request: &Request,
        response: &Response,
    ) -> Result<Vec<rsip::Header>, AuthFailure> {
        let (challenge_name, answer_name) = if response.code == 407 {
            ("Proxy-Authenticate", "Proxy-Authorization")
        } else {
            ("WWW-Authenticate", "Authorization")
        };
        let challenges: Vec<DigestChallenge> = header::all(response.headers(), challenge_name)
            .filter_map(|v| DigestChallenge::parse(v).ok())
            .collect();
        let chosen = auth::choose_per_realm(&challenges);
        if chosen.is_empty() {
            return Err(AuthFailure::Unusable(format!(
                "no usable {challenge_name} header"
            )));
        }
        let digest = self.digest.as_mut().ok_or(AuthFailure::NoCredentials)?;
        let uri = request.uri.to_string();
        let method = request.method().to_string();
        let mut headers = Vec::new();
        for challenge in chosen {
            let carried = header::all(request.headers(), answer_name)
                .any(|v| v.contains(&format!("realm={}", header::quote(&challenge.realm))));
            if challenge.verdict(carried) == ChallengeVerdict::CredentialsRejected {
                return Err(AuthFailure::Rejected);
            }
            let value = digest
                .respond(&method, &uri, challenge, &mut self.rng)
                .map_err(|e| AuthFailure::Unusable(e.to_string()))?;
            headers.push(make(answer_name, value));
        }
        Ok(headers)
    }

    /// Stateless answer to a request from an untrusted source or outside any transaction.
    pub fn reply_stateless(&mut self, req: &Request, to: Target, code: u16, phrase: Option<&str>) {
        let tag = self.token();
        let resp = builder::finish_response(
            builder::response(req, code, phrase, Some(&tag)),
            Vec::new(),
            None,
        );
        self.transmit(to, encode_response(&resp));
    }
}
