//! `parley-cli agent`, Parley's headless agent, as the user agent under test.
//!
//! The protocol is `docs/headless.md`: a TOML config file, one JSON command per line on
//! stdin, one JSON event per line on stdout, logs on stderr. [`ParleyConfig`] writes the
//! config; [`ParleyCli`] spawns the agent, sends commands and waits for events.
//!
//! The binary is `$PARLEY_CLI`, or `parley-cli` in the first ancestor directory of the test
//! binary that has one (`target/<profile>/parley-cli`).

use std::fmt::Write as _;
use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, Command, ExitStatus};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::kamailio::{Kamailio, Transport};
use crate::process::{RigProcess, SpawnOptions};
use crate::pulse::Pulse;
use crate::{ports, wait, TestDir, LOOPBACK};

/// Name of the environment variable that carries the password (`[account.password] env`).
pub const PASSWORD_ENV: &str = "PARLEY_PASSWORD";

/// Where the agent takes its password from (`[account.password]`).
#[derive(Debug, Clone, PartialEq)]
pub enum PasswordSource {
    /// `env = "<name>"`; the rig sets the variable to the value.
    Env {
        /// Variable name.
        name: String,
        /// Its value.
        value: String,
    },
    /// `file = "<path>"`; the rig writes the value there with mode 0600 (unless `None`:
    /// the test made the file itself).
    File {
        /// The file.
        path: PathBuf,
        /// What to write into it.
        value: Option<String>,
    },
    /// `keyring = true` (needs a Secret Service; see test-rig.md).
    Keyring,
}

/// `[account]`.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountConfig {
    /// User part of the AOR.
    pub username: String,
    /// AOR domain.
    pub domain: String,
    /// Display name.
    pub display_name: Option<String>,
    /// Digest user name.
    pub auth_username: Option<String>,
    /// Registrar URI.
    pub registrar: Option<String>,
    /// Outbound proxy URI.
    pub outbound_proxy: Option<String>,
    /// `udp` | `tcp` | `tls`.
    pub transport: Option<String>,
    /// Registration interval asked for.
    pub expires: Option<u32>,
    /// Register at start-up.
    pub register_on_start: Option<bool>,
    /// The password source.
    pub password: PasswordSource,
}

/// `[sip]`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SipConfig {
    /// Local UDP address; the rig sets `127.0.0.1:<free port>`.
    pub listen: Option<String>,
    /// Extra trusted sources (addresses or CIDR).
    pub trusted_sources: Option<Vec<String>>,
    /// Accept a second call instead of 486.
    pub call_waiting: Option<bool>,
    /// RFC 3261 T1 in ms.
    pub t1_ms: Option<u32>,
    /// RFC 4028 Session-Expires asked for (0 = none).
    pub session_expires: Option<u32>,
    /// RFC 4028 Min-SE accepted.
    pub min_se: Option<u32>,
    /// `off` | `supported` | `required`.
    pub prack: Option<String>,
    /// CRLF keep-alive interval on TCP/TLS.
    pub keepalive_seconds: Option<u32>,
    /// Cap of the re-registration backoff.
    pub register_retry_max_seconds: Option<u32>,
    /// User-Agent header.
    pub user_agent: Option<String>,
    /// `sip.dns_servers` (`ip:port`).
    pub dns_servers: Option<Vec<String>>,
}

/// `[tls]`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TlsConfig {
    /// Extra CA (PEM).
    pub ca_file: Option<PathBuf>,
}

/// `[media]`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MediaConfig {
    /// `"<first>-<last>"`; the rig sets a free range.
    pub rtp_ports: Option<String>,
    /// Offer order, e.g. `["PCMU", "PCMA"]`.
    pub codecs: Option<Vec<String>>,
    /// `silence` | `tone:<Hz>` | `wav:<path>` | `device[:<id>]`.
    pub source: Option<String>,
    /// `none` | `device[:<id>]`.
    pub output: Option<String>,
    /// Where received audio is recorded (`<call>.wav`); the rig sets `<work dir>/recordings`.
    pub record_dir: Option<PathBuf>,
    /// `auto` | `rfc4733` | `info`.
    pub dtmf: Option<String>,
    /// Seconds without RTP before `media_inactivity`; 0 never.
    pub rtp_timeout_seconds: Option<u64>,
    /// `off` | `optional` | `required`.
    pub srtp: Option<String>,
}

