//! Live audio devices through cpal: the agent's headset and speakers.
//!
//! On Linux cpal talks to PulseAudio (or PipeWire's PulseAudio server) directly, so every
//! sink and source is a device of its own, chosen by its stable server name, and the
//! server converts rate and channels for us: streams are opened at the codec's 8 kHz mono
//! when the device accepts it, and converted here otherwise ([`resample`]).
//!
//! Between a device callback and the media task sits a lock-free single-producer,
//! single-consumer ring (`rtrb`): the callback never allocates, locks or logs, it only
//! copies samples, updates a [`PeakMeter`] and counts over- and underruns in atomics.
//!
//! - [`Capture`]: a microphone as an [`AudioSource`](crate::AudioSource) for a call.
//! - [`Playback`]: a speaker or headset the received audio of a call goes to.
//! - [`ClipPlayer`]: a ringtone or test sound played on its own stream, so that a call can
//!   ring on the speakers while the headset stays on.

mod capture;
mod clip;
mod level;
mod playback;
pub(crate) mod resample;
mod supervisor;

use std::fmt;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use cpal::traits::{DeviceTrait, HostTrait};

pub use capture::Capture;
pub use clip::ClipPlayer;
pub use level::{to_dbfs, PeakMeter};
pub use playback::Playback;
pub use supervisor::Supervisor;

/// The rate devices are asked for: the rate of the codecs and of [`crate::AudioSource`].
const RATE: u32 = crate::source::SAMPLE_RATE;

/// How long opening a stream may take before the device counts as unavailable (a hung
/// audio server must not hang a call).
const OPEN_TIMEOUT: Duration = Duration::from_secs(3);

/// Errors of the device layer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeviceError {
    /// The audio system cannot be reached or listed.
    #[error("the audio system is not available: {0}")]
    Host(String),
    /// No device of that kind exists at all.
    #[error("there is no {0} device")]
    NoDevice(Direction),
    /// A device could not be opened.
    #[error("cannot open the {direction} device {device:?}: {reason}")]
    Open {
        direction: Direction,
        device: String,
        reason: String,
    },
}

/// Whether a device records or plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Input,
    Output,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Direction::Input => "input",
            Direction::Output => "output",
        })
    }
}

/// Which device to use: the system's default (which follows the agent's choice in the OS
/// sound settings), or one by its id.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum DeviceChoice {
    #[default]
    SystemDefault,
    Named(String),
}

impl DeviceChoice {
    /// `None` or an empty id is the system default.
    pub fn from_id(id: Option<&str>) -> Self {
        match id {
            Some(id) if !id.trim().is_empty() => DeviceChoice::Named(id.trim().to_owned()),
            _ => DeviceChoice::SystemDefault,
        }
    }
}

/// Where the received audio of a call goes: `none`, `device` (the system default) or
/// `device:<id>`, as written in a config file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum OutputSpec {
    #[default]
    None,
    Device(DeviceChoice),
}

/// An output description is neither `none`, `device` nor `device:<id>`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown audio output {0:?}: expected \"none\", \"device\" or \"device:<id>\"")]
pub struct OutputSpecError(String);

impl FromStr for OutputSpec {
    type Err = OutputSpecError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        match spec.trim().split_once(':') {
            None if spec.trim().eq_ignore_ascii_case("none") => Ok(OutputSpec::None),
            None if spec.trim().eq_ignore_ascii_case("device") => {
                Ok(OutputSpec::Device(DeviceChoice::SystemDefault))
            }
            Some((kind, id)) if kind.eq_ignore_ascii_case("device") => {
                Ok(OutputSpec::Device(DeviceChoice::from_id(Some(id))))
            }
            _ => Err(OutputSpecError(spec.to_owned())),
        }
    }
}

impl fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeviceChoice::SystemDefault => f.write_str("device"),
            DeviceChoice::Named(id) => write!(f, "device:{id}"),
        }
    }
}

impl fmt::Display for OutputSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OutputSpec::None => f.write_str("none"),
            OutputSpec::Device(choice) => choice.fmt(f),
        }
    }
}

/// One device as the agent sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Stable id to store in settings (PulseAudio: the sink or source name).
    pub id: String,
    /// Human name (PulseAudio: the description, "Jabra Evolve2 65 Mono").
    pub name: String,
    /// The system default of its direction now.
    pub is_default: bool,
}

/// Every device the audio system offers now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceList {
    pub inputs: Vec<DeviceInfo>,
    pub outputs: Vec<DeviceInfo>,
}

