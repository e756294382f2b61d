//! Presence sync with Microsoft Teams (DESIGN §6), sans I/O: which Graph request to make
//! when, and what a Teams reading means for the agent.
//!
//! Two directions:
//!
//! - **Teams → Parley** (reader): `GET /me/presence` every poll interval (±20 % jitter, so
//!   that a floor of agents started together does not poll in step). The first *blocking*
//!   reading (in a Teams call, presenting; a meeting or Do Not Disturb by configuration)
//!   blocks the agent as `NotReady{TeamsBusy}`; the block is lifted only after two clean
//!   readings in a row, and only if the sync set it (the agent machine never lets a system
//!   reason override a state the agent chose). Readings taken while Parley's own presence
//!   session is set, or within a grace period after clearing it, are ignored: Teams shows
//!   our own `Busy/InACall` back to us.
//! - **Parley → Teams** (writer): on a contact-center call `setPresence` `Busy/InACall` (a
//!   consult or conference: `Busy/InAConferenceCall`) with a one-hour expiry, renewed before
//!   it runs out; at the end of the call (or of wrap-up, as configured) `clearPresence`;
//!   never `Available`, which would hide a Teams `Away` (Graph aggregation: DoNotDisturb >
//!   Busy > Available > Away, and a manual status beats every session). A crash is covered
//!   by the expiry.
//!
//! Failures degrade, never block calls: a throttled or failing Graph makes the sync
//! *unavailable* with the reason, the next attempt waits for `Retry-After` (HTTP 429) or an
//! exponential backoff, and a block the sync set is lifted after two failed readings in a
//! row (fail open: an agent must not stay blocked on a reading that can no longer be made).
//!
//! The owner feeds results in (`handle_*`), sends what [`PresenceSync::poll_request`]
//! returns, one request at a time, and applies [`PresenceSync::poll_event`].

use rand::{RngExt, SeedableRng};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// Teams' base presence (Graph `availability`). Values Graph may add later are `Unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Availability {
    Available,
    AvailableIdle,
    Away,
    BeRightBack,
    Busy,
    BusyIdle,
    DoNotDisturb,
    Offline,
    PresenceUnknown,
    Unknown,
}

/// What the user is doing (Graph `activity`). Values Graph may add later are `Unknown`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activity {
    Available,
    Away,
    BeRightBack,
    Busy,
    DoNotDisturb,
    InACall,
    InAConferenceCall,
    Inactive,
    InAMeeting,
    Offline,
    OffWork,
    OutOfOffice,
    PresenceUnknown,
    Presenting,
    UrgentInterruptionsOnly,
    Focusing,
    Unknown,
}

/// Finds a value by name, ignoring case: Graph's examples use PascalCase, one of its
/// reference pages camelCase.
fn by_name<T: Copy>(name: &str, table: &[(&'static str, T)], unknown: T) -> T {
    table
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map_or(unknown, |(_, v)| *v)
}

/// The Graph name of a value; `Unknown` for one Graph did not name.
fn name_of<T: PartialEq>(value: &T, table: &[(&'static str, T)]) -> &'static str {
    table
        .iter()
        .find(|(_, v)| v == value)
        .map_or("Unknown", |(n, _)| n)
}

const AVAILABILITIES: &[(&str, Availability)] = {
    use Availability::*;
    &[
        ("Available", Available),
        ("AvailableIdle", AvailableIdle),
        ("Away", Away),
        ("BeRightBack", BeRightBack),
        ("Busy", Busy),
        ("BusyIdle", BusyIdle),
        ("DoNotDisturb", DoNotDisturb),
        ("Offline", Offline),
        ("PresenceUnknown", PresenceUnknown),
    ]
};

const ACTIVITIES: &[(&str, Activity)] = {
    use Activity::*;
    &[
        ("Available", Available),
        ("Away", Away),
        ("BeRightBack", BeRightBack),
        ("Busy", Busy),
        ("DoNotDisturb", DoNotDisturb),
        ("InACall", InACall),
        ("InAConferenceCall", InAConferenceCall),
        ("Inactive", Inactive),
        ("InAMeeting", InAMeeting),
        ("Offline", Offline),
        ("OffWork", OffWork),
        ("OutOfOffice", OutOfOffice),
        ("PresenceUnknown", PresenceUnknown),
        ("Presenting", Presenting),
        ("UrgentInterruptionsOnly", UrgentInterruptionsOnly),
        ("Focusing", Focusing),
    ]
};

impl Availability {
    pub fn parse(name: &str) -> Self {
        by_name(name, AVAILABILITIES, Availability::Unknown)
    }

    /// As Graph names it (PascalCase).
    pub fn name(&self) -> &'static str {
        name_of(self, AVAILABILITIES)
    }
}

impl Activity {
    pub fn parse(name: &str) -> Self {
        by_name(name, ACTIVITIES, Activity::Unknown)
    }

    /// As Graph names it (PascalCase).
    pub fn name(&self) -> &'static str {
        name_of(self, ACTIVITIES)
    }
}

/// One reading of `GET /me/presence`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reading {
    pub availability: Availability,
    pub activity: Activity,
    /// Graph's `sequenceNumber`: lexicographically sortable, to drop readings older than
    /// one already seen.
    pub sequence: Option<String>,
}

/// What a reading of Teams says about the agent's availability for contact-center calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// In a Teams call or presenting (or a configured meeting/DND): no offers.
    Blocking,
    Clean,
}

/// Which Teams states keep contact-center calls away, besides calls and presenting (always).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockingRules {
    /// `Busy/InAMeeting` (calendar-driven: the agent may not have joined). Default: block.
    pub in_a_meeting: bool,
    /// `DoNotDisturb` other than presenting, focusing, urgent interruptions only. Default:
    /// block (the user chose not to be disturbed).
    pub do_not_disturb: bool,
    /// `Busy/Busy` (a manual or calendar Busy). Default: no effect.
    pub busy: bool,
}

