//! One PulseAudio daemon with a null sink for every test of the machine.
//!
//! baresip (`audio_player alsa,default`) and Parley (cpal on ALSA `default`) reach it through
//! the ALSA pulse plugin; the null sink paces audio in real time. Without a stream keeping it
//! busy, `module-null-sink` stalls 1–2 s whenever a stream starts on the idle sink, so a
//! silent `pacat` keep-alive stream runs beside it (see shared/reference/test-rig.md).
//!
//! [`Pulse::ensure`] is idempotent and race-free across parallel test processes (an
//! exclusive file lock around check-and-start). The daemon and the keep-alive are shared and
//! outlive the tests on purpose (`--exit-idle-time=-1`); they hold no test's stdout/stderr.

use std::fs::{self, File};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::wait;

/// Name of the null sink (and, with `.monitor`, of its capture source).
pub const SINK: &str = "parley_e2e";

/// The shared PulseAudio daemon: the environment its clients need.
#[derive(Debug, Clone)]
pub struct Pulse {
    runtime_dir: PathBuf,
    state_dir: PathBuf,
}

impl Pulse {
    /// Makes sure the daemon, its null sink and the keep-alive stream run; returns how to
    /// reach them. Panics (with the daemon's log path) if PulseAudio cannot be started.
    #[track_caller]
    pub fn ensure() -> Pulse {
        let state_dir = crate::state_dir().join("pulse");
        fs::create_dir_all(&state_dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", state_dir.display()));
        let runtime_dir = match std::env::var_os("PARLEY_E2E_XDG_RUNTIME_DIR") {
            Some(dir) => PathBuf::from(dir),
            None => state_dir.join("xdg"),
        };
        fs::create_dir_all(&runtime_dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", runtime_dir.display()));
        let _ = fs::set_permissions(&runtime_dir, fs::Permissions::from_mode(0o700));
        let pulse = Pulse {
            runtime_dir,
            state_dir,
        };

        let lock_path = pulse.state_dir.join("lock");
        let lock = File::create(&lock_path)
            .unwrap_or_else(|e| panic!("cannot open {}: {e}", lock_path.display()));
        // Held until the end of this function.
        lock.lock()
            .unwrap_or_else(|e| panic!("cannot lock {}: {e}", lock_path.display()));

        if !pulse.server_answers() {
            pulse.start_daemon();
        }
        if !pulse.has_sink() {
            pulse.load_sink();
        }
        pulse.ensure_keepalive();
        pulse
    }

    /// `XDG_RUNTIME_DIR` and `PULSE_SERVER` for a client of this daemon.
    pub fn env(&self) -> Vec<(String, String)> {
        vec![
            (
                "XDG_RUNTIME_DIR".to_owned(),
                self.runtime_dir.display().to_string(),
            ),
            ("PULSE_SERVER".to_owned(), self.server()),
        ]
    }

    /// Adds [`Pulse::env`] to `command`.
    pub fn apply(&self, command: &mut Command) {
        command.envs(self.env());
    }

    /// The daemon's `XDG_RUNTIME_DIR`.
    pub fn runtime_dir(&self) -> &Path {
        &self.runtime_dir
    }

    /// `unix:<runtime dir>/pulse/native`.
    pub fn server(&self) -> String {
        format!("unix:{}", self.runtime_dir.join("pulse/native").display())
    }

    /// The daemon's log file.
    pub fn log_path(&self) -> PathBuf {
        self.state_dir.join("pulseaudio.log")
    }

    fn pactl(&self, args: &[&str]) -> Option<String> {
        let mut command = Command::new("pactl");
        self.apply(&mut command);
        let output = command
            .args(args)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()?;
        output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
    }

    fn server_answers(&self) -> bool {
        self.pactl(&["info"]).is_some()
    }

    fn has_sink(&self) -> bool {
        self.pactl(&["list", "short", "sinks"])
            .is_some_and(|sinks| sinks.lines().any(|l| l.split('\t').nth(1) == Some(SINK)))
    }

    #[track_caller]
    fn start_daemon(&self) {
        let mut command = Command::new("pulseaudio");
        self.apply(&mut command);
        // -D forks the daemon off; the daemon is a session leader, outside the test's group.
        let status = command
            .args([
                "-D",
                "-n",
                "--exit-idle-time=-1",
                "--disallow-exit",
                &format!("--load=module-null-sink sink_name={SINK} rate=48000 channels=2"),
                "--load=module-native-protocol-unix",
                &format!("--log-target=file:{}", self.log_path().display()),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap_or_else(|e| panic!("cannot run pulseaudio (apt install pulseaudio): {e}"));
        let up = wait::until_true(wait::SHORT, || self.server_answers());
        assert!(
            up,
            "PulseAudio did not come up (pulseaudio -D exited with {status}); see {}",
            self.log_path().display()
        );
    }

    #[track_caller]
    fn load_sink(&self) {
        let loaded = self.pactl(&[
            "load-module",
            "module-null-sink",
            &format!("sink_name={SINK}"),
            "rate=48000",
            "channels=2",
        ]);
        assert!(loaded.is_some(), "cannot load the null sink {SINK}");
        let _ = self.pactl(&["set-default-sink", SINK]);
        let _ = self.pactl(&["set-default-source", &format!("{SINK}.monitor")]);
    }

    /// Starts the silent `pacat` stream unless the one recorded in the pid file runs.
    #[track_caller]
    fn ensure_keepalive(&self) {
        let pid_file = self.state_dir.join("keepalive.pid");
        let running = fs::read_to_string(&pid_file)
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
            .and_then(crate::process::proc_stat)
            .is_some_and(|stat| stat.comm == "pacat" && stat.state != 'Z');
        if running {
            return;
        }
        let zero = File::open("/dev/zero").expect("/dev/zero exists on Linux");
        let log = File::create(self.state_dir.join("keepalive.log"))
            .expect("the pulse state dir was created above");
        let mut command = Command::new("pacat");
        self.apply(&mut command);
        let child = command
            .args([
                "--raw",
                "--format=s16le",
                "--rate=48000",
                "--channels=2",
                "--latency-msec=10",
                "--volume=0",
                &format!("--device={SINK}"),
                "--client-name=parley-e2e-keepalive",
            ])
            .stdin(zero)
            .stdout(Stdio::null())
            .stderr(log)
            // Its own group: not killed with a test's group, shared by all tests.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run pacat (apt install pulseaudio-utils): {e}"));
        fs::write(&pid_file, child.id().to_string())
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", pid_file.display()));
        // Wait until the stream is connected, so that the first test already benefits.
        let connected = wait::until_true(wait::SHORT, || {
            self.pactl(&["list", "sink-inputs"])
                .is_some_and(|inputs| inputs.contains("parley-e2e-keepalive"))
        });
        assert!(
            connected,
            "the pacat keep-alive stream did not connect; see {}",
            self.state_dir.join("keepalive.log").display()
        );
        // The Child is dropped without waiting: the keep-alive runs until the machine stops.
        drop(child);
    }
}
