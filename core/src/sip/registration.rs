//! Registration (RFC 3261 §10): keeps one binding of our contact at the registrar alive,
//! refreshes it before it expires, and after failures retries with exponential backoff and
//! jitter (the RFC 5626 §4.5 formula, with a shorter base because an agent who cannot take
//! calls is an outage).
//!
//! The user agent builds and sends the REGISTER requests (it knows the flow and answers
//! digest challenges for every request alike); this module decides when, with which
//! Expires, and what the outcome means.

use super::header;
use super::message::Response;
use super::name_addr::NameAddr;
use super::uri::SipUri;
use rand::{Rng, RngExt};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The registration as the agent sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistrationState {
    Unregistered,
    Registering,
    Registered {
        expires: u32,
    },
    Unregistering,
    Failed {
        code: Option<u16>,
        reason: String,
        /// When the next attempt happens; `None` when only the user can fix it (wrong
        /// password, forbidden).
        retry_in: Option<Duration>,
    },
}

/// How a failure is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Exponential backoff with jitter.
    Backoff,
    /// The server said when (Retry-After, §20.33).
    After(Duration),
    /// Not automatically: the account needs fixing.
    Never,
}

/// Tuning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegistrationConfig {
    /// The interval we ask for (Expires of the contact).
    pub expires: u32,
    /// First retry delay; doubled after each further failure.
    pub retry_base: Duration,
    /// Longest retry delay.
    pub retry_max: Duration,
}

/// One account's registration.
#[derive(Debug)]
pub struct Registration {
    config: RegistrationConfig,
    state: RegistrationState,
    /// The interval to ask for, raised by 423 Interval Too Brief (§10.2.8).
    interval: u32,
    want: bool,
    in_flight: Option<u32>,
    refresh_at: Option<Instant>,
    retry_at: Option<Instant>,
    failures: u32,
    changes: VecDeque<RegistrationState>,
}

impl Registration {
    pub fn new(config: RegistrationConfig) -> Self {
        Registration {
            interval: config.expires,
            config,
            state: RegistrationState::Unregistered,
            want: false,
            in_flight: None,
            refresh_at: None,
            retry_at: None,
            failures: 0,
            changes: VecDeque::new(),
        }
    }

    pub fn state(&self) -> &RegistrationState {
        &self.state
    }

    pub fn is_registered(&self) -> bool {
        matches!(self.state, RegistrationState::Registered { .. })
    }

    fn set_state(&mut self, state: RegistrationState) {
        if self.state != state {
            self.state = state.clone();
            self.changes.push_back(state);
        }
    }

    /// The next state change to report.
    pub fn poll_change(&mut self) -> Option<RegistrationState> {
        self.changes.pop_front()
    }

    /// Asks to be registered. Returns the Expires of a REGISTER to send now, unless one is
    /// already on its way.
    pub fn register(&mut self) -> Option<u32> {
        self.want = true;
        self.retry_at = None;
        self.send(self.interval)
    }

    /// An attempt begins before its REGISTER can be sent (the flow to the registrar is
    /// still opening): the registration is wanted and shows as registering, so that a flow
    /// that fails is reported and retried.
    pub fn start_attempt(&mut self) {
        self.want = true;
        self.retry_at = None;
        if self.in_flight.is_none() {
            self.set_state(RegistrationState::Registering);
        }
    }

    /// Asks to be unregistered (on quit or by the agent). Returns `Some(0)` when a REGISTER
    /// with Expires 0 must be sent (§10.2.2).
    pub fn unregister(&mut self) -> Option<u32> {
        self.want = false;
        self.refresh_at = None;
        self.retry_at = None;
        match self.state {
            RegistrationState::Registered { .. } | RegistrationState::Registering => {
                self.in_flight = None;
                self.send(0)
            }
            _ => {
                self.set_state(RegistrationState::Unregistered);
                None
            }
        }
    }

    fn send(&mut self, expires: u32) -> Option<u32> {
        if self.in_flight.is_some() {
            return None;
        }
        self.in_flight = Some(expires);
        self.set_state(if expires == 0 {
            RegistrationState::Unregistering
        } else {
            RegistrationState::Registering
        });
        Some(expires)
    }

