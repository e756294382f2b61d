//! The contact-center agent state (DESIGN §5): Offline, Ready, NotReady with a reason,
//! Reserved while a call rings, OnCall, and Wrapup after a call.
//!
//! Rules formal agents and their supervisors rely on:
//! - a state picked during a call is queued and applied after wrap-up;
//! - after a call the agent returns to the state before it (not always Ready);
//! - an offer that rings out (missed) makes the agent NotReady{MissedOffer}, so the platform
//!   stops routing calls to an empty desk;
//! - system reasons (Teams busy, network lost, device missing) are set and released by the
//!   system, and never override a state the agent chose.
//!
//! Sans-I/O: time comes in as `now`, and the owner polls [`AgentMachine::poll_change`]
//! and [`AgentMachine::poll_timeout`].

use crate::sip::ua::{Availability, CallHandle};
use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

/// Why the agent is not ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotReadyReason {
    /// A reason code the agent picked (break, lunch, training, ...).
    Agent(String),
    /// An offered call rang out unanswered.
    MissedOffer,
    /// The agent is busy in Teams (presence sync, DESIGN §6).
    TeamsBusy,
    /// No usable audio device.
    DeviceMissing,
    /// The SIP registration is lost.
    NetworkLost,
}

impl NotReadyReason {
    /// Set by the system rather than the agent.
    pub fn is_system(&self) -> bool {
        !matches!(self, NotReadyReason::Agent(_))
    }

    /// A stable name for protocols and logs.
    pub fn code(&self) -> &str {
        match self {
            NotReadyReason::Agent(r) => r,
            NotReadyReason::MissedOffer => "missed_offer",
            NotReadyReason::TeamsBusy => "teams_busy",
            NotReadyReason::DeviceMissing => "device_missing",
            NotReadyReason::NetworkLost => "network_lost",
        }
    }
}

/// The agent's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentState {
    Offline,
    Ready,
    NotReady(NotReadyReason),
    /// A call is ringing for the agent.
    Reserved,
    OnCall,
    Wrapup {
        until: Instant,
    },
}

impl AgentState {
    pub fn name(&self) -> &'static str {
        match self {
            AgentState::Offline => "offline",
            AgentState::Ready => "ready",
            AgentState::NotReady(_) => "not_ready",
            AgentState::Reserved => "reserved",
            AgentState::OnCall => "on_call",
            AgentState::Wrapup { .. } => "wrapup",
        }
    }

    pub fn reason(&self) -> Option<&NotReadyReason> {
        match self {
            AgentState::NotReady(r) => Some(r),
            _ => None,
        }
    }

    /// States an agent may pick (the others follow from calls).
    fn is_selectable(&self) -> bool {
        matches!(
            self,
            AgentState::Offline | AgentState::Ready | AgentState::NotReady(_)
        )
    }
}

impl fmt::Display for AgentState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.reason() {
            Some(r) => write!(f, "{} ({})", self.name(), r.code()),
            None => f.write_str(self.name()),
        }
    }
}

/// Why a requested state was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgentError {
    #[error("{0} is not a state an agent can pick")]
    NotSelectable(&'static str),
    #[error("the reason {0:?} is reserved for the system")]
    SystemReason(String),
}

/// Tuning from the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AgentConfig {
    /// SIP status for calls offered while not ready (486 Busy Here by default).
    pub busy_status: u16,
    /// The same while Teams keeps the agent busy (DESIGN §6: the guard against double
    /// calls), configurable apart because a platform may route on it.
    pub teams_busy_status: u16,
    /// How long an offer may ring before it counts as missed.
    pub ring_timeout: Duration,
    /// Wrap-up time after each call (zero: none).
    pub wrapup: Duration,
}

/// What the owner must do after an input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentAction {
    /// The offer rang out: decline the call (480, the agent did not answer).
    DeclineMissed(CallHandle),
}

