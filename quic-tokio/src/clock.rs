//! The only place quic-tokio reads a clock (STYLE.md §3): quic-proto takes
//! time as an input, and everything here passes it along.

use std::time::{Instant, SystemTime};

/// Now, on Tokio's clock, so that `tokio::time::pause()` drives every
/// connection's timers in tests.
pub(crate) fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// `now()` paired with the wall-clock time, read once when an endpoint
/// starts: address-validation tokens carry wall-clock times so that they
/// survive restarts (`quic_proto::endpoint::Endpoint::set_wall_clock`).
#[allow(
    clippy::disallowed_methods,
    reason = "tokens need the wall clock; it is read once per endpoint, here"
)]
pub(crate) fn wall_clock() -> (Instant, SystemTime) {
    (now(), SystemTime::now())
}
