//! Calls offered to us (the UAS side of RFC 3261 §13.3): the checks before ringing, 180
//! (reliable when asked, RFC 3262 §3), answer with 2xx retransmitted until ACK
//! (§13.3.1.4), reject, CANCEL (§9.2) and Replaces (RFC 3891 §3).

use super::call::{AwaitingAck, Call, Phase, Retransmission, Role};
use super::{
    active, Availability, CallHandle, CommandError, DeflectReason, EndReason, IncomingCall,
    PrackMode, UaEvent, UserAgent,
};
use crate::sdp::SdpError;
use crate::sip::dialog::{Dialog, DialogState};
use crate::sip::header::{self, make};
use crate::sip::message::Request;
use crate::sip::refer::Replaces;
use crate::sip::session_timer;
use crate::sip::transaction::ServerKey;
use std::net::SocketAddr;
use std::time::Instant;

/// Headers that carry the platform's context about the caller (DESIGN §2, §7).
fn is_context_header(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.starts_with("x-")
        || lower == "user-to-user"
        || lower == "call-info"
        || lower == "p-asserted-identity"
}

impl UserAgent {
    /// A new INVITE outside any dialog.
    pub(super) fn incoming_invite(&mut self, now: Instant, req: Request, key: ServerKey) {
        if self.by_call_id.contains_key(req.call_id()) {
            // A second INVITE with the Call-ID of a call we have, but no To tag: a
            // loop or a fork of our own call coming back (§8.2.2.2).
            self.core.reply(now, &key, &req, 482, Some("Loop Detected"));
            return;
        }
        let replaces = match req.header("Replaces").map(Replaces::parse) {
            None => None,
            Some(None) => {
                self.core
                    .reply(now, &key, &req, 400, Some("Bad Replaces header"));
                return;
            }
            Some(Some(r)) => match self.replaced_call(&r) {
                Some(handle) => Some(handle),
                None => {
                    // RFC 3891 §3: nothing to replace.
                    self.core.reply(now, &key, &req, 481, None);
                    return;
                }
            },
        };
        if replaces.is_none() {
            if let Availability::Unavailable { status, phrase } = self.availability.clone() {
                tracing::info!(from = %req.from().uri, status, "call deflected: agent not ready");
                self.core.reply(now, &key, &req, status, Some(&phrase));
                self.core.emit(UaEvent::Deflected {
                    from: req.from().uri.to_string(),
                    reason: DeflectReason::NotReady,
                    code: status,
                });
                return;
            }
            if self.active_calls() > 0 && !self.core.config.call_waiting {
                tracing::info!(from = %req.from().uri, "call deflected: busy");
                self.core.reply(now, &key, &req, 486, None);
                self.core.emit(UaEvent::Deflected {
                    from: req.from().uri.to_string(),
                    reason: DeflectReason::Busy,
                    code: 486,
                });
                return;
            }
        }
        let Some(timer) = self.uas_session_timer(now, &req, &key) else {
            return;
        };
        let offer = match std::str::from_utf8(req.body()) {
            Ok(text) if !text.trim().is_empty() => Some(text.to_owned()),
            Ok(_) => None,
            Err(_) => {
                self.core
                    .reply(now, &key, &req, 400, Some("SDP is not text"));
                return;
            }
        };
        // Check the offer now, so that a call we could not answer never rings (§13.3.1.3
        // allows 488 at once).
        if let Some(offer) = &offer {
            let mut probe = self.core.sdp_session(SocketAddr::from(([0, 0, 0, 0], 9)));
            if let Err(e) = probe.process_offer(offer, crate::sdp::Direction::SendRecv) {
                let (code, phrase) = sdp_rejection(&e);
                self.core.reply_with(
                    now,
                    &key,
                    &req,
                    code,
                    Some(phrase),
                    vec![make("Warning", format!("399 parley \"{e}\""))],
                    None,
                );
                return;
            }
        }
        let handle = self.new_handle();
        let local_tag = self.core.token();
        let mut call = Call::new(
            handle,
            Role::Uas,
            Phase::Offered,
            req.clone(),
            local_tag.clone(),
        );
        call.invite_server = Some(key.clone());
        call.remote_offer = offer;
        call.set_session_timer(timer, false);
        call.replaces = replaces;
        call.peer_allows_update = header::has_token(req.headers(), "Allow", "UPDATE");
        match Dialog::new_uas(&req, &local_tag, DialogState::Early) {
            Ok(d) => call.dialog = Some(d),
            Err(e) => {
                self.core.reply(now, &key, &req, 400, Some(&e.to_string()));
                return;
            }
        }
        self.calls.insert(handle, call);
        self.by_call_id.insert(req.call_id().to_owned(), handle);
        self.invite_servers.insert(key, handle);
        if replaces.is_none() {
            self.send_ringing(now, handle);
        }
        let headers = req
            .headers()
            .iter()
            .map(header::name_value)
            .filter(|(n, _)| is_context_header(n))
            .map(|(n, v)| (n.to_owned(), v.trim().to_owned()))
            .collect();
        tracing::info!(call = %handle, from = %req.from().uri, "incoming call");
        self.core.emit(UaEvent::IncomingCall(IncomingCall {
            call: handle,
            from: req.from().uri.to_string(),
            from_name: req.from().display.clone(),
            from_user: req.from().uri.user(),
            to: req.to().uri.to_string(),
            sip_call_id: req.call_id().to_owned(),
            headers,
            replaces,
        }));
        self.report(handle);
    }

