//! The agent's audio devices in the desktop: the lists for the settings, a live level meter
//! of the microphone (a Tauri channel), test sounds, and the ringtone on the ring device.
//!
//! Opening a device asks the audio server and can block, so it happens on threads of its
//! own, never on the async runtime; what plays is held by a thread until it ends or is
//! stopped.

use audio_engine::device::{self, Capture, ClipPlayer, DeviceChoice, DeviceError, DeviceInfo};
use audio_engine::tones::Clip;
use audio_engine::{device::OutputSpec, SourceSpec};
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};
use tauri::ipc::Channel;

/// How often the level meter reports.
const METER_INTERVAL: Duration = Duration::from_millis(50);
/// A meter nobody stops ends by itself (a window that went away without saying so).
const METER_LIMIT: Duration = Duration::from_secs(600);

/// The agent's choice of devices (`desktop.toml`, `[audio]`); each `None` is the system
/// default, which follows the OS sound settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(default, deny_unknown_fields)]
pub struct AudioPreferences {
    /// The microphone of calls.
    pub input: Option<String>,
    /// The speaker or headset of calls.
    pub output: Option<String>,
    /// Where the ringtone plays: speakers, so that a call is heard with the headset off.
    pub ring: Option<String>,
}

impl AudioPreferences {
    /// Where a call's audio comes from.
    pub fn source(&self) -> SourceSpec {
        SourceSpec::Device(DeviceChoice::from_id(self.input.as_deref()))
    }

    /// Where a call's audio goes.
    pub fn output_spec(&self) -> OutputSpec {
        OutputSpec::Device(DeviceChoice::from_id(self.output.as_deref()))
    }

    fn ring_device(&self) -> DeviceChoice {
        DeviceChoice::from_id(self.ring.as_deref())
    }

    /// Checks what the types cannot: ids are names the audio system gave, not text to show.
    pub fn validate(&self) -> Result<(), (String, String)> {
        for (field, id) in [
            ("audio.input", &self.input),
            ("audio.output", &self.output),
            ("audio.ring", &self.ring),
        ] {
            if let Some(id) = id {
                if id.len() > 200 || id.chars().any(char::is_control) {
                    return Err((
                        field.into(),
                        "must be a device id of at most 200 printable characters".into(),
                    ));
                }
            }
        }
        Ok(())
    }
}

/// One device, for the settings.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct AudioDevice {
    pub id: String,
    pub name: String,
    pub is_default: bool,
}

impl From<DeviceInfo> for AudioDevice {
    fn from(d: DeviceInfo) -> Self {
        AudioDevice {
            id: d.id,
            name: d.name,
            is_default: d.is_default,
        }
    }
}

/// The devices the audio system offers now.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct AudioDevices {
    pub inputs: Vec<AudioDevice>,
    pub outputs: Vec<AudioDevice>,
}

/// The sounds the settings can test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum TestSound {
    /// A short chord: is the speaker or headset working?
    Speaker,
    /// One cycle of the ringtone: is the ring device working?
    Ring,
}

/// Lists the devices (asks the audio system; blocking).
pub fn devices() -> Result<AudioDevices, DeviceError> {
    let list = device::list()?;
    Ok(AudioDevices {
        inputs: list.inputs.into_iter().map(AudioDevice::from).collect(),
        outputs: list.outputs.into_iter().map(AudioDevice::from).collect(),
    })
}

/// Plays a clip on `choice` on a thread of its own: a clip played once to its end (or a
/// stop sent), a looping one until the returned sender is dropped. Waits until the device
/// is open, so that its error reaches the caller.
fn play(choice: DeviceChoice, clip: Clip, repeat: bool) -> Result<mpsc::Sender<()>, DeviceError> {
    let (opened_tx, opened_rx) = mpsc::channel();
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    std::thread::Builder::new()
        .name("parley-sound".into())
        .spawn(move || {
            let player = match ClipPlayer::start(&choice, &clip, repeat) {
                Ok(player) => player,
                Err(e) => {
                    let _ = opened_tx.send(Err(e));
                    return;
                }
            };
            let _ = opened_tx.send(Ok(()));
            let tick = Duration::from_millis(100);
            loop {
                match stop_rx.recv_timeout(tick) {
                    Ok(()) => break,
                    Err(mpsc::RecvTimeoutError::Disconnected) if repeat => break,
                    Err(mpsc::RecvTimeoutError::Disconnected) => std::thread::sleep(tick),
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                }
                if !repeat && player.finished() {
                    // A moment for the device to play out its buffer.
                    std::thread::sleep(2 * tick);
                    break;
                }
            }
        })
        .map_err(|e| DeviceError::Host(e.to_string()))?;
    opened_rx
        .recv()
        .map_err(|_| DeviceError::Host("the sound thread ended".into()))??;
    Ok(stop_tx)
}

