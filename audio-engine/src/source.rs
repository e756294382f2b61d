//! Audio to send: silence, a test tone, a WAV file or a microphone, always as 8 kHz mono.

use std::f64::consts::TAU;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::device::{Capture, DeviceChoice, DeviceError};

/// Sample rate of everything an [`AudioSource`] produces, in Hz.
pub const SAMPLE_RATE: u32 = 8_000;

/// Errors of this module.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// A source description is neither `silence`, `tone:<Hz>`, `wav:<path>`, `device` nor
    /// `device:<id>`.
    #[error(
        "unknown audio source {0:?}: expected \"silence\", \"tone:<Hz>\", \"wav:<path>\", \"device\" or \"device:<id>\""
    )]
    UnknownKind(String),
    /// The frequency of `tone:<Hz>` is not a number.
    #[error("tone frequency {0:?} is not a number of Hz")]
    BadFrequency(String),
    /// A tone frequency cannot be represented at 8 kHz.
    #[error("tone frequency {0} Hz is outside 0 < f < 4000 Hz, the band of 8 kHz audio")]
    FrequencyOutOfRange(f32),
    /// `wav:` was given without a path.
    #[error("\"wav:\" needs a file path, as in \"wav:/path/file.wav\"")]
    MissingPath,
    /// The WAV file could not be opened or decoded.
    #[error("cannot read WAV file {path}: {source}")]
    Wav {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: hound::Error,
    },
    /// The WAV file is readable but holds no audio to loop over.
    #[error("WAV file {0} holds no audio")]
    EmptyWav(PathBuf),
    /// The microphone could not be opened.
    #[error(transparent)]
    Device(#[from] DeviceError),
}

/// Something that produces the audio to send, 8 kHz mono.
pub trait AudioSource {
    /// Fills `out` with the next `out.len()` samples.
    fn fill(&mut self, out: &mut [i16]);

    /// What happened to the device behind the source, for the agent to see; a source
    /// that is no device has nothing to say.
    fn poll_notice(&mut self) -> Option<crate::device::DeviceNotice> {
        None
    }
}

/// A source description as given on a command line or in a config file.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceSpec {
    /// `silence`
    Silence,
    /// `tone:<Hz>`, for example `tone:1000`.
    Tone {
        /// Frequency in Hz, in the open interval (0, 4000).
        freq_hz: f32,
    },
    /// `wav:<path>`, for example `wav:/tmp/prompt.wav`.
    Wav(PathBuf),
    /// `device` (the system default microphone) or `device:<id>`.
    Device(DeviceChoice),
}

impl SourceSpec {
    /// Creates the source described, opening and decoding the file of `wav:`.
    pub fn open(&self) -> Result<Box<dyn AudioSource + Send>, SourceError> {
        Ok(match self {
            Self::Silence => Box::new(Silence),
            Self::Tone { freq_hz } => Box::new(Tone::new(*freq_hz, Tone::DEFAULT_AMPLITUDE)?),
            Self::Wav(path) => Box::new(WavFile::open(path)?),
            Self::Device(choice) => Box::new(Capture::open(choice)?),
        })
    }
}

impl FromStr for SourceSpec {
    type Err = SourceError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let spec = spec.trim();
        let (kind, argument) = match spec.split_once(':') {
            Some((kind, argument)) => (kind, Some(argument)),
            None => (spec, None),
        };
        match (kind.to_ascii_lowercase().as_str(), argument) {
            ("silence", None) => Ok(Self::Silence),
            ("tone", Some(freq)) => {
                let freq_hz = freq
                    .trim()
                    .parse()
                    .map_err(|_| SourceError::BadFrequency(freq.to_owned()))?;
                Ok(Self::Tone {
                    freq_hz: check_frequency(freq_hz)?,
                })
            }
            ("wav", Some("")) => Err(SourceError::MissingPath),
            ("wav", Some(path)) => Ok(Self::Wav(PathBuf::from(path))),
            ("device", id) => Ok(Self::Device(DeviceChoice::from_id(id))),
            _ => Err(SourceError::UnknownKind(spec.to_owned())),
        }
    }
}

