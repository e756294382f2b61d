//! Parley against baresip through kamailio: calls both ways with audio verified by
//! frequency, hold and resume from each side, blind transfer in both roles, DTMF both
//! ways (RFC 4733, and SIP INFO from Parley).
//!
//! Attended transfer needs Replaces (RFC 3891), which baresip 1.0 does not implement (see
//! tests/rig/README.md); it is tested between Parley instances in `parley_transfer.rs`.

use parley_e2e::audio;
use parley_e2e::baresip::{Baresip, BaresipConfig};
use parley_e2e::kamailio::{Kamailio, KamailioOptions};
use parley_e2e::parley_cli::{ParleyCli, ParleyConfig};
use parley_e2e::pulse::Pulse;
use parley_e2e::{wait, TestDir};
use serde_json::{json, Value};
use std::path::PathBuf;

/// Kamailio, a registered Parley agent "1001" sending `parley_tone`, and baresips.
struct Setup {
    dir: TestDir,
    pulse: Pulse,
    kamailio: Kamailio,
    agent: ParleyCli,
}

fn setup(
    name: &str,
    parley_tone: u32,
    configure: impl FnOnce(ParleyConfig) -> ParleyConfig,
) -> Setup {
    let dir = TestDir::new(name);
    let pulse = Pulse::ensure();
    let kamailio = Kamailio::start(&dir, KamailioOptions::default());
    let config = configure(
        ParleyConfig::for_kamailio("1001", &kamailio)
            .tone(parley_tone)
            .ready(),
    );
    let agent = ParleyCli::start(&dir, Some(&pulse), config);
    agent.wait_registered(wait::MEDIUM);
    kamailio.wait_registered("1001", wait::SHORT);
    Setup {
        dir,
        pulse,
        kamailio,
        agent,
    }
}

impl Setup {
    fn baresip(&self, config: BaresipConfig) -> Baresip {
        let b = Baresip::start(&self.dir, &self.pulse, Some(&self.kamailio), config);
        b.wait_registered(wait::MEDIUM);
        b
    }
}

/// The first event so far, or within `timeout`, that matches: for events whose order
/// relative to others is not part of the protocol (`media` comes with the state change it
/// belongs to, before or after it).
fn seen(
    agent: &ParleyCli,
    predicate: impl Fn(&Value) -> bool,
    timeout: std::time::Duration,
) -> Value {
    wait::until(timeout, || {
        agent.events().into_iter().find(|e| predicate(e))
    })
    .unwrap_or_else(|| {
        panic!(
            "no such event within {timeout:?}; events: {:#?}",
            agent.events()
        )
    })
}

/// The recording Parley made of a call (from its `media` event).
fn recording(agent: &ParleyCli, call: &Value) -> PathBuf {
    let media = seen(
        agent,
        |e| e["event"] == "media" && e["call"] == *call && e["recording"].is_string(),
        wait::MEDIUM,
    );
    PathBuf::from(media["recording"].as_str().expect("checked above"))
}

fn incoming_call(agent: &ParleyCli) -> Value {
    agent.wait_event(|e| e["event"] == "incoming_call", wait::MEDIUM)["call"].clone()
}

/// Lets audio flow for a while: the recordings need a couple of seconds of tone.
fn talk(bob: &Baresip) {
    bob.wait_received_audio(2.0, wait::LONG);
}

#[test]
fn parley_calls_baresip_with_audio_both_ways() {
    let s = setup("parley_calls_baresip", 440, |c| c);
    let bob = s.baresip(BaresipConfig::new("bob").sine(1000));
    let call = s.agent.dial(&s.kamailio.aor("bob"));
    s.agent.wait_call_state(&call, "connected", wait::MEDIUM);
    bob.wait_call_event("CALL_ESTABLISHED", wait::MEDIUM);
    let recording = recording(&s.agent, &call);
    talk(&bob);
    s.agent.hangup(&call);
    s.agent.wait_call_state(&call, "ended", wait::MEDIUM);
    bob.wait_call_event("CALL_CLOSED", wait::MEDIUM);
    audio::assert_wav_frequency(&bob.wait_received_wav(2.0, wait::MEDIUM), 440.0);
    audio::assert_wav_frequency(&recording, 1000.0);
}