/// Lists the devices, asking the audio system afresh (devices come and go).
pub fn list() -> Result<DeviceList, DeviceError> {
    let host = cpal::default_host();
    let host_error = |e: cpal::Error| DeviceError::Host(e.to_string());
    let describe = |devices: Vec<cpal::Device>, default: Option<cpal::Device>| {
        let default_id = default.and_then(|d| id_of(&d));
        devices
            .iter()
            .filter_map(|device| {
                let id = id_of(device)?;
                Some(DeviceInfo {
                    name: name_of(device).unwrap_or_else(|| id.clone()),
                    is_default: default_id.as_ref() == Some(&id),
                    id,
                })
            })
            .collect()
    };
    let inputs = host.input_devices().map_err(host_error)?.collect();
    let outputs = host.output_devices().map_err(host_error)?.collect();
    Ok(DeviceList {
        inputs: describe(inputs, host.default_input_device()),
        outputs: describe(outputs, host.default_output_device()),
    })
}

fn id_of(device: &cpal::Device) -> Option<String> {
    device.id().ok().map(|id| id.id().to_owned())
}

fn name_of(device: &cpal::Device) -> Option<String> {
    device.description().ok().map(|d| d.name().to_owned())
}

/// A device found for a [`DeviceChoice`].
struct Found {
    device: cpal::Device,
    info: DeviceInfo,
    /// The named device is gone and the system default stands in for it.
    fell_back: bool,
}

/// Finds the device chosen, or the system default when the named one is not there (a
/// headset unplugged since it was chosen must not leave the agent without audio).
fn find(direction: Direction, choice: &DeviceChoice) -> Result<Found, DeviceError> {
    let host = cpal::default_host();
    let default = match direction {
        Direction::Input => host.default_input_device(),
        Direction::Output => host.default_output_device(),
    };
    let default_id = default.as_ref().and_then(id_of);
    let named = match choice {
        DeviceChoice::SystemDefault => None,
        DeviceChoice::Named(wanted) => {
            let devices = match direction {
                Direction::Input => host.input_devices().map(|d| d.collect::<Vec<_>>()),
                Direction::Output => host.output_devices().map(|d| d.collect::<Vec<_>>()),
            }
            .map_err(|e| DeviceError::Host(e.to_string()))?;
            devices
                .into_iter()
                .find(|d| id_of(d).as_deref() == Some(wanted.as_str()))
        }
    };
    let fell_back = matches!(choice, DeviceChoice::Named(_)) && named.is_none();
    let device = named.or(default).ok_or(DeviceError::NoDevice(direction))?;
    let id = id_of(&device).unwrap_or_default();
    Ok(Found {
        info: DeviceInfo {
            name: name_of(&device).unwrap_or_else(|| id.clone()),
            is_default: default_id.as_ref() == Some(&id),
            id,
        },
        device,
        fell_back,
    })
}

/// The stream format for a device: the codec rate in mono where the device takes it (the
/// audio server converts better than we would), else the device's own rate and channels;
/// always 32-bit float samples, and 20 ms periods where the size can be set (the packet
/// time: shorter periods cost a wake-up and, with cpal's PulseAudio backend, a server
/// round trip each, for no gain while packets come every 20 ms).
fn stream_config(found: &Found, direction: Direction) -> Result<cpal::StreamConfig, DeviceError> {
    let open_error = |reason: String| DeviceError::Open {
        direction,
        device: found.info.id.clone(),
        reason,
    };
    let (ranges, default) = match direction {
        Direction::Input => (
            found
                .device
                .supported_input_configs()
                .map(|r| r.collect::<Vec<_>>()),
            found.device.default_input_config(),
        ),
        Direction::Output => (
            found
                .device
                .supported_output_configs()
                .map(|r| r.collect::<Vec<_>>()),
            found.device.default_output_config(),
        ),
    };
    let ranges = ranges.map_err(|e| open_error(e.to_string()))?;
    let float =
        |r: &&cpal::SupportedStreamConfigRange| r.sample_format() == cpal::SampleFormat::F32;
    let chosen = ranges
        .iter()
        .filter(float)
        .find(|r| r.channels() == 1 && r.contains_rate(RATE))
        .map(|r| (1, RATE, *r.buffer_size()))
        .or_else(|| {
            let default = default.as_ref().ok()?;
            ranges
                .iter()
                .filter(float)
                .find(|r| {
                    r.channels() == default.channels() && r.contains_rate(default.sample_rate())
                })
                .map(|r| (r.channels(), default.sample_rate(), *r.buffer_size()))
        })
        .ok_or_else(|| open_error("it offers no 32-bit float format".into()))?;
    let (channels, sample_rate, sizes) = chosen;
    let period = sample_rate / 50;
    let buffer_size = match sizes {
        cpal::SupportedBufferSize::Range { min, max } if (min..=max).contains(&period) => {
            cpal::BufferSize::Fixed(period)
        }
        _ => cpal::BufferSize::Default,
    };
    Ok(cpal::StreamConfig {
        channels,
        sample_rate,
        buffer_size,
    })
}

/// What a device callback and its owner share: counters and the level, all atomics.
#[derive(Debug, Default)]
pub(crate) struct StreamState {
    pub(crate) peak: PeakMeter,
    /// Samples the ring had no room for (capture) or did not have (playback).
    pub(crate) xruns: AtomicU64,
    /// The stream reported an error it does not recover from (device gone, server gone).
    pub(crate) failed: AtomicBool,
    /// Device callbacks so far: the watchdog's sign of life.
    pub(crate) callbacks: AtomicU64,
}

