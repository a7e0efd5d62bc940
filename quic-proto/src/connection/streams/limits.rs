//! Stream counts (RFC 9000 §2.1, §4.6): which stream IDs each side may open,
//! which it has opened, and the checks a frame's stream ID must pass.

use std::ops::Range;

use crate::error::TransportError;
use crate::frame::MAX_STREAM_COUNT;
use crate::shared::{Dir, Side, StreamId};

/// Which part of a stream a received frame is about, from our side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// Our receiving part: STREAM, RESET_STREAM, STREAM_DATA_BLOCKED.
    Recv,
    /// Our sending part: MAX_STREAM_DATA, STOP_SENDING.
    Send,
}

/// Where a stream ID named by a received frame stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Known {
    /// Opened earlier (by either side); it may since have been closed and
    /// forgotten.
    Opened,
    /// A peer-initiated stream not opened yet, within our limit: the frame
    /// opens it and every lower-numbered stream of its type (RFC 9000 §3.2).
    New,
}

/// Stream counts per direction, indexed by `Dir as usize`.
#[derive(Debug, Clone)]
pub struct StreamLimits {
    side: Side,
    /// The index of the next stream we open.
    next_local: [u64; 2],
    /// The peer's limit on the streams we open (its MAX_STREAMS).
    peer_max: [u64; 2],
    /// The index of the next stream the peer opens.
    next_remote: [u64; 2],
    /// Our limit on the streams the peer opens (our MAX_STREAMS).
    local_max: [u64; 2],
    /// How many peer streams may be open at once (our configuration).
    max_concurrent: [u64; 2],
    /// Peer streams closed and forgotten.
    closed_remote: [u64; 2],
    /// The index of the next peer stream `accept` returns.
    next_accept: [u64; 2],
    /// Whether `open` was refused since the peer last raised its limit.
    open_blocked: [bool; 2],
}

impl StreamLimits {
    /// No streams yet; the peer may open `max_concurrent` of each direction
    /// (bidirectional, unidirectional), we may open none until its transport
    /// parameters arrive.
    pub fn new(side: Side, max_concurrent: [u64; 2]) -> Self {
        let max_concurrent = max_concurrent.map(|n| n.min(MAX_STREAM_COUNT));
        Self {
            side,
            next_local: [0; 2],
            peer_max: [0; 2],
            next_remote: [0; 2],
            local_max: max_concurrent,
            max_concurrent,
            closed_remote: [0; 2],
            next_accept: [0; 2],
            open_blocked: [false; 2],
        }
    }

    /// Whether we initiated `id`.
    pub fn is_local(&self, id: StreamId) -> bool {
        id.initiator() == self.side
    }

    /// Checks the stream ID of a received frame about `part` of the stream
    /// (RFC 9000 §19.4, §19.5, §19.8, §19.10, §19.13, §4.6). The error has no
    /// frame type yet.
    pub fn check_incoming(&self, id: StreamId, part: Part) -> Result<Known, TransportError> {
        let local = self.is_local(id);
        let dir = id.dir();
        match (part, dir, local) {
            (Part::Recv, Dir::Uni, true) => {
                return Err(TransportError::STREAM_STATE_ERROR(
                    "frame for a send-only stream",
                ));
            }
            (Part::Send, Dir::Uni, false) => {
                return Err(TransportError::STREAM_STATE_ERROR(
                    "frame for a receive-only stream",
                ));
            }
            _ => {}
        }
        let d = dir as usize;
        if local {
            if id.index() >= self.next_local[d] {
                return Err(TransportError::STREAM_STATE_ERROR(
                    "frame for a locally-initiated stream not yet opened",
                ));
            }
            return Ok(Known::Opened);
        }
        if id.index() >= self.local_max[d] {
            return Err(TransportError::STREAM_LIMIT_ERROR(
                "stream ID beyond our MAX_STREAMS",
            ));
        }
        Ok(if id.index() < self.next_remote[d] {
            Known::Opened
        } else {
            Known::New
        })
    }

    /// Opens peer streams up to and including `id` (checked with
    /// [`check_incoming`](Self::check_incoming)); returns the indexes opened.
    pub fn open_remote(&mut self, id: StreamId) -> Range<u64> {
        let d = id.dir() as usize;
        let start = self.next_remote[d];
        let end = id.index().saturating_add(1).max(start);
        self.next_remote[d] = end;
        start..end
    }

    /// Opens the next stream of ours in `dir`, if the peer's limit allows.
    /// Otherwise remembers that `open` was refused and returns `None`.
    pub fn open_local(&mut self, dir: Dir) -> Option<StreamId> {
        let d = dir as usize;
        if self.next_local[d] >= self.peer_max[d] {
            self.open_blocked[d] = true;
            return None;
        }
        let id = StreamId::new(self.side, dir, self.next_local[d]);
        self.next_local[d] += 1;
        Some(id)
    }

    /// The peer's limit for our streams in `dir` (for STREAMS_BLOCKED).
    pub fn peer_max(&self, dir: Dir) -> u64 {
        self.peer_max[dir as usize]
    }

