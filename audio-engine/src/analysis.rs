//! Signal measurements: level and dominant frequency.
//!
//! Used to check that a tone sent arrives as that tone (interop tests) and, later,
//! by the desktop's speaker and microphone test.

use std::f64::consts::TAU;

/// Frequencies that [`dominant_frequency`] looks at, in Hz: the telephone band
/// and a little more, without mains hum and DC.
const BAND_HZ: (f64, f64) = (50.0, 4_000.0);

/// At most this many samples, from the middle of the signal, are analysed.
const MAX_ANALYSIS_LEN: usize = 1 << 16;

/// Below this RMS (relative to full scale: less than one step of 16-bit audio)
/// a signal is silence and has no dominant frequency.
const SILENCE_RMS: f32 = 1.0 / 32_768.0;

/// Root mean square level relative to full scale: 1.0 for a full-scale square
/// wave, about 0.707 for a full-scale sine, 0.0 for silence or no samples.
pub fn rms(samples: &[i16]) -> f32 {
    if samples.is_empty() {
        return 0.0;
    }
    let sum: f64 = samples
        .iter()
        .map(|&s| {
            let s = f64::from(s) / 32_768.0;
            s * s
        })
        .sum();
    (sum / samples.len() as f64).sqrt() as f32
}

/// The frequency in Hz with the most energy between 50 and 4000 Hz (and below
/// half the sample rate), or `None` for silence and signals too short to tell.
///
/// A Hann-windowed DFT (a radix-2 FFT, zero-padded) finds the strongest bin,
/// and a parabola through the log power of it and its neighbours places the
/// peak between bins. For a pure tone of 0.5 s at 8 kHz this is within 1 Hz.
pub fn dominant_frequency(samples: &[i16], sample_rate: u32) -> Option<f32> {
    if sample_rate == 0 || samples.len() < 4 || rms(samples) < SILENCE_RMS {
        return None;
    }
    let start = samples.len().saturating_sub(MAX_ANALYSIS_LEN) / 2;
    let samples = &samples[start..samples.len().min(start + MAX_ANALYSIS_LEN)];

    let n = samples.len().next_power_of_two();
    let mut re = vec![0.0; n];
    let mut im = vec![0.0; n];
    let last = (samples.len() - 1) as f64;
    for (i, (re, &sample)) in re.iter_mut().zip(samples).enumerate() {
        let hann = 0.5 - 0.5 * (TAU * i as f64 / last).cos();
        *re = f64::from(sample) * hann;
    }
    fft(&mut re, &mut im);

    let bin_hz = f64::from(sample_rate) / n as f64;
    let top_hz = BAND_HZ.1.min(f64::from(sample_rate) / 2.0);
    // Bins 1..n/2 - 1, so that every candidate has two neighbours.
    let low = ((BAND_HZ.0 / bin_hz).ceil() as usize).max(1);
    let high = ((top_hz / bin_hz).floor() as usize).min(n / 2 - 1);
    let log_power = |k: usize| (re[k] * re[k] + im[k] * im[k] + f64::MIN_POSITIVE).ln();
    let peak = (low..=high).max_by(|&a, &b| log_power(a).total_cmp(&log_power(b)))?;

    let (before, at, after) = (log_power(peak - 1), log_power(peak), log_power(peak + 1));
    let curvature = before - 2.0 * at + after;
    let offset = if curvature < 0.0 {
        (0.5 * (before - after) / curvature).clamp(-0.5, 0.5)
    } else {
        0.0
    };
    Some(((peak as f64 + offset) * bin_hz) as f32)
}

/// In-place iterative radix-2 FFT; the length must be a power of two.
fn fft(re: &mut [f64], im: &mut [f64]) {
    let n = re.len();
    if n < 2 {
        return;
    }
    let bits = n.trailing_zeros();
    for i in 0..n {
        let j = i.reverse_bits() >> (usize::BITS - bits);
        if j > i {
            re.swap(i, j);
            im.swap(i, j);
        }
    }
    let mut size = 2;
    while size <= n {
        let half = size / 2;
        for k in 0..half {
            let (sin, cos) = (-TAU * k as f64 / size as f64).sin_cos();
            for a in (k..n).step_by(size) {
                let b = a + half;
                let t_re = re[b] * cos - im[b] * sin;
                let t_im = re[b] * sin + im[b] * cos;
                re[b] = re[a] - t_re;
                im[b] = im[a] - t_im;
                re[a] += t_re;
                im[a] += t_im;
            }
        }
        size *= 2;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq: f64, amplitude: f64, rate: u32, len: usize) -> impl Iterator<Item = f64> {
        (0..len).map(move |i| amplitude * (TAU * freq * i as f64 / f64::from(rate)).sin())
    }

    fn to_i16(signal: impl Iterator<Item = f64>) -> Vec<i16> {
        signal.map(|s| s.round() as i16).collect()
    }

    #[test]
    fn finds_pure_tones_across_the_band() {
        for freq in [60.0, 440.0, 1_000.0, 1_633.0, 2_718.3, 3_900.0] {
            let tone = to_i16(sine(freq, 10_000.0, 8_000, 4_000));
            let found = f64::from(dominant_frequency(&tone, 8_000).unwrap());
            assert!((found - freq).abs() < 1.0, "{freq} Hz found as {found}");
        }
    }

    #[test]
    fn finds_tones_at_other_rates_and_lengths() {
        let tone = to_i16(sine(1_000.0, 3_000.0, 48_000, 200_000));
        let found = dominant_frequency(&tone, 48_000).unwrap();
        assert!((found - 1_000.0).abs() < 1.0, "{found}");
        // 125 ms is short, but still within ±5 Hz.
        let short = to_i16(sine(697.0, 3_000.0, 8_000, 1_000));
        let found = dominant_frequency(&short, 8_000).unwrap();
        assert!((found - 697.0).abs() < 5.0, "{found}");
    }

    #[test]
    fn the_stronger_of_two_tones_in_noise_wins() {
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let noise = std::iter::from_fn(move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            Some((state % 4_001) as f64 - 2_000.0)
        });
        let signal = sine(1_209.0, 6_000.0, 8_000, 8_000)
            .zip(sine(770.0, 3_000.0, 8_000, 8_000))
            .zip(noise)
            .map(|((a, b), n)| a + b + n);
        let found = dominant_frequency(&to_i16(signal), 8_000).unwrap();
        assert!((found - 1_209.0).abs() < 2.0, "{found}");
    }

    #[test]
    fn nothing_to_find() {
        assert_eq!(dominant_frequency(&[], 8_000), None);
        assert_eq!(dominant_frequency(&[0; 8_000], 8_000), None);
        assert_eq!(dominant_frequency(&[100, -100, 100], 8_000), None);
        assert_eq!(dominant_frequency(&[100; 100], 0), None);
        // A 100 Hz rate has no band left above 50 Hz.
        assert_eq!(dominant_frequency(&[100, -100, 100, -100], 100), None);
    }

    #[test]
    fn rms_levels() {
        assert_eq!(rms(&[]), 0.0);
        assert_eq!(rms(&[0; 10]), 0.0);
        assert!((rms(&[i16::MIN, i16::MIN]) - 1.0).abs() < 1e-6);
        let tone = to_i16(sine(1_000.0, 16_384.0, 8_000, 8_000));
        assert!((rms(&tone) - 0.5 / 2f32.sqrt()).abs() < 1e-3);
    }
}
