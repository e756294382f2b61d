//! The commands the window invokes. Each is a few lines over the runtime's agent (DESIGN
//! §1): parse what the window sent, ask the agent, hand back the outcome or a [`UiError`].

use crate::account::{self, AccountForm};
use crate::audio::{self, AudioDevices, AudioPreferences, TestSound};
use crate::error::UiError;
use crate::i18n;
use crate::preferences::Preferences;
use crate::session::{Mode, Shell};
use crate::teams::{self, DeviceCodeView, TeamsForm};
use crate::tray;
use parley_core::link;
use parley_runtime::demo::{Customer, DemoCommand};
use parley_runtime::engine;
use parley_runtime::protocol::{Colleague, Command, Event, Outcome, RequestedState, Status};
use parley_runtime::store::{CallRecord, Store};
use serde::Serialize;
use std::time::Duration;
use tauri::ipc::Channel;
use tauri::{AppHandle, Manager, State};

/// How long "test registration" waits for the registrar's answer.
const TEST_TIMEOUT: Duration = Duration::from_secs(15);

/// What the window needs when it opens.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct Overview {
    pub version: String,
    pub mode: Mode,
    /// The agent's SIP address.
    pub account: Option<String>,
    /// Why the agent is not running, when it is not.
    pub problem: Option<String>,
    /// The agent's state, calls and registration; absent when it is not running.
    pub status: Option<Status>,
    pub preferences: Preferences,
    /// A problem with the preferences file (the defaults are in use until saved).
    pub preferences_problem: Option<String>,
    /// The language to show, `system` resolved.
    pub language: i18n::Resolved,
    /// The demo's sample customers (demo mode only).
    pub customers: Vec<DemoCustomer>,
}

/// A sample customer the demo can call as.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct DemoCustomer {
    pub id: String,
    pub name: String,
    pub company: String,
    pub reason: String,
}

impl From<&Customer> for DemoCustomer {
    fn from(c: &Customer) -> Self {
        DemoCustomer {
            id: c.id.clone(),
            name: c.name.clone(),
            company: c.company.clone(),
            reason: c.reason.clone(),
        }
    }
}

/// The result of "test registration".
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
pub struct RegistrationTest {
    pub registered: bool,
    /// The registrar's reason, or why no answer came.
    #[ts(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[ts(optional)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<u16>,
}

type Reply<T> = Result<T, UiError>;

async fn done(shell: &Shell, command: Command) -> Reply<()> {
    shell.request(command).await.map(|_| ())
}

/// The window asks this first, once it listens to events: links that arrived before are
/// handled now.
#[tauri::command]
pub async fn overview(app: AppHandle, shell: State<'_, Shell>) -> Reply<Overview> {
    let held = shell.window_loaded();
    static LOADED: std::sync::Once = std::sync::Once::new();
    // For support logs and the start-up benchmark: the window is up and asks for state.
    LOADED.call_once(|| tracing::info!("window loaded"));
    for link in held {
        crate::links::opened(&app, link);
    }
    let preferences = shell.preferences();
    // The session is not held while the agent answers: commands and restarts go on.
    let (mut overview, agent) = {
        let session = shell.session.lock().await;
        let overview = Overview {
            version: env!("CARGO_PKG_VERSION").into(),
            mode: session.mode,
            account: session.account.clone(),
            problem: session.problem.clone(),
            status: None,
            language: i18n::resolve(preferences.language),
            preferences,
            preferences_problem: shell
                .preferences_problem
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
            customers: session.customers.iter().map(DemoCustomer::from).collect(),
        };
        (overview, session.agent.clone())
    };
    if let Some(agent) = agent {
        if let Ok(Outcome::Status(status)) = agent.request(Command::Status).await {
            overview.status = Some(*status);
        }
    }
    Ok(overview)
}

/// Dials what the agent typed or pasted, normalised (any common number format, or a SIP
/// address). Returns the call id.
#[tauri::command]
pub async fn dial(shell: State<'_, Shell>, to: String) -> Reply<String> {
    let target = link::parse_typed(&to)?;
    match shell
        .request(Command::Dial {
            to: target.to_string(),
            headers: Default::default(),
        })
        .await?
    {
        Outcome::Call(call) => Ok(call),
        _ => Err(UiError::new("internal", "dial gave no call")),
    }
}

