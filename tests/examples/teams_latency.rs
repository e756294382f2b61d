//! Presence sync latency both ways on loopback (results in docs/benchmarks.md), with the
//! headless agent, the fake Entra/Graph and sipp as the contact center, at the default
//! poll interval (10 s ± 20 %) unless `--poll` says otherwise.
//!
//! - Teams → Parley: the fake's presence turns Busy/InACall; time until the agent reports
//!   `not_ready`/`teams_busy` (then Available again, time until `ready`).
//! - Parley → Teams: a contact-center call connects; time from the agent's `connected`
//!   event until the fake holds the Busy/InACall session (and from `ended` until cleared).
//!
//! ```sh
//! cargo build --release --bin parley-cli
//! PARLEY_CLI=target/release/parley-cli cargo run -q -p parley-e2e --example teams_latency -- [--rounds 5] [--poll 10]
//! ```
//! Wrapped by `bench/teams_latency.sh`. A benchmark, not a test: nothing is asserted.

use parley_e2e::graph::FakeGraph;
use parley_e2e::parley_cli::{ParleyCli, ParleyConfig};
use parley_e2e::sipp::Sipp;
use parley_e2e::{ports, wait, TestDir};
use serde_json::Value;
use std::time::{Duration, Instant};

fn number(args: &[String], name: &str, default: u32) -> u32 {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map_or(default, |v| v.parse().unwrap_or(default))
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

fn show(label: &str, values: Vec<Duration>) {
    let ms: Vec<u128> = values.iter().map(Duration::as_millis).collect();
    println!(
        "{label:<34} median {:>6} ms  (all: {ms:?})",
        median(values).as_millis()
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rounds = number(&args, "--rounds", 5);
    let poll = number(&args, "--poll", 10);
    let dir = TestDir::new("bench_teams_latency");
    let graph = FakeGraph::start();
    let sipp_port = ports::port();
    let config = ParleyConfig::standalone("agent")
        .codecs(&["PCMU"])
        .ready()
        .teams(&graph, poll)
        .env("RUST_LOG", "info")
        .via_proxy_port(sipp_port);
    let agent = ParleyCli::start(&dir, None, config);
    let long = Duration::from_secs(u64::from(poll) * 4 + 10);
    agent.wait_event(|e| e["event"] == "teams" && e["sync"] == "active", long);
    let state =
        |state: &'static str| move |e: &Value| e["event"] == "agent_state" && e["state"] == state;

    let (mut blocked, mut freed) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        graph.set_teams_client("Busy", "InACall");
        let t = Instant::now();
        agent.wait_event(state("not_ready"), long);
        blocked.push(t.elapsed());
        graph.set_teams_client("Available", "Available");
        let t = Instant::now();
        agent.wait_event(state("ready"), long);
        freed.push(t.elapsed());
    }

    let (mut shown, mut cleared) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let call = Sipp::uac("uac_basic", agent.sip_addr())
            .local_port(sipp_port)
            .service("agent")
            .key("customer_id", "C-1001")
            .key("uui", "0123456789abcdef")
            .pause(Duration::from_secs(2))
            .spawn(&dir);
        let id = agent.wait_event(|e| e["event"] == "incoming_call", wait::MEDIUM)["call"].clone();
        agent.answer(&id);
        agent.wait_call_state(&id, "connected", wait::MEDIUM);
        let t = Instant::now();
        wait::until_true(wait::SHORT, || !graph.sessions().is_empty());
        shown.push(t.elapsed());
        agent.wait_call_state(&id, "ended", wait::MEDIUM);
        let t = Instant::now();
        wait::until_true(wait::SHORT, || graph.sessions().is_empty());
        cleared.push(t.elapsed());
        call.wait(wait::LONG).assert_success();
        // Past the echo grace, so that the next round starts clean.
        std::thread::sleep(Duration::from_secs(1));
    }
    let reads = graph
        .requests()
        .iter()
        .filter(|r| *r == "GET /v1.0/me/presence")
        .count();
    println!(
        "parley-cli: {}; poll interval {poll} s ± 20 %; {rounds} rounds",
        ParleyCli::binary().display()
    );
    show("Teams busy -> agent not_ready", blocked);
    show("Teams free -> agent ready", freed);
    show("CC call connected -> Busy/InACall", shown);
    show("CC call ended -> session cleared", cleared);
    println!("presence reads in all: {reads}");
    let status = agent.quit(wait::MEDIUM);
    assert!(status.success());
}
