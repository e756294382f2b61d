//! Received audio put back in RTP timestamp order, gaps filled with silence.
//!
//! A stand-in for the adaptive jitter buffer of the full audio engine: it holds
//! a few packets back so that mild reordering is undone, and places every
//! sample by its RTP timestamp (RFC 3550 §5.1), so that lost packets become
//! silence of the right length and late or duplicate packets are dropped.

/// What [`ReorderBuffer`] outputs, in timestamp order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Chunk<'a> {
    Audio(&'a [i16]),
    /// That many samples of nothing: lost packets, or a pause of the sender.
    Silence(usize),
}

/// What became of a packet pushed into a [`ReorderBuffer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Placement {
    /// Output at once, or held back until the packets before it arrive.
    Accepted,
    /// Its place in the output has passed, or it is a duplicate: dropped.
    Late,
}

/// Orders audio packets by RTP timestamp with a window of a few packets.
#[derive(Debug, Clone)]
pub(crate) struct ReorderBuffer {
    /// Extended timestamp of the next sample to output; `None` before the
    /// first packet. Its low 32 bits are an RTP timestamp.
    next: Option<u64>,
    /// Packets waiting for the ones before them, by increasing position.
    held: Vec<Held>,
    /// Buffers of packets already output, to be reused.
    spare: Vec<Vec<i16>>,
    /// Packets held at most before a gap is given up as loss.
    window: usize,
    /// A timestamp jump larger than this (either way) is a new timeline
    /// rather than a gap to fill.
    max_gap: u32,
}

#[derive(Debug, Clone)]
struct Held {
    position: u64,
    samples: Vec<i16>,
}

impl ReorderBuffer {
    /// A buffer that holds up to `window` packets back and fills gaps of up to
    /// `max_gap` samples with silence.
    pub(crate) fn new(window: usize, max_gap: u32) -> Self {
        Self {
            next: None,
            held: Vec::with_capacity(window + 1),
            spare: Vec::with_capacity(window + 1),
            window,
            max_gap,
        }
    }

