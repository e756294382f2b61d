//! Packet loss from RTP sequence numbers (RFC 3550 §6.4.1 and appendix A.3).

/// A forward jump this large is a restarted stream, not loss (RFC 3550 A.1).
const MAX_DROPOUT: i64 = 3_000;
/// A backward jump this large is a restarted stream, not reordering (RFC 3550 A.1).
const MAX_MISORDER: i64 = 100;

/// Counts the packets lost by one sender.
///
/// As in RFC 3550 §6.4.1, lost = expected − received, where expected follows
/// the highest extended sequence number; duplicates therefore hide losses,
/// and the count never goes below zero.
#[derive(Debug, Clone, Default)]
pub(crate) struct SequenceTracker {
    run: Option<Run>,
    /// Losses of the runs before a restart.
    lost_before: u64,
}

/// A stretch of sequence numbers without a restart.
#[derive(Debug, Clone, Copy)]
struct Run {
    /// Extended sequence numbers: the 16-bit ones, unwrapped.
    base: i64,
    highest: i64,
    received: u64,
}

impl Run {
    fn starting_at(sequence: u16) -> Self {
        Self {
            base: i64::from(sequence),
            highest: i64::from(sequence),
            received: 1,
        }
    }

    fn lost(&self) -> u64 {
        let expected = (self.highest - self.base + 1).unsigned_abs();
        expected.saturating_sub(self.received)
    }
}

impl SequenceTracker {
    /// Takes the sequence number of a packet received.
    pub(crate) fn update(&mut self, sequence: u16) {
        let Some(run) = &mut self.run else {
            self.run = Some(Run::starting_at(sequence));
            return;
        };
        // Serial-number distance from the highest so far: the low 16 bits of
        // the extended number are the last sequence number, the point of the cast.
        let delta = i64::from(sequence.wrapping_sub(run.highest as u16).cast_signed());
        if (-MAX_MISORDER..=MAX_DROPOUT).contains(&delta) {
            run.highest = run.highest.max(run.highest + delta);
            run.received += 1;
        } else {
            self.restart();
            self.run = Some(Run::starting_at(sequence));
        }
    }

    /// For a reception report (RFC 3550 §6.4.1): the extended highest sequence number
    /// received, and the packets expected and received, in the current run.
    pub(crate) fn counts(&self) -> Option<(u32, u64, u64)> {
        let run = self.run.as_ref()?;
        let expected = (run.highest - run.base + 1).unsigned_abs();
        // The extended number's 32 bits: cycles and the last sequence number (§6.4.1).
        Some((run.highest as u32, expected, run.received))
    }

    /// Packets lost so far, over all runs.
    pub(crate) fn lost(&self) -> u64 {
        self.lost_before + self.run.as_ref().map_or(0, Run::lost)
    }

    /// Starts afresh with the next packet, as for a new SSRC, keeping the losses.
    pub(crate) fn restart(&mut self) {
        if let Some(run) = self.run.take() {
            self.lost_before += run.lost();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lost_after(sequences: &[u16]) -> u64 {
        let mut tracker = SequenceTracker::default();
        for &sequence in sequences {
            tracker.update(sequence);
        }
        tracker.lost()
    }

    #[test]
    fn counts_gaps_across_the_wrap() {
        assert_eq!(lost_after(&[]), 0);
        assert_eq!(lost_after(&[7]), 0);
        assert_eq!(lost_after(&[65_534, 65_535, 0, 1]), 0);
        assert_eq!(lost_after(&[65_533, 0, 3]), 4);
    }

    #[test]
    fn reordering_is_not_loss_and_duplicates_hide_it() {
        assert_eq!(lost_after(&[1, 3, 2, 4]), 0);
        assert_eq!(lost_after(&[1, 3, 3]), 0);
        assert_eq!(lost_after(&[1, 4, 3]), 1);
    }

    #[test]
    fn big_jumps_restart_without_counting_the_jump() {
        assert_eq!(lost_after(&[1, 3, 10_000, 10_001, 10_003]), 2);
        assert_eq!(lost_after(&[5_000, 5_002, 100, 101]), 1);
    }
}
