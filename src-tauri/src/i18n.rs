//! The few texts the shell shows itself (tray menu, notifications), in English and German;
//! the window's texts are in `ui/src/lib/i18n`.

use crate::preferences::Language;
use serde::Serialize;

/// A language the texts exist in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ts_rs::TS)]
#[serde(rename_all = "snake_case")]
pub enum Resolved {
    En,
    De,
}

/// The language to show: the chosen one, or for `system` German when the OS's locale is
/// German (`LC_ALL`, `LC_MESSAGES`, `LANG`, in POSIX order of precedence), else English.
pub fn resolve(language: Language) -> Resolved {
    match language {
        Language::En => Resolved::En,
        Language::De => Resolved::De,
        Language::System => {
            let locale = ["LC_ALL", "LC_MESSAGES", "LANG"]
                .iter()
                .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
                .unwrap_or_default();
            if locale.starts_with("de") {
                Resolved::De
            } else {
                Resolved::En
            }
        }
    }
}

pub struct Texts {
    pub show: &'static str,
    pub ready: &'static str,
    pub not_ready: &'static str,
    pub offline: &'static str,
    pub on_call: &'static str,
    pub ringing: &'static str,
    pub wrap_up: &'static str,
    pub quit: &'static str,
    pub incoming_call: &'static str,
    /// The built-in Not Ready reasons and the system's reasons (DESIGN §5).
    reasons: [(&'static str, &'static str); 9],
}

const EN: Texts = Texts {
    show: "Show Parley",
    ready: "Ready",
    not_ready: "Not Ready",
    offline: "Offline",
    on_call: "On a call",
    ringing: "Ringing",
    wrap_up: "Wrap-up",
    quit: "Quit Parley",
    incoming_call: "Incoming call",
    reasons: [
        ("break", "Break"),
        ("lunch", "Lunch"),
        ("meeting", "Meeting"),
        ("training", "Training"),
        ("back_office", "Back office"),
        ("missed_offer", "Missed call"),
        ("teams_busy", "Busy in Teams"),
        ("device_missing", "No headset"),
        ("network_lost", "No connection"),
    ],
};

const DE: Texts = Texts {
    show: "Parley anzeigen",
    ready: "Bereit",
    not_ready: "Nicht bereit",
    offline: "Abgemeldet",
    on_call: "Im Gespräch",
    ringing: "Es klingelt",
    wrap_up: "Nachbearbeitung",
    quit: "Parley beenden",
    incoming_call: "Eingehender Anruf",
    reasons: [
        ("break", "Pause"),
        ("lunch", "Mittagspause"),
        ("meeting", "Besprechung"),
        ("training", "Schulung"),
        ("back_office", "Nacharbeit"),
        ("missed_offer", "Anruf verpasst"),
        ("teams_busy", "In Teams beschäftigt"),
        ("device_missing", "Kein Headset"),
        ("network_lost", "Keine Verbindung"),
    ],
};

pub fn texts(language: Resolved) -> &'static Texts {
    match language {
        Resolved::En => &EN,
        Resolved::De => &DE,
    }
}

impl Texts {
    /// The name of an agent state (`ready`, `not_ready`, ...).
    pub fn state(&self, state: &str) -> &'static str {
        match state {
            "ready" => self.ready,
            "not_ready" => self.not_ready,
            "reserved" => self.ringing,
            "on_call" => self.on_call,
            "wrapup" => self.wrap_up,
            _ => self.offline,
        }
    }

    /// A reason code's name: translated when built in, else as the administrator wrote it.
    pub fn reason<'a>(&self, code: &'a str) -> &'a str {
        self.reasons
            .iter()
            .find(|(c, _)| *c == code)
            .map_or(code, |(_, name)| name)
    }
}
