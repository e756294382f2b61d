//! What `/proc` says about a process or a group of processes (proc(5)): memory, CPU time
//! and wake-ups, for the benchmarks (docs/benchmarks.md).

use std::fs;

/// `/proc/<pid>/stat` split into the command name and the fields after it (from `state`).
pub fn parse_stat(stat: &str) -> Option<(&str, Vec<&str>)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    Some((
        &stat[open + 1..close],
        stat[close + 1..].split_whitespace().collect(),
    ))
}

/// A numeric line of a `/proc` key-value file (`VmRSS:  12345 kB` -> 12345).
pub fn value(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|line| {
            let (key, value) = line.split_once(':')?;
            (key == name).then(|| value.split_whitespace().next()?.parse().ok())?
        })
        .unwrap_or(0)
}

fn pids() -> impl Iterator<Item = u32> {
    fs::read_dir("/proc")
        .expect("/proc is readable")
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
}

/// The pid of our child process whose command name is `comm`.
pub fn child_pid(comm: &str) -> u32 {
    let me = std::process::id();
    pids()
        .find(|pid| {
            fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                // rest[0] = state, rest[1] = ppid
                parse_stat(&stat).is_some_and(|(name, rest)| {
                    name == comm && rest.get(1).and_then(|p| p.parse::<u32>().ok()) == Some(me)
                })
            })
        })
        .unwrap_or_else(|| panic!("no child process named {comm}"))
}

/// The processes of a process group, with their command names.
pub fn group(pgid: u32) -> Vec<(u32, String)> {
    pids()
        .filter_map(|pid| {
            let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let (name, rest) = parse_stat(&stat)?;
            // rest[2] = pgrp
            (rest.get(2)?.parse::<u32>().ok()? == pgid).then(|| (pid, name.to_owned()))
        })
        .collect()
}

/// What `/proc` says about one process at one moment.
pub struct Snapshot {
    pub status: String,
    /// Proportional set size (shared pages divided among their users), kB.
    pub pss_kb: u64,
    /// utime + stime, in clock ticks (whole process).
    pub cpu_ticks: u64,
    /// Sum over threads of the time on a CPU (schedstat), ns.
    pub on_cpu_ns: u64,
    /// Sum over threads of voluntary + involuntary context switches.
    pub switches: u64,
}

impl Snapshot {
    /// Reads the process; `None` when it is gone.
    pub fn take(pid: u32) -> Option<Snapshot> {
        let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let (_, fields) = parse_stat(&stat)?;
        // Fields 14 and 15 of proc(5) (utime, stime) are 11 and 12 after the state (field 3).
        let tick = |i: usize| {
            fields
                .get(i)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        let cpu_ticks = tick(11) + tick(12);
        let pss_kb = fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))
            .map(|s| value(&s, "Pss"))
            .unwrap_or(0);
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
                    switches += value(&task_status, "voluntary_ctxt_switches")
                        + value(&task_status, "nonvoluntary_ctxt_switches");
                }
            }
        }
        Some(Snapshot {
            status,
            pss_kb,
            cpu_ticks,
            on_cpu_ns,
            switches,
        })
    }

    /// A numeric line of `/proc/<pid>/status`, in kB for memory lines.
    pub fn kb(&self, name: &str) -> u64 {
        value(&self.status, name)
    }
}

/// Clock ticks per second (`utime`/`stime` unit).
pub fn ticks_per_second() -> f64 {
    // SAFETY: sysconf has no preconditions.
    unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64
}
