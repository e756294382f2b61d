//! The non-INVITE server transaction (RFC 3261 §17.2.2, Figure 8).

use super::{absorb_for, due, Outbox, ServerKey, Timers, TransactionError};
use crate::sip::codec::encode_response;
use crate::sip::target::Target;
use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Trying,
    Proceeding,
    Completed,
    Terminated,
}

#[derive(Debug)]
pub(super) struct ServerNonInvite {
    state: State,
    reply_to: Target,
    last_response: Option<Vec<u8>>,
    /// Timer J: absorb request retransmissions in Completed (64·T1 on UDP, 0 reliable).
    timer_j: Option<Instant>,
    timers: Timers,
}

impl ServerNonInvite {
    pub(super) fn start(reply_to: Target, timers: Timers) -> Self {
        ServerNonInvite {
            state: State::Trying,
            reply_to,
            last_response: None,
            timer_j: None,
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
        matches!(self.state, State::Completed | State::Terminated)
    }

    pub(super) fn next_timeout(&self) -> Option<Instant> {
        self.timer_j
    }

    pub(super) fn on_retransmission(&mut self, out: &mut Outbox) {
        // §17.2.2: absorbed in Trying; the last response is re-sent otherwise.
        if let Some(r) = &self.last_response {
            out.send(self.reply_to, r.clone());
        }
    }

    pub(super) fn respond(
        &mut self,
        now: Instant,
        response: rsip::Response,
        out: &mut Outbox,
    ) -> Result<(), TransactionError> {
        if self.has_final() {
            return Err(TransactionError::AlreadyFinal);
        }
        let code = response.status_code.code();
        let bytes = encode_response(&response);
        out.send(self.reply_to, bytes.clone());
        self.last_response = Some(bytes);
        if code < 200 {
            self.state = State::Proceeding;
        } else {
            self.state = State::Completed;
            self.timer_j = Some(now + absorb_for(self.reply_to, self.timers.timeout()));
        }
        Ok(())
    }

    pub(super) fn on_timeout(&mut self, now: Instant, _key: &ServerKey, _out: &mut Outbox) {
        if due(self.timer_j, now) {
            self.state = State::Terminated;
            self.timer_j = None;
        }
    }
}
