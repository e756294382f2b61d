//! Requests inside a call's dialog, both ways: BYE (§15), re-INVITE and UPDATE with hold and
//! resume (§14, RFC 3311, RFC 3264 §8.4), INFO DTMF, REFER and its NOTIFYs (RFC 3515,
//! RFC 5589), PRACK (RFC 3262), session refreshes (RFC 4028) and the call's own timers.

use super::call::{
    AwaitingAck, IncomingTransfer, Modification, Modify, OutgoingTransfer, Phase, Retransmission,
    Role,
};
use super::core::{Owner, Purpose};
use super::{active, CallHandle, CommandError, EndReason, TransferState, UaEvent, UserAgent};
use crate::sdp::Direction;
use crate::sip::dtmf_info;
use crate::sip::header::{self, make};
use crate::sip::message::{Method, Request, Response};
use crate::sip::name_addr::NameAddr;
use crate::sip::refer;
use crate::sip::session_timer::{self, UasDecision};
use crate::sip::transaction::ServerKey;
use rand::RngExt;
use std::time::{Duration, Instant};

/// How long a DTMF digit sent by INFO lasts (what most PBXs expect, and RFC 4733 §2.5.1.1's
/// typical tone length plus gap).
const INFO_DTMF_DURATION: Duration = Duration::from_millis(160);

impl UserAgent {
    /// A request with a To tag: find its dialog (§12.2.2) and dispatch by method.
    pub(super) fn in_dialog_request(&mut self, now: Instant, req: Request, key: ServerKey) {
        let handle = self.by_call_id.get(req.call_id()).copied().filter(|h| {
            self.calls
                .get(h)
                .and_then(|c| c.dialog.as_ref())
                .is_some_and(|d| d.matches_request(&req))
        });
        let Some(handle) = handle.filter(|h| self.calls.get(h).is_some_and(|c| c.is_active()))
        else {
            self.core.reply(now, &key, &req, 481, None);
            return;
        };
        let call = self.calls.get_mut(&handle).expect("found above");
        if let Some(dialog) = call.dialog.as_mut() {
            if let Err(e) = dialog.accept_remote_seq(&req) {
                self.core.reply(now, &key, &req, 500, Some(&e.to_string()));
                return;
            }
        }
        match req.method() {
            Method::Bye => self.incoming_bye(now, handle, req, key),
            Method::Invite => self.incoming_reinvite(now, handle, req, key),
            Method::Update => self.incoming_update(now, handle, req, key),
            Method::Info => self.incoming_info(now, handle, req, key),
            Method::Refer => self.incoming_refer(now, handle, req, key),
            Method::Notify => self.incoming_notify(now, handle, req, key),
            Method::PRack => self.incoming_prack(now, handle, req, key),
            _ => self.core.reply(now, &key, &req, 405, None),
        }
    }

    fn incoming_bye(&mut self, now: Instant, handle: CallHandle, req: Request, key: ServerKey) {
        self.core.reply(now, &key, &req, 200, None);
        let call = self.calls.get(&handle).expect("caller checked");
        if call.phase == Phase::Offered {
            // §15.1.2: a BYE in the early dialog ends the INVITE with 487.
            if let Some(invite_key) = call.invite_server.clone() {
                let (invite, tag) = (call.invite.clone(), call.local_tag.clone());
                self.core
                    .reply_tagged(now, &invite_key, &invite, 487, None, &tag);
            }
            self.end_call(handle, EndReason::CallerCancelled, None, "");
        } else {
            tracing::info!(call = %handle, "remote hangup");
            self.end_call(handle, EndReason::RemoteHangup, None, "");
        }
    }

    /// Hangs up in whatever way the call's state needs: decline, CANCEL, or BYE.
    pub fn hangup(&mut self, now: Instant, handle: CallHandle) -> Result<(), CommandError> {
        let call = active(&mut self.calls, handle)?;
        match call.phase {
            Phase::Offered => self.reject(now, handle, 486),
            Phase::Calling | Phase::Proceeding => {
                self.abandon_outgoing(now, handle);
                Ok(())
            }
            Phase::Answered => {
                // §15: not before the ACK (or its timeout).
                call.bye_after_ack = true;
                Ok(())
            }
            Phase::Confirmed => {
                self.send_bye(now, handle);
                tracing::info!(call = %handle, "local hangup");
                self.end_call(handle, EndReason::LocalHangup, None, "");
                Ok(())
            }
            Phase::Terminated => Err(CommandError::UnknownCall(handle)),
        }
    }

