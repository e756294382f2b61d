//! Audio checks: which tone is in a WAV file.
//!
//! Handles baresip's dumps (8 kHz mono for G.711, 48 kHz stereo for Opus) and Parley's
//! recordings (8 kHz mono): channels are averaged to mono, the silent lead-in and tail
//! (ringing, jitter-buffer fill, the end of the call) are cut off, and
//! `audio_engine::analysis::dominant_frequency` measures what is left.

use std::path::Path;

/// Default tolerance of [`assert_wav_frequency`], in Hz.
pub const TOLERANCE_HZ: f32 = 15.0;

/// A WAV file as mono 16-bit samples.
#[derive(Debug, Clone)]
pub struct MonoAudio {
    /// Samples per second.
    pub sample_rate: u32,
    /// Channels of the file (before mixing down).
    pub channels: u16,
    /// The samples, channels averaged.
    pub samples: Vec<i16>,
}

impl MonoAudio {
    /// Length in seconds.
    pub fn seconds(&self) -> f32 {
        self.samples.len() as f32 / self.sample_rate as f32
    }
}

/// Reads a 16-bit (or 8/24/32-bit integer, or 32-bit float) PCM WAV file, mixed to mono.
pub fn read_wav_mono(path: &Path) -> Result<MonoAudio, String> {
    let mut reader =
        hound::WavReader::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let spec = reader.spec();
    let channels = usize::from(spec.channels.max(1));
    let interleaved: Vec<i32> = match spec.sample_format {
        hound::SampleFormat::Int => {
            let shift = i32::from(spec.bits_per_sample).saturating_sub(16);
            reader
                .samples::<i32>()
                .map(|s| s.map(|s| if shift > 0 { s >> shift } else { s << -shift }))
                .collect::<Result<_, _>>()
        }
        hound::SampleFormat::Float => reader
            .samples::<f32>()
            .map(|s| s.map(|s| (s.clamp(-1.0, 1.0) * 32767.0) as i32))
            .collect::<Result<_, _>>(),
    }
    .map_err(|e| format!("{}: {e}", path.display()))?;
    let samples = interleaved
        .chunks(channels)
        .map(|frame| {
            let sum: i32 = frame.iter().sum();
            (sum / frame.len() as i32).clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16
        })
        .collect();
    Ok(MonoAudio {
        sample_rate: spec.sample_rate,
        channels: spec.channels,
        samples,
    })
}

/// The part of `samples` between the first and the last 20 ms block whose peak exceeds
/// 10 % of the overall peak, minus 100 ms at each end (fade-in, codec start-up, hang-up).
/// Empty for silence.
pub fn active_part(samples: &[i16], sample_rate: u32) -> &[i16] {
    let block = (sample_rate as usize / 50).max(1);
    let peak = samples.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
    if peak < 100 {
        return &[];
    }
    let threshold = peak / 10;
    let loud = |chunk: &[i16]| chunk.iter().any(|s| s.unsigned_abs() > threshold);
    let blocks: Vec<&[i16]> = samples.chunks(block).collect();
    let Some(first) = blocks.iter().position(|c| loud(c)) else {
        return &[];
    };
    let last = blocks.iter().rposition(|c| loud(c)).unwrap_or(first);
    let margin = sample_rate as usize / 10;
    let start = (first * block + margin).min(samples.len());
    let end = ((last + 1) * block)
        .min(samples.len())
        .saturating_sub(margin);
    if end > start {
        &samples[start..end]
    } else {
        &samples[first * block..((last + 1) * block).min(samples.len())]
    }
}

/// The dominant frequency of the audible part of a WAV file, or `None` if it is silent.
pub fn wav_dominant_frequency(path: &Path) -> Result<Option<f32>, String> {
    let audio = read_wav_mono(path)?;
    let active = active_part(&audio.samples, audio.sample_rate);
    Ok(audio_engine::analysis::dominant_frequency(
        active,
        audio.sample_rate,
    ))
}

/// Asserts that the dominant frequency of the audible part of the WAV file at `path` is
/// within ±15 Hz of `expected_hz`.
#[track_caller]
pub fn assert_wav_frequency(path: &Path, expected_hz: f32) {
    assert_wav_frequency_within(path, expected_hz, TOLERANCE_HZ);
}

/// Like [`assert_wav_frequency`] with an explicit tolerance.
#[track_caller]
pub fn assert_wav_frequency_within(path: &Path, expected_hz: f32, tolerance_hz: f32) {
    let audio = read_wav_mono(path).unwrap_or_else(|e| panic!("cannot read WAV: {e}"));
    let active = active_part(&audio.samples, audio.sample_rate);
    let measured = audio_engine::analysis::dominant_frequency(active, audio.sample_rate);
    let summary = format!(
        "{}: {} Hz, {} ch, {:.2} s, audible {:.2} s",
        path.display(),
        audio.sample_rate,
        audio.channels,
        audio.seconds(),
        active.len() as f32 / audio.sample_rate as f32
    );
    match measured {
        Some(hz) => assert!(
            (hz - expected_hz).abs() <= tolerance_hz,
            "dominant frequency {hz:.1} Hz, expected {expected_hz} ± {tolerance_hz} Hz ({summary})"
        ),
        None => panic!("no tone found, expected {expected_hz} Hz: silence ({summary})"),
    }
}

/// Writes a sine tone of `hz` as a 16-bit PCM WAV (e.g. 48 kHz stereo for baresip's
/// `aufile` source, 8 kHz mono for Parley's `wav:` source), at about half of full scale.
pub fn write_tone_wav(
    path: &Path,
    hz: f32,
    sample_rate: u32,
    channels: u16,
    seconds: f32,
) -> Result<(), String> {
    let spec = hound::WavSpec {
        channels,
        sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut writer =
        hound::WavWriter::create(path, spec).map_err(|e| format!("{}: {e}", path.display()))?;
    let frames = (seconds * sample_rate as f32) as u32;
    for n in 0..frames {
        let t = n as f32 / sample_rate as f32;
        let sample = (16_000.0 * (std::f32::consts::TAU * hz * t).sin()) as i16;
        for _ in 0..channels {
            writer
                .write_sample(sample)
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
    }
    writer
        .finalize()
        .map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tone_round_trip_at_both_rates() {
        let dir = tempfile::tempdir().expect("temp dir");
        for (rate, channels, hz) in [(48_000, 2, 440.0), (8_000, 1, 1000.0)] {
            let path = dir.path().join(format!("{rate}.wav"));
            write_tone_wav(&path, hz, rate, channels, 1.0).expect("writing a WAV");
            assert_wav_frequency(&path, hz);
        }
    }

    #[test]
    fn silence_has_no_active_part() {
        assert!(active_part(&[0; 8000], 8000).is_empty());
    }
}
