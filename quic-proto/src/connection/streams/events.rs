//! Stream events for the application, queued at safe points (DESIGN.md
//! rule 3) and drained with [`Streams::poll_event`](super::Streams::poll_event).

use std::collections::VecDeque;

use crate::coding::VarInt;
use crate::shared::{Dir, StreamId};

/// Something about streams the application may want to act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamEvent {
    /// The peer opened one or more streams of this direction;
    /// [`Streams::accept`](super::Streams::accept) returns them.
    Opened {
        /// Their direction.
        dir: Dir,
    },
    /// The stream has data to read, its end was reached, or it was reset:
    /// [`Streams::read`](super::Streams::read) returns something other than
    /// [`ReadError::Blocked`](super::ReadError::Blocked).
    Readable {
        /// The stream.
        id: StreamId,
    },
    /// A write that was blocked or partial can now accept more data.
    Writable {
        /// The stream.
        id: StreamId,
    },
    /// Every byte written and the FIN were acknowledged (RFC 9000 §3.1
    /// "Data Recvd").
    Finished {
        /// The stream.
        id: StreamId,
    },
    /// The peer asked us to stop sending (STOP_SENDING); the stream was
    /// reset with the same code (RFC 9000 §3.5).
    Stopped {
        /// The stream.
        id: StreamId,
        /// The application error code of the STOP_SENDING frame.
        error_code: VarInt,
    },
    /// [`Streams::open`](super::Streams::open) for this direction was
    /// refused by the peer's stream limit, and would now succeed.
    Available {
        /// The direction.
        dir: Dir,
    },
}

/// A FIFO of events without duplicates.
///
/// `Opened` and `Available` are deduplicated here per direction; `Readable`
/// and `Writable` by a flag in the stream they concern (the caller checks
/// it). `Finished` and `Stopped` happen at most once per stream. So the queue
/// holds at most four events per stream plus four, and streams are bounded
/// by the stream limits.
#[derive(Debug, Default)]
pub(super) struct EventQueue {
    queue: VecDeque<StreamEvent>,
    opened: [bool; 2],
    available: [bool; 2],
}

impl EventQueue {
    /// Queues `event`; `Opened` and `Available` only if not already queued.
    pub(super) fn push(&mut self, event: StreamEvent) {
        let flag = match event {
            StreamEvent::Opened { dir } => Some(&mut self.opened[dir as usize]),
            StreamEvent::Available { dir } => Some(&mut self.available[dir as usize]),
            _ => None,
        };
        if let Some(flag) = flag {
            if *flag {
                return;
            }
            *flag = true;
        }
        self.queue.push_back(event);
    }

    /// The oldest event.
    pub(super) fn pop(&mut self) -> Option<StreamEvent> {
        let event = self.queue.pop_front()?;
        match event {
            StreamEvent::Opened { dir } => self.opened[dir as usize] = false,
            StreamEvent::Available { dir } => self.available[dir as usize] = false,
            _ => {}
        }
        Some(event)
    }

    /// The number of queued events.
    pub(super) fn len(&self) -> usize {
        self.queue.len()
    }
}
