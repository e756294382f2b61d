//! The agent engine: one tokio task that owns the SIP user agent, the agent-state machine,
//! the sockets and the per-call media tasks, and turns commands into protocol actions and
//! protocol outputs into events (DESIGN §1: the runtime owns I/O and the clock; the core
//! decides).

use crate::clock::sleep_until;
use crate::config::{DtmfMode, Settings, TeamsSettings};
use crate::dns::{DnsError, Resolver};
use crate::media::{self, Control, MediaHandle, MediaSocket, Report};
use crate::protocol::{
    CallQualityView, CallView, Command, CommandError, Event, Outcome, RequestedState, Status,
    TeamsView,
};
use crate::secrets::{self, Secret, SecretError};
use crate::store::{now_ms, Store, StoreError};
use crate::teams::{FromSync, TeamsHandle, ToSync};
use crate::transport::{self, StreamEvent};
use audio_engine::device::DeviceNotice;
use audio_engine::{DtmfDigit, MediaEvent};
use parley_core::agent::{AgentAction, AgentMachine, AgentState, NotReadyReason};
use parley_core::presence::{CcActivity, Failure, SyncEvent, SyncStatus};
use parley_core::sip::auth::Credentials;
use parley_core::sip::registration::{RegistrationConfig, RegistrationState};
use parley_core::sip::target::{Target, TransportKind};
use parley_core::sip::transaction::Timers;
use parley_core::sip::ua::{
    CallHandle, CallState, CommandError as UaCommandError, DeflectReason, DialOptions, EndReason,
    HeldBy, IncomingCall, Output, TransferState, UaConfig, UaEvent, UserAgent,
};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tokio_rustls::TlsConnector;

/// How long `quit` waits for the unregistration and BYEs to complete.
pub const QUIT_GRACE: Duration = Duration::from_secs(5);

/// Why the agent could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("TLS: {0}")]
    Tls(String),
    #[error(transparent)]
    Dns(#[from] DnsError),
}

/// A command, with either the caller's correlation id for its `result` event or a
/// channel for its outcome.
#[derive(Debug)]
struct Request {
    id: Option<serde_json::Value>,
    command: Command,
    reply: Option<oneshot::Sender<Result<Outcome, CommandError>>>,
}

/// The handle through which the desktop shell or `parley-cli` drives the agent.
#[derive(Debug, Clone)]
pub struct AgentHandle {
    tx: mpsc::UnboundedSender<Request>,
}

impl AgentHandle {
    /// Queues a command; `false` once the agent has stopped.
    pub fn send(&self, id: Option<serde_json::Value>, command: Command) -> bool {
        self.tx
            .send(Request {
                id,
                command,
                reply: None,
            })
            .is_ok()
    }

    /// Carries out a command and gives back its outcome, instead of a `result` event.
    pub async fn request(&self, command: Command) -> Result<Outcome, CommandError> {
        let stopped = || CommandError::new("stopped", "the agent has stopped");
        let (reply, outcome) = oneshot::channel();
        self.tx
            .send(Request {
                id: None,
                command,
                reply: Some(reply),
            })
            .map_err(|_| stopped())?;
        outcome.await.map_err(|_| stopped())?
    }
}

