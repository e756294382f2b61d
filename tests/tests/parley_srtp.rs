//! SDES-SRTP (RFC 4568, RFC 3711) between Parley agents through kamailio over TLS: keys
//! are exchanged in the SDP only over TLS, audio and RTCP are encrypted, and an agent that
//! requires SRTP refuses a call without it.

use parley_e2e::audio;
use parley_e2e::kamailio::{Kamailio, KamailioOptions, Transport};
use parley_e2e::parley_cli::{ParleyCli, ParleyConfig};
use parley_e2e::pulse::Pulse;

use parley_e2e::{wait, TestDir};
use serde_json::Value;

fn media_of(agent: &ParleyCli, call: &Value) -> Value {
    agent
        .find_event(
            |e| e["event"] == "media" && e["call"] == *call,
            wait::MEDIUM,
        )
        .expect("a media event")
}

#[test]
fn required_srtp_encrypts_the_call_and_refuses_plain_offers() {
    let dir = TestDir::new("srtp");
    let pulse = Pulse::ensure();
    let kamailio = Kamailio::start(
        &dir,
        KamailioOptions {
            tls: true,
            ..KamailioOptions::default()
        },
    );
    let start = |user: &str, srtp: &str, hz: u32| {
        let config = ParleyConfig::for_kamailio(user, &kamailio)
            .transport(Transport::Tls, &kamailio)
            .srtp(srtp)
            .tone(hz)
            .ready();
        let agent = ParleyCli::start(&dir, Some(&pulse), config);
        agent.wait_registered(wait::MEDIUM);
        kamailio.wait_registered(user, wait::SHORT);
        agent
    };
    let agent = start("1001", "required", 440);
    let customer = start("1002", "optional", 1000);

    let leg = customer.dial(&kamailio.aor("1001"));
    let call = agent.wait_event(|e| e["event"] == "incoming_call", wait::MEDIUM)["call"].clone();
    agent.answer(&call);
    agent.wait_call_state(&call, "connected", wait::MEDIUM);
    customer.wait_call_state(&leg, "connected", wait::MEDIUM);
    let media = media_of(&agent, &call);
    assert_eq!(media["srtp"], "AES_CM_128_HMAC_SHA1_80", "{media}");
    assert_eq!(media_of(&customer, &leg)["srtp"], "AES_CM_128_HMAC_SHA1_80");
    let recording = std::path::PathBuf::from(media["recording"].as_str().expect("recorded"));
    // Long enough for RTCP (SRTCP here) to give a round trip.
    agent
        .find_event(
            |e| e["event"] == "call_quality" && e["call"] == call && e["rtt_ms"].is_number(),
            wait::LONG,
        )
        .expect("SRTCP reports crossed");
    agent.hangup(&call);
    agent.wait_call_state(&call, "ended", wait::MEDIUM);
    audio::assert_wav_frequency(&recording, 1000.0);

    // A caller without SRTP is refused: 488 before anything rings.
    let plain = start("1003", "off", 700);
    let refused = plain.dial(&kamailio.aor("1001"));
    let ended = plain.wait_call_state(&refused, "ended", wait::MEDIUM);
    assert_eq!(ended["code"], 488, "{ended}");
    agent.assert_no_event(
        |e| e["event"] == "incoming_call" && e["call"] != call,
        std::time::Duration::from_millis(500),
    );
}