/// `[agent]`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentConfig {
    /// `ready` | `not_ready`.
    pub initial_state: Option<String>,
    /// Response code to an offer while not ready.
    pub busy_status: Option<u16>,
    /// Ring timeout before `NotReady{MissedOffer}`.
    pub ring_timeout_seconds: Option<u32>,
    /// Wrap-up time.
    pub wrapup_seconds: Option<u32>,
    /// `agent.auto_answer`.
    pub auto_answer: Option<bool>,
}

/// A whole `agent.toml`. Fields left `None` are not written, so Parley's defaults apply.
#[derive(Debug, Clone, PartialEq)]
pub struct ParleyConfig {
    /// `[account]`.
    pub account: AccountConfig,
    /// `[sip]`.
    pub sip: SipConfig,
    /// `[tls]`.
    pub tls: TlsConfig,
    /// `[media]`.
    pub media: MediaConfig,
    /// `[agent]`.
    pub agent: AgentConfig,
    /// Extra environment for the agent (e.g. `RUST_LOG`).
    pub env: Vec<(String, String)>,
    /// `[teams]`, written as it is.
    pub teams: Option<String>,
}

impl ParleyConfig {
    /// An agent `username@127.0.0.1` that registers (UDP) with `kamailio`, which is also
    /// its outbound proxy; password "secret" through the `PARLEY_PASSWORD` variable.
    pub fn for_kamailio(username: &str, kamailio: &Kamailio) -> ParleyConfig {
        let mut config = ParleyConfig::standalone(username);
        config.account.registrar = Some(kamailio.proxy_uri(Transport::Udp));
        config.account.outbound_proxy = Some(kamailio.proxy_uri(Transport::Udp));
        config.account.transport = Some("udp".to_owned());
        config.account.register_on_start = Some(true);
        config
    }

    /// This agent behind a sipp (or any peer) listening on `127.0.0.1:<port>`: its registrar
    /// and outbound proxy, over UDP, without registering; it sends every request there and
    /// trusts that address.
    pub fn via_proxy_port(mut self, port: u16) -> ParleyConfig {
        let proxy = format!("sip:{LOOPBACK}:{port}");
        self.account.registrar = Some(proxy.clone());
        self.account.outbound_proxy = Some(proxy);
        self.account.transport = Some("udp".to_owned());
        self.account.register_on_start = Some(false);
        self
    }

    /// An agent `username@127.0.0.1` that does not register (peers reach it directly).
    pub fn standalone(username: &str) -> ParleyConfig {
        ParleyConfig {
            account: AccountConfig {
                username: username.to_owned(),
                domain: LOOPBACK.to_owned(),
                display_name: None,
                auth_username: None,
                registrar: None,
                outbound_proxy: None,
                transport: None,
                expires: None,
                register_on_start: Some(false),
                password: PasswordSource::Env {
                    name: PASSWORD_ENV.to_owned(),
                    value: crate::PASSWORD.to_owned(),
                },
            },
            sip: SipConfig::default(),
            tls: TlsConfig::default(),
            media: MediaConfig::default(),
            agent: AgentConfig::default(),
            env: Vec::new(),
            teams: None,
        }
    }

    /// Uses `transport` towards `kamailio` (registrar and outbound proxy); for TLS also
    /// trusts the test CA.
    #[track_caller]
    pub fn transport(mut self, transport: Transport, kamailio: &Kamailio) -> Self {
        let uri = kamailio.proxy_uri(transport);
        self.account.registrar = Some(uri.clone());
        self.account.outbound_proxy = Some(uri);
        self.account.transport = Some(
            match transport {
                Transport::Udp => "udp",
                Transport::Tcp => "tcp",
                Transport::Tls => "tls",
            }
            .to_owned(),
        );
        if transport == Transport::Tls {
            self.tls.ca_file = kamailio.ca_file().map(Path::to_owned);
        }
        self
    }

    /// `account.expires`.
    pub fn expires(mut self, seconds: u32) -> Self {
        self.account.expires = Some(seconds);
        self
    }

    /// `media.source = "tone:<hz>"`.
    pub fn tone(mut self, hz: u32) -> Self {
        self.media.source = Some(format!("tone:{hz}"));
        self
    }

    /// `media.source = "wav:<path>"`.
    pub fn wav(mut self, path: &Path) -> Self {
        self.media.source = Some(format!("wav:{}", path.display()));
        self
    }

