//! The SIP account as the settings form shows it, read from and written to `parley.toml`
//! (the file `parley-cli` reads, so an administrator can provision it). Saving edits only
//! the keys the form owns and keeps everything else in the file, comments included. The
//! password goes to the OS keychain, never into the file.

use parley_core::agent::AgentState;
use parley_runtime::config::{Config, ConfigError, Settings};
use parley_runtime::secrets::{self, Secret};
use serde::{Deserialize, Serialize};
use std::path::Path;
use toml_edit::{value, Array, DocumentMut, Item, Table};

/// The account fields the settings form edits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS)]
pub struct AccountForm {
    pub username: String,
    pub domain: String,
    pub display_name: Option<String>,
    /// When the digest user name differs from `username`.
    pub auth_username: Option<String>,
    /// Default: the domain.
    pub registrar: Option<String>,
    pub outbound_proxy: Option<String>,
    /// `udp`, `tcp` or `tls`; none: as DNS says (RFC 3263).
    pub transport: Option<String>,
    /// Codec preference, best first (`PCMU`, `PCMA`).
    pub codecs: Vec<String>,
    /// Read only: a password is stored in the OS keychain for this account.
    #[serde(default)]
    pub password_stored: bool,
}

/// Why the account could not be read, checked or saved; `field` names the form field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct AccountError {
    pub field: Option<String>,
    pub message: String,
}

impl From<ConfigError> for AccountError {
    fn from(e: ConfigError) -> Self {
        let field = e
            .key
            .split_once('.')
            .map(|(_, f)| f.to_owned())
            .filter(|f| !f.contains('.'));
        AccountError {
            field,
            message: e.to_string(),
        }
    }
}

pub(crate) fn file_error(path: &Path, e: impl std::fmt::Display) -> AccountError {
    AccountError {
        field: None,
        message: format!("{}: {e}", path.display()),
    }
}

/// The form for the account in `path`; `None` when no account is configured.
pub fn read(path: &Path) -> Result<Option<AccountForm>, AccountError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(file_error(path, e)),
    };
    let config = Config::parse(&text)?;
    let a = &config.account;
    let password_stored = a.password.as_ref().is_some_and(|p| p.keyring);
    Ok(Some(AccountForm {
        username: a.username.clone(),
        domain: a.domain.clone(),
        display_name: a.display_name.clone(),
        auth_username: a.auth_username.clone(),
        registrar: a.registrar.clone(),
        outbound_proxy: a.outbound_proxy.clone(),
        transport: a.transport.map(|t| t.as_str().to_owned()),
        codecs: config.media.codecs.clone(),
        password_stored,
    }))
}

/// The file's new text with the form applied, checked as `parley-cli` would check it, and
/// the settings it makes.
fn apply(
    existing: &str,
    form: &AccountForm,
    keyring: bool,
) -> Result<(String, Settings), AccountError> {
    let mut doc = parse_document(existing)?;
    let account = table(&mut doc, "account");
    let text = |v: &str| v.trim().to_owned();
    account["username"] = value(text(&form.username));
    account["domain"] = value(text(&form.domain));
    for (key, field) in [
        ("display_name", &form.display_name),
        ("auth_username", &form.auth_username),
        ("registrar", &form.registrar),
        ("outbound_proxy", &form.outbound_proxy),
        ("transport", &form.transport),
    ] {
        match field.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            Some(v) => account[key] = value(v),
            None => {
                account.remove(key);
            }
        }
    }
    if keyring {
        let mut password = Table::new();
        password["keyring"] = value(true);
        account["password"] = Item::Table(password);
    }
    let mut codecs = Array::new();
    for c in &form.codecs {
        codecs.push(c.trim());
    }
    table(&mut doc, "media")["codecs"] = value(codecs);
    let text = doc.to_string();
    let settings = Config::parse(&text)?.validate()?;
    Ok((text, settings))
}

/// `parley.toml` as an editable document (comments and order kept).
pub(crate) fn parse_document(text: &str) -> Result<DocumentMut, AccountError> {
    text.parse()
        .map_err(|e: toml_edit::TomlError| AccountError {
            field: None,
            message: format!("parley.toml: {}", e.message()),
        })
}

pub(crate) fn table<'d>(doc: &'d mut DocumentMut, name: &str) -> &'d mut Table {
    let item = doc.entry(name).or_insert(Item::Table(Table::new()));
    if !item.is_table() {
        *item = Item::Table(Table::new());
    }
    item.as_table_mut().expect("made a table above")
}

fn password_error(e: impl std::fmt::Display) -> AccountError {
    AccountError {
        field: Some("password".into()),
        message: e.to_string(),
    }
}

pub(crate) fn read_existing(path: &Path) -> Result<String, AccountError> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(file_error(path, e)),
    }
}

