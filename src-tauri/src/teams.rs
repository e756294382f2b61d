//! Teams presence sync in the desktop (DESIGN §6): the `[teams]` settings the Teams tab
//! edits in `parley.toml` (the file an administrator provisions, where the tenant and the
//! app's client id usually come from), and signing in and out. Signing in runs here, not
//! in the agent: the browser flow waits minutes for a person, and the agent must not.

use crate::account::{self, AccountError};
use crate::error::UiError;
use parley_runtime::config::{Config, TeamsSettings};
use parley_runtime::secrets;
use parley_runtime::signin::{self, DeviceCode, SignInError};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Duration;
use toml_edit::value;

/// The `[teams]` fields the Teams tab edits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct TeamsForm {
    pub enabled: bool,
    pub tenant: String,
    pub client_id: String,
    /// A Teams meeting (Busy/InAMeeting) makes the agent not ready.
    pub block_in_meeting: bool,
    /// Do not disturb makes the agent not ready.
    pub block_do_not_disturb: bool,
    /// When our "in a call" presence is cleared: `hang_up` or `wrapup_end`.
    pub clear_at: String,
    pub poll_seconds: u32,
    /// Offer the colleagues directory.
    pub directory: bool,
    /// Read only: a Teams sign-in is kept (in the OS keychain, by default).
    #[serde(default)]
    pub signed_in: bool,
}

/// What the user must do for a device-code sign-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct DeviceCodeView {
    pub user_code: String,
    pub verification_uri: String,
    /// Entra's own sentence, in the user's language.
    pub message: String,
}

impl From<&DeviceCode> for DeviceCodeView {
    fn from(code: &DeviceCode) -> Self {
        DeviceCodeView {
            user_code: code.user_code.clone(),
            verification_uri: code.verification_uri.clone(),
            message: code.message.clone(),
        }
    }
}

/// How long the browser sign-in waits for the user.
pub const SIGN_IN_TIMEOUT: Duration = Duration::from_secs(300);

/// The Teams form of the account in `path`; `None` without an account (demo mode).
pub fn read(path: &Path) -> Result<Option<TeamsForm>, AccountError> {
    let text = account::read_existing(path)?;
    if text.is_empty() {
        return Ok(None);
    }
    let config = Config::parse(&text)?;
    let t = config.teams.clone();
    let signed_in = config
        .validate()
        .ok()
        .and_then(|s| s.teams)
        .is_some_and(|teams| {
            secrets::read_password(&teams.refresh_token, &teams.keyring_user()).is_ok()
        });
    Ok(Some(TeamsForm {
        enabled: t.enabled,
        tenant: t.tenant,
        client_id: t.client_id,
        block_in_meeting: t.block_in_meeting,
        block_do_not_disturb: t.block_do_not_disturb,
        clear_at: t.clear_at,
        poll_seconds: t.poll_seconds,
        directory: t.directory,
        signed_in,
    }))
}

/// Saves the form into `[teams]`, keeping everything else in the file, after checking the
/// whole file as `parley-cli` would; gives the Teams settings it makes (none: sync off).
pub fn save(path: &Path, form: &TeamsForm) -> Result<Option<TeamsSettings>, AccountError> {
    let existing = account::read_existing(path)?;
    if existing.is_empty() {
        return Err(AccountError {
            field: None,
            message: "Teams presence sync needs a SIP account; set one up first".into(),
        });
    }
    let mut doc = account::parse_document(&existing)?;
    let teams = account::table(&mut doc, "teams");
    teams["enabled"] = value(form.enabled);
    teams["tenant"] = value(form.tenant.trim());
    teams["client_id"] = value(form.client_id.trim());
    teams["block_in_meeting"] = value(form.block_in_meeting);
    teams["block_do_not_disturb"] = value(form.block_do_not_disturb);
    teams["clear_at"] = value(form.clear_at.as_str());
    teams["poll_seconds"] = value(i64::from(form.poll_seconds));
    teams["directory"] = value(form.directory);
    let text = doc.to_string();
    let settings = Config::parse(&text)?.validate()?;
    crate::paths::write_atomically(path, &text).map_err(|e| account::file_error(path, e))?;
    Ok(settings.teams)
}

