//! Kamailio as the registrar and record-routing proxy of the rig.
//!
//! The config comes from `tests/rig/kamailio.cfg.tmpl` (ports filled in) and kamailio runs
//! in the foreground (`-DD -E`) with its own run dir. It listens on 127.0.0.1 with UDP and TCP
//! on one port and, optionally, TLS on the next one, with a certificate from a per-test CA.
//! Users are in memory only: a [`Kamailio::stop`] + [`Kamailio::start_again`] forgets every
//! registration, which is what "the registrar went down and came back" looks like.

use std::fs;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::process::{RigProcess, SpawnOptions};
use crate::tls::TestPki;
use crate::{ports, sip, wait, TestDir, LOOPBACK};

/// Which requests the proxy challenges (digest, realm = the From domain, password
/// [`crate::PASSWORD`] for every user).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Auth {
    /// Nothing is challenged.
    Off,
    /// REGISTER only (the usual contact-center setup: calls from the platform are trusted).
    #[default]
    Register,
    /// REGISTER and initial INVITE, MESSAGE, SUBSCRIBE, REFER and PUBLISH.
    All,
}

/// How to start a [`Kamailio`].
#[derive(Debug, Clone)]
pub struct KamailioOptions {
    /// Digest authentication.
    pub auth: Auth,
    /// Also listen on TLS (port = UDP/TCP port + 1) with a certificate from a per-test CA.
    pub tls: bool,
    /// Registrar `min_expires`: shorter requested intervals are raised to this (seconds).
    pub min_expires: u32,
    /// Registrar `max_expires` (seconds).
    pub max_expires: u32,
    /// Registrar `default_expires` (seconds), for a REGISTER without any expires.
    pub default_expires: u32,
}

impl Default for KamailioOptions {
    fn default() -> Self {
        KamailioOptions {
            auth: Auth::Register,
            tls: false,
            min_expires: 5,
            max_expires: 3600,
            default_expires: 600,
        }
    }
}

/// SIP transports of the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// UDP.
    Udp,
    /// TCP (same port as UDP).
    Tcp,
    /// TLS (its own port).
    Tls,
}

/// A running (or stopped) Kamailio. Dropping it stops it.
#[derive(Debug)]
pub struct Kamailio {
    _dir: TestDir,
    work_dir: PathBuf,
    config_path: PathBuf,
    options: KamailioOptions,
    port: u16,
    tls_port: Option<u16>,
    pki: Option<TestPki>,
    process: Option<RigProcess>,
    runs: u32,
}

impl Kamailio {
    /// Writes the config and starts Kamailio; returns once it answers OPTIONS on UDP and
    /// accepts TCP (and TLS) connections.
    #[track_caller]
    pub fn start(dir: &TestDir, options: KamailioOptions) -> Kamailio {
        assert!(
            crate::process::in_path("kamailio"),
            "kamailio is not installed (apt install kamailio kamailio-tls-modules)"
        );
        let work_dir = dir.unique_subdir("kamailio");
        let block = ports::block(2);
        let port = block.start;
        let tls_port = options.tls.then_some(port + 1);
        let pki = options
            .tls
            .then(|| TestPki::generate(&work_dir.join("pki")));

        let template_values = vec![
            ("UDP_PORT", port.to_string()),
            ("TLS_PORT", tls_port.unwrap_or(0).to_string()),
            ("RUN_DIR", work_dir.display().to_string()),
            (
                "TLS_CERT",
                pki.as_ref()
                    .map(|p| p.chain_file.display().to_string())
                    .unwrap_or_default(),
            ),
            (
                "TLS_KEY",
                pki.as_ref()
                    .map(|p| p.key_file.display().to_string())
                    .unwrap_or_default(),
            ),
            (
                "TLS_CA",
                pki.as_ref()
                    .map(|p| p.ca_file.display().to_string())
                    .unwrap_or_default(),
            ),
            ("MIN_EXPIRES", options.min_expires.to_string()),
            ("MAX_EXPIRES", options.max_expires.to_string()),
            ("DEFAULT_EXPIRES", options.default_expires.to_string()),
        ];
        let config_path = work_dir.join("kamailio.cfg");
        write_template("kamailio.cfg.tmpl", &config_path, &template_values);
        if options.tls {
            write_template(
                "kamailio-tls.cfg.tmpl",
                &work_dir.join("tls.cfg"),
                &template_values,
            );
        }

        let mut kamailio = Kamailio {
            _dir: dir.clone(),
            work_dir,
            config_path,
            options,
            port,
            tls_port,
            pki,
            process: None,
            runs: 0,
        };
        kamailio.spawn();
        kamailio
    }

