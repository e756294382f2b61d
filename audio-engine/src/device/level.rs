//! The peak level of a stream, shared between a device callback and whoever shows it.

use std::sync::atomic::{AtomicU32, Ordering};

/// The highest absolute sample value (0.0..=1.0 full scale) since it was last taken.
///
/// One atomic `fetch_max` per device callback: no locks, so the callback never waits
/// for the thread that reads the meter. Non-negative IEEE 754 floats order like their
/// bit patterns, which is what makes the integer maximum a float maximum.
#[derive(Debug, Default)]
pub struct PeakMeter(AtomicU32);

impl PeakMeter {
    /// Notes the samples of one callback.
    pub fn observe(&self, samples: &[f32]) {
        let peak = samples.iter().fold(
            0.0f32,
            |peak, s| if s.abs() > peak { s.abs() } else { peak },
        );
        // NaN samples are skipped by the comparison; an infinite one must not pin the meter.
        let peak = if peak.is_finite() { peak.min(1.0) } else { 0.0 };
        self.0.fetch_max(peak.to_bits(), Ordering::Relaxed);
    }

    /// The peak since the last call, and starts over.
    pub fn take(&self) -> f32 {
        f32::from_bits(self.0.swap(0, Ordering::Relaxed))
    }
}

/// A peak as dBFS, floored at −90 dB so silence has a number.
pub fn to_dbfs(peak: f32) -> f32 {
    const FLOOR: f32 = -90.0;
    if peak <= 0.0 {
        FLOOR
    } else {
        (20.0 * peak.log10()).max(FLOOR)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_highest_absolute_value_until_taken() {
        let meter = PeakMeter::default();
        meter.observe(&[0.1, -0.5, 0.2]);
        meter.observe(&[0.3]);
        assert_eq!(meter.take(), 0.5);
        assert_eq!(meter.take(), 0.0);
        meter.observe(&[f32::NAN, f32::INFINITY]);
        assert_eq!(meter.take(), 0.0);
        meter.observe(&[2.0]);
        assert_eq!(meter.take(), 1.0);
    }

    #[test]
    fn dbfs() {
        assert_eq!(to_dbfs(1.0), 0.0);
        assert!((to_dbfs(0.5) + 6.02).abs() < 0.01);
        assert_eq!(to_dbfs(0.0), -90.0);
        assert_eq!(to_dbfs(1e-9), -90.0);
    }
}