    /// Ends a call whose offer/answer failed after its dialog was set up: BYE, and the
    /// call reported failed with 488 (RFC 3261 §13.2.1, §14.1).
    pub(super) fn abort_call(&mut self, now: Instant, handle: CallHandle, why: &str) {
        self.send_bye(now, handle);
        self.end_call(handle, EndReason::Failed, Some(488), why);
    }

    pub(super) fn send_bye(&mut self, now: Instant, handle: CallHandle) {
        let Some(dialog) = self.calls.get_mut(&handle).and_then(|c| c.dialog.as_mut()) else {
            return;
        };
        let sent = self
            .core
            .in_dialog(dialog, Method::Bye, None)
            .and_then(|b| self.core.send(now, b, Owner::Call(handle, Purpose::Bye)));
        if let Err(e) = sent {
            tracing::warn!(call = %handle, error = %e, "BYE not sent");
        }
    }

    // ---- session modification: ours ----------------------------------------------------

    /// Puts the call on hold: re-INVITE offering sendonly (RFC 3264 §8.4).
    pub fn hold(&mut self, now: Instant, handle: CallHandle) -> Result<(), CommandError> {
        self.request_modification(now, handle, Modify::Hold)
    }

    pub fn resume(&mut self, now: Instant, handle: CallHandle) -> Result<(), CommandError> {
        self.request_modification(now, handle, Modify::Resume)
    }

    fn request_modification(
        &mut self,
        now: Instant,
        handle: CallHandle,
        kind: Modify,
    ) -> Result<(), CommandError> {
        let call = active(&mut self.calls, handle)?;
        if !matches!(call.phase, Phase::Confirmed | Phase::Answered) {
            return Err(CommandError::InvalidState(handle));
        }
        if call.phase == Phase::Answered
            || call.modification.is_some()
            || call.awaiting_ack.is_some()
        {
            // One offer at a time (§14.1), and none before the ACK of our 2xx: try again
            // once the current exchange is over.
            call.retry_modify = Some((now + Duration::from_millis(200), kind));
            return Ok(());
        }
        self.send_modification(now, handle, kind)
    }

    /// Sends our re-INVITE (with an offer), or an UPDATE without SDP for a plain session
    /// refresh when the peer allows it (RFC 4028 §9 prefers UPDATE for refreshes).
    fn send_modification(
        &mut self,
        now: Instant,
        handle: CallHandle,
        kind: Modify,
    ) -> Result<(), CommandError> {
        let supported = self.core.supported();
        let call = active(&mut self.calls, handle)?;
        let want = match kind {
            Modify::Hold => Direction::SendOnly,
            Modify::Resume => Direction::SendRecv,
            Modify::Refresh => call.wanted_direction(),
        };
        let use_update = kind == Modify::Refresh && call.peer_allows_update;
        let method = if use_update {
            Method::Update
        } else {
            Method::Invite
        };
        let offer = (!use_update)
            .then(|| call.sdp.as_mut().map(|s| s.create_offer(want)))
            .flatten();
        let timer = call.session_timer.map(|t| session_timer::SessionTimer {
            refresher: if call.we_refresh {
                session_timer::Refresher::Uac
            } else {
                session_timer::Refresher::Uas
            },
            ..t
        });
        let dialog = call
            .dialog
            .as_mut()
            .ok_or(CommandError::InvalidState(handle))?;
        let mut b = self.core.in_dialog(dialog, method, None)?;
        b.extra.push(make("Supported", supported));
        if let Some(t) = timer {
            b.extra.push(make("Session-Expires", t.header_value()));
        }
        if let Some(offer) = &offer {
            b = b.body("application/sdp", offer.clone().into_bytes());
        }
        let purpose = if use_update {
            Purpose::Update
        } else {
            Purpose::ReInvite
        };
        let cseq = b.cseq;
        self.core.send(now, b, Owner::Call(handle, purpose))?;
        let call = self.calls.get_mut(&handle).expect("checked above");
        call.modification = Some(Modification {
            cseq,
            kind,
            with_offer: offer.is_some(),
        });
        Ok(())
    }