    /// Stops Kamailio (SIGTERM to its process group, then SIGKILL). Its ports stay
    /// reserved for [`Kamailio::start_again`].
    pub fn stop(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.stop();
        }
    }

    /// Starts a stopped Kamailio again with the same config and ports (and no
    /// registrations). Panics if it is running.
    #[track_caller]
    pub fn start_again(&mut self) {
        assert!(self.process.is_none(), "kamailio is already running");
        self.spawn();
    }

    /// Whether Kamailio's main process runs.
    pub fn is_running(&mut self) -> bool {
        self.process.as_mut().is_some_and(|p| p.is_running())
    }

    /// The options it was started with.
    pub fn options(&self) -> &KamailioOptions {
        &self.options
    }

    /// The UDP and TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The TLS port, if TLS is on.
    pub fn tls_port(&self) -> Option<u16> {
        self.tls_port
    }

    /// `127.0.0.1:<port>` (UDP).
    pub fn udp_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// `127.0.0.1:<port>` (TCP).
    pub fn tcp_addr(&self) -> SocketAddr {
        self.udp_addr()
    }

    /// `127.0.0.1:<tls port>`; panics if TLS is off.
    #[track_caller]
    pub fn tls_addr(&self) -> SocketAddr {
        SocketAddr::from((
            [127, 0, 0, 1],
            self.tls_port.expect("kamailio was started without TLS"),
        ))
    }

    /// The SIP domain of the users: `127.0.0.1`. Kamailio also treats `127.0.0.1:5060`
    /// (and `localhost`) as itself, so an AOR without a port works when requests are sent
    /// to [`Kamailio::proxy_uri`].
    pub fn domain(&self) -> &'static str {
        LOOPBACK
    }

    /// `127.0.0.1:<port>`: a domain that routes to this proxy by itself.
    pub fn host_port(&self) -> String {
        format!("{LOOPBACK}:{}", self.port)
    }

    /// `sip:<user>@127.0.0.1:<port>`: an address of record that routes to this proxy.
    pub fn aor(&self, user: &str) -> String {
        format!("sip:{user}@{LOOPBACK}:{}", self.port)
    }

    /// The proxy's URI for `transport`, for registrar / outbound-proxy settings:
    /// `sip:127.0.0.1:<port>`, `sip:127.0.0.1:<port>;transport=tcp` or
    /// `sip:127.0.0.1:<tls port>;transport=tls`.
    #[track_caller]
    pub fn proxy_uri(&self, transport: Transport) -> String {
        match transport {
            Transport::Udp => format!("sip:{LOOPBACK}:{}", self.port),
            Transport::Tcp => format!("sip:{LOOPBACK}:{};transport=tcp", self.port),
            Transport::Tls => format!("sip:{LOOPBACK}:{};transport=tls", self.tls_addr().port()),
        }
    }

    /// The test CA's certificate (PEM) that TLS clients must trust; `None` without TLS.
    pub fn ca_file(&self) -> Option<&Path> {
        self.pki.as_ref().map(|p| p.ca_file.as_path())
    }

    /// The certificates, when TLS is on.
    pub fn pki(&self) -> Option<&TestPki> {
        self.pki.as_ref()
    }

    /// The directory with the config and the logs.
    pub fn work_dir(&self) -> &Path {
        &self.work_dir
    }

    /// The log (stderr) of the current or last run.
    pub fn log_path(&self) -> PathBuf {
        self.work_dir
            .join(format!("{}.stderr.log", run_name(self.runs)))
    }

    /// The log of the current or last run, as text.
    pub fn log(&self) -> String {
        fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Registers `contact` (a SIP URI) for `user` with the rig's own REGISTER client, for
    /// peers that cannot register themselves (a sipp UAS). Panics unless the answer is 200.
    #[track_caller]
    pub fn register_contact(&self, user: &str, contact: &str, expires: u32) {
        let response = sip::register(
            self.udp_addr(),
            user,
            &self.host_port(),
            contact,
            expires,
            Some(crate::PASSWORD),
            wait::scaled(wait::SHORT),
        )
        .unwrap_or_else(|e| panic!("REGISTER {user} -> {contact} failed: {e}"));
        assert_eq!(
            response.code, 200,
            "REGISTER {user} -> {contact} was answered:\n{}",
            response.raw
        );
    }

    /// The contacts registered for `user` (usrloc, asked over the ctl socket), or an empty
    /// list.
    pub fn contacts(&self, user: &str) -> Vec<String> {
        // `s:` makes kamcmd pass the user as a string: a numeric AOR like 1001 would
        // otherwise go as an integer and match nothing.
        let aor = format!("s:{user}");
        let Some(output) = self.kamcmd(&["ul.lookup", "location", &aor]) else {
            return Vec::new();
        };
        output
            .lines()
            .filter_map(|l| l.trim().strip_prefix("Address:"))
            .map(|a| a.trim().to_owned())
            .collect()
    }

    /// Whether `user` has at least one registered contact.
    pub fn is_registered(&self, user: &str) -> bool {
        !self.contacts(user).is_empty()
    }

    /// Waits until `user` is registered; panics after `timeout` with the proxy's log path.
    #[track_caller]
    pub fn wait_registered(&self, user: &str, timeout: Duration) {
        assert!(
            wait::until_true(timeout, || self.is_registered(user)),
            "{user} did not register within {timeout:?}; kamailio log: {}",
            self.log_path().display()
        );
    }

    /// Waits until `user` has no registered contact left.
    #[track_caller]
    pub fn wait_unregistered(&self, user: &str, timeout: Duration) {
        assert!(
            wait::until_true(timeout, || !self.is_registered(user)),
            "{user} is still registered after {timeout:?}; kamailio log: {}",
            self.log_path().display()
        );
    }

    /// Runs `kamcmd` against this instance's ctl socket; `None` if it fails.
    pub fn kamcmd(&self, args: &[&str]) -> Option<String> {
        let socket = format!("unix:{}", self.work_dir.join("kamailio_ctl").display());
        let output = Command::new("kamcmd")
            .arg("-s")
            .arg(socket)
            .args(args)
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        (output.status.success() && !text.starts_with("error:")).then_some(text)
    }

    #[track_caller]
    fn spawn(&mut self) {
        self.runs += 1;
        let mut command = Command::new("kamailio");
        command
            .arg("-f")
            .arg(&self.config_path)
            .args(["-DD", "-E", "-m", "64", "-M", "8"])
            .current_dir(&self.work_dir);
        match self.options.auth {
            Auth::Off => {}
            Auth::Register => {
                command.args(["-A", "WITH_AUTH"]);
            }
            Auth::All => {
                command.args(["-A", "WITH_AUTH", "-A", "WITH_AUTH_CALLS"]);
            }
        }
        if self.options.tls {
            command.args(["-A", "WITH_TLS"]);
        }
        let mut process = RigProcess::spawn(
            &run_name(self.runs),
            command,
            &self.work_dir,
            SpawnOptions::default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));

        let udp = self.udp_addr();
        let uri = format!("sip:{}", self.host_port());
        let tls = self.tls_port.map(|p| SocketAddr::from(([127, 0, 0, 1], p)));
        let mut exited = None;
        let ready = wait::until_true(wait::MEDIUM, || {
            if let Some(status) = process.try_wait() {
                exited = Some(status);
                return true;
            }
            let answers =
                sip::options(udp, &uri, Duration::from_millis(500)).is_ok_and(|r| r.code == 200);
            answers
                && TcpStream::connect_timeout(&udp, Duration::from_millis(500)).is_ok()
                && tls.is_none_or(|addr| {
                    TcpStream::connect_timeout(&addr, Duration::from_millis(500)).is_ok()
                })
        });
        let log = process.stderr_path().to_owned();
        if let Some(status) = exited {
            panic!(
                "kamailio exited at start-up ({status}); log: {}\n{}",
                log.display(),
                fs::read_to_string(&log).unwrap_or_default()
            );
        }
        assert!(
            ready,
            "kamailio did not become ready on {udp}; log: {}",
            log.display()
        );
        self.process = Some(process);
    }
}

impl Drop for Kamailio {
    fn drop(&mut self) {
        // The test dir (a field) is dropped after this, so the logs outlive kamailio.
        self.stop();
    }
}

fn run_name(run: u32) -> String {
    if run <= 1 {
        "kamailio".to_owned()
    } else {
        format!("kamailio-run{run}")
    }
}

#[track_caller]
fn write_template(template: &str, to: &Path, values: &[(&str, String)]) {
    let path = crate::rig_dir().join(template);
    let text =
        fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    fs::write(to, crate::fill_template(&text, values))
        .unwrap_or_else(|e| panic!("cannot write {}: {e}", to.display()));
}
