//! The demo contact center (DESIGN §8): a small simulated platform on loopback that accepts
//! Parley's registration and offers calls from sample customers, with caller data headers
//! and speech, answers the agent's own calls, and plays along with holds and transfers.
//! It runs the same SIP core as the agent, plus a minimal registrar.
//!
//! It is driven by timers (a call every `offer_interval` while the agent is registered and
//! idle) and by [`DemoCommand`]s through its [`DemoHandle`]; it reports [`DemoEvent`]s. The
//! desktop app embeds it; `parley-cli demo-peer` runs it with JSON lines on stdin and stdout
//! (`{"cmd":"offer","customer":"C-1002"}`, `{"cmd":"hangup"}`, `{"cmd":"quit"}`).

use crate::clock::sleep_until;
use crate::media::{self, MediaHandle, Report};
use audio_engine::device::OutputSpec;
use audio_engine::SourceSpec;
use parley_core::sdp::{MediaConfig, NegotiatedMedia};
use parley_core::sip::builder;
use parley_core::sip::codec::{decode, encode_response};
use parley_core::sip::header::make;
use parley_core::sip::message::{Message, Method, Request};
use parley_core::sip::name_addr::NameAddr;
use parley_core::sip::registration::RegistrationConfig;
use parley_core::sip::target::{Target, TransportKind};
use parley_core::sip::transaction::Timers;
use parley_core::sip::ua::{
    CallHandle, CallState, DialOptions, Output, PrackMode, UaConfig, UaEvent, UserAgent,
};
use parley_core::sip::uri::SipUri;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

/// A sample customer (assets/demo/customers.json).
#[derive(Debug, Clone, Deserialize)]
pub struct Customer {
    pub id: String,
    pub name: String,
    pub number: String,
    pub company: String,
    pub tier: String,
    pub language: String,
    pub reason: String,
    pub queue: String,
    /// Speech file in assets/demo/audio, played to the agent.
    pub audio: String,
}

/// How the demo behaves.
#[derive(Debug, Clone)]
pub struct DemoConfig {
    pub listen: SocketAddr,
    /// Offer a call this long after the agent is registered and idle; zero: only on command.
    pub offer_interval: Duration,
    /// A connected demo caller hangs up after this long (the agent usually ends first).
    pub talk_time: Duration,
    /// How long calls the agent places ring before the demo answers.
    pub answer_delay: Duration,
    pub assets: PathBuf,
    pub rtp_ports: std::ops::RangeInclusive<u16>,
}

/// Why the demo could not start.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("cannot listen on {0}: {1}")]
    Listen(SocketAddr, std::io::Error),
    #[error("demo customers {0}: {1}")]
    Customers(String, String),
}

/// Finds the assets directory: `PARLEY_ASSETS`, next to a development build, an installed
/// share directory, or the working directory.
pub fn find_assets() -> PathBuf {
    if let Some(dir) = std::env::var_os("PARLEY_ASSETS") {
        return dir.into();
    }
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(PathBuf::from));
    let candidates = exe_dir
        .iter()
        .flat_map(|d| {
            [
                d.join("../../assets"),
                d.join("../share/parley/assets"),
                d.join("assets"),
            ]
        })
        .chain([PathBuf::from("assets")]);
    for c in candidates {
        if c.join("demo/customers.json").is_file() {
            return c;
        }
    }
    PathBuf::from("assets")
}

pub fn load_customers(assets: &std::path::Path) -> Result<Vec<Customer>, DemoError> {
    let path = assets.join("demo/customers.json");
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(&path)
        .map_err(|e| DemoError::Customers(shown.clone(), e.to_string()))?;
    let customers: Vec<Customer> = serde_json::from_str(&text)
        .map_err(|e| DemoError::Customers(shown.clone(), e.to_string()))?;
    if customers.is_empty() {
        return Err(DemoError::Customers(shown, "no customers".into()));
    }
    Ok(customers)
}

/// What the demo is asked to do.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case", deny_unknown_fields)]
pub enum DemoCommand {
    /// Call the agent now, as the given customer or the next one in turn.
    Offer { customer: Option<String> },
    /// End every demo call.
    Hangup,
    /// End the calls and stop.
    Quit,
}

