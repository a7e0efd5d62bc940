//! Stream-related control frames waiting to be sent, written into packets,
//! and re-queued with their current value when lost (RFC 9000 §13.3).

use std::collections::VecDeque;

use super::Streams;
use super::sent::{SentFrame, StreamsSent};
use super::state::SendState;
use crate::coding::VarInt;
use crate::frame::{
    DataBlocked, Frame, MaxData, MaxStreamData, MaxStreams, ResetStream, StopSending,
    StreamDataBlocked, StreamsBlocked,
};
use crate::shared::{Dir, StreamId};

/// A per-stream control frame to send; its fields are read from the stream
/// when the frame is written, so the latest value goes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StreamControl {
    ResetStream,
    StopSending,
    MaxStreamData,
    StreamDataBlocked,
}

/// Control frames waiting for a packet.
///
/// Each per-stream entry is queued at most once at a time (a flag in the
/// stream says it is queued), so the queue holds at most four entries per
/// stream.
#[derive(Debug, Default)]
pub(super) struct PendingControl {
    /// Send our current MAX_DATA.
    pub max_data: bool,
    /// Send DATA_BLOCKED at this limit.
    pub data_blocked: Option<u64>,
    /// Send our current MAX_STREAMS, per direction.
    pub max_streams: [bool; 2],
    /// Send STREAMS_BLOCKED at this limit, per direction.
    pub streams_blocked: [Option<u64>; 2],
    /// The limit STREAMS_BLOCKED was last queued for, per direction: it is
    /// sent once per limit, however often `open` is refused (RFC 9000
    /// §4.6), and again only if lost.
    pub streams_blocked_at: [Option<u64>; 2],
    /// Per-stream frames, oldest first.
    pub per_stream: VecDeque<(StreamId, StreamControl)>,
}

impl PendingControl {
    fn is_empty(&self) -> bool {
        !self.max_data
            && self.data_blocked.is_none()
            && self.max_streams == [false; 2]
            && self.streams_blocked == [None; 2]
            && self.per_stream.is_empty()
    }
}

const DIRS: [Dir; 2] = [Dir::Bi, Dir::Uni];

