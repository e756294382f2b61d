//! The target delay of the jitter buffer, from the measured arrival of packets (after
//! WebRTC NetEQ's delay manager).
//!
//! Each packet's *relative arrival delay* is how much later it came than the earliest
//! packet of the last two seconds would predict from its RTP timestamp (so a constant
//! network delay and a slow clock drift count as nothing). The largest such delay of
//! every 500 ms goes into a histogram of 5 ms buckets with exponential forgetting; the
//! target is its 95th percentile plus one packet. That reacts within seconds but not to
//! a single spike, so a *floor* reacts at once: a packet later than the target raises
//! the floor to its delay, and the floor then sinks by 10 ms a second. Bursts make the
//! buffer grow at once; it shrinks slowly, by time-scale modification, never by dropping.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

const BUCKET_MS: f64 = 5.0;
/// Arrivals kept for the relative delay (NetEQ: 2000 ms).
const WINDOW: Duration = Duration::from_secs(2);
/// The histogram takes the largest delay of each interval (NetEQ: 500 ms).
const INTERVAL: Duration = Duration::from_millis(500);
/// Weight kept per interval (NetEQ: 0.983): a time constant of about 30 s.
const FORGET: f64 = 0.983;
/// How fast the floor set by a late packet sinks.
const FLOOR_DECAY_MS_PER_S: f64 = 10.0;

/// Target delay settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DelayConfig {
    /// The share of packets that should come in time (NetEQ: 0.95).
    pub quantile: f64,
    /// The target before anything is known (low: a clean network is the usual case).
    pub start: Duration,
    pub min: Duration,
    pub max: Duration,
}

impl Default for DelayConfig {
    fn default() -> Self {
        DelayConfig {
            quantile: 0.95,
            start: Duration::from_millis(40),
            min: Duration::ZERO,
            max: Duration::from_millis(400),
        }
    }
}

/// Estimates how much audio to hold back.
#[derive(Debug, Clone)]
pub struct DelayEstimator {
    config: DelayConfig,
    rate: f64,
    /// (arrival, arrival minus the RTP time of the packet) of the last two seconds, in ms
    /// since `epoch`.
    arrivals: VecDeque<(Instant, f64)>,
    epoch: Option<Instant>,
    histogram: Vec<f64>,
    intervals: u32,
    interval_start: Option<Instant>,
    interval_max: f64,
    /// Milliseconds, and when it was set.
    floor: (f64, Instant),
    /// The last relative delay, for the statistics.
    last: f64,
}

impl DelayEstimator {
    pub fn new(config: DelayConfig, rate: u32, now: Instant) -> DelayEstimator {
        let buckets = (config.max.as_secs_f64() * 1000.0 / BUCKET_MS).ceil() as usize + 1;
        DelayEstimator {
            config,
            rate: f64::from(rate),
            arrivals: VecDeque::new(),
            epoch: None,
            histogram: vec![0.0; buckets],
            intervals: 0,
            interval_start: None,
            interval_max: 0.0,
            floor: (config.start.as_secs_f64() * 1000.0, now),
            last: 0.0,
        }
    }

    /// A packet whose first sample is at `position` (in samples, unwrapped) arrived at
    /// `now`; gives its relative delay in ms.
    pub fn arrived(&mut self, now: Instant, position: u64) -> f64 {
        let epoch = *self.epoch.get_or_insert(now);
        let arrival_ms = now.saturating_duration_since(epoch).as_secs_f64() * 1000.0;
        let offset = arrival_ms - position as f64 * 1000.0 / self.rate;
        while self
            .arrivals
            .front()
            .is_some_and(|(t, _)| now.saturating_duration_since(*t) > WINDOW)
        {
            self.arrivals.pop_front();
        }
        self.arrivals.push_back((now, offset));
        let earliest = self
            .arrivals
            .iter()
            .map(|(_, o)| *o)
            .fold(f64::INFINITY, f64::min);
        let relative = (offset - earliest).max(0.0);
        self.last = relative;
        self.interval_max = self.interval_max.max(relative);
        let start = *self.interval_start.get_or_insert(now);
        if now.saturating_duration_since(start) >= INTERVAL {
            self.feed(self.interval_max);
            self.interval_max = 0.0;
            self.interval_start = Some(now);
        }
        relative
    }

    /// A packet came too late for the target: the floor jumps to cover it.
    pub fn late(&mut self, now: Instant, relative_ms: f64, packet: Duration) {
        let wanted = relative_ms + packet.as_secs_f64() * 1000.0;
        if wanted > self.floor_ms(now) {
            self.floor = (wanted, now);
        }
    }

