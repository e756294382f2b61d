//! Parley's desktop shell (DESIGN §1): the window, tray, notifications, click-to-dial
//! links and single instance, over the runtime's agent. The shell decides nothing about
//! calls; it passes commands to the agent and its events to the window.

pub mod account;
pub mod audio;
pub mod commands;
pub mod error;
pub mod events;
pub mod i18n;
pub mod links;
pub mod paths;
pub mod preferences;
pub mod session;
pub mod teams;
pub mod tray;

#[cfg(test)]
mod bindings;
#[cfg(test)]
mod capabilities;

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
        .with_env_filter(parley_runtime::trace::filter("info,tao=warn,wry=warn"))
        .init();
    let Some(paths) = paths::Paths::for_user() else {
        eprintln!("parley: the OS gives no home folder for settings");
        std::process::exit(2);
    };
    let app = tauri::Builder::default()
        // First, so that a second start hands over its links and ends at once.
        .plugin(tauri_plugin_single_instance::init(|app, args, _cwd| {
            // The arguments of a second start of Parley (the OS opening a link with it).
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
            commands::pause_recording,
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
            commands::audio_devices,
            commands::test_sound,
            commands::watch_level,
            commands::stop_level,
            commands::teams_settings,
            commands::save_teams_settings,
            commands::teams_sign_in,
            commands::teams_sign_out,
            commands::colleagues,
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
                // A link that started Parley (held until the window listens).
                let args = std::env::args_os().filter_map(|a| a.into_string().ok());
                for link in links::in_arguments(args) {
                    links::opened(&handle, link);
                }
            });
            if cfg!(target_os = "macos") {
                // macOS hands a link to the running app as an Apple event, not as the
                // arguments of a second start (which is how Linux and Windows do it, through
                // the single-instance plugin above); the deep-link plugin receives it.
                use tauri_plugin_deep_link::DeepLinkExt;
                let handle = app.handle().clone();
                app.deep_link().on_open_url(move |event| {
                    for url in event.urls() {
                        links::opened(&handle, url.to_string());
                    }
                });
            }
            quit_on_signals(app.handle().clone());
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
    let stopped = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    app.run(move |app, event| {
        if let RunEvent::ExitRequested { code, api, .. } = event {
            // Unregister and hang up before leaving (the agent waits for the answers);
            // the main thread stays free meanwhile (the tray and window are served on it).
            if !stopped.swap(true, std::sync::atomic::Ordering::AcqRel) {
                api.prevent_exit();
                let app = app.clone();
                tauri::async_runtime::spawn(async move {
                    app.state::<Shell>().stop().await;
                    app.exit(code.unwrap_or(0));
                });
            }
        }
    });
}

/// Quits cleanly (unregistering) when the session ends or the system shuts down
/// (SIGTERM, SIGHUP) or on Ctrl-C in a terminal (SIGINT).
fn quit_on_signals(app: tauri::AppHandle) {
    #[cfg(unix)]
    tauri::async_runtime::spawn(async move {
        use tokio::signal::unix::{signal, SignalKind};
        let streams = (
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
            signal(SignalKind::interrupt()),
        );
        let (Ok(mut term), Ok(mut hup), Ok(mut int)) = streams else {
            tracing::warn!("cannot watch for signals: they will end Parley without unregistering");
            return;
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = hup.recv() => {}
            _ = int.recv() => {}
        }
        tracing::info!("signalled to quit");
        app.exit(0);
    });
    #[cfg(not(unix))]
    let _ = app;
}