    /// The answer to our re-INVITE or UPDATE.
    fn modification_response(
        &mut self,
        now: Instant,
        handle: CallHandle,
        request: Request,
        resp: Response,
    ) {
        let Some(call) = self.calls.get_mut(&handle) else {
            return;
        };
        let Some(modification) = call
            .modification
            .clone()
            .filter(|m| m.cseq == request.cseq().seq)
        else {
            return;
        };
        if resp.code < 200 {
            return;
        }
        call.modification = None;
        if resp.is_success() {
            if request.method() == Method::Invite {
                let ack = call
                    .dialog
                    .as_mut()
                    .map(|d| {
                        self.core
                            .in_dialog(d, Method::Ack, Some(request.cseq().seq))
                    })
                    .and_then(Result::ok)
                    .and_then(|b| self.core.send_stateless(b).ok());
                call.last_ack = ack.map(|a| (request.cseq().seq, a));
            }
            if let Some(d) = call.dialog.as_mut() {
                d.refresh_target(resp.contact());
            }
            if modification.with_offer {
                let answer = std::str::from_utf8(resp.body())
                    .unwrap_or_default()
                    .to_owned();
                match call.sdp.as_mut().map(|s| s.process_answer(&answer)) {
                    Some(Ok(media)) => {
                        match modification.kind {
                            Modify::Hold => call.local_hold = true,
                            Modify::Resume => call.local_hold = false,
                            Modify::Refresh => {}
                        }
                        self.apply_remote_media(handle, media);
                    }
                    _ => {
                        // RFC 3261 §14.1: a 2xx whose answer we cannot use; the session stays,
                        // but the peer and we now disagree: end it.
                        tracing::warn!(call = %handle, "unusable answer to our re-INVITE");
                        self.abort_call(now, handle, "unusable SDP answer");
                        return;
                    }
                }
            }
            let Some(call) = self.calls.get_mut(&handle) else {
                return;
            };
            if resp.header("Session-Expires").is_some() {
                let timer = session_timer::uac_accept(&resp, None);
                call.set_session_timer(timer, true);
            }
            call.arm_session_timer(now);
            self.report(handle);
            return;
        }
        if let Some(sdp) = call.sdp.as_mut() {
            sdp.abandon_offer();
        }
        match resp.code {
            491 => {
                // §14.1: glare. The Call-ID owner waits 2.1–4 s, the other 0–2 s.
                let ms = if call.role == Role::Uac {
                    self.core.rng.random_range(2100..=4000)
                } else {
                    self.core.rng.random_range(0..=2000)
                };
                call.retry_modify = Some((now + Duration::from_millis(ms), modification.kind));
            }
            408 | 481 => {
                // §14.1 / §12.2.1.2: the dialog is gone.
                self.send_bye(now, handle);
                self.end_call(
                    handle,
                    EndReason::Failed,
                    Some(resp.code),
                    &resp.reason.clone(),
                );
            }
            code => {
                tracing::info!(call = %handle, code, "session modification refused; the session stays as it was");
            }
        }
    }

    // ---- session modification: the peer's ---------------------------------------------

    /// RFC 4028 §9 for a request we answer with 2xx (INVITE, re-INVITE, UPDATE): the
    /// session timer to use, or `None` once the request got 422 for an interval below our
    /// Min-SE.
    pub(super) fn uas_session_timer(
        &mut self,
        now: Instant,
        req: &Request,
        key: &ServerKey,
    ) -> Option<Option<session_timer::SessionTimer>> {
        let (wanted, min_se) = (self.core.config.session_expires, self.core.config.min_se);
        match session_timer::uas_decide(req, wanted, min_se) {
            UasDecision::TooSmall { min_se } => {
                let extra = vec![make("Min-SE", min_se.to_string())];
                self.core.reply_with(now, key, req, 422, None, extra, None);
                None
            }
            UasDecision::Use(t) => Some(Some(t)),
            UasDecision::None => Some(None),
        }
    }

