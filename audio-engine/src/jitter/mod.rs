//! An adaptive jitter buffer in the spirit of WebRTC NetEQ, sans I/O: packets go in with
//! their arrival time ([`JitterBuffer::insert`]), audio comes out in frames at the pace of
//! the caller's clock ([`JitterBuffer::pull`]). Time is passed in, so the buffer runs the
//! same on recorded or generated arrival traces as on a live call.
//!
//! - How much to hold back comes from the measured arrivals ([`delay`]): low on a clean
//!   network (one packet and a few ms), up at once when packets come late, down slowly.
//! - The buffer moves toward that target by time-scale modification ([`stretch`]): one
//!   pitch period more or less at a time, where the audio allows it unheard, never by
//!   dropping audio.
//! - A missing packet is concealed by repeating the last pitch period, fading out; audio
//!   that resumes is cross-faded in. When the buffer runs dry without a gap (a delay
//!   spike), concealment stretches the timeline instead of skipping, so the late packets
//!   are still played and the buffer has grown by what the network took.
//! - Reordered packets are put in their place by RTP timestamp (RFC 3550 §5.1), packets
//!   whose place has been played are late and dropped, duplicates are dropped.
//! - A sender clock faster or slower than ours shows as a buffer that fills or empties,
//!   which the same stretching evens out.

pub mod delay;
pub mod stretch;
pub mod trace;

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use delay::{DelayConfig, DelayEstimator};
use stretch::{Concealer, Pitch};

/// What a [`JitterBuffer`] works with.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JitterConfig {
    /// Samples per second of the audio (the RTP clock rate of the codecs here).
    pub rate: u32,
    /// Samples per [`JitterBuffer::pull`].
    pub frame: usize,
    pub delay: DelayConfig,
}

impl JitterConfig {
    /// 10 ms frames at `rate`, NetEQ's output tick.
    pub fn at(rate: u32) -> JitterConfig {
        JitterConfig {
            rate,
            frame: (rate / 100) as usize,
            delay: DelayConfig::default(),
        }
    }
}

/// What became of an inserted packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Insert {
    Accepted,
    /// Its place was played already (concealed): dropped, and the target raised.
    Late,
    Duplicate,
}

/// Counters and levels of a buffer, NetEQ's and W3C `RTCInboundRtpStreamStats`' terms.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct JitterStats {
    /// Packets accepted.
    pub packets: u64,
    /// Packets that came after their place was played (late loss).
    pub late: u64,
    pub duplicates: u64,
    /// Samples of packets that never came (a gap played over).
    pub lost_samples: u64,
    /// Samples made up by concealment (lost or not there yet).
    pub concealed_samples: u64,
    pub concealment_events: u64,
    /// Concealments of 150 ms or more (W3C: `totalInterruptionDuration`'s events).
    pub interruptions: u64,
    /// Samples taken out to shrink the buffer (`removedSamplesForAcceleration`).
    pub removed_samples: u64,
    /// Samples put in to grow it (`insertedSamplesForDeceleration`).
    pub inserted_samples: u64,
    /// Samples handed out since playout began.
    pub played_samples: u64,
    /// The sum of each played packet's wait from arrival to playout, in ms, and how many:
    /// their quotient is the mean buffer delay (`jitterBufferDelay / emittedCount`).
    pub delay_ms_sum: f64,
    pub delayed_packets: u64,
    /// The largest such wait, in ms.
    pub delay_ms_max: f64,
    /// The target now, in ms (`jitterBufferTargetDelay`).
    pub target_ms: f64,
    /// The buffer's smoothed level now, in ms.
    pub level_ms: f64,
    /// The last packet's arrival delay relative to the earliest of the last 2 s, in ms.
    pub relative_delay_ms: f64,
}

impl JitterStats {
    /// Mean wait of a packet in the buffer, in ms.
    pub fn mean_delay_ms(&self) -> f64 {
        if self.delayed_packets == 0 {
            0.0
        } else {
            self.delay_ms_sum / self.delayed_packets as f64
        }
    }
}

#[derive(Debug)]
struct Packet {
    samples: Vec<i16>,
    arrival: Instant,
}

