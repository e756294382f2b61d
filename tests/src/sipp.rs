//! sipp (`sip-tester`) runs of the scenarios in `tests/sipp/`.
//!
//! Each run gets its own local SIP port and media ports, writes its screen, errors,
//! statistics and message trace into the test dir, and reports its exit code:
//! 0 = every call succeeded, 1 = some call failed, 97 = stopped by an internal command,
//! 99 = normal exit without any call processed, 255 (-1) = fatal error, 254 (-2) = fatal
//! error binding a socket.

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::process::{RigProcess, SpawnOptions};
use crate::{ports, wait, TestDir, LOOPBACK};

/// sipp's transport (`-t`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SippTransport {
    /// `-t u1`: one UDP socket.
    #[default]
    Udp,
    /// `-t t1`: one TCP connection.
    Tcp,
}

/// A sipp run to be started: a scenario and its command-line options.
#[derive(Debug, Clone)]
pub struct Sipp {
    name: String,
    scenario: Scenario,
    remote: Option<String>,
    local_port: u16,
    media_port: u16,
    service: Option<String>,
    calls: u32,
    rate: Option<u32>,
    keys: Vec<(String, String)>,
    auth: Option<(String, String)>,
    transport: SippTransport,
    timeout: Duration,
    pause: Option<Duration>,
    inject: Option<PathBuf>,
    extra: Vec<String>,
}

#[derive(Debug, Clone)]
enum Scenario {
    File(PathBuf),
    Builtin(String),
}

impl Sipp {
    /// A UAC run of `scenario` (a file name in `tests/sipp/`, with or without `.xml`, or a
    /// path) towards `remote` (`127.0.0.1:5060`), one call.
    #[track_caller]
    pub fn uac(scenario: &str, remote: impl fmt::Display) -> Sipp {
        let mut sipp = Sipp::new(Scenario::File(scenario_path(scenario)));
        sipp.remote = Some(remote.to_string());
        sipp
    }

    /// A UAS run of `scenario` (see [`Sipp::uac`]) that handles one call and exits.
    #[track_caller]
    pub fn uas(scenario: &str) -> Sipp {
        Sipp::new(Scenario::File(scenario_path(scenario)))
    }

    /// One of sipp's built-in scenarios (`uac`, `uas`, `regexp`, `branchc`, ...).
    pub fn builtin(name: &str) -> Sipp {
        Sipp::new(Scenario::Builtin(name.to_owned()))
    }