    /// A re-INVITE from the peer (§14.2): hold/resume, new media address, session refresh.
    fn incoming_reinvite(
        &mut self,
        now: Instant,
        handle: CallHandle,
        req: Request,
        key: ServerKey,
    ) {
        let supported = self.core.supported();
        let t1 = self.core.config.timers.t1;
        let t2 = self.core.config.timers.t2;
        let call = self.calls.get_mut(&handle).expect("caller checked");
        if call.modification.as_ref().is_some_and(|m| m.with_offer) {
            self.core.reply(now, &key, &req, 491, None);
            return;
        }
        if call.awaiting_ack.is_some() || call.phase != Phase::Confirmed {
            // §14.2: an INVITE while ours is unfinished gets 500 with Retry-After.
            let after = self.core.rng.random_range(0..=10).to_string();
            self.core.reply_with(
                now,
                &key,
                &req,
                500,
                None,
                vec![make("Retry-After", after)],
                None,
            );
            return;
        }
        let Some(timer) = self.uas_session_timer(now, &req, &key) else {
            return;
        };
        let call = self.calls.get_mut(&handle).expect("caller checked");
        let want = call.wanted_direction();
        let offer = std::str::from_utf8(req.body())
            .unwrap_or_default()
            .trim()
            .to_owned();
        let Some(sdp) = call.sdp.as_mut() else {
            self.core.reply(now, &key, &req, 500, None);
            return;
        };
        let (body, media) = if offer.is_empty() {
            (sdp.create_offer(want), None)
        } else {
            match sdp.process_offer(&offer, want) {
                Ok((answer, media)) => (answer, Some(media)),
                Err(e) => {
                    // §14.2: the session stays as it was.
                    self.core.reply_with(
                        now,
                        &key,
                        &req,
                        488,
                        None,
                        vec![make("Warning", format!("399 parley \"{e}\""))],
                        None,
                    );
                    return;
                }
            }
        };
        if let Some(d) = call.dialog.as_mut() {
            d.refresh_target(req.contact());
        }
        call.set_session_timer(timer, false);
        let extra = session_timer::response_headers(supported, timer, &req);
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
        let call = self.calls.get_mut(&handle).expect("caller checked");
        call.awaiting_ack = Some(AwaitingAck {
            cseq: req.cseq().seq,
            answer_in_ack: media.is_none(),
        });
        call.ok_retransmission = Some(Retransmission::new(now, key, resp, t1, Some(t2)));
        call.arm_session_timer(now);
        if let Some(media) = media {
            self.apply_remote_media(handle, media);
        }
        self.report(handle);
    }

    /// New media from an offer/answer exchange. Remote hold is the peer no longer
    /// receiving (it offered or answered sendonly, inactive or the RFC 2543 0.0.0.0 form,
    /// RFC 3264 §8.4), which shows as our direction not sending.
    pub(super) fn apply_remote_media(
        &mut self,
        handle: CallHandle,
        media: crate::sdp::NegotiatedMedia,
    ) {
        let Some(call) = self.calls.get_mut(&handle) else {
            return;
        };
        call.remote_hold = !media.direction.sends();
        if call.media.as_ref() != Some(&media) {
            call.media = Some(media.clone());
            self.core.emit(UaEvent::Media {
                call: handle,
                media: Some(media),
            });
        }
    }

    /// UPDATE (RFC 3311): an offer without re-INVITE, or a session refresh.
    fn incoming_update(&mut self, now: Instant, handle: CallHandle, req: Request, key: ServerKey) {
        let supported = self.core.supported();
        let offer = std::str::from_utf8(req.body())
            .unwrap_or_default()
            .trim()
            .to_owned();
        let glare = self
            .calls
            .get(&handle)
            .is_some_and(|c| c.modification.as_ref().is_some_and(|m| m.with_offer));
        if !offer.is_empty() && glare {
            self.core.reply(now, &key, &req, 491, None);
            return;
        }
        let Some(timer) = self.uas_session_timer(now, &req, &key) else {
            return;
        };
        let call = self.calls.get_mut(&handle).expect("caller checked");
        let want = call.wanted_direction();
        let answer = if offer.is_empty() {
            None
        } else {
            match call.sdp.as_mut().map(|s| s.process_offer(&offer, want)) {
                Some(Ok((answer, media))) => Some((answer, media)),
                // Before we answered the call there is no session to update (RFC 3311 §5.2
                // lets the UAS refuse).
                _ => {
                    self.core.reply(now, &key, &req, 488, None);
                    return;
                }
            }
        };
        if let Some(d) = call.dialog.as_mut() {
            d.refresh_target(req.contact());
        }
        if call.phase == Phase::Confirmed {
            call.set_session_timer(timer, false);
            call.arm_session_timer(now);
        }
        let extra = session_timer::response_headers(supported, timer, &req);
        let body = answer
            .as_ref()
            .map(|(a, _)| ("application/sdp", a.clone().into_bytes()));
        self.core
            .reply_with(now, &key, &req, 200, None, extra, body);
        if let Some((_, media)) = answer {
            self.apply_remote_media(handle, media);
        }
        self.report(handle);
    }

    // ---- DTMF by INFO --------------------------------------------------------------------