    /// Our limit for the peer's streams in `dir` (for MAX_STREAMS).
    pub fn local_max(&self, dir: Dir) -> u64 {
        self.local_max[dir as usize]
    }

    /// The peer's MAX_STREAMS (or transport parameter) for `dir`. Returns
    /// whether an `open` that was refused would now succeed; smaller limits
    /// are ignored (RFC 9000 §4.6).
    pub fn on_max_streams(&mut self, dir: Dir, count: u64) -> bool {
        let d = dir as usize;
        if count <= self.peer_max[d] {
            return false;
        }
        self.peer_max[d] = count.min(MAX_STREAM_COUNT);
        std::mem::take(&mut self.open_blocked[d])
    }

    /// A peer stream of `dir` was closed and forgotten: its credit is given
    /// back (RFC 9000 §4.6). Returns whether our limit moved.
    pub fn on_remote_closed(&mut self, dir: Dir) -> bool {
        let d = dir as usize;
        self.closed_remote[d] += 1;
        let max = self.closed_remote[d]
            .saturating_add(self.max_concurrent[d])
            .min(MAX_STREAM_COUNT);
        if max <= self.local_max[d] {
            return false;
        }
        self.local_max[d] = max;
        true
    }

    /// The next stream the peer opened that the application has not
    /// accepted, in order.
    pub fn accept(&mut self, dir: Dir) -> Option<StreamId> {
        let d = dir as usize;
        if self.next_accept[d] >= self.next_remote[d] {
            return None;
        }
        let id = StreamId::new(!self.side, dir, self.next_accept[d]);
        self.next_accept[d] += 1;
        Some(id)
    }

    /// Whether `id` was opened, by either side.
    pub fn was_opened(&self, id: StreamId) -> bool {
        let d = id.dir() as usize;
        let next = if self.is_local(id) {
            self.next_local[d]
        } else {
            self.next_remote[d]
        };
        id.index() < next
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::TransportErrorCode;

    fn code(result: Result<Known, TransportError>) -> TransportErrorCode {
        result.unwrap_err().code
    }

    /// RFC 9000 §4.6: a stream ID at or beyond our limit is a
    /// STREAM_LIMIT_ERROR; within it, the frame opens all lower streams.
    #[test]
    fn rfc9000_4_6_stream_limit() {
        let mut limits = StreamLimits::new(Side::Server, [2, 1]);
        let client_bi = |i| StreamId::new(Side::Client, Dir::Bi, i);
        assert_eq!(
            limits.check_incoming(client_bi(1), Part::Recv),
            Ok(Known::New)
        );
        assert_eq!(
            code(limits.check_incoming(client_bi(2), Part::Recv)),
            TransportErrorCode::STREAM_LIMIT_ERROR
        );
        assert_eq!(limits.open_remote(client_bi(1)), 0..2);
        assert_eq!(
            limits.check_incoming(client_bi(0), Part::Send),
            Ok(Known::Opened)
        );
        assert_eq!(limits.accept(Dir::Bi), Some(client_bi(0)));
        assert_eq!(limits.accept(Dir::Bi), Some(client_bi(1)));
        assert_eq!(limits.accept(Dir::Bi), None);
        assert!(limits.on_remote_closed(Dir::Bi));
        assert_eq!(limits.local_max(Dir::Bi), 3);
        assert_eq!(
            limits.check_incoming(client_bi(2), Part::Recv),
            Ok(Known::New)
        );
    }

    /// RFC 9000 §19.8, §19.4, §19.5, §19.10: direction and "not yet created"
    /// checks.
    #[test]
    fn rfc9000_19_8_stream_state_checks() {
        let mut limits = StreamLimits::new(Side::Client, [10, 10]);
        let ours_uni = StreamId::new(Side::Client, Dir::Uni, 0);
        let theirs_uni = StreamId::new(Side::Server, Dir::Uni, 0);
        let ours_bi = StreamId::new(Side::Client, Dir::Bi, 0);
        let state = TransportErrorCode::STREAM_STATE_ERROR;
        assert_eq!(code(limits.check_incoming(ours_uni, Part::Recv)), state);
        assert_eq!(code(limits.check_incoming(theirs_uni, Part::Send)), state);
        assert_eq!(code(limits.check_incoming(ours_bi, Part::Send)), state);
        assert_eq!(limits.open_local(Dir::Bi), None, "no peer limit yet");
        assert!(limits.on_max_streams(Dir::Bi, 1), "open was refused before");
        assert!(!limits.on_max_streams(Dir::Bi, 1));
        assert_eq!(limits.open_local(Dir::Bi), Some(ours_bi));
        assert_eq!(
            limits.check_incoming(ours_bi, Part::Send),
            Ok(Known::Opened)
        );
        assert!(limits.was_opened(ours_bi));
        assert!(!limits.was_opened(StreamId::new(Side::Client, Dir::Bi, 1)));
    }
}