impl fmt::Display for SourceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Silence => f.write_str("silence"),
            Self::Tone { freq_hz } => write!(f, "tone:{freq_hz}"),
            Self::Wav(path) => write!(f, "wav:{}", path.display()),
            Self::Device(choice) => choice.fmt(f),
        }
    }
}

/// Digital silence.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silence;

impl AudioSource for Silence {
    fn fill(&mut self, out: &mut [i16]) {
        out.fill(0);
    }
}

/// A sine tone whose phase continues from one [`fill`](AudioSource::fill) to the next.
#[derive(Debug, Clone)]
pub struct Tone {
    /// Phase advance per sample, in cycles.
    increment: f64,
    /// Current phase in cycles, in `0.0..1.0`.
    phase: f64,
    amplitude: f64,
}

impl Tone {
    /// Peak amplitude of `tone:<Hz>` sources: a quarter of full scale (−12 dBFS).
    pub const DEFAULT_AMPLITUDE: i16 = 8_192;

    /// A tone of `freq_hz` (strictly between 0 and 4000 Hz) peaking at `amplitude`.
    pub fn new(freq_hz: f32, amplitude: i16) -> Result<Self, SourceError> {
        let freq_hz = check_frequency(freq_hz)?;
        Ok(Self {
            increment: f64::from(freq_hz) / f64::from(SAMPLE_RATE),
            phase: 0.0,
            amplitude: f64::from(amplitude),
        })
    }
}

impl AudioSource for Tone {
    fn fill(&mut self, out: &mut [i16]) {
        for sample in out {
            // |amplitude · sin| ≤ |amplitude| fits in i16; `as` rounds toward zero.
            *sample = (self.amplitude * (TAU * self.phase).sin()) as i16;
            self.phase = (self.phase + self.increment).fract();
        }
    }
}

/// Checks that a tone frequency lies in the band of 8 kHz audio.
fn check_frequency(freq_hz: f32) -> Result<f32, SourceError> {
    let nyquist = SAMPLE_RATE as f32 / 2.0;
    if freq_hz > 0.0 && freq_hz < nyquist {
        Ok(freq_hz)
    } else {
        Err(SourceError::FrequencyOutOfRange(freq_hz))
    }
}

/// A WAV file played in a loop.
///
/// The whole file is decoded when opened, mixed down to mono and resampled to
/// 8 kHz by linear interpolation (no anti-aliasing filter: good enough for
/// test prompts; the full audio engine brings a proper resampler). Memory use
/// is 16 kB per second of audio.
#[derive(Debug, Clone)]
pub struct WavFile {
    samples: Vec<i16>,
    position: usize,
}

impl WavFile {
    /// Opens and decodes a WAV file of any sample rate, channel count and
    /// sample format that `hound` reads (8/16/24/32-bit integer, 32-bit float).
    pub fn open(path: &Path) -> Result<Self, SourceError> {
        let wav_error = |source| SourceError::Wav {
            path: path.to_owned(),
            source,
        };
        let reader = hound::WavReader::open(path).map_err(wav_error)?;
        let spec = reader.spec();
        let mono = mix_down(reader, spec).map_err(wav_error)?;
        let samples = resample_linear(&mono, spec.sample_rate, SAMPLE_RATE);
        if samples.is_empty() {
            return Err(SourceError::EmptyWav(path.to_owned()));
        }
        Ok(Self {
            samples,
            position: 0,
        })
    }
}

impl AudioSource for WavFile {
    fn fill(&mut self, mut out: &mut [i16]) {
        while !out.is_empty() {
            let available = &self.samples[self.position..];
            let n = available.len().min(out.len());
            out[..n].copy_from_slice(&available[..n]);
            out = &mut out[n..];
            // `samples` is never empty (checked in `open`), so this makes progress.
            self.position = (self.position + n) % self.samples.len();
        }
    }
}

