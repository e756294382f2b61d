//! Commands into the agent and events out of it: the `Agent` handle's API, serialised as
//! the headless JSON-lines protocol (docs/headless.md) and, later, the desktop's IPC.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A command, as sent on stdin: `{"cmd": "dial", "to": "...", "id": 1}`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case", deny_unknown_fields)]
pub enum Command {
    Register,
    Unregister,
    Dial {
        to: String,
        #[serde(default)]
        headers: BTreeMap<String, String>,
    },
    Answer {
        call: String,
    },
    Reject {
        call: String,
        #[serde(default = "default_reject")]
        code: u16,
    },
    Hangup {
        call: String,
    },
    Hold {
        call: String,
    },
    Resume {
        call: String,
    },
    Transfer {
        call: String,
        to: String,
    },
    TransferAttended {
        call: String,
        consult: String,
    },
    Dtmf {
        call: String,
        digits: String,
    },
    Mute {
        call: String,
        muted: bool,
    },
    /// Pauses (or resumes) the recording of a call: silence is recorded meanwhile, e.g.
    /// while the customer gives a card number.
    PauseRecording {
        call: String,
        paused: bool,
    },
    SetState {
        state: RequestedState,
        reason: Option<String>,
    },
    /// Changes where audio comes from (`source`, as `media.source`) and goes to (`output`,
    /// as `media.output`) for the call in progress and the calls to come; what is left out
    /// stays as it is.
    SetAudio {
        #[serde(default)]
        source: Option<String>,
        #[serde(default)]
        output: Option<String>,
    },
    Status,
    /// Starts (or restarts) Teams presence sync with the sign-in kept where
    /// `teams.refresh_token` says: after `parley-cli teams-sign-in`, or the desktop's.
    TeamsStart,
    /// Ends Teams presence sync (our presence session cleared) and forgets the sign-in.
    TeamsSignOut,
    /// Searches the Teams directory for colleagues by name or mail, with their presence.
    Colleagues {
        query: String,
    },
    /// New Teams settings from the desktop (none: sync off): the sync restarts with them.
    /// Not part of the headless protocol, whose settings come from the file.
    #[serde(skip)]
    TeamsSettings(Box<Option<crate::config::TeamsSettings>>),
    Quit,
}

fn default_reject() -> u16 {
    486
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestedState {
    Ready,
    NotReady,
    Offline,
}

/// An event, as written on stdout: `{"event": "call_state", ...}`.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    Started {
        version: String,
        local: String,
    },
    Result {
        #[serde(skip_serializing_if = "Option::is_none")]
        #[ts(optional, type = "unknown")]
        id: Option<serde_json::Value>,
        ok: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        call: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        error: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        message: Option<String>,
        /// What `colleagues` found.
        #[serde(skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        colleagues: Option<Vec<Colleague>>,
    },
    Connection {
        /// `up` or `down`.
        state: String,
        /// The SIP server, as `transport:address`.
        server: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        local: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        reason: Option<String>,
    },
    Registration {
        state: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        reason: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        code: Option<u16>,
        #[serde(skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        expires: Option<u32>,
        #[serde(skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        retry_in: Option<f64>,
    },
    AgentState {
        state: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        reason: Option<String>,
    },
    IncomingCall {
        call: String,
        from: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        from_name: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        from_user: Option<String>,
        to: String,
        sip_call_id: String,
        headers: BTreeMap<String, String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        replaces: Option<String>,
    },
    /// A call the agent placed (by command, or from a click-to-dial link).
    OutgoingCall {
        call: String,
        /// What was dialled: a number or a SIP address.
        to: String,
    },
    CallState {
        call: String,
        state: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        held_by: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        reason: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        code: Option<u16>,
    },
    CallDeflected {
        from: String,
        reason: String,
        code: u16,
    },
    Media {
        call: String,
        codec: String,
        local: String,
        remote: String,
        direction: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        recording: Option<String>,
        /// The SRTP suite when media is encrypted (SDES, RFC 4568).
        #[serde(skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        srtp: Option<String>,
    },
    Dtmf {
        call: String,
        digit: String,
        method: String,
    },
    /// The microphone (`input`) or speaker (`output`) of a call was `lost` (or could not be
    /// opened) or audio `switched` to `device` (a stand-in for a lost one, the chosen one
    /// back, a new system default). `device` is the id, empty for the system default;
    /// `name` the human name when known. The call goes on either way.
    AudioDevice {
        call: String,
        direction: String,
        state: String,
        device: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        name: Option<String>,
        /// The device chosen is missing and the system default stands in.
        fell_back: bool,
    },
    Transfer {
        call: String,
        state: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        #[ts(optional)]
        code: Option<u16>,
    },
    Error {
        code: String,
        message: String,
    },
    /// The Teams presence sync changed: its state, whether Teams keeps the agent busy, and
    /// how many offers that turned away.
    Teams(TeamsView),
    /// How a call sounded over the last five seconds (audio-engine `CallQuality`).
    CallQuality(CallQualityView),
    /// The recording of a call was paused or resumed.
    Recording {
        call: String,
        paused: bool,
    },
    /// No RTP came for `media.rtp_timeout_seconds` while media should flow both ways
    /// (`inactive`), or it flows again.
    MediaInactivity {
        call: String,
        inactive: bool,
        #[serde(skip_serializing_if = "Option::is_none")]
        #[ts(optional, type = "number")]
        silent_ms: Option<u64>,
    },
    Status(Status),
    Stopped,
}

