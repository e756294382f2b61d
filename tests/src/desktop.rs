//! The real desktop app under test: its own X server (Xvfb), its own D-Bus session bus
//! (what `dbus-run-session` gives: single instance and notifications talk over it), its
//! own config and data folders, and tauri-driver with WebKitWebDriver to drive the window
//! over WebDriver.
//!
//! ```no_run
//! use parley_e2e::{desktop::{Desktop, DesktopOptions}, TestDir};
//! let dir = TestDir::new("desktop");
//! let app = Desktop::start(&dir, DesktopOptions::demo());
//! app.web.wait_attribute("[data-testid=registration]", "data-state", "registered", parley_e2e::wait::LONG);
//! ```

use crate::process::{RigProcess, SpawnOptions};
use crate::webdriver::WebDriver;
use crate::{ports, wait, TestDir, LOOPBACK};
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::Duration;

/// What the app starts with.
#[derive(Debug, Clone)]
pub struct DesktopOptions {
    /// `desktop.toml`.
    pub preferences: String,
    /// `parley.toml`; none: demo mode.
    pub account: Option<String>,
    /// An unlocked gnome-keyring on the session bus (the OS keychain for passwords).
    pub keyring: bool,
    /// Arguments for the app (a link it was started with).
    pub args: Vec<String>,
}

impl DesktopOptions {
    /// Demo mode in English, calls offered only when asked, no notifications.
    pub fn demo() -> DesktopOptions {
        DesktopOptions {
            preferences: "language = \"en\"\ndemo_offer_seconds = 0\nnotifications = false\n"
                .into(),
            account: None,
            keyring: false,
            args: Vec::new(),
        }
    }

    /// Adds preference lines (TOML) to these options.
    pub fn with_preferences(mut self, lines: &str) -> DesktopOptions {
        self.preferences.push_str(lines);
        self
    }
}

/// What the app runs in: an X server, a session bus, and its own home folders.
pub struct DesktopEnv {
    env: Vec<(String, String)>,
    config_dir: PathBuf,
    pub log_dir: PathBuf,
    // The keyring goes first, then the bus, then the X server.
    _keyring: Option<RigProcess>,
    _bus: RigProcess,
    _x: RigProcess,
}

/// Reads the first line a process writes to its piped stdout.
fn first_line(process: &mut RigProcess) -> String {
    let stdout = process.take_stdout().expect("spawned with piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let _ = reader.read_line(&mut line);
        let _ = tx.send(line.trim().to_owned());
        // Keep draining so that the process never blocks on a full pipe.
        let _ = std::io::copy(&mut reader, &mut std::io::sink());
    });
    rx.recv_timeout(wait::scaled(wait::SHORT))
        .unwrap_or_default()
}

fn spawn_reporting(name: &str, command: Command, log_dir: &Path) -> RigProcess {
    let options = SpawnOptions {
        piped_stdout: true,
        ..SpawnOptions::default()
    };
    RigProcess::spawn(name, command, log_dir, options).unwrap_or_else(|e| panic!("{e}"))
}

/// Starts Xvfb on a display of its own. The number comes from the rig's port pool (so that
/// parallel tests never pick the same one; Xvfb's own `-displayfd` choice races with
/// servers starting and stopping meanwhile), skipping any with a leftover lock or socket;
/// Xvfb writes it back when it accepts clients.
fn start_x(log_dir: &Path) -> (RigProcess, String) {
    for _ in 0..5 {
        let number = ports::block(1).start - 19_900;
        let in_use = Path::new(&format!("/tmp/.X{number}-lock")).exists()
            || Path::new(&format!("/tmp/.X11-unix/X{number}")).exists();
        if in_use {
            continue;
        }
        let display = format!(":{number}");
        let mut x = Command::new("Xvfb");
        x.args([
            &display,
            "-displayfd",
            "1",
            "-screen",
            "0",
            "1280x800x24",
            "-nolisten",
            "tcp",
        ]);
        let mut x = spawn_reporting("xvfb", x, log_dir);
        if first_line(&mut x) == number.to_string() {
            return (x, display);
        }
    }
    panic!("Xvfb did not start; see {}", log_dir.display());
}

