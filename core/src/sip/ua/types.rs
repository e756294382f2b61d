//! What goes in and out of the user agent: configuration, outputs and events.

use crate::sdp::{MediaConfig, NegotiatedMedia};
use crate::sip::auth::Credentials;
use crate::sip::registration::{RegistrationConfig, RegistrationState};
use crate::sip::target::Target;
use crate::sip::transaction::{Timers, Transmit};
use crate::sip::trust::Network;
use crate::sip::uri::SipUri;
use std::fmt;
use std::time::Duration;

/// RFC 3262 reliable provisional responses: whether we ask for them and use them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrackMode {
    /// Never (no `100rel` in Supported; a peer that requires it gets 420).
    Off,
    /// Advertise `Supported: 100rel`; send reliable 1xx only when the peer requires it.
    Supported,
    /// `Require: 100rel` on our INVITEs, and reliable 1xx to peers that support it.
    Required,
}

/// Everything the user agent needs to know about its account and policies.
#[derive(Debug, Clone)]
pub struct UaConfig {
    /// Our address of record, e.g. `sip:1001@pbx.example.com`.
    pub aor: SipUri,
    pub display_name: Option<String>,
    /// Digest credentials; `None` when the platform does not challenge.
    pub credentials: Option<Credentials>,
    /// The Request-URI of REGISTER (`sip:<domain>`, §10.2).
    pub registrar: SipUri,
    /// When set, every out-of-dialog request carries `Route: <outbound_proxy;lr>` (§8.1.2).
    pub outbound_proxy: Option<SipUri>,
    pub registration: RegistrationConfig,
    /// Register as soon as a flow to the registrar is up.
    pub register_on_start: bool,
    /// Networks allowed to send requests besides the resolved registrar/proxy addresses.
    pub trusted: Vec<Network>,
    /// Accept a second incoming call while one is active (else 486).
    pub call_waiting: bool,
    /// RFC 4028 Session-Expires we ask for; `None` disables session timers we initiate.
    pub session_expires: Option<u32>,
    /// RFC 4028 Min-SE we accept (≥ 90).
    pub min_se: u32,
    pub prack: PrackMode,
    /// User-Agent / Server header value.
    pub user_agent: String,
    pub timers: Timers,
    pub media: MediaConfig,
    /// CRLF keep-alive interval on TCP/TLS flows (RFC 5626 §4.4.1).
    pub keepalive: Option<Duration>,
}

/// A call, as named to the application (not the SIP Call-ID).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallHandle(pub u64);

impl fmt::Display for CallHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "c{}", self.0)
    }
}

impl std::str::FromStr for CallHandle {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        s.strip_prefix('c')
            .and_then(|n| n.parse().ok())
            .map(CallHandle)
            .ok_or(())
    }
}

/// Who holds a connected call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeldBy {
    Local,
    Remote,
    Both,
}

/// Why a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// We hung up (BYE, or CANCEL of our own call).
    LocalHangup,
    /// The peer hung up.
    RemoteHangup,
    /// The caller gave up before we answered (CANCEL).
    CallerCancelled,
    /// We declined an offered call.
    Declined,
    /// The called party or the network rejected our call (4xx–6xx).
    Rejected,
    /// No response, transport failure, or a protocol error.
    Failed,
    /// We transferred the call away (REFER succeeded).
    Transferred,
    /// Another call replaced this one (RFC 3891).
    Replaced,
    /// No session refresh arrived in time (RFC 4028 §10).
    SessionExpired,
}

/// The state of a call as the agent sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallState {
    /// An incoming call rings here.
    Offered,
    /// Our INVITE is on its way.
    Dialing,
    /// The called party is alerted.
    Ringing,
    /// The called party sends early media (183 with SDP).
    EarlyMedia,
    /// Answered; the final handshake is in progress.
    Connecting,
    Connected,
    Held(HeldBy),
    Ended {
        reason: EndReason,
        code: Option<u16>,
        phrase: String,
    },
}

