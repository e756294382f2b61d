//! Call setup time on loopback through Kamailio (DESIGN §10; results in docs/benchmarks.md).
//!
//! Parley (`parley-cli`, registered as 1001) calls a baresip (bob, auto-answer) through the
//! rig's Kamailio, `--calls` times one after the other (each call is hung up and closed on
//! both sides before the next). For each call it reports the time from the INVITE sent to
//! the 200 OK received, taken from Parley's own trace log (`RUST_LOG=debug`: one line per
//! SIP message, RFC 3339 timestamps), and the time from the `dial` command written on the
//! agent's stdin to its `connected` event read from its stdout (what an automation sees).
//!
//! With `--wire`, `tshark` captures the Kamailio port meanwhile and the same interval is
//! also read off the wire; with `--reference`, a second baresip (alice) then calls bob the
//! same number of times, measured on the wire only (baresip logs no timestamps): the
//! reference point for what a mature C softphone takes on the same path.
//!
//! ```sh
//! cargo build --bin parley-cli
//! cargo run -p parley-e2e --example call_setup -- --calls 50 [--warmup 1] [--wire] [--reference]
//! PARLEY_CLI=target/release/parley-cli cargo run -p parley-e2e --example call_setup
//! ```
//!
//! `bench/call_setup.sh` wraps this. A benchmark, not a test: nothing is asserted about
//! the times (DESIGN §10).

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use parley_e2e::baresip::{Baresip, BaresipConfig};
use parley_e2e::kamailio::{Kamailio, KamailioOptions};
use parley_e2e::parley_cli::{ParleyCli, ParleyConfig};
use parley_e2e::process::{RigProcess, SpawnOptions};
use parley_e2e::pulse::Pulse;
use parley_e2e::{wait, TestDir};

/// Command line.
struct Args {
    calls: usize,
    warmup: usize,
    wire: bool,
    reference: bool,
}

impl Args {
    fn parse() -> Args {
        let mut args = Args {
            calls: 50,
            warmup: 1,
            wire: false,
            reference: false,
        };
        let mut it = std::env::args().skip(1);
        while let Some(arg) = it.next() {
            let mut number = |name: &str| -> usize {
                it.next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or_else(|| usage(&format!("{name} needs a number")))
            };
            match arg.as_str() {
                "--calls" => args.calls = number("--calls"),
                "--warmup" => args.warmup = number("--warmup"),
                "--wire" => args.wire = true,
                "--reference" => {
                    args.reference = true;
                    args.wire = true;
                }
                "-h" | "--help" => usage(""),
                other => usage(&format!("unknown argument {other}")),
            }
        }
        if args.calls == 0 {
            usage("--calls must be at least 1");
        }
        args
    }
}

fn usage(problem: &str) -> ! {
    if !problem.is_empty() {
        eprintln!("call_setup: {problem}");
    }
    eprintln!("usage: call_setup [--calls N (50)] [--warmup N (1)] [--wire] [--reference]");
    std::process::exit(2);
}