/// The agent-state machine.
#[derive(Debug)]
pub struct AgentMachine {
    config: AgentConfig,
    state: AgentState,
    /// The state to return to after the current call.
    before_call: AgentState,
    /// A state the agent picked during a call, applied after it.
    queued: Option<AgentState>,
    /// Calls that are ringing (with their ring deadline) or connected.
    ringing: Vec<(CallHandle, Instant)>,
    connected: Vec<CallHandle>,
    changes: VecDeque<AgentState>,
    actions: VecDeque<AgentAction>,
}

impl AgentMachine {
    pub fn new(config: AgentConfig, initial: AgentState) -> Self {
        AgentMachine {
            config,
            before_call: initial.clone(),
            state: initial,
            queued: None,
            ringing: Vec::new(),
            connected: Vec::new(),
            changes: VecDeque::new(),
            actions: VecDeque::new(),
        }
    }

    pub fn state(&self) -> &AgentState {
        &self.state
    }

    /// Whether incoming calls may ring now, and how to turn them away otherwise.
    pub fn availability(&self) -> Availability {
        match &self.state {
            AgentState::Ready => Availability::Available,
            // A call already rings or is connected: the SIP layer answers a second offer
            // with 486 or lets it wait, per its call-waiting setting.
            AgentState::Reserved | AgentState::OnCall => Availability::Available,
            AgentState::Offline => Availability::Unavailable {
                status: 480,
                phrase: "Agent Offline".into(),
            },
            AgentState::NotReady(NotReadyReason::TeamsBusy) => Availability::Unavailable {
                status: self.config.teams_busy_status,
                phrase: "Agent Busy in Teams".into(),
            },
            AgentState::NotReady(_) | AgentState::Wrapup { .. } => Availability::Unavailable {
                status: self.config.busy_status,
                phrase: "Agent Not Ready".into(),
            },
        }
    }

    fn set(&mut self, state: AgentState) {
        if self.state != state {
            tracing::info!(from = %self.state, to = %state, "agent state");
            self.state = state.clone();
            self.changes.push_back(state);
        }
    }

    pub fn poll_change(&mut self) -> Option<AgentState> {
        self.changes.pop_front()
    }

    pub fn poll_action(&mut self) -> Option<AgentAction> {
        self.actions.pop_front()
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        let wrapup = match self.state {
            AgentState::Wrapup { until } => Some(until),
            _ => None,
        };
        self.ringing.iter().map(|(_, t)| *t).chain(wrapup).min()
    }

    fn in_call(&self) -> bool {
        !self.ringing.is_empty() || !self.connected.is_empty()
    }

    /// The agent picks a state. During a call it is queued; in wrap-up it applies at once
    /// (the agent finished early).
    pub fn set_state(&mut self, requested: AgentState) -> Result<(), AgentError> {
        if !requested.is_selectable() {
            return Err(AgentError::NotSelectable(requested.name()));
        }
        if let Some(r) = requested.reason().filter(|r| r.is_system()) {
            return Err(AgentError::SystemReason(r.code().to_owned()));
        }
        if self.in_call() {
            self.queued = Some(requested);
        } else {
            self.before_call = requested.clone();
            self.queued = None;
            self.set(requested);
        }
        Ok(())
    }

    /// The system blocks the agent (Teams busy, network lost, device missing). Only a Ready
    /// agent is affected; a state the agent chose is never overridden.
    pub fn system_block(&mut self, reason: NotReadyReason) {
        let blocked = AgentState::NotReady(reason);
        if self.in_call() || matches!(self.state, AgentState::Wrapup { .. }) {
            if self.target_after_call() == AgentState::Ready {
                self.queued = Some(blocked);
            }
        } else if self.state == AgentState::Ready {
            self.before_call = blocked.clone();
            self.set(blocked);
        }
    }