impl Streams {
    /// Whether control frames are waiting to be sent.
    ///
    /// A queued per-stream frame can become moot (its stream closed); then
    /// [`write_control_frames`](Self::write_control_frames) drops it and may
    /// write nothing.
    pub fn has_pending_control(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Queues a per-stream control frame unless one of that kind is queued.
    pub(super) fn queue_control(&mut self, id: StreamId, kind: StreamControl) {
        if let Some(flag) = self.control_flag(id, kind) {
            if !*flag {
                *flag = true;
                self.pending.per_stream.push_back((id, kind));
            }
        }
    }

    fn control_flag(&mut self, id: StreamId, kind: StreamControl) -> Option<&mut bool> {
        match kind {
            StreamControl::ResetStream => self.send.get_mut(&id).map(|s| &mut s.reset_queued),
            StreamControl::StreamDataBlocked => {
                self.send.get_mut(&id).map(|s| &mut s.blocked_queued)
            }
            StreamControl::StopSending => self.recv.get_mut(&id).map(|r| &mut r.stop_queued),
            StreamControl::MaxStreamData => self.recv.get_mut(&id).map(|r| &mut r.max_data_queued),
        }
    }

    /// The frame for a queued entry with current values, or `None` if it is
    /// no longer needed.
    fn stream_control_frame(&self, id: StreamId, kind: StreamControl) -> Option<Frame> {
        let var = VarInt::saturating_from_u64;
        match kind {
            StreamControl::ResetStream => {
                let send = self.send.get(&id)?;
                (send.state == SendState::ResetSent).then(|| {
                    Frame::ResetStream(ResetStream {
                        id,
                        error_code: send.reset_code.unwrap_or(VarInt::ZERO),
                        final_size: var(send.final_size()),
                    })
                })
            }
            StreamControl::StreamDataBlocked => {
                let send = self.send.get(&id)?;
                let blocked = matches!(send.state, SendState::Ready | SendState::Send)
                    && send.blocked_at == Some(send.max_stream_data);
                blocked.then(|| {
                    Frame::StreamDataBlocked(StreamDataBlocked {
                        id,
                        limit: var(send.max_stream_data),
                    })
                })
            }
            StreamControl::StopSending => {
                let recv = self.recv.get(&id)?;
                recv.wants_stop_sending().then(|| {
                    Frame::StopSending(StopSending {
                        id,
                        error_code: recv.stop_code.unwrap_or(VarInt::ZERO),
                    })
                })
            }
            StreamControl::MaxStreamData => {
                let recv = self.recv.get(&id)?;
                recv.wants_credit().then(|| {
                    Frame::MaxStreamData(MaxStreamData {
                        id,
                        max: var(recv.window.limit()),
                    })
                })
            }
        }
    }

    /// Appends pending MAX_DATA, MAX_STREAMS, DATA_BLOCKED, STREAMS_BLOCKED,
    /// RESET_STREAM, STOP_SENDING, MAX_STREAM_DATA and STREAM_DATA_BLOCKED
    /// frames to `out`, at most `budget` bytes in all, and records them in
    /// `sent`. Returns the number of bytes written. Frames that do not fit
    /// stay queued.
    pub fn write_control_frames(
        &mut self,
        out: &mut Vec<u8>,
        budget: usize,
        sent: &mut StreamsSent,
    ) -> usize {
        let start = out.len();
        let mut sink = Sink {
            out,
            limit: start.saturating_add(budget),
            sent,
        };
        self.write_connection_control(&mut sink);
        self.write_stream_control(&mut sink);
        sink.out.len() - start
    }

    /// MAX_DATA, MAX_STREAMS, STREAMS_BLOCKED and DATA_BLOCKED. Blocked
    /// signals are dropped once the peer raised the limit they report.
    fn write_connection_control(&mut self, sink: &mut Sink<'_>) {
        if self.pending.max_data {
            let max = self.receive.window.limit();
            let frame = Frame::MaxData(MaxData {
                max: VarInt::saturating_from_u64(max),
            });
            self.pending.max_data = !sink.put(frame, SentFrame::MaxData { max });
        }
        for dir in DIRS {
            let d = dir as usize;
            if self.pending.max_streams[d] {
                let count = self.limits.local_max(dir);
                let frame = Frame::MaxStreams(MaxStreams { dir, count });
                self.pending.max_streams[d] =
                    !sink.put(frame, SentFrame::MaxStreams { dir, count });
            }
            if let Some(limit) = self.pending.streams_blocked[d] {
                let frame = Frame::StreamsBlocked(StreamsBlocked { dir, limit });
                if limit != self.limits.peer_max(dir)
                    || sink.put(frame, SentFrame::StreamsBlocked { dir, limit })
                {
                    self.pending.streams_blocked[d] = None;
                }
            }
        }
        if let Some(limit) = self.pending.data_blocked {
            let frame = Frame::DataBlocked(DataBlocked {
                limit: VarInt::saturating_from_u64(limit),
            });
            if limit != self.send_credit.max_data
                || sink.put(frame, SentFrame::DataBlocked { limit })
            {
                self.pending.data_blocked = None;
            }
        }
    }

    /// The per-stream frames, oldest first, until one does not fit. Entries
    /// that became moot are dropped.
    fn write_stream_control(&mut self, sink: &mut Sink<'_>) {
        while let Some(&(id, kind)) = self.pending.per_stream.front() {
            if let Some(frame) = self.stream_control_frame(id, kind) {
                if !sink.put(frame, stream_record(id, kind, self)) {
                    return;
                }
                if kind == StreamControl::StreamDataBlocked {
                    self.mark_stream_opened(id);
                }
            }
            self.pending.per_stream.pop_front();
            if let Some(flag) = self.control_flag(id, kind) {
                *flag = false;
            }
        }
    }

    /// Sending STREAM_DATA_BLOCKED moves a Ready stream to Send (RFC 9000
    /// §3.1).
    fn mark_stream_opened(&mut self, id: StreamId) {
        if let Some(send) = self.send.get_mut(&id) {
            let moved = send.state.on_send_stream();
            debug_assert!(moved.is_ok());
        }
    }

    /// A lost control frame is sent again only if its value is still the
    /// one to send (RFC 9000 §13.3): the latest MAX_DATA, MAX_STREAM_DATA or
    /// MAX_STREAMS; a blocked signal still blocked at the same limit; a
    /// RESET_STREAM not yet acknowledged; a STOP_SENDING while the stream is
    /// in Recv or Size Known.
    pub(super) fn on_control_lost(&mut self, frame: SentFrame) {
        match frame {
            SentFrame::MaxData { max } => {
                self.pending.max_data |= max == self.receive.window.limit();
            }
            SentFrame::MaxStreams { dir, count } => {
                self.pending.max_streams[dir as usize] |= count == self.limits.local_max(dir);
            }
            SentFrame::DataBlocked { limit } => {
                if limit == self.send_credit.max_data && self.pending.data_blocked.is_none() {
                    self.pending.data_blocked = Some(limit);
                }
            }
            SentFrame::StreamsBlocked { dir, limit } => {
                let d = dir as usize;
                if limit == self.limits.peer_max(dir) && self.pending.streams_blocked[d].is_none() {
                    self.pending.streams_blocked[d] = Some(limit);
                }
            }
            SentFrame::MaxStreamData { id, max } => {
                let current = self.recv.get(&id).map(|r| r.window.limit());
                if current == Some(max) {
                    self.queue_control(id, StreamControl::MaxStreamData);
                }
            }
            SentFrame::StreamDataBlocked { id, limit } => {
                if self
                    .send
                    .get(&id)
                    .is_some_and(|s| s.blocked_at == Some(limit))
                {
                    self.queue_control(id, StreamControl::StreamDataBlocked);
                }
            }
            SentFrame::ResetStream { id } => self.queue_control(id, StreamControl::ResetStream),
            SentFrame::StopSending { id } => self.queue_control(id, StreamControl::StopSending),
            SentFrame::Stream { .. } => {}
        }
    }
}

/// Where control frames go: the packet, up to `limit` bytes, and the record.
struct Sink<'a> {
    out: &'a mut Vec<u8>,
    limit: usize,
    sent: &'a mut StreamsSent,
}

impl Sink<'_> {
    /// Writes `frame` and records it if it fits.
    fn put(&mut self, frame: Frame, record: SentFrame) -> bool {
        if self.out.len().saturating_add(frame.encoded_len()) > self.limit {
            return false;
        }
        frame.encode(self.out);
        self.sent.push(record);
        true
    }
}

/// The record of a per-stream control frame about to be written.
fn stream_record(id: StreamId, kind: StreamControl, streams: &Streams) -> SentFrame {
    match kind {
        StreamControl::ResetStream => SentFrame::ResetStream { id },
        StreamControl::StopSending => SentFrame::StopSending { id },
        StreamControl::MaxStreamData => SentFrame::MaxStreamData {
            id,
            max: streams.recv.get(&id).map_or(0, |r| r.window.limit()),
        },
        StreamControl::StreamDataBlocked => SentFrame::StreamDataBlocked {
            id,
            limit: streams.send.get(&id).map_or(0, |s| s.max_stream_data),
        },
    }
}
