//! The local store (DESIGN §7): every call the agent handles, written to SQLite as it
//! happens, so that the history survives a crash of the app or of the machine.

use crate::protocol::CallView;
use rusqlite::{params, Connection};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("call history {path}: {source}")]
    Sqlite {
        path: String,
        #[source]
        source: rusqlite::Error,
    },
    #[error("call history {0}: cannot create its folder: {1}")]
    Folder(String, std::io::Error),
}

/// One call in the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct CallRecord {
    /// Row id, stable across restarts.
    #[ts(type = "number")]
    pub id: i64,
    /// `inbound` or `outbound`.
    pub direction: String,
    /// The other party: a SIP URI or a number.
    pub remote: String,
    pub remote_name: Option<String>,
    /// The number or user part of `remote`, for display and redial.
    pub remote_user: Option<String>,
    /// Context the platform sent (X-* and similar headers).
    pub headers: BTreeMap<String, String>,
    /// Unix milliseconds.
    #[ts(type = "number")]
    pub started_at: i64,
    #[ts(type = "number | null")]
    pub answered_at: Option<i64>,
    #[ts(type = "number | null")]
    pub ended_at: Option<i64>,
    /// How it ended (`local_hangup`, `remote_hangup`, `missed`...), once it has.
    pub end_reason: Option<String>,
}

/// The history database.
pub struct Store {
    connection: Connection,
    path: PathBuf,
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl Store {
    /// Opens (creating if needed) the history at `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Folder(path.display().to_string(), e))?;
        }
        let connection = Connection::open(path).map_err(|source| StoreError::Sqlite {
            path: path.display().to_string(),
            source,
        })?;
        let store = Store {
            connection,
            path: path.to_owned(),
        };
        // WAL: the app reads while the engine writes; synchronous=NORMAL with WAL still
        // keeps every committed call on a crash of the app (only power loss can cost the
        // last transaction).
        store.exec(
            "PRAGMA journal_mode=WAL;
             PRAGMA synchronous=NORMAL;
             CREATE TABLE IF NOT EXISTS calls (
                 id INTEGER PRIMARY KEY AUTOINCREMENT,
                 call TEXT NOT NULL,
                 direction TEXT NOT NULL,
                 remote TEXT NOT NULL,
                 remote_name TEXT,
                 remote_user TEXT,
                 headers TEXT NOT NULL DEFAULT '{}',
                 started_at INTEGER NOT NULL,
                 answered_at INTEGER,
                 ended_at INTEGER,
                 end_reason TEXT
             );
             CREATE INDEX IF NOT EXISTS calls_started ON calls(started_at);",
        )?;
        Ok(store)
    }

    fn exec(&self, sql: &str) -> Result<(), StoreError> {
        self.connection
            .execute_batch(sql)
            .map_err(|e| self.error(e))
    }

    fn error(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.display().to_string(),
            source,
        }
    }

    /// A call began (offered to us, or placed by us). Returns its row id.
    pub fn started(&self, call: &CallView) -> Result<i64, StoreError> {
        let headers = serde_json::to_string(&call.headers).unwrap_or_else(|_| "{}".into());
        self.connection
            .execute(
                "INSERT INTO calls (call, direction, remote, remote_name, remote_user, headers, started_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    call.call,
                    call.direction,
                    call.remote,
                    call.remote_name,
                    call.remote_user,
                    headers,
                    call.started_at
                ],
            )
            .map_err(|e| self.error(e))?;
        Ok(self.connection.last_insert_rowid())
    }

    pub fn answered(&self, id: i64) -> Result<(), StoreError> {
        self.connection
            .execute(
                "UPDATE calls SET answered_at = ?1 WHERE id = ?2 AND answered_at IS NULL",
                params![now_ms(), id],
            )
            .map(|_| ())
            .map_err(|e| self.error(e))
    }

    pub fn ended(&self, id: i64, reason: &str) -> Result<(), StoreError> {
        self.connection
            .execute(
                "UPDATE calls SET ended_at = ?1, end_reason = ?2 WHERE id = ?3",
                params![now_ms(), reason, id],
            )
            .map(|_| ())
            .map_err(|e| self.error(e))
    }

    /// The most recent calls, newest first.
    pub fn recent(&self, limit: u32) -> Result<Vec<CallRecord>, StoreError> {
        let mut statement = self
            .connection
            .prepare(
                "SELECT id, direction, remote, remote_name, remote_user, headers, started_at, answered_at, ended_at, end_reason
                 FROM calls ORDER BY started_at DESC, id DESC LIMIT ?1",
            )
            .map_err(|e| self.error(e))?;
        let rows = statement
            .query_map(params![limit], |row| {
                let headers: String = row.get(5)?;
                Ok(CallRecord {
                    id: row.get(0)?,
                    direction: row.get(1)?,
                    remote: row.get(2)?,
                    remote_name: row.get(3)?,
                    remote_user: row.get(4)?,
                    headers: serde_json::from_str(&headers).unwrap_or_default(),
                    started_at: row.get(6)?,
                    answered_at: row.get(7)?,
                    ended_at: row.get(8)?,
                    end_reason: row.get(9)?,
                })
            })
            .map_err(|e| self.error(e))?;
        rows.collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.error(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_call_is_on_disk_at_every_step() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("history.sqlite");
        let store = Store::open(&path).unwrap();
        let view = |call: &str, direction: &str, remote: &str| CallView {
            call: call.into(),
            direction: direction.into(),
            remote: remote.into(),
            remote_user: Some(remote.into()),
            started_at: now_ms(),
            ..CallView::default()
        };
        let headers = BTreeMap::from([("X-Customer-Id".to_owned(), "C-1".to_owned())]);
        let id = store
            .started(&CallView {
                remote_name: Some("Maria".into()),
                headers: headers.clone(),
                ..view("c1", "inbound", "sip:+4930@pbx")
            })
            .unwrap();
        // Another connection (as after a crash) sees it at once.
        let reader = Store::open(&path).unwrap();
        let r = &reader.recent(10).unwrap()[0];
        assert_eq!(
            (r.remote_name.as_deref(), r.ended_at),
            (Some("Maria"), None)
        );
        assert_eq!(r.headers, headers);
        store.answered(id).unwrap();
        store.ended(id, "remote_hangup").unwrap();
        let r = &reader.recent(10).unwrap()[0];
        assert!(r.answered_at.is_some());
        assert_eq!(r.end_reason.as_deref(), Some("remote_hangup"));
        let second = store.started(&view("c2", "outbound", "2000")).unwrap();
        assert_eq!(reader.recent(10).unwrap()[0].id, second, "newest first");
    }
}