/// What plays and what is measured now.
#[derive(Default)]
pub struct AudioDesk {
    /// The call ringing and the sender that keeps its ringtone going.
    ringing: Mutex<Option<(String, mpsc::Sender<()>)>>,
    /// Stops the level meter running now.
    meter: Mutex<Option<Arc<AtomicBool>>>,
}

impl AudioDesk {
    /// Plays a test sound once on the device chosen (blocking until the device is open).
    pub fn test(&self, prefs: &AudioPreferences, sound: TestSound) -> Result<(), DeviceError> {
        let (choice, clip) = match sound {
            TestSound::Speaker => (
                DeviceChoice::from_id(prefs.output.as_deref()),
                Clip::speaker_test(),
            ),
            TestSound::Ring => (prefs.ring_device(), Clip::ringtone()),
        };
        play(choice, clip, false).map(drop)
    }

    /// Rings for `call` on the ring device until [`AudioDesk::stop_ringing`]. A device that
    /// cannot ring is logged: the window still shows the call.
    pub fn ring(&self, call: &str, prefs: &AudioPreferences) {
        match play(prefs.ring_device(), Clip::ringtone(), true) {
            Ok(stop) => {
                *self.ringing.lock().unwrap_or_else(|e| e.into_inner()) =
                    Some((call.to_owned(), stop));
            }
            Err(e) => tracing::warn!(error = %e, "cannot ring"),
        }
    }

    /// Stops the ringtone of `call` (of any call when `None`).
    pub fn stop_ringing(&self, call: Option<&str>) {
        let mut ringing = self.ringing.lock().unwrap_or_else(|e| e.into_inner());
        if ringing
            .as_ref()
            .is_some_and(|(ringing, _)| call.is_none_or(|c| c == ringing))
        {
            // Dropping the sender ends the thread, and the stream with it.
            *ringing = None;
        }
    }

    /// Whether a ringtone plays now.
    pub fn is_ringing(&self) -> bool {
        self.ringing
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }

    /// Stops the meter running now and makes the stop signal of the next: taken when the
    /// window asks, before the device is opened, so that a `stop_level` that follows at once
    /// is not missed.
    pub fn next_meter(&self) -> Arc<AtomicBool> {
        let stop = Arc::new(AtomicBool::new(false));
        let previous = self
            .meter
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .replace(Arc::clone(&stop));
        if let Some(previous) = previous {
            previous.store(true, Ordering::Relaxed);
        }
        stop
    }

    /// Sends the peak level of the microphone in dBFS on `channel` every 50 ms until `stop`
    /// (see [`AudioDesk::next_meter`]) or ten minutes pass. Blocks until the device is open,
    /// so that its error reaches the caller.
    pub fn meter(
        input: Option<String>,
        channel: Channel<f32>,
        stop: Arc<AtomicBool>,
    ) -> Result<(), DeviceError> {
        let (opened_tx, opened_rx) = mpsc::channel();
        std::thread::Builder::new()
            .name("parley-meter".into())
            .spawn(move || {
                let mut capture = match Capture::open(&DeviceChoice::from_id(input.as_deref())) {
                    Ok(capture) => capture,
                    Err(e) => {
                        let _ = opened_tx.send(Err(e));
                        return;
                    }
                };
                let _ = opened_tx.send(Ok(()));
                let started = Instant::now();
                while !stop.load(Ordering::Relaxed) && started.elapsed() < METER_LIMIT {
                    std::thread::sleep(METER_INTERVAL);
                    capture.discard();
                    let level = device::to_dbfs(capture.take_peak());
                    if channel.send(level).is_err() {
                        break;
                    }
                }
            })
            .map_err(|e| DeviceError::Host(e.to_string()))?;
        opened_rx
            .recv()
            .map_err(|_| DeviceError::Host("the meter thread ended".into()))?
    }

    /// Stops the level meter.
    pub fn stop_meter(&self) {
        if let Some(stop) = self.meter.lock().unwrap_or_else(|e| e.into_inner()).take() {
            stop.store(true, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_ids_are_checked() {
        let ok = AudioPreferences {
            input: Some("alsa_input.usb-Jabra_Evolve2_65-00.mono-fallback".into()),
            ..AudioPreferences::default()
        };
        assert!(ok.validate().is_ok());
        let bad = AudioPreferences {
            ring: Some("x\ny".into()),
            ..AudioPreferences::default()
        };
        assert_eq!(bad.validate().unwrap_err().0, "audio.ring");
    }

    #[test]
    fn the_default_is_the_system_default_everywhere() {
        let prefs = AudioPreferences::default();
        assert_eq!(prefs.source().to_string(), "device");
        assert_eq!(prefs.output_spec().to_string(), "device");
        assert_eq!(prefs.ring_device(), DeviceChoice::SystemDefault);
    }
}
