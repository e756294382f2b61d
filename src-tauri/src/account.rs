//! The SIP account as the settings form shows it, read from and written to `parley.toml`
//! (the file `parley-cli` reads, so an administrator can provision it). Saving edits only
//! the keys the form owns and keeps everything else in the file, comments included. The
//! password goes to the OS keychain, never into the file.

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

fn file_error(path: &Path, e: impl std::fmt::Display) -> AccountError {
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

/// The file's new text with the form applied, checked as `parley-cli` would check it.
fn apply(existing: &str, form: &AccountForm, keyring: bool) -> Result<String, AccountError> {
    let mut doc: DocumentMut =
        existing
            .parse()
            .map_err(|e: toml_edit::TomlError| AccountError {
                field: None,
                message: format!("parley.toml: {}", e.message()),
            })?;
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
    Config::parse(&text)?.validate()?;
    Ok(text)
}

fn table<'d>(doc: &'d mut DocumentMut, name: &str) -> &'d mut Table {
    let item = doc.entry(name).or_insert(Item::Table(Table::new()));
    if !item.is_table() {
        *item = Item::Table(Table::new());
    }
    item.as_table_mut().expect("made a table above")
}

/// The keychain entry of the form's account.
fn keyring_user(form: &AccountForm) -> String {
    let user = form
        .auth_username
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .unwrap_or(form.username.trim());
    secrets::keyring_user(user, form.domain.trim())
}

/// Checks the form and gives the settings it makes, without saving anything: for "test
/// registration". The password, when given, is used as is; else the stored one is read.
pub fn settings_for_test(
    path: &Path,
    form: &AccountForm,
    password: Option<&str>,
) -> Result<(Settings, Option<Secret>), AccountError> {
    let existing = std::fs::read_to_string(path).unwrap_or_default();
    let text = apply(&existing, form, password.is_some() || form.password_stored)?;
    let mut settings = Config::parse(&text)?.validate()?;
    let secret = match password {
        Some(p) => Some(Secret::new(p.to_owned())),
        None => match &settings.password {
            Some(source) => Some(secrets::read_password(source, &keyring_user(form)).map_err(
                |e| AccountError {
                    field: Some("password".into()),
                    message: e.to_string(),
                },
            )?),
            None => None,
        },
    };
    settings.password = None;
    settings.register_on_start = true;
    settings.history_file = None;
    Ok((settings, secret))
}

/// Saves the form (and the password, when given, to the keychain).
pub fn save(path: &Path, form: &AccountForm, password: Option<&str>) -> Result<(), AccountError> {
    let existing = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(file_error(path, e)),
    };
    let text = apply(&existing, form, password.is_some() || form.password_stored)?;
    if let Some(p) = password {
        if p.is_empty() {
            return Err(AccountError {
                field: Some("password".into()),
                message: "the password is empty".into(),
            });
        }
        secrets::store_password(&keyring_user(form), &Secret::new(p.to_owned())).map_err(|e| {
            AccountError {
                field: Some("password".into()),
                message: e.to_string(),
            }
        })?;
    }
    crate::paths::write_atomically(path, &text).map_err(|e| file_error(path, e))
}

/// Removes the account (the file is kept as `parley.toml.removed` for the administrator).
pub fn remove(path: &Path) -> Result<(), AccountError> {
    match std::fs::rename(path, path.with_extension("toml.removed")) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(file_error(path, e)),
    }
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
        let text = apply("", &form(), true).unwrap();
        assert!(text.contains("keyring = true"), "{text}");
        let test = settings_for_test(
            Path::new("/nonexistent/parley.toml"),
            &form(),
            Some("s3cret"),
        )
        .unwrap();
        assert_eq!(test.1.unwrap().expose(), "s3cret");
        assert!(test.0.password.is_none());
    }
}
