//! The window's capability must allow every command of Parley's and nothing else of the
//! app's: `build.rs` and `capabilities/main.json` list them separately.

include!("../command_names.rs");

#[test]
fn the_window_may_call_exactly_parleys_commands() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/capabilities/main.json");
    let capability: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("capabilities/main.json"))
            .expect("valid JSON");
    let mut allowed: Vec<String> = capability["permissions"]
        .as_array()
        .expect("a permissions list")
        .iter()
        .filter_map(|p| p.as_str()?.strip_prefix("allow-").map(str::to_owned))
        .collect();
    let mut commands: Vec<String> = COMMANDS.iter().map(|c| c.replace('_', "-")).collect();
    allowed.sort();
    commands.sort();
    assert_eq!(allowed, commands);
    let others: Vec<&str> = capability["permissions"]
        .as_array()
        .expect("a permissions list")
        .iter()
        .filter_map(|p| p.as_str())
        .filter(|p| !p.starts_with("allow-"))
        .collect();
    assert_eq!(
        others,
        ["core:event:allow-listen", "core:event:allow-unlisten"]
    );
}
