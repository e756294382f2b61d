//! Sample-rate conversion of a continuous mono stream by linear interpolation.
//!
//! The device layer asks the audio server for the codec's rate, so on PulseAudio and
//! PipeWire this runs at a ratio of exactly 1 and passes samples through unchanged; it
//! does real work only on hosts whose device refuses that rate. Linear interpolation has
//! no anti-aliasing filter, which is acceptable for speech band-limited to 4 kHz going up,
//! and audible (slightly) going down from a high device rate: the full 48 kHz pipeline of
//! the audio engine replaces it with a windowed-sinc resampler.

/// Converts a stream at one rate to another, one output sample at a time.
///
/// Allocation-free, so it may run inside a device callback.
#[derive(Debug, Clone)]
pub(crate) struct Resampler {
    /// Input samples per output sample.
    step: f64,
    /// Position of the next output sample after `previous`, in input samples (0..=1
    /// interpolates between `previous` and the next input sample).
    position: f64,
    previous: f32,
    next: Option<f32>,
}

impl Resampler {
    /// A converter from `from_rate` to `to_rate` Hz (both non-zero).
    pub(crate) fn new(from_rate: u32, to_rate: u32) -> Self {
        Self {
            step: f64::from(from_rate.max(1)) / f64::from(to_rate.max(1)),
            // Starting at 1.0 makes equal rates an exact pass-through.
            position: 1.0,
            previous: 0.0,
            next: None,
        }
    }

    /// The next output sample, pulling input samples from `input` as needed; `None` when
    /// `input` runs dry (the converter keeps its place and continues on the next call).
    pub(crate) fn next_sample(&mut self, mut input: impl FnMut() -> Option<f32>) -> Option<f32> {
        loop {
            let next = match self.next {
                Some(next) => next,
                None => {
                    let sample = input()?;
                    self.next = Some(sample);
                    sample
                }
            };
            if self.position <= 1.0 {
                let t = self.position as f32;
                self.position += self.step;
                // Exactly on an input sample: that sample (keeps equal rates bit-exact).
                if t == 1.0 {
                    return Some(next);
                }
                return Some(self.previous + (next - self.previous) * t);
            }
            self.position -= 1.0;
            self.previous = next;
            self.next = None;
        }
    }

    /// Converts a whole clip at once.
    pub(crate) fn convert(samples: &[f32], from_rate: u32, to_rate: u32) -> Vec<f32> {
        let mut resampler = Self::new(from_rate, to_rate);
        let mut input = samples.iter().copied();
        let capacity = samples.len() as u64 * u64::from(to_rate) / u64::from(from_rate.max(1));
        let mut out = Vec::with_capacity(usize::try_from(capacity).unwrap_or(0) + 1);
        while let Some(sample) = resampler.next_sample(|| input.next()) {
            out.push(sample);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::dominant_frequency;
    use std::f32::consts::TAU;

    #[test]
    fn equal_rates_pass_samples_through() {
        let input: Vec<f32> = (0..100).map(|i| (i as f32 * 0.37).sin()).collect();
        assert_eq!(Resampler::convert(&input, 8_000, 8_000), input);
    }

    #[test]
    fn keeps_frequency_and_length_both_ways() {
        for (from, to) in [
            (48_000, 8_000),
            (8_000, 48_000),
            (44_100, 8_000),
            (8_000, 44_100),
        ] {
            let input: Vec<f32> = (0..from)
                .map(|i| 0.5 * (TAU * 440.0 * i as f32 / from as f32).sin())
                .collect();
            let output = Resampler::convert(&input, from, to);
            // Nothing is invented after the last input sample: up to one input period short.
            let slack = i64::from(to.div_ceil(from)) + 1;
            assert!(
                (output.len() as i64 - i64::from(to)).abs() <= slack,
                "{from}->{to}: {} samples",
                output.len()
            );
            let pcm: Vec<i16> = output.iter().map(|s| (s * 32_767.0) as i16).collect();
            let freq = dominant_frequency(&pcm, to).unwrap();
            assert!((freq - 440.0).abs() < 5.0, "{from}->{to}: {freq} Hz");
        }
    }

    #[test]
    fn streaming_in_pieces_equals_converting_at_once() {
        let input: Vec<f32> = (0..1_000).map(|i| (i as f32 * 0.01).cos()).collect();
        let whole = Resampler::convert(&input, 44_100, 8_000);
        let mut resampler = Resampler::new(44_100, 8_000);
        let mut pieces = Vec::new();
        for chunk in input.chunks(37) {
            let mut it = chunk.iter().copied();
            while let Some(s) = resampler.next_sample(|| it.next()) {
                pieces.push(s);
            }
        }
        assert_eq!(pieces, whole);
    }
}
