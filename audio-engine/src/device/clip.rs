//! A short sound played on a device of its own: the ringtone, the speaker test.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use cpal::traits::{DeviceTrait, StreamTrait};

use super::resample::Resampler;
use super::{
    find, on_stream_error, stream_config, DeviceChoice, DeviceError, DeviceInfo, Direction,
    StreamState, OPEN_TIMEOUT, RATE,
};
use crate::tones::Clip;

/// Plays a [`Clip`] once or in a loop until dropped.
///
/// The clip is converted to the device's rate before the stream starts, so the callback
/// only copies samples.
pub struct ClipPlayer {
    _stream: cpal::Stream,
    state: Arc<StreamState>,
    finished: Arc<AtomicBool>,
    info: DeviceInfo,
    fell_back: bool,
}

impl ClipPlayer {
    /// Starts playing `clip` on the chosen output device; `repeat` loops it.
    pub fn start(choice: &DeviceChoice, clip: &Clip, repeat: bool) -> Result<Self, DeviceError> {
        let found = find(Direction::Output, choice)?;
        let config = stream_config(&found, Direction::Output)?;
        let open_error = |e: cpal::Error| DeviceError::Open {
            direction: Direction::Output,
            device: found.info.id.clone(),
            reason: e.to_string(),
        };
        let samples = Resampler::convert(clip.samples(), RATE, config.sample_rate);
        let channels = usize::from(config.channels.max(1));
        let state = Arc::new(StreamState::default());
        let finished = Arc::new(AtomicBool::new(samples.is_empty()));
        let callback_state = Arc::clone(&state);
        let callback_finished = Arc::clone(&finished);
        let mut position = 0;
        let stream = found
            .device
            .build_output_stream(
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
                on_stream_error(Arc::clone(&state)),
                Some(OPEN_TIMEOUT),
            )
            .map_err(open_error)?;
        stream.play().map_err(open_error)?;
        Ok(Self {
            _stream: stream,
            state,
            finished,
            info: found.info,
            fell_back: found.fell_back,
        })
    }

    /// The device in use.
    pub fn device(&self) -> &DeviceInfo {
        &self.info
    }

    /// Whether the named device was missing and the system default stands in.
    pub fn fell_back(&self) -> bool {
        self.fell_back
    }

    /// A clip played once has been handed to the device completely, or the device failed.
    pub fn finished(&self) -> bool {
        self.finished.load(Ordering::Relaxed) || self.state.failed.load(Ordering::Relaxed)
    }

    /// The peak level played since the last call (0.0..=1.0).
    pub fn take_peak(&self) -> f32 {
        self.state.peak.take()
    }
}

impl std::fmt::Debug for ClipPlayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClipPlayer")
            .field("device", &self.info)
            .field("finished", &self.finished())
            .finish_non_exhaustive()
    }
}
