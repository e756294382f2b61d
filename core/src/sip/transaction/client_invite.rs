//! The INVITE client transaction (RFC 3261 §17.1.1, Figure 5; RFC 6026 §8.4 adds Accepted).

use super::{absorb_for, due, earliest, Backoff, ClientKey, Outbox, Timers, TransactionEvent};
use crate::sip::builder;
use crate::sip::header;
use crate::sip::message::{Request, Response};
use crate::sip::target::Target;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum State {
    Calling,
    Proceeding,
    Completed,
    /// RFC 6026 §7.2: after a 2xx the transaction lives on to pass retransmitted 2xx
    /// responses to the TU, which answers each with its ACK.
    Accepted,
    Terminated,
}

#[derive(Debug)]
pub(super) struct ClientInvite {
    state: State,
    request: Request,
    bytes: Vec<u8>,
    target: Target,
    /// Timer A: INVITE retransmission over UDP, doubling without cap (§17.1.1.2).
    timer_a: Option<Backoff>,
    /// Timer B: give up waiting for any response, 64·T1.
    timer_b: Option<Instant>,
    /// Timer D: wait for response retransmissions in Completed (≥ 32 s on UDP, 0 reliable).
    timer_d: Option<Instant>,
    /// Timer M: absorb 2xx retransmissions in Accepted, 64·T1 (RFC 6026 §8.4).
    timer_m: Option<Instant>,
    /// The ACK sent for a non-2xx final response, re-sent for each retransmission of it.
    ack: Option<Vec<u8>>,
    timers: Timers,
}

impl ClientInvite {
    pub(super) fn start(
        now: Instant,
        request: Request,
        target: Target,
        timers: Timers,
        out: &mut Outbox,
    ) -> Self {
        let bytes = request.encode();
        out.send(target, bytes.clone());
        ClientInvite {
            state: State::Calling,
            request,
            bytes,
            target,
            timer_a: (!target.transport.is_reliable()).then(|| Backoff::new(now, timers.t1, None)),
            timer_b: Some(now + timers.timeout()),
            timer_d: None,
            timer_m: None,
            ack: None,
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
        earliest([
            self.timer_a.map(|a| a.at),
            self.timer_b,
            self.timer_d,
            self.timer_m,
        ])
    }

    pub(super) fn on_response(
        &mut self,
        now: Instant,
        key: &ClientKey,
        response: Response,
        out: &mut Outbox,
    ) {
        let code = response.code;
        match (self.state, code) {
            (State::Calling | State::Proceeding, 100..=199) => {
                self.state = State::Proceeding;
                // §17.1.1.2: retransmissions stop on a provisional response, and so does B.
                self.timer_a = None;
                self.timer_b = None;
                out.events
                    .push_back(TransactionEvent::Response(key.clone(), Box::new(response)));
            }
            (State::Calling | State::Proceeding, 200..=299) => {
                self.enter_accepted(now);
                out.events
                    .push_back(TransactionEvent::Response(key.clone(), Box::new(response)));
            }
            (State::Accepted, 200..=299) => {
                out.events
                    .push_back(TransactionEvent::Response(key.clone(), Box::new(response)));
            }
            (State::Calling | State::Proceeding, _) if code >= 300 => {
                let to = header::first(response.headers(), "To").unwrap_or_default();
                let ack = builder::ack_for_failure(&self.request, to).encode();
                out.send(self.target, ack.clone());
                self.ack = Some(ack);
                self.state = State::Completed;
                self.timer_a = None;
                self.timer_b = None;
                let wait = absorb_for(
                    self.target,
                    Duration::from_secs(32).max(self.timers.timeout()),
                );
                self.timer_d = Some(now + wait);
                out.events
                    .push_back(TransactionEvent::Response(key.clone(), Box::new(response)));
            }
            (State::Completed, _) if code >= 300 => {
                // §17.1.1.2: a retransmitted final response is answered with the same ACK
                // and not passed up.
                if let Some(ack) = &self.ack {
                    out.send(self.target, ack.clone());
                }
            }
            _ => {}
        }
    }

    /// See [`super::TransactionLayer::expect_final_by`]; reuses Timer B, which only runs
    /// while no final response has arrived.
    pub(super) fn expect_final_by(&mut self, deadline: Instant) {
        if matches!(self.state, State::Calling | State::Proceeding) {
            self.timer_b = Some(self.timer_b.map_or(deadline, |b| b.min(deadline)));
        }
    }

    fn enter_accepted(&mut self, now: Instant) {
        self.state = State::Accepted;
        self.timer_a = None;
        self.timer_b = None;
        self.timer_m = Some(now + self.timers.timeout());
    }

    pub(super) fn on_timeout(&mut self, now: Instant, key: &ClientKey, out: &mut Outbox) {
        if let Some(a) = self.timer_a.as_mut().filter(|a| a.at <= now) {
            out.send(self.target, self.bytes.clone());
            a.advance(now);
        }
        if due(self.timer_b, now) {
            self.terminate();
            out.events.push_back(TransactionEvent::Timeout(key.clone()));
        }
        if due(self.timer_d, now) || due(self.timer_m, now) {
            self.terminate();
        }
    }

    fn terminate(&mut self) {
        self.state = State::Terminated;
        self.timer_a = None;
        self.timer_b = None;
        self.timer_d = None;
        self.timer_m = None;
    }
}