fn main() {
    let args = Args::parse();
    let binary = ParleyCli::binary();
    let dir = TestDir::new("bench_call_setup");
    let pulse = Pulse::ensure();
    let kamailio = Kamailio::start(&dir, KamailioOptions::default());
    let bob = Baresip::start(
        &dir,
        &pulse,
        Some(&kamailio),
        BaresipConfig::new("bob").sine(1000),
    );
    bob.wait_registered(wait::MEDIUM);
    let capture = args.wire.then(|| Capture::start(&dir, kamailio.port()));

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
    let agent_port = agent.sip_addr().port();

    let total = args.warmup + args.calls;
    let mut dial_to_connected = Vec::with_capacity(total);
    for _ in 0..total {
        let start = Instant::now();
        let call = agent.dial(&kamailio.aor("bob"));
        agent.wait_call_state(&call, "connected", wait::MEDIUM);
        dial_to_connected.push(start.elapsed());
        bob.wait_call_event("CALL_ESTABLISHED", wait::MEDIUM);
        agent.hangup(&call);
        agent.wait_call_state(&call, "ended", wait::MEDIUM);
        bob.wait_call_event("CALL_CLOSED", wait::MEDIUM);
    }
    let log_path = agent.stderr_path().to_owned();
    let status = agent.quit(wait::MEDIUM);
    assert!(status.success(), "parley-cli exited with {status}");
    let from_log = setup_times_from_log(&log_path);
    assert_eq!(
        from_log.len(),
        total,
        "expected {total} INVITE/200 pairs in {}",
        log_path.display()
    );

    let mut reference = None;
    if args.reference {
        let alice = Baresip::start(
            &dir,
            &pulse,
            Some(&kamailio),
            BaresipConfig::new("alice").sine(440),
        );
        alice.wait_registered(wait::MEDIUM);
        for _ in 0..total {
            alice.dial(&kamailio.aor("bob"));
            alice.wait_call_event("CALL_ESTABLISHED", wait::MEDIUM);
            bob.wait_call_event("CALL_ESTABLISHED", wait::MEDIUM);
            alice.hangup();
            alice.wait_call_event("CALL_CLOSED", wait::MEDIUM);
            bob.wait_call_event("CALL_CLOSED", wait::MEDIUM);
        }
        reference = Some(alice.sip_addr().port());
    }

    println!("parley-cli: {}", binary.display());
    println!(
        "{} calls measured ({} warm-up call(s) first, not counted), Parley 1001 -> Kamailio -> baresip bob (auto-answer), UDP on 127.0.0.1",
        args.calls, args.warmup
    );
    println!(
        "{:<58}{:>8}{:>8}{:>8}{:>8}",
        "ms", "min", "median", "p95", "max"
    );
    let warm = |v: &[Duration]| v[args.warmup..].to_vec();
    report(
        "Parley INVITE sent -> 200 OK received (its trace log)",
        &warm(&from_log),
    );
    report(
        "Parley dial command -> connected event (stdin/stdout)",
        &warm(&dial_to_connected),
    );
    if let Some(capture) = capture {
        let pcap = capture.stop();
        let wire = setup_times_on_wire(&pcap, kamailio.port());
        let parley_wire = wire.get(&agent_port).cloned().unwrap_or_default();
        assert_eq!(
            parley_wire.len(),
            total,
            "Parley's calls in {}",
            pcap.display()
        );
        report(
            "Parley INVITE -> 200 OK on the wire (tshark)",
            &warm(&parley_wire),
        );
        if let Some(alice_port) = reference {
            let alice_wire = wire.get(&alice_port).cloned().unwrap_or_default();
            assert_eq!(
                alice_wire.len(),
                total,
                "alice's calls in {}",
                pcap.display()
            );
            report(
                "baresip alice INVITE -> 200 OK on the wire (tshark)",
                &warm(&alice_wire),
            );
        }
    }
}

/// Prints min / median / p95 (nearest rank) / max of `samples` in ms.
fn report(what: &str, samples: &[Duration]) {
    let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    ms.sort_by(f64::total_cmp);
    let rank = |p: f64| ms[((p * ms.len() as f64).ceil() as usize).clamp(1, ms.len()) - 1];
    let median = if ms.len().is_multiple_of(2) {
        (ms[ms.len() / 2 - 1] + ms[ms.len() / 2]) / 2.0
    } else {
        ms[ms.len() / 2]
    };
    println!(
        "{what:<58}{:>8.2}{median:>8.2}{:>8.2}{:>8.2}",
        ms[0],
        rank(0.95),
        ms[ms.len() - 1]
    );
}

