//! The device layer on real PulseAudio null sinks: what Parley plays is heard on the sink's
//! monitor (recorded by `parec`), what `pacat` plays into a sink is what Parley captures,
//! a device that disappears is reported and harms nothing.

use std::thread;
use std::time::{Duration, Instant};

use audio_engine::analysis::dominant_frequency;
use audio_engine::device::{
    self, Capture, ClipPlayer, DeviceChoice, DeviceNotice, Direction, Playback,
};
use audio_engine::source::{AudioSource, Tone};
use audio_engine::tones::Clip;
use audio_engine::AudioOutput;
use parley_e2e::audio::active_part;
use parley_e2e::pulse::Pulse;
use parley_e2e::wait;

fn frequency_of(samples: &[i16]) -> Option<f32> {
    dominant_frequency(active_part(samples, 8_000), 8_000)
}

fn named(id: &str) -> DeviceChoice {
    DeviceChoice::Named(id.to_owned())
}

/// Writes a tone into `playback` in 20 ms packets, paced like a call, for `seconds`.
fn play_paced(playback: &mut Playback, freq_hz: f32, seconds: f32) {
    let mut tone = Tone::new(freq_hz, Tone::DEFAULT_AMPLITUDE).unwrap();
    let start = Instant::now();
    let mut packet = [0i16; 160];
    for n in 0..(seconds * 50.0) as u32 {
        tone.fill(&mut packet);
        playback.play(&packet);
        let due = start + Duration::from_millis(20 * u64::from(n + 1));
        thread::sleep(due.saturating_duration_since(Instant::now()));
    }
}

#[test]
fn every_sink_and_monitor_is_listed_with_its_description() {
    let pulse = Pulse::ensure();
    let sink = pulse.null_sink("list");
    let devices = device::list().unwrap();
    let output = devices
        .outputs
        .iter()
        .find(|d| d.id == sink.name())
        .unwrap_or_else(|| panic!("{} not in {:?}", sink.name(), devices.outputs));
    assert_eq!(output.name, "Parley-test-list");
    assert!(
        devices.inputs.iter().any(|d| d.id == sink.monitor()),
        "{} not in {:?}",
        sink.monitor(),
        devices.inputs
    );
    assert_eq!(devices.outputs.iter().filter(|d| d.is_default).count(), 1);
}

#[test]
fn call_audio_played_is_heard_on_the_device() {
    let pulse = Pulse::ensure();
    let sink = pulse.null_sink("play");
    let mut playback = Playback::open(&named(sink.name())).unwrap();
    assert_eq!(playback.device().unwrap().id, sink.name());
    assert!(!playback.fell_back());
    let recorded = thread::scope(|scope| {
        let recorder = scope.spawn(|| sink.record(2.0));
        play_paced(&mut playback, 1_000.0, 2.5);
        recorder.join().unwrap()
    });
    let freq = frequency_of(&recorded).expect("the sink heard nothing");
    assert!((freq - 1_000.0).abs() < 15.0, "{freq} Hz");
    assert!(playback.take_peak() > 0.1);
    assert!(!playback.stats().failed);
}

#[test]
fn the_microphone_is_captured_as_8_khz_mono() {
    let pulse = Pulse::ensure();
    let sink = pulse.null_sink("capture");
    let mut capture = Capture::open(&named(&sink.monitor())).unwrap();
    let mut tone = Tone::new(440.0, Tone::DEFAULT_AMPLITUDE).unwrap();
    let mut samples = vec![0i16; 8_000 * 4];
    tone.fill(&mut samples);
    let mut player = sink.play(&samples);
    // Read like the packet pacer does: 160 samples every 20 ms.
    let mut captured = Vec::new();
    let start = Instant::now();
    let mut packet = [0i16; 160];
    for n in 0..150u64 {
        capture.fill(&mut packet);
        captured.extend_from_slice(&packet);
        let due = start + Duration::from_millis(20 * (n + 1));
        thread::sleep(due.saturating_duration_since(Instant::now()));
    }
    let _ = player.kill();
    let _ = player.wait();
    let freq = frequency_of(&captured).expect("nothing captured");
    assert!((freq - 440.0).abs() < 15.0, "{freq} Hz");
    assert!(capture.take_peak() > 0.1);
}

#[test]
fn a_clip_rings_on_the_device_chosen_for_it_and_ends() {
    let pulse = Pulse::ensure();
    let ring = pulse.null_sink("ring");
    let clip = Clip::speaker_test();
    let recorded = thread::scope(|scope| {
        let recorder = scope.spawn(|| ring.record(1.5));
        let player = ClipPlayer::start(&named(ring.name()), &clip, false).unwrap();
        assert!(
            wait::until_true(wait::SHORT, || player.finished()),
            "the clip did not finish"
        );
        recorder.join().unwrap()
    });
    assert!(
        active_part(&recorded, 8_000).len() > 4_000,
        "less than half a second of the clip was heard"
    );
}

#[test]
fn a_device_that_is_gone_falls_back_to_the_default() {
    let pulse = Pulse::ensure();
    let _sink = pulse.null_sink("fallback");
    let playback = Playback::open(&named("parley_no_such_device")).unwrap();
    assert!(playback.fell_back());
    assert!(playback.device().unwrap().is_default);
    let capture = Capture::open(&named("parley_no_such_device.monitor")).unwrap();
    assert!(capture.fell_back());
}

#[test]
fn a_device_unplugged_mid_call_is_replaced_by_the_default_and_audio_goes_on() {
    let pulse = Pulse::ensure();
    let mut headset = pulse.null_sink("unplug");
    let mut playback = Playback::open(&named(headset.name())).unwrap();
    let mut capture = Capture::open(&named(&headset.monitor())).unwrap();
    play_paced(&mut playback, 1_000.0, 0.3);
    headset.unload();

    let mut notices = Vec::new();
    let restored = wait::until_true(wait::MEDIUM, || {
        play_paced(&mut playback, 1_000.0, 0.1);
        let mut packet = [0i16; 160];
        capture.fill(&mut packet);
        notices.extend(std::iter::from_fn(|| playback.poll_notice()));
        notices.extend(std::iter::from_fn(|| capture.poll_notice()));
        notices
            .iter()
            .filter(|n| matches!(n, DeviceNotice::Switched { .. }))
            .count()
            == 2
    });
    assert!(restored, "{notices:?}");
    let switched = |direction| {
        notices.iter().any(|n| {
            matches!(n, DeviceNotice::Switched { direction: d, fell_back: true, .. } if *d == direction)
        })
    };
    assert!(
        switched(Direction::Output) && switched(Direction::Input),
        "{notices:?}"
    );
    // The stand-in is the machine's default sink, which other tests play into too, so
    // what it plays is checked by Parley's own meter rather than by recording it.
    assert!(playback.device().unwrap().is_default);
    assert!(playback.fell_back());
    playback.take_peak();
    play_paced(&mut playback, 1_000.0, 1.0);
    assert!(playback.take_peak() > 0.2, "{playback:?}");
    assert!(!playback.stats().failed);
}
