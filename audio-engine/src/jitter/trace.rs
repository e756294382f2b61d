//! Arrival traces for the jitter buffer, and a player that runs a trace through a buffer
//! in virtual time: for the tests, and for the benchmark that compares the adaptive
//! buffer with fixed ones and with the best fixed delay chosen knowing the whole trace
//! (`bench/jitter_traces.sh`).
//!
//! A trace is seeded and reproducible: packets of 20 ms, a network delay of 30 ms plus the
//! profile's jitter (uniform, exponential, or periodic stalls), random or bursty
//! (Gilbert–Elliott) loss, a share of packets held back past their successor
//! (reordering), and a sender clock that may run fast or slow.

use std::time::{Duration, Instant};

use super::{JitterBuffer, JitterConfig, JitterStats};

/// Network behaviour to generate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Profile {
    pub name: &'static str,
    pub jitter: Jitter,
    pub loss: Loss,
    /// Share of packets delayed by an extra 1.5 packets (arriving after the next one).
    pub reorder: f64,
    /// Sender clock error: 0.001 is 0.1 % fast (its packets come more often than 20 ms).
    pub drift: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Jitter {
    None,
    /// Each packet 0..max ms late.
    Uniform {
        max_ms: f64,
    },
    /// Each packet late by an exponential time of this mean.
    Exponential {
        mean_ms: f64,
    },
    /// Every `every_s` seconds the network holds packets for `stall_ms`, then delivers
    /// them at once (a Wi-Fi scan, a congested uplink).
    Stalls {
        every_s: f64,
        stall_ms: f64,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Loss {
    None,
    Random {
        rate: f64,
    },
    /// Gilbert–Elliott: good → bad with `p`, bad → good with `r`, and in the bad state a
    /// packet is lost with `loss_in_bad` (none in the good state).
    Bursty {
        p: f64,
        r: f64,
        loss_in_bad: f64,
    },
}

impl Profile {
    pub const fn clean(name: &'static str) -> Profile {
        Profile {
            name,
            jitter: Jitter::None,
            loss: Loss::None,
            reorder: 0.0,
            drift: 0.0,
        }
    }
}

/// One packet as it arrived.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Arrival {
    /// Its RTP timestamp (8 kHz).
    pub timestamp: u32,
    /// When the sender sent it, in ms of our clock.
    pub sent_ms: f64,
    /// When it arrived, in ms of our clock.
    pub arrival_ms: f64,
}

/// RTP clock of the traces.
pub const RATE: u32 = 8_000;
const PACKET: u32 = 160;
const BASE_DELAY_MS: f64 = 30.0;

/// SplitMix64: small, seeded and the same everywhere.
#[derive(Debug, Clone)]
struct Random(u64);

impl Random {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The packets of `seconds` of a call over `profile`, in order of arrival.
pub fn generate(profile: &Profile, seconds: u32, seed: u64) -> Vec<Arrival> {
    let mut random = Random(seed);
    let mut bad = false;
    let interval_ms = 20.0 / (1.0 + profile.drift);
    let count = seconds * 50;
    let mut arrivals = Vec::with_capacity(count as usize);
    for i in 0..count {
        let sent_ms = f64::from(i) * interval_ms;
        let lost = match profile.loss {
            Loss::None => false,
            Loss::Random { rate } => random.next() < rate,
            Loss::Bursty { p, r, loss_in_bad } => {
                bad = if bad {
                    random.next() >= r
                } else {
                    random.next() < p
                };
                bad && random.next() < loss_in_bad
            }
        };
        let mut delay = BASE_DELAY_MS
            + match profile.jitter {
                Jitter::None => 0.0,
                Jitter::Uniform { max_ms } => random.next() * max_ms,
                Jitter::Exponential { mean_ms } => -mean_ms * (1.0 - random.next()).ln(),
                Jitter::Stalls { every_s, stall_ms } => {
                    // Packets sent during a stall wait until it ends.
                    let period = every_s * 1000.0;
                    let into = sent_ms % period;
                    let stall_start = period - stall_ms;
                    if into >= stall_start {
                        period - into
                    } else {
                        0.0
                    }
                }
            };
        if random.next() < profile.reorder {
            delay += 30.0;
        }
        if !lost {
            arrivals.push(Arrival {
                timestamp: i.wrapping_mul(PACKET),
                sent_ms,
                arrival_ms: sent_ms + delay,
            });
        }
    }
    arrivals.sort_by(|a, b| a.arrival_ms.total_cmp(&b.arrival_ms));
    arrivals
}

/// The test signal at an RTP timestamp: a 200 Hz tone, so that every sample is known.
pub fn signal(timestamp: u32) -> i16 {
    let phase = f64::from(timestamp % 40) / 40.0;
    (8_000.0 * (2.0 * std::f64::consts::PI * phase).sin()) as i16
}

/// What playing a trace gave.
#[derive(Debug, Clone)]
pub struct Played {
    pub stats: JitterStats,
    /// Each played packet's wait in the buffer, in ms.
    pub delays: Vec<f64>,
    /// The audio played, from the first pull on.
    pub audio: Vec<i16>,
    /// Packets that arrived.
    pub arrived: usize,
}

impl Played {
    /// Late packets per packet that arrived.
    pub fn late_rate(&self) -> f64 {
        self.stats.late as f64 / self.arrived.max(1) as f64
    }

    /// The `q` quantile of the buffer waits, in ms.
    pub fn delay_quantile(&self, q: f64) -> f64 {
        quantile(&self.delays, q)
    }
}

/// The `q` quantile of `values` (nearest rank).
pub fn quantile(values: &[f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Plays `arrivals` through a buffer made with `config`, pulling every 10 ms (our clock)
/// from the first arrival until the buffer has played the last (the stream's end is not
/// a loss).
pub fn play(arrivals: &[Arrival], config: JitterConfig) -> Played {
    let t0 = Instant::now();
    let at = |ms: f64| t0 + Duration::from_secs_f64(ms.max(0.0) / 1000.0);
    let mut buffer = JitterBuffer::new(config, t0);
    buffer.record_delays();
    let end_ms = arrivals.iter().map(|a| a.arrival_ms).fold(0.0, f64::max) + 1000.0;
    let start_ms = arrivals.first().map_or(0.0, |a| a.arrival_ms);
    let mut audio = Vec::new();
    let mut samples = vec![0i16; PACKET as usize];
    let mut next = arrivals.iter().peekable();
    // A pull tick 3 ms after the first arrival: the two clocks are not in phase.
    let mut tick_ms = start_ms + 3.0;
    while tick_ms < end_ms && (next.peek().is_some() || !buffer.is_empty()) {
        while let Some(a) = next.next_if(|a| a.arrival_ms <= tick_ms) {
            for (k, s) in samples.iter_mut().enumerate() {
                *s = signal(a.timestamp.wrapping_add(k as u32));
            }
            buffer.insert(at(a.arrival_ms), a.timestamp, &samples);
        }
        buffer.pull(at(tick_ms), &mut audio);
        tick_ms += 10.0;
    }
    Played {
        stats: buffer.stats(),
        delays: buffer.take_delays(),
        audio,
        arrived: arrivals.len(),
    }
}

/// A fixed buffer of `delay_ms` on the same trace: each packet plays `delay_ms` after the
/// earliest possible time (the trace's smallest network delay); later ones are lost.
/// Gives (late rate, mean wait, 95th percentile wait) in ms.
pub fn fixed(arrivals: &[Arrival], delay_ms: f64) -> (f64, f64, f64) {
    let transit: Vec<f64> = arrivals.iter().map(|a| a.arrival_ms - a.sent_ms).collect();
    let floor = transit.iter().copied().fold(f64::INFINITY, f64::min);
    let waits: Vec<f64> = transit
        .iter()
        .map(|t| floor + delay_ms - t)
        .filter(|w| *w >= 0.0)
        .collect();
    let late = 1.0 - waits.len() as f64 / arrivals.len().max(1) as f64;
    let mean = waits.iter().sum::<f64>() / waits.len().max(1) as f64;
    (late, mean, quantile(&waits, 0.95))
}

/// The best fixed delay knowing the whole trace: the smallest that keeps late loss at or
/// below `late_rate` (Moon, Kurose and Towsley's offline bound, for a constant delay).
pub fn offline_optimum(arrivals: &[Arrival], late_rate: f64) -> f64 {
    let transit: Vec<f64> = arrivals.iter().map(|a| a.arrival_ms - a.sent_ms).collect();
    let floor = transit.iter().copied().fold(f64::INFINITY, f64::min);
    let relative: Vec<f64> = transit.iter().map(|t| t - floor).collect();
    quantile(&relative, 1.0 - late_rate)
}