/// The Teams settings of the account in `path`, for signing in or out.
pub fn settings(path: &Path) -> Result<(TeamsSettings, Option<std::path::PathBuf>), AccountError> {
    let settings = Config::load(path)?;
    let teams = settings.teams.ok_or_else(|| AccountError {
        field: Some("enabled".into()),
        message: "Teams presence sync is off; turn it on and save first".into(),
    })?;
    Ok((teams, settings.tls_ca_file))
}

/// Signs in (in the system browser, or with a device code shown through `show_code`) and
/// keeps the refresh token where the settings say.
pub async fn sign_in(
    teams: &TeamsSettings,
    extra_ca: Option<&Path>,
    device_code: bool,
    show_code: impl FnOnce(&DeviceCode),
) -> Result<(), UiError> {
    let signed_in = if device_code {
        signin::with_device_code(&teams.graph, extra_ca, show_code).await
    } else {
        let open = |url: &str| {
            if let Err(error) = signin::open_in_browser(url) {
                tracing::warn!(%error, "the browser could not be started for the Teams sign-in");
            }
        };
        signin::with_browser(&teams.graph, extra_ca, open, SIGN_IN_TIMEOUT).await
    };
    let token = signed_in.map_err(|e: SignInError| UiError::new("teams_sign_in", e.to_string()))?;
    match secrets::store_rotated(&teams.refresh_token, &teams.keyring_user(), &token) {
        Ok(true) => Ok(()),
        Ok(false) => Err(UiError::new(
            "teams_sign_in",
            "signed in, but teams.refresh_token names an environment variable, which cannot be written",
        )),
        Err(e) => Err(UiError::new("teams_sign_in", e.to_string())),
    }
}

/// A form error, with the `invalid_teams` code and the field at fault.
pub fn form_error(e: AccountError) -> UiError {
    UiError {
        code: "invalid_teams".into(),
        message: e.message,
        field: e.field,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCOUNT: &str = "# provisioned by IT\n[account]\nusername = \"1001\"\ndomain = \"pbx.example.com\"\n\n[teams]\nsession_minutes = 30 # kept\n";

    fn form() -> TeamsForm {
        TeamsForm {
            enabled: true,
            tenant: " contoso.onmicrosoft.com ".into(),
            client_id: "7b1c3f5e-2d4a-4c6b-9e8f-0a1b2c3d4e5f".into(),
            block_in_meeting: false,
            block_do_not_disturb: true,
            clear_at: "wrapup_end".into(),
            poll_seconds: 15,
            directory: false,
            signed_in: false,
        }
    }

    #[test]
    fn saving_edits_only_the_teams_keys_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("parley.toml");
        std::fs::write(&path, ACCOUNT).unwrap();
        let settings = save(&path, &form()).unwrap().expect("sync on");
        assert_eq!(settings.graph.tenant, "contoso.onmicrosoft.com");
        assert!(!settings.graph.directory);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# provisioned by IT"), "{text}");
        assert!(text.contains("session_minutes = 30 # kept"), "{text}");
        let read_back = read(&path).unwrap().expect("an account");
        assert_eq!(
            read_back,
            TeamsForm {
                tenant: "contoso.onmicrosoft.com".into(),
                ..form()
            }
        );
    }

    #[test]
    fn a_wrong_value_names_its_field_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("parley.toml");
        std::fs::write(&path, ACCOUNT).unwrap();
        for (bad, field) in [
            (
                TeamsForm {
                    client_id: " ".into(),
                    ..form()
                },
                "client_id",
            ),
            (
                TeamsForm {
                    poll_seconds: 0,
                    ..form()
                },
                "poll_seconds",
            ),
            (
                TeamsForm {
                    clear_at: "never".into(),
                    ..form()
                },
                "clear_at",
            ),
        ] {
            let error = save(&path, &bad).unwrap_err();
            assert_eq!(error.field.as_deref(), Some(field), "{error:?}");
        }
        assert_eq!(std::fs::read_to_string(&path).unwrap(), ACCOUNT);
    }

    #[test]
    fn without_an_account_there_is_no_teams_form() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("parley.toml");
        assert_eq!(read(&path).unwrap(), None);
        assert!(save(&path, &form())
            .unwrap_err()
            .message
            .contains("SIP account"));
        // Turned off: no settings, the sync stops.
        std::fs::write(&path, ACCOUNT).unwrap();
        let off = TeamsForm {
            enabled: false,
            ..form()
        };
        assert_eq!(save(&path, &off).unwrap(), None);
    }
}