/// What the demo did, for a log the user can follow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(tag = "event", rename_all = "snake_case")]
#[ts(rename = "DemoEvent")]
pub enum DemoEvent {
    Registered { contact: String, expires: u32 },
    Unregistered,
    Offered { call: String, customer: String },
    CallState { call: String, state: String },
    Transfer { call: String, target: String },
    Dtmf { call: String, digit: String },
    Error { message: String },
}

/// The agent's registered contact.
#[derive(Debug, Clone)]
struct Binding {
    contact: SipUri,
    source: SocketAddr,
}

struct Demo {
    config: DemoConfig,
    customers: Vec<Customer>,
    next_customer: usize,
    ua: UserAgent,
    udp: UdpSocket,
    binding: Option<Binding>,
    sockets: HashMap<CallHandle, media::MediaSocket>,
    media: HashMap<CallHandle, MediaHandle>,
    sources: HashMap<CallHandle, SourceSpec>,
    /// Timed actions: answer the agent's call, hang up, offer the next call, complete a
    /// transfer.
    timers: Vec<(Instant, Action)>,
    media_tx: mpsc::UnboundedSender<Report>,
    out: mpsc::UnboundedSender<DemoEvent>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Answer(CallHandle),
    Hangup(CallHandle),
    Offer,
    CompleteTransfer(CallHandle),
}

/// The running demo contact center.
#[derive(Debug)]
pub struct DemoHandle {
    /// Where it listens: the agent's registrar and outbound proxy.
    pub address: SocketAddr,
    /// Who it calls as.
    pub customers: Vec<Customer>,
    pub commands: mpsc::UnboundedSender<DemoCommand>,
    /// Ends when the demo has stopped.
    pub events: mpsc::UnboundedReceiver<DemoEvent>,
}

/// Starts the demo contact center; it runs until [`DemoCommand::Quit`] or until every
/// command sender is dropped.
pub async fn start(config: DemoConfig) -> Result<DemoHandle, DemoError> {
    let customers = load_customers(&config.assets)?;
    let udp = UdpSocket::bind(config.listen)
        .await
        .map_err(|e| DemoError::Listen(config.listen, e))?;
    let local = udp
        .local_addr()
        .map_err(|e| DemoError::Listen(config.listen, e))?;
    let ua_config = UaConfig {
        aor: format!("sip:contact-center@{}", local.ip())
            .parse()
            .expect("an IP host makes a valid SIP URI"),
        display_name: Some("Parley Demo Contact Center".into()),
        credentials: None,
        registrar: format!("sip:{local}")
            .parse()
            .expect("an IP host makes a valid SIP URI"),
        outbound_proxy: None,
        registration: RegistrationConfig {
            expires: 600,
            retry_base: Duration::from_secs(1),
            retry_max: Duration::from_secs(10),
        },
        register_on_start: false,
        trusted: vec![
            "127.0.0.0/8".parse().expect("valid network"),
            "::1".parse().expect("valid address"),
        ],
        call_waiting: true,
        session_expires: None,
        min_se: 90,
        prack: PrackMode::Supported,
        user_agent: format!("Parley-Demo/{}", env!("CARGO_PKG_VERSION")),
        timers: Timers::default(),
        media: MediaConfig::default(),
        keepalive: None,
    };
    let (media_tx, media_rx) = mpsc::unbounded_channel();
    let (out_tx, out_rx) = mpsc::unbounded_channel::<DemoEvent>();
    let (cmd_tx, cmd_rx) = mpsc::unbounded_channel::<DemoCommand>();
    let demo = Demo {
        ua: UserAgent::new(ua_config, rand::random()),
        config,
        customers: customers.clone(),
        next_customer: 0,
        udp,
        binding: None,
        sockets: HashMap::new(),
        media: HashMap::new(),
        sources: HashMap::new(),
        timers: Vec::new(),
        media_tx,
        out: out_tx,
    };
    tracing::info!(%local, "demo contact center listening");
    tokio::spawn(demo.run(cmd_rx, media_rx));
    Ok(DemoHandle {
        address: local,
        customers,
        commands: cmd_tx,
        events: out_rx,
    })
}