/// INVITE sent -> 200 OK (to that INVITE) received, per call, in the order the INVITEs
/// were sent, from the `parley_runtime::trace` debug lines of the agent's log:
/// `<RFC 3339 time> DEBUG parley_runtime::trace: <start line> direction=sent peer=...
/// call_id=<Call-ID> cseq=<n> INVITE`. Retransmissions do not count (first INVITE, first
/// 200).
fn setup_times_from_log(log: &Path) -> Vec<Duration> {
    let text = fs::read_to_string(log)
        .unwrap_or_else(|e| panic!("cannot read the agent's log {}: {e}", log.display()));
    let mut order = Vec::new();
    let mut sent = HashMap::new();
    let mut answered = HashMap::new();
    for line in text.lines() {
        let Some((_, message)) = line.split_once("parley_runtime::trace: ") else {
            continue;
        };
        let (Some(direction), Some(call_id), Some(cseq)) = (
            field(message, "direction="),
            field(message, "call_id="),
            message.split_once(" cseq=").map(|(_, v)| v.trim()),
        ) else {
            continue;
        };
        if !cseq.ends_with(" INVITE") {
            continue;
        }
        let time = line
            .split_whitespace()
            .next()
            .and_then(parse_rfc3339)
            .unwrap_or_else(|| panic!("no RFC 3339 time at the start of {line:?}"));
        let key = (call_id.to_owned(), cseq.to_owned());
        if direction == "sent" && message.starts_with("INVITE ") {
            if let Entry::Vacant(entry) = sent.entry(key.clone()) {
                order.push(key);
                entry.insert(time);
            }
        } else if direction == "received" && message.starts_with("SIP/2.0 200 ") {
            answered.entry(key).or_insert(time);
        }
    }
    // Only the initial INVITE of each call (its first CSeq): a re-INVITE is no setup.
    let mut seen_calls = Vec::new();
    order
        .into_iter()
        .filter(|(call_id, _)| {
            let first = !seen_calls.contains(call_id);
            seen_calls.push(call_id.clone());
            first
        })
        .map(|key| {
            let answer = answered
                .get(&key)
                .unwrap_or_else(|| panic!("no 200 OK for the INVITE {key:?} in the log"));
            Duration::from_secs_f64(answer - sent[&key])
        })
        .collect()
}

/// The value of `name` (e.g. `call_id=`) in a tracing line: up to the next space.
fn field<'a>(message: &'a str, name: &str) -> Option<&'a str> {
    let start = message.find(&format!(" {name}"))? + 1 + name.len();
    message[start..].split(' ').next()
}

/// Seconds since the Unix epoch of an RFC 3339 time (`2025-11-21T08:00:00.123456Z`, or with
/// a `+hh:mm` / `-hh:mm` offset).
fn parse_rfc3339(text: &str) -> Option<f64> {
    let (date, time) = text.split_once(['T', 't', ' '])?;
    let mut ymd = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (year, month, day) = (ymd.next()??, ymd.next()??, ymd.next()??);
    let (clock, offset) = if let Some(clock) = time.strip_suffix(['Z', 'z']) {
        (clock, 0)
    } else {
        let at = time.rfind(['+', '-'])?;
        let (h, m) = time[at + 1..].split_once(':')?;
        let minutes = h.parse::<i64>().ok()? * 60 + m.parse::<i64>().ok()?;
        let sign = if time.as_bytes()[at] == b'-' { -1 } else { 1 };
        (&time[..at], sign * minutes * 60)
    };
    let mut hms = clock.splitn(3, ':');
    let hours = hms.next()?.parse::<i64>().ok()?;
    let minutes = hms.next()?.parse::<i64>().ok()?;
    let seconds = hms.next()?.parse::<f64>().ok()?;
    // Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((days * 86_400 + hours * 3_600 + minutes * 60 - offset) as f64 + seconds)
}

/// How long the last packets may take to reach the capture file.
const CAPTURE_DRAIN: Duration = Duration::from_secs(2);

/// `tshark` capturing the Kamailio port on `lo` into a pcapng file.
struct Capture {
    process: RigProcess,
    file: PathBuf,
}

