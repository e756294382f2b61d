//! TypeScript declarations of the types the desktop UI receives, generated from the Rust
//! types with ts-rs into `ui/src/lib/`, so that the UI cannot drift from them: each
//! generated file has a test that fails when it is stale.

use ts_rs::TS;

/// A generated TypeScript module: a preamble (comments, imports), then each declaration
/// exported.
pub fn module(preamble: &str, declarations: &[String]) -> String {
    let mut out = preamble.to_owned();
    for declaration in declarations {
        out.push_str("export ");
        out.push_str(declaration);
        out.push_str("\n\n");
    }
    out.trim_end().to_owned() + "\n"
}

/// Whether the file at `path` holds `fresh`; with `UPDATE_TYPES` set in the environment it
/// is rewritten first. The error says how to regenerate it (`crate_name`'s tests).
pub fn check(path: &std::path::Path, fresh: &str, crate_name: &str) -> Result<(), String> {
    if std::env::var_os("UPDATE_TYPES").is_some() {
        std::fs::write(path, fresh).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let current = std::fs::read_to_string(path).unwrap_or_default();
    if current == fresh {
        Ok(())
    } else {
        Err(format!(
            "{} is stale: run `UPDATE_TYPES=1 cargo test -p {crate_name} typescript`",
            path.display()
        ))
    }
}

/// `ui/src/lib/protocol.ts`: the agent's events and what commands return.
pub fn protocol() -> String {
    let cfg = ts_rs::Config::new();
    module(
        "// Generated from runtime/src/protocol.rs, store.rs and demo.rs by\n\
         // `UPDATE_TYPES=1 cargo test -p parley-runtime typescript`. Do not edit.\n\n",
        &[
            crate::protocol::Event::decl(&cfg),
            crate::protocol::Status::decl(&cfg),
            crate::protocol::CallView::decl(&cfg),
            crate::protocol::TeamsView::decl(&cfg),
            crate::protocol::Colleague::decl(&cfg),
            crate::protocol::CallQualityView::decl(&cfg),
            crate::protocol::CommandError::decl(&cfg),
            crate::store::CallRecord::decl(&cfg),
            crate::demo::DemoEvent::decl(&cfg),
        ],
    )
}
