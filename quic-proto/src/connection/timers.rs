//! Every timer a connection runs, in one table indexed by one enum
//! (DESIGN.md rule 2, STYLE.md §4). `poll_timeout` is the table's minimum;
//! `handle_timeout` fires the expired entries through one `match` in the
//! connection.

use std::time::Instant;

/// A connection timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timer {
    /// Loss detection or probe timeout (RFC 9002 §6.2, App. A.8).
    LossDetection = 0,
    /// The delayed ACK deadline (RFC 9000 §13.2.1).
    Ack = 1,
    /// The idle timeout (RFC 9000 §10.1).
    Idle = 2,
    /// Send a PING to keep the connection alive (RFC 9000 §10.1.2).
    KeepAlive = 3,
    /// When the pacer releases the next datagram (RFC 9002 §7.7).
    Pacing = 4,
    /// End of the closing or draining period (RFC 9000 §10.2).
    Close = 5,
    /// Discard the previous 1-RTT keys after a key update (RFC 9001 §6.5).
    KeyDiscard = 6,
    /// Give up on a path validation (RFC 9000 §8.2.4).
    PathValidation = 7,
}

impl Timer {
    /// The number of timers.
    pub const COUNT: usize = 8;

    /// Every timer, in the order they fire when due together.
    pub const ALL: [Self; Self::COUNT] = [
        Self::Close,
        Self::Idle,
        Self::LossDetection,
        Self::Ack,
        Self::KeepAlive,
        Self::Pacing,
        Self::KeyDiscard,
        Self::PathValidation,
    ];
}

/// The deadline of every timer.
#[derive(Debug, Clone, Default)]
pub struct TimerTable {
    deadlines: [Option<Instant>; Timer::COUNT],
}

impl TimerTable {
    /// Arms `timer` for `deadline`, replacing any earlier setting.
    pub fn set(&mut self, timer: Timer, deadline: Instant) {
        self.deadlines[timer as usize] = Some(deadline);
    }

    /// Arms or disarms `timer`.
    pub fn set_or_stop(&mut self, timer: Timer, deadline: Option<Instant>) {
        self.deadlines[timer as usize] = deadline;
    }

    /// Disarms `timer`.
    pub fn stop(&mut self, timer: Timer) {
        self.deadlines[timer as usize] = None;
    }

    /// The deadline of `timer`, if armed.
    pub fn get(&self, timer: Timer) -> Option<Instant> {
        self.deadlines[timer as usize]
    }

    /// Whether `timer` is armed and due at `now`.
    pub fn is_expired(&self, timer: Timer, now: Instant) -> bool {
        self.get(timer).is_some_and(|deadline| deadline <= now)
    }

    /// The earliest deadline of all.
    pub fn next_timeout(&self) -> Option<Instant> {
        self.deadlines.iter().flatten().min().copied()
    }

    /// Disarms every timer.
    pub fn stop_all(&mut self) {
        self.deadlines = [None; Timer::COUNT];
    }

    /// Disarms and returns the timers due at `now`, in [`Timer::ALL`] order.
    pub fn take_expired(&mut self, now: Instant) -> impl Iterator<Item = Timer> + use<> {
        let mut expired = [None; Timer::COUNT];
        for (slot, timer) in expired.iter_mut().zip(Timer::ALL) {
            if self.is_expired(timer, now) {
                self.stop(timer);
                *slot = Some(timer);
            }
        }
        expired.into_iter().flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn all_lists_every_timer_once() {
        let mut seen = [false; Timer::COUNT];
        for timer in Timer::ALL {
            assert!(!seen[timer as usize]);
            seen[timer as usize] = true;
        }
        assert!(seen.iter().all(|&s| s));
    }

    #[test]
    fn next_timeout_is_the_minimum_and_expired_timers_fire_once() {
        #[allow(clippy::disallowed_methods)] // a fixed origin; only offsets matter
        let t0 = Instant::now();
        let mut table = TimerTable::default();
        assert_eq!(table.next_timeout(), None);
        table.set(Timer::Idle, t0 + Duration::from_secs(30));
        table.set(Timer::Ack, t0 + Duration::from_millis(25));
        table.set(Timer::Close, t0 + Duration::from_millis(25));
        assert_eq!(table.next_timeout(), Some(t0 + Duration::from_millis(25)));
        let fired: Vec<Timer> = table.take_expired(t0 + Duration::from_millis(25)).collect();
        assert_eq!(fired, [Timer::Close, Timer::Ack]);
        assert_eq!(
            table.take_expired(t0 + Duration::from_millis(25)).count(),
            0
        );
        assert_eq!(table.next_timeout(), Some(t0 + Duration::from_secs(30)));
        table.stop_all();
        assert_eq!(table.next_timeout(), None);
    }
}