impl DesktopEnv {
    /// Starts Xvfb and a session bus, and writes the app's files.
    pub fn new(dir: &TestDir, options: &DesktopOptions) -> DesktopEnv {
        let log_dir = dir.subdir("desktop");
        let (x, display) = start_x(&log_dir);
        let mut bus = Command::new("dbus-daemon");
        bus.args(["--session", "--nofork", "--print-address=1"]);
        let mut bus = spawn_reporting("dbus", bus, &log_dir);
        let bus_address = first_line(&mut bus);
        assert!(
            !bus_address.is_empty(),
            "dbus-daemon did not start; see {}",
            log_dir.display()
        );
        let home = dir.subdir("home");
        let runtime_dir = home.join("run");
        let config_dir = home.join("config/parley");
        for sub in [
            &config_dir,
            &home.join("data"),
            &home.join("cache"),
            &runtime_dir,
        ] {
            std::fs::create_dir_all(sub).expect("creating the app's folders");
        }
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&runtime_dir, std::fs::Permissions::from_mode(0o700));
        }
        let keyring = options.keyring.then(|| {
            // It starts, unlocks with this password, leaves a daemon on the bus and exits;
            // the daemon is kept (its process group) until the bus goes.
            let mut keyring = Command::new("sh");
            keyring
                .args([
                    "-c",
                    "echo -n rig | gnome-keyring-daemon --unlock --components=secrets",
                ])
                .env("DBUS_SESSION_BUS_ADDRESS", &bus_address)
                // Its keyrings live in this test's home, not the user's.
                .env("XDG_DATA_HOME", home.join("data"))
                .env("XDG_RUNTIME_DIR", &runtime_dir);
            let mut keyring =
                RigProcess::spawn("gnome-keyring", keyring, &log_dir, SpawnOptions::default())
                    .unwrap_or_else(|e| panic!("{e}"));
            assert!(
                keyring
                    .wait_timeout(wait::SHORT)
                    .is_some_and(|s| s.success()),
                "gnome-keyring did not start; see {}",
                log_dir.display()
            );
            keyring
        });

        std::fs::write(config_dir.join("desktop.toml"), &options.preferences)
            .expect("writing desktop.toml");
        if let Some(account) = &options.account {
            std::fs::write(config_dir.join("parley.toml"), account).expect("writing parley.toml");
        }
        let path = |p: &Path| p.display().to_string();
        // Calls, the ringtone and the level meter use the rig's PulseAudio (null sinks).
        let pulse = crate::pulse::Pulse::ensure();
        let env = vec![
            ("PULSE_SERVER".to_owned(), pulse.server()),
            ("DISPLAY".to_owned(), display),
            ("DBUS_SESSION_BUS_ADDRESS".to_owned(), bus_address),
            ("XDG_CONFIG_HOME".to_owned(), path(&home.join("config"))),
            ("XDG_DATA_HOME".to_owned(), path(&home.join("data"))),
            ("XDG_CACHE_HOME".to_owned(), path(&home.join("cache"))),
            ("XDG_RUNTIME_DIR".to_owned(), path(&runtime_dir)),
            ("RUST_LOG".to_owned(), "info,tao=warn,wry=warn".to_owned()),
            (
                "PARLEY_ASSETS".to_owned(),
                path(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../assets")),
            ),
        ];
        DesktopEnv {
            env,
            config_dir,
            log_dir,
            _keyring: keyring,
            _bus: bus,
            _x: x,
        }
    }

    /// A command that runs in this environment.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut command = Command::new(program);
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        command
    }

    /// The app's config folder (`parley.toml`, `desktop.toml`).
    pub fn config_dir(&self) -> &Path {
        &self.config_dir
    }

    /// The environment variables of this environment (display, bus, homes).
    pub fn vars(&self) -> &[(String, String)] {
        &self.env
    }

    /// What Parley keeps in the keychain under `user` (`secret-tool lookup`).
    pub fn secret(&self, user: &str) -> Option<String> {
        let output = self
            .command("secret-tool")
            .args(["lookup", "service", "parley", "username", user])
            .output()
            .expect("secret-tool runs");
        let value = String::from_utf8_lossy(&output.stdout).into_owned();
        (output.status.success() && !value.is_empty()).then_some(value)
    }
}