#[tauri::command]
pub async fn answer(shell: State<'_, Shell>, call: String) -> Reply<()> {
    done(&shell, Command::Answer { call }).await
}

/// Declines an offered call; the platform offers it to another agent (486 Busy Here).
#[tauri::command]
pub async fn decline(shell: State<'_, Shell>, call: String) -> Reply<()> {
    done(&shell, Command::Reject { call, code: 486 }).await
}

#[tauri::command]
pub async fn hangup(shell: State<'_, Shell>, call: String) -> Reply<()> {
    done(&shell, Command::Hangup { call }).await
}

#[tauri::command]
pub async fn hold(shell: State<'_, Shell>, call: String) -> Reply<()> {
    done(&shell, Command::Hold { call }).await
}

#[tauri::command]
pub async fn resume(shell: State<'_, Shell>, call: String) -> Reply<()> {
    done(&shell, Command::Resume { call }).await
}

#[tauri::command]
pub async fn mute(shell: State<'_, Shell>, call: String, muted: bool) -> Reply<()> {
    done(&shell, Command::Mute { call, muted }).await
}

/// Blind transfer (REFER) to a number or address typed by the agent.
/// Pauses or resumes the recording of `call` (silence is recorded meanwhile).
#[tauri::command]
pub async fn pause_recording(shell: State<'_, Shell>, call: String, paused: bool) -> Reply<()> {
    done(&shell, Command::PauseRecording { call, paused }).await
}

#[tauri::command]
pub async fn transfer(shell: State<'_, Shell>, call: String, to: String) -> Reply<()> {
    let to = link::parse_typed(&to)?.to_string();
    done(&shell, Command::Transfer { call, to }).await
}

/// Attended transfer: joins `call` with the consultation call `consult`.
#[tauri::command]
pub async fn transfer_attended(
    shell: State<'_, Shell>,
    call: String,
    consult: String,
) -> Reply<()> {
    done(&shell, Command::TransferAttended { call, consult }).await
}

#[tauri::command]
pub async fn send_dtmf(shell: State<'_, Shell>, call: String, digits: String) -> Reply<()> {
    done(&shell, Command::Dtmf { call, digits }).await
}

#[tauri::command]
pub async fn set_state(
    shell: State<'_, Shell>,
    state: String,
    reason: Option<String>,
) -> Reply<()> {
    let state = match state.as_str() {
        "ready" => RequestedState::Ready,
        "not_ready" => RequestedState::NotReady,
        "offline" => RequestedState::Offline,
        other => {
            return Err(UiError::new(
                "invalid_state",
                format!("no agent state {other:?}"),
            ))
        }
    };
    done(&shell, Command::SetState { state, reason }).await
}

/// The most recent calls, newest first.
#[tauri::command]
pub async fn history(shell: State<'_, Shell>, limit: u32) -> Reply<Vec<CallRecord>> {
    let path = shell.session.lock().await.history.clone();
    if !path.exists() {
        return Ok(Vec::new());
    }
    tauri::async_runtime::spawn_blocking(move || Store::open(&path)?.recent(limit.min(1000)))
        .await
        .map_err(|e| UiError::new("internal", e.to_string()))?
        .map_err(|e| UiError::new("history", e.to_string()))
}

/// Demo mode: the demo contact center calls now, as `customer` or the next one.
#[tauri::command]
pub async fn demo_offer(shell: State<'_, Shell>, customer: Option<String>) -> Reply<()> {
    shell
        .session
        .lock()
        .await
        .demo(DemoCommand::Offer { customer })
}

