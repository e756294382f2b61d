//! The running agent behind the window: either the configured SIP account, or, when there
//! is none, demo mode, where the demo contact center runs on loopback in this process and
//! the agent registers to it (DESIGN §8).
//!
//! Each session has a generation number. Its events reach the window only while it is
//! the current one: a session being replaced (the agent saved an account) may still
//! report its unregistration, and that must not clear the new session's state.

use crate::error::UiError;
use crate::events;
use crate::paths::Paths;
use crate::preferences::Preferences;
use parley_runtime::config::{Config, Settings};
use parley_runtime::demo::{self, Customer, DemoCommand, DemoConfig};
use parley_runtime::engine::{self, AgentHandle, QUIT_GRACE};
use parley_runtime::protocol::{Command, Event, Outcome};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;
use tauri::{AppHandle, Emitter};
use tokio::sync::{mpsc, oneshot};

/// How long the demo contact center may take to stop, after the agent has.
const DEMO_STOP_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// The demo contact center on loopback: no account is configured.
    Demo,
    /// The account in `parley.toml`.
    Account,
}

/// The agent and what runs with it.
pub struct Session {
    pub mode: Mode,
    /// The agent's address of record.
    pub account: Option<String>,
    /// Why there is no agent (a configuration or start error), for the window to show.
    pub problem: Option<String>,
    pub agent: Option<AgentHandle>,
    /// The call history this session writes.
    pub history: PathBuf,
    pub customers: Vec<Customer>,
    demo: Option<mpsc::UnboundedSender<DemoCommand>>,
    agent_stopped: Option<oneshot::Receiver<()>>,
    demo_stopped: Option<oneshot::Receiver<()>>,
}

impl Session {
    fn idle(mode: Mode, history: PathBuf) -> Session {
        Session {
            mode,
            account: None,
            problem: None,
            agent: None,
            history,
            customers: Vec::new(),
            demo: None,
            agent_stopped: None,
            demo_stopped: None,
        }
    }

    pub fn agent(&self) -> Result<AgentHandle, UiError> {
        self.agent.clone().ok_or_else(|| {
            UiError::new(
                "no_agent",
                self.problem
                    .clone()
                    .unwrap_or_else(|| "the agent is not running".into()),
            )
        })
    }

    /// Asks the demo contact center for something; an error outside demo mode.
    pub fn demo(&self, command: DemoCommand) -> Result<(), UiError> {
        let demo = self
            .demo
            .as_ref()
            .ok_or_else(|| UiError::new("not_demo", "the demo contact center is not running"))?;
        demo.send(command)
            .map_err(|_| UiError::new("not_demo", "the demo contact center has stopped"))
    }

    /// Stops the agent (it unregisters and hangs up, which the demo contact center must
    /// still be there to answer), then the demo.
    pub async fn stop(&mut self) {
        if let Some(agent) = self.agent.take() {
            agent.send(None, Command::Quit);
        }
        if let Some(stopped) = self.agent_stopped.take() {
            let _ = tokio::time::timeout(QUIT_GRACE + Duration::from_secs(1), stopped).await;
        }
        if let Some(demo) = self.demo.take() {
            let _ = demo.send(DemoCommand::Quit);
        }
        if let Some(stopped) = self.demo_stopped.take() {
            let _ = tokio::time::timeout(DEMO_STOP_TIMEOUT, stopped).await;
        }
    }
}

/// The shell's state: where files are, the preferences, and the session.
pub struct Shell {
    pub paths: Paths,
    pub assets: PathBuf,
    pub preferences: Mutex<Preferences>,
    /// A problem with the preferences file (the defaults are in use until saved).
    pub preferences_problem: Mutex<Option<String>>,
    pub session: tokio::sync::Mutex<Session>,
    /// The ringtone, the level meter and test sounds.
    pub audio: crate::audio::AudioDesk,
    /// The generation of the current session.
    generation: AtomicU64,
    /// Whether the window has loaded and listens to events.
    window_loaded: AtomicBool,
    /// Links that arrived before the window listened.
    pending_links: Mutex<Vec<String>>,
}

impl Shell {
    pub fn new(paths: Paths, assets: PathBuf) -> Shell {
        let (preferences, problem) = match Preferences::load(&paths.preferences()) {
            Ok(p) => (p, None),
            Err(e) => {
                tracing::warn!(error = %e, "preferences unreadable; using the defaults");
                (Preferences::default(), Some(e.to_string()))
            }
        };
        let history = paths.demo_history();
        Shell {
            paths,
            assets,
            preferences: Mutex::new(preferences),
            preferences_problem: Mutex::new(problem),
            session: tokio::sync::Mutex::new(Session::idle(Mode::Demo, history)),
            generation: AtomicU64::new(0),
            window_loaded: AtomicBool::new(false),
            pending_links: Mutex::new(Vec::new()),
            audio: crate::audio::AudioDesk::default(),
        }
    }

