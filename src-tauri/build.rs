//! Builds the Tauri context and the permissions of Parley's own commands (listed in
//! command_names.rs): the window's capability (capabilities/main.json) allows exactly these.

include!("command_names.rs");

fn main() {
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("building the Tauri context");
}
