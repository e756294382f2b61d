//! The agent's desktop preferences (`desktop.toml` in Parley's config folder): language,
//! what a click-to-dial link does, Not Ready reasons, notifications, keyboard shortcuts
//! and audio devices.
//! The SIP account lives in `parley.toml`, the file `parley-cli` reads too (see
//! [`crate::account`]).

use serde::{Deserialize, Serialize};
use std::path::Path;

/// Why the preferences could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PreferencesError {
    #[error("{path}: {problem}")]
    File { path: String, problem: String },
    #[error("{field}: {problem}")]
    Invalid { field: String, problem: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(default, deny_unknown_fields)]
pub struct Preferences {
    pub language: Language,
    pub link_action: LinkAction,
    /// Reason codes offered for Not Ready, in menu order. The built-in codes (`break`,
    /// `lunch`, `meeting`, `training`, `back_office`) are shown translated; others as
    /// written, since an administrator chose them.
    pub not_ready_reasons: Vec<String>,
    /// An OS notification for an offered call while Parley is not in front.
    pub notifications: bool,
    /// The ringtone for offered calls.
    pub ringtone: bool,
    /// Answer offered calls by themselves after a short tone (replaces the account's
    /// `agent.auto_answer`).
    pub auto_answer: bool,
    /// Closing the window keeps Parley running in the tray, so that calls still ring.
    pub close_to_tray: bool,
    /// In demo mode, seconds between calls the demo offers while the agent is ready and
    /// idle; 0: only when asked.
    pub demo_offer_seconds: u32,
    pub hotkeys: Hotkeys,
    pub audio: crate::audio::AudioPreferences,
}