    /// The system lifts its block; the agent returns to Ready only if this block is what
    /// keeps it from being ready.
    pub fn system_release(&mut self, reason: &NotReadyReason) {
        let blocked = AgentState::NotReady(reason.clone());
        if self.queued.as_ref() == Some(&blocked) {
            self.queued = None;
        }
        if self.before_call == blocked {
            self.before_call = AgentState::Ready;
        }
        if self.state == blocked {
            self.set(AgentState::Ready);
        }
    }

    /// What the agent returns to after a call.
    fn target_after_call(&self) -> AgentState {
        self.queued
            .clone()
            .unwrap_or_else(|| self.before_call.clone())
    }

    /// A call rings for the agent.
    pub fn call_offered(&mut self, now: Instant, call: CallHandle) {
        if !self.in_call() && !matches!(self.state, AgentState::Wrapup { .. }) {
            self.before_call = self.state.clone();
        }
        self.ringing.push((call, now + self.config.ring_timeout));
        if self.connected.is_empty() {
            self.set(AgentState::Reserved);
        }
    }

    /// The agent places a call.
    pub fn call_dialed(&mut self, call: CallHandle) {
        if !self.in_call() && !matches!(self.state, AgentState::Wrapup { .. }) {
            self.before_call = self.state.clone();
        }
        self.connected.push(call);
        self.set(AgentState::OnCall);
    }

    /// An offered call was answered (by the agent, the headset or auto-answer).
    pub fn call_answered(&mut self, call: CallHandle) {
        self.ringing.retain(|(c, _)| *c != call);
        if !self.connected.contains(&call) {
            self.connected.push(call);
        }
        self.set(AgentState::OnCall);
    }

    /// A call ended, whatever the reason. `talked` tells whether it was ever connected:
    /// only those get wrap-up time.
    pub fn call_ended(&mut self, now: Instant, call: CallHandle, talked: bool) {
        let was_ringing = self.ringing.iter().any(|(c, _)| *c == call);
        self.ringing.retain(|(c, _)| *c != call);
        self.connected.retain(|c| *c != call);
        if self.in_call() {
            if self.connected.is_empty() {
                self.set(AgentState::Reserved);
            }
            return;
        }
        if talked && !self.config.wrapup.is_zero() {
            self.set(AgentState::Wrapup {
                until: now + self.config.wrapup,
            });
        } else if was_ringing || talked || self.state != AgentState::Ready {
            self.finish_call();
        }
    }

