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
use std::process::{Child, Command, Stdio};

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

    /// A silent `pacat` stream into `sink` at low latency, which keeps a null sink from
    /// stalling new streams (see the module's docs).
    fn keepalive(&self, sink: &str) -> Command {
        let mut command = Command::new("pacat");
        self.apply(&mut command);
        command
            .args([
                "--raw",
                "--format=s16le",
                "--rate=48000",
                "--channels=2",
                "--latency-msec=10",
                "--volume=0",
                &format!("--device={sink}"),
                "--client-name=parley-e2e-keepalive",
            ])
            .stdin(File::open("/dev/zero").expect("/dev/zero exists on Linux"))
            .stdout(Stdio::null());
        command
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
        let log = File::create(self.state_dir.join("keepalive.log"))
            .expect("the pulse state dir was created above");
        let child = self
            .keepalive(SINK)
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

/// A null sink of one test: a device that can be chosen, listened to through its monitor,
/// and unplugged (unloaded) mid-call. Dropping it unloads it.
#[derive(Debug)]
pub struct NullSink {
    pulse: Pulse,
    name: String,
    module: Option<String>,
    keepalive: Child,
}

/// Audio heard on a monitor, 8 kHz mono.
pub type Recording = Vec<i16>;

impl Pulse {
    /// Loads a null sink named `parley_<label>_<pid>` with a silent keep-alive stream on it
    /// (an idle null sink stalls a new stream for seconds) and makes the environment of
    /// this process point cpal at the daemon.
    #[track_caller]
    pub fn null_sink(&self, label: &str) -> NullSink {
        for (key, value) in self.env() {
            // Tests run one per process (nextest): no other thread reads the environment.
            std::env::set_var(key, value);
        }
        let name = format!("parley_{label}_{}", std::process::id());
        let module = self
            .pactl(&[
                "load-module",
                "module-null-sink",
                &format!("sink_name={name}"),
                &format!("sink_properties=device.description=Parley-test-{label}"),
                "rate=48000",
                "channels=2",
            ])
            .unwrap_or_else(|| panic!("cannot load the null sink {name}"));
        let keepalive = self
            .keepalive(&name)
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run pacat: {e}"));
        NullSink {
            pulse: self.clone(),
            name,
            module: Some(module.trim().to_owned()),
            keepalive,
        }
    }
}

impl NullSink {
    /// The sink's name: the id of the output device.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The monitor's name: the id of an input device that hears what the sink plays.
    pub fn monitor(&self) -> String {
        format!("{}.monitor", self.name)
    }

    /// Records what the sink plays for `seconds`, as 8 kHz mono (PulseAudio converts).
    #[track_caller]
    pub fn record(&self, seconds: f32) -> Recording {
        let mut command = Command::new("parec");
        self.pulse.apply(&mut command);
        let mut child = command
            .args([
                "--raw",
                "--format=s16le",
                "--rate=8000",
                "--channels=1",
                "--latency-msec=20",
                &format!("--device={}", self.monitor()),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run parec: {e}"));
        let mut stdout = child.stdout.take().expect("piped");
        let wanted = (seconds * 8_000.0) as usize * 2;
        let reader = std::thread::spawn(move || {
            use std::io::Read;
            let mut bytes = vec![0u8; wanted];
            let mut filled = 0;
            while filled < wanted {
                match stdout.read(&mut bytes[filled..]) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => filled += n,
                }
            }
            bytes.truncate(filled);
            bytes
        });
        let bytes = reader.join().expect("the reader does not panic");
        let _ = child.kill();
        let _ = child.wait();
        bytes
            .chunks_exact(2)
            .map(|b| i16::from_le_bytes([b[0], b[1]]))
            .collect()
    }

    /// Plays 8 kHz mono samples into the sink (in the background; returns at once).
    #[track_caller]
    pub fn play(&self, samples: &[i16]) -> Child {
        let mut command = Command::new("pacat");
        self.pulse.apply(&mut command);
        let mut child = command
            .args([
                "--raw",
                "--format=s16le",
                "--rate=8000",
                "--channels=1",
                &format!("--device={}", self.name),
                "--client-name=parley-e2e-player",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run pacat: {e}"));
        let bytes: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
        let mut stdin = child.stdin.take().expect("piped");
        std::thread::spawn(move || {
            use std::io::Write;
            let _ = stdin.write_all(&bytes);
        });
        child
    }

    /// Unplugs the device: unloads the sink (and with it its monitor).
    pub fn unload(&mut self) {
        if let Some(module) = self.module.take() {
            let _ = self.pulse.pactl(&["unload-module", &module]);
        }
    }

    /// Whether a stream of a client with this name plays into the sink now.
    pub fn has_stream_from(&self, client: &str) -> bool {
        let Some(inputs) = self.pulse.pactl(&["list", "sink-inputs"]) else {
            return false;
        };
        let Some(index) = self.sink_index() else {
            return false;
        };
        inputs
            .split("\n\n")
            .any(|block| block.contains(&format!("Sink: {index}\n")) && block.contains(client))
    }

    fn sink_index(&self) -> Option<String> {
        self.pulse
            .pactl(&["list", "short", "sinks"])?
            .lines()
            .find(|l| l.split('\t').nth(1) == Some(self.name.as_str()))
            .and_then(|l| l.split('\t').next())
            .map(str::to_owned)
    }
}

impl Drop for NullSink {
    fn drop(&mut self) {
        let _ = self.keepalive.kill();
        let _ = self.keepalive.wait();
        self.unload();
    }
}
