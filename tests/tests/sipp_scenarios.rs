//! Validation of the sipp scenarios in `tests/sipp/` against peers that exist today:
//! each other (UAC against UAS), Kamailio in the middle, and baresip. Parley's own interop
//! tests use the same files against `parley-cli`.

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use parley_e2e::baresip::{Baresip, BaresipConfig};
use parley_e2e::kamailio::{Kamailio, KamailioOptions};
use parley_e2e::pulse::Pulse;
use parley_e2e::sipp::{Sipp, SippOutcome};
use parley_e2e::{ports, wait, TestDir};

/// Keys that some scenarios need (sipp refuses to load a scenario with an unknown keyword).
fn with_keys(sipp: Sipp) -> Sipp {
    sipp.key("customer_id", "C-1001")
        .key("uui", "0123456789abcdef")
        .key("refer_to", "sip:carol@127.0.0.1:5060")
}

/// Runs `uac` against `uas` on loopback; both must succeed.
#[track_caller]
fn pair(dir: &TestDir, uac: &str, uas: &str, pause: Duration) -> (SippOutcome, SippOutcome) {
    let server = with_keys(Sipp::uas(uas)).spawn(dir);
    let client = with_keys(Sipp::uac(uac, server.addr()))
        .service("agent")
        .pause(pause)
        .run(dir);
    let server = server.wait(wait::LONG);
    client.assert_success();
    server.assert_success();
    (client, server)
}

#[test]
fn every_scenario_loads() {
    let dir = TestDir::new("scenarios_load");
    let mut scenarios: Vec<_> = std::fs::read_dir(parley_e2e::sipp_dir())
        .expect("tests/sipp exists")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .collect();
    scenarios.sort();
    assert!(scenarios.len() >= 18, "scenarios: {scenarios:?}");
    // A socket that never answers: every scenario runs until sipp's global timeout, unless
    // it cannot be loaded (then sipp exits at once and says why).
    let silent = UdpSocket::bind(("127.0.0.1", ports::port())).expect("a free port");
    let nobody = silent.local_addr().expect("bound");
    let runs: Vec<_> = scenarios
        .iter()
        .map(|path| {
            let name = path
                .file_stem()
                .expect("a file name")
                .to_string_lossy()
                .into_owned();
            let mut sipp = with_keys(Sipp::uas(path.to_str().expect("UTF-8 path")))
                .name(&format!("load-{name}"))
                .timeout(Duration::from_secs(2));
            if name.starts_with("uac") {
                sipp = sipp.remote(nobody).service("agent");
            }
            (name, sipp.spawn(&dir))
        })
        .collect();
    for (name, run) in runs {
        let outcome = run.wait(wait::LONG);
        let stderr = std::fs::read_to_string(&outcome.stderr_path).unwrap_or_default();
        let loaded =
            outcome.errors.contains("timed out after") || stderr.contains("timed out after");
        assert!(
            loaded && !outcome.timed_out,
            "{name} did not load:\n{outcome}\nstderr:\n{stderr}"
        );
    }
}

#[test]
fn uac_basic_against_uas_basic() {
    let dir = TestDir::new("pair_basic");
    let (client, server) = pair(&dir, "uac_basic", "uas_basic", Duration::from_millis(200));
    let received = server.messages();
    assert!(received.contains("X-Customer-Id: C-1001"), "{received}");
    assert!(received.contains("User-to-User: 0123456789abcdef;encoding=hex"));
    assert_eq!(client.successful_calls(), 1);
}

#[test]
fn uac_100rel_against_uas_100rel() {
    let dir = TestDir::new("pair_100rel");
    let (client, _) = pair(&dir, "uac_100rel", "uas_100rel", Duration::from_millis(200));
    let messages = client.messages();
    assert!(messages.contains("RAck: 1 1 INVITE"), "{messages}");
}

#[test]
fn uac_session_timer_against_uas_session_timer() {
    let dir = TestDir::new("pair_session_timer");
    let (client, _) = pair(
        &dir,
        "uac_session_timer",
        "uas_session_timer",
        Duration::from_millis(500),
    );
    assert!(client
        .messages()
        .contains("Session-Expires: 90;refresher=uac"));
}

#[test]
fn uac_cancel_against_uas_ringing_then_cancel() {
    let dir = TestDir::new("pair_cancel");
    let (client, _) = pair(
        &dir,
        "uac_cancel_before_answer",
        "uas_ringing_then_cancel",
        Duration::from_millis(300),
    );
    assert!(client.messages().contains("SIP/2.0 487 Request Terminated"));
}

#[test]
fn uac_refer_against_uas_refer() {
    let dir = TestDir::new("pair_refer");
    let (client, server) = pair(&dir, "uac_refer", "uas_refer", Duration::from_millis(200));
    assert!(client
        .messages()
        .contains("Refer-To: <sip:carol@127.0.0.1:5060>"));
    assert!(server.messages().contains("Subscription-State: terminated"));
}