impl Demo {
    async fn run(
        mut self,
        mut commands: mpsc::UnboundedReceiver<DemoCommand>,
        mut media_rx: mpsc::UnboundedReceiver<Report>,
    ) {
        let mut buf = vec![0u8; 65_535];
        loop {
            let wake = self
                .timers
                .iter()
                .map(|(t, _)| *t)
                .chain(self.ua.poll_timeout())
                .min();
            tokio::select! {
                received = self.udp.recv_from(&mut buf) => if let Ok((n, from)) = received {
                    self.datagram(from, &buf[..n]).await;
                },
                command = commands.recv() => match command {
                    Some(command) => if self.command(command).await { break },
                    None => break,
                },
                Some(report) = media_rx.recv() => if let audio_engine::MediaEvent::DtmfReceived { digit, .. } = report.event {
                    self.emit(DemoEvent::Dtmf { call: report.call.to_string(), digit: digit.as_char().to_string() });
                },
                _ = sleep_until(wake) => self.timeout().await,
            }
            self.drain().await;
        }
        self.ua.shutdown(Instant::now());
        self.drain().await;
        tracing::info!("demo contact center stopped");
    }

    fn emit(&self, event: DemoEvent) {
        let _ = self.out.send(event);
    }

    /// Carries out a command; true when it asks the demo to stop.
    async fn command(&mut self, command: DemoCommand) -> bool {
        match command {
            DemoCommand::Offer { customer } => self.offer(customer.as_deref()).await,
            DemoCommand::Hangup => {
                let calls: Vec<CallHandle> = self.ua.calls().map(|(h, _)| h).collect();
                for call in calls {
                    let _ = self.ua.hangup(Instant::now(), call);
                }
            }
            DemoCommand::Quit => return true,
        }
        false
    }

    /// REGISTER goes to the registrar; everything else to the user agent.
    async fn datagram(&mut self, from: SocketAddr, bytes: &[u8]) {
        if let Ok(Message::Request(req)) = decode(bytes) {
            if req.method() == Method::Register {
                self.register(from, &req).await;
                return;
            }
        }
        self.ua.handle_datagram(
            Instant::now(),
            Target {
                transport: TransportKind::Udp,
                addr: from,
            },
            bytes,
        );
    }

    /// A registrar that accepts anyone on loopback (RFC 3261 §10.3, without authentication:
    /// the demo has no accounts).
    async fn register(&mut self, from: SocketAddr, req: &Request) {
        let contact = req.contact();
        let expires: u32 = contact
            .as_ref()
            .and_then(|c| c.param("expires").and_then(|e| e.parse().ok()))
            .or_else(|| req.header("Expires").and_then(|e| e.trim().parse().ok()))
            .unwrap_or(600)
            .min(3600);
        let mut extra = Vec::new();
        match contact.as_ref().and_then(|c| c.uri.as_sip().cloned()) {
            Some(uri) if expires > 0 => {
                let mut c = NameAddr::new(None, uri.clone());
                c.set_param("expires", Some(&expires.to_string()));
                extra.push(make("Contact", c.to_string()));
                let new = self.binding.as_ref().is_none_or(|b| b.contact != uri);
                self.binding = Some(Binding {
                    contact: uri.clone(),
                    source: from,
                });
                self.ua.set_targets(
                    Instant::now(),
                    vec![Target {
                        transport: TransportKind::Udp,
                        addr: from,
                    }],
                );
                if new {
                    self.emit(DemoEvent::Registered {
                        contact: uri.to_string(),
                        expires,
                    });
                    self.schedule_offer();
                }
            }
            _ => {
                self.binding = None;
                self.timers.retain(|(_, a)| *a != Action::Offer);
                self.emit(DemoEvent::Unregistered);
            }
        }
        let mut vias = req.clone();
        vias.common.vias[0].stamp_source(from);
        let resp = builder::finish_response(
            builder::response(&vias, 200, None, Some("demo")),
            extra,
            None,
        );
        let to = vias.top_via().response_address(from);
        let _ = self.udp.send_to(&encode_response(&resp), to).await;
    }

