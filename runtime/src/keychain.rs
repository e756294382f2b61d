//! Secrets in the OS keychain, split into chunks where one entry cannot hold them.
//!
//! Windows Credential Manager caps a credential blob at 2,560 bytes, and `keyring` stores a
//! password there as UTF-16, so an entry holds at most 1,280 characters; an Entra refresh
//! token can be longer. A secret above [`CHUNK_CHARS`] is therefore kept as a header entry
//! under the account's own name (`parley-chunks:<n>`) and `n` entries `<name>#<i>` with the
//! pieces. Short secrets (SIP passwords) stay one entry, as before. The same layout on
//! every OS keeps one code path tested here (on the Secret Service) for all of them.

use std::collections::HashMap;

/// Characters per keychain entry: below Windows' 1,280 UTF-16 units with a margin.
pub const CHUNK_CHARS: usize = 1000;
const HEADER: &str = "parley-chunks:";
/// More chunks than any token needs: a corrupted header cannot make us read thousands.
const MAX_CHUNKS: usize = 64;

/// Why the keychain could not do it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeychainError {
    #[error("nothing is stored under {0:?}")]
    Missing(String),
    #[error("the stored secret {0:?} is incomplete (a piece is missing); store it again")]
    Incomplete(String),
    #[error("{0}")]
    Backend(String),
}

/// One flat name → value store: the OS keychain, or a map in tests.
pub trait Vault {
    fn get(&self, name: &str) -> Result<String, KeychainError>;
    fn set(&mut self, name: &str, value: &str) -> Result<(), KeychainError>;
    /// Removing what is not there is not an error.
    fn delete(&mut self, name: &str) -> Result<(), KeychainError>;
}

/// The OS keychain (Secret Service, Keychain, Credential Manager) under one service name.
pub struct OsKeychain {
    pub service: &'static str,
}

impl OsKeychain {
    fn entry(&self, name: &str) -> Result<keyring::Entry, KeychainError> {
        keyring::Entry::new(self.service, name).map_err(|e| KeychainError::Backend(e.to_string()))
    }
}

impl Vault for OsKeychain {
    fn get(&self, name: &str) -> Result<String, KeychainError> {
        match self.entry(name)?.get_password() {
            Ok(value) => Ok(value),
            Err(keyring::Error::NoEntry) => Err(KeychainError::Missing(name.to_owned())),
            Err(e) => Err(KeychainError::Backend(e.to_string())),
        }
    }

    fn set(&mut self, name: &str, value: &str) -> Result<(), KeychainError> {
        self.entry(name)?
            .set_password(value)
            .map_err(|e| KeychainError::Backend(e.to_string()))
    }

    fn delete(&mut self, name: &str) -> Result<(), KeychainError> {
        match self.entry(name)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(KeychainError::Backend(e.to_string())),
        }
    }
}

/// A map, for tests of what is built on a vault.
#[derive(Debug, Default)]
pub struct MemoryVault(pub HashMap<String, String>);

impl Vault for MemoryVault {
    fn get(&self, name: &str) -> Result<String, KeychainError> {
        self.0
            .get(name)
            .cloned()
            .ok_or_else(|| KeychainError::Missing(name.to_owned()))
    }

    fn set(&mut self, name: &str, value: &str) -> Result<(), KeychainError> {
        self.0.insert(name.to_owned(), value.to_owned());
        Ok(())
    }

    fn delete(&mut self, name: &str) -> Result<(), KeychainError> {
        self.0.remove(name);
        Ok(())
    }
}

fn chunk_name(name: &str, i: usize) -> String {
    format!("{name}#{i}")
}

/// How many chunks the entry `name` says it has; `None` for a secret kept whole.
fn chunk_count(value: &str) -> Option<usize> {
    value
        .strip_prefix(HEADER)
        .and_then(|n| n.parse().ok())
        .filter(|n| (1..=MAX_CHUNKS).contains(n))
}