    fn new(scenario: Scenario) -> Sipp {
        let name = match &scenario {
            Scenario::File(path) => path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "sipp".to_owned()),
            Scenario::Builtin(name) => format!("builtin-{name}"),
        };
        Sipp {
            name,
            scenario,
            remote: None,
            local_port: ports::port(),
            media_port: ports::rtp_range(4).start,
            service: None,
            calls: 1,
            rate: None,
            keys: Vec::new(),
            auth: None,
            transport: SippTransport::Udp,
            timeout: wait::LONG * 2,
            pause: None,
            inject: None,
            extra: Vec::new(),
        }
    }

    /// Names the run's log files (default: the scenario's name).
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.to_owned();
        self
    }

    /// Sets the remote address (UAC mode, or a UAS that sends first).
    pub fn remote(mut self, remote: impl fmt::Display) -> Self {
        self.remote = Some(remote.to_string());
        self
    }

    /// `-s`: the user part of the Request-URI (`[service]`).
    pub fn service(mut self, service: &str) -> Self {
        self.service = Some(service.to_owned());
        self
    }

    /// `-m`: number of calls before exiting (default 1).
    pub fn calls(mut self, calls: u32) -> Self {
        self.calls = calls;
        self
    }

    /// `-r`: calls per second.
    pub fn rate(mut self, rate: u32) -> Self {
        self.rate = Some(rate);
        self
    }

    /// `-key name value`: a `[name]` keyword for the scenario.
    pub fn key(mut self, name: &str, value: impl fmt::Display) -> Self {
        self.keys.push((name.to_owned(), value.to_string()));
        self
    }

    /// `-au user -ap password`: credentials for `[authentication]`.
    pub fn auth(mut self, user: &str, password: &str) -> Self {
        self.auth = Some((user.to_owned(), password.to_owned()));
        self
    }

    /// `-p`: the local SIP port (default: a free one).
    pub fn local_port(mut self, port: u16) -> Self {
        self.local_port = port;
        self
    }

    /// `-t`: transport.
    pub fn transport(mut self, transport: SippTransport) -> Self {
        self.transport = transport;
        self
    }

    /// `-d`: the duration of `<pause/>` without a `milliseconds` attribute.
    pub fn pause(mut self, pause: Duration) -> Self {
        self.pause = Some(pause);
        self
    }

    /// `-timeout`: sipp gives up (with an error) after this long (default 60 s, scaled).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// `-inf`: an injection CSV file for `[field0]`, `[field1]`, ...
    pub fn inject_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.inject = Some(path.into());
        self
    }

    /// Any other sipp argument.
    pub fn arg(mut self, arg: &str) -> Self {
        self.extra.push(arg.to_owned());
        self
    }

    /// The local SIP port sipp will use.
    pub fn port(&self) -> u16 {
        self.local_port
    }

    /// `127.0.0.1:<local port>`.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.local_port))
    }

    /// `sip:<user>@127.0.0.1:<local port>`: reaches this sipp directly.
    pub fn uri(&self, user: &str) -> String {
        format!("sip:{user}@{LOOPBACK}:{}", self.local_port)
    }

    /// Runs to completion (at most the sipp timeout plus 15 s) and returns the outcome.
    #[track_caller]
    pub fn run(self, dir: &TestDir) -> SippOutcome {
        let margin = Duration::from_secs(15);
        let timeout = self.timeout + margin;
        self.spawn(dir).wait(timeout)
    }

    /// Starts sipp in the background; returns once its SIP socket is open.
    #[track_caller]
    pub fn spawn(self, dir: &TestDir) -> SippHandle {
        assert!(
            crate::process::in_path("sipp"),
            "sipp is not installed (apt install sip-tester)"
        );
        let log_dir = dir.subdir("sipp");
        let file = |suffix: &str| log_dir.join(format!("{}.{suffix}", self.name));
        let files = SippFiles {
            screen: file("screen.log"),
            errors: file("errors.log"),
            stats: file("stat.csv"),
            messages: file("messages.log"),
            logs: file("logs.log"),
        };
        let mut command = Command::new("sipp");
        match &self.scenario {
            Scenario::File(path) => command.arg("-sf").arg(path),
            Scenario::Builtin(name) => command.arg("-sn").arg(name),
        };
        if let Some(remote) = &self.remote {
            command.arg(remote);
        }
        command
            .args(["-i", LOOPBACK, "-mi", LOOPBACK])
            .arg("-p")
            .arg(self.local_port.to_string())
            .arg("-mp")
            .arg(self.media_port.to_string())
            .arg("-m")
            .arg(self.calls.to_string())
            .arg("-t")
            .arg(match self.transport {
                SippTransport::Udp => "u1",
                SippTransport::Tcp => "t1",
            })
            .arg("-timeout")
            .arg(format!("{}s", wait::scaled(self.timeout).as_secs().max(1)))
            .args(["-timeout_error", "-nostdin", "-trace_err", "-trace_screen"])
            .args(["-trace_stat", "-trace_msg", "-trace_logs"])
            .arg("-error_file")
            .arg(&files.errors)
            .arg("-screen_file")
            .arg(&files.screen)
            .arg("-stf")
            .arg(&files.stats)
            .arg("-message_file")
            .arg(&files.messages)
            .arg("-log_file")
            .arg(&files.logs)
            .current_dir(&log_dir);
        if let Some(service) = &self.service {
            command.arg("-s").arg(service);
        }
        if let Some(rate) = self.rate {
            command.arg("-r").arg(rate.to_string());
        }
        if let Some(pause) = self.pause {
            command.arg("-d").arg(pause.as_millis().to_string());
        }
        if let Some((user, password)) = &self.auth {
            command.arg("-au").arg(user).arg("-ap").arg(password);
        }
        if let Some(inject) = &self.inject {
            command.arg("-inf").arg(inject);
        }
        for (name, value) in &self.keys {
            command.arg("-key").arg(name).arg(value);
        }
        command.args(&self.extra);
        let command_line = format!("{command:?}");
        let _ = fs::write(file("cmdline.txt"), &command_line);

        let mut process = RigProcess::spawn(
            &format!("sipp-{}", self.name),
            command,
            &log_dir,
            SpawnOptions::default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let port = self.local_port;
        let tcp = self.transport == SippTransport::Tcp;
        let mut exited = false;
        let listening = wait::until_true(wait::SHORT, || {
            if process.try_wait().is_some() {
                exited = true;
                return true;
            }
            // UAC over TCP connects instead of listening: then the process being up is all.
            socket_bound(port, !tcp) || (tcp && self.remote.is_some())
        });
        assert!(
            listening || exited,
            "sipp did not open port {port} within {:?}; {command_line}; log: {}",
            wait::SHORT,
            process.stderr_path().display()
        );
        SippHandle {
            name: self.name,
            local_port: self.local_port,
            process,
            files,
            command_line,
        }
    }
}

