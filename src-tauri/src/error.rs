//! The one error type the window receives from a command: a stable `code` the UI
//! translates, a sentence in English for logs and details, and the settings field at fault.

use crate::account::AccountError;
use crate::preferences::PreferencesError;
use parley_core::link::LinkError;
use parley_runtime::protocol::CommandError;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS, thiserror::Error)]
#[error("{code}: {message}")]
pub struct UiError {
    pub code: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub field: Option<String>,
}

impl UiError {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        UiError {
            code: code.to_owned(),
            message: message.into(),
            field: None,
        }
    }
}

impl From<CommandError> for UiError {
    fn from(e: CommandError) -> Self {
        UiError::new(&e.code, e.message)
    }
}

/// A device that cannot be listed or opened.
impl From<audio_engine::device::DeviceError> for UiError {
    fn from(e: audio_engine::device::DeviceError) -> Self {
        UiError::new("audio_device", e.to_string())
    }
}

/// Link errors carry `link_` codes (`link_scheme`, `link_number`...).
impl From<LinkError> for UiError {
    fn from(e: LinkError) -> Self {
        UiError::new(&format!("link_{}", e.code()), e.to_string())
    }
}

impl From<AccountError> for UiError {
    fn from(e: AccountError) -> Self {
        UiError {
            code: "invalid_account".into(),
            message: e.message,
            field: e.field,
        }
    }
}

impl From<PreferencesError> for UiError {
    fn from(e: PreferencesError) -> Self {
        match e {
            PreferencesError::Invalid { field, problem } => UiError {
                code: "invalid_preferences".into(),
                message: format!("{field}: {problem}"),
                field: Some(field),
            },
            e @ PreferencesError::File { .. } => UiError::new("preferences_file", e.to_string()),
        }
    }
}