/// A packet more than this far from the playout position (10 s) starts a new timeline:
/// a restarted sender clock, or a very long pause.
const MAX_JUMP_SECONDS: u64 = 10;
/// Time-scale changes at most every this many pulls (30 ms).
const STRETCH_EVERY: u32 = 3;

/// The adaptive jitter buffer of one incoming stream.
#[derive(Debug)]
pub struct JitterBuffer {
    config: JitterConfig,
    pitch: Pitch,
    delay: DelayEstimator,
    packets: BTreeMap<u64, Packet>,
    spare: Vec<Vec<i16>>,
    /// The last packet's position (unwrapped RTP timestamp).
    last_position: Option<u64>,
    /// Position of the next sample to take from `packets`; `None` until playout begins.
    next: Option<u64>,
    /// Audio taken from packets, not played yet.
    ready: VecDeque<i16>,
    /// The last audio played, for concealment.
    history: VecDeque<i16>,
    concealer: Concealer,
    concealing: bool,
    /// Samples concealed while the buffer was dry (nothing after the gap had come yet).
    dry: u64,
    /// Samples of the last packet.
    packet_samples: usize,
    level: Option<f64>,
    pulls_since_stretch: u32,
    stats: JitterStats,
    scratch: Vec<i16>,
    /// Each played packet's wait, when asked for (benchmarks).
    delays: Option<Vec<f64>>,
}

impl JitterBuffer {
    pub fn new(config: JitterConfig, now: Instant) -> JitterBuffer {
        let pitch = Pitch::at(config.rate);
        JitterBuffer {
            config,
            pitch,
            delay: DelayEstimator::new(config.delay, config.rate, now),
            packets: BTreeMap::new(),
            spare: Vec::new(),
            last_position: None,
            next: None,
            ready: VecDeque::new(),
            history: VecDeque::with_capacity(2 * pitch.max_lag),
            concealer: Concealer::new(config.rate),
            concealing: false,
            dry: 0,
            packet_samples: config.frame * 2,
            level: None,
            pulls_since_stretch: 0,
            stats: JitterStats::default(),
            scratch: Vec::new(),
            delays: None,
        }
    }

    /// Keeps each played packet's wait from now on, for [`JitterBuffer::take_delays`].
    pub fn record_delays(&mut self) {
        self.delays.get_or_insert_with(Vec::new);
    }

    /// The waits kept since the last call, in ms.
    pub fn take_delays(&mut self) -> Vec<f64> {
        self.delays.as_mut().map(std::mem::take).unwrap_or_default()
    }

    fn samples_of(&self, d: Duration) -> usize {
        (d.as_secs_f64() * f64::from(self.config.rate)).round() as usize
    }

    fn duration_of(&self, samples: usize) -> Duration {
        Duration::from_secs_f64(samples as f64 / f64::from(self.config.rate))
    }

    /// Unwraps an RTP timestamp near the last one (serial arithmetic, RFC 3550 §5.1).
    fn position(&mut self, timestamp: u32) -> u64 {
        let position = match self.last_position {
            None => u64::from(timestamp) + (1 << 32),
            Some(last) => {
                // The low 32 bits of a position are its RTP timestamp.
                let delta = i64::from(timestamp.wrapping_sub(last as u32).cast_signed());
                last.saturating_add_signed(delta)
            }
        };
        self.last_position = Some(position);
        position
    }

    /// Takes the decoded `samples` of the packet with RTP timestamp `timestamp`, which
    /// arrived at `now`.
    pub fn insert(&mut self, now: Instant, timestamp: u32, samples: &[i16]) -> Insert {
        self.store(now, timestamp, samples, true)
    }

    /// Takes `len` samples of silence at `timestamp` that no audio packet brings (a
    /// telephone event took their place): played, but neither measured nor counted.
    pub fn insert_silence(&mut self, now: Instant, timestamp: u32, len: usize) {
        self.scratch.clear();
        self.scratch.resize(len, 0);
        let silence = std::mem::take(&mut self.scratch);
        self.store(now, timestamp, &silence, false);
        self.scratch = silence;
    }

