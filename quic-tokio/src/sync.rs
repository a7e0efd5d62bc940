//! A mutex whose acquisitions are named by purpose (STYLE.md §8), so that
//! contention shows up in traces as "who waited for what".

use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError};

/// A `std::sync::Mutex` locked with [`Lock::lock`]. Never held across an
/// `.await`.
#[derive(Debug, Default)]
pub(crate) struct Lock<T> {
    inner: Mutex<T>,
}

impl<T> Lock<T> {
    pub(crate) fn new(value: T) -> Self {
        Self {
            inner: Mutex::new(value),
        }
    }

    /// Locks for `purpose` (e.g. `"poll_read"`), tracing when it had to
    /// wait.
    ///
    /// A panic while the lock was held does not poison it for everyone
    /// else: the state behind it is only ever changed through complete
    /// quic-proto calls, so it stays consistent.
    pub(crate) fn lock(&self, purpose: &'static str) -> MutexGuard<'_, T> {
        match self.inner.try_lock() {
            Ok(guard) => guard,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => {
                tracing::trace!(purpose, "waiting for a contended lock");
                self.inner.lock().unwrap_or_else(PoisonError::into_inner)
            }
        }
    }
}
