//! Calls we place (the UAC side of RFC 3261 §13.2): INVITE, provisional and final
//! responses, PRACK (RFC 3262 §4), CANCEL (§9.1) and digest retries (§22.2).

use super::call::{Call, Phase, Role};
use super::core::{Owner, Purpose};
use super::{CallHandle, CallState, CommandError, DialOptions, EndReason, UaEvent, UserAgent};
use crate::link::{self, DialTarget};
use crate::sdp::Direction;
use crate::sip::builder;
use crate::sip::dialog::{Dialog, DialogState};
use crate::sip::header::{self, make};
use crate::sip::message::{Method, Request, Response};
use crate::sip::name_addr::{NameAddr, Uri};
use crate::sip::session_timer;
use crate::sip::uri::SipUri;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// How long an outgoing call may ring unanswered: Timer C's minimum (§16.6 step 11).
const NO_ANSWER_TIMEOUT: Duration = Duration::from_secs(180);

impl UserAgent {
    /// Places a call to `to` (a SIP URI, a `tel:` URI or a number/extension in our
    /// domain), sending RTP from `local_media`.
    pub fn dial(
        &mut self,
        now: Instant,
        to: &str,
        local_media: SocketAddr,
        options: DialOptions,
    ) -> Result<CallHandle, CommandError> {
        let uri = self.dial_uri(to)?;
        self.core.ready_flow()?;
        let handle = self.new_handle();
        let call_id = self.core.token();
        let local_tag = self.core.token();
        let mut sdp = self.core.sdp_session(local_media);
        let offer = sdp.create_offer(Direction::SendRecv);
        let from = options
            .caller
            .clone()
            .unwrap_or_else(|| self.core.local_identity())
            .with_tag(&local_tag);
        let b = self.core.out_of_dialog(
            Method::Invite,
            Uri::Sip(uri.clone()),
            from,
            NameAddr::new(None, uri),
            call_id.clone(),
            1,
        )?;
        let request = b.build().map_err(|e| CommandError::Build(e.to_string()))?;
        let mut call = Call::new(handle, Role::Uac, Phase::Calling, request, local_tag);
        call.sdp = Some(sdp);
        call.dial_headers = options.headers;
        if let Some(replaces) = options.replaces {
            call.dial_headers.push(("Replaces".into(), replaces));
        }
        let referred_by = options
            .referred_by
            .and_then(|r| self.calls.get(&r))
            .and_then(|c| c.transfer_in.as_ref())
            .and_then(|t| t.referred_by.clone());
        if let Some(referred_by) = referred_by {
            call.dial_headers.push(("Referred-By".into(), referred_by));
        }
        call.referred_by = options.referred_by;
        call.session_expires_asked = self.core.config.session_expires;
        call.no_answer_at = Some(now + NO_ANSWER_TIMEOUT);
        self.calls.insert(handle, call);
        self.by_call_id.insert(call_id, handle);

        if let Err(e) = self.send_invite(now, handle, 1, offer, Vec::new()) {
            self.calls.remove(&handle);
            return Err(e);
        }
        tracing::info!(call = %handle, %to, "dialing");
        self.report(handle);
        Ok(handle)
    }

    /// The Request-URI for a dial string.
    pub(super) fn dial_uri(&self, to: &str) -> Result<SipUri, CommandError> {
        let to = to.trim();
        let invalid = || CommandError::InvalidTarget(to.to_owned());
        let scheme = to
            .split(':')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if scheme == "sip" || scheme == "sips" {
            return to.parse().map_err(|_| invalid());
        }
        let (user, phone) = match to.split_once(':') {
            Some((s, _)) if s.eq_ignore_ascii_case("tel") => match link::parse(to) {
                Ok(DialTarget::Number(n)) => (n, true),
                _ => return Err(invalid()),
            },
            Some(_) => return Err(invalid()),
            None if to.contains('@') => return format!("sip:{to}").parse().map_err(|_| invalid()),
            None => match link::number(to) {
                Ok(DialTarget::Number(n)) => (n, false),
                // A user name in our domain (e.g. a queue or a colleague's login).
                _ if !to.is_empty()
                    && to
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-._".contains(c)) =>
                {
                    (to.to_owned(), false)
                }
                _ => return Err(invalid()),
            },
        };
        let aor = &self.core.config.aor;
        let mut uri = SipUri::new(Some(&user), aor.host.clone(), aor.port);
        if phone || user.starts_with('+') {
            // RFC 3261 §19.1.1: a telephone number in a SIP URI.
            uri.set_param("user", Some("phone"));
        }
        Ok(uri)
    }

