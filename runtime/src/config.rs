//! The agent's configuration file (TOML, documented in docs/headless.md), and its
//! validation into [`Settings`]. Every error names the key and the problem.

use parley_core::agent::{AgentConfig, AgentState, NotReadyReason};
use parley_core::sdp::crypto::SrtpPolicy;
use parley_core::sdp::{CodecPref, MediaConfig};
use parley_core::sip::target::TransportKind;
use parley_core::sip::trust::Network;
use parley_core::sip::ua::PrackMode;
use parley_core::sip::uri::{Scheme, SipUri};
use serde::Deserialize;
use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A configuration problem: which key, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("config error: {key}: {problem}")]
pub struct ConfigError {
    pub key: String,
    pub problem: String,
}

impl ConfigError {
    fn new(key: &str, problem: impl Into<String>) -> Self {
        ConfigError {
            key: key.to_owned(),
            problem: problem.into(),
        }
    }
}

/// The file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub account: AccountConfig,
    #[serde(default)]
    pub sip: SipConfig,
    #[serde(default)]
    pub tls: TlsConfig,
    #[serde(default)]
    pub media: MediaSettings,
    #[serde(default)]
    pub agent: AgentSettings,
    #[serde(default)]
    pub teams: TeamsFile,
}

/// `[teams]`: presence sync with Microsoft Teams (DESIGN §6, docs/teams-setup.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TeamsFile {
    pub enabled: bool,
    /// Directory (tenant) id or domain; `organizations` for any work account.
    pub tenant: String,
    /// The application (client) id of the app registration.
    pub client_id: String,
    pub graph_url: String,
    pub login_url: String,
    pub poll_seconds: u32,
    pub block_in_meeting: bool,
    pub block_do_not_disturb: bool,
    pub block_busy: bool,
    /// `hang_up` or `wrapup_end`.
    pub clear_at: String,
    pub session_minutes: u32,
    /// Offer the colleagues directory (asks for `User.ReadBasic.All` and
    /// `Presence.Read.All` at sign-in).
    pub directory: bool,
    /// The answer to offers while Teams keeps the agent busy.
    pub busy_status: u16,
    /// Where the refresh token is (the OS keychain by default).
    pub refresh_token: Option<PasswordSource>,
}

impl Default for TeamsFile {
    fn default() -> Self {
        TeamsFile {
            enabled: false,
            tenant: "organizations".into(),
            client_id: String::new(),
            graph_url: crate::graph::DEFAULT_GRAPH_URL.into(),
            login_url: crate::graph::DEFAULT_LOGIN_URL.into(),
            poll_seconds: 10,
            block_in_meeting: true,
            block_do_not_disturb: true,
            block_busy: false,
            clear_at: "hang_up".into(),
            session_minutes: 60,
            directory: true,
            busy_status: 486,
            refresh_token: None,
        }
    }
}

/// Validated `[teams]`.
#[derive(Debug, Clone, PartialEq)]
pub struct TeamsSettings {
    pub graph: crate::graph::GraphSettings,
    pub sync: parley_core::presence::SyncConfig,
    pub refresh_token: PasswordSource,
}

impl TeamsSettings {
    /// The refresh token's entry in the OS keychain.
    pub fn keyring_user(&self) -> String {
        format!("teams:{}@{}", self.graph.client_id, self.graph.tenant)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountConfig {
    pub username: String,
    pub domain: String,
    pub display_name: Option<String>,
    pub auth_username: Option<String>,
    pub registrar: Option<String>,
    pub outbound_proxy: Option<String>,
    pub transport: Option<TransportSetting>,
    #[serde(default = "default_expires")]
    pub expires: u32,
    #[serde(default = "yes")]
    pub register_on_start: bool,
    pub password: Option<PasswordSource>,
}

/// Where the SIP password comes from. Never from this file in clear.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PasswordSource {
    #[serde(default)]
    pub keyring: bool,
    pub env: Option<String>,
    pub file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum TransportSetting {
    Udp,
    Tcp,
    Tls,
}

impl TransportSetting {
    /// The name as written in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            TransportSetting::Udp => "udp",
            TransportSetting::Tcp => "tcp",
            TransportSetting::Tls => "tls",
        }
    }
}

