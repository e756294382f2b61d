//! Parley's desktop shell (DESIGN §1): the window, tray, notifications, click-to-dial
//! links and single instance, over the runtime's agent. The shell decides nothing about
//! calls; it passes commands to the agent and its events to the window.

pub mod account;
pub mod commands;
pub mod error;
pub mod events;
pub mod i18n;
pub mod links;
pub mod paths;
pub mod preferences;
pub mod session;
pub mod tray;

#[cfg(test)]
mod bindings;

use session::Shell;
use std::path::PathBuf;
use tauri::{Manager, RunEvent, WindowEvent};

/// Where the demo's customers and speech are: bundled resources, else the development
/// tree or `PARLEY_ASSETS` (see `parley_runtime::demo::find_assets`).
fn assets(app: &tauri::App) -> PathBuf {
    app.path()
        .resource_dir()
        .map(|d| d.join("assets"))
        .ok()
        .filter(|d| d.join("demo/customers.json").is_file())
        .unwrap_or_else(parley_runtime::demo::find_assets)
}

/// Runs the desktop app until the agent quits it.
pub fn run() {
    use std::io::IsTerminal;
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,tao=warn,wry=warn".into()),
        )
        .init();
    let Some(paths) = paths::Paths::for_user() else {
        eprintln!("parley: the OS gives no home folder for settings");
        std::process::exit(2);
    };
    let app = tauri::Builder::default()
        // First, so that a second start hands over its links and ends at once.
        .plugin(tauri_plugin_single_instance::init(|app, args, _cwd| {
            tray::show_window(app);
            for link in links::in_arguments(args) {
                links::opened(app, link);
            }
        }))
        .plugin(tauri_plugin_deep_link::init())
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_window_state::Builder::default().build())
        .invoke_handler(tauri::generate_handler![
            commands::overview,
            commands::dial,
            commands::answer,
            commands::decline,
            commands::hangup,
            commands::hold,
            commands::resume,
            commands::mute,
            commands::transfer,
            commands::transfer_attended,
            commands::send_dtmf,
            commands::set_state,
            commands::history,
            commands::demo_offer,
            commands::save_preferences,
            commands::account,
            commands::save_account,
            commands::remove_account,
            commands::test_account,
            commands::links_registered,
            commands::register_links,
        ])
        .setup(move |app| {
            let shell = Shell::new(paths, assets(app));
            app.manage(shell);
            if let Err(e) = tray::create(app.handle()) {
                tracing::warn!(error = %e, "no tray icon");
            }
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(async move {
                handle.state::<Shell>().restart(&handle).await;
                // A link that started Parley is handled once the agent runs.
                for link in links::in_arguments(std::env::args()) {
                    links::opened(&handle, link);
                }
            });
            Ok(())
        })
        .on_window_event(|window, event| {
            if let WindowEvent::CloseRequested { api, .. } = event {
                let tray = window.app_handle().tray_by_id("main").is_some();
                if tray && window.state::<Shell>().preferences().close_to_tray {
                    // Calls must still ring: the window hides, Parley stays in the tray.
                    api.prevent_close();
                    let _ = window.hide();
                }
            }
        })
        .build(tauri::generate_context!());
    let app = match app {
        Ok(app) => app,
        Err(e) => {
            eprintln!("parley: cannot start: {e}");
            std::process::exit(1);
        }
    };
    app.run(|app, event| {
        if let RunEvent::ExitRequested { .. } = event {
            // Unregister and hang up before leaving (the agent waits for the answers).
            let shell = app.state::<Shell>();
            tauri::async_runtime::block_on(async {
                shell.session.lock().await.stop().await;
            });
        }
    });
}