    /// The live call a Replaces header names (RFC 3891 §3: confirmed dialogs, or early
    /// dialogs we initiated; `early-only` restricts to early ones).
    fn replaced_call(&self, replaces: &Replaces) -> Option<CallHandle> {
        self.calls.values().find_map(|c| {
            let d = c.dialog.as_ref()?;
            let usable = c.is_active()
                && replaces.matches(d)
                && match d.state {
                    DialogState::Confirmed => !replaces.early_only,
                    DialogState::Early => c.role == Role::Uac,
                };
            usable.then_some(c.handle)
        })
    }

    /// 180 Ringing, reliable (RFC 3262 §3) when the caller requires it, or supports it and
    /// we are configured to require it.
    fn send_ringing(&mut self, now: Instant, handle: CallHandle) {
        let prack = self.core.config.prack;
        let t1 = self.core.config.timers.t1;
        let Some(call) = self.calls.get_mut(&handle) else {
            return;
        };
        let Some(key) = call.invite_server.clone() else {
            return;
        };
        let req = call.invite.clone();
        let tag = call.local_tag.clone();
        let required = header::has_token(req.headers(), "Require", "100rel");
        let supported = header::has_token(req.headers(), "Supported", "100rel");
        let reliable =
            prack != PrackMode::Off && (required || (supported && prack == PrackMode::Required));
        let rseq = reliable.then(|| {
            call.next_rseq += 1;
            call.next_rseq - 1
        });
        let extra = match rseq {
            Some(rseq) => vec![make("Require", "100rel"), make("RSeq", rseq.to_string())],
            None => Vec::new(),
        };
        // Our Contact in the 180 makes the early dialog usable (§12.1.1).
        let response = self
            .core
            .build_reply(&req, 180, None, Some(&tag), extra, None);
        self.core.respond(now, &key, response.clone());
        if let (Some(rseq), Some(call)) = (rseq, self.calls.get_mut(&handle)) {
            // The reliable 1xx is resent at T1, 2·T1, 4·T1... until PRACKed (RFC 3262 §3).
            call.unacked_rseq = Some(rseq);
            call.reliable_provisional = Some(Retransmission::new(now, key, response, t1, None));
        }
    }

    /// Answers an offered call, sending RTP from `local_media`.
    pub fn answer(
        &mut self,
        now: Instant,
        handle: CallHandle,
        local_media: SocketAddr,
    ) -> Result<(), CommandError> {
        let supported = self.core.supported();
        let t1 = self.core.config.timers.t1;
        let t2 = self.core.config.timers.t2;
        let mut sdp = self.core.sdp_session(local_media);
        let call = active(&mut self.calls, handle)?;
        if call.phase != Phase::Offered {
            return Err(CommandError::InvalidState(handle));
        }
        let key = call
            .invite_server
            .clone()
            .ok_or(CommandError::InvalidState(handle))?;
        let (body, media) = match call.remote_offer.clone() {
            Some(offer) => match sdp.process_offer(&offer, call.wanted_direction()) {
                Ok((answer, media)) => (answer, Some(media)),
                Err(e) => {
                    // Checked before ringing, so only a broken config gets here.
                    let (code, phrase) = sdp_rejection(&e);
                    let req = call.invite.clone();
                    self.core.reply(now, &key, &req, code, Some(phrase));
                    self.end_call(handle, EndReason::Failed, Some(code), phrase);
                    return Ok(());
                }
            },
            // No offer in the INVITE: ours goes in the 2xx, the answer in the ACK (§13.3.1.4).
            None => (sdp.create_offer(call.wanted_direction()), None),
        };
        call.sdp = Some(sdp);
        call.reliable_provisional = None;
        let req = call.invite.clone();
        let extra = session_timer::response_headers(supported, call.session_timer, &req);
        let tag = call.local_tag.clone();
        let resp = self.core.build_reply(
            &req,
            200,
            None,
            Some(&tag),
            extra,
            Some(("application/sdp", body.into_bytes())),
        );
        self.core.respond(now, &key, resp.clone());
        let call = self
            .calls
            .get_mut(&handle)
            .expect("checked above, nothing removed it");
        call.phase = Phase::Answered;
        call.awaiting_ack = Some(AwaitingAck {
            cseq: req.cseq().seq,
            answer_in_ack: media.is_none(),
        });
        call.ok_retransmission = Some(Retransmission::new(now, key, resp, t1, Some(t2)));
        if let Some(media) = media {
            self.apply_remote_media(handle, media);
        }
        tracing::info!(call = %handle, "answered");
        self.report(handle);
        Ok(())
    }