/// Where a sipp run writes its traces.
#[derive(Debug, Clone)]
struct SippFiles {
    screen: PathBuf,
    errors: PathBuf,
    stats: PathBuf,
    messages: PathBuf,
    logs: PathBuf,
}

/// A sipp run in the background. Dropping it kills sipp.
#[derive(Debug)]
pub struct SippHandle {
    name: String,
    local_port: u16,
    process: RigProcess,
    files: SippFiles,
    command_line: String,
}

impl SippHandle {
    /// The local SIP port.
    pub fn port(&self) -> u16 {
        self.local_port
    }

    /// `127.0.0.1:<local port>`.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.local_port))
    }

    /// `sip:<user>@127.0.0.1:<local port>`.
    pub fn uri(&self, user: &str) -> String {
        format!("sip:{user}@{LOOPBACK}:{}", self.local_port)
    }

    /// Whether sipp still runs.
    pub fn is_running(&mut self) -> bool {
        self.process.is_running()
    }

    /// The SIP messages sipp sent and received so far (`-trace_msg`).
    pub fn messages(&self) -> String {
        fs::read_to_string(&self.files.messages).unwrap_or_default()
    }

    /// Waits up to `timeout` (scaled) for sipp to finish; kills it if it does not (the
    /// outcome then says `timed_out`).
    pub fn wait(mut self, timeout: Duration) -> SippOutcome {
        let status = self.process.wait_timeout(timeout);
        let timed_out = status.is_none();
        let status = if timed_out {
            self.process.stop()
        } else {
            status
        };
        self.process.stop();
        self.outcome(status.and_then(|s| s.code()), timed_out)
    }

    /// Stops sipp now and returns what it did.
    pub fn stop(mut self) -> SippOutcome {
        let status = self.process.stop();
        self.outcome(status.and_then(|s| s.code()), false)
    }

    fn outcome(&self, exit_code: Option<i32>, timed_out: bool) -> SippOutcome {
        let read = |path: &Path| fs::read_to_string(path).unwrap_or_default();
        SippOutcome {
            name: self.name.clone(),
            exit_code,
            timed_out,
            screen: read(&self.files.screen),
            errors: read(&self.files.errors),
            stats: parse_stats(&read(&self.files.stats)),
            messages_path: self.files.messages.clone(),
            logs_path: self.files.logs.clone(),
            stderr_path: self.process.stderr_path().to_owned(),
            command_line: self.command_line.clone(),
        }
    }
}

