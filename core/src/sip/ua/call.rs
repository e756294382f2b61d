//! One call (an INVITE session, RFC 3261 §13–15) and the state it keeps between messages.

use super::types::{CallHandle, CallState, EndReason, HeldBy};
use crate::sdp::{Direction, NegotiatedMedia, SdpSession};
use crate::sip::dialog::Dialog;
use crate::sip::message::Request;
use crate::sip::session_timer::SessionTimer;
use crate::sip::transaction::{ClientKey, ServerKey};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    Uac,
    Uas,
}

/// Where the call is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// UAS: ringing, not answered.
    Offered,
    /// UAC: INVITE sent, no provisional response yet.
    Calling,
    /// UAC: a provisional response arrived.
    Proceeding,
    /// UAS: 2xx sent, waiting for the ACK.
    Answered,
    Confirmed,
    Terminated,
}

/// A response sent again and again until acknowledged: the 2xx to an INVITE until its ACK
/// (§13.3.1.4) or a reliable 1xx until its PRACK (RFC 3262 §3).
#[derive(Debug, Clone)]
pub(super) struct Retransmission {
    pub key: ServerKey,
    pub response: rsip::Response,
    pub next: Instant,
    pub interval: Duration,
    pub cap: Option<Duration>,
    pub give_up: Instant,
}

impl Retransmission {
    pub fn new(
        now: Instant,
        key: ServerKey,
        response: rsip::Response,
        t1: Duration,
        cap: Option<Duration>,
    ) -> Self {
        Retransmission {
            key,
            response,
            next: now + t1,
            interval: t1,
            cap,
            give_up: now + t1 * 64,
        }
    }

    /// The response to send again when its time has come, the next time then set.
    pub fn due(&mut self, now: Instant) -> Option<(ServerKey, rsip::Response)> {
        if self.next > now {
            return None;
        }
        self.advance(now);
        Some((self.key.clone(), self.response.clone()))
    }

    fn advance(&mut self, now: Instant) {
        let doubled = self.interval * 2;
        self.interval = self.cap.map_or(doubled, |c| doubled.min(c));
        self.next = now + self.interval;
    }
}

/// Why we send a re-INVITE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Modify {
    Hold,
    Resume,
    /// RFC 4028 session refresh with the SDP unchanged.
    Refresh,
}

/// Our re-INVITE or UPDATE in progress.
#[derive(Debug, Clone)]
pub(super) struct Modification {
    /// CSeq of our request, to match its response.
    pub cseq: u32,
    pub kind: Modify,
    pub with_offer: bool,
}

/// A peer's re-INVITE that we answered with 2xx: its ACK may carry the answer to our offer
/// (when the re-INVITE had no SDP, §14.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct AwaitingAck {
    pub cseq: u32,
    pub answer_in_ack: bool,
}

/// Our REFER and its implicit subscription (RFC 3515).
#[derive(Debug, Clone)]
pub(super) struct OutgoingTransfer {
    /// The consultation call of an attended transfer, hung up once the transfer succeeds.
    pub consult: Option<CallHandle>,
}

/// A REFER the peer sent us: the NOTIFYs we owe it (RFC 3515 §2.4.4).
#[derive(Debug, Clone)]
pub(super) struct IncomingTransfer {
    /// The REFER's CSeq, the `id` of the subscription's Event header (§2.4.6).
    pub refer_cseq: u32,
    /// The REFER's Referred-By, copied into the INVITE it triggers (RFC 3892 §3).
    pub referred_by: Option<String>,
}

#[derive(Debug)]
pub(super) struct Call {
    pub handle: CallHandle,
    pub role: Role,
    pub phase: Phase,
    pub sip_call_id: String,
    pub local_tag: String,
    pub dialog: Option<Dialog>,
    /// The INVITE that created the call: ours (UAC) or the peer's (UAS).
    pub invite: Request,
    pub invite_client: Option<ClientKey>,
    pub invite_server: Option<ServerKey>,
    pub sdp: Option<SdpSession>,
    /// UAS: the offer of the INVITE, answered when the agent answers.
    pub remote_offer: Option<String>,
    pub media: Option<NegotiatedMedia>,
    pub local_hold: bool,
    pub remote_hold: bool,
    /// UAC: the called party is alerted (180) / sends early media (183 with SDP).
    pub alerting: bool,
    pub early_media: bool,
    pub modification: Option<Modification>,
    /// After 491, when to try our modification again (§14.1).
    pub retry_modify: Option<(Instant, Modify)>,
    pub awaiting_ack: Option<AwaitingAck>,
    pub ok_retransmission: Option<Retransmission>,
    pub reliable_provisional: Option<Retransmission>,
    /// The RSeq of our reliable 1xx not yet PRACKed. It outlives the retransmissions,
    /// which stop when we answer: a PRACK crossing our 2xx still gets its 200 (RFC 3262 §3).
    pub unacked_rseq: Option<u32>,
    pub next_rseq: u32,
    /// UAC: the RSeq of the last reliable provisional response we acknowledged.
    pub remote_rseq: Option<u32>,
    pub session_timer: Option<SessionTimer>,
    /// Whether we send the refreshes: `refresher` names the UAC or UAS of the transaction
    /// that negotiated the timer, which is not always the UAC of the call (RFC 4028 §7.4).
    pub we_refresh: bool,
    pub refresh_at: Option<Instant>,
    pub expire_at: Option<Instant>,
    /// UAC: when to give up on an unanswered call (Timer C's three minutes, §16.6 step 11).
    pub no_answer_at: Option<Instant>,
    /// UAC: the agent hung up before any provisional response; CANCEL when one comes (§9.1).
    pub cancel_when_provisional: bool,
    pub cancelled: bool,
    /// UAS: the agent hung up before the ACK; BYE when it comes (§15).
    pub bye_after_ack: bool,
    /// The CSeq and bytes of the ACK we sent for a 2xx, re-sent when that 2xx is
    /// retransmitted (§13.2.2.4).
    pub last_ack: Option<(u32, Vec<u8>)>,
    pub transfer_out: Option<OutgoingTransfer>,
    pub transfer_in: Option<IncomingTransfer>,
    /// The call on whose behalf we placed this one (we are transferee).
    pub referred_by: Option<CallHandle>,
    /// The call this one replaces (RFC 3891) once connected.
    pub replaces: Option<CallHandle>,
    pub auth_attempts: u32,
    /// UAC: headers the agent asked to send with the INVITE, kept for retries.
    pub dial_headers: Vec<(String, String)>,
    /// UAC: the Session-Expires of our INVITE (raised after a 422, RFC 4028 §7.4).
    pub session_expires_asked: Option<u32>,
    pub dtmf_queue: VecDeque<char>,
    pub dtmf_in_flight: bool,
    /// The peer accepts UPDATE (its Allow), so session refreshes can use it (RFC 4028 §9).
    pub peer_allows_update: bool,
    /// The state last reported, to report only changes.
    pub reported: Option<CallState>,
    pub ended: Option<(EndReason, Option<u16>, String)>,
}