    /// Sends (or re-sends, after a challenge or 422) the call's INVITE.
    fn send_invite(
        &mut self,
        now: Instant,
        handle: CallHandle,
        cseq: u32,
        offer: String,
        auth: Vec<rsip::Header>,
    ) -> Result<(), CommandError> {
        let supported = self.core.supported();
        let prack_required = self.core.config.prack == super::PrackMode::Required;
        let min_se = self.core.config.min_se;
        let call = self
            .calls
            .get_mut(&handle)
            .ok_or(CommandError::UnknownCall(handle))?;
        let from = call.invite.from().clone();
        let mut b = self.core.out_of_dialog(
            Method::Invite,
            call.invite.uri.clone(),
            from,
            call.invite.to().clone(),
            call.sip_call_id.clone(),
            cseq,
        )?;
        b.extra.push(make("Allow", crate::sip::ALLOW));
        b.extra.push(make("Supported", supported));
        if prack_required {
            b.extra.push(make("Require", "100rel"));
        }
        if let Some(se) = call.session_expires_asked {
            // RFC 4028 §7.1: our interval, and the smallest we accept.
            b.extra.push(make("Session-Expires", se.to_string()));
            b.extra.push(make("Min-SE", min_se.to_string()));
        }
        b.extra
            .extend(call.dial_headers.iter().map(|(n, v)| make(n, v.clone())));
        b.extra.extend(auth);
        let b = b.body("application/sdp", offer.into_bytes());
        let request = b.build().map_err(|e| CommandError::Build(e.to_string()))?;
        let key =
            self.core
                .send_request(now, request.clone(), Owner::Call(handle, Purpose::Invite))?;
        let call = self
            .calls
            .get_mut(&handle)
            .ok_or(CommandError::UnknownCall(handle))?;
        call.invite = request;
        call.invite_client = Some(key);
        Ok(())
    }

    /// A response to our initial INVITE.
    pub(super) fn invite_response(
        &mut self,
        now: Instant,
        handle: CallHandle,
        request: Request,
        resp: Response,
    ) {
        let Some(call) = self.calls.get_mut(&handle) else {
            return;
        };
        if resp.cseq().seq != call.invite.cseq().seq {
            // A late response to an INVITE we re-sent with credentials.
            return;
        }
        match resp.code {
            100 => {
                if call.phase == Phase::Calling {
                    call.phase = Phase::Proceeding;
                }
                self.cancel_if_asked(now, handle);
            }
            101..=199 => self.invite_provisional(now, handle, resp),
            200..=299 => self.invite_success(now, handle, resp),
            401 | 407 if call.auth_attempts < 3 && call.phase != Phase::Terminated => {
                call.auth_attempts += 1;
                let retry = self.core.answer_challenge(&request, &resp);
                self.retry_invite(now, handle, retry.map_err(|e| e.to_string()), &resp);
            }
            422 if call.phase != Phase::Terminated => {
                // RFC 4028 §7.4: ask again with the interval the UAS requires.
                match session_timer::min_se(&resp) {
                    Some(min) if call.session_expires_asked.is_none_or(|asked| min > asked) => {
                        call.session_expires_asked = Some(min);
                        self.retry_invite(now, handle, Ok(Vec::new()), &resp);
                    }
                    _ => self.invite_failed(now, handle, &resp),
                }
            }
            _ => self.invite_failed(now, handle, &resp),
        }
        self.report(handle);
    }

    /// Re-sends the INVITE (new CSeq, same Call-ID and From tag, §22.2) or ends the call.
    fn retry_invite(
        &mut self,
        now: Instant,
        handle: CallHandle,
        auth: Result<Vec<rsip::Header>, String>,
        resp: &Response,
    ) {
        let Some(call) = self.calls.get_mut(&handle) else {
            return;
        };
        let offer = call
            .sdp
            .as_mut()
            .map(|s| s.create_offer(Direction::SendRecv));
        let cseq = call.invite.cseq().seq + 1;
        let sent = match (auth, offer) {
            (Ok(auth), Some(offer)) => self
                .send_invite(now, handle, cseq, offer, auth)
                .map_err(|e| e.to_string()),
            (Err(e), _) => Err(e),
            (_, None) => Err("no offer".to_owned()),
        };
        if let Err(e) = sent {
            tracing::warn!(call = %handle, error = %e, "call not retried");
            self.end_call(handle, EndReason::Rejected, Some(resp.code), &e);
            self.notify_referrer(now, handle, resp.code, &resp.reason);
        }
    }

