//! When to send the next packet: one per packetisation interval, without drift.

use std::num::NonZeroU16;
use std::time::{Duration, Instant};

/// A caller later than this does not catch up packet by packet: a burst of
/// stale audio would only fill the peer's jitter buffer. It skips ahead.
const MAX_LATENESS: Duration = Duration::from_millis(200);

/// A slot of the sending schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Slot {
    /// Index of the slot since the origin; slot n is due at origin + n · interval.
    pub(crate) index: u64,
    /// Slots before this one were skipped after a stall: a new talkspurt.
    pub(crate) after_gap: bool,
}

/// Paces packets on a fixed grid from an origin instant, so that timing errors
/// of the caller never accumulate.
#[derive(Debug, Clone)]
pub(crate) struct Pacer {
    origin: Instant,
    interval: Duration,
    next: u64,
}

impl Pacer {
    /// A schedule whose slot 0 is due at `origin`.
    pub(crate) fn new(origin: Instant, interval_ms: NonZeroU16) -> Self {
        Self {
            origin,
            interval: Duration::from_millis(u64::from(interval_ms.get())),
            next: 0,
        }
    }

    /// When the next slot is due; `None` if that is beyond what `Instant` can hold.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        let nanos = self
            .interval
            .as_nanos()
            .saturating_mul(u128::from(self.next));
        self.origin
            .checked_add(Duration::from_nanos(u64::try_from(nanos).ok()?))
    }

    /// Index of the slot to be sent next.
    pub(crate) fn next_index(&self) -> u64 {
        self.next
    }

    /// The slot to send now, if one is due.
    ///
    /// A caller up to [`MAX_LATENESS`] late gets every slot it missed, one per
    /// call; later than that, it gets the current slot and the ones before are
    /// skipped.
    pub(crate) fn poll(&mut self, now: Instant) -> Option<Slot> {
        let due = self.next_due()?;
        let lateness = now.checked_duration_since(due)?;
        let after_gap = lateness > MAX_LATENESS;
        if after_gap {
            let elapsed = now.duration_since(self.origin).as_nanos();
            // The interval is at least a millisecond, never zero.
            let current = elapsed / self.interval.as_nanos();
            self.next = u64::try_from(current).unwrap_or(u64::MAX);
        }
        let index = self.next;
        self.next = self.next.saturating_add(1);
        Some(Slot { index, after_gap })
    }

    /// Changes the interval from the next slot on, which becomes slot 0.
    pub(crate) fn set_interval(&mut self, interval_ms: NonZeroU16) {
        if let Some(due) = self.next_due() {
            *self = Self::new(due, interval_ms);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn twenty() -> NonZeroU16 {
        NonZeroU16::new(20).unwrap()
    }

    #[test]
    fn paces_on_a_grid_without_drift() {
        let start = Instant::now();
        let mut pacer = Pacer::new(start, twenty());
        assert_eq!(pacer.next_due(), Some(start));
        assert_eq!(pacer.poll(start).map(|s| s.index), Some(0));
        assert_eq!(pacer.poll(start + ms(19)), None);
        // Woken 5 ms late: the next slot is still due at 40 ms, not 45.
        assert_eq!(pacer.poll(start + ms(25)).map(|s| s.index), Some(1));
        assert_eq!(pacer.next_due(), Some(start + ms(40)));
    }

    #[test]
    fn catches_up_a_short_delay_packet_by_packet() {
        let start = Instant::now();
        let mut pacer = Pacer::new(start, twenty());
        let now = start + ms(150);
        let slots: Vec<_> = std::iter::from_fn(|| pacer.poll(now)).collect();
        assert_eq!(slots.len(), 8);
        assert!(slots.iter().all(|slot| !slot.after_gap));
        assert_eq!(pacer.next_due(), Some(start + ms(160)));
    }

    #[test]
    fn skips_ahead_after_a_stall() {
        let start = Instant::now();
        let mut pacer = Pacer::new(start, twenty());
        pacer.poll(start);
        let now = start + ms(1_010);
        let slot = pacer.poll(now).unwrap();
        assert_eq!(
            slot,
            Slot {
                index: 50,
                after_gap: true
            }
        );
        assert_eq!(pacer.poll(now), None);
        assert_eq!(pacer.next_due(), Some(start + ms(1_020)));
    }

    #[test]
    fn a_new_interval_starts_at_the_next_slot() {
        let start = Instant::now();
        let mut pacer = Pacer::new(start, twenty());
        pacer.poll(start);
        pacer.set_interval(NonZeroU16::new(30).unwrap());
        assert_eq!(pacer.next_index(), 0);
        assert_eq!(pacer.next_due(), Some(start + ms(20)));
        pacer.poll(start + ms(20));
        assert_eq!(pacer.next_due(), Some(start + ms(50)));
    }
}
