//! The running agent behind the window: either the configured SIP account, or, when there
//! is none, demo mode, where the demo contact center runs on loopback in this process and
//! the agent registers to it (DESIGN §8).

use crate::error::UiError;
use crate::events;
use crate::paths::Paths;
use crate::preferences::Preferences;
use parley_runtime::config::{Config, Settings};
use parley_runtime::demo::{self, Customer, DemoCommand, DemoConfig};
use parley_runtime::engine::{self, AgentHandle};
use parley_runtime::protocol::{Command, Event, Outcome, Status};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;
use tauri::{AppHandle, Emitter};
use tokio::sync::{mpsc, oneshot};

/// How long a stopping agent may take to unregister and hang up.
const STOP_TIMEOUT: Duration = Duration::from_secs(4);

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
    agent: Option<AgentHandle>,
    demo: Option<mpsc::UnboundedSender<DemoCommand>>,
    pub customers: Vec<Customer>,
    stopped: Vec<oneshot::Receiver<()>>,
}

impl Session {
    fn idle(mode: Mode) -> Session {
        Session {
            mode,
            account: None,
            problem: None,
            agent: None,
            demo: None,
            customers: Vec::new(),
            stopped: Vec::new(),
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

    pub async fn status(&self) -> Option<Status> {
        match self.agent.as_ref()?.request(Command::Status).await {
            Ok(Outcome::Status(status)) => Some(status),
            _ => None,
        }
    }

    /// Stops the agent (it unregisters and hangs up) and the demo, and waits for both.
    pub async fn stop(&mut self) {
        if let Some(agent) = self.agent.take() {
            agent.send(None, Command::Quit);
        }
        if let Some(demo) = self.demo.take() {
            let _ = demo.send(DemoCommand::Quit);
        }
        for stopped in self.stopped.drain(..) {
            let _ = tokio::time::timeout(STOP_TIMEOUT, stopped).await;
        }
    }
}

/// Starts the agent for the configured account, or demo mode when there is none.
pub async fn start(
    app: &AppHandle,
    paths: &Paths,
    assets: PathBuf,
    prefs: &Preferences,
) -> Session {
    if paths.account().exists() {
        let mut session = Session::idle(Mode::Account);
        if let Err(problem) = start_account(app, paths, &mut session).await {
            tracing::warn!(%problem, "the account's agent did not start");
            session.problem = Some(problem);
        }
        session
    } else {
        let mut session = Session::idle(Mode::Demo);
        if let Err(problem) = start_demo(app, paths, assets, prefs, &mut session).await {
            tracing::warn!(%problem, "demo mode did not start");
            session.problem = Some(problem);
        }
        session
    }
}

async fn start_account(
    app: &AppHandle,
    paths: &Paths,
    session: &mut Session,
) -> Result<(), String> {
    let mut settings = Config::load(&paths.account()).map_err(|e| e.to_string())?;
    settings.history_file = Some(paths.history());
    session.account = Some(settings.aor.to_string());
    let (agent, events) = engine::launch(settings).await.map_err(|e| e.to_string())?;
    attach(app, session, agent, events);
    Ok(())
}

async fn start_demo(
    app: &AppHandle,
    paths: &Paths,
    assets: PathBuf,
    prefs: &Preferences,
    session: &mut Session,
) -> Result<(), String> {
    session.customers = demo::load_customers(&assets).map_err(|e| e.to_string())?;
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
    let settings = demo_settings(handle.address, paths)?;
    session.account = Some(settings.aor.to_string());
    let (done, stopped) = oneshot::channel();
    events::forward_demo(app.clone(), handle.events, done);
    session.stopped.push(stopped);
    session.demo = Some(handle.commands);
    let (agent, events) = engine::start(settings, None)
        .await
        .map_err(|e| e.to_string())?;
    attach(app, session, agent, events);
    Ok(())
}

fn attach(
    app: &AppHandle,
    session: &mut Session,
    agent: AgentHandle,
    events: mpsc::UnboundedReceiver<Event>,
) {
    let (done, stopped) = oneshot::channel();
    events::forward(app.clone(), events, done);
    session.stopped.push(stopped);
    session.agent = Some(agent);
}

/// The demo agent: registers to the demo contact center, ready at once.
fn demo_settings(demo: std::net::SocketAddr, paths: &Paths) -> Result<Settings, String> {
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
    settings.history_file = Some(paths.demo_history());
    Ok(settings)
}

/// The shell's state: where files are, the preferences, and the session.
pub struct Shell {
    pub paths: Paths,
    pub assets: PathBuf,
    pub preferences: Mutex<Preferences>,
    /// A problem with the preferences file found at start (defaults are in use).
    pub preferences_problem: Option<String>,
    pub session: tokio::sync::Mutex<Session>,
}

impl Shell {
    pub fn new(paths: Paths, assets: PathBuf) -> Shell {
        let (preferences, preferences_problem) = match Preferences::load(&paths.preferences()) {
            Ok(p) => (p, None),
            Err(e) => {
                tracing::warn!(error = %e, "preferences unreadable; using the defaults");
                (Preferences::default(), Some(e.to_string()))
            }
        };
        Shell {
            paths,
            assets,
            preferences: Mutex::new(preferences),
            preferences_problem,
            session: tokio::sync::Mutex::new(Session::idle(Mode::Demo)),
        }
    }

    pub fn preferences(&self) -> Preferences {
        self.preferences
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// (Re)starts the session from the files as they are now, and tells the window
    /// (`session-changed`: it asks for a new overview).
    pub async fn restart(&self, app: &AppHandle) {
        let mut session = self.session.lock().await;
        session.stop().await;
        *session = start(app, &self.paths, self.assets.clone(), &self.preferences()).await;
        drop(session);
        let _ = app.emit("session-changed", ());
    }

    /// The agent, to send it a command without holding the session.
    pub async fn agent(&self) -> Result<AgentHandle, UiError> {
        self.session.lock().await.agent()
    }

    /// Sends a command and waits for its outcome.
    pub async fn request(&self, command: Command) -> Result<Outcome, UiError> {
        Ok(self.agent().await?.request(command).await?)
    }
}