    fn store(&mut self, now: Instant, timestamp: u32, samples: &[i16], measure: bool) -> Insert {
        if samples.is_empty() {
            return Insert::Duplicate;
        }
        let position = self.position(timestamp);
        let max_jump = u64::from(self.config.rate) * MAX_JUMP_SECONDS;
        if let Some(next) = self.next {
            if position.abs_diff(next) > max_jump {
                self.restart(now);
            }
        }
        if self.next.is_some_and(|next| position < next) {
            if measure {
                let relative = self.delay.arrived(now, position);
                self.stats.relative_delay_ms = relative;
                self.stats.late += 1;
                self.delay
                    .late(now, relative, self.duration_of(samples.len()));
            }
            return Insert::Late;
        }
        if self.packets.contains_key(&position) {
            self.stats.duplicates += u64::from(measure);
            return Insert::Duplicate;
        }
        if measure {
            self.packet_samples = samples.len();
            self.stats.relative_delay_ms = self.delay.arrived(now, position);
            self.stats.packets += 1;
        }
        let mut buffer = self.spare.pop().unwrap_or_default();
        buffer.clear();
        buffer.extend_from_slice(samples);
        self.packets.insert(
            position,
            Packet {
                samples: buffer,
                arrival: now,
            },
        );
        Insert::Accepted
    }

    /// A new stream (another SSRC, a restarted clock): what is held is dropped, playout
    /// starts over; the statistics go on.
    pub fn restart(&mut self, now: Instant) {
        while let Some((_, packet)) = self.packets.pop_first() {
            self.spare.push(packet.samples);
        }
        self.ready.clear();
        self.next = None;
        self.dry = 0;
        self.last_position = None;
        self.level = None;
        self.delay = DelayEstimator::new(self.config.delay, self.config.rate, now);
    }

    /// Whether nothing is held to play.
    pub fn is_empty(&self) -> bool {
        self.ready.is_empty() && self.packets.is_empty()
    }

    /// Samples held: taken and waiting.
    fn buffered(&self) -> usize {
        self.ready.len()
            + self
                .packets
                .values()
                .map(|p| p.samples.len())
                .sum::<usize>()
    }

    /// Appends one frame of audio to play at `now` to `out`.
    pub fn pull(&mut self, now: Instant, out: &mut Vec<i16>) {
        let frame = self.config.frame;
        let packet = self.duration_of(self.packet_samples);
        let target = self.delay.target(now, packet);
        self.stats.target_ms = target.as_secs_f64() * 1000.0;
        if self.next.is_none() && !self.ready_to_start(now, target) {
            out.extend(std::iter::repeat_n(0, frame));
            return;
        }
        let level = self.buffered() as f64;
        let smoothed = match self.level {
            None => level,
            Some(l) => 0.9 * l + 0.1 * level,
        };
        self.level = Some(smoothed);
        self.stats.level_ms = smoothed * 1000.0 / f64::from(self.config.rate);
        self.pulls_since_stretch += 1;

        let start = out.len();
        self.fetch(now, frame);
        if self.ready.len() >= frame {
            self.resume_after_concealment();
            self.maybe_stretch(now, smoothed, self.samples_of(target));
            out.extend(self.ready.drain(..frame));
        } else {
            let have = self.ready.len();
            out.extend(self.ready.drain(..));
            self.conceal(frame - have, out, start);
        }
        self.stats.played_samples += frame as u64;
        for &s in &out[start..] {
            if self.history.len() == 2 * self.pitch.max_lag {
                self.history.pop_front();
            }
            self.history.push_back(s);
        }
    }

    /// Playout begins once the buffer holds the target, or its first packet has waited
    /// that long.
    fn ready_to_start(&mut self, now: Instant, target: Duration) -> bool {
        let Some((&first, oldest)) = self.packets.first_key_value() else {
            return false;
        };
        let waited = now.saturating_duration_since(oldest.arrival);
        if self.buffered() < self.samples_of(target) && waited < target {
            return false;
        }
        self.next = Some(first);
        true
    }