#[tauri::command]
pub async fn save_preferences(
    app: AppHandle,
    shell: State<'_, Shell>,
    preferences: Preferences,
) -> Reply<()> {
    preferences.save(&shell.paths.preferences())?;
    let before = std::mem::replace(
        &mut *shell.preferences.lock().unwrap_or_else(|e| e.into_inner()),
        preferences.clone(),
    );
    if before.audio != preferences.audio {
        // The call in progress moves to the new devices too; with no agent running, the
        // next one starts with them.
        let changed = Command::SetAudio {
            source: Some(preferences.audio.source().to_string()),
            output: Some(preferences.audio.output_spec().to_string()),
        };
        if let Err(e) = shell.request(changed).await {
            tracing::info!(error = %e.message, "audio devices apply to the next session");
        }
    }
    *shell
        .preferences_problem
        .lock()
        .unwrap_or_else(|e| e.into_inner()) = None;
    tray::refresh(&app);
    Ok(())
}

/// The account form; `None` when no account is configured (demo mode).
#[tauri::command]
pub async fn account(shell: State<'_, Shell>) -> Reply<Option<AccountForm>> {
    Ok(account::read(&shell.paths.account())?)
}

/// Saves the account and restarts the agent with it (demo mode ends).
#[tauri::command]
pub async fn save_account(
    app: AppHandle,
    shell: State<'_, Shell>,
    form: AccountForm,
    password: Option<String>,
) -> Reply<()> {
    account::save(&shell.paths.account(), &form, password.as_deref())?;
    shell.restart(&app).await;
    Ok(())
}

/// Removes the account and goes back to demo mode.
#[tauri::command]
pub async fn remove_account(app: AppHandle, shell: State<'_, Shell>) -> Reply<()> {
    account::remove(&shell.paths.account())?;
    shell.restart(&app).await;
    Ok(())
}

/// Registers with the form's account once, without saving it, and reports how the
/// registrar answered.
#[tauri::command]
pub async fn test_account(
    shell: State<'_, Shell>,
    form: AccountForm,
    password: Option<String>,
) -> Reply<RegistrationTest> {
    let (settings, secret) =
        account::settings_for_test(&shell.paths.account(), &form, password.as_deref())?;
    let (agent, mut events) = engine::start(settings, secret)
        .await
        .map_err(|e| UiError::new("test_failed", e.to_string()))?;
    let outcome = tokio::time::timeout(TEST_TIMEOUT, async {
        while let Some(event) = events.recv().await {
            if let Event::Registration {
                state,
                reason,
                code,
                ..
            } = event
            {
                match state.as_str() {
                    "registered" => {
                        return RegistrationTest {
                            registered: true,
                            reason: None,
                            code: None,
                        }
                    }
                    "failed" => {
                        return RegistrationTest {
                            registered: false,
                            reason,
                            code,
                        }
                    }
                    _ => {}
                }
            }
        }
        RegistrationTest {
            registered: false,
            reason: Some("the agent stopped".into()),
            code: None,
        }
    })
    .await
    .unwrap_or(RegistrationTest {
        registered: false,
        reason: Some(format!("no answer within {} s", TEST_TIMEOUT.as_secs())),
        code: None,
    });
    // Unregisters: the test leaves no binding behind.
    agent.send(None, Command::Quit);
    Ok(outcome)
}

/// Whether Parley is the OS's handler for `tel:` links.
#[tauri::command]
pub async fn links_registered(app: AppHandle) -> Reply<bool> {
    use tauri_plugin_deep_link::DeepLinkExt;
    app.deep_link()
        .is_registered("tel")
        .map_err(|e| UiError::new("links", e.to_string()))
}

/// Makes Parley the OS's handler for `tel:`, `sip:`, `sips:`, `callto:` and `parley:`
/// links (on Linux: a desktop entry and `xdg-mime` defaults for this user).
#[tauri::command]
pub async fn register_links(app: AppHandle) -> Reply<()> {
    use tauri_plugin_deep_link::DeepLinkExt;
    app.deep_link()
        .register_all()
        .map_err(|e| UiError::new("links", e.to_string()))
}

/// The microphones and speakers the audio system offers now.
#[tauri::command]
pub async fn audio_devices() -> Reply<AudioDevices> {
    blocking(audio::devices).await
}