/// What a finished sipp run did.
#[derive(Debug, Clone)]
pub struct SippOutcome {
    /// The run's name.
    pub name: String,
    /// Exit code (`None` if killed by a signal).
    pub exit_code: Option<i32>,
    /// Whether the rig had to kill it.
    pub timed_out: bool,
    /// The final screen (`-trace_screen`).
    pub screen: String,
    /// The errors log (unexpected messages, timeouts...).
    pub errors: String,
    /// The last line of the statistics (`-trace_stat`), by column name.
    pub stats: HashMap<String, String>,
    /// The message trace.
    pub messages_path: PathBuf,
    /// The `-trace_logs` file (`<log>` actions of the scenario).
    pub logs_path: PathBuf,
    /// sipp's stderr.
    pub stderr_path: PathBuf,
    /// How sipp was started.
    pub command_line: String,
}

impl SippOutcome {
    /// Exit code 0: every call succeeded.
    pub fn success(&self) -> bool {
        self.exit_code == Some(0) && !self.timed_out
    }

    /// Calls that reached the end of the scenario (`SuccessfulCall(C)`).
    pub fn successful_calls(&self) -> u64 {
        self.stat("SuccessfulCall(C)")
    }

    /// Calls that failed (`FailedCall(C)`).
    pub fn failed_calls(&self) -> u64 {
        self.stat("FailedCall(C)")
    }

    /// A cumulative counter of the statistics, 0 if absent.
    pub fn stat(&self, column: &str) -> u64 {
        self.stats
            .get(column)
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    }

    /// The SIP messages exchanged.
    pub fn messages(&self) -> String {
        fs::read_to_string(&self.messages_path).unwrap_or_default()
    }

    /// Panics, with the screen, the errors and where the traces are, unless the run
    /// succeeded.
    #[track_caller]
    pub fn assert_success(&self) {
        assert!(self.success(), "sipp run failed:\n{self}");
    }
}

impl fmt::Display for SippOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "sipp {}: exit code {:?}{}, {} successful / {} failed calls",
            self.name,
            self.exit_code,
            if self.timed_out {
                " (killed after the timeout)"
            } else {
                ""
            },
            self.successful_calls(),
            self.failed_calls()
        )?;
        writeln!(f, "command: {}", self.command_line)?;
        writeln!(f, "--- errors ---\n{}", self.errors.trim())?;
        writeln!(f, "--- screen ---\n{}", self.screen.trim())?;
        write!(
            f,
            "messages: {}\nstderr: {}",
            self.messages_path.display(),
            self.stderr_path.display()
        )
    }
}

/// Resolves a scenario name to `tests/sipp/<name>.xml`, or takes a path as is.
#[track_caller]
pub fn scenario_path(scenario: &str) -> PathBuf {
    let path = if scenario.contains('/') {
        PathBuf::from(scenario)
    } else if scenario.ends_with(".xml") {
        crate::sipp_dir().join(scenario)
    } else {
        crate::sipp_dir().join(format!("{scenario}.xml"))
    };
    assert!(path.is_file(), "no sipp scenario {}", path.display());
    path
}

fn parse_stats(csv: &str) -> HashMap<String, String> {
    let mut lines = csv.lines().filter(|l| !l.trim().is_empty());
    let Some(header) = lines.next() else {
        return HashMap::new();
    };
    let Some(last) = lines.next_back() else {
        return HashMap::new();
    };
    header
        .split(';')
        .zip(last.split(';'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

/// Whether something is bound to local `port` (UDP when `udp`, else a listening TCP
/// socket), from `/proc/net/{udp,tcp}` (a bind probe could steal the port).
pub fn socket_bound(port: u16, udp: bool) -> bool {
    let table = if udp {
        "/proc/net/udp"
    } else {
        "/proc/net/tcp"
    };
    let Ok(text) = fs::read_to_string(table) else {
        return false;
    };
    text.lines().skip(1).any(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let local_port = fields
            .get(1)
            .and_then(|a| a.rsplit(':').next())
            .and_then(|p| u16::from_str_radix(p, 16).ok());
        // TCP state 0A = LISTEN
        local_port == Some(port) && (udp || fields.get(3) == Some(&"0A"))
    })
}