    fn invite_failed(&mut self, now: Instant, handle: CallHandle, resp: &Response) {
        let Some(call) = self.calls.get(&handle) else {
            return;
        };
        let reason = if call.cancelled && resp.code == 487 {
            EndReason::LocalHangup
        } else {
            EndReason::Rejected
        };
        tracing::info!(call = %handle, code = resp.code, reason = %resp.reason, "call not answered");
        self.end_call(handle, reason, Some(resp.code), &resp.reason.clone());
        self.notify_referrer(now, handle, resp.code, &resp.reason.clone());
    }

    fn invite_provisional(&mut self, now: Instant, handle: CallHandle, resp: Response) {
        let Some(call) = self.calls.get_mut(&handle) else {
            return;
        };
        if call.phase == Phase::Terminated {
            self.cancel_if_asked(now, handle);
            return;
        }
        if call.phase == Phase::Calling {
            call.phase = Phase::Proceeding;
        }
        if matches!(resp.code, 180..=182) {
            call.alerting = true;
        }
        // A provisional response with a To tag creates an early dialog (§12.1.2). With
        // forking several may exist; the latest one is kept, which is enough for PRACK and
        // early media from the branch that is ringing.
        if let Some(tag) = resp.to().tag() {
            let known = call.dialog.as_ref().is_some_and(|d| d.id.remote_tag == tag);
            if !known {
                match Dialog::new_uac(&call.invite, &resp) {
                    Ok(d) => call.dialog = Some(d),
                    Err(e) => tracing::debug!(call = %handle, error = %e, "no early dialog"),
                }
            }
        }
        let reliable = header::has_token(resp.headers(), "Require", "100rel");
        if reliable {
            // RFC 3262 §4: acknowledge each reliable provisional response once, in order.
            let Some(rseq) = resp
                .header("RSeq")
                .and_then(|r| r.trim().parse::<u32>().ok())
            else {
                return;
            };
            if call.remote_rseq.is_some_and(|last| rseq != last + 1) {
                return;
            }
            call.remote_rseq = Some(rseq);
            self.send_prack(now, handle, rseq);
        }
        if !resp.body().is_empty() {
            self.early_answer(handle, &resp);
        }
        self.cancel_if_asked(now, handle);
    }

    /// SDP in a provisional response: the answer to our offer, used for early media
    /// (RFC 3261 §13.2.1, RFC 6337 §3.1.1 for the unreliable case).
    fn early_answer(&mut self, handle: CallHandle, resp: &Response) {
        let Some(call) = self.calls.get_mut(&handle) else {
            return;
        };
        let Some(sdp) = call.sdp.as_mut() else {
            return;
        };
        match std::str::from_utf8(resp.body())
            .map_err(|e| e.to_string())
            .and_then(|text| sdp.process_answer(text).map_err(|e| e.to_string()))
        {
            Ok(media) => {
                call.early_media = true;
                call.media = Some(media.clone());
                self.core.emit(UaEvent::Media {
                    call: handle,
                    media: Some(media),
                });
            }
            Err(e) => tracing::info!(call = %handle, error = %e, "early SDP ignored"),
        }
    }

    /// PRACK for a reliable provisional response (RFC 3262 §7.2: `RAck: RSeq CSeq method`).
    fn send_prack(&mut self, now: Instant, handle: CallHandle, rseq: u32) {
        let Some(call) = self.calls.get_mut(&handle) else {
            return;
        };
        let invite_cseq = call.invite.cseq().seq;
        let Some(dialog) = call.dialog.as_mut() else {
            return;
        };
        let sent = self
            .core
            .in_dialog(dialog, Method::PRack, None)
            .and_then(|b| {
                let b = b.header("RAck", format!("{rseq} {invite_cseq} INVITE"));
                self.core.send(now, b, Owner::Call(handle, Purpose::Prack))
            });
        if let Err(e) = sent {
            tracing::warn!(call = %handle, error = %e, "PRACK not sent");
        }
    }