impl Default for BlockingRules {
    fn default() -> Self {
        BlockingRules {
            in_a_meeting: true,
            do_not_disturb: true,
            busy: false,
        }
    }
}

impl BlockingRules {
    pub fn verdict(&self, reading: &Reading) -> Verdict {
        use Activity as A;
        let blocking = match reading.activity {
            A::InACall | A::InAConferenceCall | A::Presenting => true,
            A::InAMeeting => self.in_a_meeting,
            A::DoNotDisturb | A::Focusing | A::UrgentInterruptionsOnly => self.do_not_disturb,
            A::Busy => self.busy,
            _ => reading.availability == Availability::DoNotDisturb && self.do_not_disturb,
        };
        if blocking {
            Verdict::Blocking
        } else {
            Verdict::Clean
        }
    }
}

/// When Parley's presence session ends after a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClearAt {
    /// At hang-up.
    HangUp,
    /// When wrap-up ends (colleagues see the agent busy while finishing the call's notes).
    WrapupEnd,
}

/// Tuning of the sync (the `[teams]` configuration).
#[derive(Debug, Clone, PartialEq)]
pub struct SyncConfig {
    /// Time between readings (before jitter).
    pub poll_interval: Duration,
    /// ± this fraction of the interval, at random.
    pub jitter: f64,
    pub rules: BlockingRules,
    /// `expirationDuration` of our session (Graph accepts PT5M to PT4H).
    pub session_duration: Duration,
    /// Renew the session this long before it expires.
    pub renew_before: Duration,
    /// Readings are ignored this long after our session was cleared.
    pub echo_grace: Duration,
    pub clear_at: ClearAt,
    /// Longest wait after failures, however many.
    pub max_backoff: Duration,
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            poll_interval: Duration::from_secs(10),
            jitter: 0.2,
            rules: BlockingRules::default(),
            session_duration: Duration::from_secs(3600),
            renew_before: Duration::from_secs(900),
            echo_grace: Duration::from_secs(30),
            clear_at: ClearAt::HangUp,
            max_backoff: Duration::from_secs(300),
        }
    }
}

/// What the agent is doing in the contact center, as far as Teams should know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CcActivity {
    /// Idle, ready or not, offline.
    Idle,
    /// On a call (connected or held).
    InCall,
    /// Consulting a colleague or in a conference.
    Conference,
    /// Wrap-up after a call.
    Wrapup,
}

/// The Teams activity of our presence session (availability is always `Busy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionActivity {
    InACall,
    InAConferenceCall,
}

impl SessionActivity {
    /// Graph's name of the activity.
    pub fn as_str(&self) -> &'static str {
        match self {
            SessionActivity::InACall => "InACall",
            SessionActivity::InAConferenceCall => "InAConferenceCall",
        }
    }
}

/// A Graph request to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `GET /me/presence`.
    Read,
    /// `setPresence` `Busy/<activity>` for `expiration`.
    SetPresence {
        activity: SessionActivity,
        expiration: Duration,
    },
    /// `clearPresence` (a 404, no such session, counts as success).
    ClearPresence,
}

/// Why a request failed, as the owner classifies the HTTP outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// 429: wait `retry_after` (from the header) or back off.
    Throttled { retry_after: Option<Duration> },
    /// 5xx, a timeout, the network: back off.
    Unavailable { reason: String },
    /// 401 after a refresh, 403, `invalid_grant`: a person must act (sign in, consent);
    /// retried at the longest backoff.
    Denied { reason: String },
}