/// Plays a test sound on the device the preferences (as the window has them, not saved
/// yet) choose for it.
#[tauri::command]
pub async fn test_sound(app: AppHandle, audio: AudioPreferences, sound: TestSound) -> Reply<()> {
    blocking(move || app.state::<Shell>().audio.test(&audio, sound)).await
}

/// Streams the peak level of `input` (the system default when absent) in dBFS on
/// `levels`, every 50 ms, until `stop_level`.
#[tauri::command]
pub async fn watch_level(
    shell: State<'_, Shell>,
    input: Option<String>,
    levels: Channel<f32>,
) -> Reply<()> {
    let stop = shell.audio.next_meter();
    blocking(move || audio::AudioDesk::meter(input, levels, stop)).await
}

#[tauri::command]
pub async fn stop_level(shell: State<'_, Shell>) -> Reply<()> {
    shell.audio.stop_meter();
    Ok(())
}

/// Runs device work (which asks the audio server and may block) off the async runtime.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, audio_engine::device::DeviceError> + Send + 'static,
) -> Reply<T> {
    tauri::async_runtime::spawn_blocking(work)
        .await
        .map_err(|e| UiError::new("internal", e.to_string()))?
        .map_err(UiError::from)
}

/// The Teams tab's form; `None` without an account (demo mode).
#[tauri::command]
pub async fn teams_settings(shell: State<'_, Shell>) -> Reply<Option<TeamsForm>> {
    teams::read(&shell.paths.account()).map_err(teams::form_error)
}

/// Saves the Teams settings; the running agent's sync restarts with them (a call in
/// progress goes on, and Teams keeps showing it).
#[tauri::command]
pub async fn save_teams_settings(shell: State<'_, Shell>, form: TeamsForm) -> Reply<()> {
    let settings = teams::save(&shell.paths.account(), &form).map_err(teams::form_error)?;
    tell_running_agent(&shell, Command::TeamsSettings(Box::new(settings))).await
}

/// Sends `command` to the agent when one runs; without one, what changed on disk applies
/// when it starts.
async fn tell_running_agent(shell: &Shell, command: Command) -> Reply<()> {
    match shell.agent().await {
        Ok(agent) => agent
            .request(command)
            .await
            .map(drop)
            .map_err(UiError::from),
        Err(_) => Ok(()),
    }
}

/// Signs in to Teams (the system browser, or a device code sent on `on_code`), keeps the
/// sign-in in the keychain and starts presence sync with it.
#[tauri::command]
pub async fn teams_sign_in(
    shell: State<'_, Shell>,
    device_code: bool,
    on_code: Channel<DeviceCodeView>,
) -> Reply<()> {
    let (settings, ca) = teams::settings(&shell.paths.account()).map_err(teams::form_error)?;
    teams::sign_in(&settings, ca.as_deref(), device_code, |code| {
        if let Err(error) = on_code.send(DeviceCodeView::from(code)) {
            tracing::warn!(%error, "the device code did not reach the window");
        }
    })
    .await?;
    tell_running_agent(&shell, Command::TeamsStart).await
}

/// Signs out of Teams: our presence is cleared (by the running agent) and the stored
/// sign-in removed.
#[tauri::command]
pub async fn teams_sign_out(shell: State<'_, Shell>) -> Reply<()> {
    if shell.agent().await.is_ok() {
        return done(&shell, Command::TeamsSignOut).await;
    }
    let (settings, _) = teams::settings(&shell.paths.account()).map_err(teams::form_error)?;
    parley_runtime::teams::forget_sign_in(&settings, None)
        .map(drop)
        .map_err(|e| UiError::new("teams_sign_out", e.to_string()))
}

/// Colleagues from the Teams directory whose name or mail starts with `query`.
#[tauri::command]
pub async fn colleagues(shell: State<'_, Shell>, query: String) -> Reply<Vec<Colleague>> {
    match shell.request(Command::Colleagues { query }).await? {
        Outcome::Colleagues(found) => Ok(found),
        other => Err(UiError::new("internal", format!("unexpected {other:?}"))),
    }
}
