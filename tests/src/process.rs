//! Child processes of the rig: each in its own process group, stdout/stderr in files,
//! the whole group stopped on `Drop`.
//!
//! Kamailio forks worker processes that outlive a killed main process, so stopping is done
//! per process group: SIGTERM to the group, wait (the leader is not reaped yet, so its pid,
//! which is the group id, cannot be reused meanwhile), SIGKILL to what is left, then reap.
//!
//! A test process killed from outside (a nextest timeout) cannot run its `Drop`s. Every
//! spawned group is therefore recorded in `<state_dir>/procs/`; [`reap_orphans`] (run by
//! every [`crate::TestDir::new`]) kills the groups whose owning test process is gone.

use std::fs;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::time::Duration;

use crate::wait;

/// How long a process group gets to exit after SIGTERM before it is killed.
const TERM_GRACE: Duration = Duration::from_secs(5);

/// A running program of the rig. Dropping it stops its whole process group.
#[derive(Debug)]
pub struct RigProcess {
    name: String,
    program: String,
    child: Child,
    /// The pid of the child, which is also its process group id.
    pgid: i32,
    stdout_path: PathBuf,
    stderr_path: PathBuf,
    registry_entry: Option<PathBuf>,
    status: Option<ExitStatus>,
}

/// Options of [`RigProcess::spawn`].
#[derive(Debug, Default, Clone, Copy)]
pub struct SpawnOptions {
    /// Give the child a pipe as stdin (take it with [`RigProcess::take_stdin`]); otherwise
    /// stdin is `/dev/null`.
    pub piped_stdin: bool,
    /// Give the child a pipe as stdout (take it with [`RigProcess::take_stdout`]); the
    /// reader is then expected to copy it to [`RigProcess::stdout_path`].
    pub piped_stdout: bool,
}

impl RigProcess {
    /// Starts `command` in a new process group, with stdout and stderr appended to
    /// `<log_dir>/<name>.stdout.log` and `<log_dir>/<name>.stderr.log`.
    pub fn spawn(
        name: &str,
        mut command: Command,
        log_dir: &Path,
        options: SpawnOptions,
    ) -> io::Result<RigProcess> {
        fs::create_dir_all(log_dir)?;
        let stdout_path = log_dir.join(format!("{name}.stdout.log"));
        let stderr_path = log_dir.join(format!("{name}.stderr.log"));
        let open = |path: &Path| fs::OpenOptions::new().create(true).append(true).open(path);
        let program = command.get_program().to_string_lossy().into_owned();
        command
            .stdin(if options.piped_stdin {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(if options.piped_stdout {
                Stdio::piped()
            } else {
                Stdio::from(open(&stdout_path)?)
            })
            .stderr(open(&stderr_path)?)
            .process_group(0);
        let child = command.spawn().map_err(|e| {
            io::Error::new(e.kind(), format!("cannot start {program} ({name}): {e}"))
        })?;
        let pgid = i32::try_from(child.id()).expect("pids fit in i32 on Linux");
        let comm = Path::new(&program)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let registry_entry = register(pgid, &comm);
        Ok(RigProcess {
            name: name.to_owned(),
            program,
            child,
            pgid,
            stdout_path,
            stderr_path,
            registry_entry,
            status: None,
        })
    }

    /// The name given at spawn time.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The pid (also the process group id).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// File with the child's stdout.
    pub fn stdout_path(&self) -> &Path {
        &self.stdout_path
    }

    /// File with the child's stderr.
    pub fn stderr_path(&self) -> &Path {
        &self.stderr_path
    }

    /// The write end of the child's stdin, when spawned with `piped_stdin`.
    pub fn take_stdin(&mut self) -> Option<ChildStdin> {
        self.child.stdin.take()
    }

    /// The read end of the child's stdout, when spawned with `piped_stdout`.
    pub fn take_stdout(&mut self) -> Option<ChildStdout> {
        self.child.stdout.take()
    }

    /// The exit status, if the main process has exited (reaps it, but does not touch the
    /// rest of its group: [`RigProcess::stop`] still does that).
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().ok().flatten();
        }
        self.status
    }

    /// Whether the main process is still running.
    pub fn is_running(&mut self) -> bool {
        self.try_wait().is_none()
    }