    /// `media.source = "device:<input>"`, `media.output = "device:<output>"`: the agent's
    /// microphone and speaker.
    pub fn devices(mut self, input: &str, output: &str) -> Self {
        self.media.source = Some(format!("device:{input}"));
        self.media.output = Some(format!("device:{output}"));
        self
    }

    /// `media.codecs`.
    pub fn codecs(mut self, codecs: &[&str]) -> Self {
        self.media.codecs = Some(codecs.iter().map(|c| (*c).to_owned()).collect());
        self
    }

    /// `media.dtmf`.
    pub fn dtmf(mut self, mode: &str) -> Self {
        self.media.dtmf = Some(mode.to_owned());
        self
    }

    /// `media.srtp`.
    pub fn srtp(mut self, policy: &str) -> Self {
        self.media.srtp = Some(policy.to_owned());
        self
    }

    /// `media.rtp_timeout_seconds`.
    pub fn rtp_timeout(mut self, seconds: u64) -> Self {
        self.media.rtp_timeout_seconds = Some(seconds);
        self
    }

    /// `sip.prack`.
    pub fn prack(mut self, mode: &str) -> Self {
        self.sip.prack = Some(mode.to_owned());
        self
    }

    /// `sip.session_expires` and `sip.min_se`.
    pub fn session_timer(mut self, session_expires: u32, min_se: u32) -> Self {
        self.sip.session_expires = Some(session_expires);
        self.sip.min_se = Some(min_se);
        self
    }

    /// Adds a `sip.trusted_sources` entry.
    pub fn trust(mut self, source: &str) -> Self {
        self.sip
            .trusted_sources
            .get_or_insert_with(Vec::new)
            .push(source.to_owned());
        self
    }

    /// `sip.call_waiting`.
    pub fn call_waiting(mut self, on: bool) -> Self {
        self.sip.call_waiting = Some(on);
        self
    }

    /// `agent.initial_state = "ready"`.
    pub fn ready(mut self) -> Self {
        self.agent.initial_state = Some("ready".to_owned());
        self
    }

    /// Presence sync with `graph` (the fake Entra/Graph), reading every `poll_seconds`; the
    /// refresh token comes through the `PARLEY_TEAMS_TOKEN` variable.
    pub fn teams(mut self, graph: &crate::graph::FakeGraph, poll_seconds: u32) -> Self {
        let mut table = String::new();
        kv(&mut table, "enabled", Some("true".into()));
        kv(&mut table, "tenant", Some(toml_str(crate::graph::TENANT)));
        kv(
            &mut table,
            "client_id",
            Some(toml_str(crate::graph::CLIENT_ID)),
        );
        kv(&mut table, "graph_url", Some(toml_str(&graph.graph_url())));
        kv(&mut table, "login_url", Some(toml_str(&graph.login_url())));
        kv(&mut table, "poll_seconds", Some(poll_seconds.to_string()));
        kv(
            &mut table,
            "refresh_token",
            Some("{ env = \"PARLEY_TEAMS_TOKEN\" }".into()),
        );
        self.teams = Some(table);
        self.env("PARLEY_TEAMS_TOKEN", &graph.first_refresh_token())
    }

    /// The Teams refresh token is kept in `file` (owner only) instead of a variable;
    /// `token` is written there first, when given.
    pub fn teams_token_file(self, file: &Path, token: Option<&str>) -> Self {
        if let Some(token) = token {
            write_secret_file(file, token);
        }
        self.teams_token_source(&format!(
            "{{ file = {} }}",
            toml_str(&file.display().to_string())
        ))
    }

    /// Where the Teams refresh token is kept, as `teams.refresh_token`'s TOML value.
    pub fn teams_token_source(mut self, source: &str) -> Self {
        let table = self.teams.take().expect("teams() first");
        self.teams = Some(table.replace(
            "refresh_token = { env = \"PARLEY_TEAMS_TOKEN\" }",
            &format!("refresh_token = {source}"),
        ));
        self
    }

