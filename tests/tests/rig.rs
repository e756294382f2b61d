//! Tests of the rig itself: each component starts, works and cleans up.

use std::net::{SocketAddr, UdpSocket};
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use parley_e2e::baresip::{Baresip, BaresipConfig};
use parley_e2e::kamailio::{Auth, Kamailio, KamailioOptions, Transport};
use parley_e2e::parley_cli::{ParleyCli, ParleyConfig};
use parley_e2e::pulse::Pulse;
use parley_e2e::sipp::Sipp;
use parley_e2e::{audio, ports, sip, wait, TestDir};

#[test]
fn ports_are_distinct_and_free() {
    let a = ports::block(4);
    let b = ports::block(4);
    let c = ports::rtp_range(20);
    assert_eq!(a.start % 2, 0);
    assert_eq!(c.start % 2, 0);
    assert!(a.end <= b.start || b.end <= a.start, "{a:?} overlaps {b:?}");
    for port in a.chain(b).chain(c) {
        assert!(ports::is_free(port), "port {port} is taken");
    }
}

#[test]
fn kamailio_with_auth_registers_stops_and_restarts_on_the_same_ports() {
    let dir = TestDir::new("kamailio_restart");
    let mut kamailio = Kamailio::start(
        &dir,
        KamailioOptions {
            auth: Auth::Register,
            ..Default::default()
        },
    );
    let port = kamailio.port();

    // Digest auth: no credentials -> 401, the right ones -> 200.
    let contact = "sip:carol@127.0.0.1:9";
    let challenged = sip::register(
        kamailio.udp_addr(),
        "carol",
        &kamailio.host_port(),
        contact,
        60,
        None,
        wait::SHORT,
    )
    .expect("REGISTER without credentials is answered");
    assert_eq!(challenged.code, 401, "{}", challenged.raw);
    let wrong = sip::register(
        kamailio.udp_addr(),
        "carol",
        &kamailio.host_port(),
        contact,
        60,
        Some("wrong"),
        wait::SHORT,
    )
    .expect("REGISTER with a wrong password is answered");
    assert_eq!(wrong.code, 401, "{}", wrong.raw);
    kamailio.register_contact("carol", contact, 60);
    assert_eq!(kamailio.contacts("carol"), vec![contact.to_owned()]);
    assert!(!kamailio.is_registered("dave"));

    kamailio.stop();
    assert!(!kamailio.is_running());
    let refused = sip::options(
        kamailio.udp_addr(),
        &format!("sip:{}", kamailio.host_port()),
        Duration::from_millis(700),
    );
    assert!(refused.is_err(), "a stopped kamailio answered: {refused:?}");

    kamailio.start_again();
    assert_eq!(kamailio.port(), port);
    assert!(kamailio.is_running());
    // In-memory location table: the registration is gone.
    assert!(!kamailio.is_registered("carol"));
    kamailio.register_contact("carol", contact, 60);
    assert!(kamailio.is_registered("carol"));
}

#[test]
fn kamailio_registrar_raises_short_expires_to_min_expires() {
    let dir = TestDir::new("kamailio_min_expires");
    let kamailio = Kamailio::start(&dir, KamailioOptions::default());
    let response = sip::register(
        kamailio.udp_addr(),
        "erin",
        &kamailio.host_port(),
        "sip:erin@127.0.0.1:9",
        1,
        Some(parley_e2e::PASSWORD),
        wait::SHORT,
    )
    .expect("REGISTER is answered");
    assert_eq!(response.code, 200, "{}", response.raw);
    let contact = response.header("Contact").unwrap_or_default();
    assert!(contact.contains("expires=5"), "Contact: {contact}");
    // ... and the binding really expires after those 5 s.
    kamailio.wait_unregistered("erin", wait::MEDIUM);
}

#[test]
fn kamailio_tls_listener_presents_a_certificate_of_the_test_ca() {
    let dir = TestDir::new("kamailio_tls");
    let kamailio = Kamailio::start(
        &dir,
        KamailioOptions {
            tls: true,
            ..Default::default()
        },
    );
    let ca = kamailio.ca_file().expect("TLS is on");
    let addr = kamailio.tls_addr();

    let handshake = |extra: &[&str]| {
        Command::new("openssl")
            .args([
                "s_client",
                "-connect",
                &addr.to_string(),
                "-verify_return_error",
            ])
            .args(["-verify_ip", "127.0.0.1", "-brief"])
            .args(extra)
            .stdin(Stdio::null())
            .output()
            .expect("openssl runs")
    };
    let trusted = handshake(&["-CAfile", ca.to_str().expect("UTF-8 path")]);
    let text = String::from_utf8_lossy(&trusted.stderr).into_owned()
        + &String::from_utf8_lossy(&trusted.stdout);
    assert!(trusted.status.success(), "TLS handshake failed:\n{text}");
    assert!(text.contains("Verification: OK"), "{text}");

    // Against the system CAs only, the certificate must not verify.
    let untrusted = handshake(&[]);
    assert!(
        !untrusted.status.success(),
        "the test certificate verified without the test CA"
    );
}

