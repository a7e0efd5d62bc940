//! The sending part of a stream: the application's data as `Bytes` chunks,
//! what was sent, acknowledged and lost (RFC 9000 §2.2, §3.1, §13.3).

use std::collections::VecDeque;
use std::ops::Range;

use bytes::{Buf, Bytes};

use super::sent::SentFrame;
use super::state::SendState;
use crate::coding::{BufMutExt, VarInt};
use crate::frame;
use crate::range_set::RangeSet;
use crate::shared::StreamId;

/// Stream data from the first unacknowledged byte to the last byte written.
///
/// The application's [`Bytes`] are kept as they were written (no copy);
/// a STREAM frame copies its bytes straight from them into the packet.
/// Retransmissions are offset ranges into the same chunks. Acknowledged
/// prefixes are dropped at once.
#[derive(Debug, Default)]
pub struct SendBuffer {
    /// Unacknowledged data as `(offset, chunk)`, contiguous, the first
    /// starting at `acked_below` (or holding the bytes around it).
    chunks: VecDeque<(u64, Bytes)>,
    /// Every byte below this offset is acknowledged.
    acked_below: u64,
    /// One past the last byte written.
    end: u64,
    /// One past the highest byte sent: new data starts here.
    sent: u64,
    /// Acknowledged ranges above `acked_below`.
    acked: RangeSet,
    /// Lost ranges awaiting retransmission, below `sent`, not acknowledged.
    lost: RangeSet,
}

impl SendBuffer {
    /// Appends the application's data.
    pub fn push(&mut self, data: Bytes) {
        if data.is_empty() {
            return;
        }
        let len = data.len() as u64;
        self.chunks.push_back((self.end, data));
        self.end += len;
    }

    /// One past the last byte written.
    pub fn end(&self) -> u64 {
        self.end
    }

    /// One past the highest byte sent.
    pub fn sent(&self) -> u64 {
        self.sent
    }

    /// Bytes written and not yet acknowledged.
    pub fn unacked(&self) -> u64 {
        self.end - self.acked_below
    }

    /// Whether every byte written was acknowledged.
    pub fn all_acked(&self) -> bool {
        self.acked_below == self.end
    }

    /// The first lost range, if any.
    pub fn first_lost(&self) -> Option<Range<u64>> {
        self.lost.iter().next()
    }

    /// Records that `range` was (re)sent.
    pub fn on_sent(&mut self, range: Range<u64>) {
        self.lost.remove(range.clone());
        self.sent = self.sent.max(range.end);
    }

    /// Records the acknowledgment of `range` and frees the acknowledged
    /// prefix.
    pub fn on_ack(&mut self, range: Range<u64>) {
        let range = range.start.max(self.acked_below)..range.end.min(self.sent);
        if range.is_empty() {
            return;
        }
        self.lost.remove(range.clone());
        self.acked.insert(range);
        if self.acked.min() == Some(self.acked_below) {
            if let Some(prefix) = self.acked.pop_min() {
                self.acked_below = prefix.end;
            }
        }
        self.free_acked_prefix();
    }

    fn free_acked_prefix(&mut self) {
        while let Some((start, chunk)) = self.chunks.front_mut() {
            let chunk_end = *start + chunk.len() as u64;
            if chunk_end <= self.acked_below {
                self.chunks.pop_front();
                continue;
            }
            if *start < self.acked_below {
                // Only whole-byte offsets inside the chunk: the cast is exact.
                chunk.advance((self.acked_below - *start) as usize);
                *start = self.acked_below;
            }
            break;
        }
    }

    /// Records the loss of `range`: its unacknowledged parts are to be sent
    /// again.
    pub fn on_lost(&mut self, range: Range<u64>) {
        let end = range.end.min(self.sent);
        let mut cursor = range.start.max(self.acked_below);
        for acked in self.acked.iter() {
            if acked.end <= cursor {
                continue;
            }
            if acked.start >= end {
                break;
            }
            if acked.start > cursor {
                self.lost.insert(cursor..acked.start);
            }
            cursor = acked.end;
        }
        if cursor < end {
            self.lost.insert(cursor..end);
        }
    }