    /// An extra environment variable for the agent.
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The TOML text.
    pub fn to_toml(&self) -> String {
        let mut toml = String::new();
        let a = &self.account;
        toml.push_str("[account]\n");
        kv(&mut toml, "username", Some(toml_str(&a.username)));
        kv(&mut toml, "domain", Some(toml_str(&a.domain)));
        kv(
            &mut toml,
            "display_name",
            a.display_name.as_deref().map(toml_str),
        );
        kv(
            &mut toml,
            "auth_username",
            a.auth_username.as_deref().map(toml_str),
        );
        kv(&mut toml, "registrar", a.registrar.as_deref().map(toml_str));
        kv(
            &mut toml,
            "outbound_proxy",
            a.outbound_proxy.as_deref().map(toml_str),
        );
        kv(&mut toml, "transport", a.transport.as_deref().map(toml_str));
        kv(&mut toml, "expires", a.expires.map(|v| v.to_string()));
        kv(
            &mut toml,
            "register_on_start",
            a.register_on_start.map(|v| v.to_string()),
        );
        toml.push_str("\n[account.password]\n");
        match &a.password {
            PasswordSource::Env { name, .. } => kv(&mut toml, "env", Some(toml_str(name))),
            PasswordSource::File { path, .. } => kv(
                &mut toml,
                "file",
                Some(toml_str(&path.display().to_string())),
            ),
            PasswordSource::Keyring => kv(&mut toml, "keyring", Some("true".to_owned())),
        }

        let s = &self.sip;
        toml.push_str("\n[sip]\n");
        kv(&mut toml, "listen", s.listen.as_deref().map(toml_str));
        kv(
            &mut toml,
            "trusted_sources",
            s.trusted_sources.as_deref().map(toml_array),
        );
        kv(
            &mut toml,
            "call_waiting",
            s.call_waiting.map(|v| v.to_string()),
        );
        kv(&mut toml, "t1_ms", s.t1_ms.map(|v| v.to_string()));
        kv(
            &mut toml,
            "session_expires",
            s.session_expires.map(|v| v.to_string()),
        );
        kv(&mut toml, "min_se", s.min_se.map(|v| v.to_string()));
        kv(&mut toml, "prack", s.prack.as_deref().map(toml_str));
        kv(
            &mut toml,
            "keepalive_seconds",
            s.keepalive_seconds.map(|v| v.to_string()),
        );
        kv(
            &mut toml,
            "register_retry_max_seconds",
            s.register_retry_max_seconds.map(|v| v.to_string()),
        );
        kv(
            &mut toml,
            "user_agent",
            s.user_agent.as_deref().map(toml_str),
        );
        kv(
            &mut toml,
            "dns_servers",
            s.dns_servers.as_deref().map(toml_array),
        );

        if let Some(ca_file) = &self.tls.ca_file {
            toml.push_str("\n[tls]\n");
            kv(
                &mut toml,
                "ca_file",
                Some(toml_str(&ca_file.display().to_string())),
            );
        }

        let m = &self.media;
        toml.push_str("\n[media]\n");
        kv(&mut toml, "rtp_ports", m.rtp_ports.as_deref().map(toml_str));
        kv(&mut toml, "codecs", m.codecs.as_deref().map(toml_array));
        kv(&mut toml, "source", m.source.as_deref().map(toml_str));
        kv(&mut toml, "output", m.output.as_deref().map(toml_str));
        kv(
            &mut toml,
            "record_dir",
            m.record_dir
                .as_ref()
                .map(|p| toml_str(&p.display().to_string())),
        );
        kv(&mut toml, "dtmf", m.dtmf.as_deref().map(toml_str));
        kv(
            &mut toml,
            "rtp_timeout_seconds",
            m.rtp_timeout_seconds.map(|s| s.to_string()),
        );
        kv(&mut toml, "srtp", m.srtp.as_deref().map(toml_str));

        let g = &self.agent;
        toml.push_str("\n[agent]\n");
        kv(
            &mut toml,
            "initial_state",
            g.initial_state.as_deref().map(toml_str),
        );
        kv(
            &mut toml,
            "busy_status",
            g.busy_status.map(|v| v.to_string()),
        );
        kv(
            &mut toml,
            "ring_timeout_seconds",
            g.ring_timeout_seconds.map(|v| v.to_string()),
        );
        kv(
            &mut toml,
            "wrapup_seconds",
            g.wrapup_seconds.map(|v| v.to_string()),
        );
        kv(
            &mut toml,
            "auto_answer",
            g.auto_answer.map(|v| v.to_string()),
        );
        if let Some(teams) = &self.teams {
            toml.push_str("\n[teams]\n");
            toml.push_str(teams);
        }
        toml
    }
}