/// The UAS scenarios save the INVITE's Vias and Record-Route for later responses: check
/// that with a record-routing proxy in the middle (two Vias, a Record-Route), including the
/// PRACK and REFER/NOTIFY relaying of the rig's Kamailio.
#[test]
fn scenario_pairs_through_kamailio() {
    let dir = TestDir::new("pairs_via_kamailio");
    let kamailio = Kamailio::start(&dir, KamailioOptions::default());
    for (uac, uas) in [
        ("uac_100rel", "uas_100rel"),
        ("uac_refer", "uas_refer"),
        ("uac_cancel_before_answer", "uas_ringing_then_cancel"),
    ] {
        let server = with_keys(Sipp::uas(uas)).spawn(&dir);
        kamailio.register_contact("agent", &server.uri("agent"), 300);
        let client = with_keys(Sipp::uac(uac, kamailio.udp_addr()))
            .service("agent")
            .pause(Duration::from_millis(300))
            .run(&dir);
        let server = server.wait(wait::LONG);
        client.assert_success();
        server.assert_success();
        assert!(
            server.messages().contains("Record-Route: <sip:127.0.0.1"),
            "{uas} got no Record-Route through the proxy"
        );
    }
}

#[test]
fn uas_401_challenges_baresip_and_verifies_its_credentials() {
    let dir = TestDir::new("uas_401_baresip");
    let pulse = Pulse::ensure();
    let server = Sipp::uas("uas_401").spawn(&dir);
    let alice = Baresip::start(&dir, &pulse, None, BaresipConfig::new("alice"));
    alice.dial(&server.uri("agent"));
    alice.wait_call_event("CALL_ESTABLISHED", wait::MEDIUM);
    alice.hangup();
    alice.wait_call_event("CALL_CLOSED", wait::MEDIUM);
    let outcome = server.wait(wait::LONG);
    outcome.assert_success();
    assert!(outcome.messages().contains("Authorization: Digest"));
}

#[test]
fn uas_ringing_then_cancel_with_baresip() {
    let dir = TestDir::new("uas_cancel_baresip");
    let pulse = Pulse::ensure();
    let server = Sipp::uas("uas_ringing_then_cancel").spawn(&dir);
    let alice = Baresip::start(&dir, &pulse, None, BaresipConfig::new("alice"));
    alice.dial(&server.uri("agent"));
    alice.wait_call_event("CALL_RINGING", wait::MEDIUM);
    alice.hangup();
    alice.wait_call_event("CALL_CLOSED", wait::MEDIUM);
    server.wait(wait::LONG).assert_success();
}

#[test]
fn uas_cancel_race_with_baresip() {
    let dir = TestDir::new("uas_cancel_race_baresip");
    let pulse = Pulse::ensure();
    let server = Sipp::uas("uas_cancel_race").spawn(&dir);
    let alice = Baresip::start(&dir, &pulse, None, BaresipConfig::new("alice"));
    alice.dial(&server.uri("agent"));
    alice.wait_call_event("CALL_RINGING", wait::MEDIUM);
    alice.hangup();
    let outcome = server.wait(wait::LONG);
    outcome.assert_success();
}

#[test]
fn uas_reinvite_changed_sdp_with_baresip() {
    let dir = TestDir::new("uas_reinvite_baresip");
    let pulse = Pulse::ensure();
    let server = Sipp::uas("uas_reinvite_changed_sdp")
        .pause(Duration::from_millis(500))
        .spawn(&dir);
    let alice = Baresip::start(&dir, &pulse, None, BaresipConfig::new("alice"));
    alice.dial(&server.uri("agent"));
    alice.wait_call_event("CALL_ESTABLISHED", wait::MEDIUM);
    let reoffer = alice.wait_event(
        |e| e["type"] == "CALL_REMOTE_SDP" && e["param"] == "offer",
        wait::MEDIUM,
    );
    assert_eq!(reoffer["direction"], "outgoing");
    alice.wait_call_event("CALL_CLOSED", wait::MEDIUM);
    server.wait(wait::LONG).assert_success();
}

#[test]
fn uac_scenarios_against_baresip() {
    let dir = TestDir::new("uac_baresip");
    let pulse = Pulse::ensure();
    let bob = Baresip::start(
        &dir,
        &pulse,
        None,
        BaresipConfig::new("bob").config_line("call_max_calls\t1"),
    );
    let run = |scenario: &str| {
        with_keys(Sipp::uac(scenario, bob.sip_addr()))
            .service("bob")
            .pause(Duration::from_millis(300))
            .run(&dir)
    };

    let options = run("uac_options");
    options.assert_success();

    let bye = run("uac_bye_unknown_dialog");
    bye.assert_success();

    let started = Instant::now();
    let busy = run("uac_second_call_busy");
    busy.assert_success();
    assert!(busy.messages().contains("Call-ID: 2///"));
    assert!(started.elapsed() < wait::LONG);
}