/// The state of the sync, for the agent to see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncStatus {
    /// Nothing has gone through yet.
    Starting,
    /// Readings and writes go through.
    Active,
    /// "Teams sync unavailable", and why; calls are not affected.
    Unavailable { reason: String },
}

/// What the owner must apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncEvent {
    /// Teams is busy: block the agent (`NotReady{TeamsBusy}`).
    Block {
        reading: Reading,
    },
    /// Lift the block the sync set.
    Release,
    Status(SyncStatus),
}

/// Our presence session as Graph knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Session {
    None,
    Set {
        activity: SessionActivity,
        /// When to renew it.
        renew_at: Instant,
    },
    /// Cleared at this time: readings are still echoes for a while.
    Cleared {
        at: Instant,
    },
}

/// The presence sync of one agent.
#[derive(Debug)]
pub struct PresenceSync {
    config: SyncConfig,
    rng: rand::rngs::StdRng,
    /// The request sent and not answered yet.
    in_flight: Option<Request>,
    next_read: Instant,
    /// Writes wait until then after a failure.
    next_write: Instant,
    session: Session,
    /// What the session should be now, from the contact-center side.
    wanted: Option<SessionActivity>,
    /// The sync has blocked the agent.
    blocking: bool,
    clean_readings: u32,
    failed_readings: u32,
    failures: u32,
    last_sequence: Option<String>,
    status: SyncStatus,
    events: VecDeque<SyncEvent>,
    stopping: bool,
}

impl PresenceSync {
    /// A sync that reads at once; `seed` drives the jitter.
    pub fn new(config: SyncConfig, now: Instant, seed: u64) -> Self {
        PresenceSync {
            config,
            rng: rand::rngs::StdRng::seed_from_u64(seed),
            in_flight: None,
            next_read: now,
            next_write: now,
            session: Session::None,
            wanted: None,
            blocking: false,
            clean_readings: 0,
            failed_readings: 0,
            failures: 0,
            last_sequence: None,
            status: SyncStatus::Starting,
            events: VecDeque::new(),
            stopping: false,
        }
    }

    /// The next request to send at `now`, if one is due and none is in flight. Writes
    /// come before readings.
    pub fn poll_request(&mut self, now: Instant) -> Option<Request> {
        if self.in_flight.is_some() {
            return None;
        }
        let request = self
            .due_write(now)
            .or_else(|| (!self.stopping && now >= self.next_read).then_some(Request::Read))?;
        self.in_flight = Some(request.clone());
        Some(request)
    }

    fn due_write(&self, now: Instant) -> Option<Request> {
        if now < self.next_write {
            return None;
        }
        match (self.wanted, self.session) {
            (
                Some(activity),
                Session::Set {
                    activity: set,
                    renew_at,
                },
            ) if set == activity && now < renew_at => None,
            (Some(activity), _) => Some(Request::SetPresence {
                activity,
                expiration: self.config.session_duration,
            }),
            (None, Session::Set { .. }) => Some(Request::ClearPresence),
            (None, _) => None,
        }
    }