    fn incoming_info(&mut self, now: Instant, handle: CallHandle, req: Request, key: ServerKey) {
        let content_type = req.header("Content-Type").unwrap_or_default().to_owned();
        if req.body().is_empty() {
            self.core.reply(now, &key, &req, 200, None);
            return;
        }
        match dtmf_info::parse(&content_type, req.body()) {
            Some((digit, duration)) => {
                self.core.reply(now, &key, &req, 200, None);
                tracing::debug!(call = %handle, %digit, "DTMF by INFO");
                self.core.emit(UaEvent::Dtmf {
                    call: handle,
                    digit,
                    duration,
                });
            }
            None => {
                let accept = vec![make("Accept", "application/dtmf-relay, application/dtmf")];
                self.core
                    .reply_with(now, &key, &req, 415, None, accept, None);
            }
        }
    }

    /// Sends digits by SIP INFO, one request at a time so they arrive in order.
    pub fn send_dtmf_info(
        &mut self,
        now: Instant,
        handle: CallHandle,
        digits: &str,
    ) -> Result<(), CommandError> {
        if let Some(bad) = digits.chars().find(|c| !dtmf_info::is_digit(*c)) {
            return Err(CommandError::Build(format!("{bad:?} is not a DTMF digit")));
        }
        let call = active(&mut self.calls, handle)?;
        if call.phase != Phase::Confirmed {
            return Err(CommandError::InvalidState(handle));
        }
        call.dtmf_queue
            .extend(digits.chars().map(|c| c.to_ascii_uppercase()));
        self.send_next_info(now, handle);
        Ok(())
    }

    fn send_next_info(&mut self, now: Instant, handle: CallHandle) {
        let Some(call) = self.calls.get_mut(&handle) else {
            return;
        };
        if call.dtmf_in_flight {
            return;
        }
        let Some(digit) = call.dtmf_queue.pop_front() else {
            return;
        };
        let Some(dialog) = call.dialog.as_mut() else {
            return;
        };
        let sent = self
            .core
            .in_dialog(dialog, Method::Info, None)
            .and_then(|b| {
                let b = b.body(
                    dtmf_info::DTMF_RELAY,
                    dtmf_info::body(digit, INFO_DTMF_DURATION),
                );
                self.core.send(now, b, Owner::Call(handle, Purpose::Info))
            });
        match sent {
            Ok(_) => call.dtmf_in_flight = true,
            Err(e) => tracing::warn!(call = %handle, error = %e, "INFO not sent"),
        }
    }

    // ---- transfer ------------------------------------------------------------------------

    /// Blind transfer: REFER the peer to `to` (RFC 3515, RFC 5589 §6).
    pub fn transfer(
        &mut self,
        now: Instant,
        handle: CallHandle,
        to: &str,
    ) -> Result<(), CommandError> {
        let target = NameAddr::new(None, self.dial_uri(to)?);
        self.send_refer(now, handle, target, None)
    }

    /// Attended transfer: REFER the peer of `handle` to the peer of `consult`, replacing
    /// our consultation dialog (RFC 5589 §7).
    pub fn transfer_attended(
        &mut self,
        now: Instant,
        handle: CallHandle,
        consult: CallHandle,
    ) -> Result<(), CommandError> {
        let consult_call = active(&mut self.calls, consult)?;
        let target = match (&consult_call.dialog, consult_call.phase) {
            (Some(d), Phase::Confirmed) => refer::attended_refer_to(d),
            _ => return Err(CommandError::InvalidState(consult)),
        };
        self.send_refer(now, handle, target, Some(consult))
    }

    fn send_refer(
        &mut self,
        now: Instant,
        handle: CallHandle,
        target: NameAddr,
        consult: Option<CallHandle>,
    ) -> Result<(), CommandError> {
        let referred_by = self.core.local_identity();
        let call = active(&mut self.calls, handle)?;
        if call.phase != Phase::Confirmed || call.transfer_out.is_some() {
            return Err(CommandError::InvalidState(handle));
        }
        let dialog = call
            .dialog
            .as_mut()
            .ok_or(CommandError::InvalidState(handle))?;
        let b = self
            .core
            .in_dialog(dialog, Method::Refer, None)?
            .header("Refer-To", target.to_string())
            .header("Referred-By", referred_by.to_string());
        self.core
            .send(now, b, Owner::Call(handle, Purpose::Refer))?;
        let call = self.calls.get_mut(&handle).expect("checked above");
        call.transfer_out = Some(OutgoingTransfer { consult });
        tracing::info!(call = %handle, to = %target, "transfer requested");
        self.core.emit(UaEvent::Transfer {
            call: handle,
            state: TransferState::Trying,
            code: None,
        });
        Ok(())
    }