#[test]
fn baresip_calls_parley_with_audio_both_ways_and_context() {
    let s = setup("baresip_calls_parley", 500, |c| c);
    let bob = s.baresip(BaresipConfig::new("bob").sine(1500));
    bob.dial(&s.kamailio.aor("1001"));
    let offered = s
        .agent
        .wait_event(|e| e["event"] == "incoming_call", wait::MEDIUM);
    assert_eq!(offered["from_user"], "bob");
    let call = offered["call"].clone();
    s.agent.wait_call_state(&call, "offered", wait::SHORT);
    seen(
        &s.agent,
        |e| e["event"] == "agent_state" && e["state"] == "reserved",
        wait::SHORT,
    );
    s.agent.answer(&call);
    s.agent.wait_call_state(&call, "connected", wait::MEDIUM);
    seen(
        &s.agent,
        |e| e["event"] == "agent_state" && e["state"] == "on_call",
        wait::SHORT,
    );
    let recording = recording(&s.agent, &call);
    talk(&bob);
    bob.hangup();
    let ended = s.agent.wait_call_state(&call, "ended", wait::MEDIUM);
    assert_eq!(ended["reason"], "remote_hangup");
    audio::assert_wav_frequency(&recording, 1500.0);
    audio::assert_wav_frequency(&bob.wait_received_wav(2.0, wait::MEDIUM), 500.0);
    s.agent.wait_event(
        |e| e["event"] == "agent_state" && e["state"] == "ready",
        wait::SHORT,
    );
    assert!(s
        .agent
        .events()
        .iter()
        .any(|e| e["event"] == "incoming_call"
            && e["to"].as_str().is_some_and(|t| t.contains("1001"))));
}

#[test]
fn hold_and_resume_from_each_side() {
    let s = setup("hold_resume", 440, |c| c);
    let bob = s.baresip(BaresipConfig::new("bob").sine(1000));
    let call = s.agent.dial(&s.kamailio.aor("bob"));
    s.agent.wait_call_state(&call, "connected", wait::MEDIUM);
    bob.wait_call_event("CALL_ESTABLISHED", wait::MEDIUM);

    s.agent.command_ok(json!({"cmd": "hold", "call": call}));
    let held = s.agent.wait_call_state(&call, "held", wait::MEDIUM);
    assert_eq!(held["held_by"], "local");
    seen(
        &s.agent,
        |e| e["event"] == "media" && e["call"] == call && e["direction"] == "sendonly",
        wait::SHORT,
    );
    s.agent.command_ok(json!({"cmd": "resume", "call": call}));
    s.agent.wait_call_state(&call, "connected", wait::MEDIUM);

    bob.hold();
    let held = s.agent.wait_call_state(&call, "held", wait::MEDIUM);
    assert_eq!(held["held_by"], "remote");
    bob.resume();
    s.agent.wait_call_state(&call, "connected", wait::MEDIUM);
    s.agent.hangup(&call);
    bob.wait_call_event("CALL_CLOSED", wait::MEDIUM);
}

#[test]
fn blind_transfer_by_parley() {
    let s = setup("blind_transfer_by_parley", 440, |c| c);
    let bob = s.baresip(BaresipConfig::new("bob").sine(1000));
    let carol = s.baresip(BaresipConfig::new("carol").sine(1500));
    let call = s.agent.dial(&s.kamailio.aor("bob"));
    s.agent.wait_call_state(&call, "connected", wait::MEDIUM);
    bob.wait_call_event("CALL_ESTABLISHED", wait::MEDIUM);
    s.agent
        .command_ok(json!({"cmd": "transfer", "call": call, "to": s.kamailio.aor("carol")}));
    s.agent.wait_event(
        |e| e["event"] == "transfer" && e["state"] == "accepted",
        wait::MEDIUM,
    );
    carol.wait_call_event("CALL_ESTABLISHED", wait::MEDIUM);
    s.agent.wait_event(
        |e| e["event"] == "transfer" && e["state"] == "succeeded",
        wait::MEDIUM,
    );
    let ended = s.agent.wait_call_state(&call, "ended", wait::MEDIUM);
    assert_eq!(ended["reason"], "transferred");
    // Bob and Carol now talk to each other.
    carol.wait_received_audio(2.0, wait::LONG);
    carol.hangup();
    audio::assert_wav_frequency(&carol.wait_received_wav(2.0, wait::MEDIUM), 1000.0);
}