    /// Copies the bytes of `range` (unacknowledged, below `end`) into `out`.
    pub fn copy_range(&self, range: Range<u64>, out: &mut Vec<u8>) {
        let mut pos = range.start;
        let mut i = self
            .chunks
            .partition_point(|(start, chunk)| start + chunk.len() as u64 <= pos);
        while pos < range.end {
            let Some((start, chunk)) = self.chunks.get(i) else {
                debug_assert!(false, "range {range:?} outside the send buffer");
                return;
            };
            let from = pos.saturating_sub(*start) as usize;
            let to = range.end.saturating_sub(*start).min(chunk.len() as u64) as usize;
            out.extend_from_slice(chunk.get(from..to).unwrap_or_default());
            pos = start + to as u64;
            i += 1;
        }
    }

    /// Where the first buffered chunk's bytes live (to check that writes
    /// keep the application's memory).
    #[cfg(test)]
    pub fn first_chunk_ptr(&self) -> Option<*const u8> {
        self.chunks.front().map(|(_, chunk)| chunk.as_ptr())
    }

    /// Drops all data after a reset: nothing more is sent. The data written
    /// but never sent is returned so its flow control credit can be reused.
    pub fn discard(&mut self) -> u64 {
        let unsent = self.end - self.sent;
        self.chunks = VecDeque::new();
        self.acked = RangeSet::new();
        self.lost = RangeSet::new();
        self.end = self.sent;
        self.acked_below = self.sent;
        unsent
    }
}

/// The sending part of a stream.
#[derive(Debug)]
pub struct SendStream {
    /// RFC 9000 §3.1 state.
    pub state: SendState,
    /// Data written and not acknowledged.
    pub buffer: SendBuffer,
    /// The peer's MAX_STREAM_DATA for this stream.
    pub max_stream_data: u64,
    /// Higher sends first (RFC 9000 §2.3).
    pub priority: i32,
    /// The application finished the stream.
    pub fin_requested: bool,
    /// The FIN is to be sent (first time, or again after a loss).
    pub fin_pending: bool,
    /// The FIN was acknowledged.
    pub fin_acked: bool,
    /// The code of the RESET_STREAM we send, once reset.
    pub reset_code: Option<VarInt>,
    /// The code of the peer's STOP_SENDING, if one arrived.
    pub stop_code: Option<VarInt>,
    /// The stream is in the retransmission queue.
    pub in_retransmit_queue: bool,
    /// The stream is in the new data queue.
    pub in_send_queue: bool,
    /// A write was blocked or partial: `Writable` is due when room appears.
    pub writable_wanted: bool,
    /// The stream waits for connection credit (MAX_DATA).
    pub conn_blocked: bool,
    /// A RESET_STREAM is queued.
    pub reset_queued: bool,
    /// A STREAM_DATA_BLOCKED is queued.
    pub blocked_queued: bool,
    /// The limit at which STREAM_DATA_BLOCKED was last queued.
    pub blocked_at: Option<u64>,
}

impl SendStream {
    /// A new sending part in Ready, with the peer's initial credit.
    pub fn new(max_stream_data: u64) -> Self {
        Self {
            state: SendState::Ready,
            buffer: SendBuffer::default(),
            max_stream_data,
            priority: 0,
            fin_requested: false,
            fin_pending: false,
            fin_acked: false,
            reset_code: None,
            stop_code: None,
            in_retransmit_queue: false,
            in_send_queue: false,
            writable_wanted: false,
            conn_blocked: false,
            reset_queued: false,
            blocked_queued: false,
            blocked_at: None,
        }
    }

    /// Whether the application may still write (no FIN, no reset).
    pub fn is_writable(&self) -> bool {
        !self.fin_requested && !self.state.is_reset() && !self.state.is_terminal()
    }

    /// The bytes a write may add under the buffer limit and the stream's
    /// flow control credit.
    pub fn room(&self, buffer_limit: u64) -> u64 {
        let buffer_room = buffer_limit.saturating_sub(self.buffer.unacked());
        let credit_room = self.max_stream_data.saturating_sub(self.buffer.end());
        buffer_room.min(credit_room)
    }

