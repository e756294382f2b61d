//! The agent's events, passed on to the window as Tauri events named for the change that
//! happened (`call-offered`, `call-state-changed`...), with the runtime's event as payload
//! (`ui/src/lib/protocol.ts`). Here too the shell reacts where the window cannot: the tray
//! shows the agent state, an offered call raises an OS notification while Parley is not in
//! front, and auto-answer answers after a short tone.

use crate::session::Shell;
use crate::tray;
use parley_runtime::demo::DemoEvent;
use parley_runtime::protocol::{Command, Event};
use std::time::Duration;
use tauri::{AppHandle, Emitter, Manager};
use tokio::sync::{mpsc, oneshot};

/// How long the auto-answer tone plays before the call is answered.
const AUTO_ANSWER_DELAY: Duration = Duration::from_millis(1200);

/// The Tauri event name of an agent event; `None` for replies, which go to the caller.
pub fn name(event: &Event) -> Option<&'static str> {
    Some(match event {
        Event::Started { .. } => "agent-started",
        Event::Connection { .. } => "connection-changed",
        Event::Registration { .. } => "registration-changed",
        Event::AgentState { .. } => "agent-state-changed",
        Event::IncomingCall { .. } => "call-offered",
        Event::OutgoingCall { .. } => "call-placed",
        Event::CallState { .. } => "call-state-changed",
        Event::CallDeflected { .. } => "call-deflected",
        Event::Media { .. } => "media-changed",
        Event::Dtmf { .. } => "dtmf-received",
        Event::Transfer { .. } => "transfer-progressed",
        Event::Error { .. } => "error-occurred",
        Event::Stopped => "agent-stopped",
        Event::Result { .. } | Event::Status(_) => return None,
    })
}

/// Passes the agent's events on until it stops, then signals `done`.
pub fn forward(
    app: AppHandle,
    mut events: mpsc::UnboundedReceiver<Event>,
    done: oneshot::Sender<()>,
) {
    tauri::async_runtime::spawn(async move {
        while let Some(event) = events.recv().await {
            react(&app, &event);
            if let Some(name) = name(&event) {
                if let Err(e) = app.emit(name, &event) {
                    tracing::warn!(error = %e, name, "cannot pass an event to the window");
                }
            }
            if event == Event::Stopped {
                break;
            }
        }
        let _ = done.send(());
    });
}

/// Passes the demo contact center's events on (`demo-progressed`), for its log.
pub fn forward_demo(
    app: AppHandle,
    mut events: mpsc::UnboundedReceiver<DemoEvent>,
    done: oneshot::Sender<()>,
) {
    tauri::async_runtime::spawn(async move {
        while let Some(event) = events.recv().await {
            let _ = app.emit("demo-progressed", &event);
        }
        let _ = done.send(());
    });
}

fn react(app: &AppHandle, event: &Event) {
    match event {
        Event::AgentState { state, reason } => tray::show_state(app, state, reason.as_deref()),
        Event::IncomingCall {
            call,
            from,
            from_name,
            replaces: None,
            ..
        } => {
            let shell = app.state::<Shell>();
            let prefs = shell.preferences();
            if prefs.notifications && !window_in_front(app) {
                notify_offer(app, from_name.as_deref().unwrap_or(from), &prefs);
            }
            if prefs.auto_answer {
                let app = app.clone();
                let call = call.clone();
                tauri::async_runtime::spawn(async move {
                    tokio::time::sleep(AUTO_ANSWER_DELAY).await;
                    let shell = app.state::<Shell>();
                    if let Err(e) = shell.request(Command::Answer { call }).await {
                        // The caller may have given up during the tone.
                        tracing::info!(error = %e, "auto-answer");
                    }
                });
            }
        }
        _ => {}
    }
}

fn window_in_front(app: &AppHandle) -> bool {
    app.get_webview_window("main")
        .and_then(|w| Some(w.is_visible().ok()? && w.is_focused().ok()?))
        .unwrap_or(false)
}

fn notify_offer(app: &AppHandle, caller: &str, prefs: &crate::preferences::Preferences) {
    use tauri_plugin_notification::NotificationExt;
    let text = crate::i18n::texts(crate::i18n::resolve(prefs.language));
    let shown = app
        .notification()
        .builder()
        .title(text.incoming_call)
        .body(caller)
        .show();
    if let Err(e) = shown {
        // No notification service (a bare X session): the window still rings.
        tracing::info!(error = %e, "no OS notification");
    }
}
