//! Sounds Parley makes by itself: the ringtone and the speaker test, synthesised so that
//! they need no file and sound the same everywhere.

use std::f32::consts::TAU;

use crate::source::SAMPLE_RATE;

/// A short mono sound at [`SAMPLE_RATE`], samples in −1.0..=1.0.
#[derive(Debug, Clone, PartialEq)]
pub struct Clip(Vec<f32>);

/// A note of a chime: frequency, start and length in seconds.
struct Note(f32, f32, f32);

impl Clip {
    /// The ringtone: a two-note chime played twice, then quiet, four seconds a cycle. Soft
    /// at the start of each note (no click) and decaying like a bell, so that eight hours
    /// of it stay bearable; its notes (G5, E5) sit where small speakers and headsets are
    /// loud.
    pub fn ringtone() -> Self {
        Self::chime(
            &[
                Note(784.0, 0.0, 0.35),
                Note(659.3, 0.35, 0.5),
                Note(784.0, 0.9, 0.35),
                Note(659.3, 1.25, 0.5),
            ],
            4.0,
        )
    }

    /// The speaker test: a rising major chord, one second.
    pub fn speaker_test() -> Self {
        Self::chime(
            &[
                Note(523.3, 0.0, 0.25),
                Note(659.3, 0.25, 0.25),
                Note(784.0, 0.5, 0.25),
                Note(1046.5, 0.75, 0.25),
            ],
            1.0,
        )
    }

    /// Notes with a 5 ms attack and an exponential decay, plus a quieter octave for
    /// brightness, peaking at −6 dBFS.
    fn chime(notes: &[Note], seconds: f32) -> Self {
        let rate = SAMPLE_RATE as f32;
        let mut samples = vec![0.0f32; (seconds * rate) as usize];
        for Note(freq, start, length) in notes {
            let first = (start * rate) as usize;
            let count = (length * rate) as usize;
            for (n, sample) in samples.iter_mut().skip(first).take(count).enumerate() {
                let t = n as f32 / rate;
                let attack = (t / 0.005).min(1.0);
                let decay = (-t * 6.0 / length).exp();
                let tone = (TAU * freq * t).sin() + 0.3 * (TAU * 2.0 * freq * t).sin();
                *sample += 0.5 / 1.3 * attack * decay * tone;
            }
        }
        Self(samples)
    }

    /// The samples.
    pub fn samples(&self) -> &[f32] {
        &self.0
    }

    /// How long it plays, in milliseconds.
    pub fn duration_ms(&self) -> u64 {
        self.0.len() as u64 * 1_000 / u64::from(SAMPLE_RATE)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::dominant_frequency;

    fn pcm(samples: &[f32]) -> Vec<i16> {
        samples.iter().map(|s| (s * 32_767.0) as i16).collect()
    }

    #[test]
    fn ringtone_rings_then_pauses() {
        let ring = Clip::ringtone();
        assert_eq!(ring.duration_ms(), 4_000);
        let peak = ring.samples().iter().fold(0.0f32, |p, s| p.max(s.abs()));
        assert!(peak > 0.3 && peak <= 0.5, "peak {peak}");
        let rate = SAMPLE_RATE as usize;
        let first = pcm(&ring.samples()[..rate * 3 / 10]);
        let freq = dominant_frequency(&first, SAMPLE_RATE).unwrap();
        assert!((freq - 784.0).abs() < 10.0, "{freq} Hz");
        assert!(ring.samples()[rate * 2..].iter().all(|s| *s == 0.0));
        // No click: the first millisecond is quiet.
        assert!(ring.samples()[..8].iter().all(|s| s.abs() < 0.1));
    }

    #[test]
    fn speaker_test_rises() {
        let test = Clip::speaker_test();
        assert_eq!(test.duration_ms(), 1_000);
        let rate = SAMPLE_RATE as usize;
        let quarter = |i: usize| {
            let part = pcm(&test.samples()[i * rate / 4..(i + 1) * rate / 4]);
            dominant_frequency(&part, SAMPLE_RATE).unwrap()
        };
        assert!(quarter(0) < quarter(1) && quarter(1) < quarter(2) && quarter(2) < quarter(3));
    }
}
