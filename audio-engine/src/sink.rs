//! Received audio to a WAV file that stays readable if the process dies.

use std::fs::File;
use std::io::{BufWriter, Seek, Write};
use std::path::{Path, PathBuf};

use crate::source::SAMPLE_RATE;

/// Errors of this module.
#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    /// The recording file could not be created.
    #[error("cannot create recording {path}: {source}")]
    Create {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        #[source]
        source: std::io::Error,
    },
    /// Writing, flushing or finalising the WAV data failed.
    #[error("cannot write recording: {0}")]
    Wav(#[from] hound::Error),
}

/// Somewhere the received audio of a call is played, 8 kHz mono, as the jitter buffer
/// plays it out (lost audio already concealed).
///
/// Playing cannot fail: an output whose device is gone drops the audio and says so in
/// its own statistics, because a call must never end over a speaker.
pub trait AudioOutput {
    /// Plays samples.
    fn play(&mut self, samples: &[i16]);

    /// What happened to the device behind the output, for the agent to see.
    fn poll_notice(&mut self) -> Option<crate::device::DeviceNotice> {
        None
    }
}

/// Where a recording goes: a file, or memory in tests.
trait WriteSeek: Write + Seek + Send {}

impl<T: Write + Seek + Send> WriteSeek for T {}

/// Records 8 kHz mono 16-bit audio as a WAV file.
///
/// The WAV header (which holds the data length) is rewritten at least once per
/// second of audio, so a crash loses at most the last second. Call
/// [`finalize`](Self::finalize) at the end to see the errors of the last write.
pub struct WavRecorder {
    writer: hound::WavWriter<Box<dyn WriteSeek>>,
    /// Samples written since the header was last brought up to date.
    unflushed: u32,
}

impl WavRecorder {
    /// Samples between two header updates: one second.
    const FLUSH_INTERVAL: u32 = SAMPLE_RATE;

    const SPEC: hound::WavSpec = hound::WavSpec {
        channels: 1,
        sample_rate: SAMPLE_RATE,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };

    /// Creates (or truncates) the file at `path`.
    pub fn create(path: &Path) -> Result<Self, SinkError> {
        let file = File::create(path).map_err(|source| SinkError::Create {
            path: path.to_owned(),
            source,
        })?;
        Self::from_writer(BufWriter::new(file))
    }

    /// Records into any seekable writer, such as a `Cursor<Vec<u8>>`.
    pub fn from_writer(writer: impl Write + Seek + Send + 'static) -> Result<Self, SinkError> {
        let writer: Box<dyn WriteSeek> = Box::new(writer);
        Ok(Self {
            writer: hound::WavWriter::new(writer, Self::SPEC)?,
            unflushed: 0,
        })
    }

    /// Appends samples.
    pub fn write_samples(&mut self, samples: &[i16]) -> Result<(), SinkError> {
        for &sample in samples {
            self.writer.write_sample(sample)?;
        }
        self.count(samples.len())
    }

    /// Number of samples recorded so far.
    pub fn len(&self) -> u32 {
        self.writer.len()
    }

    /// Whether nothing has been recorded yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Writes the final header and flushes the file.
    pub fn finalize(self) -> Result<(), SinkError> {
        Ok(self.writer.finalize()?)
    }

    /// Updates the header once a second of audio has accumulated.
    fn count(&mut self, written: usize) -> Result<(), SinkError> {
        let written = u32::try_from(written).unwrap_or(u32::MAX);
        self.unflushed = self.unflushed.saturating_add(written);
        if self.unflushed >= Self::FLUSH_INTERVAL {
            self.writer.flush()?;
            self.unflushed = 0;
        }
        Ok(())
    }
}

impl std::fmt::Debug for WavRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WavRecorder")
            .field("len", &self.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_path(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!(
            "audio-engine-sink-{}-{name}.wav",
            std::process::id()
        ))
    }

    fn read(path: &Path) -> Vec<i16> {
        let mut reader = hound::WavReader::open(path).unwrap();
        assert_eq!(reader.spec(), WavRecorder::SPEC);
        reader.samples::<i16>().map(Result::unwrap).collect()
    }

    #[test]
    fn records_samples() {
        let path = temp_path("basic");
        let mut recorder = WavRecorder::create(&path).unwrap();
        assert!(recorder.is_empty());
        recorder.write_samples(&[1, -2, 3]).unwrap();
        recorder.write_samples(&[0, 0, i16::MAX]).unwrap();
        assert_eq!(recorder.len(), 6);
        recorder.finalize().unwrap();
        assert_eq!(read(&path), [1, -2, 3, 0, 0, i16::MAX]);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn file_is_readable_without_finalize_up_to_the_last_second() {
        let path = temp_path("crash");
        let mut recorder = WavRecorder::create(&path).unwrap();
        let second: Vec<i16> = (0..8_000).map(|n| (n % 100) as i16).collect();
        recorder.write_samples(&second).unwrap();
        recorder.write_samples(&[5; 100]).unwrap();
        // A crash: the destructor, which would finalise, never runs.
        std::mem::forget(recorder);
        assert_eq!(read(&path), second);
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn create_error_names_the_file() {
        let error = WavRecorder::create(Path::new("/nonexistent/dir/rec.wav")).unwrap_err();
        assert!(
            error.to_string().contains("/nonexistent/dir/rec.wav"),
            "{error}"
        );
    }
}