    fn feed(&mut self, delay_ms: f64) {
        // Equal weights at first (a plain average), then forgetting.
        self.intervals += 1;
        let keep = FORGET.min(1.0 - 1.0 / f64::from(self.intervals + 1));
        for p in &mut self.histogram {
            *p *= keep;
        }
        let last = self.histogram.len() - 1;
        let bucket = ((delay_ms / BUCKET_MS) as usize).min(last);
        self.histogram[bucket] += 1.0 - keep;
    }

    fn floor_ms(&self, now: Instant) -> f64 {
        let (ms, since) = self.floor;
        (ms - now.saturating_duration_since(since).as_secs_f64() * FLOOR_DECAY_MS_PER_S).max(0.0)
    }

    /// The delay to aim for, for packets of `packet` duration: the quantile's bucket
    /// (upper edge) plus one packet, or the floor, whichever is larger.
    pub fn target(&self, now: Instant, packet: Duration) -> Duration {
        let packet_ms = packet.as_secs_f64() * 1000.0;
        let from_histogram = if self.intervals == 0 {
            0.0
        } else {
            let total: f64 = self.histogram.iter().sum();
            let mut sum = 0.0;
            let bucket = self
                .histogram
                .iter()
                .position(|p| {
                    sum += p;
                    sum >= self.config.quantile * total
                })
                .unwrap_or(self.histogram.len() - 1);
            (bucket + 1) as f64 * BUCKET_MS + packet_ms
        };
        let ms = from_histogram.max(self.floor_ms(now)).max(packet_ms).clamp(
            self.config.min.as_secs_f64() * 1000.0,
            self.config.max.as_secs_f64() * 1000.0,
        );
        Duration::from_secs_f64(ms / 1000.0)
    }

    /// The relative delay of the last packet, in ms.
    pub fn last_relative_ms(&self) -> f64 {
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PACKET: Duration = Duration::from_millis(20);

    /// Feeds 20 ms packets for `seconds`, each delayed by `jitter(i)` ms.
    fn run(e: &mut DelayEstimator, t0: Instant, seconds: u64, jitter: impl Fn(u64) -> u64) {
        for i in 0..seconds * 50 {
            let arrival = t0 + Duration::from_millis(i * 20 + jitter(i));
            e.arrived(arrival, i * 160);
        }
    }

    #[test]
    fn a_clean_network_needs_one_packet_and_a_bucket() {
        let t0 = Instant::now();
        let mut e = DelayEstimator::new(DelayConfig::default(), 8_000, t0);
        assert_eq!(e.target(t0, PACKET), Duration::from_millis(40));
        run(&mut e, t0, 10, |_| 0);
        let target = e.target(t0 + Duration::from_secs(10), PACKET);
        assert_eq!(target, Duration::from_millis(25));
    }

    #[test]
    fn the_target_covers_95_percent_of_the_jitter() {
        let t0 = Instant::now();
        let mut e = DelayEstimator::new(DelayConfig::default(), 8_000, t0);
        // Every packet 0..40 ms late (a saw): the 500 ms maxima are all near 40 ms.
        run(&mut e, t0, 20, |i| (i * 7) % 41);
        let target = e.target(t0 + Duration::from_secs(20), PACKET);
        assert!(
            (Duration::from_millis(60)..=Duration::from_millis(70)).contains(&target),
            "{target:?}"
        );
    }

    #[test]
    fn a_late_packet_raises_the_target_at_once_and_it_sinks_slowly() {
        let t0 = Instant::now();
        let mut e = DelayEstimator::new(DelayConfig::default(), 8_000, t0);
        run(&mut e, t0, 10, |_| 0);
        let t = t0 + Duration::from_secs(10);
        let relative = e.arrived(t + Duration::from_millis(200), 500 * 160);
        assert!((199.0..=201.0).contains(&relative), "{relative}");
        e.late(t + Duration::from_millis(200), relative, PACKET);
        let now = t + Duration::from_millis(200);
        assert!(e.target(now, PACKET) >= Duration::from_millis(219));
        let later = now + Duration::from_secs(10);
        let sunk = e.target(later, PACKET);
        assert!(
            (Duration::from_millis(115)..=Duration::from_millis(125)).contains(&sunk),
            "{sunk:?}"
        );
        assert!(e.target(later + Duration::from_secs(30), PACKET) <= Duration::from_millis(45));
    }

    #[test]
    fn a_drifting_sender_clock_is_not_jitter() {
        let t0 = Instant::now();
        let mut e = DelayEstimator::new(DelayConfig::default(), 8_000, t0);
        // The sender's clock runs 0.1 % slow (ten times a cheap crystal's error):
        // arrivals spread out steadily, by 2 ms over the two-second window.
        for i in 0..1_000u64 {
            e.arrived(t0 + Duration::from_micros(i * 20_020), i * 160);
        }
        let target = e.target(t0 + Duration::from_secs(20), PACKET);
        assert!(target <= Duration::from_millis(30), "{target:?}");
    }
}