    /// Takes the decoded samples of the packet with RTP timestamp `timestamp`,
    /// and outputs what is now in order.
    pub(crate) fn push<E>(
        &mut self,
        timestamp: u32,
        samples: &[i16],
        out: &mut impl FnMut(Chunk<'_>) -> Result<(), E>,
    ) -> Result<Placement, E> {
        let mut next = *self.next.get_or_insert(u64::from(timestamp));
        // Serial-number distance (RFC 3550 §5.1 timestamps wrap): the low 32
        // bits of the extended position are an RTP timestamp, the point of the cast.
        let mut delta = i64::from(timestamp.wrapping_sub(next as u32).cast_signed());
        if delta.unsigned_abs() > u64::from(self.max_gap) {
            // The sender restarted its clock or paused very long: play what is
            // held, then carry on from this packet without a gap.
            self.drain(0, out)?;
            next = u64::from(timestamp);
            self.next = Some(next);
            delta = 0;
        } else if delta < 0 {
            return Ok(Placement::Late);
        }
        let position = next + delta.unsigned_abs();
        if position == next {
            out(Chunk::Audio(samples))?;
            self.next = Some(next + samples.len() as u64);
        } else if self.held.iter().any(|held| held.position == position) {
            return Ok(Placement::Late);
        } else {
            let mut buffer = self.spare.pop().unwrap_or_default();
            buffer.clear();
            buffer.extend_from_slice(samples);
            let index = self.held.partition_point(|held| held.position < position);
            self.held.insert(
                index,
                Held {
                    position,
                    samples: buffer,
                },
            );
        }
        self.drain(self.window, out)?;
        Ok(Placement::Accepted)
    }

    /// Outputs everything held, filling gaps, and starts over with the next
    /// packet pushed: for the end of a recording or a new RTP stream.
    pub(crate) fn restart<E>(
        &mut self,
        out: &mut impl FnMut(Chunk<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        let result = self.drain(0, out);
        self.next = None;
        result
    }

    /// Outputs the held packets that are in order, and more while over `keep`
    /// packets are held, giving up on the gaps before them.
    fn drain<E>(
        &mut self,
        keep: usize,
        out: &mut impl FnMut(Chunk<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        let Some(mut next) = self.next else {
            return Ok(());
        };
        while let Some(first) = self.held.first() {
            if first.position > next {
                if self.held.len() <= keep {
                    break;
                }
                // The gap is under `max_gap`, which is a u32: it fits in usize.
                out(Chunk::Silence((first.position - next) as usize))?;
                next = first.position;
                self.next = Some(next);
            }
            let held = self.held.remove(0);
            // Packets can overlap when a sender changes its packet size: keep
            // only the samples not output yet.
            let skip = usize::try_from(next - held.position).unwrap_or(usize::MAX);
            if let Some(fresh) = held.samples.get(skip..).filter(|s| !s.is_empty()) {
                out(Chunk::Audio(fresh))?;
                next = held.position + held.samples.len() as u64;
                self.next = Some(next);
            }
            self.spare.push(held.samples);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pushes `(timestamp, first sample value)` packets of 4 samples each and
    /// returns the output, with silence as zeros.
    fn run(window: usize, packets: &[(u32, i16)]) -> (Vec<i16>, Vec<Placement>) {
        let mut buffer = ReorderBuffer::new(window, 1_000);
        let mut output = Vec::new();
        let mut collect = |chunk: Chunk<'_>| -> Result<(), ()> {
            match chunk {
                Chunk::Audio(samples) => output.extend_from_slice(samples),
                Chunk::Silence(n) => output.extend(std::iter::repeat_n(0, n)),
            }
            Ok(())
        };
        let placements = packets
            .iter()
            .map(|&(timestamp, value)| {
                let samples = [value, value + 1, value + 2, value + 3];
                buffer.push(timestamp, &samples, &mut collect).unwrap()
            })
            .collect();
        buffer.restart(&mut collect).unwrap();
        (output, placements)
    }

    fn ramp(values: &[i16]) -> Vec<i16> {
        values
            .iter()
            .flat_map(|&v| [v, v + 1, v + 2, v + 3])
            .collect()
    }

    #[test]
    fn in_order_packets_pass_through() {
        let (output, placements) = run(3, &[(100, 10), (104, 20), (108, 30)]);
        assert_eq!(output, ramp(&[10, 20, 30]));
        assert!(placements.iter().all(|&p| p == Placement::Accepted));
    }

    #[test]
    fn reordering_within_the_window_is_undone() {
        let (output, _) = run(3, &[(0, 10), (8, 30), (12, 40), (4, 20), (16, 50)]);
        assert_eq!(output, ramp(&[10, 20, 30, 40, 50]));
    }

    #[test]
    fn loss_becomes_silence_once_the_window_is_full() {
        let mut buffer = ReorderBuffer::new(2, 1_000);
        let mut chunks = Vec::new();
        let mut push = |timestamp| {
            let mut describe = |chunk: Chunk<'_>| -> Result<(), ()> {
                chunks.push(match chunk {
                    Chunk::Audio(samples) => format!("audio {}", samples.len()),
                    Chunk::Silence(n) => format!("silence {n}"),
                });
                Ok(())
            };
            buffer.push(timestamp, &[1; 4], &mut describe).unwrap();
        };
        for timestamp in [0, 8, 12, 16] {
            push(timestamp);
        }
        assert_eq!(
            chunks,
            ["audio 4", "silence 4", "audio 4", "audio 4", "audio 4"]
        );
    }

    #[test]
    fn late_and_duplicate_packets_are_dropped() {
        let (output, placements) =
            run(3, &[(0, 10), (4, 20), (0, 99), (12, 40), (12, 98), (4, 97)]);
        assert_eq!(output, [ramp(&[10, 20]), vec![0; 4], ramp(&[40])].concat());
        assert_eq!(
            placements,
            [
                Placement::Accepted,
                Placement::Accepted,
                Placement::Late,
                Placement::Accepted,
                Placement::Late,
                Placement::Late,
            ]
        );
    }

    #[test]
    fn timestamps_wrap() {
        let (output, _) = run(3, &[(u32::MAX - 3, 10), (4, 30), (0, 20)]);
        assert_eq!(output, ramp(&[10, 20, 30]));
    }

    #[test]
    fn huge_jumps_start_a_new_timeline() {
        let (output, placements) = run(3, &[(0, 10), (1_000_000, 20), (1_000_004, 30), (8, 40)]);
        assert_eq!(output, ramp(&[10, 20, 30, 40]));
        assert!(placements.iter().all(|&p| p == Placement::Accepted));
    }

    #[test]
    fn overlapping_packets_keep_only_new_samples() {
        let (output, _) = run(3, &[(0, 10), (8, 30), (6, 20)]);
        assert_eq!(output, [10, 11, 12, 13, 0, 0, 20, 21, 22, 23, 32, 33]);
        // Overlapping what is already out, on the other hand, is late.
        let (output, placements) = run(3, &[(0, 10), (2, 20)]);
        assert_eq!(output, ramp(&[10]));
        assert_eq!(placements[1], Placement::Late);
    }
}