    fn refer_response(&mut self, handle: CallHandle, resp: &Response) {
        if resp.code < 200 {
            return;
        }
        let state = if resp.is_success() {
            TransferState::Accepted
        } else {
            if let Some(call) = self.calls.get_mut(&handle) {
                call.transfer_out = None;
            }
            TransferState::Failed
        };
        self.core.emit(UaEvent::Transfer {
            call: handle,
            state,
            code: Some(resp.code),
        });
    }

    /// NOTIFY of the implicit `refer` subscription (RFC 3515 §2.4.5): the transfer's
    /// progress as a sipfrag status line.
    fn incoming_notify(&mut self, now: Instant, handle: CallHandle, req: Request, key: ServerKey) {
        let event = req.header("Event").unwrap_or_default();
        if !event
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .eq_ignore_ascii_case("refer")
        {
            self.core.reply(now, &key, &req, 489, None);
            return;
        }
        let call = self.calls.get(&handle).expect("caller checked");
        let Some(transfer) = call.transfer_out.clone() else {
            self.core.reply(now, &key, &req, 481, None);
            return;
        };
        self.core.reply(now, &key, &req, 200, None);
        let status = refer::parse_sipfrag(req.body());
        let terminated = refer::is_terminated(req.header("Subscription-State"));
        let (state, code) = match status {
            Some((code, _)) if code < 200 && !terminated => (TransferState::Trying, Some(code)),
            Some((code, _)) if (200..300).contains(&code) => (TransferState::Succeeded, Some(code)),
            Some((code, _)) if code >= 300 => (TransferState::Failed, Some(code)),
            // Terminated without a final status: the outcome is unknown, treat as failed.
            _ if terminated => (TransferState::Failed, None),
            _ => return,
        };
        self.core.emit(UaEvent::Transfer {
            call: handle,
            state,
            code,
        });
        match state {
            TransferState::Succeeded => {
                // RFC 5589 §6.1: the transferor ends its call with the transferee.
                tracing::info!(call = %handle, "transferred");
                self.send_bye(now, handle);
                self.end_call(handle, EndReason::Transferred, code, "");
                if let Some(consult) = transfer
                    .consult
                    .filter(|c| self.calls.get(c).is_some_and(|c| c.is_active()))
                {
                    self.send_bye(now, consult);
                    self.end_call(consult, EndReason::Transferred, code, "");
                }
            }
            TransferState::Failed => {
                if let Some(call) = self.calls.get_mut(&handle) {
                    call.transfer_out = None;
                }
            }
            _ => {}
        }
    }

    /// REFER from the peer (we are transferee): accept, tell the application to call the
    /// target, and report progress by NOTIFY (RFC 3515 §2.4.4).
    fn incoming_refer(&mut self, now: Instant, handle: CallHandle, req: Request, key: ServerKey) {
        let refer_to: Vec<&str> = header::all(req.headers(), "Refer-To").collect();
        let target = match refer_to[..] {
            [one] => one
                .parse::<NameAddr>()
                .ok()
                .and_then(|n| n.uri.as_sip().cloned()),
            _ => None,
        };
        let Some(target) = target else {
            // §2.4.1: exactly one Refer-To with a usable URI.
            self.core.reply(now, &key, &req, 400, Some("Bad Refer-To"));
            return;
        };
        let call = self.calls.get_mut(&handle).expect("caller checked");
        if call.phase != Phase::Confirmed || call.transfer_in.is_some() {
            self.core.reply(now, &key, &req, 403, None);
            return;
        }
        call.transfer_in = Some(IncomingTransfer {
            refer_cseq: req.cseq().seq,
            referred_by: req.header("Referred-By").map(str::to_owned),
        });
        self.core.reply(now, &key, &req, 202, None);
        self.send_transfer_notify(now, handle, 100, "Trying");
        let replaces = target.header("Replaces");
        tracing::info!(call = %handle, target = %target, "peer asks for a transfer");
        self.core.emit(UaEvent::TransferRequested {
            call: handle,
            target: target.without_headers(),
            replaces,
        });
    }