impl StreamState {
    pub(crate) fn count_xruns(&self, samples: usize) {
        self.xruns.fetch_add(samples as u64, Ordering::Relaxed);
    }

    /// Called at the start of every device callback.
    pub(crate) fn alive(&self) {
        self.callbacks.fetch_add(1, Ordering::Relaxed);
    }

    fn stats(&self) -> DeviceStats {
        DeviceStats {
            xruns: self.xruns.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
        }
    }
}

/// What happened to a device during a call, for the agent to see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeviceNotice {
    /// The device failed (unplugged, audio server gone); a stand-in is being sought and the
    /// call goes on meanwhile.
    Lost {
        direction: Direction,
        /// The id; empty for the system default.
        device: String,
        /// The human name, when the device was open before.
        name: Option<String>,
    },
    /// Audio goes on, on this device: a stand-in for a lost device, the chosen one back,
    /// or a new system default. `fell_back`: the device chosen is gone and the system
    /// default stands in for it.
    Switched {
        direction: Direction,
        device: DeviceInfo,
        fell_back: bool,
    },
}

/// Counters of a device stream, for statistics and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeviceStats {
    /// Over- and underruns between the device and the call (samples the capture ring had
    /// no room for; times playback ran dry or a packet was dropped to bound the delay).
    pub xruns: u64,
    /// The device failed (unplugged, audio server gone); the call goes on without it.
    pub failed: bool,
}

/// The error callback of a stream, as cpal takes it.
type ErrorCallback = Box<dyn FnMut(cpal::Error) + Send>;

/// The error callback of every stream: marks the stream failed when the error is one it
/// does not recover from. It runs on the backend's thread, not the audio callback's, so it
/// may log.
fn on_stream_error(state: Arc<StreamState>) -> ErrorCallback {
    Box::new(move |error: cpal::Error| {
        let fatal = !matches!(error.kind(), cpal::ErrorKind::Xrun);
        if fatal && !state.failed.swap(true, Ordering::Relaxed) {
            tracing::warn!(%error, "audio device stream failed");
        }
    })
}

/// A device found and the format of its stream decided, before the stream is built: what
/// every kind of stream ([`Capture`], [`Playback`], [`ClipPlayer`]) does first.
struct Prepared {
    found: Found,
    direction: Direction,
    config: cpal::StreamConfig,
    /// Shared with the stream's callbacks.
    state: Arc<StreamState>,
}

impl Prepared {
    fn new(direction: Direction, choice: &DeviceChoice) -> Result<Self, DeviceError> {
        let found = find(direction, choice)?;
        let config = stream_config(&found, direction)?;
        Ok(Prepared {
            found,
            direction,
            config,
            state: Arc::default(),
        })
    }

    /// The sample rate of the stream, in Hz.
    fn rate(&self) -> u32 {
        self.config.sample_rate
    }

    /// Interleaved channels per frame.
    fn channels(&self) -> usize {
        usize::from(self.config.channels.max(1))
    }

    /// Builds the stream with `build` (given the device, the format, the error callback
    /// and the time it may take to open) and starts it.
    fn start(
        self,
        build: impl FnOnce(
            &cpal::Device,
            cpal::StreamConfig,
            ErrorCallback,
            Option<Duration>,
        ) -> Result<cpal::Stream, cpal::Error>,
    ) -> Result<Live, DeviceError> {
        let open_error = |e: cpal::Error| DeviceError::Open {
            direction: self.direction,
            device: self.found.info.id.clone(),
            reason: e.to_string(),
        };
        let stream = build(
            &self.found.device,
            self.config,
            on_stream_error(Arc::clone(&self.state)),
            Some(OPEN_TIMEOUT),
        )
        .map_err(open_error)?;
        cpal::traits::StreamTrait::play(&stream).map_err(open_error)?;
        tracing::debug!(
            device = %self.found.info.id,
            direction = %self.direction,
            rate = self.config.sample_rate,
            channels = self.config.channels,
            "device stream started"
        );
        Ok(Live {
            _stream: stream,
            state: self.state,
            info: self.found.info,
            fell_back: self.found.fell_back,
        })
    }
}

/// A started device stream and what every kind of stream keeps of it (dropping it stops
/// the stream).
pub struct Live {
    _stream: cpal::Stream,
    state: Arc<StreamState>,
    info: DeviceInfo,
    /// The device chosen is missing and the system default stands in.
    fell_back: bool,
}

impl Live {
    pub(crate) fn state(&self) -> &StreamState {
        &self.state
    }

    /// The device in use.
    pub fn info(&self) -> &DeviceInfo {
        &self.info
    }

    /// Whether the named device was missing and the system default stands in.
    pub fn fell_back(&self) -> bool {
        self.fell_back
    }
}