fn kv(toml: &mut String, key: &str, value: Option<String>) {
    if let Some(value) = value {
        let _ = writeln!(toml, "{key} = {value}");
    }
}

/// A TOML basic string.
/// Writes a secret to a file only its owner may read (what Parley demands of them).
pub fn write_secret_file(path: &Path, secret: &str) {
    use std::os::unix::fs::PermissionsExt;
    fs::write(path, secret).expect("the secret file");
    fs::set_permissions(path, fs::Permissions::from_mode(0o600))
        .expect("an owner-only secret file");
}

fn toml_str(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn toml_array(values: &[String]) -> String {
    let items: Vec<String> = values.iter().map(|v| toml_str(v)).collect();
    format!("[{}]", items.join(", "))
}

/// A running `parley-cli agent`. Dropping it kills it (use [`ParleyCli::quit`] for a clean
/// exit).
pub struct ParleyCli {
    stdin: Mutex<Option<ChildStdin>>,
    shared: Arc<(Mutex<CliState>, Condvar)>,
    next_id: Mutex<u64>,
    work_dir: PathBuf,
    config_path: PathBuf,
    config: ParleyConfig,
    sip_port: u16,
    rtp_ports: Range<u16>,
    process: RigProcess,
    _dir: TestDir,
}

#[derive(Default)]
struct CliState {
    events: Vec<Value>,
    /// Lines on stdout that are not JSON objects: protocol violations.
    bad_lines: Vec<String>,
    /// Index after the event that the last `wait_event` returned.
    cursor: usize,
    closed: bool,
}

impl std::fmt::Debug for ParleyCli {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParleyCli")
            .field("work_dir", &self.work_dir)
            .field("sip_port", &self.sip_port)
            .finish()
    }
}

impl ParleyCli {
    /// The `parley-cli` binary: `$PARLEY_CLI`, or `parley-cli` beside the test binary or in
    /// one of its ancestor directories (`target/<profile>/`).
    #[track_caller]
    pub fn binary() -> PathBuf {
        Self::find_binary().unwrap_or_else(|| {
            panic!(
                "parley-cli not found beside {:?}: build it first (cargo build --bin parley-cli) \
                 or set PARLEY_CLI",
                std::env::current_exe().ok()
            )
        })
    }

    /// [`ParleyCli::binary`] without panicking.
    pub fn find_binary() -> Option<PathBuf> {
        if let Some(path) = std::env::var_os("PARLEY_CLI") {
            return Some(PathBuf::from(path));
        }
        let exe = std::env::current_exe().ok()?;
        exe.ancestors()
            .skip(1)
            .map(|dir| dir.join("parley-cli"))
            .find(|candidate| candidate.is_file())
    }

    /// Writes the config (filling in a free `sip.listen` port, a free RTP range and a
    /// recording dir when unset), starts `parley-cli agent --config <file>` and waits for
    /// its `started` event.
    #[track_caller]
    pub fn start(dir: &TestDir, pulse: Option<&Pulse>, config: ParleyConfig) -> ParleyCli {
        Self::start_binary(&Self::binary(), dir, pulse, config)
    }

