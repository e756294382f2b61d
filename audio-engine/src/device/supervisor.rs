//! Keeps a device stream alive: notices when it dies or its device goes, and opens a
//! stand-in.
//!
//! Not every backend reports a device that disappears (PulseAudio kills the stream of an
//! unloaded sink without a word to cpal's callback), so a watchdog also counts the device
//! callbacks: a stream whose callbacks stop is as dead as one that reported an error.
//! PulseAudio, on the other hand, moves the stream of an unplugged device to another one
//! by itself, also without a word; so every two seconds the supervisor asks which device
//! the agent's choice means now and switches when it is not the one in use. Asking and
//! reopening run on a thread of their own, because a hung audio server can take seconds
//! to answer and the media task must keep sending RTP meanwhile.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::{
    find, DeviceChoice, DeviceError, DeviceInfo, DeviceNotice, DeviceStats, Direction, Live,
    StreamState,
};

/// A device stream that a [`Supervisor`] can reopen.
pub trait SupervisedStream: Sized + Send + 'static {
    const DIRECTION: Direction;
    fn open(choice: &DeviceChoice) -> Result<Self, DeviceError>;
    /// The started stream, with its device and counters.
    fn live(&self) -> &Live;
}

/// How long a started stream may go without a callback before it counts as dead. An idle
/// PulseAudio sink that wakes up for a new stream can pause it for 1–2 s after its first
/// callbacks (seen with null sinks), which must not count.
const STALLED: Duration = Duration::from_secs(3);
/// The same before the first callback.
const NOT_STARTED: Duration = Duration::from_secs(5);
/// Time between attempts to open a stand-in for a lost device.
const RETRY: Duration = Duration::from_secs(1);
/// Time between checks that the device in use is still the one the choice means.
const CHECK: Duration = Duration::from_secs(2);

/// A device stream that survives its device: [`super::Capture`] and [`super::Playback`].
pub struct Supervisor<S> {
    choice: DeviceChoice,
    stream: Option<S>,
    /// Callbacks counted at the last check, and since when that count stands.
    callbacks: u64,
    since: Instant,
    /// A check (and maybe a new stream) under way on its own thread.
    pending: Option<mpsc::Receiver<Result<Option<S>, DeviceError>>>,
    check_at: Instant,
    notices: VecDeque<DeviceNotice>,
}

impl<S: SupervisedStream> std::fmt::Debug for Supervisor<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Supervisor")
            .field("direction", &S::DIRECTION)
            .field("device", &self.device())
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl<S: SupervisedStream> Supervisor<S> {
    /// Opens the chosen device; the error is the first attempt's.
    pub fn open(choice: &DeviceChoice) -> Result<Self, DeviceError> {
        let stream = S::open(choice)?;
        let now = Instant::now();
        Ok(Self {
            choice: choice.clone(),
            stream: Some(stream),
            callbacks: 0,
            since: now,
            pending: None,
            check_at: now + CHECK,
            notices: VecDeque::new(),
        })
    }

    /// The stream, if one works now. Checks its health first, and drives the periodic
    /// check of the device in the background.
    pub(crate) fn get(&mut self) -> Option<&mut S> {
        let now = Instant::now();
        if let Some(stream) = &self.stream {
            if is_dead(
                stream.live().state(),
                &mut self.callbacks,
                &mut self.since,
                now,
            ) {
                let info = stream.live().info().clone();
                tracing::warn!(device = %info.id, direction = %S::DIRECTION, "audio device lost");
                self.notices.push_back(DeviceNotice::Lost {
                    direction: S::DIRECTION,
                    device: info.id,
                    name: Some(info.name),
                });
                self.stream = None;
                self.check_at = now;
            }
        }
        self.collect(now);
        if self.pending.is_none() && now >= self.check_at {
            self.start_check(now);
        }
        self.stream.as_mut()
    }

    /// The device in use; `None` while a lost one is being replaced.
    pub fn device(&self) -> Option<&DeviceInfo> {
        self.stream.as_ref().map(|s| s.live().info())
    }

    /// Whether the device chosen is missing and the system default stands in.
    pub fn fell_back(&self) -> bool {
        self.stream.as_ref().is_some_and(|s| s.live().fell_back())
    }

    /// The peak level since the last call (0.0..=1.0), for a meter.
    pub fn take_peak(&self) -> f32 {
        self.stream
            .as_ref()
            .map_or(0.0, |s| s.live().state().peak.take())
    }

    /// Counters of the stream in use (a lost one counts as failed).
    pub fn stats(&self) -> DeviceStats {
        self.stream.as_ref().map_or(
            DeviceStats {
                xruns: 0,
                failed: true,
            },
            |s| s.live().state().stats(),
        )
    }

    /// The next thing that happened to the device, if any.
    pub fn poll_notice(&mut self) -> Option<DeviceNotice> {
        self.notices.pop_front()
    }

    /// Asks, on a thread of its own, which device the choice means now, and opens it when
    /// that is not the one in use: the chosen device came back, it went away (the audio
    /// server may have moved our stream to another device without telling cpal), or the
    /// system default changed.
    fn start_check(&mut self, now: Instant) {
        self.check_at = now + if self.stream.is_some() { CHECK } else { RETRY };
        let (tx, rx) = mpsc::channel();
        let choice = self.choice.clone();
        let current = self.stream.as_ref().map(|s| s.live().info().id.clone());
        let spawned = std::thread::Builder::new()
            .name("parley-audio-check".into())
            .spawn(move || {
                let outcome = match find(S::DIRECTION, &choice) {
                    Ok(found) if Some(&found.info.id) == current.as_ref() => Ok(None),
                    // The audio system cannot be asked: keep a stream that works.
                    Err(_) if current.is_some() => Ok(None),
                    _ => S::open(&choice).map(Some),
                };
                let _ = tx.send(outcome);
            });
        if spawned.is_ok() {
            self.pending = Some(rx);
        }
    }

    fn collect(&mut self, now: Instant) {
        let Some(pending) = &self.pending else {
            return;
        };
        let outcome = match pending.try_recv() {
            Err(mpsc::TryRecvError::Empty) => return,
            Err(mpsc::TryRecvError::Disconnected) => Ok(None),
            Ok(outcome) => outcome,
        };
        self.pending = None;
        match outcome {
            Ok(Some(stream)) => {
                tracing::info!(device = %stream.live().info().id, direction = %S::DIRECTION, "audio device switched");
                self.notices.push_back(DeviceNotice::Switched {
                    direction: S::DIRECTION,
                    device: stream.live().info().clone(),
                    fell_back: stream.live().fell_back(),
                });
                self.stream = Some(stream);
                self.callbacks = 0;
                self.since = now;
            }
            Ok(None) => {}
            Err(error) => tracing::debug!(%error, "no audio device to switch to yet"),
        }
    }
}

/// Whether a stream failed or its callbacks stopped: `seen` is the count of callbacks at the
/// last check and `since` when it last changed.
fn is_dead(state: &StreamState, seen: &mut u64, since: &mut Instant, now: Instant) -> bool {
    if state.failed.load(Ordering::Relaxed) {
        return true;
    }
    let callbacks = state.callbacks.load(Ordering::Relaxed);
    if callbacks != *seen {
        *seen = callbacks;
        *since = now;
        return false;
    }
    let limit = if callbacks == 0 { NOT_STARTED } else { STALLED };
    now.duration_since(*since) > limit
}
