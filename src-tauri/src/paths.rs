//! Where Parley keeps its files: the config folder (`parley.toml`, `desktop.toml`) and the
//! data folder (call history). They follow the OS conventions (`$XDG_CONFIG_HOME/parley`,
//! `$XDG_DATA_HOME/parley` on Linux).

use std::io::Write;
use std::path::{Path, PathBuf};

/// Parley's files.
#[derive(Debug, Clone)]
pub struct Paths {
    pub config_dir: PathBuf,
    pub data_dir: PathBuf,
}

impl Paths {
    /// The OS's folders for this user; `None` when the OS gives none (no home folder).
    pub fn for_user() -> Option<Paths> {
        Some(Paths {
            config_dir: dirs::config_dir()?.join("parley"),
            data_dir: dirs::data_dir()?.join("parley"),
        })
    }

    /// The SIP account and agent settings, in the format `parley-cli` reads.
    pub fn account(&self) -> PathBuf {
        self.config_dir.join("parley.toml")
    }

    pub fn preferences(&self) -> PathBuf {
        self.config_dir.join("desktop.toml")
    }

    /// The call history of the configured account.
    pub fn history(&self) -> PathBuf {
        self.data_dir.join("history.sqlite")
    }

    /// The demo's call history, kept apart from real calls.
    pub fn demo_history(&self) -> PathBuf {
        self.data_dir.join("demo-history.sqlite")
    }
}

/// Replaces `path` with `text` in one step: a temporary file in the same folder, flushed to
/// disk, then renamed over the old one.
pub fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let temporary = dir.join(format!(".{name}.new"));
    let mut file = std::fs::File::create(&temporary)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)
}
