//! Per-test artifact directories: logs, configs, WAV dumps.
//!
//! A [`TestDir`] is deleted when the last handle to it is dropped, unless the thread is
//! panicking (a failed test) or `PARLEY_E2E_KEEP` is set: then it is kept, its path is
//! printed and so are the tails of its log files, so that a CI failure can be understood
//! from the test's output alone.
//!
//! Create it first in a test, so that it is dropped last (after every process that writes
//! into it). Components hold a clone, so the directory outlives them in any case.

use std::fmt;
use std::fs;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Lines printed from the end of each log file of a kept directory.
const TAIL_LINES: usize = 40;
/// At most this many bytes are read from the end of each log file for that.
const TAIL_BYTES: u64 = 6 * 1024;

/// A temporary directory for one test. Cheap to clone.
#[derive(Clone)]
pub struct TestDir {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
}

impl TestDir {
    /// A new, empty directory named after `name` (the test's name) under
    /// `PARLEY_E2E_ARTIFACTS` or the temp dir. Also reaps processes left behind by test
    /// processes that were killed before they could clean up (see
    /// [`crate::process::reap_orphans`]).
    #[track_caller]
    pub fn new(name: &str) -> TestDir {
        crate::process::reap_orphans();
        let base = match std::env::var_os("PARLEY_E2E_ARTIFACTS") {
            Some(dir) => PathBuf::from(dir),
            None => std::env::temp_dir().join("parley-e2e-runs"),
        };
        fs::create_dir_all(&base)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", base.display()));
        let safe: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let path = tempfile::Builder::new()
            .prefix(&format!("{safe}-"))
            .tempdir_in(&base)
            .unwrap_or_else(|e| panic!("cannot create a test dir in {}: {e}", base.display()))
            .keep();
        TestDir {
            inner: Arc::new(Inner { path }),
        }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// `name` inside the directory, created (with its parents) if missing.
    #[track_caller]
    pub fn subdir(&self, name: &str) -> PathBuf {
        let dir = self.inner.path.join(name);
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        dir
    }

    /// A fresh subdirectory whose name starts with `prefix` (`prefix`, `prefix-2`, ...), for
    /// components of which a test may start several (two baresips, several sipps).
    #[track_caller]
    pub fn unique_subdir(&self, prefix: &str) -> PathBuf {
        for n in 1.. {
            let name = if n == 1 {
                prefix.to_owned()
            } else {
                format!("{prefix}-{n}")
            };
            let dir = self.inner.path.join(&name);
            match fs::create_dir(&dir) {
                Ok(()) => return dir,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => panic!("cannot create {}: {e}", dir.display()),
            }
        }
        unreachable!("the loop above returns or panics")
    }

    /// Path of `name` in the directory (not created).
    pub fn file(&self, name: &str) -> PathBuf {
        self.inner.path.join(name)
    }
}

impl fmt::Debug for TestDir {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("TestDir").field(&self.inner.path).finish()
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let keep_always = std::env::var_os("PARLEY_E2E_KEEP").is_some_and(|v| v != "0");
        if std::thread::panicking() {
            print_tails(&self.path);
            eprintln!(
                "parley-e2e: test failed; its logs and files are kept in {}",
                self.path.display()
            );
        } else if keep_always {
            eprintln!("parley-e2e: test files kept in {}", self.path.display());
        } else {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

/// Prints the last lines of every log-like file under `dir` to stderr.
fn print_tails(dir: &Path) {
    let mut files = Vec::new();
    collect_logs(dir, &mut files);
    files.sort();
    for file in files {
        let Some(tail) = tail(&file) else { continue };
        if tail.trim().is_empty() {
            continue;
        }
        eprintln!("----- tail of {} -----", file.display());
        eprintln!("{tail}");
    }
}

fn collect_logs(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_logs(&path, out);
        } else if is_log(&path) {
            out.push(path);
        }
    }
}

/// Log-like files, without sipp's screens (the failing assertion shows those).
fn is_log(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let screen = name.ends_with(".screen.log")
        || (name.starts_with("sipp-") && name.ends_with(".stdout.log"));
    !screen
        && [".log", ".err", ".jsonl", ".txt"]
            .iter()
            .any(|suffix| name.ends_with(suffix))
}

fn tail(path: &Path) -> Option<String> {
    let mut file = fs::File::open(path).ok()?;
    let len = file.metadata().ok()?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(TAIL_BYTES)))
        .ok()?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).ok()?;
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(TAIL_LINES);
    Some(lines[start..].join("\n"))
}
