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

use std::fs;
use std::time::Duration;

use parley_e2e::kamailio::{Kamailio, KamailioOptions};
use parley_e2e::parley_cli::{ParleyCli, ParleyConfig};
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
    let pid = child_pid("parley-cli");

    std::thread::sleep(Duration::from_secs(args.settle));
    let before = Snapshot::take(pid);
    std::thread::sleep(Duration::from_secs(args.seconds));
    let after = Snapshot::take(pid);
    let events = agent.events().len();
    let status = agent.quit(wait::MEDIUM);
    assert!(status.success(), "parley-cli exited with {status}");

    // SAFETY: sysconf has no preconditions.
    let ticks_per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
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

/// The pid of our child process whose command name is `comm`.
fn child_pid(comm: &str) -> u32 {
    let me = std::process::id();
    let pids = fs::read_dir("/proc")
        .expect("/proc is readable")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok());
    for pid in pids {
        let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some((name, rest)) = parse_stat(&stat) else {
            continue;
        };
        // rest[0] = state, rest[1] = ppid
        if name == comm && rest.get(1).and_then(|p| p.parse::<u32>().ok()) == Some(me) {
            return pid;
        }
    }
    panic!("no child process named {comm}");
}

/// `/proc/<pid>/stat` split into the command name and the fields after it (from `state`).
fn parse_stat(stat: &str) -> Option<(&str, Vec<&str>)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    Some((
        &stat[open + 1..close],
        stat[close + 1..].split_whitespace().collect(),
    ))
}

/// What `/proc` says about the agent at one moment.
struct Snapshot {
    status: String,
    /// utime + stime, in clock ticks (whole process).
    cpu_ticks: u64,
    /// Sum over threads of the time on a CPU (schedstat), ns.
    on_cpu_ns: u64,
    /// Sum over threads of voluntary + involuntary context switches.
    switches: u64,
}

impl Snapshot {
    fn take(pid: u32) -> Snapshot {
        let status = fs::read_to_string(format!("/proc/{pid}/status"))
            .unwrap_or_else(|e| panic!("parley-cli (pid {pid}) is gone: {e}"));
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).expect("read above");
        let (_, fields) = parse_stat(&stat).expect("/proc/<pid>/stat has (comm)");
        // Fields 14 and 15 of proc(5) (utime, stime) are 11 and 12 after the state (field 3).
        let tick = |i: usize| {
            fields
                .get(i)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        let cpu_ticks = tick(11) + tick(12);
        let mut on_cpu_ns = 0;
        let mut switches = 0;
        if let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) {
            for task in tasks.flatten() {
                let path = task.path();
                if let Ok(schedstat) = fs::read_to_string(path.join("schedstat")) {
                    on_cpu_ns += schedstat
                        .split_whitespace()
                        .next()
                        .and_then(|v| v.parse::<u64>().ok())
                        .unwrap_or(0);
                }
                if let Ok(task_status) = fs::read_to_string(path.join("status")) {
                    switches += status_value(&task_status, "voluntary_ctxt_switches")
                        + status_value(&task_status, "nonvoluntary_ctxt_switches");
                }
            }
        }
        Snapshot {
            status,
            cpu_ticks,
            on_cpu_ns,
            switches,
        }
    }

    /// A numeric line of `/proc/<pid>/status` (`VmRSS:  12345 kB` -> 12345).
    fn kb(&self, name: &str) -> u64 {
        status_value(&self.status, name)
    }
}

fn status_value(status: &str, name: &str) -> u64 {
    status
        .lines()
        .find_map(|line| {
            let (key, value) = line.split_once(':')?;
            (key == name).then(|| value.split_whitespace().next()?.parse().ok())?
        })
        .unwrap_or(0)
}