    pub fn preferences(&self) -> Preferences {
        self.preferences
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Whether events of session `generation` still go to the window.
    pub fn is_current(&self, generation: u64) -> bool {
        self.generation.load(Ordering::Acquire) == generation
    }

    /// (Re)starts the session from the files as they are now, and tells the window
    /// (`session-changed`: it asks for a new overview).
    pub async fn restart(&self, app: &AppHandle) {
        let mut session = self.session.lock().await;
        let generation = self.generation.fetch_add(1, Ordering::AcqRel) + 1;
        session.stop().await;
        crate::tray::show_state(app, "offline", None);
        *session = self.start(app, generation).await;
        drop(session);
        let _ = app.emit("session-changed", ());
    }

    /// Stops the session for good (Parley quits).
    pub async fn stop(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.session.lock().await.stop().await;
    }

    /// Starts the agent for the configured account, or demo mode when there is none.
    async fn start(&self, app: &AppHandle, generation: u64) -> Session {
        let paths = &self.paths;
        let (mode, history) = if paths.account().exists() {
            (Mode::Account, paths.history())
        } else {
            (Mode::Demo, paths.demo_history())
        };
        let mut session = Session::idle(mode, history);
        let started = match mode {
            Mode::Account => {
                start_account(app, paths, &self.preferences(), generation, &mut session).await
            }
            Mode::Demo => {
                let prefs = self.preferences();
                start_demo(app, self.assets.clone(), &prefs, generation, &mut session).await
            }
        };
        if let Err(problem) = started {
            tracing::warn!(%problem, ?mode, "the agent did not start");
            session.problem = Some(problem);
        }
        session
    }

    /// The agent, to send it a command without holding the session.
    pub async fn agent(&self) -> Result<AgentHandle, UiError> {
        self.session.lock().await.agent()
    }

    /// Sends a command and waits for its outcome.
    pub async fn request(&self, command: Command) -> Result<Outcome, UiError> {
        Ok(self.agent().await?.request(command).await?)
    }

    /// Holds a link until the window listens; `true` when it was held.
    pub fn hold_link(&self, link: &str) -> bool {
        let mut pending = self.pending_links.lock().unwrap_or_else(|e| e.into_inner());
        // Checked under the lock: the window cannot finish loading in between.
        if self.window_loaded.load(Ordering::Acquire) {
            return false;
        }
        pending.push(link.to_owned());
        true
    }

    /// The window listens now: gives back the links held until then.
    pub fn window_loaded(&self) -> Vec<String> {
        let mut pending = self.pending_links.lock().unwrap_or_else(|e| e.into_inner());
        self.window_loaded.store(true, Ordering::Release);
        std::mem::take(&mut pending)
    }
}

async fn start_account(
    app: &AppHandle,
    paths: &Paths,
    prefs: &Preferences,
    generation: u64,
    session: &mut Session,
) -> Result<(), String> {
    let mut settings = Config::load(&paths.account()).map_err(|e| e.to_string())?;
    settings.history_file = Some(session.history.clone());
    use_devices(&mut settings, prefs);
    // Auto-answer is the desktop preference (with its tone), not the file's.
    settings.auto_answer = false;
    session.account = Some(settings.aor.to_string());
    let (agent, events) = engine::launch(settings).await.map_err(|e| e.to_string())?;
    attach(app, session, generation, agent, events);
    Ok(())
}

async fn start_demo(
    app: &AppHandle,
    assets: PathBuf,
    prefs: &Preferences,
    generation: u64,
    session: &mut Session,
) -> Result<(), String> {
    let handle = demo::start(DemoConfig {
        listen: ([127, 0, 0, 1], 0).into(),
        offer_interval: Duration::from_secs(prefs.demo_offer_seconds.into()),
        talk_time: Duration::from_secs(600),
        answer_delay: Duration::from_secs(2),
        assets,
        rtp_ports: 40000..=40999,
    })
    .await
    .map_err(|e| e.to_string())?;
    let mut settings = demo_settings(handle.address, session.history.clone())?;
    use_devices(&mut settings, prefs);
    session.account = Some(settings.aor.to_string());
    session.customers = handle.customers;
    let (done, stopped) = oneshot::channel();
    events::forward_demo(app.clone(), handle.events, generation, done);
    session.demo_stopped = Some(stopped);
    session.demo = Some(handle.commands);
    let (agent, events) = engine::start(settings, None)
        .await
        .map_err(|e| e.to_string())?;
    attach(app, session, generation, agent, events);
    Ok(())
}

fn attach(
    app: &AppHandle,
    session: &mut Session,
    generation: u64,
    agent: AgentHandle,
    events: mpsc::UnboundedReceiver<Event>,
) {
    let (done, stopped) = oneshot::channel();
    events::forward(app.clone(), events, generation, agent.clone(), done);
    session.agent_stopped = Some(stopped);
    session.agent = Some(agent);
}

/// Calls use the agent's microphone and speaker (the desktop's preferences, not the
/// account file's `media.source`/`media.output`, which are for the headless agent).
fn use_devices(settings: &mut Settings, prefs: &Preferences) {
    settings.source = prefs.audio.source();
    settings.output = prefs.audio.output_spec();
}

/// The demo agent: registers to the demo contact center, ready at once.
fn demo_settings(demo: std::net::SocketAddr, history: PathBuf) -> Result<Settings, String> {
    let text = format!(
        "[account]\n\
         username = \"agent\"\n\
         domain = \"{ip}\"\n\
         display_name = \"Demo Agent\"\n\
         registrar = \"sip:{demo}\"\n\
         expires = 3600\n\
         [sip]\n\
         listen = \"{ip}:0\"\n\
         [agent]\n\
         initial_state = \"ready\"\n",
        ip = demo.ip()
    );
    let mut settings = Config::parse(&text)
        .and_then(Config::validate)
        .map_err(|e| e.to_string())?;
    settings.history_file = Some(history);
    Ok(settings)
}
