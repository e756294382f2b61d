//! Attended transfer (REFER with Replaces, RFC 5589 §7, RFC 3891) between three Parley
//! agents through kamailio: baresip 1.0 implements no Replaces (tests/rig/README.md), so
//! every role is a Parley here, each a separate process on the real network path.

use parley_e2e::audio;
use parley_e2e::kamailio::{Kamailio, KamailioOptions};
use parley_e2e::parley_cli::{ParleyCli, ParleyConfig};
use parley_e2e::pulse::Pulse;
use parley_e2e::{wait, TestDir};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::Duration;

fn seen(agent: &ParleyCli, predicate: impl Fn(&Value) -> bool, timeout: Duration) -> Value {
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

fn state(agent: &ParleyCli, call: &Value, state: &str) -> Value {
    seen(
        agent,
        |e| e["event"] == "call_state" && e["call"] == *call && e["state"] == state,
        wait::MEDIUM,
    )
}

#[test]
fn attended_transfer_replaces_the_consultation_call() {
    let dir = TestDir::new("attended_transfer");
    let pulse = Pulse::ensure();
    let kamailio = Kamailio::start(&dir, KamailioOptions::default());
    let start = |user: &str, hz: u32| {
        let agent = ParleyCli::start(
            &dir,
            Some(&pulse),
            ParleyConfig::for_kamailio(user, &kamailio).tone(hz).ready(),
        );
        agent.wait_registered(wait::MEDIUM);
        kamailio.wait_registered(user, wait::SHORT);
        agent
    };
    let agent = start("1001", 440);
    let customer = start("1002", 500);
    let colleague = start("1003", 1500);

    // The customer calls the agent.
    let customer_leg = customer.dial(&kamailio.aor("1001"));
    let offered = seen(&agent, |e| e["event"] == "incoming_call", wait::MEDIUM)["call"].clone();
    agent.answer(&offered);
    state(&customer, &customer_leg, "connected");
    state(&agent, &offered, "connected");
    // The agent holds the customer and consults a colleague.
    agent.command_ok(json!({"cmd": "hold", "call": offered}));
    state(&agent, &offered, "held");
    let consult = agent.dial(&kamailio.aor("1003"));
    let colleague_leg =
        seen(&colleague, |e| e["event"] == "incoming_call", wait::MEDIUM)["call"].clone();
    colleague.answer(&colleague_leg);
    state(&agent, &consult, "connected");

    agent.command_ok(json!({"cmd": "transfer_attended", "call": offered, "consult": consult}));

    // The customer is asked to call the colleague, replacing the consultation...
    let new_leg = seen(
        &customer,
        |e| e["event"] == "call_state" && e["state"] == "dialing" && e["call"] != customer_leg,
        wait::MEDIUM,
    )["call"]
        .clone();
    let replacing = seen(
        &colleague,
        |e| e["event"] == "incoming_call" && e["replaces"] == colleague_leg,
        wait::MEDIUM,
    );
    // ...which the colleague's Parley answers at once.
    state(&customer, &new_leg, "connected");
    state(&colleague, &replacing["call"], "connected");
    assert_eq!(
        state(&colleague, &colleague_leg, "ended")["reason"],
        "replaced"
    );
    // The agent is out of both calls.
    seen(
        &agent,
        |e| e["event"] == "transfer" && e["state"] == "succeeded",
        wait::MEDIUM,
    );
    assert_eq!(state(&agent, &offered, "ended")["reason"], "transferred");
    state(&agent, &consult, "ended");
    state(&customer, &customer_leg, "ended");

    // Customer and colleague hear each other.
    let recording = PathBuf::from(
        seen(
            &colleague,
            |e| {
                e["event"] == "media"
                    && e["call"] == replacing["call"]
                    && e["recording"].is_string()
            },
            wait::MEDIUM,
        )["recording"]
            .as_str()
            .expect("checked above"),
    );
    // Two seconds of 8 kHz 16-bit audio in the recording (flushed every second).
    let two_seconds = 44 + 2 * 8000 * 2;
    assert!(wait::until_true(wait::MEDIUM, || std::fs::metadata(
        &recording
    )
    .is_ok_and(|m| m.len() > two_seconds)));
    customer.hangup(&new_leg);
    state(&colleague, &replacing["call"], "ended");
    audio::assert_wav_frequency(&recording, 500.0);
}