/// Progress of a transfer we asked for (RFC 3515 NOTIFYs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferState {
    /// REFER sent.
    Trying,
    /// REFER accepted (202).
    Accepted,
    /// The transfer target answered.
    Succeeded,
    Failed,
}

/// Why an incoming call was turned away without ringing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeflectReason {
    /// A call is already active and call waiting is off.
    Busy,
    /// The agent is not available (agent state).
    NotReady,
    /// The request did not come from the registrar/proxy.
    UntrustedSource,
}

/// Whether incoming calls may ring (set from the agent state).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Availability {
    Available,
    /// Turn calls away with this status and reason phrase.
    Unavailable {
        status: u16,
        phrase: String,
    },
}

/// An incoming call that rings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingCall {
    pub call: CallHandle,
    /// The caller's URI (From).
    pub from: String,
    pub from_name: Option<String>,
    /// The user or number of the caller's URI, decoded.
    pub from_user: Option<String>,
    /// The called URI (To).
    pub to: String,
    pub sip_call_id: String,
    /// Caller context from the platform: every `X-*`, `User-to-User` and `Call-Info`
    /// header, in order.
    pub headers: Vec<(String, String)>,
    /// The call this one replaces (RFC 3891); the application answers it at once.
    pub replaces: Option<CallHandle>,
}

/// What the user agent tells the application.
#[derive(Debug, Clone, PartialEq)]
pub enum UaEvent {
    /// The flow to the SIP server is usable: requests and calls can go.
    Connected {
        server: Target,
        local: std::net::SocketAddr,
    },
    /// The flow to the SIP server failed; the agent tries the next server or again later.
    Disconnected {
        server: Target,
        reason: String,
    },
    Registration(RegistrationState),
    IncomingCall(IncomingCall),
    CallState {
        call: CallHandle,
        state: CallState,
    },
    /// Start or change media; `None` stops it.
    Media {
        call: CallHandle,
        media: Option<NegotiatedMedia>,
    },
    Dtmf {
        call: CallHandle,
        digit: char,
        duration: Option<Duration>,
    },
    Transfer {
        call: CallHandle,
        state: TransferState,
        code: Option<u16>,
    },
    /// The peer asks us to call `target` (RFC 3515); the application dials it with
    /// `DialOptions::referred_by` set so that the peer learns the outcome.
    TransferRequested {
        call: CallHandle,
        target: SipUri,
        /// The Replaces header value to put in the new INVITE (attended transfer).
        replaces: Option<String>,
    },
    Deflected {
        from: String,
        reason: DeflectReason,
        code: u16,
    },
}

/// What the runtime must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    Transmit(Transmit),
    /// Open a flow (TCP/TLS connection, or find the local address for UDP) to the target,
    /// then call `handle_flow_ready` or `handle_flow_failed`.
    OpenFlow(Target),
    /// Close a flow we no longer use.
    CloseFlow(Target),
    /// Every resolved target failed: resolve the registrar/proxy again and call
    /// `set_targets`.
    Resolve,
    Event(UaEvent),
}

/// Options of an outgoing call.
#[derive(Debug, Clone, Default)]
pub struct DialOptions {
    /// Extra headers for the INVITE (e.g. `X-*` context for the callee).
    pub headers: Vec<(String, String)>,
    /// The call whose peer asked for this one by REFER; it gets NOTIFYs of our progress.
    pub referred_by: Option<CallHandle>,
    /// A Replaces header value (attended transfer as transferee).
    pub replaces: Option<String>,
    /// The identity to present in From instead of the account's, as a gateway or the demo
    /// contact center does for the customers it connects.
    pub caller: Option<crate::sip::name_addr::NameAddr>,
}

/// Why a command could not be carried out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    #[error("no call {0}")]
    UnknownCall(CallHandle),
    #[error("call {0} cannot do that in its current state")]
    InvalidState(CallHandle),
    #[error("not connected to the SIP server yet")]
    NoFlow,
    #[error("invalid target: {0}")]
    InvalidTarget(String),
    #[error("{0}")]
    Build(String),
}