#[test]
fn blind_transfer_of_parley_by_baresip() {
    let s = setup("blind_transfer_of_parley", 440, |c| c);
    let bob = s.baresip(BaresipConfig::new("bob").sine(1000));
    let carol = s.baresip(BaresipConfig::new("carol").sine(1500));
    bob.dial(&s.kamailio.aor("1001"));
    let first = incoming_call(&s.agent);
    s.agent.answer(&first);
    s.agent.wait_call_state(&first, "connected", wait::MEDIUM);
    bob.wait_call_event("CALL_ESTABLISHED", wait::MEDIUM);
    bob.transfer(&s.kamailio.aor("carol"));
    // Parley places the call the REFER asked for and reports it to bob by NOTIFY.
    let second = seen(
        &s.agent,
        |e| e["event"] == "call_state" && e["state"] == "dialing" && e["call"] != first,
        wait::MEDIUM,
    )["call"]
        .clone();
    seen(
        &s.agent,
        |e| e["event"] == "call_state" && e["call"] == second && e["state"] == "connected",
        wait::MEDIUM,
    );
    carol.wait_call_event("CALL_ESTABLISHED", wait::MEDIUM);
    let ended = seen(
        &s.agent,
        |e| e["event"] == "call_state" && e["call"] == first && e["state"] == "ended",
        wait::MEDIUM,
    );
    assert_eq!(ended["reason"], "remote_hangup");
    let recording = recording(&s.agent, &second);
    carol.wait_received_audio(2.0, wait::LONG);
    s.agent.hangup(&second);
    seen(
        &s.agent,
        |e| e["event"] == "call_state" && e["call"] == second && e["state"] == "ended",
        wait::MEDIUM,
    );
    audio::assert_wav_frequency(&recording, 1500.0);
}

#[test]
fn dtmf_both_ways_in_rtp() {
    let s = setup("dtmf_rtp", 440, |c| c);
    let bob = s.baresip(BaresipConfig::new("bob").sine(1000));
    let call = s.agent.dial(&s.kamailio.aor("bob"));
    s.agent.wait_call_state(&call, "connected", wait::MEDIUM);
    bob.wait_call_event("CALL_ESTABLISHED", wait::MEDIUM);
    s.agent
        .command_ok(json!({"cmd": "dtmf", "call": call, "digits": "159#"}));
    assert_eq!(bob.wait_dtmf(4, wait::MEDIUM), "159#");
    bob.send_dtmf("37*");
    let mut got = String::new();
    for _ in 0..3 {
        let e = s
            .agent
            .wait_event(|e| e["event"] == "dtmf" && e["call"] == call, wait::MEDIUM);
        assert_eq!(e["method"], "rfc4733");
        got.push_str(e["digit"].as_str().unwrap_or_default());
    }
    assert_eq!(got, "37*");
    s.agent.hangup(&call);
}

#[test]
fn dtmf_by_sip_info() {
    let s = setup("dtmf_info", 440, |c| c.dtmf("info"));
    let bob = s.baresip(BaresipConfig::new("bob").sine(1000));
    let call = s.agent.dial(&s.kamailio.aor("bob"));
    s.agent.wait_call_state(&call, "connected", wait::MEDIUM);
    bob.wait_call_event("CALL_ESTABLISHED", wait::MEDIUM);
    s.agent
        .command_ok(json!({"cmd": "dtmf", "call": call, "digits": "42"}));
    assert_eq!(bob.wait_dtmf(2, wait::MEDIUM), "42");
    assert!(s.kamailio.log().contains("REQ INFO "), "sent as SIP INFO");
    s.agent.hangup(&call);
}