/// The Teams presence sync as the agent sees it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ts_rs::TS)]
pub struct TeamsView {
    /// `starting` (no answer from Graph yet), `active` (readings go through),
    /// `unavailable` (see `reason`; calls are not affected) or `signed_out` (no sign-in
    /// kept: sign in to Teams).
    pub sync: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub reason: Option<String>,
    /// Teams keeps the agent busy (`not_ready` with the reason `teams_busy`).
    pub busy: bool,
    /// What Teams showed when it blocked the agent.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub availability: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub activity: Option<String>,
    /// Offers turned away because of Teams since the agent started.
    pub deflected: u32,
    /// The colleagues directory can be searched (signed in, and offered by the settings).
    pub directory: bool,
}

/// A call's quality over the last interval: what was received and how it would rate.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
pub struct CallQualityView {
    pub call: String,
    pub codec: String,
    /// RFC 3550 interarrival jitter, ms.
    pub jitter_ms: f64,
    /// Packets lost, packets too late to play, and audio concealed, in percent.
    pub loss_pct: f64,
    pub late_pct: f64,
    pub concealed_pct: f64,
    /// Mean wait in the jitter buffer and its target, ms.
    pub buffer_ms: f64,
    pub target_ms: f64,
    pub send_kbps: f64,
    pub receive_kbps: f64,
    /// Round-trip time from RTCP, ms, once the peer reported on us.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub rtt_ms: Option<f64>,
    /// The one-way delay the estimate assumes (half the RTT, buffer, packet, devices), ms.
    pub one_way_ms: f64,
    /// E-model (ITU-T G.107) mean opinion score, 1 to 4.5.
    pub mos: f64,
}

/// A colleague from the Teams directory, with their presence when Graph gave it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct Colleague {
    /// The Entra object id.
    pub id: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub mail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub job_title: Option<String>,
    /// A number to dial (normalised), from their business or mobile phone.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub phone: Option<String>,
    /// Graph's availability and activity (`Busy`, `InACall`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub availability: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub activity: Option<String>,
}

/// Everything the agent knows now: what a window that opens late needs to show.
#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
pub struct Status {
    /// As in the last `registration` event.
    pub registration: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub registration_reason: Option<String>,
    /// As in the last `agent_state` event.
    pub agent_state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub agent_reason: Option<String>,
    /// `up` or `down`, as in the last `connection` event; absent before the first.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub connection: Option<String>,
    pub calls: Vec<CallView>,
    /// As in the last `teams` event; absent when Teams sync is not configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub teams: Option<TeamsView>,
}

/// One call as the agent sees it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, ts_rs::TS)]
pub struct CallView {
    pub call: String,
    /// `inbound` or `outbound`.
    pub direction: String,
    /// The other party: the caller's URI, or what the agent dialled.
    pub remote: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub remote_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub remote_user: Option<String>,
    /// Context the platform sent with an offered call.
    pub headers: BTreeMap<String, String>,
    /// As in the last `call_state` event.
    pub state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub held_by: Option<String>,
    pub muted: bool,
    /// The call's received audio is recorded (`media.record_dir`), and the recording is
    /// paused (silence recorded).
    pub recorded: bool,
    pub recording_paused: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub codec: Option<String>,
    /// Unix milliseconds.
    #[ts(type = "number")]
    pub started_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional, type = "number")]
    pub connected_at: Option<i64>,
}

/// What a command gives back.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Done,
    /// The call it created (`dial`).
    Call(String),
    Status(Box<Status>),
    Colleagues(Vec<Colleague>),
}

/// Why a command failed: a stable code and a sentence for the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS, thiserror::Error)]
#[error("{message}")]
pub struct CommandError {
    pub code: String,
    pub message: String,
}

impl CommandError {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        CommandError {
            code: code.to_owned(),
            message: message.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_with_defaults() {
        let c: Command = serde_json::from_str(r#"{"cmd":"reject","call":"c1"}"#).unwrap();
        assert_eq!(
            c,
            Command::Reject {
                call: "c1".into(),
                code: 486
            }
        );
        let c: Command =
            serde_json::from_str(r#"{"cmd":"set_state","state":"not_ready","reason":"Break"}"#)
                .unwrap();
        assert_eq!(
            c,
            Command::SetState {
                state: RequestedState::NotReady,
                reason: Some("Break".into())
            }
        );
        assert!(serde_json::from_str::<Command>(r#"{"cmd":"dial"}"#).is_err());
        assert!(
            serde_json::from_str::<Command>(r#"{"cmd":"hangup","call":"c1","extra":1}"#).is_err()
        );
    }

    /// The UI's copy of these types must match them; `UPDATE_TYPES=1` rewrites it.
    #[test]
    fn typescript_bindings_are_current() {
        use crate::typescript;
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/lib/protocol.ts");
        if let Err(stale) = typescript::check(&path, &typescript::protocol(), "parley-runtime") {
            panic!("{stale}");
        }
    }

    #[test]
    fn events_serialise_flat_and_skip_empty_fields() {
        let e = Event::CallState {
            call: "c1".into(),
            state: "connected".into(),
            held_by: None,
            reason: None,
            code: None,
        };
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"event":"call_state","call":"c1","state":"connected"}"#
        );
    }
}
