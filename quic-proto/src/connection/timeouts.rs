//! Firing timers (DESIGN.md rule 2): `handle_timeout` runs every expired
//! entry of the table through one `match`, and `update_timers` re-arms the
//! table after every input.

use std::time::Instant;

use super::events::ConnectionError;
use super::recovery::TimeoutOutcome;
use super::timers::Timer;
use super::{Connection, State};
use crate::shared::SpaceId;

impl Connection {
    /// Fires every timer due at `now`. Call when the deadline of
    /// [`poll_timeout`](Self::poll_timeout) has passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        for timer in self.timers.take_expired(now) {
            match timer {
                Timer::Close => self.finish_drain(),
                // RFC 9000 §10.1: an idle connection is closed silently.
                Timer::Idle => self.drain_now(ConnectionError::TimedOut),
                Timer::LossDetection => self.on_loss_detection_timeout(now),
                // `poll_transmit` sends what is due.
                Timer::Ack | Timer::Pacing => {}
                Timer::KeepAlive => self.space_mut(SpaceId::Data).ping_pending = true,
                Timer::KeyDiscard => {
                    if let Some(keys) = self.one_rtt.as_mut() {
                        keys.discard_previous();
                    }
                }
                Timer::PathValidation => self.path.challenge = None,
            }
            if self.is_drained() {
                return;
            }
        }
        self.update_timers(now);
    }

    /// RFC 9002 §6.1.2 and §6.2: declare losses by time, or send probes.
    fn on_loss_detection_timeout(&mut self, now: Instant) {
        let ctx = self.recovery_context();
        let (recovery, mut sink) = self.recovery_and_sink();
        let outcome = recovery.on_loss_detection_timeout(now, &ctx, &mut sink);
        if let TimeoutOutcome::Probe(probe) = outcome {
            self.stats.ptos += 1;
            let space = self.space_mut(probe.space);
            space.probes = space.probes.max(probe.packets);
            self.resend_unacked_crypto();
        }
    }

    /// RFC 9002 §6.2.4: with no new data, a probe carries data sent before,
    /// and handshake data in flight in the other space goes along, coalesced
    /// (the peer may hold keys for only one of them). Otherwise a probe is a
    /// bare PING, and handshake data lost with its packet waits for an ACK
    /// that, when the peer's ACKs are lost too, may not come for many
    /// backed-off PTOs.
    fn resend_unacked_crypto(&mut self) {
        for space in [SpaceId::Initial, SpaceId::Handshake] {
            if !self.can_send_in(space) {
                continue;
            }
            let sent = self.recovery.sent_packets(space);
            let Some(largest) = sent.largest_sent() else {
                continue;
            };
            let ranges: Vec<(u64, u64)> = (sent.lowest()..=largest)
                .filter_map(|pn| sent.get(pn)?.info.crypto)
                .collect();
            let crypto = &mut self.space_mut(space).crypto;
            for (offset, len) in ranges {
                crypto.on_lost(offset, len);
            }
        }
    }

    /// Re-arms every timer from the components' state.
    pub(super) fn update_timers(&mut self, now: Instant) {
        if !matches!(self.state, State::Handshake | State::Established) {
            return;
        }
        let ctx = self.recovery_context();
        self.timers.set_or_stop(
            Timer::LossDetection,
            self.recovery.loss_detection_timer(&ctx),
        );
        let max_ack_delay = self.config.max_ack_delay;
        let ack = SpaceId::ALL
            .into_iter()
            .filter(|&space| self.can_send_in(space) && !self.withhold_acks)
            .filter_map(|space| self.space(space).received.ack_deadline(max_ack_delay))
            .min();
        self.timers.set_or_stop(Timer::Ack, ack);
        let keep_alive = match (self.config.keep_alive_interval, &self.state) {
            (Some(interval), State::Established) => {
                Some(self.last_ack_eliciting_sent.unwrap_or(now) + interval)
            }
            _ => None,
        };
        self.timers.set_or_stop(Timer::KeepAlive, keep_alive);
        // RFC 9001 §6.5: the old receive key goes three PTOs after the first
        // packet with the new keys, whichever side started the update; until
        // then no further update may start (`OneRttKeys::can_update`).
        let discard_due = self
            .one_rtt
            .as_ref()
            .is_some_and(|keys| keys.previous_awaiting_discard());
        if discard_due && self.timers.get(Timer::KeyDiscard).is_none() {
            let pto = self.recovery.pto_period(self.peer_max_ack_delay());
            self.timers.set(Timer::KeyDiscard, now + 3 * pto);
        }
        if self.timers.get(Timer::Pacing).is_some_and(|at| at <= now) {
            self.timers.stop(Timer::Pacing);
        }
    }

    /// Whether we hold the keys to send in `space`.
    pub(super) fn can_send_in(&self, space: SpaceId) -> bool {
        match space {
            SpaceId::Initial | SpaceId::Handshake => {
                let state = self.space(space);
                state.keys.is_some() && !state.discarded
            }
            SpaceId::Data => self.one_rtt.is_some(),
        }
    }
}