#[test]
fn baresip_over_tls_is_reachable_through_kamailio() {
    let dir = TestDir::new("kamailio_tls_baresip");
    let pulse = Pulse::ensure();
    let kamailio = Kamailio::start(
        &dir,
        KamailioOptions {
            tls: true,
            ..Default::default()
        },
    );
    let ca = kamailio.ca_file().expect("TLS is on").display().to_string();
    // carol registers over TLS; requests to her must reuse her TLS connection (the
    // proxy's contact alias), since nothing listens on the address of her Contact.
    let carol = Baresip::start(
        &dir,
        &pulse,
        Some(&kamailio),
        BaresipConfig::new("carol")
            .sine(1000)
            .transport(Transport::Tls)
            .config_line(&format!("sip_cafile\t{ca}")),
    );
    let alice = Baresip::start(&dir, &pulse, Some(&kamailio), BaresipConfig::new("alice"));
    kamailio.wait_registered("carol", wait::SHORT);
    assert!(
        kamailio.contacts("carol")[0].contains("transport=tls"),
        "{:?}",
        kamailio.contacts("carol")
    );

    alice.dial(&kamailio.aor("carol"));
    carol.wait_call_event("CALL_ESTABLISHED", wait::MEDIUM);
    alice.wait_call_event("CALL_ESTABLISHED", wait::MEDIUM);
    // In-dialog requests both ways: carol holds (re-INVITE over TLS), alice hangs up.
    carol.hold();
    alice.wait_event(
        |e| e["type"] == "CALL_REMOTE_SDP" && e["param"] == "offer",
        wait::MEDIUM,
    );
    alice.hangup();
    carol.wait_call_event("CALL_CLOSED", wait::MEDIUM);
}

#[test]
fn two_baresips_call_through_kamailio_with_audio_both_ways() {
    let dir = TestDir::new("baresip_call");
    let pulse = Pulse::ensure();
    let kamailio = Kamailio::start(&dir, KamailioOptions::default());
    let alice = Baresip::start(
        &dir,
        &pulse,
        Some(&kamailio),
        BaresipConfig::new("alice").sine(440),
    );
    let bob = Baresip::start(
        &dir,
        &pulse,
        Some(&kamailio),
        BaresipConfig::new("bob").sine(1000).manual_answer(),
    );
    kamailio.wait_registered("alice", wait::SHORT);
    kamailio.wait_registered("bob", wait::SHORT);

    alice.dial(&kamailio.aor("bob"));
    let incoming = bob.wait_call_event("CALL_INCOMING", wait::MEDIUM);
    assert_eq!(incoming["peeruri"], kamailio.aor("alice"));
    alice.wait_call_event("CALL_RINGING", wait::MEDIUM);
    bob.answer();
    alice.wait_call_event("CALL_ESTABLISHED", wait::MEDIUM);
    bob.wait_call_event("CALL_ESTABLISHED", wait::MEDIUM);
    assert!(alice.list_calls().contains("ESTABLISHED"));

    // Let audio flow until both sides have received 2 s of it.
    alice.wait_received_audio(2.0, wait::LONG);
    bob.wait_received_audio(2.0, wait::LONG);

    alice.hangup();
    alice.wait_call_event("CALL_CLOSED", wait::MEDIUM);
    bob.wait_call_event("CALL_CLOSED", wait::MEDIUM);

    let at_alice = alice.wait_received_wav(2.0, wait::MEDIUM);
    let at_bob = bob.wait_received_wav(2.0, wait::MEDIUM);
    audio::assert_wav_frequency(&at_alice, 1000.0);
    audio::assert_wav_frequency(&at_bob, 440.0);
}

#[test]
fn sipp_uac_calls_a_baresip_through_kamailio() {
    let dir = TestDir::new("sipp_to_baresip");
    let pulse = Pulse::ensure();
    let kamailio = Kamailio::start(&dir, KamailioOptions::default());
    let bob = Baresip::start(
        &dir,
        &pulse,
        Some(&kamailio),
        BaresipConfig::new("bob").sine(1000).manual_answer(),
    );

    let sipp = Sipp::uac("uac_basic", kamailio.udp_addr())
        .service("bob")
        .key("customer_id", "C-1001")
        .key("uui", "0123456789abcdef")
        .pause(Duration::from_secs(1))
        .spawn(&dir);
    bob.wait_call_event("CALL_INCOMING", wait::MEDIUM);
    bob.answer();
    bob.wait_call_event("CALL_ESTABLISHED", wait::MEDIUM);
    bob.wait_call_event("CALL_CLOSED", wait::LONG);
    let outcome = sipp.wait(wait::LONG);
    outcome.assert_success();
    assert_eq!(outcome.successful_calls(), 1);

    // The X- and User-to-User headers made it through the proxy.
    let messages = outcome.messages();
    assert!(messages.contains("X-Customer-Id: C-1001"), "{messages}");
    // ACK and BYE followed the Record-Route through the proxy.
    assert!(messages.contains("Route: <sip:127.0.0.1"), "{messages}");
}

