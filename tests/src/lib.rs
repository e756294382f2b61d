//! Parley's end-to-end test rig: real SIP peers on loopback.
//!
//! Every component is a small module. Components that run a program start it in its own
//! process group with stdout/stderr in a per-test [`TestDir`], and kill the whole group on
//! `Drop`. A test that panics keeps its directory and prints where it is (and the tails of
//! the logs), so a failure on CI can be read from the test output alone.
//!
//! ```no_run
//! use parley_e2e::{baresip::{Baresip, BaresipConfig}, kamailio::{Auth, Kamailio, KamailioOptions}};
//! use parley_e2e::{pulse::Pulse, TestDir};
//!
//! let dir = TestDir::new("two_phones");
//! let pulse = Pulse::ensure();
//! let kamailio = Kamailio::start(&dir, KamailioOptions { auth: Auth::Register, ..Default::default() });
//! let alice = Baresip::start(&dir, &pulse, Some(&kamailio), BaresipConfig::new("alice").sine(440));
//! let bob = Baresip::start(&dir, &pulse, Some(&kamailio), BaresipConfig::new("bob").sine(1000));
//! alice.dial(&kamailio.aor("bob"));
//! bob.wait_call_event("CALL_ESTABLISHED", parley_e2e::wait::LONG);
//! ```
//!
//! Timeouts are generous (the CI machine is a loaded 2-core box) and every wait returns as
//! soon as its condition holds; [`wait::scaled`] multiplies them by `PARLEY_E2E_TIMEOUT_SCALE`.
//!
//! Environment knobs:
//! - `PARLEY_E2E_KEEP=1`: keep every test directory, not only those of failed tests.
//! - `PARLEY_E2E_ARTIFACTS=<dir>`: where test directories go (default: the temp dir).
//! - `PARLEY_E2E_STATE_DIR=<dir>`: the machine-wide rig state (port counter, PulseAudio
//!   runtime dir, process registry); default `$TMPDIR/parley-e2e-<uid>`.
//! - `PARLEY_CLI=<path>`: the `parley-cli` binary (default: found beside the test binary).

pub mod audio;
pub mod baresip;
pub mod desktop;
pub mod graph;
pub mod kamailio;
pub mod parley_cli;
pub mod ports;
pub mod process;
pub mod procstat;
pub mod pulse;
pub mod sip;
pub mod sipp;
pub mod testdir;
pub mod tls;
pub mod wait;
pub mod webdriver;

use std::path::PathBuf;

pub use testdir::TestDir;

/// The only address the rig listens on.
pub const LOOPBACK: &str = "127.0.0.1";

/// The password of every user on the rig's Kamailio.
pub const PASSWORD: &str = "secret";

/// `tests/rig/`: configuration templates.
pub fn rig_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("rig")
}

/// `tests/sipp/`: the sipp scenarios.
pub fn sipp_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("sipp")
}

/// Machine-wide state shared by every test process of the rig (port counter, PulseAudio
/// runtime dir, registry of spawned process groups). Created on first use.
pub fn state_dir() -> PathBuf {
    let dir = match std::env::var_os("PARLEY_E2E_STATE_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => {
            // SAFETY: getuid() has no preconditions and cannot fail.
            let uid = unsafe { libc::getuid() };
            std::env::temp_dir().join(format!("parley-e2e-{uid}"))
        }
    };
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create rig state dir {}: {e}", dir.display()));
    dir
}

/// Replaces every `@NAME@` of `template` by its value; panics on a placeholder left over,
/// so that a template and its filler cannot drift apart silently.
#[track_caller]
pub fn fill_template(template: &str, values: &[(&str, String)]) -> String {
    let mut text = template.to_owned();
    for (name, value) in values {
        text = text.replace(&format!("@{name}@"), value);
    }
    let leftover: Vec<&str> = text
        .match_indices('@')
        .filter_map(|(i, _)| {
            let rest = &text[i + 1..];
            let end = rest.find('@')?;
            let name = &rest[..end];
            (!name.is_empty() && name.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
                .then_some(name)
        })
        .collect();
    assert!(
        leftover.is_empty(),
        "template placeholders without a value: {leftover:?}"
    );
    text
}
