//! A speaker or headset playing the received audio of a call.

use std::sync::Arc;

use cpal::traits::DeviceTrait;

use super::resample::Resampler;
use super::supervisor::{SupervisedStream, Supervisor};
use super::{DeviceChoice, DeviceError, DeviceNotice, Direction, Live, Prepared, RATE};
use crate::sink::AudioOutput;

/// The stream of a [`Playback`]: an output device written as 8 kHz mono by the media task.
///
/// The media task pushes decoded audio into a ring of half a second; the device callback
/// pulls from it. The callback waits until 40 ms are buffered before it plays (after the
/// start and after every underrun), so that packets arriving a little unevenly do not
/// click; writes that would pile up more than 120 ms are dropped, so that delay cannot
/// grow without bound when the sender's clock runs fast. (The adaptive jitter buffer of
/// the full audio engine takes over this job.)
pub struct PlaybackStream {
    live: Live,
    ring: rtrb::Producer<f32>,
    resampler: Resampler,
    max_backlog: usize,
}

impl SupervisedStream for PlaybackStream {
    const DIRECTION: Direction = Direction::Output;

    fn live(&self) -> &Live {
        &self.live
    }

    /// Opens and starts the chosen output device (the default if a named one is gone).
    fn open(choice: &DeviceChoice) -> Result<Self, DeviceError> {
        let prepared = Prepared::new(Direction::Output, choice)?;
        let rate = prepared.rate();
        let samples = rate as usize;
        let (ring, mut consumer) = rtrb::RingBuffer::new(samples / 2);
        let channels = prepared.channels();
        let prefill = samples / 25;
        let mut primed = false;
        let callback_state = Arc::clone(&prepared.state);
        let live = prepared.start(|device, config, on_error, timeout| {
            device.build_output_stream(
                config,
                move |data: &mut [f32], _: &cpal::OutputCallbackInfo| {
                    callback_state.alive();
                    if !primed && consumer.slots() >= prefill {
                        primed = true;
                    }
                    for frame in data.chunks_exact_mut(channels) {
                        let sample = if primed {
                            consumer.pop().unwrap_or_else(|_| {
                                primed = false;
                                callback_state.count_xruns(1);
                                0.0
                            })
                        } else {
                            0.0
                        };
                        frame.fill(sample);
                    }
                    callback_state.peak.observe(data);
                },
                on_error,
                timeout,
            )
        })?;
        Ok(Self {
            live,
            ring,
            resampler: Resampler::new(RATE, rate),
            max_backlog: samples * 3 / 25,
        })
    }
}

impl PlaybackStream {
    fn push(&mut self, samples: impl Iterator<Item = f32>) {
        let buffered = self.ring.buffer().capacity() - self.ring.slots();
        if buffered > self.max_backlog {
            self.live.state().count_xruns(1);
            return;
        }
        let ring = &mut self.ring;
        let mut samples = samples;
        while let Some(sample) = self.resampler.next_sample(|| samples.next()) {
            if ring.push(sample).is_err() {
                break;
            }
        }
    }
}

/// A speaker or headset playing the received audio of a call, reopened (or replaced by
/// the system default) when it fails.
pub type Playback = Supervisor<PlaybackStream>;

impl AudioOutput for Playback {
    fn play(&mut self, samples: &[i16]) {
        if let Some(stream) = self.get() {
            stream.push(samples.iter().map(|&s| f32::from(s) / 32_768.0));
        }
    }

    fn poll_notice(&mut self) -> Option<DeviceNotice> {
        Supervisor::poll_notice(self)
    }
}