    /// The REGISTER in flight was lost before being sent (no flow): forget it so the next
    /// attempt can go.
    pub fn abandon(&mut self) {
        self.in_flight = None;
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.refresh_at, self.retry_at].into_iter().flatten().min()
    }

    /// Returns the Expires of a REGISTER to send when a refresh or retry is due.
    pub fn handle_timeout(&mut self, now: Instant) -> Option<u32> {
        let due = |t: Option<Instant>| t.is_some_and(|t| t <= now);
        if !(due(self.refresh_at) || due(self.retry_at)) {
            return None;
        }
        self.refresh_at = None;
        self.retry_at = None;
        if self.want {
            self.send(self.interval)
        } else {
            None
        }
    }

    /// A 2xx to our REGISTER, with the interval the registrar granted.
    pub fn handle_success(&mut self, now: Instant, granted: u32) {
        let Some(asked) = self.in_flight.take() else {
            return;
        };
        self.failures = 0;
        if asked == 0 || !self.want {
            self.set_state(RegistrationState::Unregistered);
            return;
        }
        self.set_state(RegistrationState::Registered { expires: granted });
        self.refresh_at = Some(now + refresh_delay(granted));
    }

    /// 423 Interval Too Brief: ask again with the registrar's Min-Expires (§10.2.8).
    pub fn handle_too_brief(&mut self, min_expires: u32) -> Option<u32> {
        self.in_flight = None;
        if min_expires <= self.interval || !self.want {
            // A registrar asking for less than we asked is broken: treat as failure.
            return None;
        }
        self.interval = min_expires;
        self.send(self.interval)
    }

    /// Any other failure: timeout, transport error, a final error response, credentials
    /// refused.
    pub fn handle_failure(
        &mut self,
        now: Instant,
        code: Option<u16>,
        reason: String,
        retry: Retry,
        rng: &mut impl Rng,
    ) {
        let asked = self.in_flight.take();
        if asked == Some(0) || !self.want {
            // Unregistering needs no retry: the binding expires by itself.
            self.set_state(RegistrationState::Unregistered);
            return;
        }
        self.failures = self.failures.saturating_add(1);
        self.refresh_at = None;
        let delay = match retry {
            Retry::Never => None,
            Retry::After(d) => Some(d),
            Retry::Backoff => Some(self.backoff(rng)),
        };
        self.retry_at = delay.map(|d| now + d);
        self.set_state(RegistrationState::Failed {
            code,
            reason,
            retry_in: delay,
        });
    }

    /// RFC 5626 §4.5: min(max, base·2^(failures−1)), scaled by a random 50–100 % so that
    /// agents of a whole site do not all retry at the same instant after an outage.
    fn backoff(&self, rng: &mut impl Rng) -> Duration {
        let exp = self.failures.saturating_sub(1).min(16);
        let full = self
            .config
            .retry_base
            .saturating_mul(1 << exp)
            .min(self.config.retry_max);
        full.mul_f64(rng.random_range(0.5..=1.0))
    }
}

/// When to refresh a binding granted for `expires` seconds: 30 s early for long intervals,
/// halfway for short ones, so a refresh lost on UDP can still be retried in time.
fn refresh_delay(expires: u32) -> Duration {
    let secs = if expires > 60 {
        expires - 30
    } else {
        expires / 2
    };
    Duration::from_secs(u64::from(secs.max(1)))
}