    /// [`ParleyCli::start`] with an explicit binary (or a stand-in speaking the protocol).
    #[track_caller]
    pub fn start_binary(
        binary: &Path,
        dir: &TestDir,
        pulse: Option<&Pulse>,
        mut config: ParleyConfig,
    ) -> ParleyCli {
        let work_dir = dir.unique_subdir(&format!("parley-{}", config.account.username));
        let sip_port = match &config.sip.listen {
            Some(listen) => listen.parse::<SocketAddr>().map(|a| a.port()).unwrap_or(0),
            None => {
                let port = ports::port();
                config.sip.listen = Some(format!("{LOOPBACK}:{port}"));
                port
            }
        };
        let rtp_ports = match &config.media.rtp_ports {
            Some(range) => parse_range(range).unwrap_or(0..0),
            None => {
                let range = ports::rtp_range(20);
                config.media.rtp_ports = Some(format!("{}-{}", range.start, range.end - 1));
                range
            }
        };
        if config.media.record_dir.is_none() {
            let record_dir = work_dir.join("recordings");
            fs::create_dir_all(&record_dir)
                .unwrap_or_else(|e| panic!("cannot create {}: {e}", record_dir.display()));
            config.media.record_dir = Some(record_dir);
        }
        if let PasswordSource::File {
            path,
            value: Some(value),
        } = &config.account.password
        {
            write_secret_file(path, value);
        }
        let config_path = work_dir.join("agent.toml");
        fs::write(&config_path, config.to_toml())
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", config_path.display()));

        let mut command = Command::new(binary);
        command
            .arg("agent")
            .arg("--config")
            .arg(&config_path)
            .current_dir(&work_dir)
            .env("RUST_LOG", "debug")
            .env("RUST_BACKTRACE", "1")
            .env_remove(PASSWORD_ENV);
        if let Some(pulse) = pulse {
            pulse.apply(&mut command);
        }
        if let PasswordSource::Env { name, value } = &config.account.password {
            command.env(name, value);
        }
        command.envs(config.env.iter().map(|(k, v)| (k, v)));
        let mut process = RigProcess::spawn(
            "parley-cli",
            command,
            &work_dir,
            SpawnOptions {
                piped_stdin: true,
                piped_stdout: true,
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let stdin = process.take_stdin();
        let stdout = process.take_stdout().expect("spawned with piped_stdout");
        let shared = Arc::new((Mutex::new(CliState::default()), Condvar::new()));
        {
            let shared = Arc::clone(&shared);
            let events_log = process.stdout_path().to_owned();
            std::thread::Builder::new()
                .name("parley-cli-events".to_owned())
                .spawn(move || read_events(stdout, &shared, &events_log))
                .expect("spawning a thread");
        }
        let cli = ParleyCli {
            stdin: Mutex::new(stdin),
            shared,
            next_id: Mutex::new(0),
            work_dir,
            config_path,
            config,
            sip_port,
            rtp_ports,
            process,
            _dir: dir.clone(),
        };
        cli.wait_for("started", wait::MEDIUM);
        cli
    }

    /// The config it was started with (with the rig's ports filled in).
    pub fn config(&self) -> &ParleyConfig {
        &self.config
    }

    /// The config file.
    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// `127.0.0.1:<sip port>` from `sip.listen`.
    pub fn sip_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.sip_port))
    }

    /// `sip:<username>@127.0.0.1:<sip port>`: reaches the agent without the proxy.
    pub fn direct_uri(&self) -> String {
        format!(
            "sip:{}@{LOOPBACK}:{}",
            self.config.account.username, self.sip_port
        )
    }

    /// Its RTP port range.
    pub fn rtp_ports(&self) -> Range<u16> {
        self.rtp_ports.clone()
    }

    /// The recording dir (`media.record_dir`).
    pub fn record_dir(&self) -> Option<&Path> {
        self.config.media.record_dir.as_deref()
    }

    /// Its work dir (config, logs, recordings).
    pub fn work_dir(&self) -> &Path {
        &self.work_dir
    }

    /// The agent's stderr (its logs).
    pub fn stderr_path(&self) -> &Path {
        self.process.stderr_path()
    }

    /// Every stdout line, as received (the event log).
    pub fn events_path(&self) -> &Path {
        self.process.stdout_path()
    }

    /// Sends one command line (a JSON object with `"cmd"`) without waiting.
    #[track_caller]
    pub fn send(&self, command: &Value) {
        let line = format!("{command}\n");
        let mut stdin = self.stdin.lock().unwrap_or_else(|e| e.into_inner());
        let Some(pipe) = stdin.as_mut() else {
            panic!("parley-cli's stdin is closed; cannot send {command}");
        };
        if let Err(e) = pipe.write_all(line.as_bytes()).and_then(|()| pipe.flush()) {
            panic!(
                "cannot send {command} to parley-cli: {e}; stderr: {}",
                self.stderr_path().display()
            );
        }
    }

    /// Sends `command` with a fresh `"id"` and returns its `result` event (whether `ok` or
    /// not). Panics if no result comes within 20 s.
    #[track_caller]
    pub fn command(&self, command: Value) -> Value {
        let id = {
            let mut next = self.next_id.lock().unwrap_or_else(|e| e.into_inner());
            *next += 1;
            format!("rig-{next}")
        };
        let mut command = command;
        command["id"] = Value::from(id.clone());
        self.send(&command);
        // Results are matched by id anywhere in the log, without moving the cursor, so that
        // events emitted before the result stay available to `wait_event`.
        let found = self.find_event(
            |e| e["event"] == "result" && e["id"] == id.as_str(),
            wait::MEDIUM,
        );
        found.unwrap_or_else(|| {
            self.fail(&format!(
                "no result for {command} within {:?}",
                wait::MEDIUM
            ))
        })
    }

    /// [`ParleyCli::command`], and panics unless the result is `"ok": true`.
    #[track_caller]
    pub fn command_ok(&self, command: Value) -> Value {
        let shown = command.to_string();
        let result = self.command(command);
        if result["ok"] != true {
            self.fail(&format!("command {shown} failed: {result}"));
        }
        result
    }

    /// Waits for the next event matching `predicate` after the one the previous
    /// `wait_event` returned; returns it. Panics after `timeout` with every event received
    /// and the path of the agent's log.
    #[track_caller]
    pub fn wait_event(&self, predicate: impl Fn(&Value) -> bool, timeout: Duration) -> Value {
        self.try_wait_event(predicate, timeout)
            .unwrap_or_else(|| self.fail(&format!("no matching event within {timeout:?}")))
    }

    /// [`ParleyCli::wait_event`] that returns `None` on timeout.
    pub fn try_wait_event(
        &self,
        predicate: impl Fn(&Value) -> bool,
        timeout: Duration,
    ) -> Option<Value> {
        let deadline = Instant::now() + wait::scaled(timeout);
        let (lock, cond) = &*self.shared;
        let mut state = lock.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let start = state.cursor;
            if let Some(offset) = state.events[start..].iter().position(&predicate) {
                state.cursor = start + offset + 1;
                return Some(state.events[start + offset].clone());
            }
            let now = Instant::now();
            if state.closed || now >= deadline {
                return None;
            }
            state = cond
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    /// Waits for the next event called `name` (`"registration"`, `"call_state"`, ...).
    #[track_caller]
    pub fn wait_for(&self, name: &str, timeout: Duration) -> Value {
        self.wait_event(|e| e["event"] == name, timeout)
    }

    /// Waits for `registration` with `state == "registered"`.
    #[track_caller]
    pub fn wait_registered(&self, timeout: Duration) -> Value {
        self.wait_event(
            |e| e["event"] == "registration" && e["state"] == "registered",
            timeout,
        )
    }

    /// Waits for `call_state` of `call` reaching `state`.
    #[track_caller]
    pub fn wait_call_state(&self, call: &Value, state: &str, timeout: Duration) -> Value {
        self.wait_event(
            |e| e["event"] == "call_state" && e["call"] == *call && e["state"] == state,
            timeout,
        )
    }

    /// Places a call (`dial`) and returns the call id from its result.
    #[track_caller]
    pub fn dial(&self, to: &str) -> Value {
        let result = self.command_ok(json!({ "cmd": "dial", "to": to }));
        result["call"].clone()
    }

    /// Answers `call`.
    #[track_caller]
    pub fn answer(&self, call: &Value) {
        self.command_ok(json!({ "cmd": "answer", "call": call }));
    }

    /// Hangs up `call`.
    #[track_caller]
    pub fn hangup(&self, call: &Value) {
        self.command_ok(json!({ "cmd": "hangup", "call": call }));
    }

    /// Asserts that no event matching `predicate` arrives within `period` (a fixed wait, by
    /// nature: use it only to check that something does *not* happen).
    #[track_caller]
    pub fn assert_no_event(&self, predicate: impl Fn(&Value) -> bool, period: Duration) {
        let deadline = Instant::now() + period;
        loop {
            let seen = {
                let state = self.state();
                state
                    .events
                    .iter()
                    .skip(state.cursor)
                    .find(|e| predicate(e))
                    .cloned()
            };
            if let Some(event) = seen {
                self.fail(&format!("unexpected event {event}"));
            }
            let now = Instant::now();
            if now >= deadline {
                return;
            }
            std::thread::sleep((deadline - now).min(Duration::from_millis(50)));
        }
    }

    /// Every event so far.
    pub fn events(&self) -> Vec<Value> {
        self.state().events.clone()
    }

    /// Stdout lines that were not JSON objects (the protocol allows none).
    pub fn bad_stdout_lines(&self) -> Vec<String> {
        self.state().bad_lines.clone()
    }

    /// Sends `quit` and waits for the agent to exit; returns its exit status. Kills it
    /// after `timeout`.
    #[track_caller]
    pub fn quit(mut self, timeout: Duration) -> ExitStatus {
        self.send(&json!({ "cmd": "quit" }));
        let status = self.process.wait_timeout(timeout);
        match status {
            Some(status) => {
                self.process.stop();
                status
            }
            None => {
                self.process.stop();
                self.fail(&format!(
                    "parley-cli did not exit within {timeout:?} after quit"
                ))
            }
        }
    }

    /// Closes stdin (end of commands: the agent must unregister and exit with 0).
    pub fn close_stdin(&self) {
        self.stdin.lock().unwrap_or_else(|e| e.into_inner()).take();
    }

    /// Waits for the process to exit by itself.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        self.process.wait_timeout(timeout)
    }

    fn state(&self) -> MutexGuard<'_, CliState> {
        self.shared.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Searches the whole event log (not moving the cursor) until `timeout`.
    pub fn find_event(
        &self,
        predicate: impl Fn(&Value) -> bool,
        timeout: Duration,
    ) -> Option<Value> {
        let deadline = Instant::now() + wait::scaled(timeout);
        let (lock, cond) = &*self.shared;
        let mut state = lock.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(event) = state.events.iter().find(|e| predicate(e)) {
                return Some(event.clone());
            }
            let now = Instant::now();
            if state.closed || now >= deadline {
                return None;
            }
            state = cond
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    #[track_caller]
    fn fail(&self, message: &str) -> ! {
        let state = self.state();
        let mut events = String::new();
        for (i, event) in state.events.iter().enumerate() {
            let marker = if i + 1 == state.cursor {
                " <- cursor"
            } else {
                ""
            };
            let _ = writeln!(events, "  {i:3}: {event}{marker}");
        }
        panic!(
            "parley-cli: {message}\nstdout closed: {}\nevents ({}, cursor at {}):\n{events}\
             non-JSON stdout lines: {:?}\nstderr: {}\nconfig: {}",
            state.closed,
            state.events.len(),
            state.cursor,
            state.bad_lines,
            self.stderr_path().display(),
            self.config_path.display()
        );
    }
}

