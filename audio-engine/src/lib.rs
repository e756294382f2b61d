//! Parley's media plane, minimal edition: enough RTP to verify SIP calls end to end.
//!
//! What is here:
//!
//! - [`g711`] and [`codec`]: G.711 µ-law (PCMU) and A-law (PCMA), 8 kHz mono.
//! - [`source`]: audio to send, from [`source::SourceSpec`] strings such as
//!   `silence`, `tone:1000` or `wav:/path/file.wav`.
//! - [`sink`]: a WAV recording of the audio received, readable after a crash.
//! - [`telephone_event`]: DTMF as RFC 4733 telephone events, both ways.
//! - [`media_description`]: the negotiated format and direction of a call.
//! - [`rtp_session`]: [`MediaSession`], the sans-I/O RTP session of one call:
//!   paced sending, mute, hold directions, symmetric RTP latching, playout
//!   through the jitter buffer, counters.
//! - [`jitter`]: the adaptive jitter buffer (after WebRTC NetEQ): target delay
//!   from measured arrivals, time-scale modification, loss concealment.
//! - [`analysis`]: level and dominant frequency, to check that a tone sent
//!   is the tone received.
//! - [`device`]: live microphones and speakers through cpal (PulseAudio on Linux), with
//!   lock-free rings between the device callbacks and the call; [`tones`]: the ringtone
//!   and the speaker test.
//!
//! - [`reports`]: RTCP sender and receiver reports and the round-trip time
//!   (RFC 3550 §6); [`quality`]: the E-model score of a call.
//!
//! - [`srtp`]: SRTP and SRTCP (RFC 3711) with the keys SDES negotiated (RFC 4568).
//!
//! What the full audio engine adds later: Opus (RFC 7587), a 48 kHz pipeline with a
//! proper resampler.

pub mod analysis;
pub mod codec;
pub mod device;
pub mod g711;
pub mod jitter;
pub mod media_description;
pub mod quality;
pub mod reports;
pub mod rtp_session;
pub mod sink;
pub mod source;
pub mod srtp;
pub mod telephone_event;
pub mod tones;

mod pacer;
mod rtp_packet;
mod sequence;

pub use codec::Codec;
pub use media_description::{MediaDirection, MediaFormat};
pub use rtp_session::{CallQuality, MediaConfig, MediaEvent, MediaSession, MediaStats};
pub use sink::{AudioOutput, WavRecorder};
pub use source::{AudioSource, SourceSpec};
pub use telephone_event::DtmfDigit;