#[test]
fn rig_sip_client_probes_a_udp_port_without_a_listener() {
    // Nothing listens: the probe must time out (ICMP errors are not fatal).
    let port = ports::port();
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let result = sip::options(addr, "sip:127.0.0.1", Duration::from_millis(600));
    assert!(result.is_err());
    // And a bound but silent socket as well.
    let _silent = UdpSocket::bind(addr).expect("port is free");
    assert!(sip::options(addr, "sip:127.0.0.1", Duration::from_millis(600)).is_err());
}

/// The driver of `parley-cli` against a stand-in that speaks the headless protocol
/// (docs/headless.md): config file, commands on stdin, events on stdout, exit status.
#[test]
fn parley_cli_driver_speaks_json_lines() {
    let dir = TestDir::new("parley_cli_driver");
    let fake = dir.file("fake-parley-cli");
    std::fs::write(
        &fake,
        r#"#!/bin/bash
# $1 = agent, $2 = --config, $3 = <file>
[ "$1" = agent ] && [ "$2" = --config ] && [ -f "$3" ] || exit 2
grep -q '^env = "PARLEY_PASSWORD"$' "$3" && [ "$PARLEY_PASSWORD" = secret ] || exit 2
listen=$(sed -n 's/^listen = "\(.*\)"$/\1/p' "$3")
printf '{"event":"started","version":"0.0.0","local":"sip:1001@%s"}\n' "$listen"
echo "this line is not JSON"
while IFS= read -r line; do
  id=$(sed -n 's/.*"id":"\([^"]*\)".*/\1/p' <<<"$line")
  case "$line" in
    *'"cmd":"dial"'*)
      printf '{"event":"result","id":"%s","ok":true,"call":"c1"}\n' "$id"
      echo '{"event":"call_state","call":"c1","state":"dialing"}'
      echo '{"event":"call_state","call":"c1","state":"connected"}' ;;
    *'"cmd":"quit"'*)
      printf '{"event":"result","id":"%s","ok":true}\n' "$id"
      echo '{"event":"stopped"}'
      exit 0 ;;
    *) printf '{"event":"result","id":"%s","ok":false,"error":"unknown","message":"?"}\n' "$id" ;;
  esac
done
exit 0
"#,
    )
    .expect("writing the stand-in");
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).expect("chmod");

    let agent = ParleyCli::start_binary(&fake, &dir, None, ParleyConfig::standalone("1001"));
    let call = agent.dial("sip:bob@127.0.0.1");
    assert_eq!(call, "c1");
    agent.wait_call_state(&call, "connected", wait::SHORT);
    let failed = agent.command(serde_json::json!({ "cmd": "status" }));
    assert_eq!(failed["ok"], false);
    assert_eq!(
        agent.bad_stdout_lines(),
        vec!["this line is not JSON".to_owned()]
    );
    let config = std::fs::read_to_string(agent.config_path()).expect("config written");
    assert!(config.contains(&format!(
        "listen = \"127.0.0.1:{}\"",
        agent.sip_addr().port()
    )));
    assert!(config.contains("record_dir = "));
    let status = agent.quit(wait::SHORT);
    assert!(status.success());
}

/// Smoke test of the headless agent driver, to be run once `parley-cli` exists:
/// `cargo build --bin parley-cli && cargo nextest run -p parley-e2e --run-ignored all`.
#[test]
fn parley_cli_registers_and_calls_a_baresip() {
    let dir = TestDir::new("parley_cli_smoke");
    let pulse = Pulse::ensure();
    let kamailio = Kamailio::start(&dir, KamailioOptions::default());
    let bob = Baresip::start(
        &dir,
        &pulse,
        Some(&kamailio),
        BaresipConfig::new("bob").sine(1000),
    );
    let agent = ParleyCli::start(
        &dir,
        Some(&pulse),
        ParleyConfig::for_kamailio("1001", &kamailio)
            .tone(440)
            .codecs(&["PCMU"])
            .ready(),
    );
    agent.wait_registered(wait::MEDIUM);
    kamailio.wait_registered("1001", wait::SHORT);

    let call = agent.dial(&kamailio.aor("bob"));
    agent.wait_call_state(&call, "connected", wait::MEDIUM);
    bob.wait_call_event("CALL_ESTABLISHED", wait::MEDIUM);
    bob.wait_received_audio(2.0, wait::LONG);
    agent.hangup(&call);
    agent.wait_call_state(&call, "ended", wait::MEDIUM);
    bob.wait_call_event("CALL_CLOSED", wait::MEDIUM);
    audio::assert_wav_frequency(&bob.wait_received_wav(2.0, wait::MEDIUM), 440.0);

    assert!(agent.bad_stdout_lines().is_empty());
    let status = agent.quit(wait::MEDIUM);
    assert!(status.success(), "parley-cli exited with {status}");
    kamailio.wait_unregistered("1001", wait::SHORT);
}
