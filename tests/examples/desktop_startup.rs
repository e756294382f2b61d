//! Start-up time and idle cost of the desktop app (results in docs/benchmarks.md).
//!
//! Runs `parley` in demo mode under its own Xvfb and session bus (no WebDriver: nothing
//! between the app and the measurement), `--runs` times, and prints for each run the time
//! from launch to
//!
//! * the window shown with the UI loaded (the page asked the shell for its first
//!   overview: log `window loaded`; an X client polling for the window instead, such as
//!   `xwininfo`, was seen to make GTK's start fail now and then),
//! * the agent registered to the embedded demo contact center (log `registration
//!   state="registered"`);
//!
//! then, in the last run, lets the app idle for `--seconds` after `--settle` seconds and
//! reads `/proc` for every process of the app (the shell, WebKit's web and network
//! processes): resident and proportional memory, CPU time over the window.
//!
//! ```sh
//! cargo build -p parley && cargo run -p parley-e2e --example desktop_startup -- [--runs 5] [--seconds 30] [--settle 5]
//! ```
//!
//! Wrapped by `bench/desktop.sh`. A benchmark, not a test: nothing is asserted.

use parley_e2e::desktop::{Desktop, DesktopEnv, DesktopOptions};
use parley_e2e::process::{RigProcess, SpawnOptions};
use parley_e2e::procstat::{self, Snapshot};
use parley_e2e::{wait, TestDir};
use std::time::{Duration, Instant};

struct Args {
    runs: usize,
    seconds: u64,
    settle: u64,
}

fn usage(problem: &str) -> ! {
    eprintln!("desktop_startup: {problem}");
    eprintln!("usage: desktop_startup [--runs N (5)] [--seconds N (30)] [--settle N (5)]");
    std::process::exit(2);
}

fn parse_args() -> Args {
    let mut args = Args {
        runs: 5,
        seconds: 30,
        settle: 5,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value: u64 = it
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| usage(&format!("{flag} needs a number")));
        match flag.as_str() {
            "--runs" => args.runs = usize::try_from(value.max(1)).unwrap_or(1),
            "--seconds" => args.seconds = value,
            "--settle" => args.settle = value,
            other => usage(&format!("unknown argument {other}")),
        }
    }
    args
}

/// Milliseconds from `start` until each condition first holds (all polled every 5 ms in
/// turn), `None` for one that did not within `timeout`.
fn times_until<const N: usize>(
    start: Instant,
    timeout: Duration,
    mut conditions: [&mut dyn FnMut() -> bool; N],
) -> [Option<f64>; N] {
    let mut times = [None; N];
    let deadline = start + timeout;
    while Instant::now() < deadline && times.iter().any(Option::is_none) {
        for (time, condition) in times.iter_mut().zip(conditions.iter_mut()) {
            if time.is_none() && condition() {
                *time = Some(start.elapsed().as_secs_f64() * 1e3);
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    times
}

fn shown(ms: Option<f64>) -> String {
    ms.map_or("timeout".to_owned(), |ms| format!("{ms:.0} ms"))
}

fn main() {
    let args = parse_args();
    let binary = Desktop::binary();
    println!("parley: {}", binary.display());
    let mut last = None;
    for run in 1..=args.runs {
        let dir = TestDir::new(&format!("bench_desktop_{run}"));
        let env = DesktopEnv::new(&dir, &DesktopOptions::demo());
        let start = Instant::now();
        let app = RigProcess::spawn(
            "parley",
            env.command(&binary),
            &env.log_dir,
            SpawnOptions::default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let log = app.stderr_path().to_owned();
        let logged = |needle: &str| std::fs::read_to_string(&log).is_ok_and(|l| l.contains(needle));
        let [loaded, registered] = times_until(
            start,
            wait::scaled(wait::LONG),
            [&mut || logged("window loaded"), &mut || {
                logged("state=\"registered\"")
            }],
        );
        println!(
            "run {run}: window shown with the UI loaded {}, registered {}",
            shown(loaded),
            shown(registered)
        );
        // The previous run's app stops before its X server, bus and folder go.
        last = Some((app, env, dir));
    }
    let (app, _env, _dir) = last.expect("at least one run");
    std::thread::sleep(Duration::from_secs(args.settle));
    let processes = procstat::group(app.pid());
    let before: Vec<_> = processes
        .iter()
        .map(|(pid, _)| Snapshot::take(*pid))
        .collect();
    std::thread::sleep(Duration::from_secs(args.seconds));
    let after: Vec<_> = processes
        .iter()
        .map(|(pid, _)| Snapshot::take(*pid))
        .collect();
    let window = args.seconds as f64;
    let ticks = procstat::ticks_per_second();
    println!(
        "idle in demo mode (registered, no call) for {} s after {} s settling:",
        args.seconds, args.settle
    );
    let (mut rss, mut pss, mut cpu_ms) = (0, 0, 0.0);
    for (((pid, name), b), a) in processes.iter().zip(&before).zip(&after) {
        let (Some(b), Some(a)) = (b, a) else {
            println!("  {name} ({pid}) ended during the window");
            continue;
        };
        let ms = (a.cpu_ticks - b.cpu_ticks) as f64 * 1e3 / ticks;
        let on_cpu = a.on_cpu_ns.saturating_sub(b.on_cpu_ns) as f64 / 1e6;
        println!(
            "  {name:<22} pid {pid:>7}: RSS {:>7} kB, PSS {:>7} kB, CPU {ms:>6.0} ms ({:.3} % of a core; on-CPU {on_cpu:.1} ms), {:.1} wake-ups/s",
            a.kb("VmRSS"),
            a.pss_kb,
            ms / window / 10.0,
            a.switches.saturating_sub(b.switches) as f64 / window
        );
        rss += a.kb("VmRSS");
        pss += a.pss_kb;
        cpu_ms += ms;
    }
    println!(
        "  all {} processes: RSS {rss} kB (shared pages counted in each), PSS {pss} kB, CPU {cpu_ms:.0} ms = {:.3} % of a core",
        processes.len(),
        cpu_ms / window / 10.0
    );
}
