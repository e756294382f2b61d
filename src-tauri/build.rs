//! Builds the Tauri context and the permissions of Parley's own commands: the window's
//! capability (capabilities/main.json) allows exactly these.

const COMMANDS: &[&str] = &[
    "overview",
    "dial",
    "answer",
    "decline",
    "hangup",
    "hold",
    "resume",
    "mute",
    "transfer",
    "transfer_attended",
    "send_dtmf",
    "set_state",
    "history",
    "demo_offer",
    "save_preferences",
    "account",
    "save_account",
    "remove_account",
    "test_account",
    "links_registered",
    "register_links",
];

fn main() {
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("building the Tauri context");
}