    /// Moves the packets that continue the audio into `ready`, until it holds `want`.
    fn fetch(&mut self, now: Instant, want: usize) {
        let Some(mut next) = self.next else {
            return;
        };
        while self.ready.len() < want {
            let Some(entry) = self.packets.first_entry() else {
                break;
            };
            if *entry.key() > next {
                break; // a gap: concealment decides
            }
            let position = *entry.key();
            let packet = entry.remove();
            // Overlapping the audio already taken: only the part after it is new.
            let skip = usize::try_from(next - position).unwrap_or(usize::MAX);
            if skip < packet.samples.len() {
                let waited = now.saturating_duration_since(packet.arrival)
                    + self.duration_of(self.ready.len());
                let ms = waited.as_secs_f64() * 1000.0;
                self.stats.delay_ms_sum += ms;
                self.stats.delayed_packets += 1;
                self.stats.delay_ms_max = self.stats.delay_ms_max.max(ms);
                if let Some(delays) = &mut self.delays {
                    delays.push(ms);
                }
                self.ready.extend(&packet.samples[skip..]);
                next = position + packet.samples.len() as u64;
            }
            self.spare.push(packet.samples);
        }
        self.next = Some(next);
    }

    /// Makes `n` samples up after what this pull put in `out` from `start` on: a gap is
    /// played over (its packets are lost), a dry buffer waits for its late packets (the
    /// timeline stretches).
    fn conceal(&mut self, n: usize, out: &mut Vec<i16>, start: usize) {
        if !self.concealing {
            self.concealing = true;
            self.stats.concealment_events += 1;
            let history: Vec<i16> = self.history.iter().chain(&out[start..]).copied().collect();
            self.concealer.start(&history);
        }
        self.concealer.conceal(n, out);
        self.stats.concealed_samples += n as u64;
        match (self.next, self.packets.first_key_value()) {
            (Some(next), Some((&first, _))) => {
                // A gap: what was concealed while waiting, and now, stands for its
                // packets, which are lost (were they only late, they would have come
                // before the next one).
                let skipped =
                    (n as u64 + std::mem::take(&mut self.dry)).min(first.saturating_sub(next));
                self.stats.lost_samples += skipped;
                self.next = Some(next + skipped);
            }
            // Dry: the next packet may only be late; if it comes, it plays.
            _ => self.dry += n as u64,
        }
    }

    fn resume_after_concealment(&mut self) {
        if !self.concealing {
            return;
        }
        self.concealing = false;
        self.dry = 0;
        if self.concealer.made() >= self.samples_of(Duration::from_millis(150)) {
            self.stats.interruptions += 1;
        }
        let fade = self.pitch.fade.min(self.ready.len());
        let mut head: Vec<i16> = self.ready.range(..fade).copied().collect();
        self.concealer.merge(&mut head);
        for (slot, s) in self.ready.iter_mut().zip(head) {
            *slot = s;
        }
    }

    /// Takes a pitch period out when the buffer is well above its target, puts one in
    /// when it is well below, where the audio allows.
    fn maybe_stretch(&mut self, now: Instant, level: f64, target: usize) {
        if self.pulls_since_stretch < STRETCH_EVERY {
            return;
        }
        let half_packet = self.packet_samples as f64 / 2.0;
        let too_high = level > target as f64 + half_packet;
        let too_low = level + half_packet < target as f64;
        if !too_high && !too_low {
            return;
        }
        let segment = self.pitch.segment();
        self.fetch(now, segment);
        if self.ready.len() < segment {
            return;
        }
        let input: Vec<i16> = self.ready.range(..segment).copied().collect();
        self.scratch.clear();
        let changed = if too_high {
            let removed = stretch::accelerate(&input, &self.pitch, &mut self.scratch);
            self.stats.removed_samples += removed as u64;
            removed
        } else {
            let inserted = stretch::preemptive_expand(&input, &self.pitch, &mut self.scratch);
            self.stats.inserted_samples += inserted as u64;
            inserted
        };
        if changed > 0 {
            self.pulls_since_stretch = 0;
            self.ready.drain(..segment);
            for &s in self.scratch.iter().rev() {
                self.ready.push_front(s);
            }
        }
    }

    pub fn stats(&self) -> JitterStats {
        self.stats
    }

    /// The target delay now.
    pub fn target(&self, now: Instant) -> Duration {
        self.delay
            .target(now, self.duration_of(self.packet_samples))
    }
}

#[cfg(test)]
mod tests;