/// Reads the secret stored under `name`, joining its chunks.
pub fn read(vault: &dyn Vault, name: &str) -> Result<String, KeychainError> {
    let head = vault.get(name)?;
    let Some(count) = chunk_count(&head) else {
        return Ok(head);
    };
    let mut secret = String::new();
    for i in 1..=count {
        match vault.get(&chunk_name(name, i)) {
            Ok(piece) => secret.push_str(&piece),
            Err(KeychainError::Missing(_)) => return Err(KeychainError::Incomplete(name.into())),
            Err(e) => return Err(e),
        }
    }
    Ok(secret)
}

/// Stores `secret` under `name`, in chunks when it is long; chunks of a longer secret
/// stored before are removed. The pieces are written before the header that names them,
/// so a reader never sees a header without its pieces.
pub fn store(vault: &mut dyn Vault, name: &str, secret: &str) -> Result<(), KeychainError> {
    let before = vault
        .get(name)
        .ok()
        .and_then(|v| chunk_count(&v))
        .unwrap_or(0);
    let chars: Vec<char> = secret.chars().collect();
    let pieces: Vec<String> = if chars.len() > CHUNK_CHARS {
        chars
            .chunks(CHUNK_CHARS)
            .map(|c| c.iter().collect())
            .collect()
    } else {
        Vec::new()
    };
    if pieces.len() > MAX_CHUNKS {
        return Err(KeychainError::Backend(format!(
            "a secret of {} characters is too long to keep",
            chars.len()
        )));
    }
    for (i, piece) in pieces.iter().enumerate() {
        vault.set(&chunk_name(name, i + 1), piece)?;
    }
    if pieces.is_empty() {
        vault.set(name, secret)?;
    } else {
        vault.set(name, &format!("{HEADER}{}", pieces.len()))?;
    }
    for i in pieces.len() + 1..=before {
        vault.delete(&chunk_name(name, i))?;
    }
    Ok(())
}

/// Removes the secret under `name` and all its chunks; nothing there is not an error.
pub fn delete(vault: &mut dyn Vault, name: &str) -> Result<(), KeychainError> {
    let count = match vault.get(name) {
        Ok(head) => chunk_count(&head).unwrap_or(0),
        Err(KeychainError::Missing(_)) => 0,
        Err(e) => return Err(e),
    };
    vault.delete(name)?;
    for i in 1..=count {
        vault.delete(&chunk_name(name, i))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_short_secret_is_one_entry() {
        let mut vault = MemoryVault::default();
        store(&mut vault, "sip:a@b", "s3cret").unwrap();
        assert_eq!(vault.0.len(), 1);
        assert_eq!(read(&vault, "sip:a@b").unwrap(), "s3cret");
    }

    #[test]
    fn a_long_secret_is_chunked_below_the_windows_cap_and_shrinks_cleanly() {
        let mut vault = MemoryVault::default();
        let long = "é".repeat(2 * CHUNK_CHARS + 1);
        store(&mut vault, "t", &long).unwrap();
        assert_eq!(vault.0["t"], "parley-chunks:3");
        // Every entry fits Credential Manager's 2,560 bytes as UTF-16.
        assert!(vault
            .0
            .values()
            .all(|v| v.encode_utf16().count() * 2 <= 2560));
        assert_eq!(read(&vault, "t").unwrap(), long);
        // A shorter successor (a rotated token) leaves no stale pieces behind.
        store(&mut vault, "t", "short").unwrap();
        assert_eq!(vault.0.len(), 1);
        store(&mut vault, "t", &long).unwrap();
        delete(&mut vault, "t").unwrap();
        assert!(vault.0.is_empty());
        delete(&mut vault, "t").unwrap();
    }

    #[test]
    fn a_missing_piece_is_reported_not_glued_over() {
        let mut vault = MemoryVault::default();
        store(&mut vault, "t", &"x".repeat(CHUNK_CHARS * 2)).unwrap();
        vault.0.remove("t#2");
        assert_eq!(
            read(&vault, "t"),
            Err(KeychainError::Incomplete("t".into()))
        );
        assert_eq!(read(&vault, "u"), Err(KeychainError::Missing("u".into())));
    }

    proptest! {
        #[test]
        fn any_secret_round_trips(secret in "\\PC{1,4000}") {
            let mut vault = MemoryVault::default();
            store(&mut vault, "n", &secret).unwrap();
            prop_assert_eq!(read(&vault, "n").unwrap(), secret);
        }
    }
}