impl Capture {
    fn start(dir: &TestDir, port: u16) -> Capture {
        assert!(
            parley_e2e::process::in_path("tshark"),
            "--wire and --reference need tshark (apt install tshark)"
        );
        let work_dir = dir.subdir("tshark");
        let file = work_dir.join("kamailio.pcapng");
        let mut command = Command::new("tshark");
        command
            .args(["-i", "lo", "-q", "-f"])
            .arg(format!("udp port {port}"))
            .arg("-w")
            .arg(&file);
        let process = RigProcess::spawn("tshark", command, &work_dir, SpawnOptions::default())
            .unwrap_or_else(|e| panic!("{e}"));
        let stderr = process.stderr_path().to_owned();
        let capturing = wait::until_true(wait::SHORT, || {
            fs::read_to_string(&stderr).is_ok_and(|s| s.contains("Capturing on"))
        });
        assert!(capturing, "tshark did not start; see {}", stderr.display());
        Capture { process, file }
    }

    /// Stops the capture and returns the file. SIGINT to tshark alone, like Ctrl-C: it
    /// then stops its capture child and writes out what is still buffered (SIGTERM to the
    /// whole group, as `RigProcess::stop` sends, loses the last packets).
    fn stop(mut self) -> PathBuf {
        // The kernel hands captured packets to dumpcap in blocks, at the latest after its
        // buffer timeout (1 s); what it has not handed over yet is lost when the capture
        // stops (the last call, when the capture was stopped at once).
        std::thread::sleep(CAPTURE_DRAIN);
        let pid = i32::try_from(self.process.pid()).expect("pids fit in i32 on Linux");
        // SAFETY: kill() has no memory-safety preconditions; the pid is our unreaped child.
        unsafe { libc::kill(pid, libc::SIGINT) };
        let exited = self.process.wait_timeout(wait::SHORT).is_some();
        self.process.stop();
        assert!(exited, "tshark did not stop on SIGINT");
        self.file
    }
}

/// Per UA port (the side that sent the INVITE to Kamailio): INVITE -> 200 OK times on the
/// wire, in call order, from the leg between that UA and Kamailio.
fn setup_times_on_wire(pcap: &Path, kamailio_port: u16) -> HashMap<u16, Vec<Duration>> {
    let output = Command::new("tshark")
        .arg("-r")
        .arg(pcap)
        .args(["-d", &format!("udp.port=={kamailio_port},sip"), "-Y", "sip"])
        .args(["-T", "fields", "-E", "separator=/t"])
        .args([
            "-e",
            "frame.time_epoch",
            "-e",
            "udp.srcport",
            "-e",
            "udp.dstport",
        ])
        .args(["-e", "sip.Call-ID", "-e", "sip.CSeq", "-e", "sip.Method"])
        .args(["-e", "sip.Status-Code"])
        .output()
        .unwrap_or_else(|e| panic!("cannot run tshark -r: {e}"));
    assert!(
        output.status.success(),
        "tshark -r {} failed: {}",
        pcap.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let mut order: Vec<(u16, String)> = Vec::new();
    let mut sent = HashMap::new();
    let mut answered = HashMap::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let cols: Vec<&str> = line.split('\t').collect();
        let [time, src, dst, call_id, cseq, method, status] = cols[..] else {
            continue;
        };
        let (Ok(time), Ok(src), Ok(dst)) = (time.parse::<f64>(), src.parse(), dst.parse()) else {
            continue;
        };
        if !cseq.ends_with(" INVITE") {
            continue;
        }
        if method == "INVITE" && dst == kamailio_port {
            let key = (src, call_id.to_owned());
            if let Entry::Vacant(entry) = sent.entry(key.clone()) {
                order.push(key);
                entry.insert((cseq.to_owned(), time));
            }
        } else if status == "200" && src == kamailio_port {
            answered
                .entry((dst, call_id.to_owned(), cseq.to_owned()))
                .or_insert(time);
        }
    }
    let mut times: HashMap<u16, Vec<Duration>> = HashMap::new();
    for (port, call_id) in order {
        let (cseq, sent_at) = &sent[&(port, call_id.clone())];
        let Some(answered_at) = answered.get(&(port, call_id, cseq.clone())) else {
            continue;
        };
        times
            .entry(port)
            .or_default()
            .push(Duration::from_secs_f64(answered_at - sent_at));
    }
    times
}