    /// Waits up to `timeout` (scaled) for the main process to exit by itself.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<ExitStatus> {
        wait::until(timeout, || self.try_wait())
    }

    /// Stops the whole process group: SIGTERM, up to 5 s of grace, then SIGKILL. Returns the
    /// main process's exit status. Idempotent.
    pub fn stop(&mut self) -> Option<ExitStatus> {
        self.stop_with(libc::SIGTERM)
    }

    /// Kills the whole process group at once (SIGKILL), like a crash.
    pub fn kill(&mut self) -> Option<ExitStatus> {
        self.stop_with(libc::SIGKILL)
    }

    fn stop_with(&mut self, signal: libc::c_int) -> Option<ExitStatus> {
        if self.registry_entry.is_none() && self.status.is_some() {
            return self.status;
        }
        if self.status.is_none() {
            // The leader is not reaped yet, so the group id cannot have been reused.
            signal_group(self.pgid, signal);
            let exited = wait::until_true(TERM_GRACE, || {
                leader_exited(self.pgid) && group_members(self.pgid, Some(self.pgid)).is_empty()
            });
            if !exited {
                eprintln!(
                    "parley-e2e: {} ({}) did not stop within {TERM_GRACE:?}, killing its group",
                    self.name, self.program
                );
            }
            signal_group(self.pgid, libc::SIGKILL);
            self.status = self.child.wait().ok();
        } else {
            // The leader was reaped by try_wait(): only signal members that still exist.
            for pid in group_members(self.pgid, None) {
                // SAFETY: plain kill(2) of a pid that is a member of our child's group.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        // Workers of the group were re-parented to init; wait until they are gone so that
        // a test that ends right after this leaves nothing behind.
        wait::until_true(TERM_GRACE, || group_members(self.pgid, None).is_empty());
        if let Some(entry) = self.registry_entry.take() {
            let _ = fs::remove_file(entry);
        }
        self.status
    }
}

impl Drop for RigProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

fn signal_group(pgid: i32, signal: libc::c_int) {
    // SAFETY: killpg(2) has no memory-safety preconditions; ESRCH (no such group) is fine.
    unsafe { libc::killpg(pgid, signal) };
}

/// Whether the process `pid` (our unreaped child) has exited, without reaping it.
fn leader_exited(pid: i32) -> bool {
    // SAFETY: a zeroed siginfo_t is a valid out-parameter for waitid(2).
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: waitid(2) with WNOWAIT only inspects our own child; `info` is valid.
    let rc = unsafe {
        libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOHANG | libc::WNOWAIT,
        )
    };
    // SAFETY: si_pid() reads the union field that waitid(2) fills for WEXITED.
    rc == 0 && unsafe { info.si_pid() } == pid
}

/// Live (non-zombie) members of process group `pgid`, without `except`.
pub(crate) fn group_members(pgid: i32, except: Option<i32>) -> Vec<i32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| Some(pid) != except)
        .filter(|&pid| proc_stat(pid).is_some_and(|stat| stat.pgrp == pgid && stat.state != 'Z'))
        .collect()
}

/// The fields of `/proc/<pid>/stat` the rig needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProcStat {
    pub comm: String,
    pub state: char,
    pub pgrp: i32,
    /// Clock ticks after boot: with the pid, identifies a process over time.
    pub start_time: u64,
}

pub(crate) fn proc_stat(pid: i32) -> Option<ProcStat> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid pgrp ..."; comm may contain spaces and parentheses.
    let open = text.find('(')?;
    let close = text.rfind(')')?;
    let comm = text[open + 1..close].to_owned();
    let fields: Vec<&str> = text[close + 1..].split_whitespace().collect();
    // fields[0] is field 3 of stat(5) (state); start time is field 22.
    Some(ProcStat {
        comm,
        state: fields.first()?.chars().next()?,
        pgrp: fields.get(2)?.parse().ok()?,
        start_time: fields.get(19)?.parse().ok()?,
    })
}

fn registry_dir() -> PathBuf {
    let dir = crate::state_dir().join("procs");
    let _ = fs::create_dir_all(&dir);
    dir
}

/// Records that this test process owns process group `pgid` (program `comm`).
fn register(pgid: i32, comm: &str) -> Option<PathBuf> {
    let me = std::process::id() as i32;
    let my_start = proc_stat(me)?.start_time;
    let leader_start = proc_stat(pgid).map(|s| s.start_time).unwrap_or(0);
    let entry = registry_dir().join(pgid.to_string());
    // comm in /proc is truncated to 15 bytes.
    let comm: String = comm.chars().take(15).collect();
    fs::write(&entry, format!("{me} {my_start} {leader_start} {comm}\n")).ok()?;
    Some(entry)
}

/// Kills the process groups recorded by test processes that no longer exist (killed by a
/// timeout before their `Drop`s ran). Only processes that are still in the recorded group,
/// run the recorded program and started no earlier than the recorded leader are killed, so
/// a reused pid or group id is never hit.
pub fn reap_orphans() {
    let Ok(entries) = fs::read_dir(registry_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(pgid) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(text) = fs::read_to_string(&path) else {
            continue;
        };
        let fields: Vec<&str> = text.split_whitespace().collect();
        let (Some(owner), Some(owner_start), Some(leader_start), Some(comm)) = (
            fields.first().and_then(|s| s.parse::<i32>().ok()),
            fields.get(1).and_then(|s| s.parse::<u64>().ok()),
            fields.get(2).and_then(|s| s.parse::<u64>().ok()),
            fields.get(3),
        ) else {
            let _ = fs::remove_file(&path);
            continue;
        };
        let owner_alive = proc_stat(owner).is_some_and(|s| s.start_time == owner_start);
        if owner_alive {
            continue;
        }
        let Ok(procs) = fs::read_dir("/proc") else {
            return;
        };
        for pid in procs
            .flatten()
            .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        {
            if let Some(stat) = proc_stat(pid) {
                if stat.pgrp == pgid && stat.comm == *comm && stat.start_time >= leader_start {
                    // SAFETY: plain kill(2) of a process identified above.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                }
            }
        }
        let _ = fs::remove_file(&path);
    }
}

/// Whether `program` can be found in `PATH`.
pub fn in_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}