impl From<TransportSetting> for TransportKind {
    fn from(t: TransportSetting) -> Self {
        match t {
            TransportSetting::Udp => TransportKind::Udp,
            TransportSetting::Tcp => TransportKind::Tcp,
            TransportSetting::Tls => TransportKind::Tls,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SipConfig {
    pub listen: String,
    pub trusted_sources: Vec<String>,
    pub call_waiting: bool,
    pub t1_ms: u64,
    pub session_expires: u32,
    pub min_se: u32,
    pub prack: PrackSetting,
    pub keepalive_seconds: u64,
    pub register_retry_max_seconds: u64,
    pub user_agent: String,
    /// DNS servers to use instead of the system's (`ip:port`).
    pub dns_servers: Vec<String>,
}

impl Default for SipConfig {
    fn default() -> Self {
        SipConfig {
            listen: "0.0.0.0:0".into(),
            trusted_sources: Vec::new(),
            call_waiting: false,
            t1_ms: 500,
            session_expires: 1800,
            min_se: 90,
            prack: PrackSetting::Supported,
            keepalive_seconds: 30,
            register_retry_max_seconds: 60,
            user_agent: format!("Parley/{}", env!("CARGO_PKG_VERSION")),
            dns_servers: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum PrackSetting {
    Off,
    Supported,
    Required,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    pub ca_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MediaSettings {
    pub rtp_ports: String,
    pub codecs: Vec<String>,
    pub source: String,
    pub output: String,
    pub record_dir: Option<PathBuf>,
    pub dtmf: DtmfMode,
    /// Seconds without RTP (both ways flowing) before a `media_inactivity` event; 0: never.
    pub rtp_timeout_seconds: u64,
    /// SDES-SRTP: `off`, `optional` (offered and accepted when signalling is TLS) or
    /// `required` (TLS only; calls without keys are refused).
    pub srtp: String,
}

impl Default for MediaSettings {
    fn default() -> Self {
        MediaSettings {
            rtp_ports: "16384-32767".into(),
            codecs: vec!["PCMU".into(), "PCMA".into()],
            source: "silence".into(),
            output: "none".into(),
            record_dir: None,
            dtmf: DtmfMode::Auto,
            rtp_timeout_seconds: 10,
            srtp: "optional".into(),
        }
    }
}

/// How DTMF is sent.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum DtmfMode {
    /// RFC 4733 when negotiated, else SIP INFO.
    Auto,
    Rfc4733,
    Info,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AgentSettings {
    pub initial_state: InitialState,
    pub busy_status: u16,
    pub ring_timeout_seconds: u64,
    pub wrapup_seconds: u64,
    pub auto_answer: bool,
    /// SQLite file of the call history; none: no history is kept.
    pub history_file: Option<PathBuf>,
}

impl Default for AgentSettings {
    fn default() -> Self {
        AgentSettings {
            initial_state: InitialState::NotReady,
            busy_status: 486,
            ring_timeout_seconds: 30,
            wrapup_seconds: 0,
            auto_answer: false,
            history_file: None,
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum InitialState {
    Ready,
    NotReady,
    Offline,
}

fn default_expires() -> u32 {
    600
}

fn yes() -> bool {
    true
}

/// A validated configuration, in the types the engine uses.
#[derive(Debug, Clone)]
pub struct Settings {
    pub aor: SipUri,
    pub display_name: Option<String>,
    pub auth_username: String,
    pub registrar: SipUri,
    pub outbound_proxy: Option<SipUri>,
    /// The URI to resolve for the flow: the outbound proxy, else the registrar.
    pub next_hop: SipUri,
    pub transport: Option<TransportKind>,
    pub expires: u32,
    pub register_on_start: bool,
    pub password: Option<PasswordSource>,
    pub listen: SocketAddr,
    pub trusted: Vec<Network>,
    pub call_waiting: bool,
    pub t1: Duration,
    pub session_expires: Option<u32>,
    pub min_se: u32,
    pub prack: PrackMode,
    pub keepalive: Option<Duration>,
    pub retry_max: Duration,
    pub user_agent: String,
    pub dns_servers: Vec<SocketAddr>,
    pub tls_ca_file: Option<PathBuf>,
    pub rtp_ports: RangeInclusive<u16>,
    pub media: MediaConfig,
    pub source: audio_engine::SourceSpec,
    pub output: audio_engine::device::OutputSpec,
    pub record_dir: Option<PathBuf>,
    pub dtmf: DtmfMode,
    pub rtp_timeout: Option<Duration>,
    pub agent: AgentConfig,
    pub initial_state: AgentState,
    pub auto_answer: bool,
    pub history_file: Option<PathBuf>,
    pub teams: Option<TeamsSettings>,
}

impl Settings {
    /// The account's entry in the OS keychain: `<auth user>@<domain host>`, the same for
    /// everything that stores or reads it.
    pub fn keyring_user(&self) -> String {
        format!("{}@{}", self.auth_username, self.aor.host)
    }
}

impl Config {
    /// Reads and validates a configuration file.
    pub fn load(path: &Path) -> Result<Settings, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError::new(&path.display().to_string(), format!("cannot read: {e}"))
        })?;
        Self::parse(&text)?.validate()
    }

    /// Parses TOML; type errors name the key path (e.g. `account.transport`).
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        let de = toml::Deserializer::parse(text)
            .map_err(|e| ConfigError::new("(file)", e.message().to_owned()))?;
        serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            ConfigError::new(
                if key == "." { "(file)" } else { &key },
                e.into_inner().message().to_owned(),
            )
        })
    }

    /// Checks values the types cannot, and converts.
    pub fn validate(self) -> Result<Settings, ConfigError> {
        let a = &self.account;
        if a.username.is_empty()
            || a.username
                .chars()
                .any(|c| c.is_whitespace() || "<>@:;\"".contains(c))
        {
            return Err(ConfigError::new(
                "account.username",
                format!("{:?} is not a valid SIP user name", a.username),
            ));
        }
        let aor: SipUri = format!("sip:{}@{}", a.username, a.domain)
            .parse()
            .map_err(|e| ConfigError::new("account.domain", format!("{:?}: {e}", a.domain)))?;
        let sip_uri = |key: &str, value: &str| -> Result<SipUri, ConfigError> {
            let text = if value.contains(':')
                && value.split(':').next().is_some_and(|s| {
                    s.eq_ignore_ascii_case("sip") || s.eq_ignore_ascii_case("sips")
                }) {
                value.to_owned()
            } else {
                format!("sip:{value}")
            };
            text.parse()
                .map_err(|e| ConfigError::new(key, format!("{value:?} is not a SIP URI: {e}")))
        };
        let registrar = match &a.registrar {
            Some(r) => sip_uri("account.registrar", r)?,
            None => sip_uri("account.domain", &a.domain)?,
        };
        let outbound_proxy = a
            .outbound_proxy
            .as_deref()
            .map(|p| sip_uri("account.outbound_proxy", p))
            .transpose()?;
        let next_hop = outbound_proxy.clone().unwrap_or_else(|| registrar.clone());
        let transport = a.transport.map(TransportKind::from);
        if next_hop.scheme == Scheme::Sips && transport == Some(TransportKind::Udp) {
            return Err(ConfigError::new(
                "account.transport",
                "a sips: registrar or proxy needs tls",
            ));
        }
        // SDES keys travel in the SDP: only over TLS are they kept from the network.
        let tls = transport == Some(TransportKind::Tls) || next_hop.scheme == Scheme::Sips;
        let srtp = match (self.media.srtp.as_str(), tls) {
            ("off", _) | ("optional", false) => SrtpPolicy::Off,
            ("optional", true) => SrtpPolicy::Optional,
            ("required", true) => SrtpPolicy::Required,
            ("required", false) => {
                return Err(ConfigError::new(
                    "media.srtp",
                    "required SRTP needs account.transport = \"tls\" (SDES keys must not cross the network in the clear)",
                ))
            }
            (other, _) => {
                return Err(ConfigError::new(
                    "media.srtp",
                    format!("{other:?} is not off, optional or required"),
                ))
            }
        };
        if !(10..=86_400).contains(&a.expires) {
            return Err(ConfigError::new(
                "account.expires",
                format!("{} is outside 10..=86400 seconds", a.expires),
            ));
        }
        if let Some(p) = &a.password {
            check_one_source(p, "account.password")?;
        }
        let s = &self.sip;
        let listen: SocketAddr = s.listen.parse().map_err(|_| {
            ConfigError::new("sip.listen", format!("{:?} is not ip:port", s.listen))
        })?;
        let trusted = s
            .trusted_sources
            .iter()
            .map(|t| {
                t.parse::<Network>()
                    .map_err(|e| ConfigError::new("sip.trusted_sources", e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if !(50..=5000).contains(&s.t1_ms) {
            return Err(ConfigError::new(
                "sip.t1_ms",
                format!("{} is outside 50..=5000", s.t1_ms),
            ));
        }
        // RFC 4028 §4: Min-SE is at least 90 s.
        if s.min_se < 90 {
            return Err(ConfigError::new(
                "sip.min_se",
                "must be at least 90 (RFC 4028 §4)",
            ));
        }
        if s.session_expires != 0 && s.session_expires < s.min_se {
            return Err(ConfigError::new(
                "sip.session_expires",
                format!("{} is below sip.min_se ({})", s.session_expires, s.min_se),
            ));
        }
        let dns_servers = s
            .dns_servers
            .iter()
            .map(|d| {
                d.parse::<SocketAddr>()
                    .or_else(|_| {
                        d.parse::<std::net::IpAddr>()
                            .map(|ip| SocketAddr::new(ip, 53))
                    })
                    .map_err(|_| {
                        ConfigError::new("sip.dns_servers", format!("{d:?} is not an IP address"))
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if s.register_retry_max_seconds == 0 {
            return Err(ConfigError::new(
                "sip.register_retry_max_seconds",
                "must be at least 1",
            ));
        }
        if let Some(ca) = &self.tls.ca_file {
            if !ca.is_file() {
                return Err(ConfigError::new(
                    "tls.ca_file",
                    format!("{} is not a readable file", ca.display()),
                ));
            }
        }
        let m = &self.media;
        let rtp_ports = parse_port_range(&m.rtp_ports).ok_or_else(|| {
            ConfigError::new(
                "media.rtp_ports",
                format!(
                    "{:?} is not a range like 16384-32767 with at least two ports",
                    m.rtp_ports
                ),
            )
        })?;
        let codecs = m
            .codecs
            .iter()
            .map(|c| match c.to_ascii_uppercase().as_str() {
                "PCMU" => Ok(CodecPref::pcmu()),
                "PCMA" => Ok(CodecPref::pcma()),
                _ => Err(ConfigError::new(
                    "media.codecs",
                    format!("{c:?} is not supported (PCMU, PCMA)"),
                )),
            })
            .collect::<Result<Vec<_>, _>>()?;
        if codecs.is_empty() {
            return Err(ConfigError::new(
                "media.codecs",
                "at least one codec is needed",
            ));
        }
        let source: audio_engine::SourceSpec =
            m.source
                .parse()
                .map_err(|e: audio_engine::source::SourceError| {
                    ConfigError::new("media.source", e.to_string())
                })?;
        let output = m
            .output
            .parse()
            .map_err(|e: audio_engine::device::OutputSpecError| {
                ConfigError::new("media.output", e.to_string())
            })?;
        let g = &self.agent;
        if !(400..=699).contains(&g.busy_status) {
            return Err(ConfigError::new(
                "agent.busy_status",
                format!("{} is not a 4xx-6xx status", g.busy_status),
            ));
        }
        if g.ring_timeout_seconds == 0 {
            return Err(ConfigError::new(
                "agent.ring_timeout_seconds",
                "must be at least 1",
            ));
        }
        let teams = self.teams.validate()?;
        Ok(Settings {
            display_name: a.display_name.clone(),
            auth_username: a
                .auth_username
                .clone()
                .unwrap_or_else(|| a.username.clone()),
            registrar,
            outbound_proxy,
            next_hop,
            transport,
            expires: a.expires,
            register_on_start: a.register_on_start,
            password: a.password.clone(),
            aor,
            listen,
            trusted,
            call_waiting: s.call_waiting,
            t1: Duration::from_millis(s.t1_ms),
            session_expires: (s.session_expires != 0).then_some(s.session_expires),
            min_se: s.min_se,
            prack: match s.prack {
                PrackSetting::Off => PrackMode::Off,
                PrackSetting::Supported => PrackMode::Supported,
                PrackSetting::Required => PrackMode::Required,
            },
            keepalive: (s.keepalive_seconds != 0).then(|| Duration::from_secs(s.keepalive_seconds)),
            retry_max: Duration::from_secs(s.register_retry_max_seconds),
            user_agent: s.user_agent.clone(),
            dns_servers,
            tls_ca_file: self.tls.ca_file.clone(),
            rtp_ports,
            media: MediaConfig {
                codecs,
                srtp,
                ..MediaConfig::default()
            },
            source,
            output,
            record_dir: m.record_dir.clone(),
            dtmf: m.dtmf,
            rtp_timeout: (m.rtp_timeout_seconds > 0)
                .then(|| Duration::from_secs(m.rtp_timeout_seconds)),
            agent: AgentConfig {
                busy_status: g.busy_status,
                teams_busy_status: self.teams.busy_status,
                ring_timeout: Duration::from_secs(g.ring_timeout_seconds),
                wrapup: Duration::from_secs(g.wrapup_seconds),
            },
            initial_state: match g.initial_state {
                InitialState::Ready => AgentState::Ready,
                InitialState::NotReady => {
                    AgentState::NotReady(NotReadyReason::Agent("login".into()))
                }
                InitialState::Offline => AgentState::Offline,
            },
            auto_answer: g.auto_answer,
            history_file: g.history_file.clone(),
            teams,
        })
    }
}

impl TeamsFile {
    fn validate(&self) -> Result<Option<TeamsSettings>, ConfigError> {
        use parley_core::presence::{BlockingRules, ClearAt, SyncConfig};
        if !self.enabled {
            return Ok(None);
        }
        let client_id = self.client_id.trim();
        if client_id.is_empty() || client_id.len() > 100 || client_id.contains(char::is_whitespace)
        {
            return Err(ConfigError::new(
                "teams.client_id",
                "the application (client) id of the app registration is needed",
            ));
        }
        if self.tenant.trim().is_empty() {
            return Err(ConfigError::new(
                "teams.tenant",
                "a tenant id or domain is needed",
            ));
        }
        for (key, url) in [
            ("teams.graph_url", &self.graph_url),
            ("teams.login_url", &self.login_url),
        ] {
            crate::graph::check_url(url).map_err(|e| ConfigError::new(key, e.to_string()))?;
        }
        if !(1..=300).contains(&self.poll_seconds) {
            return Err(ConfigError::new(
                "teams.poll_seconds",
                format!("{} is outside 1..=300", self.poll_seconds),
            ));
        }
        if !(5..=240).contains(&self.session_minutes) {
            return Err(ConfigError::new(
                "teams.session_minutes",
                format!(
                    "{} is outside 5..=240 (Graph accepts PT5M to PT4H)",
                    self.session_minutes
                ),
            ));
        }
        if !(400..=699).contains(&self.busy_status) {
            return Err(ConfigError::new(
                "teams.busy_status",
                format!("{} is not a 4xx-6xx status", self.busy_status),
            ));
        }
        let clear_at = match self.clear_at.as_str() {
            "hang_up" => ClearAt::HangUp,
            "wrapup_end" => ClearAt::WrapupEnd,
            other => {
                return Err(ConfigError::new(
                    "teams.clear_at",
                    format!("{other:?} is not hang_up or wrapup_end"),
                ))
            }
        };
        let refresh_token = self.refresh_token.clone().unwrap_or(PasswordSource {
            keyring: true,
            env: None,
            file: None,
        });
        check_one_source(&refresh_token, "teams.refresh_token")?;
        let session = Duration::from_secs(u64::from(self.session_minutes) * 60);
        Ok(Some(TeamsSettings {
            graph: crate::graph::GraphSettings {
                graph_url: self.graph_url.trim_end_matches('/').to_owned(),
                login_url: self.login_url.trim_end_matches('/').to_owned(),
                tenant: self.tenant.trim().to_owned(),
                client_id: client_id.to_owned(),
                directory: self.directory,
            },
            sync: SyncConfig {
                poll_interval: Duration::from_secs(u64::from(self.poll_seconds)),
                rules: BlockingRules {
                    in_a_meeting: self.block_in_meeting,
                    do_not_disturb: self.block_do_not_disturb,
                    busy: self.block_busy,
                },
                session_duration: session,
                // A quarter before the end, at most 15 minutes.
                renew_before: (session / 4).min(Duration::from_secs(900)),
                clear_at,
                ..SyncConfig::default()
            },
            refresh_token,
        }))
    }
}

/// Exactly one of `keyring = true`, `env` and `file`.
fn check_one_source(source: &PasswordSource, key: &str) -> Result<(), ConfigError> {
    let count = usize::from(source.keyring)
        + usize::from(source.env.is_some())
        + usize::from(source.file.is_some());
    if count == 1 {
        Ok(())
    } else {
        Err(ConfigError::new(
            key,
            "give exactly one of keyring = true, env = \"VAR\" or file = \"/path\"",
        ))
    }
}

/// `low-high`, both even-able, at least one RTP port pair.
fn parse_port_range(s: &str) -> Option<RangeInclusive<u16>> {
    let (low, high) = s.split_once('-')?;
    let (low, high): (u16, u16) = (low.trim().parse().ok()?, high.trim().parse().ok()?);
    (low >= 1024 && high > low).then_some(low..=high)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "[account]\nusername = \"1001\"\ndomain = \"pbx.example.com\"\n";

    #[test]
    fn minimal_config_gets_defaults() {
        let s = Config::parse(MINIMAL).unwrap().validate().unwrap();
        assert_eq!(s.aor.to_string(), "sip:1001@pbx.example.com");
        assert_eq!(s.registrar.to_string(), "sip:pbx.example.com");
        assert_eq!(s.next_hop, s.registrar);
        assert_eq!(s.expires, 600);
        assert_eq!(s.session_expires, Some(1800));
        assert!(s.password.is_none());
        assert_eq!(s.initial_state.name(), "not_ready");
    }

    #[test]
    fn errors_name_the_key() {
        let err = |extra: &str| {
            Config::parse(&format!("{MINIMAL}{extra}"))
                .and_then(Config::validate)
                .unwrap_err()
        };
        let e = err("transport = \"sctp\"\n");
        assert_eq!(e.key, "account.transport");
        assert!(e.problem.contains("sctp"), "{e}");
        assert_eq!(err("colour = \"red\"\n").key, "account.colour");
        assert_eq!(err("[sip]\nmin_se = 30\n").key, "sip.min_se");
        assert_eq!(
            err("[sip]\ntrusted_sources = [\"10.0.0.0/40\"]\n").key,
            "sip.trusted_sources"
        );
        assert_eq!(err("[media]\nsource = \"tone:abc\"\n").key, "media.source");
        assert_eq!(err("[media]\noutput = \"speaker\"\n").key, "media.output");
        assert_eq!(err("[media]\nrtp_ports = \"9-8\"\n").key, "media.rtp_ports");
        assert_eq!(err("[media]\nsrtp = \"maybe\"\n").key, "media.srtp");
        // Keys in the SDP need TLS: required SRTP over UDP is refused...
        let e = err("[media]\nsrtp = \"required\"\n");
        assert!(e.problem.contains("tls"), "{e}");
        assert_eq!(
            err("[account.password]\nenv = \"A\"\nfile = \"/x\"\n").key,
            "account.password"
        );
        assert_eq!(err("expires = 5\n").key, "account.expires");
        assert!(err("[agent]\nbusy_status = 200\n")
            .to_string()
            .starts_with("config error: agent.busy_status: "));
    }

    #[test]
    fn srtp_is_offered_only_over_tls() {
        let policy = |extra: &str| {
            Config::parse(&format!("{MINIMAL}{extra}"))
                .and_then(Config::validate)
                .unwrap()
                .media
                .srtp
        };
        assert_eq!(policy(""), SrtpPolicy::Off, "optional, but over UDP");
        assert_eq!(policy("transport = \"tls\"\n"), SrtpPolicy::Optional);
        assert_eq!(
            policy("transport = \"tls\"\n[media]\nsrtp = \"required\"\n"),
            SrtpPolicy::Required
        );
        assert_eq!(
            policy("transport = \"tls\"\n[media]\nsrtp = \"off\"\n"),
            SrtpPolicy::Off
        );
    }

    #[test]
    fn proxy_and_transport() {
        let text = "[account]\nusername = \"1001\"\ndomain = \"pbx.example.com\"\noutbound_proxy = \"sbc.example.com:5061\"\ntransport = \"tls\"\n";
        let s = Config::parse(text).unwrap().validate().unwrap();
        assert_eq!(s.next_hop.to_string(), "sip:sbc.example.com:5061");
        assert_eq!(s.transport, Some(TransportKind::Tls));
    }
}
