//! Waiting for conditions, never for fixed times.
//!
//! The CI machine is a loaded 2-core box: timeouts are generous and every wait returns as
//! soon as its condition holds. `PARLEY_E2E_TIMEOUT_SCALE` (a float, default 1) stretches
//! every timeout of the rig for slower machines.

use std::time::{Duration, Instant};

/// For things that take milliseconds when all is well (a process answering a probe).
pub const SHORT: Duration = Duration::from_secs(10);
/// The default for protocol steps (a registration, a call being answered).
pub const MEDIUM: Duration = Duration::from_secs(20);
/// For steps that involve retransmissions, media or several round trips.
pub const LONG: Duration = Duration::from_secs(30);

/// `timeout` multiplied by `PARLEY_E2E_TIMEOUT_SCALE`.
pub fn scaled(timeout: Duration) -> Duration {
    let factor = std::env::var("PARLEY_E2E_TIMEOUT_SCALE")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|f| f.is_finite() && *f > 0.0)
        .unwrap_or(1.0);
    timeout.mul_f64(factor)
}

/// Polls `condition` until it returns `Some` or `timeout` (scaled) has passed. Polls often
/// at first (every 5 ms), then backs off to every 100 ms.
pub fn until<T>(timeout: Duration, mut condition: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + scaled(timeout);
    let mut pause = Duration::from_millis(5);
    loop {
        if let Some(value) = condition() {
            return Some(value);
        }
        let now = Instant::now();
        if now >= deadline {
            return None;
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

/// Like [`until`] for a boolean condition.
pub fn until_true(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    until(timeout, || condition().then_some(())).is_some()
}
