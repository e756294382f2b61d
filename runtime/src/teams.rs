//! The Teams presence sync task: drives core's [`PresenceSync`] with the [`GraphClient`]
//! and the clock, tells the engine what the sync decided, and keeps the rotating refresh
//! token where it came from (DESIGN §6).
//!
//! One request at a time, never on the engine's own task: a slow or throttled Graph delays
//! only the sync, never a call.

use crate::clock::sleep_until;
use crate::config::TeamsSettings;
use crate::graph::GraphClient;
use crate::protocol::Colleague;
use crate::secrets::{self, Secret, SecretError};
use parley_core::presence::{CcActivity, Failure, PresenceSync, Request, SyncEvent};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

/// What the engine tells the sync.
#[derive(Debug)]
pub enum ToSync {
    Cc(CcActivity),
    /// A directory search, answered on `reply`; it goes through the sync's own Graph
    /// client, the only holder of the (rotating) refresh token.
    Colleagues {
        query: String,
        reply: oneshot::Sender<Result<Vec<Colleague>, Failure>>,
    },
    /// Parley quits, the sync is turned off, or the user signs out: clear our presence
    /// session, then end.
    Stop,
    /// A new sync with the same client id takes over (new settings, a new sign-in): end
    /// without clearing, since our session id is the new sync's too and a late clear
    /// would wipe what it sets.
    Handover,
}

/// What the sync tells the engine.
#[derive(Debug)]
pub enum FromSync {
    Event(SyncEvent),
    /// The task ended (after a stop, with our session cleared or given up).
    Stopped,
}

/// Why the sync cannot start.
#[derive(Debug, thiserror::Error)]
pub enum TeamsError {
    #[error("no Teams sign-in: {0}")]
    SignIn(#[from] secrets::SecretError),
    #[error("Teams settings: {0}")]
    Settings(#[from] crate::graph::GraphSettingsError),
}

impl TeamsError {
    /// No sign-in is kept: the user has to sign in, nothing is broken.
    pub fn is_signed_out(&self) -> bool {
        matches!(self, TeamsError::SignIn(e) if e.is_missing())
    }
}

/// The engine's handle on the sync task.
#[derive(Debug)]
pub struct TeamsHandle {
    tx: mpsc::UnboundedSender<ToSync>,
    keeper: Keeper,
}

impl TeamsHandle {
    pub fn send(&self, message: ToSync) {
        // A task that ended has nothing left to do.
        let _ = self.tx.send(message);
    }
}

/// Guards where the refresh token is kept: once the sign-in is forgotten, the task (still
/// clearing our presence with the token in memory) must not store a rotated one back.
#[derive(Debug, Clone, Default)]
struct Keeper(Arc<Mutex<bool>>);

/// Signs out: the stored refresh token is removed, and `sync`, if one runs (told to stop
/// by the caller), keeps no successor of it. `false`: it comes from an environment
/// variable, which only its owner can remove.
pub fn forget_sign_in(
    settings: &TeamsSettings,
    sync: Option<&TeamsHandle>,
) -> Result<bool, SecretError> {
    let keeper = sync.map(|s| s.keeper.clone()).unwrap_or_default();
    let mut forgotten = keeper.0.lock().unwrap_or_else(|e| e.into_inner());
    *forgotten = true;
    secrets::forget(&settings.refresh_token, &settings.keyring_user())
}

/// Reads the refresh token and starts the sync task.
pub fn start(
    settings: TeamsSettings,
    extra_ca: Option<&std::path::Path>,
    reports: mpsc::UnboundedSender<FromSync>,
) -> Result<TeamsHandle, TeamsError> {
    let keyring_user = settings.keyring_user();
    let token = secrets::read_password(&settings.refresh_token, &keyring_user)?;
    let graph = GraphClient::new(settings.graph.clone(), token.expose().to_owned(), extra_ca)?;
    let sync = PresenceSync::new(settings.sync.clone(), Instant::now(), rand::random());
    let (tx, rx) = mpsc::unbounded_channel();
    let keeper = Keeper::default();
    let task = Task {
        settings,
        keyring_user,
        graph,
        sync,
        reports,
        warned_env: false,
        keeper: keeper.clone(),
    };
    let span = tracing::info_span!("teams");
    tokio::spawn(task.run(rx).instrument(span));
    Ok(TeamsHandle { tx, keeper })
}

struct Task {
    settings: TeamsSettings,
    keyring_user: String,
    graph: GraphClient,
    sync: PresenceSync,
    reports: mpsc::UnboundedSender<FromSync>,
    warned_env: bool,
    keeper: Keeper,
}

impl Task {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<ToSync>) {
        loop {
            while let Some(request) = self.sync.poll_request(Instant::now()) {
                self.execute(request).await;
                self.keep_rotated_token();
            }
            while let Some(event) = self.sync.poll_event() {
                let _ = self.reports.send(FromSync::Event(event));
            }
            if self.sync.is_stopped() {
                break;
            }
            let wake = self.sync.poll_timeout();
            tokio::select! {
                message = rx.recv() => match message {
                    Some(ToSync::Cc(activity)) => self.sync.handle_cc_activity(activity),
                    Some(ToSync::Colleagues { query, reply }) => {
                        let found = self.graph.colleagues(&query).await;
                        if let Err(failure) = &found {
                            tracing::warn!(?failure, "Teams directory search");
                        }
                        let _ = reply.send(found);
                        self.keep_rotated_token();
                    }
                    Some(ToSync::Handover) => break,
                    // The engine is gone: clear our session and end, as on a stop.
                    Some(ToSync::Stop) | None => self.sync.stop(),
                },
                _ = sleep_until(wake) => {}
            }
        }
        tracing::info!("Teams presence sync stopped");
        let _ = self.reports.send(FromSync::Stopped);
    }

    async fn execute(&mut self, request: Request) {
        let outcome = match &request {
            Request::Read => match self.graph.read_presence().await {
                Ok(reading) => {
                    tracing::debug!(?reading, "Teams presence");
                    self.sync.handle_reading(Instant::now(), reading);
                    return;
                }
                Err(failure) => Err(failure),
            },
            Request::SetPresence {
                activity,
                expiration,
            } => self.graph.set_presence(*activity, *expiration).await,
            Request::ClearPresence => self.graph.clear_presence().await,
        };
        match outcome {
            Ok(()) => {
                tracing::info!(?request, "Teams presence written");
                self.sync.handle_written(Instant::now());
            }
            Err(failure) => {
                tracing::warn!(?request, ?failure, "Teams presence sync");
                self.sync.handle_failure(Instant::now(), failure);
            }
        }
    }

    /// Refresh tokens rotate on every use: the new one replaces the old where it is kept.
    fn keep_rotated_token(&mut self) {
        let Some(token) = self.graph.take_rotated_refresh_token() else {
            return;
        };
        // Held while storing, so that a sign-out cannot slip in between.
        let forgotten = self.keeper.0.lock().unwrap_or_else(|e| e.into_inner());
        if *forgotten {
            return;
        }
        let source = &self.settings.refresh_token;
        match secrets::store_rotated(source, &self.keyring_user, &Secret::new(token)) {
            Ok(true) => tracing::debug!("rotated Teams refresh token stored"),
            Ok(false) if !self.warned_env => {
                self.warned_env = true;
                tracing::info!(
                    "the Teams refresh token comes from an environment variable: its rotated successor is kept in memory only"
                );
            }
            Ok(false) => {}
            Err(error) => tracing::warn!(%error, "cannot store the rotated Teams refresh token"),
        }
    }
}