/// Checks the form and gives the settings it makes, without saving anything: for "test
/// registration". The password, when given, is used as is; else the stored one is read.
/// The test agent must not disturb the account's own: it listens on a port of its own,
/// and it is Offline, so that the platform offers it no call while it is registered.
pub fn settings_for_test(
    path: &Path,
    form: &AccountForm,
    password: Option<&str>,
) -> Result<(Settings, Option<Secret>), AccountError> {
    let existing = read_existing(path)?;
    let (_, mut settings) = apply(&existing, form, password.is_some() || form.password_stored)?;
    let secret = match (password, &settings.password) {
        (Some(p), _) => Some(Secret::new(p.to_owned())),
        (None, Some(source)) => {
            Some(secrets::read_password(source, &settings.keyring_user()).map_err(password_error)?)
        }
        (None, None) => None,
    };
    settings.password = None;
    settings.register_on_start = true;
    settings.history_file = None;
    settings.listen.set_port(0);
    settings.initial_state = AgentState::Offline;
    settings.auto_answer = false;
    Ok((settings, secret))
}

/// Saves the form (and the password, when given, to the keychain). Without a new password
/// the keychain must already hold one for the account as saved (its user or domain may
/// have changed).
pub fn save(path: &Path, form: &AccountForm, password: Option<&str>) -> Result<(), AccountError> {
    let existing = read_existing(path)?;
    let (text, settings) = apply(&existing, form, password.is_some() || form.password_stored)?;
    let key = settings.keyring_user();
    match password {
        Some("") => return Err(password_error("the password is empty")),
        Some(p) => {
            secrets::store_password(&key, &Secret::new(p.to_owned())).map_err(password_error)?
        }
        None => {
            if let Some(source) = &settings.password {
                secrets::read_password(source, &key)
                    .map_err(|e| password_error(format!("enter the password for {key} ({e})")))?;
            }
        }
    }
    crate::paths::write_atomically(path, &text).map_err(|e| file_error(path, e))
}

/// Removes the account: its password from the keychain, and the file (kept as
/// `parley.toml.removed` for the administrator).
pub fn remove(path: &Path) -> Result<(), AccountError> {
    let existing = read_existing(path)?;
    if existing.is_empty() {
        return Ok(());
    }
    if let Ok(settings) = Config::parse(&existing).and_then(Config::validate) {
        if settings.password.as_ref().is_some_and(|p| p.keyring) {
            secrets::delete_password(&settings.keyring_user()).map_err(password_error)?;
        }
    }
    std::fs::rename(path, path.with_extension("toml.removed")).map_err(|e| file_error(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> AccountForm {
        AccountForm {
            username: "1001".into(),
            domain: "pbx.example.com".into(),
            display_name: Some("Agent 1001".into()),
            auth_username: None,
            registrar: None,
            outbound_proxy: Some(" sbc.example.com:5061 ".into()),
            transport: Some("tls".into()),
            codecs: vec!["PCMA".into(), "PCMU".into()],
            password_stored: false,
        }
    }

    #[test]
    fn saving_keeps_what_the_form_does_not_own() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("parley.toml");
        let provisioned = "# Provisioned by IT: do not change the proxy.\n\
                           [account]\nusername = \"1000\"\ndomain = \"old.example.com\"\n\
                           registrar = \"sip:old.example.com\"\n\n\
                           [sip]\ntrusted_sources = [\"10.0.0.0/8\"] # the SBCs\n";
        std::fs::write(&path, provisioned).unwrap();
        save(&path, &form(), None).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# Provisioned by IT"), "{text}");
        assert!(
            text.contains("trusted_sources = [\"10.0.0.0/8\"] # the SBCs"),
            "{text}"
        );
        assert!(
            !text.contains("registrar"),
            "an emptied field is removed: {text}"
        );
        let read_back = read(&path).unwrap().unwrap();
        assert_eq!(
            read_back,
            AccountForm {
                outbound_proxy: Some("sbc.example.com:5061".into()),
                ..form()
            }
        );
    }

    #[test]
    fn errors_name_the_form_field_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("parley.toml");
        let bad = |edit: fn(&mut AccountForm)| {
            let mut f = form();
            edit(&mut f);
            save(&path, &f, None).unwrap_err()
        };
        assert_eq!(
            bad(|f| f.username = "a b".into()).field.as_deref(),
            Some("username")
        );
        assert_eq!(
            bad(|f| f.transport = Some("sctp".into())).field.as_deref(),
            Some("transport")
        );
        assert_eq!(
            bad(|f| f.codecs = vec!["G729".into()]).field.as_deref(),
            Some("codecs")
        );
        assert_eq!(
            bad(|f| f.outbound_proxy = Some("sip:a b".into()))
                .field
                .as_deref(),
            Some("outbound_proxy")
        );
        assert!(!path.exists());
        assert_eq!(read(&path).unwrap(), None);
    }

    #[test]
    fn a_password_is_never_written_to_the_file() {
        let (text, settings) = apply("", &form(), true).unwrap();
        assert!(text.contains("keyring = true"), "{text}");
        assert_eq!(settings.keyring_user(), "1001@pbx.example.com");
        let test = settings_for_test(
            Path::new("/nonexistent/parley.toml"),
            &form(),
            Some("s3cret"),
        )
        .unwrap();
        assert_eq!(test.1.unwrap().expose(), "s3cret");
        assert!(test.0.password.is_none());
        // The test agent cannot take the account's calls or its port.
        assert_eq!(test.0.initial_state, AgentState::Offline);
        assert_eq!(test.0.listen.port(), 0);
    }
}