    fn schedule_offer(&mut self) {
        if !self.config.offer_interval.is_zero()
            && !self.timers.iter().any(|(_, a)| *a == Action::Offer)
        {
            self.timers
                .push((Instant::now() + self.config.offer_interval, Action::Offer));
        }
    }

    async fn offer(&mut self, customer: Option<&str>) {
        let Some(binding) = self.binding.clone() else {
            self.emit(DemoEvent::Error {
                message: "no agent is registered".into(),
            });
            return;
        };
        let index = match customer {
            Some(id) => match self.customers.iter().position(|c| c.id == id) {
                Some(i) => i,
                None => {
                    self.emit(DemoEvent::Error {
                        message: format!("no customer {id}"),
                    });
                    return;
                }
            },
            None => {
                self.next_customer = (self.next_customer + 1) % self.customers.len();
                self.next_customer
            }
        };
        let c = self.customers[index].clone();
        let caller = format!("sip:{}@{}", c.number, binding.source.ip())
            .parse()
            .ok()
            .map(|u| NameAddr::new(Some(&c.name), u));
        let headers = vec![
            ("X-Customer-Id".to_owned(), c.id.clone()),
            ("X-Customer-Name".to_owned(), c.name.clone()),
            ("X-Company".to_owned(), c.company.clone()),
            ("X-Tier".to_owned(), c.tier.clone()),
            ("X-Language".to_owned(), c.language.clone()),
            ("X-Queue".to_owned(), c.queue.clone()),
            ("X-Reason".to_owned(), c.reason.clone()),
            // RFC 7433: opaque platform data, hex-encoded.
            (
                "User-to-User".to_owned(),
                format!("{};encoding=hex", hex(c.id.as_bytes())),
            ),
        ];
        let options = DialOptions {
            headers,
            caller,
            ..DialOptions::default()
        };
        let source = SourceSpec::Wav(self.config.assets.join("demo/audio").join(&c.audio));
        match self.place(&binding.contact.to_string(), options).await {
            Ok(call) => {
                self.sources.insert(call, source);
                self.emit(DemoEvent::Offered {
                    call: call.to_string(),
                    customer: c.id.clone(),
                });
            }
            Err(e) => self.emit(DemoEvent::Error { message: e }),
        }
    }

    async fn place(&mut self, to: &str, options: DialOptions) -> Result<CallHandle, String> {
        let socket = media::bind(&self.config.rtp_ports)
            .await
            .map_err(|e| e.to_string())?;
        let ip = self.udp.local_addr().map_err(|e| e.to_string())?.ip();
        let call = self
            .ua
            .dial(
                Instant::now(),
                to,
                SocketAddr::new(ip, socket.port),
                options,
            )
            .map_err(|e| e.to_string())?;
        self.sockets.insert(call, socket);
        Ok(call)
    }

    async fn timeout(&mut self) {
        let now = Instant::now();
        self.ua.handle_timeout(now);
        let due: Vec<Action> = self
            .timers
            .iter()
            .filter(|(t, _)| *t <= now)
            .map(|(_, a)| *a)
            .collect();
        self.timers.retain(|(t, _)| *t > now);
        for action in due {
            match action {
                Action::Offer => {
                    if self.ua.calls().count() == 0 {
                        self.offer(None).await;
                    } else {
                        self.schedule_offer();
                    }
                }
                Action::Answer(call) => {
                    if let Ok(socket) = media::bind(&self.config.rtp_ports).await {
                        let ip = self
                            .udp
                            .local_addr()
                            .map(|a| a.ip())
                            .unwrap_or([127, 0, 0, 1].into());
                        if self
                            .ua
                            .answer(now, call, SocketAddr::new(ip, socket.port))
                            .is_ok()
                        {
                            self.sockets.insert(call, socket);
                        }
                    }
                }
                Action::Hangup(call) => {
                    let _ = self.ua.hangup(now, call);
                }
                Action::CompleteTransfer(call) => {
                    // The simulated colleague took the call: tell the agent it worked.
                    let _ = self.ua.transfer_outcome(now, call, 200, "OK");
                }
            }
        }
    }

