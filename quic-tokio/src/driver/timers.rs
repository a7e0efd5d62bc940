//! The connections' deadlines in one ordered set (DESIGN.md: "One `Sleep`
//! per endpoint"): the driver arms its single `Sleep` at the earliest.

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use quic_proto::endpoint::ConnectionHandle;

/// Each connection's next deadline, ordered by time.
#[derive(Debug, Default)]
pub(crate) struct TimerSet {
    order: BTreeSet<(Instant, ConnectionHandle)>,
    deadlines: HashMap<ConnectionHandle, Instant>,
}

impl TimerSet {
    /// Sets (or with `None` clears) the deadline of `handle`.
    pub(crate) fn set(&mut self, handle: ConnectionHandle, deadline: Option<Instant>) {
        let old = match deadline {
            Some(at) => self.deadlines.insert(handle, at),
            None => self.deadlines.remove(&handle),
        };
        if old == deadline {
            return;
        }
        if let Some(old) = old {
            self.order.remove(&(old, handle));
        }
        if let Some(at) = deadline {
            self.order.insert((at, handle));
        }
    }

    /// The earliest deadline.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.order.first().map(|&(at, _)| at)
    }

    /// Removes and returns a connection whose deadline is at or before
    /// `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<ConnectionHandle> {
        let &(at, handle) = self.order.first()?;
        if at > now {
            return None;
        }
        self.order.pop_first();
        self.deadlines.remove(&handle);
        Some(handle)
    }

    /// How many connections have a deadline.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.deadlines.len()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn pops_in_deadline_order_and_replaces_old_deadlines() {
        let start = tokio::time::Instant::now().into_std();
        let at = |ms| start + Duration::from_millis(ms);
        let mut timers = TimerSet::default();
        timers.set(ConnectionHandle(1), Some(at(30)));
        timers.set(ConnectionHandle(2), Some(at(10)));
        timers.set(ConnectionHandle(3), Some(at(20)));
        timers.set(ConnectionHandle(1), Some(at(5)));
        timers.set(ConnectionHandle(3), None);
        assert_eq!(timers.len(), 2);
        assert_eq!(timers.next(), Some(at(5)));
        assert_eq!(timers.pop_due(at(4)), None);
        assert_eq!(timers.pop_due(at(10)), Some(ConnectionHandle(1)));
        assert_eq!(timers.pop_due(at(10)), Some(ConnectionHandle(2)));
        assert_eq!(timers.pop_due(at(100)), None);
        assert_eq!(timers.next(), None);
        assert_eq!(timers.len(), 0);
    }
}