    fn finish_call(&mut self) {
        let next = self.target_after_call();
        self.queued = None;
        self.before_call = next.clone();
        self.set(next);
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        let missed: Vec<CallHandle> = self
            .ringing
            .iter()
            .filter(|(_, t)| *t <= now)
            .map(|(c, _)| *c)
            .collect();
        for call in missed {
            // The call itself ends when the owner declines it; then `call_ended` runs.
            self.ringing.retain(|(c, _)| *c != call);
            self.actions.push_back(AgentAction::DeclineMissed(call));
            self.queued = Some(AgentState::NotReady(NotReadyReason::MissedOffer));
            if !self.in_call() {
                self.finish_call();
            }
        }
        if matches!(self.state, AgentState::Wrapup { until } if until <= now) {
            self.finish_call();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn machine(wrapup: u64) -> AgentMachine {
        AgentMachine::new(
            AgentConfig {
                busy_status: 486,
                teams_busy_status: 600,
                ring_timeout: Duration::from_secs(20),
                wrapup: Duration::from_secs(wrapup),
            },
            AgentState::Ready,
        )
    }

    fn not_ready(r: &str) -> AgentState {
        AgentState::NotReady(NotReadyReason::Agent(r.into()))
    }

    #[test]
    fn call_with_wrapup_returns_to_the_state_before() {
        let t0 = Instant::now();
        let mut m = machine(10);
        let c = CallHandle(1);
        m.call_offered(t0, c);
        assert_eq!(m.state(), &AgentState::Reserved);
        m.call_answered(c);
        assert_eq!(m.state(), &AgentState::OnCall);
        m.call_ended(t0, c, true);
        assert!(matches!(m.state(), AgentState::Wrapup { .. }));
        assert!(matches!(
            m.availability(),
            Availability::Unavailable { status: 486, .. }
        ));
        m.handle_timeout(t0 + Duration::from_secs(10));
        assert_eq!(m.state(), &AgentState::Ready);
    }

    #[test]
    fn a_state_picked_during_a_call_waits_for_its_end() {
        let t0 = Instant::now();
        let mut m = machine(0);
        let c = CallHandle(1);
        m.call_offered(t0, c);
        m.call_answered(c);
        m.set_state(not_ready("Break")).unwrap();
        assert_eq!(m.state(), &AgentState::OnCall);
        m.call_ended(t0, c, true);
        assert_eq!(m.state(), &not_ready("Break"));
    }

    #[test]
    fn ready_during_wrapup_ends_it_early() {
        let t0 = Instant::now();
        let mut m = machine(60);
        m.call_dialed(CallHandle(1));
        m.call_ended(t0, CallHandle(1), true);
        m.set_state(AgentState::Ready).unwrap();
        assert_eq!(m.state(), &AgentState::Ready);
    }

    #[test]
    fn missed_offer_makes_the_agent_not_ready() {
        let t0 = Instant::now();
        let mut m = machine(10);
        let c = CallHandle(7);
        m.call_offered(t0, c);
        assert_eq!(m.poll_timeout(), Some(t0 + Duration::from_secs(20)));
        m.handle_timeout(t0 + Duration::from_secs(20));
        assert_eq!(m.poll_action(), Some(AgentAction::DeclineMissed(c)));
        assert_eq!(
            m.state(),
            &AgentState::NotReady(NotReadyReason::MissedOffer)
        );
        m.call_ended(t0, c, false);
        assert_eq!(
            m.state(),
            &AgentState::NotReady(NotReadyReason::MissedOffer)
        );
    }

    #[test]
    fn caller_hanging_up_while_ringing_returns_to_ready_without_wrapup() {
        let t0 = Instant::now();
        let mut m = machine(10);
        m.call_offered(t0, CallHandle(1));
        m.call_ended(t0, CallHandle(1), false);
        assert_eq!(m.state(), &AgentState::Ready);
    }

    #[test]
    fn system_blocks_never_override_the_agents_choice() {
        let t0 = Instant::now();
        let mut m = machine(0);
        m.system_block(NotReadyReason::TeamsBusy);
        assert_eq!(m.state(), &AgentState::NotReady(NotReadyReason::TeamsBusy));
        // Offers meanwhile get the Teams guard's own status.
        assert!(matches!(
            m.availability(),
            Availability::Unavailable { status: 600, .. }
        ));
        m.system_release(&NotReadyReason::TeamsBusy);
        assert_eq!(m.state(), &AgentState::Ready);

        m.set_state(not_ready("Lunch")).unwrap();
        m.system_block(NotReadyReason::TeamsBusy);
        m.system_release(&NotReadyReason::TeamsBusy);
        assert_eq!(m.state(), &not_ready("Lunch"));

        // Blocked during a call: applied after it, and lifted if released meanwhile.
        m.set_state(AgentState::Ready).unwrap();
        m.call_dialed(CallHandle(2));
        m.system_block(NotReadyReason::NetworkLost);
        m.call_ended(t0, CallHandle(2), true);
        assert_eq!(
            m.state(),
            &AgentState::NotReady(NotReadyReason::NetworkLost)
        );
        assert!(m
            .set_state(AgentState::NotReady(NotReadyReason::TeamsBusy))
            .is_err());
        assert!(m.set_state(AgentState::OnCall).is_err());
    }

    #[test]
    fn offline_turns_calls_away_with_480() {
        let mut m = machine(0);
        m.set_state(AgentState::Offline).unwrap();
        assert!(matches!(
            m.availability(),
            Availability::Unavailable { status: 480, .. }
        ));
    }
}