/// The interval a 2xx granted our contact (§10.2.4): the `expires` parameter of the Contact
/// that is ours, else the Expires header, else what we asked.
pub fn granted_expires(response: &Response, ours: &SipUri, asked: u32) -> u32 {
    let same =
        |uri: &SipUri| uri.user == ours.user && uri.host == ours.host && uri.port == ours.port;
    header::list(response.headers(), "Contact")
        .into_iter()
        .filter_map(|c| c.parse::<NameAddr>().ok())
        .find(|c| c.uri.as_sip().is_some_and(same))
        .and_then(|c| c.param("expires").and_then(|e| e.parse().ok()))
        .or_else(|| {
            response
                .header("Expires")
                .and_then(|e| e.trim().parse().ok())
        })
        .unwrap_or(asked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sip::codec::decode;
    use crate::sip::message::Message;

    fn reg() -> Registration {
        Registration::new(RegistrationConfig {
            expires: 600,
            retry_base: Duration::from_secs(2),
            retry_max: Duration::from_secs(60),
        })
    }

    fn rng() -> rand::rngs::StdRng {
        rand::SeedableRng::seed_from_u64(7)
    }

    #[test]
    fn registers_refreshes_and_unregisters() {
        let t0 = Instant::now();
        let mut r = reg();
        assert_eq!(r.register(), Some(600));
        assert_eq!(r.register(), None, "one REGISTER at a time");
        r.handle_success(t0, 300);
        assert_eq!(r.state(), &RegistrationState::Registered { expires: 300 });
        assert_eq!(r.poll_timeout(), Some(t0 + Duration::from_secs(270)));
        assert_eq!(r.handle_timeout(t0 + Duration::from_secs(269)), None);
        assert_eq!(r.handle_timeout(t0 + Duration::from_secs(270)), Some(600));
        r.handle_success(t0, 600);
        assert_eq!(r.unregister(), Some(0));
        assert_eq!(r.state(), &RegistrationState::Unregistering);
        r.handle_success(t0, 0);
        assert_eq!(r.state(), &RegistrationState::Unregistered);
        let changes: Vec<_> = std::iter::from_fn(|| r.poll_change()).collect();
        assert_eq!(changes.len(), 6);
    }

    #[test]
    fn backoff_grows_with_jitter_up_to_the_cap() {
        let t0 = Instant::now();
        let mut r = reg();
        let mut rng = rng();
        let mut delays = Vec::new();
        r.register();
        for _ in 0..8 {
            r.handle_failure(t0, Some(503), "down".into(), Retry::Backoff, &mut rng);
            let at = r.poll_timeout().unwrap();
            delays.push((at - t0).as_secs_f64());
            assert_eq!(r.handle_timeout(at), Some(600));
        }
        for (i, d) in delays.iter().enumerate() {
            let full = (2.0 * 2f64.powi(i as i32)).min(60.0);
            assert!(*d >= full * 0.5 - 1e-9 && *d <= full + 1e-9, "{i}: {d}");
        }
        r.handle_success(t0, 600);
        r.handle_failure(t0, None, "timeout".into(), Retry::Backoff, &mut rng);
        assert!(r.poll_timeout().unwrap() - t0 <= Duration::from_secs(60));
    }

    #[test]
    fn hard_failures_wait_for_the_user_and_retry_after_is_honoured() {
        let t0 = Instant::now();
        let mut r = reg();
        let mut rng = rng();
        r.register();
        r.handle_failure(t0, Some(403), "Forbidden".into(), Retry::Never, &mut rng);
        assert_eq!(r.poll_timeout(), None);
        assert!(matches!(
            r.state(),
            RegistrationState::Failed { retry_in: None, .. }
        ));
        assert_eq!(r.register(), Some(600));
        r.handle_failure(
            t0,
            Some(503),
            "busy".into(),
            Retry::After(Duration::from_secs(120)),
            &mut rng,
        );
        assert_eq!(r.poll_timeout(), Some(t0 + Duration::from_secs(120)));
    }

    #[test]
    fn interval_too_brief_raises_the_interval() {
        let mut r = reg();
        r.register();
        assert_eq!(r.handle_too_brief(3600), Some(3600));
        assert_eq!(r.handle_too_brief(60), None);
    }

    #[test]
    fn granted_interval_comes_from_our_contact() {
        let text = "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK1\r\n\
From: <sip:1001@pbx>;tag=1\r\nTo: <sip:1001@pbx>;tag=2\r\nCall-ID: r\r\nCSeq: 2 REGISTER\r\n\
Contact: <sip:1001@10.0.0.9:5060>;expires=3600, <sip:1001@10.0.0.1:5070;transport=udp>;expires=120\r\n\
Expires: 999\r\nContent-Length: 0\r\n\r\n";
        let Ok(Message::Response(resp)) = decode(text.as_bytes()) else {
            panic!()
        };
        let ours: SipUri = "sip:1001@10.0.0.1:5070".parse().unwrap();
        assert_eq!(granted_expires(&resp, &ours, 600), 120);
        let other: SipUri = "sip:1001@10.0.0.2".parse().unwrap();
        assert_eq!(granted_expires(&resp, &other, 600), 999);
    }
}
