//! Secrets (the SIP password, the Teams refresh token): from the OS keychain (Secret
//! Service, Keychain, Credential Manager via `keyring`), or for headless use from an
//! environment variable or a file only its owner can read. Never read from the config file
//! and never logged.

use crate::config::PasswordSource;
use crate::keychain::{self, KeychainError, OsKeychain};
use std::fmt;
use std::path::Path;

/// The keychain service name Parley stores its passwords under.
pub const KEYRING_SERVICE: &str = "parley";

/// Why the password could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("environment variable {0} is not set")]
    EnvMissing(String),
    #[error("cannot read password file {path}: {source}")]
    FileRead {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "password file {path} can be read by other users (mode {mode:o}); run: chmod 600 {path}"
    )]
    FileMode { path: String, mode: u32 },
    #[error("password file {0} is empty")]
    FileEmpty(String),
    #[error("OS keychain: {0}")]
    Keyring(String),
    #[error("nothing is stored in the OS keychain for {0}")]
    NotStored(String),
}

impl SecretError {
    /// Nothing was ever stored (or it was removed): a sign-in to do, not a fault.
    pub fn is_missing(&self) -> bool {
        match self {
            SecretError::NotStored(_) => true,
            SecretError::FileRead { source, .. } => source.kind() == std::io::ErrorKind::NotFound,
            _ => false,
        }
    }
}

impl From<KeychainError> for SecretError {
    fn from(e: KeychainError) -> Self {
        match e {
            KeychainError::Missing(name) => SecretError::NotStored(name),
            other => SecretError::Keyring(other.to_string()),
        }
    }
}

fn os_keychain() -> OsKeychain {
    OsKeychain {
        service: KEYRING_SERVICE,
    }
}

/// A password. Its Debug and Display never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: String) -> Self {
        Secret(s)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Reads the password from its configured source.
pub fn read_password(source: &PasswordSource, keyring_user: &str) -> Result<Secret, SecretError> {
    if let Some(var) = &source.env {
        return std::env::var(var)
            .map(Secret)
            .map_err(|_| SecretError::EnvMissing(var.clone()));
    }
    if let Some(path) = &source.file {
        return read_file(path);
    }
    Ok(Secret(keychain::read(&os_keychain(), keyring_user)?))
}

/// Stores a password in the OS keychain (`parley-cli store-password`), in chunks when it
/// is longer than one entry may be ([`keychain`]).
pub fn store_password(keyring_user: &str, password: &Secret) -> Result<(), SecretError> {
    Ok(keychain::store(
        &mut os_keychain(),
        keyring_user,
        password.expose(),
    )?)
}

/// Removes an account's password from the OS keychain; none there is not an error.
pub fn delete_password(keyring_user: &str) -> Result<(), SecretError> {
    Ok(keychain::delete(&mut os_keychain(), keyring_user)?)
}

/// Forgets a secret kept where `source` says (Teams sign-out): the keychain entry or the
/// file is removed; an environment variable is not ours to remove (`false`).
pub fn forget(source: &PasswordSource, keyring_user: &str) -> Result<bool, SecretError> {
    if source.env.is_some() {
        return Ok(false);
    }
    if let Some(path) = &source.file {
        return match std::fs::remove_file(path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
            Err(source) => Err(SecretError::FileRead {
                path: path.display().to_string(),
                source,
            }),
        };
    }
    delete_password(keyring_user).map(|()| true)
}

/// Keeps a secret that replaced the one read from `source` (a rotated refresh token): in
/// the keychain, or in the file, rewritten in one step and readable by its owner only. An
/// environment variable cannot be written: the new secret lives in memory only, and `false`
/// says so.
pub fn store_rotated(
    source: &PasswordSource,
    keyring_user: &str,
    secret: &Secret,
) -> Result<bool, SecretError> {
    if source.env.is_some() {
        return Ok(false);
    }
    if let Some(path) = &source.file {
        let display = path.display().to_string();
        let write_err = |source| SecretError::FileRead {
            path: display.clone(),
            source,
        };
        let temp = path.with_extension("new");
        {
            use std::io::Write;
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(&temp).map_err(write_err)?;
            file.write_all(secret.expose().as_bytes())
                .and_then(|()| file.sync_all())
                .map_err(write_err)?;
        }
        std::fs::rename(&temp, path).map_err(write_err)?;
        return Ok(true);
    }
    store_password(keyring_user, secret).map(|()| true)
}

fn read_file(path: &Path) -> Result<Secret, SecretError> {
    let display = path.display().to_string();
    let read_err = |source| SecretError::FileRead {
        path: display.clone(),
        source,
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(read_err)?
            .permissions()
            .mode()
            & 0o777;
        if mode & 0o077 != 0 {
            return Err(SecretError::FileMode {
                path: display,
                mode,
            });
        }
    }
    let text = std::fs::read_to_string(path).map_err(read_err)?;
    let password = text.trim_end_matches(['\r', '\n']).to_owned();
    if password.is_empty() {
        return Err(SecretError::FileEmpty(display));
    }
    Ok(Secret(password))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn file_source_requires_owner_only_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        let mut f = std::fs::File::create(&path).unwrap();
        writeln!(f, "s3cret").unwrap();
        let source = PasswordSource {
            file: Some(path.clone()),
            ..PasswordSource::default()
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            let err = read_password(&source, "u").unwrap_err();
            assert!(err.to_string().contains("chmod 600"), "{err}");
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        assert_eq!(read_password(&source, "u").unwrap().expose(), "s3cret");
    }

    #[test]
    fn a_rotated_secret_replaces_the_file_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "old").unwrap();
        let source = PasswordSource {
            file: Some(path.clone()),
            ..PasswordSource::default()
        };
        assert!(store_rotated(&source, "u", &Secret::new("new".into())).unwrap());
        assert_eq!(read_password(&source, "u").unwrap().expose(), "new");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        let env = PasswordSource {
            env: Some("X".into()),
            ..PasswordSource::default()
        };
        assert!(!store_rotated(&env, "u", &Secret::new("new".into())).unwrap());
    }

    #[test]
    fn env_source_and_redaction() {
        let source = PasswordSource {
            env: Some("PARLEY_TEST_SURELY_UNSET_VAR".into()),
            ..PasswordSource::default()
        };
        assert!(matches!(
            read_password(&source, "u"),
            Err(SecretError::EnvMissing(_))
        ));
        assert_eq!(
            format!("{:?}", Secret::new("hunter2".into())),
            "Secret(<redacted>)"
        );
    }
}