    async fn drain(&mut self) {
        while let Some(output) = self.ua.poll_output() {
            match output {
                Output::Transmit(t) => {
                    let _ = self.udp.send_to(&t.payload, t.target.addr).await;
                }
                Output::OpenFlow(target) => {
                    let local = self
                        .udp
                        .local_addr()
                        .map(|a| SocketAddr::new(target.addr.ip(), a.port()));
                    if let Ok(local) = local {
                        self.ua.handle_flow_ready(Instant::now(), target, local);
                    }
                }
                Output::CloseFlow(_) | Output::Resolve => {}
                Output::Event(e) => self.event(e),
            }
        }
    }

    fn event(&mut self, event: UaEvent) {
        let now = Instant::now();
        match event {
            UaEvent::IncomingCall(c) => {
                // The agent calls a customer (or a colleague): it rings, then answers.
                let customer = self.customers.iter().find(|k| c.to.contains(&k.number));
                let audio = customer.map_or("agent-callback.wav".to_owned(), |k| k.audio.clone());
                self.sources.insert(
                    c.call,
                    SourceSpec::Wav(self.config.assets.join("demo/audio").join(audio)),
                );
                self.timers
                    .push((now + self.config.answer_delay, Action::Answer(c.call)));
            }
            UaEvent::CallState { call, state } => {
                let name = match &state {
                    CallState::Connected => {
                        self.timers
                            .push((now + self.config.talk_time, Action::Hangup(call)));
                        "connected"
                    }
                    CallState::Held(_) => "held",
                    CallState::Ringing => "ringing",
                    CallState::Ended { .. } => {
                        self.timers.retain(|(_, a)| !matches!(a, Action::Answer(c) | Action::Hangup(c) | Action::CompleteTransfer(c) if *c == call));
                        self.media.remove(&call);
                        self.sockets.remove(&call);
                        self.sources.remove(&call);
                        self.schedule_offer();
                        "ended"
                    }
                    _ => return,
                };
                self.emit(DemoEvent::CallState {
                    call: call.to_string(),
                    state: name.into(),
                });
            }
            UaEvent::Media {
                call,
                media: Some(m),
            } => self.start_media(call, &m),
            UaEvent::Media { call, media: None } => {
                self.media.remove(&call);
            }
            UaEvent::TransferRequested { call, target, .. } => {
                self.emit(DemoEvent::Transfer {
                    call: call.to_string(),
                    target: target.to_string(),
                });
                self.timers
                    .push((now + Duration::from_secs(2), Action::CompleteTransfer(call)));
            }
            UaEvent::Dtmf { call, digit, .. } => self.emit(DemoEvent::Dtmf {
                call: call.to_string(),
                digit: digit.to_string(),
            }),
            UaEvent::Registration(_)
            | UaEvent::Transfer { .. }
            | UaEvent::Deflected { .. }
            | UaEvent::Connected { .. }
            | UaEvent::Disconnected { .. } => {}
        }
    }

    fn start_media(&mut self, call: CallHandle, m: &NegotiatedMedia) {
        if let Some(handle) = self.media.get(&call) {
            handle.send(media::Control::Update(m.clone()));
            return;
        }
        let Some(socket) = self.sockets.remove(&call) else {
            return;
        };
        let source = self
            .sources
            .get(&call)
            .cloned()
            .unwrap_or(SourceSpec::Silence);
        let source = match &source {
            SourceSpec::Wav(path) if !path.is_file() => SourceSpec::Silence,
            _ => source,
        };
        let audio = media::Audio {
            source: &source,
            output: &OutputSpec::None,
            recording: None,
            rtp_timeout: None,
        };
        match media::start(call, socket, m, audio, self.media_tx.clone()) {
            Ok(handle) => {
                self.media.insert(call, handle);
            }
            Err(e) => self.emit(DemoEvent::Error {
                message: e.to_string(),
            }),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