    /// Declines an offered call with `code` (486 Busy Here by default, §21.4.24).
    pub fn reject(
        &mut self,
        now: Instant,
        handle: CallHandle,
        code: u16,
    ) -> Result<(), CommandError> {
        if !(300..=699).contains(&code) {
            return Err(CommandError::Build(format!(
                "{code} is not a final error status"
            )));
        }
        let call = active(&mut self.calls, handle)?;
        if call.phase != Phase::Offered {
            return Err(CommandError::InvalidState(handle));
        }
        let key = call
            .invite_server
            .clone()
            .ok_or(CommandError::InvalidState(handle))?;
        let (req, tag) = (call.invite.clone(), call.local_tag.clone());
        self.core.reply_tagged(now, &key, &req, code, None, &tag);
        tracing::info!(call = %handle, code, "declined");
        self.end_call(handle, EndReason::Declined, Some(code), "");
        Ok(())
    }

    /// CANCEL (§9.2): answer it, and end the INVITE with 487 if it is still pending.
    pub(super) fn incoming_cancel(&mut self, now: Instant, req: Request, key: ServerKey) {
        let invite_key = key.invite_of_cancel();
        let Some(&handle) = self.invite_servers.get(&invite_key) else {
            self.core.reply(now, &key, &req, 481, None);
            return;
        };
        // §9.2: the 200 to CANCEL carries the To tag of our responses to the INVITE.
        let tag = self
            .calls
            .get(&handle)
            .map(|c| c.local_tag.clone())
            .unwrap_or_default();
        self.core.reply_tagged(now, &key, &req, 200, None, &tag);
        if !self.core.tx.is_pending(&invite_key) {
            return;
        }
        if let Some(call) = self.calls.get(&handle) {
            let (invite, tag) = (call.invite.clone(), call.local_tag.clone());
            self.core
                .reply_tagged(now, &invite_key, &invite, 487, None, &tag);
            tracing::info!(call = %handle, "caller cancelled");
            self.end_call(
                handle,
                EndReason::CallerCancelled,
                Some(487),
                "Request Terminated",
            );
        }
    }

    /// An ACK outside any transaction: for our 2xx to an INVITE or re-INVITE (§13.3.1.4).
    pub(super) fn handle_ack(&mut self, now: Instant, req: Request) {
        let Some(&handle) = self.by_call_id.get(req.call_id()) else {
            return;
        };
        let Some(call) = self.calls.get_mut(&handle) else {
            return;
        };
        if !call
            .dialog
            .as_ref()
            .is_some_and(|d| d.matches_request(&req))
        {
            return;
        }
        let Some(waiting) = call.awaiting_ack.filter(|w| w.cseq == req.cseq().seq) else {
            return;
        };
        call.awaiting_ack = None;
        call.ok_retransmission = None;
        if waiting.answer_in_ack {
            let answer = std::str::from_utf8(req.body())
                .unwrap_or_default()
                .to_owned();
            let result = call.sdp.as_mut().map(|s| s.process_answer(&answer));
            match result {
                Some(Ok(media)) => self.apply_remote_media(handle, media),
                _ => {
                    // §13.3.1.4 / RFC 3261 §14: no usable answer in the ACK ends the call.
                    tracing::warn!(call = %handle, "ACK without a usable SDP answer");
                    self.abort_call(now, handle, "no SDP answer in ACK");
                    return;
                }
            }
        }
        let Some(call) = self.calls.get_mut(&handle) else {
            return;
        };
        let first = call.phase == Phase::Answered;
        if first {
            call.phase = Phase::Confirmed;
            if let Some(d) = call.dialog.as_mut() {
                d.state = DialogState::Confirmed;
            }
            call.arm_session_timer(now);
        }
        let hangup = call.bye_after_ack;
        let replaces = call.replaces;
        self.report(handle);
        if hangup {
            self.send_bye(now, handle);
            self.end_call(handle, EndReason::LocalHangup, None, "");
        } else if let (true, Some(old)) = (first, replaces) {
            self.replace_call(now, old);
        }
    }

    /// The call that a new one replaced (RFC 3891 §3) is ended with BYE.
    pub(super) fn replace_call(&mut self, now: Instant, old: CallHandle) {
        if self.calls.get(&old).is_some_and(|c| c.is_active()) {
            tracing::info!(call = %old, "replaced");
            match self.calls.get(&old).map(|c| c.phase) {
                Some(Phase::Confirmed | Phase::Answered) => self.send_bye(now, old),
                Some(Phase::Calling | Phase::Proceeding) => self.abandon_outgoing(now, old),
                _ => {}
            }
            self.end_call(old, EndReason::Replaced, None, "");
        }
    }
}

/// The response to an offer we cannot accept (RFC 3261 §13.3.1.3, §21.4.26).
fn sdp_rejection(e: &SdpError) -> (u16, &'static str) {
    match e {
        SdpError::Malformed(_) => (400, "Malformed SDP"),
        _ => (488, "Not Acceptable Here"),
    }
}
