//! Waiting for the deadlines the sans-I/O cores ask for.

use std::time::Instant;

/// Sleeps until `deadline`, or forever when there is none (the other branches of a
/// `select!` wake the caller then).
pub(crate) async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await,
        None => std::future::pending().await,
    }
}
