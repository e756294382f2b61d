//! Memory and CPU of the idle headless agent (DESIGN §10; results in docs/benchmarks.md).
//!
//! Starts the rig's Kamailio and a `parley-cli agent` registered to it (UDP, default
//! `expires` 600 s: no SIP traffic during the window), lets it settle for `--settle`
//! seconds, then reads `/proc/<pid>` at the start and at the end of a `--seconds` idle
//! window and prints:
//!
//! * `VmRSS` (resident now) and `VmHWM` (peak resident) from `/proc/<pid>/status`, with the
//!   anonymous / file-backed split, `VmSize` and the thread count;
//! * CPU time in the window: `utime + stime` of `/proc/<pid>/stat` (clock ticks, 10 ms
//!   steps) and the sum over threads of `/proc/<pid>/task/*/schedstat` (ns on a CPU);
//! * wake-ups in the window: voluntary + involuntary context switches summed over threads.
//!
//! ```sh
//! cargo build --bin parley-cli
//! cargo run -p parley-e2e --example idle_agent -- [--seconds 30] [--settle 2] [--rust-log info]
//! PARLEY_CLI=target/release/parley-cli cargo run -p parley-e2e --example idle_agent
//! ```
//!
//! The agent logs at `info` (its default) unless `--rust-log` says otherwise. Wrapped by
//! `bench/idle_agent.sh`. A benchmark, not a test: nothing is asserted about the figures.

use std::time::Duration;

use parley_e2e::kamailio::{Kamailio, KamailioOptions};
use parley_e2e::parley_cli::{ParleyCli, ParleyConfig};
use parley_e2e::procstat::{self, Snapshot};
use parley_e2e::pulse::Pulse;
use parley_e2e::{wait, TestDir};

struct Args {
    seconds: u64,
    settle: u64,
    rust_log: String,
}

impl Args {
    fn parse() -> Args {
        let mut args = Args {
            seconds: 30,
            settle: 2,
            rust_log: "info".to_owned(),
        };
        let mut it = std::env::args().skip(1);
        while let Some(arg) = it.next() {
            let mut value = |name: &str| {
                it.next()
                    .unwrap_or_else(|| usage(&format!("{name} needs a value")))
            };
            let number = |name: &str, v: String| {
                v.parse()
                    .unwrap_or_else(|_| usage(&format!("{name} needs a number")))
            };
            match arg.as_str() {
                "--seconds" => args.seconds = number("--seconds", value("--seconds")),
                "--settle" => args.settle = number("--settle", value("--settle")),
                "--rust-log" => args.rust_log = value("--rust-log"),
                "-h" | "--help" => usage(""),
                other => usage(&format!("unknown argument {other}")),
            }
        }
        args
    }
}

fn usage(problem: &str) -> ! {
    if !problem.is_empty() {
        eprintln!("idle_agent: {problem}");
    }
    eprintln!("usage: idle_agent [--seconds N (30)] [--settle N (2)] [--rust-log FILTER (info)]");
    std::process::exit(2);
}

fn main() {
    let args = Args::parse();
    let binary = ParleyCli::binary();
    let dir = TestDir::new("bench_idle_agent");
    let pulse = Pulse::ensure();
    let kamailio = Kamailio::start(&dir, KamailioOptions::default());
    let agent = ParleyCli::start(
        &dir,
        Some(&pulse),
        ParleyConfig::for_kamailio("1001", &kamailio)
            .ready()
            .env("RUST_LOG", &args.rust_log),
    );
    agent.wait_registered(wait::MEDIUM);
    kamailio.wait_registered("1001", wait::SHORT);
    let pid = procstat::child_pid("parley-cli");

    std::thread::sleep(Duration::from_secs(args.settle));
    let gone = || panic!("parley-cli (pid {pid}) is gone");
    let before = Snapshot::take(pid).unwrap_or_else(gone);
    std::thread::sleep(Duration::from_secs(args.seconds));
    let after = Snapshot::take(pid).unwrap_or_else(gone);
    let events = agent.events().len();
    let status = agent.quit(wait::MEDIUM);
    assert!(status.success(), "parley-cli exited with {status}");

    let ticks_per_second = procstat::ticks_per_second();
    let window = args.seconds as f64;
    let cpu_ticks = after.cpu_ticks - before.cpu_ticks;
    let cpu_ns = after.on_cpu_ns.saturating_sub(before.on_cpu_ns);
    let switches = after.switches.saturating_sub(before.switches);
    println!("parley-cli: {}", binary.display());
    println!(
        "registered to Kamailio (UDP, 127.0.0.1), RUST_LOG={}, idle for {} s after {} s settling; {events} events on stdout in all",
        args.rust_log, args.seconds, args.settle
    );
    println!(
        "VmRSS      {:>8} kB at start, {:>8} kB at end (anon {} kB, file {} kB, shmem {} kB)",
        before.kb("VmRSS"),
        after.kb("VmRSS"),
        after.kb("RssAnon"),
        after.kb("RssFile"),
        after.kb("RssShmem")
    );
    println!("VmHWM      {:>8} kB (peak resident)", after.kb("VmHWM"));
    println!(
        "VmSize     {:>8} kB; threads {}",
        after.kb("VmSize"),
        after.kb("Threads")
    );
    println!(
        "CPU        utime+stime {:.0} ms ({cpu_ticks} ticks of {:.0} ms) = {:.3} % of one core; on-CPU (schedstat) {:.2} ms = {:.4} %",
        cpu_ticks as f64 * 1e3 / ticks_per_second,
        1e3 / ticks_per_second,
        cpu_ticks as f64 / ticks_per_second / window * 100.0,
        cpu_ns as f64 / 1e6,
        cpu_ns as f64 / 1e9 / window * 100.0
    );
    println!(
        "wake-ups   {switches} context switches in {} s = {:.1}/s (all threads)",
        args.seconds,
        switches as f64 / window
    );
}