impl Call {
    pub fn new(
        handle: CallHandle,
        role: Role,
        phase: Phase,
        invite: Request,
        local_tag: String,
    ) -> Self {
        Call {
            handle,
            role,
            phase,
            sip_call_id: invite.call_id().to_owned(),
            local_tag,
            dialog: None,
            invite,
            invite_client: None,
            invite_server: None,
            sdp: None,
            remote_offer: None,
            media: None,
            local_hold: false,
            remote_hold: false,
            alerting: false,
            early_media: false,
            modification: None,
            retry_modify: None,
            awaiting_ack: None,
            ok_retransmission: None,
            reliable_provisional: None,
            unacked_rseq: None,
            next_rseq: 1,
            remote_rseq: None,
            session_timer: None,
            we_refresh: false,
            refresh_at: None,
            expire_at: None,
            no_answer_at: None,
            cancel_when_provisional: false,
            cancelled: false,
            bye_after_ack: false,
            last_ack: None,
            transfer_out: None,
            transfer_in: None,
            referred_by: None,
            replaces: None,
            auth_attempts: 0,
            dial_headers: Vec::new(),
            session_expires_asked: None,
            dtmf_queue: VecDeque::new(),
            dtmf_in_flight: false,
            peer_allows_update: false,
            reported: None,
            ended: None,
        }
    }

    pub fn is_active(&self) -> bool {
        self.phase != Phase::Terminated
    }

    /// The direction we want in offers and answers: sendonly while we hold (RFC 3264 §8.4).
    pub fn wanted_direction(&self) -> Direction {
        if self.local_hold {
            Direction::SendOnly
        } else {
            Direction::SendRecv
        }
    }

    /// The state the agent sees.
    pub fn state(&self) -> CallState {
        match self.phase {
            Phase::Offered => CallState::Offered,
            Phase::Calling => CallState::Dialing,
            Phase::Proceeding if self.early_media => CallState::EarlyMedia,
            Phase::Proceeding if self.alerting => CallState::Ringing,
            Phase::Proceeding => CallState::Dialing,
            Phase::Answered => CallState::Connecting,
            Phase::Confirmed => match (self.local_hold, self.remote_hold) {
                (false, false) => CallState::Connected,
                (true, false) => CallState::Held(HeldBy::Local),
                (false, true) => CallState::Held(HeldBy::Remote),
                (true, true) => CallState::Held(HeldBy::Both),
            },
            Phase::Terminated => {
                let (reason, code, phrase) =
                    self.ended
                        .clone()
                        .unwrap_or((EndReason::Failed, None, String::new()));
                CallState::Ended {
                    reason,
                    code,
                    phrase,
                }
            }
        }
    }

    /// Adopts a negotiated session timer; `we_were_uac` tells whether we sent the request
    /// that negotiated it.
    pub fn set_session_timer(&mut self, timer: Option<SessionTimer>, we_were_uac: bool) {
        self.we_refresh = timer.is_some_and(|t| t.we_refresh(we_were_uac));
        self.session_timer = timer;
    }

    /// Arms the session-timer deadlines after a successful (re)negotiation (RFC 4028 §10).
    pub fn arm_session_timer(&mut self, now: Instant) {
        self.refresh_at = None;
        self.expire_at = None;
        if let Some(t) = self.session_timer {
            if self.we_refresh {
                self.refresh_at = Some(now + t.refresh_after());
            } else {
                self.expire_at = Some(now + t.expire_after());
            }
        }
    }

    pub fn next_timeout(&self) -> Option<Instant> {
        [
            self.ok_retransmission
                .as_ref()
                .map(|r| r.next.min(r.give_up)),
            self.reliable_provisional
                .as_ref()
                .map(|r| r.next.min(r.give_up)),
            self.refresh_at,
            self.expire_at,
            self.retry_modify.map(|(at, _)| at),
            self.no_answer_at,
        ]
        .into_iter()
        .flatten()
        .min()
    }
}