fn parse_range(range: &str) -> Option<Range<u16>> {
    let (first, last) = range.split_once('-')?;
    let first: u16 = first.trim().parse().ok()?;
    let last: u16 = last.trim().parse().ok()?;
    Some(first..last + 1)
}

/// Reads stdout lines into the event log (and copies them to `log_path`).
fn read_events(
    stdout: std::process::ChildStdout,
    shared: &(Mutex<CliState>, Condvar),
    log_path: &Path,
) {
    let mut log = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path)
        .ok();
    for line in BufReader::new(stdout).lines() {
        let Ok(line) = line else { break };
        if let Some(log) = log.as_mut() {
            let _ = writeln!(log, "{line}");
        }
        let (lock, cond) = shared;
        let mut state = lock.lock().unwrap_or_else(|e| e.into_inner());
        match serde_json::from_str::<Value>(&line) {
            Ok(value) if value.is_object() => state.events.push(value),
            _ => state.bad_lines.push(line),
        }
        cond.notify_all();
    }
    let (lock, cond) = shared;
    lock.lock().unwrap_or_else(|e| e.into_inner()).closed = true;
    cond.notify_all();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_of_a_full_config() {
        let mut config = ParleyConfig::standalone("1001");
        config.account.registrar = Some("sip:127.0.0.1:20000".to_owned());
        config.sip.listen = Some("127.0.0.1:20002".to_owned());
        config.media.codecs = Some(vec!["PCMU".to_owned(), "PCMA".to_owned()]);
        config.media.source = Some("wav:/tmp/a \"b\".wav".to_owned());
        let toml = config.to_toml();
        assert!(toml.contains("[account]\nusername = \"1001\"\ndomain = \"127.0.0.1\"\n"));
        assert!(toml.contains("registrar = \"sip:127.0.0.1:20000\"\n"));
        assert!(toml.contains("[account.password]\nenv = \"PARLEY_PASSWORD\"\n"));
        assert!(toml.contains("codecs = [\"PCMU\", \"PCMA\"]\n"));
        assert!(toml.contains("source = \"wav:/tmp/a \\\"b\\\".wav\"\n"));
        assert!(!toml.contains("[tls]"));
    }
}
