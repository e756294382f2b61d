//! A microphone as the audio source of a call.

use std::sync::Arc;

use cpal::traits::DeviceTrait;

use super::resample::Resampler;
use super::supervisor::{SupervisedStream, Supervisor};
use super::{DeviceChoice, DeviceError, DeviceNotice, Direction, Live, Prepared, RATE};
use crate::source::AudioSource;

/// The stream of a [`Capture`]: an input device read as 8 kHz mono by the media task.
///
/// The device callback mixes each frame to mono and pushes it into a ring of half a
/// second; [`fill`](AudioSource::fill) converts to the codec rate. The two clocks (the
/// device's and the packet pacer's) drift apart, so when more than 100 ms have piled up the
/// oldest audio is dropped down to 40 ms: the agent's voice must not lag behind.
pub struct CaptureStream {
    live: Live,
    ring: rtrb::Consumer<f32>,
    resampler: Resampler,
    /// Device-rate samples above which the backlog is cut, and what it is cut to.
    max_backlog: usize,
    target_backlog: usize,
}

impl SupervisedStream for CaptureStream {
    const DIRECTION: Direction = Direction::Input;

    fn live(&self) -> &Live {
        &self.live
    }

    /// Opens and starts the chosen input device (the default if a named one is gone).
    fn open(choice: &DeviceChoice) -> Result<Self, DeviceError> {
        let prepared = Prepared::new(Direction::Input, choice)?;
        let rate = prepared.rate();
        let samples = rate as usize;
        let (mut producer, ring) = rtrb::RingBuffer::new(samples / 2);
        let channels = prepared.channels();
        let callback_state = Arc::clone(&prepared.state);
        let live = prepared.start(|device, config, on_error, timeout| {
            device.build_input_stream(
                config,
                move |data: &[f32], _: &cpal::InputCallbackInfo| {
                    callback_state.alive();
                    callback_state.peak.observe(data);
                    let mut dropped = 0;
                    for frame in data.chunks_exact(channels) {
                        let mono = frame.iter().sum::<f32>() / channels as f32;
                        if producer.push(mono).is_err() {
                            dropped += 1;
                        }
                    }
                    if dropped > 0 {
                        callback_state.count_xruns(dropped);
                    }
                },
                on_error,
                timeout,
            )
        })?;
        Ok(Self {
            live,
            ring,
            resampler: Resampler::new(rate, RATE),
            max_backlog: samples / 10,
            target_backlog: samples / 25,
        })
    }
}

impl CaptureStream {
    fn fill(&mut self, out: &mut [i16]) {
        let backlog = self.ring.slots();
        if backlog > self.max_backlog + out.len() {
            if let Ok(chunk) = self.ring.read_chunk(backlog - self.target_backlog) {
                chunk.commit_all();
            }
        }
        let ring = &mut self.ring;
        for sample in out.iter_mut() {
            // A device that has not started yet, or is gone, gives silence.
            let value = self
                .resampler
                .next_sample(|| ring.pop().ok())
                .unwrap_or(0.0);
            // Float-to-int `as` saturates.
            *sample = (value * 32_767.0) as i16;
        }
    }
}

/// A microphone as the audio source of a call, reopened (or replaced by the system
/// default) when it fails.
pub type Capture = Supervisor<CaptureStream>;

impl Capture {
    /// Drops what was captured and not read: a meter with no call reads levels only.
    pub fn discard(&mut self) {
        if let Some(stream) = self.get() {
            let available = stream.ring.slots();
            if let Ok(chunk) = stream.ring.read_chunk(available) {
                chunk.commit_all();
            }
        }
    }
}

impl AudioSource for Capture {
    fn fill(&mut self, out: &mut [i16]) {
        match self.get() {
            Some(stream) => stream.fill(out),
            None => out.fill(0),
        }
    }

    fn poll_notice(&mut self) -> Option<DeviceNotice> {
        Supervisor::poll_notice(self)
    }
}