/// Reads every frame and averages its channels, as floats in −1.0..=1.0.
fn mix_down<R: std::io::Read>(
    mut reader: hound::WavReader<R>,
    spec: hound::WavSpec,
) -> Result<Vec<f32>, hound::Error> {
    let channels = usize::from(spec.channels.max(1));
    let samples: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => reader.samples::<f32>().collect::<Result<_, _>>()?,
        hound::SampleFormat::Int => {
            // hound accepts 8 to 32 bits per sample, so the shift is in range.
            let full_scale = (1u64 << (spec.bits_per_sample.clamp(1, 32) - 1)) as f32;
            reader
                .samples::<i32>()
                .map(|sample| sample.map(|s| s as f32 / full_scale))
                .collect::<Result<_, _>>()?
        }
    };
    Ok(samples
        .chunks_exact(channels)
        .map(|frame| frame.iter().sum::<f32>() / channels as f32)
        .collect())
}

/// Resamples by linear interpolation between neighbouring input samples.
fn resample_linear(input: &[f32], from_rate: u32, to_rate: u32) -> Vec<i16> {
    let Some(last) = input.len().checked_sub(1) else {
        return Vec::new();
    };
    if from_rate == 0 {
        return Vec::new();
    }
    let step = f64::from(from_rate) / f64::from(to_rate);
    // Output sample n sits at input position n · step; stop at the last input sample.
    let count = (last as f64 / step) as usize + 1;
    (0..count)
        .map(|n| {
            let position = n as f64 * step;
            let index = (position as usize).min(last);
            let fraction = (position - index as f64) as f32;
            let next = input[(index + 1).min(last)];
            let value = input[index] + (next - input[index]) * fraction;
            // Float-to-int `as` saturates, so out-of-range float WAVs clip.
            (value * 32_768.0) as i16
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::dominant_frequency;

    #[test]
    fn parses_specs() {
        assert_eq!(
            "silence".parse::<SourceSpec>().unwrap(),
            SourceSpec::Silence
        );
        assert_eq!(
            "tone:1000".parse::<SourceSpec>().unwrap(),
            SourceSpec::Tone { freq_hz: 1000.0 }
        );
        assert_eq!(
            " Tone: 440.5 ".parse::<SourceSpec>().unwrap(),
            SourceSpec::Tone { freq_hz: 440.5 }
        );
        assert_eq!(
            "wav:/tmp/a b.wav".parse::<SourceSpec>().unwrap(),
            SourceSpec::Wav(PathBuf::from("/tmp/a b.wav"))
        );
        assert_eq!(
            "device: headset ".parse::<SourceSpec>().unwrap(),
            SourceSpec::Device(DeviceChoice::Named("headset".into()))
        );
        assert_eq!(
            "device:".parse::<SourceSpec>().unwrap(),
            SourceSpec::Device(DeviceChoice::SystemDefault)
        );
        assert_eq!(
            "wav:C:\\prompts\\x.wav".parse::<SourceSpec>().unwrap(),
            SourceSpec::Wav(PathBuf::from("C:\\prompts\\x.wav"))
        );
    }

    #[test]
    fn rejects_bad_specs_with_a_reason() {
        let error = |spec: &str| spec.parse::<SourceSpec>().unwrap_err().to_string();
        assert!(error("noise").contains("expected \"silence\""));
        assert!(error("silence:1").contains("unknown audio source"));
        assert!(error("tone").contains("unknown audio source"));
        assert!(error("tone:abc").contains("not a number"));
        assert!(error("tone:5000").contains("outside"));
        assert!(error("tone:0").contains("outside"));
        assert!(error("tone:NaN").contains("outside"));
        assert!(error("wav:").contains("needs a file path"));
    }

    #[test]
    fn spec_display_parses_back() {
        for spec in [
            "silence",
            "tone:1000",
            "wav:/tmp/x.wav",
            "device",
            "device:alsa_input.usb-Jabra.mono",
        ] {
            let parsed: SourceSpec = spec.parse().unwrap();
            assert_eq!(parsed.to_string(), spec);
        }
    }

    #[test]
    fn silence_is_zero() {
        let mut out = [1i16; 16];
        Silence.fill(&mut out);
        assert_eq!(out, [0; 16]);
    }

    #[test]
    fn tone_is_phase_continuous() {
        let mut whole = Tone::new(1000.0, 10_000).unwrap();
        let mut pieces = whole.clone();
        let mut expected = [0i16; 400];
        whole.fill(&mut expected);
        let mut actual = [0i16; 400];
        for chunk in actual.chunks_mut(7) {
            pieces.fill(chunk);
        }
        assert_eq!(actual, expected);
        assert_eq!(expected.iter().max(), Some(&10_000));
        assert_eq!(expected[..4], [0, 7_071, 10_000, 7_071]);
    }

    #[test]
    fn tone_rejects_frequencies_outside_the_band() {
        assert!(Tone::new(4000.0, 1).is_err());
        assert!(Tone::new(-1.0, 1).is_err());
        assert!(Tone::new(3999.0, 1).is_ok());
    }

    fn write_wav(
        name: &str,
        spec: hound::WavSpec,
        frames: usize,
        value: impl Fn(usize, u16) -> f64,
    ) -> PathBuf {
        let path = std::env::temp_dir().join(format!(
            "audio-engine-source-{}-{name}.wav",
            std::process::id()
        ));
        let mut writer = hound::WavWriter::create(&path, spec).unwrap();
        for frame in 0..frames {
            for channel in 0..spec.channels {
                let v = value(frame, channel);
                match (spec.sample_format, spec.bits_per_sample) {
                    (hound::SampleFormat::Float, _) => writer.write_sample(v as f32).unwrap(),
                    (_, 8) => writer.write_sample((v * 127.0) as i8).unwrap(),
                    (_, 16) => writer.write_sample((v * 32_767.0) as i16).unwrap(),
                    (_, bits) => {
                        let full_scale = 2f64.powi(i32::from(bits) - 1) - 1.0;
                        writer.write_sample((v * full_scale) as i32).unwrap();
                    }
                }
            }
        }
        writer.finalize().unwrap();
        path
    }

    #[test]
    fn wav_is_mixed_down_resampled_and_looped() {
        let cases = [
            (48_000, 2, 16, hound::SampleFormat::Int),
            (44_100, 1, 24, hound::SampleFormat::Int),
            (16_000, 2, 32, hound::SampleFormat::Float),
            (8_000, 1, 8, hound::SampleFormat::Int),
            (11_025, 3, 32, hound::SampleFormat::Int),
        ];
        for (rate, channels, bits, format) in cases {
            let spec = hound::WavSpec {
                channels,
                sample_rate: rate,
                bits_per_sample: bits,
                sample_format: format,
            };
            let name = format!("{rate}-{channels}-{bits}");
            // 0.75 s of 440 Hz at half scale on channel 0, silence on the
            // others: the mono mix peaks at 1/channels of it.
            let path = write_wav(&name, spec, rate as usize * 3 / 4, |frame, channel| {
                let s = 0.5 * (TAU * 440.0 * frame as f64 / f64::from(rate)).sin();
                if channel == 0 {
                    s
                } else {
                    0.0
                }
            });
            let mut wav = WavFile::open(&path).unwrap();
            std::fs::remove_file(&path).unwrap();
            let length = wav.samples.len();
            assert!(
                (length as i64 - 6_000).abs() <= 1,
                "{name}: {length} samples"
            );

            let mut out = vec![0i16; length * 2 + 10];
            wav.fill(&mut out);
            assert_eq!(out[..length], out[length..length * 2], "{name}: loops");
            let freq = dominant_frequency(&out[..length], SAMPLE_RATE).unwrap();
            assert!((freq - 440.0).abs() < 5.0, "{name}: {freq} Hz");
            let expected_peak = 0.5 * 32_768.0 / f64::from(channels);
            let peak = f64::from(*out.iter().max().unwrap());
            assert!(
                (peak - expected_peak).abs() < expected_peak * 0.05,
                "{name}: peak {peak}"
            );
        }
    }

    #[test]
    fn wav_errors_name_the_file() {
        let missing = Path::new("/nonexistent/audio-engine.wav");
        let error = WavFile::open(missing).unwrap_err().to_string();
        assert!(error.contains("/nonexistent/audio-engine.wav"), "{error}");

        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 8_000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let empty = write_wav("empty", spec, 0, |_, _| 0.0);
        let error = WavFile::open(&empty).unwrap_err();
        std::fs::remove_file(&empty).unwrap();
        assert!(matches!(error, SourceError::EmptyWav(_)), "{error}");
    }
}