    /// When to call [`PresenceSync::poll_request`] next (nothing while a request is in
    /// flight: its answer comes first).
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.in_flight.is_some() {
            return None;
        }
        let write = match (self.wanted, self.session) {
            (Some(a), Session::Set { activity, renew_at }) if a == activity => Some(renew_at),
            (Some(_), _) | (None, Session::Set { .. }) => Some(self.next_write),
            (None, _) => None,
        };
        let read = (!self.stopping).then_some(self.next_read);
        match (write, read) {
            (Some(w), Some(r)) => Some(w.min(r)),
            (w, r) => w.or(r),
        }
    }

    pub fn poll_event(&mut self) -> Option<SyncEvent> {
        self.events.pop_front()
    }

    pub fn status(&self) -> &SyncStatus {
        &self.status
    }

    /// Whether the sync keeps the agent blocked now.
    pub fn is_blocking(&self) -> bool {
        self.blocking
    }

    /// The contact-center side changed (a call connected, a consult began, the call ended,
    /// wrap-up ended).
    pub fn handle_cc_activity(&mut self, cc: CcActivity) {
        self.wanted = match cc {
            CcActivity::InCall => Some(SessionActivity::InACall),
            CcActivity::Conference => Some(SessionActivity::InAConferenceCall),
            CcActivity::Wrapup if self.config.clear_at == ClearAt::WrapupEnd => {
                self.wanted.or(Some(SessionActivity::InACall))
            }
            CcActivity::Wrapup | CcActivity::Idle => None,
        };
    }

    /// Parley quits: only the clearing of our session is left to do.
    pub fn stop(&mut self) {
        self.stopping = true;
        self.wanted = None;
    }

    /// Whether nothing is left to send after [`PresenceSync::stop`].
    pub fn is_stopped(&self) -> bool {
        self.stopping && self.in_flight.is_none() && !matches!(self.session, Session::Set { .. })
    }

    /// The answer to `GET /me/presence`.
    pub fn handle_reading(&mut self, now: Instant, reading: Reading) {
        self.finish(Request::Read);
        self.succeeded();
        self.failed_readings = 0;
        self.next_read = now + self.interval();
        if let (Some(seen), Some(new)) = (&self.last_sequence, &reading.sequence) {
            if new < seen {
                tracing::debug!(%new, %seen, "stale Teams presence reading dropped");
                return;
            }
        }
        if reading.sequence.is_some() {
            self.last_sequence.clone_from(&reading.sequence);
        }
        if self.is_echo(now) {
            return;
        }
        match self.config.rules.verdict(&reading) {
            Verdict::Blocking => {
                self.clean_readings = 0;
                if !self.blocking {
                    self.blocking = true;
                    self.events.push_back(SyncEvent::Block { reading });
                }
            }
            Verdict::Clean => {
                self.clean_readings += 1;
                if self.blocking && self.clean_readings >= 2 {
                    self.release();
                }
            }
        }
    }

    /// `setPresence` or `clearPresence` went through (a 404 to `clearPresence` included).
    pub fn handle_written(&mut self, now: Instant) {
        let Some(request) = self.in_flight.take() else {
            return;
        };
        self.succeeded();
        match request {
            Request::SetPresence {
                activity,
                expiration,
            } => {
                let renew_in = expiration.saturating_sub(self.config.renew_before);
                self.session = Session::Set {
                    activity,
                    renew_at: now + renew_in.max(Duration::from_secs(60)),
                };
            }
            Request::ClearPresence => self.session = Session::Cleared { at: now },
            Request::Read => {}
        }
    }

    /// The request in flight failed.
    pub fn handle_failure(&mut self, now: Instant, failure: Failure) {
        let Some(request) = self.in_flight.take() else {
            return;
        };
        self.failures = self.failures.saturating_add(1);
        let backoff = self.backoff();
        let throttled = matches!(failure, Failure::Throttled { .. });
        let (wait, reason) = match failure {
            Failure::Throttled { retry_after } => (
                retry_after.unwrap_or(backoff).min(self.config.max_backoff),
                "Microsoft Graph is throttling requests (429)".to_owned(),
            ),
            Failure::Unavailable { reason } => (backoff, reason),
            Failure::Denied { reason } => (self.config.max_backoff, reason),
        };
        if throttled {
            // Graph throttles the application, not one request: retrying anything before
            // Retry-After only extends it. The write waits too, and goes first after.
            self.next_write = self.next_write.max(now + wait);
            self.next_read = self.next_read.max(now + wait);
        }
        if request == Request::Read {
            self.next_read = now + wait.max(self.config.poll_interval);
            self.failed_readings += 1;
            if self.blocking && self.failed_readings >= 2 {
                // Fail open: nobody can tell any more whether Teams is busy.
                self.release();
            }
        } else {
            self.next_write = now + wait;
        }
        if self.status
            != (SyncStatus::Unavailable {
                reason: reason.clone(),
            })
        {
            self.status = SyncStatus::Unavailable { reason };
            self.events
                .push_back(SyncEvent::Status(self.status.clone()));
        }
    }

    fn finish(&mut self, request: Request) {
        if self.in_flight.as_ref() == Some(&request) {
            self.in_flight = None;
        }
    }

    fn succeeded(&mut self) {
        self.failures = 0;
        if self.status != SyncStatus::Active {
            self.status = SyncStatus::Active;
            self.events.push_back(SyncEvent::Status(SyncStatus::Active));
        }
    }

    fn release(&mut self) {
        self.blocking = false;
        self.clean_readings = 0;
        self.events.push_back(SyncEvent::Release);
    }

    /// Whether a reading now may be our own session shown back to us.
    fn is_echo(&self, now: Instant) -> bool {
        match self.session {
            Session::Set { .. } => true,
            Session::Cleared { at } => now < at + self.config.echo_grace,
            Session::None => false,
        }
    }

    /// The poll interval with its jitter.
    fn interval(&mut self) -> Duration {
        let jitter = self.config.jitter.clamp(0.0, 0.9);
        let factor = if jitter > 0.0 {
            self.rng.random_range(1.0 - jitter..=1.0 + jitter)
        } else {
            1.0
        };
        self.config.poll_interval.mul_f64(factor)
    }

    /// Exponential backoff from the poll interval, with jitter, capped.
    fn backoff(&mut self) -> Duration {
        let doublings = self.failures.saturating_sub(1).min(16);
        let full = self
            .config
            .poll_interval
            .saturating_mul(1 << doublings)
            .min(self.config.max_backoff);
        full.mul_f64(self.rng.random_range(0.5..=1.0))
    }
}

#[cfg(test)]
mod tests;