    /// Reports the outcome of a transfer the peer asked for (REFER) when the application
    /// handled it without [`DialOptions::referred_by`]: it declined (603), could not place
    /// the call, or completed it some other way (RFC 3515 §2.4.5).
    ///
    /// [`DialOptions::referred_by`]: super::DialOptions::referred_by
    pub fn transfer_outcome(
        &mut self,
        now: Instant,
        handle: CallHandle,
        code: u16,
        phrase: &str,
    ) -> Result<(), CommandError> {
        let call = active(&mut self.calls, handle)?;
        if call.transfer_in.is_none() {
            return Err(CommandError::InvalidState(handle));
        }
        self.send_transfer_notify(now, handle, code, phrase);
        Ok(())
    }

    /// Tells the peer that referred us how the call it asked for is going (on final
    /// statuses the subscription ends, RFC 3515 §2.4.5).
    pub(super) fn notify_referrer(
        &mut self,
        now: Instant,
        new_call: CallHandle,
        code: u16,
        phrase: &str,
    ) {
        let Some(referrer) = self.calls.get(&new_call).and_then(|c| c.referred_by) else {
            return;
        };
        if code >= 200 {
            if let Some(c) = self.calls.get_mut(&new_call) {
                c.referred_by = None;
            }
        }
        self.send_transfer_notify(now, referrer, code, phrase);
    }

    fn send_transfer_notify(&mut self, now: Instant, handle: CallHandle, code: u16, phrase: &str) {
        let Some(call) = self.calls.get_mut(&handle) else {
            return;
        };
        let Some(refer_cseq) = call.transfer_in.as_ref().map(|t| t.refer_cseq) else {
            return;
        };
        let state = if code >= 200 {
            call.transfer_in = None;
            "terminated;reason=noresource".to_owned()
        } else {
            "active;expires=60".to_owned()
        };
        let Some(dialog) = call.dialog.as_mut() else {
            return;
        };
        let sent = self
            .core
            .in_dialog(dialog, Method::Notify, None)
            .and_then(|b| {
                let b = b
                    .header("Event", format!("refer;id={refer_cseq}"))
                    .header("Subscription-State", state)
                    .body("message/sipfrag;version=2.0", refer::sipfrag(code, phrase));
                self.core.send(now, b, Owner::Call(handle, Purpose::Notify))
            });
        if let Err(e) = sent {
            tracing::warn!(call = %handle, error = %e, "NOTIFY not sent");
        }
    }

    // ---- PRACK (we sent a reliable 1xx) ---------------------------------------------------

    fn incoming_prack(&mut self, now: Instant, handle: CallHandle, req: Request, key: ServerKey) {
        let call = self.calls.get_mut(&handle).expect("caller checked");
        let invite_cseq = call.invite.cseq().seq;
        let rack = req
            .header("RAck")
            .map(|r| r.split_whitespace().map(str::to_owned).collect::<Vec<_>>());
        let matches = match (call.unacked_rseq, rack.as_deref()) {
            (Some(unacked), Some([rseq, cseq, method])) => {
                rseq.parse() == Ok(unacked)
                    && cseq.parse() == Ok(invite_cseq)
                    && method.eq_ignore_ascii_case("INVITE")
            }
            _ => false,
        };
        if matches {
            call.reliable_provisional = None;
            call.unacked_rseq = None;
            self.core.reply(now, &key, &req, 200, None);
        } else {
            // RFC 3262 §3: a PRACK matching no unacknowledged reliable response.
            self.core.reply(now, &key, &req, 481, None);
        }
    }

    // ---- outcomes of our requests ------------------------------------------------------------

    pub(super) fn call_response(
        &mut self,
        now: Instant,
        handle: CallHandle,
        purpose: Purpose,
        request: Request,
        resp: Response,
    ) {
        match purpose {
            Purpose::Invite => self.invite_response(now, handle, request, resp),
            Purpose::ReInvite | Purpose::Update => {
                self.modification_response(now, handle, request, resp)
            }
            Purpose::Refer => self.refer_response(handle, &resp),
            Purpose::Info if resp.code >= 200 => {
                if let Some(call) = self.calls.get_mut(&handle) {
                    call.dtmf_in_flight = false;
                }
                self.send_next_info(now, handle);
            }
            _ => {}
        }
    }

