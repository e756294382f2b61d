//! The agent's events, passed on to the window as Tauri events named for the change that
//! happened (`call-offered`, `call-state-changed`...), with the runtime's event as payload
//! (`ui/src/lib/protocol.ts`). Here too the shell reacts where the window cannot: the tray
//! shows the agent state, an offered call raises an OS notification while Parley is not in
//! front, and auto-answer answers after a short tone.

use crate::session::Shell;
use crate::tray;
use parley_runtime::demo::DemoEvent;
use parley_runtime::engine::AgentHandle;
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
        Event::AudioDevice { .. } => "audio-device-changed",
        Event::Teams(_) => "teams-changed",
        Event::CallQuality(_) => "call-quality",
        Event::Recording { .. } => "recording-changed",
        Event::MediaInactivity { .. } => "media-inactivity",
        Event::Transfer { .. } => "transfer-progressed",
        Event::Error { .. } => "error-occurred",
        Event::Stopped => "agent-stopped",
        Event::Result { .. } | Event::Status(_) => return None,
    })
}

/// Passes on the events of session `generation`'s agent while that session is the current
/// one, until the agent stops; then signals `done`.
pub fn forward(
    app: AppHandle,
    mut events: mpsc::UnboundedReceiver<Event>,
    generation: u64,
    agent: AgentHandle,
    done: oneshot::Sender<()>,
) {
    tauri::async_runtime::spawn(async move {
        while let Some(event) = events.recv().await {
            let stopped = event == Event::Stopped;
            if app.state::<Shell>().is_current(generation) {
                react(&app, &agent, &event);
                if let Some(name) = name(&event) {
                    if let Err(e) = app.emit(name, &event) {
                        tracing::warn!(error = %e, name, "cannot pass an event to the window");
                    }
                }
            }
            if stopped {
                break;
            }
        }
        let _ = done.send(());
    });
}

/// Passes on the demo contact center's events (`demo-progressed`), for its log.
pub fn forward_demo(
    app: AppHandle,
    mut events: mpsc::UnboundedReceiver<DemoEvent>,
    generation: u64,
    done: oneshot::Sender<()>,
) {
    tauri::async_runtime::spawn(async move {
        while let Some(event) = events.recv().await {
            if app.state::<Shell>().is_current(generation) {
                let _ = app.emit("demo-progressed", &event);
            }
        }
        let _ = done.send(());
    });
}

fn react(app: &AppHandle, agent: &AgentHandle, event: &Event) {
    match event {
        Event::AgentState { state, reason } => tray::show_state(app, state, reason.as_deref()),
        Event::IncomingCall {
            call,
            from,
            from_name,
            replaces: None,
            ..
        } => {
            let prefs = app.state::<Shell>().preferences();
            if prefs.notifications && !window_in_front(app) {
                notify_offer(app, from_name.as_deref().unwrap_or(from), &prefs);
            }
            if prefs.ringtone && !prefs.auto_answer {
                ring(app, call, &prefs);
            }
            if prefs.auto_answer {
                // This session's agent: call ids start again in a new one.
                let agent = agent.clone();
                let call = call.clone();
                tauri::async_runtime::spawn(async move {
                    tokio::time::sleep(AUTO_ANSWER_DELAY).await;
                    if let Err(e) = agent.request(Command::Answer { call }).await {
                        // The caller may have given up during the tone.
                        tracing::info!(error = %e, "auto-answer");
                    }
                });
            }
        }
        Event::CallState { call, state, .. } if state != "offered" && state != "ringing" => {
            app.state::<Shell>().audio.stop_ringing(Some(call));
        }
        Event::Stopped => app.state::<Shell>().audio.stop_ringing(None),
        _ => {}
    }
}

/// Rings on the ring device; opening it can block, so not on the event loop.
fn ring(app: &AppHandle, call: &str, prefs: &crate::preferences::Preferences) {
    let app = app.clone();
    let call = call.to_owned();
    let audio = prefs.audio.clone();
    tauri::async_runtime::spawn_blocking(move || {
        app.state::<Shell>().audio.ring(&call, &audio);
    });
}

fn window_in_front(app: &AppHandle) -> bool {
    app.get_webview_window("main")
        .and_then(|w| Some(w.is_visible().ok()? && w.is_focused().ok()?))
        .unwrap_or(false)
}

/// The caller as a notification shows it. The name comes from the network, and
/// notification servers render a subset of HTML in the body (Desktop Notifications
/// Specification, "Markup"): it is escaped, defused of disguising characters and cut.
fn notification_body(caller: &str) -> String {
    let mut body = String::new();
    for c in caller.chars().take(80) {
        match c {
            '&' => body.push_str("&amp;"),
            '<' => body.push_str("&lt;"),
            '>' => body.push_str("&gt;"),
            c if parley_core::link::is_forbidden(c) => body.push('\u{FFFD}'),
            c => body.push(c),
        }
    }
    body
}

fn notify_offer(app: &AppHandle, caller: &str, prefs: &crate::preferences::Preferences) {
    use tauri_plugin_notification::NotificationExt;
    let text = crate::i18n::texts(crate::i18n::resolve(prefs.language));
    let shown = app
        .notification()
        .builder()
        .title(text.incoming_call)
        .body(notification_body(caller))
        .show();
    if let Err(e) = shown {
        // No notification service (a bare X session): the window still rings.
        tracing::info!(error = %e, "no OS notification");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_callers_name_cannot_mark_up_or_disguise_a_notification() {
        assert_eq!(
            notification_body("<a href=\"https://x\">Bank</a> & \u{202E}Co"),
            "&lt;a href=\"https://x\"&gt;Bank&lt;/a&gt; &amp; \u{FFFD}Co"
        );
        assert_eq!(notification_body(&"x".repeat(500)).len(), 80);
    }
}