    /// The 2xx to our INVITE: confirm the dialog, ACK it (§13.2.2.4), start media.
    fn invite_success(&mut self, now: Instant, handle: CallHandle, resp: Response) {
        let Some(call) = self.calls.get_mut(&handle) else {
            return;
        };
        if call.phase == Phase::Terminated {
            // The agent hung up and the CANCEL lost the race with this 2xx (§9.1): the
            // call must still be acknowledged, then ended with BYE.
            let invite = call.invite.clone();
            self.ack_and_bye_fork(now, &invite, &resp);
            return;
        }
        let tag = resp.to().tag().unwrap_or_default().to_owned();
        let confirmed_tag = call
            .dialog
            .as_ref()
            .filter(|d| d.state == DialogState::Confirmed)
            .map(|d| d.id.remote_tag.clone());
        match confirmed_tag {
            // A retransmitted 2xx: its ACK got lost, send it again.
            Some(t) if t == tag => {
                self.resend_ack(handle, resp.cseq().seq);
                return;
            }
            // Another fork answered too (§13.2.2.4): acknowledge and hang up that one.
            Some(_) => {
                let invite = call.invite.clone();
                self.ack_and_bye_fork(now, &invite, &resp);
                return;
            }
            None => {}
        }
        let dialog = match call.dialog.take() {
            Some(mut d) if d.id.remote_tag == tag => d.confirm(&resp).map(|_| d),
            _ => Dialog::new_uac(&call.invite, &resp),
        };
        let mut dialog = match dialog {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(call = %handle, error = %e, "unusable 2xx");
                self.end_call(handle, EndReason::Failed, Some(resp.code), &e.to_string());
                return;
            }
        };
        let ack = self
            .core
            .in_dialog(&mut dialog, Method::Ack, Some(call.invite.cseq().seq))
            .and_then(|b| self.core.send_stateless(b));
        call.last_ack = ack.ok().map(|a| (call.invite.cseq().seq, a));
        call.dialog = Some(dialog);
        call.phase = Phase::Confirmed;
        call.peer_allows_update = header::has_token(resp.headers(), "Allow", "UPDATE");
        let timer = session_timer::uac_accept(&resp, call.session_expires_asked);
        call.set_session_timer(timer, true);
        call.arm_session_timer(now);
        let answer = if resp.body().is_empty() {
            // The answer came in a reliable provisional response (RFC 3262 §5).
            call.media
                .clone()
                .ok_or_else(|| "the answer has no SDP".to_owned())
        } else {
            let sdp = call.sdp.as_mut();
            std::str::from_utf8(resp.body())
                .map_err(|e| e.to_string())
                .and_then(|text| {
                    sdp.ok_or_else(|| "no offer".to_owned())?
                        .process_answer(text)
                        .map_err(|e| e.to_string())
                })
        };
        let replaces = call.replaces;
        match answer {
            Ok(media) => self.apply_remote_media(handle, media),
            Err(e) => {
                // §13.2.1: a 2xx without a usable answer ends the call after its ACK.
                tracing::warn!(call = %handle, error = %e, "no usable SDP answer");
                self.report(handle);
                self.abort_call(now, handle, &e);
                return;
            }
        }
        tracing::info!(call = %handle, "connected");
        self.report(handle);
        self.notify_referrer(now, handle, resp.code, &resp.reason.clone());
        if let Some(old) = replaces {
            self.replace_call(now, old);
        }
    }

    /// Sends again the ACK for the 2xx with this CSeq (§13.2.2.4).
    fn resend_ack(&mut self, handle: CallHandle, cseq: u32) {
        let ack = self
            .calls
            .get(&handle)
            .and_then(|c| c.last_ack.clone())
            .filter(|(seq, _)| *seq == cseq);
        if let (Some((_, bytes)), Ok((target, _))) = (ack, self.core.ready_flow()) {
            self.core.transmit(target, bytes);
        }
    }

    /// ACK and BYE for a 2xx from a fork we do not keep (§13.2.2.4).
    fn ack_and_bye_fork(&mut self, now: Instant, invite: &Request, resp: &Response) {
        let Ok(mut dialog) = Dialog::new_uac(invite, resp) else {
            return;
        };
        let ack = self
            .core
            .in_dialog(&mut dialog, Method::Ack, Some(invite.cseq().seq));
        let _ = ack.and_then(|b| self.core.send_stateless(b));
        let bye = self.core.in_dialog(&mut dialog, Method::Bye, None);
        let _ = bye.and_then(|b| self.core.send(now, b, Owner::Nobody));
    }

    /// A 2xx to an INVITE that no pending request waits for: a retransmission (its ACK was
    /// lost) or another fork's answer (§13.2.2.4). Re-ACK ours, release others.
    pub(super) fn stray_response(&mut self, now: Instant, resp: Response) {
        if !(resp.is_success() && resp.cseq().method == Method::Invite) {
            return;
        }
        let Some(&handle) = self.by_call_id.get(resp.call_id()) else {
            return;
        };
        let Some(call) = self.calls.get(&handle) else {
            return;
        };
        let ours = call
            .dialog
            .as_ref()
            .is_some_and(|d| Some(d.id.remote_tag.as_str()) == resp.to().tag());
        if ours {
            self.resend_ack(handle, resp.cseq().seq);
        } else if call.role == Role::Uac && resp.cseq().seq == call.invite.cseq().seq {
            let invite = call.invite.clone();
            self.ack_and_bye_fork(now, &invite, &resp);
        }
    }

    /// Sends the CANCEL the agent asked for once a provisional response allows it (§9.1).
    fn cancel_if_asked(&mut self, now: Instant, handle: CallHandle) {
        let Some(call) = self.calls.get_mut(&handle) else {
            return;
        };
        if call.cancel_when_provisional {
            call.cancel_when_provisional = false;
            self.send_cancel(now, handle);
        }
    }

    pub(super) fn send_cancel(&mut self, now: Instant, handle: CallHandle) {
        let Some(call) = self.calls.get_mut(&handle) else {
            return;
        };
        call.cancelled = true;
        call.no_answer_at = None;
        if let Some(key) = &call.invite_client {
            // §9.1: without a final response 64·T1 after the CANCEL, the INVITE is over.
            let deadline = now + self.core.config.timers.timeout();
            self.core.tx.expect_final_by(key, deadline);
        }
        let cancel = builder::cancel(&call.invite);
        if let Err(e) = self
            .core
            .send_request(now, cancel, Owner::Call(handle, Purpose::Cancel))
        {
            tracing::warn!(call = %handle, error = %e, "CANCEL not sent");
        }
    }

    /// Timer C: nobody answered for three minutes; cancel and report it.
    pub(super) fn no_answer(&mut self, now: Instant, handle: CallHandle) {
        let Some(call) = self.calls.get_mut(&handle) else {
            return;
        };
        call.no_answer_at = None;
        match call.phase {
            Phase::Calling => call.cancel_when_provisional = true,
            Phase::Proceeding => self.send_cancel(now, handle),
            _ => return,
        }
        tracing::info!(call = %handle, "no answer");
        self.end_call(handle, EndReason::Failed, Some(408), "No Answer");
    }

    /// Hanging up a call we placed that has not been answered (§9.1). The agent sees it
    /// ended at once; the call lives on inside until its INVITE completes, so that a 2xx
    /// racing the CANCEL is still acknowledged and released with BYE.
    pub(super) fn abandon_outgoing(&mut self, now: Instant, handle: CallHandle) {
        let Some(call) = self.calls.get_mut(&handle) else {
            return;
        };
        match call.phase {
            Phase::Calling => call.cancel_when_provisional = true,
            Phase::Proceeding if !call.cancelled => self.send_cancel(now, handle),
            _ => {}
        }
        self.end_call(handle, EndReason::LocalHangup, None, "");
    }

    /// The state of a call we placed, for tests and status.
    pub fn call_state(&self, handle: CallHandle) -> Option<CallState> {
        self.calls.get(&handle).map(|c| c.state())
    }
}

#[cfg(test)]
mod tests {
    use crate::sip::ua::tests::agent;

    #[test]
    fn dial_strings() {
        let ua = agent();
        let uri = |s: &str| ua.dial_uri(s).map(|u| u.to_string());
        assert_eq!(uri("sip:bob@example.com").unwrap(), "sip:bob@example.com");
        assert_eq!(uri("2000").unwrap(), "sip:2000@pbx.test");
        assert_eq!(
            uri("tel:+49-30-1234;phone-context=x").unwrap(),
            "sip:+49301234@pbx.test;user=phone"
        );
        assert_eq!(
            uri("+49 (30) 1234").unwrap(),
            "sip:+49301234@pbx.test;user=phone"
        );
        assert_eq!(uri("bob@other.example").unwrap(), "sip:bob@other.example");
        assert!(uri("javascript:alert(1)").is_err());
        assert!(uri("12;34").is_err());
        assert!(uri("").is_err());
    }
}
