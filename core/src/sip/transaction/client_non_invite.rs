//! The non-INVITE client transaction (RFC 3261 §17.1.2, Figure 6).

use super::{absorb_for, due, earliest, Backoff, ClientKey, Outbox, Timers, TransactionEvent};
use crate::sip::message::{Request, Response};
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
pub(super) struct ClientNonInvite {
    state: State,
    bytes: Vec<u8>,
    target: Target,
    /// Timer E: retransmission over UDP, T1 doubling up to T2; T2 once Proceeding.
    timer_e: Option<Backoff>,
    /// Timer F: give up, 64·T1.
    timer_f: Option<Instant>,
    /// Timer K: absorb response retransmissions in Completed (T4 on UDP, 0 reliable).
    timer_k: Option<Instant>,
    timers: Timers,
}

impl ClientNonInvite {
    pub(super) fn start(
        now: Instant,
        request: Request,
        target: Target,
        timers: Timers,
        out: &mut Outbox,
    ) -> Self {
        let bytes = request.encode();
        out.send(target, bytes.clone());
        ClientNonInvite {
            state: State::Trying,
            bytes,
            target,
            timer_e: (!target.transport.is_reliable())
                .then(|| Backoff::new(now, timers.t1, Some(timers.t2))),
            timer_f: Some(now + timers.timeout()),
            timer_k: None,
            timers,
        }
    }

    pub(super) fn target(&self) -> Target {
        self.target
    }

    pub(super) fn is_terminated(&self) -> bool {
        self.state == State::Terminated
    }

    pub(super) fn next_timeout(&self) -> Option<Instant> {
        earliest([self.timer_e.map(|e| e.at), self.timer_f, self.timer_k])
    }

    pub(super) fn on_response(
        &mut self,
        now: Instant,
        key: &ClientKey,
        response: Response,
        out: &mut Outbox,
    ) {
        match (self.state, response.code) {
            (State::Trying | State::Proceeding, 100..=199) => {
                self.state = State::Proceeding;
                out.events
                    .push_back(TransactionEvent::Response(key.clone(), Box::new(response)));
            }
            (State::Trying | State::Proceeding, _) => {
                self.state = State::Completed;
                self.timer_e = None;
                self.timer_f = None;
                self.timer_k = Some(now + absorb_for(self.target, self.timers.t4));
                out.events
                    .push_back(TransactionEvent::Response(key.clone(), Box::new(response)));
            }
            // Completed: retransmitted responses are absorbed.
            _ => {}
        }
    }

    pub(super) fn on_timeout(&mut self, now: Instant, key: &ClientKey, out: &mut Outbox) {
        if let Some(e) = self.timer_e.as_mut().filter(|e| e.at <= now) {
            out.send(self.target, self.bytes.clone());
            if self.state == State::Proceeding {
                // §17.1.2.2: in Proceeding, retransmit every T2.
                e.interval = self.timers.t2;
                e.at = now + self.timers.t2;
            } else {
                e.advance(now);
            }
        }
        if due(self.timer_f, now) {
            self.terminate();
            out.events.push_back(TransactionEvent::Timeout(key.clone()));
        }
        if due(self.timer_k, now) {
            self.terminate();
        }
    }

    fn terminate(&mut self) {
        self.state = State::Terminated;
        self.timer_e = None;
        self.timer_f = None;
        self.timer_k = None;
    }
}