/// A proxy that challenges calls too (407, RFC 3261 §22.3): Parley answers with its
/// credentials and the call goes through.
#[test]
fn call_through_a_proxy_that_challenges_invites() {
    let dir = TestDir::new("proxy_challenge");
    let pulse = Pulse::ensure();
    let kamailio = Kamailio::start(
        &dir,
        KamailioOptions {
            auth: parley_e2e::kamailio::Auth::All,
            ..KamailioOptions::default()
        },
    );
    // The registrar is the SIP server, with no outbound proxy and so no Route header: the
    // rig's kamailio challenges only initial requests without one.
    let mut config = ParleyConfig::for_kamailio("1001", &kamailio)
        .tone(440)
        .ready();
    config.account.outbound_proxy = None;
    let agent = ParleyCli::start(&dir, Some(&pulse), config);
    agent.wait_registered(wait::MEDIUM);
    let bob = Baresip::start(
        &dir,
        &pulse,
        Some(&kamailio),
        BaresipConfig::new("bob").sine(1000),
    );
    bob.wait_registered(wait::MEDIUM);
    let call = agent.dial(&kamailio.aor("bob"));
    agent.wait_call_state(&call, "connected", wait::MEDIUM);
    bob.wait_call_event("CALL_ESTABLISHED", wait::MEDIUM);
    let log = kamailio.log();
    let invites = log
        .lines()
        .filter(|l| l.contains("REQ INVITE") && l.contains("(sip:1001@"))
        .count();
    assert_eq!(invites, 2, "challenged once, then accepted:\n{log}");
    agent.hangup(&call);
    bob.wait_call_event("CALL_CLOSED", wait::MEDIUM);
}

/// G.711 A-law end to end (the other tests negotiate µ-law).
#[test]
fn pcma_audio_both_ways() {
    let s = setup("pcma", 440, |c| c.codecs(&["PCMA"]));
    let bob = s.baresip(BaresipConfig::new("bob").sine(1000).codecs("PCMA"));
    let call = s.agent.dial(&s.kamailio.aor("bob"));
    s.agent.wait_call_state(&call, "connected", wait::MEDIUM);
    bob.wait_call_event("CALL_ESTABLISHED", wait::MEDIUM);
    let media = seen(
        &s.agent,
        |e| e["event"] == "media" && e["call"] == call,
        wait::SHORT,
    );
    assert_eq!(media["codec"], "PCMA");
    let recording = recording(&s.agent, &call);
    talk(&bob);
    s.agent.hangup(&call);
    bob.wait_call_event("CALL_CLOSED", wait::MEDIUM);
    audio::assert_wav_frequency(&bob.wait_received_wav(2.0, wait::MEDIUM), 440.0);
    audio::assert_wav_frequency(&recording, 1000.0);
}

#[test]
fn parley_talks_and_listens_through_the_agents_devices() {
    let pulse = Pulse::ensure();
    let microphone = pulse.null_sink("mic");
    let speaker = pulse.null_sink("speaker");
    let s = setup("parley_devices", 0, |c| {
        c.devices(&microphone.monitor(), speaker.name())
    });
    let bob = s.baresip(BaresipConfig::new("bob").sine(1000));
    let call = s.agent.dial(&s.kamailio.aor("bob"));
    s.agent.wait_call_state(&call, "connected", wait::MEDIUM);
    bob.wait_call_event("CALL_ESTABLISHED", wait::MEDIUM);
    // The agent speaks: a 440 Hz tone into the microphone.
    let mut voice = vec![0i16; 8_000 * 10];
    audio_engine::source::AudioSource::fill(
        &mut audio_engine::source::Tone::new(440.0, 8_000).expect("in band"),
        &mut voice,
    );
    let mut speaking = microphone.play(&voice);
    let heard = speaker.record(3.0);
    talk(&bob);
    // The agent moves the call to another headset mid-call; a bad device spec changes
    // nothing.
    let headset = pulse.null_sink("headset");
    let refused = s
        .agent
        .command(json!({"cmd": "set_audio", "output": "speaker:2"}));
    assert_eq!(refused["error"], "invalid_command", "{refused}");
    s.agent
        .command_ok(json!({"cmd": "set_audio", "output": format!("device:{}", headset.name())}));
    let heard_on_headset = headset.record(2.0);
    s.agent.hangup(&call);
    s.agent.wait_call_state(&call, "ended", wait::MEDIUM);
    bob.wait_call_event("CALL_CLOSED", wait::MEDIUM);
    let _ = speaking.kill();
    let _ = speaking.wait();
    audio::assert_wav_frequency(&bob.wait_received_wav(2.0, wait::MEDIUM), 440.0);
    let freq = audio_engine::analysis::dominant_frequency(audio::active_part(&heard, 8_000), 8_000)
        .expect("the agent's speaker stayed silent");
    assert!((freq - 1000.0).abs() < audio::TOLERANCE_HZ, "{freq} Hz");
    let freq = audio_engine::analysis::dominant_frequency(
        audio::active_part(&heard_on_headset, 8_000),
        8_000,
    )
    .expect("the new headset stayed silent");
    assert!((freq - 1000.0).abs() < audio::TOLERANCE_HZ, "{freq} Hz");
    assert!(
        !s.agent
            .events()
            .iter()
            .any(|e| e["event"] == "audio_device"),
        "no device was lost: {:#?}",
        s.agent.events()
    );
}

