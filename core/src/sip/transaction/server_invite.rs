//! The INVITE server transaction (RFC 3261 §17.2.1, Figure 7; RFC 6026 §8.5–§8.7 add
//! Accepted, where 2xx retransmissions belong to the TU and ACKs pass through).

use super::{
    absorb_for, due, earliest, Backoff, Outbox, ServerKey, Timers, TransactionError,
    TransactionEvent,
};
use crate::sip::builder;
use crate::sip::codec::encode_response;
use crate::sip::message::Request;
use crate::sip::target::Target;
use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Proceeding,
    Completed,
    Confirmed,
    Accepted,
    Terminated,
}

#[derive(Debug)]
pub(super) struct ServerInvite {
    state: State,
    reply_to: Target,
    /// The last response sent, re-sent when the INVITE is retransmitted.
    last_response: Option<Vec<u8>>,
    /// Timer G: retransmit the non-2xx final response over UDP, T1 doubling up to T2.
    timer_g: Option<Backoff>,
    /// Timer H: give up waiting for the ACK, 64·T1.
    timer_h: Option<Instant>,
    /// Timer I: absorb ACK retransmissions in Confirmed (T4 on UDP, 0 reliable).
    timer_i: Option<Instant>,
    /// Timer L: absorb INVITE retransmissions in Accepted, 64·T1 (RFC 6026 §8.7).
    timer_l: Option<Instant>,
    timers: Timers,
}

impl ServerInvite {
    /// Creates the transaction and answers 100 Trying at once, which §17.2.1 requires unless
    /// the TU answers within 200 ms; it also stops the client's INVITE retransmissions.
    pub(super) fn start(
        _now: Instant,
        request: &Request,
        reply_to: Target,
        timers: Timers,
        out: &mut Outbox,
    ) -> Self {
        let trying = encode_response(&builder::finish_response(
            builder::response(request, 100, None, None),
            Vec::new(),
            None,
        ));
        out.send(reply_to, trying.clone());
        ServerInvite {
            state: State::Proceeding,
            reply_to,
            last_response: Some(trying),
            timer_g: None,
            timer_h: None,
            timer_i: None,
            timer_l: None,
            timers,
        }
    }

    pub(super) fn reply_to(&self) -> Target {
        self.reply_to
    }

    pub(super) fn is_terminated(&self) -> bool {
        self.state == State::Terminated
    }

    pub(super) fn has_final(&self) -> bool {
        self.state != State::Proceeding
    }

    pub(super) fn next_timeout(&self) -> Option<Instant> {
        earliest([
            self.timer_g.map(|g| g.at),
            self.timer_h,
            self.timer_i,
            self.timer_l,
        ])
    }

    pub(super) fn on_retransmission(&mut self, out: &mut Outbox) {
        // §17.2.1: in Proceeding and Completed the last response is re-sent; in Accepted
        // and Confirmed the INVITE is absorbed.
        if matches!(self.state, State::Proceeding | State::Completed) {
            if let Some(r) = &self.last_response {
                out.send(self.reply_to, r.clone());
            }
        }
    }

    /// Returns whether the ACK was absorbed (it acknowledged our non-2xx response).
    pub(super) fn on_ack(&mut self, now: Instant) -> bool {
        match self.state {
            State::Completed => {
                self.state = State::Confirmed;
                self.timer_g = None;
                self.timer_h = None;
                self.timer_i = Some(now + absorb_for(self.reply_to, self.timers.t4));
                true
            }
            State::Confirmed => true,
            _ => false,
        }
    }

    pub(super) fn respond(
        &mut self,
        now: Instant,
        response: rsip::Response,
        out: &mut Outbox,
    ) -> Result<(), TransactionError> {
        let code = response.status_code.code();
        let bytes = encode_response(&response);
        match self.state {
            State::Proceeding => {}
            // RFC 6026 §8.7: 2xx retransmissions from the TU pass through in Accepted.
            State::Accepted if (200..300).contains(&code) => {
                out.send(self.reply_to, bytes);
                return Ok(());
            }
            _ => return Err(TransactionError::AlreadyFinal),
        }
        out.send(self.reply_to, bytes.clone());
        match code {
            100..=199 => self.last_response = Some(bytes),
            200..=299 => {
                self.state = State::Accepted;
                self.last_response = None;
                self.timer_l = Some(now + self.timers.timeout());
            }
            _ => {
                self.state = State::Completed;
                self.last_response = Some(bytes);
                self.timer_g = (!self.reply_to.transport.is_reliable())
                    .then(|| Backoff::new(now, self.timers.t1, Some(self.timers.t2)));
                self.timer_h = Some(now + self.timers.timeout());
            }
        }
        Ok(())
    }

    pub(super) fn on_timeout(&mut self, now: Instant, key: &ServerKey, out: &mut Outbox) {
        if let Some(g) = self.timer_g.as_mut().filter(|g| g.at <= now) {
            if let Some(r) = &self.last_response {
                out.send(self.reply_to, r.clone());
            }
            g.advance(now);
        }
        if due(self.timer_h, now) {
            self.terminate();
            out.events
                .push_back(TransactionEvent::AckTimeout(key.clone()));
        }
        if due(self.timer_i, now) || due(self.timer_l, now) {
            self.terminate();
        }
    }

    fn terminate(&mut self) {
        self.state = State::Terminated;
        self.timer_g = None;
        self.timer_h = None;
        self.timer_i = None;
        self.timer_l = None;
    }
}