impl Default for Preferences {
    fn default() -> Self {
        Preferences {
            language: Language::System,
            link_action: LinkAction::Confirm,
            not_ready_reasons: ["break", "lunch", "meeting", "training", "back_office"]
                .map(String::from)
                .to_vec(),
            notifications: true,
            ringtone: true,
            auto_answer: false,
            close_to_tray: true,
            demo_offer_seconds: 30,
            hotkeys: Hotkeys::default(),
            audio: crate::audio::AudioPreferences::default(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    /// The OS language when it is German, else English.
    System,
    En,
    De,
}

/// What a `tel:`/`sip:`/`callto:`/`parley:` link does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum LinkAction {
    /// Show the number and wait for the agent to confirm (the default: a web page can
    /// open a link without the agent meaning to call).
    Confirm,
    /// Dial at once.
    Dial,
}

/// Keyboard shortcuts inside Parley's window, as `Modifier+...+Key` with the modifiers
/// `Control`, `Alt`, `Shift`, `Meta` and a key name as in the DOM's `KeyboardEvent.key`
/// (`F2`, `Enter`, `a`). An empty string: no shortcut.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
#[serde(default, deny_unknown_fields)]
pub struct Hotkeys {
    pub answer: String,
    pub decline: String,
    pub hangup: String,
    pub hold: String,
    pub mute: String,
    pub ready: String,
    pub not_ready: String,
    /// Puts the cursor in the number field.
    pub dial: String,
}

impl Default for Hotkeys {
    fn default() -> Self {
        Hotkeys {
            answer: "F2".into(),
            decline: "F3".into(),
            hangup: "F4".into(),
            hold: "F5".into(),
            mute: "F6".into(),
            ready: "F7".into(),
            not_ready: "F8".into(),
            dial: "Control+d".into(),
        }
    }
}

impl Hotkeys {
    fn all(&self) -> [(&'static str, &str); 8] {
        [
            ("answer", &self.answer),
            ("decline", &self.decline),
            ("hangup", &self.hangup),
            ("hold", &self.hold),
            ("mute", &self.mute),
            ("ready", &self.ready),
            ("not_ready", &self.not_ready),
            ("dial", &self.dial),
        ]
    }
}

const MODIFIERS: [&str; 4] = ["Control", "Alt", "Shift", "Meta"];

/// Checks one shortcut's form: known modifiers, each once, then one key.
fn check_hotkey(text: &str) -> Result<(), String> {
    if text.is_empty() {
        return Ok(());
    }
    let parts: Vec<&str> = text.split('+').collect();
    let (key, modifiers) = parts.split_last().expect("split yields at least one part");
    for (i, m) in modifiers.iter().enumerate() {
        if !MODIFIERS.contains(m) {
            return Err(format!(
                "{m:?} is not a modifier (Control, Alt, Shift, Meta)"
            ));
        }
        if modifiers[..i].contains(m) {
            return Err(format!("{m} is given twice"));
        }
    }
    let plain_key = key.chars().count() == 1 && !key.chars().any(char::is_control);
    let named_key = key.len() > 1 && key.chars().all(|c| c.is_ascii_alphanumeric());
    if !(plain_key || named_key) || MODIFIERS.contains(key) {
        return Err(format!("{key:?} is not a key"));
    }
    Ok(())
}

impl Preferences {
    /// Reads the preferences; a missing file gives the defaults.
    pub fn load(path: &Path) -> Result<Preferences, PreferencesError> {
        let file_error = |problem: String| PreferencesError::File {
            path: path.display().to_string(),
            problem,
        };
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Preferences::default()),
            Err(e) => return Err(file_error(e.to_string())),
        };
        let prefs: Preferences = toml::from_str(&text).map_err(|e| file_error(e.to_string()))?;
        prefs.validate()?;
        Ok(prefs)
    }

    /// Checks what the types cannot.
    pub fn validate(&self) -> Result<(), PreferencesError> {
        let invalid = |field: String, problem: String| PreferencesError::Invalid { field, problem };
        for (name, key) in self.hotkeys.all() {
            check_hotkey(key).map_err(|p| invalid(format!("hotkeys.{name}"), p))?;
        }
        let keys = self.hotkeys.all();
        for (i, (name, key)) in keys.iter().enumerate() {
            if let Some((other, _)) = keys[..i].iter().find(|(_, k)| !k.is_empty() && k == key) {
                return Err(invalid(
                    format!("hotkeys.{name}"),
                    format!("{key} is already the shortcut for {other}"),
                ));
            }
        }
        for reason in &self.not_ready_reasons {
            let reason = reason.trim();
            if reason.is_empty() || reason.len() > 40 || reason.chars().any(char::is_control) {
                return Err(invalid(
                    "not_ready_reasons".into(),
                    format!("{reason:?} must be 1 to 40 printable characters"),
                ));
            }
        }
        self.audio
            .validate()
            .map_err(|(field, problem)| invalid(field, problem))?;
        if self.not_ready_reasons.is_empty() {
            return Err(invalid(
                "not_ready_reasons".into(),
                "at least one reason is needed".into(),
            ));
        }
        Ok(())
    }

    /// Writes the preferences, replacing the file in one step so that a crash never
    /// leaves half of it.
    pub fn save(&self, path: &Path) -> Result<(), PreferencesError> {
        self.validate()?;
        let text = toml::to_string_pretty(self).map_err(|e| PreferencesError::File {
            path: path.display().to_string(),
            problem: e.to_string(),
        })?;
        crate::paths::write_atomically(path, &text).map_err(|e| PreferencesError::File {
            path: path.display().to_string(),
            problem: e.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_round_trip_through_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("desktop.toml");
        assert_eq!(Preferences::load(&path).unwrap(), Preferences::default());
        let mut prefs = Preferences {
            link_action: LinkAction::Dial,
            ..Preferences::default()
        };
        prefs.hotkeys.answer = "Control+Shift+a".into();
        prefs.save(&path).unwrap();
        assert_eq!(Preferences::load(&path).unwrap(), prefs);
    }

    #[test]
    fn bad_values_name_the_field() {
        let field = |edit: fn(&mut Preferences)| {
            let mut p = Preferences::default();
            edit(&mut p);
            match p.validate().unwrap_err() {
                PreferencesError::Invalid { field, .. } => field,
                e => panic!("{e}"),
            }
        };
        assert_eq!(field(|p| p.hotkeys.hold = "Hyper+h".into()), "hotkeys.hold");
        assert_eq!(
            field(|p| p.hotkeys.mute = "Control+".into()),
            "hotkeys.mute"
        );
        assert_eq!(
            field(|p| p.hotkeys.mute = "Shift+Shift+m".into()),
            "hotkeys.mute"
        );
        assert_eq!(field(|p| p.hotkeys.mute = "F2".into()), "hotkeys.mute");
        assert_eq!(field(|p| p.not_ready_reasons.clear()), "not_ready_reasons");
        assert_eq!(
            field(|p| p.not_ready_reasons.push("bad\nreason".into())),
            "not_ready_reasons"
        );
        let mut p = Preferences::default();
        p.hotkeys.hangup = String::new();
        p.hotkeys.hold = String::new();
        p.validate().expect("empty shortcuts may repeat");
    }

    #[test]
    fn a_broken_file_is_reported_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("desktop.toml");
        std::fs::write(&path, "language = \"fr\"\n").unwrap();
        let e = Preferences::load(&path).unwrap_err().to_string();
        assert!(e.contains("desktop.toml") && e.contains("fr"), "{e}");
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "language = \"fr\"\n"
        );
    }
}
