//! CPU of the headless agent during one call, with live devices and without (results in
//! docs/benchmarks.md).
//!
//! Kamailio, a baresip that answers with a tone, and a `parley-cli agent` that calls it:
//! once with `media.source = "tone:440"` and no output (the network side alone), once with
//! the microphone and speaker on PulseAudio null sinks (`device:<id>`; the device streams,
//! rings and the supervisor's device checks come on top). After `--settle` seconds of the
//! call, `/proc/<pid>` is read at the start and end of a `--seconds` window: CPU time
//! (schedstat, summed over threads) and context switches.
//!
//! ```sh
//! cargo build --bin parley-cli
//! cargo run -p parley-e2e --example call_cost -- [--seconds 20] [--settle 3]
//! PARLEY_CLI=target/release/parley-cli cargo run -p parley-e2e --example call_cost
//! ```
//!
//! Wrapped by `bench/call_cost.sh`. A benchmark, not a test: nothing is asserted.

use std::time::Duration;

use parley_e2e::baresip::{Baresip, BaresipConfig};
use parley_e2e::kamailio::{Kamailio, KamailioOptions};
use parley_e2e::parley_cli::{ParleyCli, ParleyConfig};
use parley_e2e::procstat::{self, Snapshot};
use parley_e2e::pulse::Pulse;
use parley_e2e::{wait, TestDir};

fn number(args: &[String], name: &str, default: u64) -> u64 {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map_or(default, |v| {
            v.parse().unwrap_or_else(|_| {
                eprintln!("call_cost: {name} needs a number of seconds");
                std::process::exit(2)
            })
        })
}

/// CPU time (ms on a CPU, summed over threads) and context switches of one call's window.
fn measure(
    label: &str,
    configure: impl FnOnce(ParleyConfig) -> ParleyConfig,
    settle: u64,
    seconds: u64,
) {
    let dir = TestDir::new(&format!("bench_call_cost_{label}"));
    let pulse = Pulse::ensure();
    let kamailio = Kamailio::start(&dir, KamailioOptions::default());
    let bob = Baresip::start(
        &dir,
        &pulse,
        Some(&kamailio),
        BaresipConfig::new("bob").sine(1000),
    );
    bob.wait_registered(wait::MEDIUM);
    let agent = ParleyCli::start(
        &dir,
        Some(&pulse),
        configure(ParleyConfig::for_kamailio("1001", &kamailio).ready()).env("RUST_LOG", "info"),
    );
    agent.wait_registered(wait::MEDIUM);
    let pid = procstat::child_pid("parley-cli");
    let call = agent.dial(&kamailio.aor("bob"));
    agent.wait_call_state(&call, "connected", wait::MEDIUM);
    std::thread::sleep(Duration::from_secs(settle));
    let gone = || panic!("parley-cli (pid {pid}) is gone");
    let before = Snapshot::take(pid).unwrap_or_else(gone);
    std::thread::sleep(Duration::from_secs(seconds));
    let after = Snapshot::take(pid).unwrap_or_else(gone);
    agent.hangup(&call);
    agent.wait_call_state(&call, "ended", wait::MEDIUM);
    let window = seconds as f64;
    let cpu_ms = after.on_cpu_ns.saturating_sub(before.on_cpu_ns) as f64 / 1e6;
    let switches = after.switches.saturating_sub(before.switches) as f64;
    println!(
        "{label:<8} CPU {cpu_ms:>7.1} ms in {seconds} s = {:>5.2} % of one core ({:.1} ms per second of call); {:>6.0} context switches/s; threads {}; VmRSS {} kB",
        cpu_ms / 10.0 / window,
        cpu_ms / window,
        switches / window,
        after.kb("Threads"),
        after.kb("VmRSS"),
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let seconds = number(&args, "--seconds", 20);
    let settle = number(&args, "--settle", 3);
    println!("parley-cli: {}", ParleyCli::binary().display());
    measure("tone", |c| c.tone(440), settle, seconds);
    let pulse = Pulse::ensure();
    let microphone = pulse.null_sink("bench_mic");
    let speaker = pulse.null_sink("bench_speaker");
    measure(
        "devices",
        |c| c.devices(&microphone.monitor(), speaker.name()),
        settle,
        seconds,
    );
}
