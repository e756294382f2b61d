//! The tray icon: its colour and tooltip show the agent state; its menu changes the state,
//! brings the window back and quits.

use crate::i18n;
use crate::session::Shell;
use parley_runtime::protocol::{Command, RequestedState};
use tauri::image::Image;
use tauri::menu::{Menu, MenuEvent, MenuItem, PredefinedMenuItem, Submenu};
use tauri::tray::{MouseButton, MouseButtonState, TrayIcon, TrayIconBuilder, TrayIconEvent};
use tauri::{AppHandle, Manager, Wry};

const TRAY_ID: &str = "main";

fn icon(state: &str) -> Image<'static> {
    let bytes: &'static [u8] = match state {
        "ready" => include_bytes!("../icons/tray-ready.png"),
        "not_ready" | "wrapup" => include_bytes!("../icons/tray-not-ready.png"),
        "reserved" | "on_call" => include_bytes!("../icons/tray-on-call.png"),
        _ => include_bytes!("../icons/tray-offline.png"),
    };
    Image::from_bytes(bytes).expect("the tray icons are valid PNG files")
}

/// Creates the tray icon. Without a tray (a desktop without a status area) Parley runs
/// on in its window.
pub fn create(app: &AppHandle) -> tauri::Result<TrayIcon> {
    TrayIconBuilder::with_id(TRAY_ID)
        .icon(icon("offline"))
        .tooltip("Parley")
        .menu(&menu(app)?)
        .show_menu_on_left_click(false)
        .on_menu_event(on_menu)
        .on_tray_icon_event(|tray, event| {
            if let TrayIconEvent::Click {
                button: MouseButton::Left,
                button_state: MouseButtonState::Up,
                ..
            } = event
            {
                show_window(tray.app_handle());
            }
        })
        .build(app)
}

/// The menu in the current language, with the current Not Ready reasons.
fn menu(app: &AppHandle) -> tauri::Result<Menu<Wry>> {
    let prefs = app.state::<Shell>().preferences();
    let text = i18n::texts(i18n::resolve(prefs.language));
    let reasons = prefs
        .not_ready_reasons
        .iter()
        .map(|code| {
            MenuItem::with_id(
                app,
                format!("not_ready:{code}"),
                text.reason(code),
                true,
                None::<&str>,
            )
        })
        .collect::<tauri::Result<Vec<_>>>()?;
    let reason_items: Vec<&dyn tauri::menu::IsMenuItem<Wry>> = reasons
        .iter()
        .map(|r| r as &dyn tauri::menu::IsMenuItem<Wry>)
        .collect();
    Menu::with_items(
        app,
        &[
            &MenuItem::with_id(app, "show", text.show, true, None::<&str>)?,
            &PredefinedMenuItem::separator(app)?,
            &MenuItem::with_id(app, "ready", text.ready, true, None::<&str>)?,
            &Submenu::with_items(app, text.not_ready, true, &reason_items)?,
            &MenuItem::with_id(app, "offline", text.offline, true, None::<&str>)?,
            &PredefinedMenuItem::separator(app)?,
            &MenuItem::with_id(app, "quit", text.quit, true, None::<&str>)?,
        ],
    )
}

/// Rebuilds the menu after the language or the reasons changed.
pub fn refresh(app: &AppHandle) {
    if let Some(tray) = app.tray_by_id(TRAY_ID) {
        if let Err(e) = menu(app).and_then(|m| tray.set_menu(Some(m))) {
            tracing::warn!(error = %e, "tray menu");
        }
    }
}

/// Shows the agent state on the icon and in its tooltip.
pub fn show_state(app: &AppHandle, state: &str, reason: Option<&str>) {
    let Some(tray) = app.tray_by_id(TRAY_ID) else {
        return;
    };
    let text = i18n::texts(i18n::resolve(app.state::<Shell>().preferences().language));
    let tooltip = match reason {
        Some(r) => format!("Parley: {} ({})", text.state(state), text.reason(r)),
        None => format!("Parley: {}", text.state(state)),
    };
    let _ = tray.set_icon(Some(icon(state)));
    let _ = tray.set_tooltip(Some(tooltip));
}

pub fn show_window(app: &AppHandle) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.unminimize();
        let _ = window.show();
        let _ = window.set_focus();
    }
}

fn on_menu(app: &AppHandle, event: MenuEvent) {
    let id = event.id().as_ref().to_owned();
    let (state, reason) = match id.as_str() {
        "show" => return show_window(app),
        "quit" => return app.exit(0),
        "ready" => (RequestedState::Ready, None),
        "offline" => (RequestedState::Offline, None),
        other => match other.strip_prefix("not_ready:") {
            Some(code) => (RequestedState::NotReady, Some(code.to_owned())),
            None => return,
        },
    };
    let app = app.clone();
    tauri::async_runtime::spawn(async move {
        let shell = app.state::<Shell>();
        if let Err(e) = shell.request(Command::SetState { state, reason }).await {
            tracing::warn!(error = %e, "agent state from the tray");
        }
    });
}