    /// A request of the call got no response (timeout or transport failure, §8.1.3.1).
    pub(super) fn call_failure(
        &mut self,
        now: Instant,
        handle: CallHandle,
        purpose: Purpose,
        request: Request,
        code: u16,
    ) {
        let phrase = if code == 408 {
            "Request Timeout"
        } else {
            "Service Unavailable"
        };
        match purpose {
            Purpose::Invite => {
                if self
                    .calls
                    .get(&handle)
                    .is_some_and(|c| c.invite.cseq() == request.cseq())
                {
                    self.end_call(handle, EndReason::Failed, Some(code), phrase);
                    self.notify_referrer(now, handle, code, phrase);
                }
            }
            Purpose::ReInvite | Purpose::Update => {
                // §14.1: a re-INVITE that times out ends the dialog.
                if let Some(call) = self.calls.get_mut(&handle) {
                    call.modification = None;
                    if let Some(sdp) = call.sdp.as_mut() {
                        sdp.abandon_offer();
                    }
                }
                self.send_bye(now, handle);
                self.end_call(handle, EndReason::Failed, Some(code), phrase);
            }
            Purpose::Refer => {
                if let Some(call) = self.calls.get_mut(&handle) {
                    call.transfer_out = None;
                }
                self.core.emit(UaEvent::Transfer {
                    call: handle,
                    state: TransferState::Failed,
                    code: Some(code),
                });
            }
            Purpose::Info => {
                if let Some(call) = self.calls.get_mut(&handle) {
                    call.dtmf_in_flight = false;
                }
                self.send_next_info(now, handle);
            }
            Purpose::Bye | Purpose::Cancel | Purpose::Prack | Purpose::Notify => {}
        }
    }

    // ---- the call's timers ---------------------------------------------------------------------

    pub(super) fn call_timeout(&mut self, now: Instant, handle: CallHandle) {
        let Some(call) = self.calls.get_mut(&handle) else {
            return;
        };
        // 2xx retransmission until the ACK (§13.3.1.4), giving up after 64·T1 with BYE.
        if let Some(r) = call.ok_retransmission.as_mut() {
            if r.give_up <= now {
                call.ok_retransmission = None;
                call.awaiting_ack = None;
                tracing::warn!(call = %handle, "no ACK for our 2xx");
                if call.phase == Phase::Answered {
                    call.phase = Phase::Confirmed;
                }
                self.send_bye(now, handle);
                self.end_call(handle, EndReason::Failed, None, "no ACK received");
                return;
            }
            if let Some((key, resp)) = r.due(now) {
                self.core.respond(now, &key, resp);
            }
        }
        let Some(call) = self.calls.get_mut(&handle) else {
            return;
        };
        // Reliable 1xx until the PRACK (RFC 3262 §3); after 64·T1 the INVITE is refused.
        if let Some(r) = call.reliable_provisional.as_mut() {
            if r.give_up <= now {
                let key = r.key.clone();
                call.reliable_provisional = None;
                let (invite, tag) = (call.invite.clone(), call.local_tag.clone());
                self.core
                    .reply_tagged(now, &key, &invite, 504, Some("No PRACK"), &tag);
                self.end_call(handle, EndReason::Failed, Some(504), "no PRACK received");
                return;
            }
            if let Some((key, resp)) = r.due(now) {
                self.core.respond(now, &key, resp);
            }
        }
        let Some(call) = self.calls.get_mut(&handle) else {
            return;
        };
        if call.no_answer_at.is_some_and(|t| t <= now) {
            self.no_answer(now, handle);
            return;
        }
        if call.expire_at.is_some_and(|t| t <= now) {
            // RFC 4028 §10: no refresh came; the session is over.
            tracing::warn!(call = %handle, "session expired");
            self.send_bye(now, handle);
            self.end_call(
                handle,
                EndReason::SessionExpired,
                None,
                "no session refresh",
            );
            return;
        }
        if call.refresh_at.is_some_and(|t| t <= now) {
            call.refresh_at = None;
            if call.modification.is_none() && call.awaiting_ack.is_none() {
                if let Err(e) = self.send_modification(now, handle, Modify::Refresh) {
                    tracing::warn!(call = %handle, error = %e, "session refresh not sent");
                }
            } else {
                call.retry_modify = Some((now + Duration::from_secs(1), Modify::Refresh));
            }
        }
        let Some(call) = self.calls.get_mut(&handle) else {
            return;
        };
        if let Some((_, kind)) = call.retry_modify.filter(|(at, _)| *at <= now) {
            call.retry_modify = None;
            if let Err(e) = self.request_modification(now, handle, kind) {
                tracing::warn!(call = %handle, error = %e, "session modification not retried");
            }
        }
    }
}
