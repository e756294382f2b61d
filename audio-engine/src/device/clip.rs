//! A short sound played on a device of its own: the ringtone, the speaker test.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use cpal::traits::DeviceTrait;

use super::resample::Resampler;
use super::{DeviceChoice, DeviceError, DeviceInfo, Direction, Live, Prepared, RATE};
use crate::tones::Clip;

/// Plays a [`Clip`] once or in a loop until dropped.
///
/// The clip is converted to the device's rate before the stream starts, so the callback
/// only copies samples.
pub struct ClipPlayer {
    live: Live,
    finished: Arc<AtomicBool>,
}

impl ClipPlayer {
    /// Starts playing `clip` on the chosen output device; `repeat` loops it.
    pub fn start(choice: &DeviceChoice, clip: &Clip, repeat: bool) -> Result<Self, DeviceError> {
        let prepared = Prepared::new(Direction::Output, choice)?;
        let samples = Resampler::convert(clip.samples(), RATE, prepared.rate());
        let channels = prepared.channels();
        let finished = Arc::new(AtomicBool::new(samples.is_empty()));
        let callback_state = Arc::clone(&prepared.state);
        let callback_finished = Arc::clone(&finished);
        let mut position = 0;
        let live = prepared.start(|device, config, on_error, timeout| {
            device.build_output_stream(
                config,
                move |data: &mut [f32], _: &cpal::OutputCallbackInfo| {
                    for frame in data.chunks_exact_mut(channels) {
                        if position == samples.len() && repeat {
                            position = 0;
                        }
                        let sample = samples.get(position).copied().unwrap_or(0.0);
                        position = (position + 1).min(samples.len());
                        frame.fill(sample);
                    }
                    if position == samples.len() && !repeat {
                        callback_finished.store(true, Ordering::Relaxed);
                    }
                    callback_state.peak.observe(data);
                },
                on_error,
                timeout,
            )
        })?;
        Ok(Self { live, finished })
    }

    /// The device in use.
    pub fn device(&self) -> &DeviceInfo {
        self.live.info()
    }

    /// Whether the named device was missing and the system default stands in.
    pub fn fell_back(&self) -> bool {
        self.live.fell_back()
    }

    /// A clip played once has been handed to the device completely, or the device failed.
    pub fn finished(&self) -> bool {
        self.finished.load(Ordering::Relaxed) || self.live.state().failed.load(Ordering::Relaxed)
    }

    /// The peak level played since the last call (0.0..=1.0).
    pub fn take_peak(&self) -> f32 {
        self.live.state().peak.take()
    }
}

impl std::fmt::Debug for ClipPlayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClipPlayer")
            .field("device", self.device())
            .field("finished", &self.finished())
            .finish_non_exhaustive()
    }
}