/// Payment card numbers must not be recorded: the agent pauses the recording while the
/// caller reads them (silence is recorded, so the file keeps the call's timeline) and
/// resumes it. A peer whose RTP stops without a BYE is reported after
/// `media.rtp_timeout_seconds`, and again when it flows.
#[test]
fn the_recording_pauses_for_card_numbers_and_a_silent_peer_is_reported() {
    let s = setup("recording_pause", 440, |c| c.rtp_timeout(2));
    let bob = s.baresip(BaresipConfig::new("bob").sine(1000));
    let call = s.agent.dial(&s.kamailio.aor("bob"));
    s.agent.wait_call_state(&call, "connected", wait::MEDIUM);
    let recording = recording(&s.agent, &call);
    talk(&bob);
    s.agent
        .command_ok(json!({"cmd": "pause_recording", "call": call, "paused": true}));
    seen(
        &s.agent,
        |e| e["event"] == "recording" && e["call"] == call && e["paused"] == true,
        wait::SHORT,
    );
    std::thread::sleep(std::time::Duration::from_millis(1_500));
    s.agent
        .command_ok(json!({"cmd": "pause_recording", "call": call, "paused": false}));
    talk(&bob);

    bob.freeze(true);
    let inactive = seen(
        &s.agent,
        |e| e["event"] == "media_inactivity" && e["inactive"] == true,
        wait::MEDIUM,
    );
    assert!(
        inactive["silent_ms"].as_u64().unwrap_or(0) >= 2_000,
        "{inactive}"
    );
    bob.freeze(false);
    seen(
        &s.agent,
        |e| e["event"] == "media_inactivity" && e["inactive"] == false,
        wait::MEDIUM,
    );
    // baresip's RTCP receiver reports give the round trip (loopback: about nothing).
    let rated = seen(
        &s.agent,
        |e| e["event"] == "call_quality" && e["call"] == call && e["rtt_ms"].is_number(),
        wait::MEDIUM,
    );
    assert!(
        rated["rtt_ms"].as_f64().unwrap_or(f64::MAX) < 100.0,
        "{rated}"
    );
    s.agent.hangup(&call);
    s.agent.wait_call_state(&call, "ended", wait::MEDIUM);

    let wav = audio::read_wav_mono(&recording).unwrap_or_else(|e| panic!("{e}"));
    // The first long run of digital silence is the pause (1.5 s, and the commands' round
    // trips on a loaded machine); the frozen peer comes later (concealed, then silence).
    let start = wav.samples.iter().position(|&s| s != 0).unwrap_or(0);
    let runs: Vec<usize> = wav.samples[start..]
        .split(|&s| s != 0)
        .map(<[i16]>::len)
        .filter(|&n| n >= 8_000)
        .collect();
    assert!(
        runs.first()
            .is_some_and(|&n| (11_000..=24_000).contains(&n)),
        "{runs:?}"
    );
    audio::assert_wav_frequency(&recording, 1000.0);
}