/// Why a configured agent could not start.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("account.password: {0}")]
    Password(#[from] SecretError),
    #[error("cannot start the agent: {0}")]
    Start(#[from] StartError),
}

/// Reads the account's password from where the configuration says, then starts the agent.
pub async fn launch(
    settings: Settings,
) -> Result<(AgentHandle, mpsc::UnboundedReceiver<Event>), LaunchError> {
    let password = match &settings.password {
        Some(source) => Some(secrets::read_password(source, &settings.keyring_user())?),
        None => None,
    };
    Ok(start(settings, password).await?)
}

/// Starts the agent. Events arrive on the returned receiver until [`Event::Stopped`]; the
/// agent stops after `quit` or when every handle is dropped.
pub async fn start(
    settings: Settings,
    password: Option<Secret>,
) -> Result<(AgentHandle, mpsc::UnboundedReceiver<Event>), StartError> {
    let udp = UdpSocket::bind(settings.listen)
        .await
        .map_err(|source| StartError::Listen {
            addr: settings.listen,
            source,
        })?;
    let tls = match settings.transport == Some(TransportKind::Tls)
        || settings.next_hop.scheme == parley_core::sip::uri::Scheme::Sips
    {
        true => Some(
            transport::tls_connector(settings.tls_ca_file.as_deref()).map_err(StartError::Tls)?,
        ),
        false => None,
    };
    let resolver = Resolver::new(&settings.dns_servers)?;
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
    let (event_tx, event_rx) = mpsc::unbounded_channel();
    let history = settings.history_file.clone();
    let mut engine = Engine::new(settings, password, udp, tls, resolver, event_tx);
    // Without its history the agent still takes calls: the problem is reported instead.
    match history.as_deref().map(Store::open) {
        Some(Ok(store)) => engine.store = Some(store),
        Some(Err(e)) => engine.emit(Event::Error {
            code: "history".into(),
            message: e.to_string(),
        }),
        None => {}
    }
    tokio::spawn(engine.run(cmd_rx));
    Ok((AgentHandle { tx: cmd_tx }, event_rx))
}

/// What the engine knows about a call beyond the user agent.
#[derive(Debug, Default)]
struct CallInfo {
    talked: bool,
    telephone_event: bool,
    /// Its row in the call history.
    record: Option<i64>,
    view: CallView,
}

struct Engine {
    settings: Settings,
    ua: UserAgent,
    agent: AgentMachine,
    udp: UdpSocket,
    resolver: Resolver,
    tls: Option<TlsConnector>,
    streams: HashMap<Target, mpsc::UnboundedSender<Vec<u8>>>,
    stream_tx: mpsc::UnboundedSender<StreamEvent>,
    stream_rx: mpsc::UnboundedReceiver<StreamEvent>,
    media_tx: mpsc::UnboundedSender<Report>,
    media_rx: mpsc::UnboundedReceiver<Report>,
    resolve_tx: mpsc::UnboundedSender<Result<Vec<Target>, DnsError>>,
    resolve_rx: mpsc::UnboundedReceiver<Result<Vec<Target>, DnsError>>,
    resolving: bool,
    sockets: HashMap<CallHandle, MediaSocket>,
    media: HashMap<CallHandle, MediaHandle>,
    calls: HashMap<CallHandle, CallInfo>,
    /// Our address on the SIP flow: the address media is offered on.
    local_ip: Option<IpAddr>,
    events: mpsc::UnboundedSender<Event>,
    quit_by: Option<Instant>,
    store: Option<Store>,
    /// Whether the SIP flow is up, once known.
    connection: Option<bool>,
    teams: Option<Teams>,
}

/// The engine's side of the Teams presence sync, while it is configured.
struct Teams {
    /// The running sync; none while signed out or when it could not start.
    sync: Option<RunningSync>,
    /// What the contact center is doing, as last told to a sync.
    cc: CcActivity,
    view: TeamsView,
}

struct RunningSync {
    handle: TeamsHandle,
    reports: mpsc::UnboundedReceiver<FromSync>,
    stopped: bool,
}

/// What `teams_sign_out` and a missing sign-in say to do.
const SIGN_IN_HINT: &str =
    "sign in to Microsoft Teams (Settings > Teams, or parley-cli teams-sign-in)";

impl Engine {
    fn new(
        settings: Settings,
        password: Option<Secret>,
        udp: UdpSocket,
        tls: Option<TlsConnector>,
        resolver: Resolver,
        events: mpsc::UnboundedSender<Event>,
    ) -> Self {
        let config = UaConfig {
            aor: settings.aor.clone(),
            display_name: settings.display_name.clone(),
            credentials: password.map(|p| Credentials {
                username: settings.auth_username.clone(),
                password: p.expose().to_owned(),
            }),
            registrar: settings.registrar.clone(),
            outbound_proxy: settings.outbound_proxy.clone(),
            registration: RegistrationConfig {
                expires: settings.expires,
                retry_base: Duration::from_secs(1),
                retry_max: settings.retry_max,
            },
            register_on_start: settings.register_on_start,
            trusted: settings.trusted.clone(),
            call_waiting: settings.call_waiting,
            session_expires: settings.session_expires,
            min_se: settings.min_se,
            prack: settings.prack,
            user_agent: settings.user_agent.clone(),
            timers: Timers {
                t1: settings.t1,
                ..Timers::default()
            },
            media: settings.media.clone(),
            keepalive: settings.keepalive,
        };
        let seed = rand::random();
        let agent = AgentMachine::new(settings.agent, settings.initial_state.clone());
        let (stream_tx, stream_rx) = mpsc::unbounded_channel();
        let (media_tx, media_rx) = mpsc::unbounded_channel();
        let (resolve_tx, resolve_rx) = mpsc::unbounded_channel();
        Engine {
            ua: UserAgent::new(config, seed),
            agent,
            settings,
            udp,
            resolver,
            tls,
            streams: HashMap::new(),
            stream_tx,
            stream_rx,
            media_tx,
            media_rx,
            resolve_tx,
            resolve_rx,
            resolving: false,
            sockets: HashMap::new(),
            media: HashMap::new(),
            calls: HashMap::new(),
            local_ip: None,
            events,
            quit_by: None,
            store: None,
            connection: None,
            teams: None,
        }
    }

    /// Starts the Teams presence sync when it is configured; a sync that cannot start (no
    /// sign-in yet, say) is reported and leaves calls alone.
    fn start_teams(&mut self) {
        let Some(settings) = self.settings.teams.clone() else {
            return;
        };
        let teams = self.teams.get_or_insert_with(|| Teams {
            sync: None,
            cc: CcActivity::Idle,
            view: TeamsView::default(),
        });
        let (tx, reports) = mpsc::unbounded_channel();
        let directory = settings.graph.directory;
        match crate::teams::start(settings, self.settings.tls_ca_file.as_deref(), tx) {
            Ok(handle) => {
                // A sync that starts during a call must know about it at once.
                if teams.cc != CcActivity::Idle {
                    handle.send(ToSync::Cc(teams.cc));
                }
                teams.sync = Some(RunningSync {
                    handle,
                    reports,
                    stopped: false,
                });
                teams.view.sync = "starting".into();
                teams.view.reason = None;
                teams.view.directory = directory;
            }
            Err(e) => {
                tracing::warn!(error = %e, "Teams presence sync not started");
                teams.view.directory = false;
                if e.is_signed_out() {
                    teams.view.sync = "signed_out".into();
                    teams.view.reason = Some(SIGN_IN_HINT.into());
                } else {
                    teams.view.sync = "unavailable".into();
                    teams.view.reason = Some(e.to_string());
                }
            }
        }
        let view = teams.view.clone();
        self.emit(Event::Teams(view));
    }

    /// Ends the running sync (`how`: clearing our presence session or handing it over)
    /// and lifts a block it had set: a new sync decides afresh from its own readings.
    fn stop_teams(&mut self, how: ToSync) {
        let Some(teams) = &mut self.teams else {
            return;
        };
        if let Some(sync) = teams.sync.take() {
            sync.handle.send(how);
        }
        if teams.view.busy {
            teams.view.busy = false;
            teams.view.availability = None;
            teams.view.activity = None;
            self.agent.system_release(&NotReadyReason::TeamsBusy);
        }
    }

    /// `teams_start`, and new settings from the desktop: the sync starts again with the
    /// sign-in kept now.
    fn restart_teams(&mut self, settings: Option<TeamsSettings>) -> Result<(), CommandError> {
        let same_session = match (&self.settings.teams, &settings) {
            (Some(old), Some(new)) => old.graph.client_id == new.graph.client_id,
            _ => false,
        };
        self.stop_teams(if same_session {
            ToSync::Handover
        } else {
            ToSync::Stop
        });
        self.settings.teams = settings;
        if self.settings.teams.is_none() {
            if self.teams.take().is_some() {
                self.emit(Event::Teams(TeamsView {
                    sync: "off".into(),
                    ..TeamsView::default()
                }));
            }
            return Ok(());
        }
        self.start_teams();
        Ok(())
    }

    /// `teams_sign_out`: our presence session is cleared (by the sync, with the token it
    /// holds in memory) and the stored refresh token is removed at once.
    fn teams_sign_out(&mut self) -> Result<(), CommandError> {
        let settings = self.settings.teams.clone().ok_or_else(teams_off)?;
        let running = self.teams.as_mut().and_then(|t| t.sync.as_ref());
        let removed = crate::teams::forget_sign_in(&settings, running.map(|s| &s.handle))
            .map_err(|e| CommandError::new("teams_sign_out", e.to_string()))?;
        self.stop_teams(ToSync::Stop);
        if let Some(teams) = &mut self.teams {
            teams.view.sync = "signed_out".into();
            teams.view.reason = Some(if removed {
                SIGN_IN_HINT.into()
            } else {
                "signed out; the sign-in comes from an environment variable, which Parley cannot remove".into()
            });
            teams.view.directory = false;
            let view = teams.view.clone();
            self.emit(Event::Teams(view));
        }
        tracing::info!("signed out of Microsoft Teams");
        Ok(())
    }

    /// `colleagues`: the search runs on the sync's task; its answer reaches the caller
    /// when Graph has given it, without holding up the engine.
    fn colleagues(
        &mut self,
        query: String,
        id: Option<serde_json::Value>,
        reply: Option<oneshot::Sender<Result<Outcome, CommandError>>>,
    ) {
        let running = self
            .teams
            .as_ref()
            .filter(|t| t.view.directory)
            .and_then(|t| t.sync.as_ref());
        let Some(sync) = running else {
            let error = CommandError::new(
                "teams_directory",
                "the colleagues directory needs Teams sync signed in and teams.directory = true",
            );
            deliver(&self.events, id, reply, Err(error));
            return;
        };
        let (tx, answer) = oneshot::channel();
        sync.handle.send(ToSync::Colleagues { query, reply: tx });
        let events = self.events.clone();
        tokio::spawn(async move {
            let result = match answer.await {
                Ok(Ok(found)) => Ok(Outcome::Colleagues(found)),
                Ok(Err(failure)) => Err(directory_error(failure)),
                Err(_) => Err(CommandError::new(
                    "teams_directory",
                    "Teams sync stopped before the directory answered",
                )),
            };
            deliver(&events, id, reply, result);
        });
    }

    fn teams_report(&mut self, report: FromSync) {
        let Some(teams) = &mut self.teams else {
            return;
        };
        match report {
            FromSync::Stopped => {
                if let Some(sync) = &mut teams.sync {
                    sync.stopped = true;
                }
            }
            FromSync::Event(SyncEvent::Block { reading }) => {
                teams.view.busy = true;
                teams.view.availability = Some(reading.availability.name().to_owned());
                teams.view.activity = Some(reading.activity.name().to_owned());
                self.agent.system_block(NotReadyReason::TeamsBusy);
            }
            FromSync::Event(SyncEvent::Release) => {
                teams.view.busy = false;
                teams.view.availability = None;
                teams.view.activity = None;
                self.agent.system_release(&NotReadyReason::TeamsBusy);
            }
            FromSync::Event(SyncEvent::Status(status)) => match status {
                SyncStatus::Starting => teams.view.sync = "starting".into(),
                SyncStatus::Active => {
                    teams.view.sync = "active".into();
                    teams.view.reason = None;
                }
                SyncStatus::Unavailable { reason } => {
                    teams.view.sync = "unavailable".into();
                    teams.view.reason = Some(reason);
                }
            },
        }
        let view = teams.view.clone();
        self.emit(Event::Teams(view));
    }

    /// Tells the sync what the contact center is doing, when that changed: a call (two
    /// connected calls are a consult), wrap-up, or nothing.
    fn tell_teams(&mut self) {
        let connected = self
            .calls
            .values()
            .filter(|c| matches!(c.view.state.as_str(), "connected" | "held"))
            .count();
        let cc = match self.agent.state() {
            AgentState::OnCall if connected >= 2 => CcActivity::Conference,
            AgentState::OnCall => CcActivity::InCall,
            AgentState::Wrapup { .. } => CcActivity::Wrapup,
            _ => CcActivity::Idle,
        };
        if let Some(teams) = &mut self.teams {
            if teams.cc != cc {
                teams.cc = cc;
                if let Some(sync) = &teams.sync {
                    sync.handle.send(ToSync::Cc(cc));
                }
            }
        }
    }

    fn emit(&self, event: Event) {
        // Nobody listening any more is not an error: the agent winds down.
        let _ = self.events.send(event);
    }

    async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Request>) {
        let local = self
            .udp
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        tracing::info!(%local, aor = %self.settings.aor, "agent started");
        self.emit(Event::Started {
            version: env!("CARGO_PKG_VERSION").into(),
            local,
        });
        self.emit_agent_state();
        self.start_teams();
        self.resolve();
        let mut buf = vec![0u8; 65_535];
        loop {
            let wake = [
                self.ua.poll_timeout(),
                self.agent.poll_timeout(),
                self.quit_by,
            ]
            .into_iter()
            .flatten()
            .min();
            tokio::select! {
                request = commands.recv() => match request {
                    Some(r) => self.command(r).await,
                    None => self.quit(),
                },
                received = self.udp.recv_from(&mut buf) => match received {
                    Ok((n, from)) => {
                        crate::trace::message("received", from, &buf[..n]);
                        self.ua.handle_datagram(Instant::now(), Target { transport: TransportKind::Udp, addr: from }, &buf[..n]);
                    }
                    Err(e) => tracing::debug!(error = %e, "SIP UDP receive"),
                },
                Some(event) = self.stream_rx.recv() => self.stream_event(event),
                Some(report) = self.media_rx.recv() => self.media_report(report),
                Some(result) = self.resolve_rx.recv() => self.resolved(result),
                Some(report) = recv_teams(&mut self.teams) => self.teams_report(report),
                _ = sleep_until(wake) => {
                    let now = Instant::now();
                    self.ua.handle_timeout(now);
                    self.agent.handle_timeout(now);
                }
            }
            self.drain().await;
            if self.finished() {
                break;
            }
        }
        self.media.clear();
        tracing::info!("agent stopped");
        self.emit(Event::Stopped);
    }

    fn finished(&self) -> bool {
        let Some(deadline) = self.quit_by else {
            return false;
        };
        let unregistered = matches!(
            self.ua.registration_state(),
            RegistrationState::Unregistered | RegistrationState::Failed { .. }
        );
        let teams_done = self
            .teams
            .as_ref()
            .and_then(|t| t.sync.as_ref())
            .is_none_or(|s| s.stopped);
        (unregistered && self.ua.calls().count() == 0 && teams_done) || Instant::now() >= deadline
    }

    fn quit(&mut self) {
        if self.quit_by.is_none() {
            tracing::info!("quitting");
            self.ua.shutdown(Instant::now());
            if let Some(sync) = self.teams.as_ref().and_then(|t| t.sync.as_ref()) {
                sync.handle.send(ToSync::Stop);
            }
            self.quit_by = Some(Instant::now() + QUIT_GRACE);
        }
    }

    fn resolve(&mut self) {
        if self.resolving {
            return;
        }
        self.resolving = true;
        let resolver = self.resolver.clone();
        let uri = self.settings.next_hop.clone();
        let transport = self.settings.transport;
        let tx = self.resolve_tx.clone();
        tokio::spawn(async move {
            let _ = tx.send(resolver.resolve(&uri, transport).await);
        });
    }

    fn resolved(&mut self, result: Result<Vec<Target>, DnsError>) {
        self.resolving = false;
        let targets = match result {
            Ok(targets) => {
                tracing::info!(?targets, "SIP server located");
                targets
            }
            Err(e) => {
                self.emit(Event::Error {
                    code: "dns".into(),
                    message: e.to_string(),
                });
                Vec::new()
            }
        };
        self.ua.set_targets(Instant::now(), targets);
    }

    fn stream_event(&mut self, event: StreamEvent) {
        let now = Instant::now();
        match event {
            StreamEvent::Connected {
                target,
                local,
                writer,
            } => {
                tracing::info!(?target, %local, "connected");
                self.streams.insert(target, writer);
                self.local_ip = Some(local.ip());
                self.ua.handle_flow_ready(now, target, local);
            }
            StreamEvent::Message { target, bytes } => {
                crate::trace::message("received", target.addr, &bytes);
                self.ua.handle_datagram(now, target, &bytes);
            }
            StreamEvent::Pong { .. } => self.ua.handle_pong(),
            StreamEvent::Failed { target, reason } => {
                self.streams.remove(&target);
                // The user agent ignores failures of flows it no longer uses.
                self.ua.handle_flow_failed(now, target, &reason);
            }
        }
    }

    /// Parses both before changing either, so that a bad `output` leaves `source` alone.
    fn set_audio(
        &mut self,
        source: Option<String>,
        output: Option<String>,
    ) -> Result<(), CommandError> {
        let invalid =
            |e: &dyn std::fmt::Display| CommandError::new("invalid_command", e.to_string());
        let source = source
            .map(|s| s.parse::<audio_engine::SourceSpec>())
            .transpose()
            .map_err(|e| invalid(&e))?;
        let output = output
            .map(|o| o.parse::<audio_engine::device::OutputSpec>())
            .transpose()
            .map_err(|e| invalid(&e))?;
        for handle in self.media.values() {
            if let Some(source) = &source {
                handle.send(Control::Source(source.clone()));
            }
            if let Some(output) = &output {
                handle.send(Control::Output(output.clone()));
            }
        }
        if let Some(source) = source {
            self.settings.source = source;
        }
        if let Some(output) = output {
            self.settings.output = output;
        }
        Ok(())
    }

    fn media_report(&mut self, report: Report) {
        match report.event {
            MediaEvent::DtmfReceived { digit, .. } => self.emit(Event::Dtmf {
                call: report.call.to_string(),
                digit: digit.as_char().to_string(),
                method: "rfc4733".into(),
            }),
            MediaEvent::RecordingFailed { error } => self.emit(Event::Error {
                code: "recording".into(),
                message: format!("{}: {error}", report.call),
            }),
            MediaEvent::RemoteLatched { addr } => {
                tracing::debug!(call = %report.call, %addr, "RTP source latched")
            }
            MediaEvent::FirstPacketReceived => {
                tracing::debug!(call = %report.call, "first RTP packet")
            }
            MediaEvent::Device(notice) => self.emit(audio_device_event(report.call, notice)),
            MediaEvent::RtpInactive { silent_for } => self.emit(Event::MediaInactivity {
                call: report.call.to_string(),
                inactive: true,
                silent_ms: Some(u64::try_from(silent_for.as_millis()).unwrap_or(u64::MAX)),
            }),
            MediaEvent::RtpResumed => self.emit(Event::MediaInactivity {
                call: report.call.to_string(),
                inactive: false,
                silent_ms: None,
            }),
            MediaEvent::Quality(q) => {
                let round = |x: f64, places: i32| {
                    let scale = 10f64.powi(places);
                    (x * scale).round() / scale
                };
                tracing::debug!(call = %report.call, mos = q.mos, loss = q.loss, "call quality");
                self.emit(Event::CallQuality(CallQualityView {
                    call: report.call.to_string(),
                    codec: q.codec.name().into(),
                    jitter_ms: round(q.jitter_ms, 1),
                    loss_pct: round(q.loss * 100.0, 2),
                    late_pct: round(q.late * 100.0, 2),
                    concealed_pct: round(q.concealed * 100.0, 2),
                    buffer_ms: round(q.buffer_ms, 1),
                    target_ms: round(q.target_ms, 1),
                    send_kbps: round(q.send_kbps, 1),
                    receive_kbps: round(q.receive_kbps, 1),
                    rtt_ms: q.rtt_ms.map(|r| round(r, 1)),
                    one_way_ms: round(q.one_way_ms, 1),
                    mos: round(q.mos, 2),
                }));
            }
        }
    }

    /// Handles every output of the user agent and the agent machine until both are quiet.
    async fn drain(&mut self) {
        loop {
            let mut progressed = false;
            while let Some(output) = self.ua.poll_output() {
                progressed = true;
                self.output(output).await;
            }
            while let Some(state) = self.agent.poll_change() {
                progressed = true;
                self.emit_state(&state);
            }
            while let Some(action) = self.agent.poll_action() {
                progressed = true;
                match action {
                    AgentAction::DeclineMissed(call) => {
                        tracing::info!(%call, "offer missed");
                        let _ = self.ua.reject(Instant::now(), call, 480);
                    }
                }
            }
            self.ua.set_availability(self.agent.availability());
            self.tell_teams();
            if !progressed {
                break;
            }
        }
    }

    async fn output(&mut self, output: Output) {
        let now = Instant::now();
        match output {
            Output::Transmit(t) => {
                // Keep-alive pings are not SIP messages worth a log line.
                if !t.payload.starts_with(b"\r\n") {
                    crate::trace::message("sent", t.target.addr, &t.payload);
                }
                self.send(t).await;
            }
            Output::OpenFlow(target) => self.open_flow(now, target),
            Output::CloseFlow(target) => {
                self.streams.remove(&target);
            }
            Output::Resolve => self.resolve(),
            Output::Event(e) => self.ua_event(now, e).await,
        }
    }

    async fn send(&mut self, t: parley_core::sip::transaction::Transmit) {
        match t.target.transport {
            TransportKind::Udp => {
                if let Err(e) = self.udp.send_to(&t.payload, t.target.addr).await {
                    tracing::debug!(error = %e, to = %t.target.addr, "SIP UDP send");
                }
            }
            _ => match self.streams.get(&t.target) {
                Some(writer) => {
                    let _ = writer.send(t.payload);
                }
                None => tracing::debug!(target = ?t.target, "no connection for a message"),
            },
        }
    }

    fn open_flow(&mut self, now: Instant, target: Target) {
        if target.transport == TransportKind::Udp {
            match udp_local_address(&self.udp, target.addr) {
                Ok(local) => {
                    self.local_ip = Some(local.ip());
                    self.ua.handle_flow_ready(now, target, local);
                }
                Err(e) => self.ua.handle_flow_failed(now, target, &e.to_string()),
            }
            return;
        }
        let tls = match (target.transport, &self.tls) {
            (TransportKind::Tls, Some(connector)) => {
                match transport::server_name(&self.settings.next_hop.host.to_string()) {
                    Ok(name) => Some((connector.clone(), name)),
                    Err(e) => {
                        self.ua.handle_flow_failed(now, target, &e);
                        return;
                    }
                }
            }
            _ => None,
        };
        transport::connect(target, tls, self.stream_tx.clone());
    }

    // ---- user-agent events ------------------------------------------------------------

    async fn ua_event(&mut self, now: Instant, event: UaEvent) {
        match event {
            UaEvent::Connected { server, local } => {
                self.connection = Some(true);
                self.emit(Event::Connection {
                    state: "up".into(),
                    server: format!("{}:{}", server.transport, server.addr),
                    local: Some(local.to_string()),
                    reason: None,
                })
            }
            UaEvent::Disconnected { server, reason } => {
                self.connection = Some(false);
                self.emit(Event::Connection {
                    state: "down".into(),
                    server: format!("{}:{}", server.transport, server.addr),
                    local: None,
                    reason: Some(reason),
                })
            }
            UaEvent::Registration(state) => self.registration(&state),
            UaEvent::IncomingCall(call) => self.incoming(now, call).await,
            UaEvent::CallState { call, state } => self.call_state(now, call, state),
            UaEvent::Media {
                call,
                media: Some(m),
            } => self.media_started(call, &m),
            UaEvent::Media { call, media: None } => {
                self.media.remove(&call);
            }
            UaEvent::Dtmf { call, digit, .. } => self.emit(Event::Dtmf {
                call: call.to_string(),
                digit: digit.to_string(),
                method: "info".into(),
            }),
            UaEvent::Transfer { call, state, code } => self.emit(Event::Transfer {
                call: call.to_string(),
                state: match state {
                    TransferState::Trying => "trying",
                    TransferState::Accepted => "accepted",
                    TransferState::Succeeded => "succeeded",
                    TransferState::Failed => "failed",
                }
                .into(),
                code,
            }),
            UaEvent::TransferRequested {
                call,
                target,
                replaces,
            } => {
                let options = DialOptions {
                    referred_by: Some(call),
                    replaces,
                    ..DialOptions::default()
                };
                if let Err(e) = self.dial(&target.to_string(), options).await {
                    tracing::warn!(%call, error = %e, "transfer not carried out");
                    let _ = self
                        .ua
                        .transfer_outcome(now, call, 503, "Service Unavailable");
                }
            }
            UaEvent::Deflected { from, reason, code } => {
                let teams_busy = self.agent.state().reason() == Some(&NotReadyReason::TeamsBusy);
                let reason = match reason {
                    DeflectReason::Busy => "busy",
                    DeflectReason::NotReady if teams_busy => "teams_busy",
                    DeflectReason::NotReady => "not_ready",
                    DeflectReason::UntrustedSource => "untrusted_source",
                };
                self.emit(Event::CallDeflected {
                    from,
                    reason: reason.into(),
                    code,
                });
                if let (Some(teams), "teams_busy") = (&mut self.teams, reason) {
                    teams.view.deflected += 1;
                    let view = teams.view.clone();
                    self.emit(Event::Teams(view));
                }
            }
        }
    }

    fn registration(&mut self, state: &RegistrationState) {
        let name = registration_name(state);
        let (reason, code, expires, retry_in) = match state {
            RegistrationState::Registered { expires } => (None, None, Some(*expires), None),
            RegistrationState::Failed {
                code,
                reason,
                retry_in,
            } => (
                Some(reason.clone()),
                *code,
                None,
                retry_in.map(|d| d.as_secs_f64()),
            ),
            _ => (None, None, None, None),
        };
        tracing::info!(
            state = name,
            reason = reason.as_deref().unwrap_or(""),
            "registration"
        );
        match state {
            RegistrationState::Registered { .. } => {
                self.agent.system_release(&NotReadyReason::NetworkLost)
            }
            RegistrationState::Failed { .. } => {
                self.agent.system_block(NotReadyReason::NetworkLost)
            }
            _ => {}
        }
        self.emit(Event::Registration {
            state: name.into(),
            reason,
            code,
            expires,
            retry_in,
        });
    }

    async fn incoming(&mut self, now: Instant, call: IncomingCall) {
        let handle = call.call;
        let view = CallView {
            call: handle.to_string(),
            direction: "inbound".into(),
            remote: call.from.clone(),
            remote_name: call.from_name.clone(),
            remote_user: call.from_user.clone(),
            headers: call.headers.iter().cloned().collect(),
            state: "offered".into(),
            started_at: now_ms(),
            ..CallView::default()
        };
        self.track(handle, view);
        self.agent.call_offered(now, handle);
        let replaces = call.replaces;
        self.emit(Event::IncomingCall {
            call: handle.to_string(),
            from: call.from,
            from_name: call.from_name,
            from_user: call.from_user,
            to: call.to,
            sip_call_id: call.sip_call_id,
            headers: call.headers.into_iter().collect(),
            replaces: replaces.map(|r| r.to_string()),
        });
        // A call that replaces one of ours (attended transfer to us) is answered at once,
        // as is every call when the agent chose auto-answer.
        if replaces.is_some() || self.settings.auto_answer {
            if let Err(e) = self.answer(handle).await {
                tracing::warn!(call = %handle, error = %e, "auto-answer failed");
            }
        }
    }

    fn call_state(&mut self, now: Instant, call: CallHandle, state: CallState) {
        let (name, held_by, reason, code) = match &state {
            CallState::Offered => ("offered", None, None, None),
            CallState::Dialing => ("dialing", None, None, None),
            CallState::Ringing => ("ringing", None, None, None),
            CallState::EarlyMedia => ("early_media", None, None, None),
            CallState::Connecting => ("connecting", None, None, None),
            CallState::Connected => ("connected", None, None, None),
            CallState::Held(by) => (
                "held",
                Some(match by {
                    HeldBy::Local => "local",
                    HeldBy::Remote => "remote",
                    HeldBy::Both => "both",
                }),
                None,
                None,
            ),
            CallState::Ended { reason, code, .. } => {
                ("ended", None, Some(end_reason(*reason)), *code)
            }
        };
        let span = tracing::info_span!("call", %call);
        let _guard = span.enter();
        tracing::info!(state = name, "call state");
        // Every call is tracked from its offer or dial; an unknown one gets no view.
        let (talked, record, first_talk) = match self.calls.get_mut(&call) {
            Some(info) => {
                info.view.state = name.into();
                info.view.held_by = held_by.map(str::to_owned);
                if matches!(state, CallState::Connected) && info.view.connected_at.is_none() {
                    info.view.connected_at = Some(now_ms());
                }
                let first_talk =
                    !info.talked && matches!(state, CallState::Connected | CallState::Held(_));
                info.talked |= first_talk;
                (info.talked, info.record, first_talk)
            }
            None => (false, None, false),
        };
        if let (true, Some(id)) = (first_talk, record) {
            self.record(|s| s.answered(id));
        }
        if let CallState::Ended { reason, .. } = state {
            if let Some(id) = record {
                self.record(|s| s.ended(id, end_reason(reason)));
            }
            self.calls.remove(&call);
            self.media.remove(&call);
            self.sockets.remove(&call);
            self.agent.call_ended(now, call, talked);
        }
        self.emit(Event::CallState {
            call: call.to_string(),
            state: name.into(),
            held_by: held_by.map(str::to_owned),
            reason: reason.map(str::to_owned),
            code,
        });
    }

    fn media_started(&mut self, call: CallHandle, m: &parley_core::sdp::NegotiatedMedia) {
        if let Some(info) = self.calls.get_mut(&call) {
            info.telephone_event = m.telephone_event_pt.is_some();
            info.view.codec = Some(m.codec.name.clone());
        }
        let direction = m.direction.as_str().to_owned();
        if let Some(handle) = self.media.get(&call) {
            handle.send(Control::Update(m.clone()));
        } else if let Some(socket) = self.sockets.remove(&call) {
            let recording = self
                .settings
                .record_dir
                .as_ref()
                .map(|dir| dir.join(format!("{}-{}.wav", call, now_ms())));
            let audio = media::Audio {
                source: &self.settings.source,
                output: &self.settings.output,
                recording,
                rtp_timeout: self.settings.rtp_timeout,
            };
            match media::start(call, socket, m, audio, self.media_tx.clone()) {
                Ok(handle) => {
                    self.media.insert(call, handle);
                }
                Err(e) => {
                    self.emit(Event::Error {
                        code: "media".into(),
                        message: format!("{call}: {e}"),
                    });
                    return;
                }
            }
        }
        let handle = self.media.get(&call);
        let local = match (self.local_ip, handle) {
            (Some(ip), Some(h)) => SocketAddr::new(ip, h.port).to_string(),
            _ => String::new(),
        };
        let recorded = handle.is_some_and(|h| h.recording.is_some());
        if let Some(info) = self.calls.get_mut(&call) {
            info.view.recorded = recorded;
        }
        let handle = self.media.get(&call);
        self.emit(Event::Media {
            call: call.to_string(),
            codec: m.codec.name.clone(),
            local,
            remote: m.remote.to_string(),
            direction,
            recording: handle
                .and_then(|h| h.recording.as_ref())
                .map(|p| p.display().to_string()),
            srtp: m.srtp.as_ref().map(|k| k.suite.name().to_owned()),
        });
    }

    // ---- commands ---------------------------------------------------------------------

    async fn command(&mut self, request: Request) {
        if let Command::Colleagues { query } = request.command {
            self.colleagues(query, request.id, request.reply);
            return;
        }
        let result = self.execute(request.command).await;
        deliver(&self.events, request.id, request.reply, result);
    }

    async fn execute(&mut self, command: Command) -> Result<Outcome, CommandError> {
        let now = Instant::now();
        match command {
            Command::Register => self.ua.register(now),
            Command::Unregister => self.ua.unregister(now),
            Command::Dial { to, headers } => {
                let options = DialOptions {
                    headers: headers.into_iter().collect(),
                    ..DialOptions::default()
                };
                let call = self.dial(&to, options).await?;
                return Ok(Outcome::Call(call.to_string()));
            }
            Command::Answer { call } => {
                let call = parse_call(&call)?;
                self.answer(call).await?;
            }
            Command::Reject { call, code } => self
                .ua
                .reject(now, parse_call(&call)?, code)
                .map_err(ua_error)?,
            Command::Hangup { call } => {
                self.ua.hangup(now, parse_call(&call)?).map_err(ua_error)?
            }
            Command::Hold { call } => self.ua.hold(now, parse_call(&call)?).map_err(ua_error)?,
            Command::Resume { call } => {
                self.ua.resume(now, parse_call(&call)?).map_err(ua_error)?
            }
            Command::Transfer { call, to } => self
                .ua
                .transfer(now, parse_call(&call)?, &to)
                .map_err(ua_error)?,
            Command::TransferAttended { call, consult } => self
                .ua
                .transfer_attended(now, parse_call(&call)?, parse_call(&consult)?)
                .map_err(ua_error)?,
            Command::Dtmf { call, digits } => self.dtmf(now, parse_call(&call)?, &digits)?,
            Command::Mute { call, muted } => {
                let call = parse_call(&call)?;
                self.media_of(call)?.send(Control::Mute(muted));
                if let Some(info) = self.calls.get_mut(&call) {
                    info.view.muted = muted;
                }
            }
            Command::PauseRecording { call, paused } => {
                let call = parse_call(&call)?;
                let handle = self.media_of(call)?;
                if handle.recording.is_none() {
                    return Err(CommandError::new(
                        "not_recording",
                        format!("{call} is not recorded (media.record_dir is not set)"),
                    ));
                }
                handle.send(Control::PauseRecording(paused));
                if let Some(info) = self.calls.get_mut(&call) {
                    info.view.recording_paused = paused;
                }
                tracing::info!(%call, paused, "recording");
                self.emit(Event::Recording {
                    call: call.to_string(),
                    paused,
                });
            }
            Command::SetState { state, reason } => {
                let state = match state {
                    RequestedState::Ready => AgentState::Ready,
                    RequestedState::Offline => AgentState::Offline,
                    RequestedState::NotReady => AgentState::NotReady(NotReadyReason::Agent(
                        reason.unwrap_or_else(|| "not ready".into()),
                    )),
                };
                self.agent
                    .set_state(state)
                    .map_err(|e| CommandError::new("agent_state", e.to_string()))?;
            }
            Command::SetAudio { source, output } => self.set_audio(source, output)?,
            Command::Status => return Ok(Outcome::Status(Box::new(self.status()))),
            Command::TeamsStart => {
                let settings = self.settings.teams.clone().ok_or_else(teams_off)?;
                self.restart_teams(Some(settings))?;
            }
            Command::TeamsSettings(settings) => self.restart_teams(*settings)?,
            Command::TeamsSignOut => self.teams_sign_out()?,
            // Answered in `command`, off the engine's path.
            Command::Colleagues { .. } => {}
            Command::Quit => self.quit(),
        }
        Ok(Outcome::Done)
    }

    fn status(&self) -> Status {
        let mut calls: Vec<CallView> = self.calls.values().map(|c| c.view.clone()).collect();
        calls.sort_by_key(|c| c.started_at);
        Status {
            registration: registration_name(self.ua.registration_state()).into(),
            registration_reason: match self.ua.registration_state() {
                RegistrationState::Failed { reason, .. } => Some(reason.clone()),
                _ => None,
            },
            agent_state: self.agent.state().name().into(),
            agent_reason: self.agent.state().reason().map(|r| r.code().to_owned()),
            connection: self
                .connection
                .map(|up| if up { "up" } else { "down" }.to_owned()),
            calls,
            teams: self.teams.as_ref().map(|t| t.view.clone()),
        }
    }

    /// The media task of a call, or why there is none.
    fn media_of(&self, call: CallHandle) -> Result<&MediaHandle, CommandError> {
        self.media.get(&call).ok_or(CommandError::new(
            "invalid_state",
            format!("{call} has no media"),
        ))
    }

    async fn bind_media(&mut self) -> Result<(MediaSocket, SocketAddr), CommandError> {
        let ip = self.local_ip.ok_or(CommandError::new(
            "not_connected",
            "not connected to the SIP server yet".to_owned(),
        ))?;
        let socket = media::bind(&self.settings.rtp_ports)
            .await
            .map_err(|e| CommandError::new("media", e.to_string()))?;
        let local = SocketAddr::new(ip, socket.port);
        Ok((socket, local))
    }

    async fn dial(&mut self, to: &str, options: DialOptions) -> Result<CallHandle, CommandError> {
        let (socket, local) = self.bind_media().await?;
        let call = self
            .ua
            .dial(Instant::now(), to, local, options)
            .map_err(ua_error)?;
        self.sockets.insert(call, socket);
        self.track(
            call,
            CallView {
                call: call.to_string(),
                direction: "outbound".into(),
                remote: to.to_owned(),
                // The number or user to show and call back: a SIP address's user part.
                remote_user: match to.parse::<parley_core::sip::uri::SipUri>() {
                    Ok(uri) if to.contains(':') => uri.user,
                    _ => Some(to.to_owned()),
                },
                state: "dialing".into(),
                started_at: now_ms(),
                ..CallView::default()
            },
        );
        self.agent.call_dialed(call);
        self.emit(Event::OutgoingCall {
            call: call.to_string(),
            to: to.to_owned(),
        });
        Ok(call)
    }

    async fn answer(&mut self, call: CallHandle) -> Result<(), CommandError> {
        let (socket, local) = self.bind_media().await?;
        self.ua
            .answer(Instant::now(), call, local)
            .map_err(ua_error)?;
        self.sockets.insert(call, socket);
        self.agent.call_answered(call);
        Ok(())
    }

    /// DTMF in the media (RFC 4733) when negotiated and allowed, else by SIP INFO.
    fn dtmf(&mut self, now: Instant, call: CallHandle, digits: &str) -> Result<(), CommandError> {
        let parsed = digits
            .chars()
            .map(|c| {
                DtmfDigit::try_from(c).map_err(|_| {
                    CommandError::new("invalid_command", format!("{c:?} is not a DTMF digit"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let negotiated = self.calls.get(&call).is_some_and(|c| c.telephone_event);
        let in_media = match self.settings.dtmf {
            DtmfMode::Info => false,
            DtmfMode::Rfc4733 => true,
            DtmfMode::Auto => negotiated,
        };
        match (in_media, self.media.get(&call)) {
            (true, Some(handle)) if negotiated => {
                for d in parsed {
                    handle.send(Control::Dtmf(d));
                }
                Ok(())
            }
            (true, _) => Err(CommandError::new(
                "invalid_state",
                format!("{call}: RFC 4733 events were not negotiated"),
            )),
            (false, _) => self.ua.send_dtmf_info(now, call, digits).map_err(ua_error),
        }
    }

    /// Follows a new call, and writes it to the history.
    fn track(&mut self, call: CallHandle, view: CallView) {
        let record = self.record(|s| s.started(&view));
        self.calls.insert(
            call,
            CallInfo {
                record,
                view,
                ..CallInfo::default()
            },
        );
    }

    /// Writes to the call history, if one is kept; a failure is reported, and the call goes
    /// on.
    fn record<T>(&self, write: impl FnOnce(&Store) -> Result<T, StoreError>) -> Option<T> {
        let store = self.store.as_ref()?;
        match write(store) {
            Ok(v) => Some(v),
            Err(e) => {
                self.emit(Event::Error {
                    code: "history".into(),
                    message: e.to_string(),
                });
                None
            }
        }
    }

    fn emit_agent_state(&mut self) {
        let state = self.agent.state().clone();
        self.emit_state(&state);
    }

    fn emit_state(&self, state: &AgentState) {
        self.emit(Event::AgentState {
            state: state.name().into(),
            reason: state.reason().map(|r| r.code().to_owned()),
        });
    }
}

fn parse_call(s: &str) -> Result<CallHandle, CommandError> {
    s.parse()
        .map_err(|_| CommandError::new("unknown_call", format!("{s:?} is not a call id (like c1)")))
}

fn ua_error(e: UaCommandError) -> CommandError {
    let code = match e {
        UaCommandError::UnknownCall(_) => "unknown_call",
        UaCommandError::InvalidState(_) => "invalid_state",
        UaCommandError::NoFlow => "not_connected",
        UaCommandError::InvalidTarget(_) => "invalid_target",
        UaCommandError::Build(_) => "invalid_command",
    };
    CommandError::new(code, e.to_string())
}

fn end_reason(r: EndReason) -> &'static str {
    match r {
        EndReason::LocalHangup => "local_hangup",
        EndReason::RemoteHangup => "remote_hangup",
        EndReason::CallerCancelled => "caller_cancelled",
        EndReason::Declined => "declined",
        EndReason::Rejected => "rejected",
        EndReason::Failed => "failed",
        EndReason::Transferred => "transferred",
        EndReason::Replaced => "replaced",
        EndReason::SessionExpired => "session_expired",
    }
}

fn registration_name(state: &RegistrationState) -> &'static str {
    match state {
        RegistrationState::Unregistered => "unregistered",
        RegistrationState::Registering => "registering",
        RegistrationState::Registered { .. } => "registered",
        RegistrationState::Unregistering => "unregistering",
        RegistrationState::Failed { .. } => "failed",
    }
}

/// Our address towards `peer` on the UDP socket: its own IP if bound to one, else the IP
/// the OS routes `peer` from (found with a connected throw-away socket; nothing is sent).
fn udp_local_address(udp: &UdpSocket, peer: SocketAddr) -> std::io::Result<SocketAddr> {
    let bound = udp.local_addr()?;
    if !bound.ip().is_unspecified() {
        return Ok(bound);
    }
    let probe = std::net::UdpSocket::bind(SocketAddr::new(bound.ip(), 0))?;
    probe.connect(peer)?;
    Ok(SocketAddr::new(probe.local_addr()?.ip(), bound.port()))
}

/// The `audio_device` event of a device notice.
fn audio_device_event(call: CallHandle, notice: DeviceNotice) -> Event {
    let call = call.to_string();
    match notice {
        DeviceNotice::Lost {
            direction,
            device,
            name,
        } => Event::AudioDevice {
            call,
            direction: direction.to_string(),
            state: "lost".into(),
            device,
            name,
            fell_back: false,
        },
        DeviceNotice::Switched {
            direction,
            device,
            fell_back,
        } => Event::AudioDevice {
            call,
            direction: direction.to_string(),
            state: "switched".into(),
            device: device.id,
            name: Some(device.name),
            fell_back,
        },
    }
}

/// The next report of the Teams sync; never, without one.
async fn recv_teams(teams: &mut Option<Teams>) -> Option<FromSync> {
    match teams.as_mut().and_then(|t| t.sync.as_mut()) {
        Some(s) if !s.stopped => s.reports.recv().await,
        _ => std::future::pending().await,
    }
}

fn teams_off() -> CommandError {
    CommandError::new(
        "teams_off",
        "Teams presence sync is not configured ([teams] enabled = true)",
    )
}

/// A failed directory search, said so that the agent knows whether to wait or whom to ask.
fn directory_error(failure: Failure) -> CommandError {
    let message = match failure {
        Failure::Throttled { retry_after } => format!(
            "Microsoft Graph asks to slow down; search again in {} s",
            retry_after.map_or(30, |d| d.as_secs())
        ),
        Failure::Unavailable { reason } | Failure::Denied { reason } => reason,
    };
    CommandError::new("teams_directory", message)
}

/// Gives a command's result to whoever waits for it: the desktop's reply channel, or a
/// `result` event (and a `status` event for `status`) for the headless protocol.
fn deliver(
    events: &mpsc::UnboundedSender<Event>,
    id: Option<serde_json::Value>,
    reply: Option<oneshot::Sender<Result<Outcome, CommandError>>>,
    result: Result<Outcome, CommandError>,
) {
    if let Some(reply) = reply {
        let _ = reply.send(result);
        return;
    }
    let event = match result {
        Ok(outcome) => {
            let mut call = None;
            let mut colleagues = None;
            match outcome {
                Outcome::Done => {}
                Outcome::Call(c) => call = Some(c),
                Outcome::Status(status) => {
                    let _ = events.send(Event::Status(*status));
                }
                Outcome::Colleagues(found) => colleagues = Some(found),
            }
            Event::Result {
                id,
                ok: true,
                call,
                error: None,
                message: None,
                colleagues,
            }
        }
        Err(CommandError { code, message }) => Event::Result {
            id,
            ok: false,
            call: None,
            error: Some(code),
            message: Some(message),
            colleagues: None,
        },
    };
    let _ = events.send(event);
}