    /// The range the next frame of this kind would start with (possibly
    /// empty, for a FIN alone), or `None` if there is nothing to send.
    pub fn next_range(&self, retransmit: bool) -> Option<Range<u64>> {
        if self.state.is_reset() || self.state.is_terminal() {
            return None;
        }
        let end = self.buffer.end();
        if retransmit {
            if let Some(lost) = self.buffer.first_lost() {
                return Some(lost);
            }
            return (self.fin_pending && self.state == SendState::DataSent).then_some(end..end);
        }
        let sent = self.buffer.sent();
        let fin_first_time = self.fin_pending && self.state != SendState::DataSent;
        (sent < end || fin_first_time).then_some(sent..end)
    }

    /// Writes one STREAM frame of this kind into `out`, at most `space`
    /// bytes, and updates the state. `None` if nothing is to be sent or not
    /// even one byte of it fits.
    pub fn write_frame(
        &mut self,
        id: StreamId,
        retransmit: bool,
        space: usize,
        out: &mut Vec<u8>,
    ) -> Option<SentFrame> {
        let range = self.next_range(retransmit)?;
        let fits = frame::Stream::max_data_that_fits(id, range.start, space, true)?;
        let len = (range.end - range.start)
            .min(fits as u64)
            .min(u64::from(u32::MAX));
        if len == 0 && !range.is_empty() {
            return None;
        }
        let end = range.start + len;
        let fin = self.fin_pending && end == self.buffer.end();
        encode_stream_header(id, range.start, len, fin, out);
        self.buffer.copy_range(range.start..end, out);
        self.buffer.on_sent(range.start..end);
        let transition = if fin && self.state != SendState::DataSent {
            self.fin_pending = false;
            self.state.on_send_fin()
        } else {
            self.fin_pending &= !fin;
            self.state.on_send_stream()
        };
        debug_assert!(transition.is_ok(), "{transition:?}");
        Some(SentFrame::Stream {
            id,
            offset: range.start,
            len: len as u32,
            fin,
        })
    }

    /// A STREAM frame of ours was acknowledged. Returns whether the stream
    /// thereby reached Data Recvd (RFC 9000 §3.1 "Recv All ACKs").
    pub fn on_frame_acked(&mut self, range: Range<u64>, fin: bool) -> bool {
        if self.state.is_reset() || self.state.is_terminal() {
            return false;
        }
        self.buffer.on_ack(range);
        if fin {
            self.fin_acked = true;
            self.fin_pending = false;
        }
        if self.fin_acked && self.buffer.all_acked() {
            return self.state.on_all_acked().is_ok();
        }
        false
    }

    /// A STREAM frame of ours was lost: schedule what is not yet
    /// acknowledged again. Nothing is retransmitted after a reset
    /// (RFC 9000 §19.4).
    pub fn on_frame_lost(&mut self, range: Range<u64>, fin: bool) {
        if self.state.is_reset() || self.state.is_terminal() {
            return;
        }
        self.buffer.on_lost(range);
        if fin && !self.fin_acked {
            self.fin_pending = true;
        }
    }

    /// Resets the stream with `code` (RFC 9000 §3.1 "Send RESET_STREAM").
    /// Returns the bytes written but never sent, whose connection credit is
    /// given back, or `None` if the stream cannot be reset any more.
    pub fn reset(&mut self, code: VarInt) -> Option<u64> {
        self.state.on_reset_sent().ok()?;
        self.reset_code = Some(code);
        self.fin_pending = false;
        self.writable_wanted = false;
        Some(self.buffer.discard())
    }

    /// The final size a RESET_STREAM carries: everything sent (RFC 9000
    /// §4.5).
    pub fn final_size(&self) -> u64 {
        self.buffer.sent()
    }
}

/// Writes a STREAM frame header with a Length field for `len` bytes at
/// `offset`: the layout [`frame::Stream::encode`] produces, for data that
/// may span several chunks.
fn encode_stream_header(id: StreamId, offset: u64, len: u64, fin: bool, out: &mut Vec<u8>) {
    let header = frame::Stream {
        id,
        offset,
        fin,
        data: Bytes::new(),
    };
    header.frame_type(true).encode(out);
    out.put_var(VarInt::from(id));
    if offset != 0 {
        out.put_var(VarInt::saturating_from_u64(offset));
    }
    out.put_var(VarInt::saturating_from_u64(len));
    out.reserve(len as usize);
}

#[cfg(test)]
mod tests;