/// The running app, driven over WebDriver.
pub struct Desktop {
    pub web: WebDriver,
    _driver: RigProcess,
    pub env: DesktopEnv,
}

impl Desktop {
    /// The `parley` binary: `PARLEY_APP`, or beside the test binary.
    pub fn binary() -> PathBuf {
        if let Some(path) = std::env::var_os("PARLEY_APP") {
            return PathBuf::from(path);
        }
        let exe = std::env::current_exe().expect("the test binary's path");
        exe.ancestors()
            .skip(1)
            .map(|dir| dir.join("parley"))
            .find(|candidate| candidate.is_file())
            .unwrap_or_else(|| {
                panic!(
                    "parley not found beside {}: cargo build -p parley",
                    exe.display()
                )
            })
    }

    /// Starts the app and opens a WebDriver session on its window, once the window has
    /// loaded the agent's state.
    #[track_caller]
    pub fn start(dir: &TestDir, options: DesktopOptions) -> Desktop {
        let env = DesktopEnv::new(dir, &options);
        let block = ports::block(2);
        let (port, native) = (block.start, block.start + 1);
        let mut driver = env.command("tauri-driver");
        driver.args([
            "--port",
            &port.to_string(),
            "--native-port",
            &native.to_string(),
        ]);
        let driver = RigProcess::spawn(
            "tauri-driver",
            driver,
            &env.log_dir,
            SpawnOptions::default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let server: SocketAddr = format!("{LOOPBACK}:{port}")
            .parse()
            .expect("a socket address");
        // tauri-driver listens before its WebKitWebDriver does; a session asked for before
        // both listen gets no reply (and a retry could start the app twice).
        for port in [port, native] {
            let address: SocketAddr = format!("{LOOPBACK}:{port}").parse().expect("an address");
            assert!(
                wait::until_true(wait::SHORT, || std::net::TcpStream::connect(address)
                    .is_ok()),
                "tauri-driver does not listen on {address}; see {}",
                env.log_dir.display()
            );
        }
        let application = Self::binary().display().to_string();
        let capabilities = json!({"alwaysMatch": {"tauri:options": {
            "application": application,
            "args": options.args,
        }}});
        let web = WebDriver::new_session(server, capabilities)
            .unwrap_or_else(|e| panic!("no WebDriver session: {e}; see {}", env.log_dir.display()));
        let desktop = Desktop {
            web,
            _driver: driver,
            env,
        };
        desktop
            .web
            .wait_attribute("[data-testid=app]", "data-ready", "true", wait::LONG);
        desktop
    }

    /// Starts Parley a second time with `link`, as the OS does for a clicked link; the
    /// running instance takes it over. Returns the second process's exit status.
    #[track_caller]
    pub fn open_link(&self, link: &str) -> ExitStatus {
        let mut second = self.env.command(Self::binary());
        second.arg(link);
        let mut process = RigProcess::spawn(
            "second-instance",
            second,
            &self.env.log_dir,
            SpawnOptions::default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        process
            .wait_timeout(Duration::from_secs(30))
            .unwrap_or_else(|| panic!("the second instance did not hand over {link:?} and exit"))
    }

    /// The app's process (started by WebKitWebDriver in tauri-driver's process group).
    pub fn app_pid(&self) -> u32 {
        crate::procstat::group(self._driver.pid())
            .into_iter()
            .find(|(_, name)| name == "parley")
            .map(|(pid, _)| pid)
            .expect("the app runs in tauri-driver's process group")
    }

    /// Writes a screenshot of the window to `path`.
    pub fn screenshot(&self, path: &Path) {
        let png = self
            .web
            .screenshot()
            .unwrap_or_else(|e| panic!("screenshot: {e}"));
        std::fs::write(path, png).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }
}

impl Drop for Desktop {
    /// Ends the session first, so that the app closes as when the agent quits it
    /// (unregistering); the processes are stopped after.
    fn drop(&mut self) {
        let _ = self.web.quit();
    }
}
