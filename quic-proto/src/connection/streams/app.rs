//! The application's side of streams (RFC 9000 §2.4): open, accept, write,
//! finish, reset, read, stop and prioritise.

use bytes::Bytes;

use super::Streams;
use super::control::StreamControl;
use super::error::{ClosedStream, FinishError, ReadError, WriteError};
use crate::coding::VarInt;
use crate::shared::{Dir, StreamId};

impl Streams {
    /// Opens a stream of ours in `dir`.
    ///
    /// `None` if the peer's stream limit (MAX_STREAMS) is reached; a
    /// STREAMS_BLOCKED frame is then queued (RFC 9000 §4.6, §19.14) and
    /// [`StreamEvent::Available`](super::StreamEvent::Available) follows when
    /// the peer raises the limit. The peer learns of the stream when data,
    /// a FIN or a RESET_STREAM is sent on it.
    pub fn open(&mut self, dir: Dir) -> Option<StreamId> {
        match self.limits.open_local(dir) {
            Some(id) => {
                self.create_stream(id);
                Some(id)
            }
            None => {
                let limit = self.limits.peer_max(dir);
                let d = dir as usize;
                if self.pending.streams_blocked_at[d] != Some(limit) {
                    self.pending.streams_blocked_at[d] = Some(limit);
                    self.pending.streams_blocked[d] = Some(limit);
                }
                None
            }
        }
    }

    /// The next stream of `dir` the peer opened, in stream ID order
    /// (opening a stream opens the lower-numbered ones too, RFC 9000 §3.2).
    pub fn accept(&mut self, dir: Dir) -> Option<StreamId> {
        self.limits.accept(dir)
    }

    /// Queues `data` for sending on `id`, without copying it.
    ///
    /// Takes as much as the stream's send buffer limit, its flow control
    /// credit and the connection's credit allow (RFC 9000 §2.4: credit is
    /// reserved when writing), and returns how much: a partial write keeps
    /// a slice of `data`. When credit is what stopped the write, a
    /// STREAM_DATA_BLOCKED or DATA_BLOCKED frame is queued (RFC 9000 §4.1);
    /// [`StreamEvent::Writable`](super::StreamEvent::Writable) follows when
    /// more can be written. Writing nothing is `Ok(0)`.
    pub fn write(&mut self, id: StreamId, data: Bytes) -> Result<usize, WriteError> {
        let limit = self.config.send_buffer_limit;
        let conn_room = self.send_credit.available();
        let send = self.send.get_mut(&id).ok_or(WriteError::ClosedStream)?;
        if let Some(code) = send.stop_code {
            return Err(WriteError::Stopped(code));
        }
        if !send.is_writable() {
            return Err(WriteError::ClosedStream);
        }
        let len = data.len() as u64;
        let stream_room = send.room(limit);
        let n = len.min(stream_room).min(conn_room);
        if n < len {
            send.writable_wanted = true;
        }
        let stream_blocked = n < len && send.buffer.end() + n == send.max_stream_data;
        let conn_blocked = n < len && n == conn_room;
        if n > 0 {
            send.buffer.push(data.slice(..n as usize));
            self.send_credit.reserved += n;
            self.schedule(id);
        }
        if stream_blocked {
            self.stream_blocked(id);
        }
        if conn_blocked {
            self.connection_blocked(id);
        }
        match n {
            0 if len > 0 => Err(WriteError::Blocked),
            _ => Ok(n as usize),
        }
    }

    /// Queues STREAM_DATA_BLOCKED for `id`, once per limit.
    fn stream_blocked(&mut self, id: StreamId) {
        let Some(send) = self.send.get_mut(&id) else {
            return;
        };
        if send.blocked_at != Some(send.max_stream_data) {
            send.blocked_at = Some(send.max_stream_data);
            self.queue_control(id, StreamControl::StreamDataBlocked);
        }
    }

    /// Remembers that `id` waits for MAX_DATA and queues DATA_BLOCKED, once
    /// per limit.
    fn connection_blocked(&mut self, id: StreamId) {
        if let Some(send) = self.send.get_mut(&id) {
            if !send.conn_blocked {
                send.conn_blocked = true;
                self.conn_blocked.push(id);
            }
        }
        let limit = self.send_credit.max_data;
        if self.send_credit.blocked_at != Some(limit) {
            self.send_credit.blocked_at = Some(limit);
            self.pending.data_blocked = Some(limit);
        }
    }

    /// Ends the stream cleanly: a FIN follows the data written
    /// (RFC 9000 §2.4). The stream reports
    /// [`StreamEvent::Finished`](super::StreamEvent::Finished) once all of
    /// it is acknowledged.
    pub fn finish(&mut self, id: StreamId) -> Result<(), FinishError> {
        let send = self.send.get_mut(&id).ok_or(FinishError::ClosedStream)?;
        if let Some(code) = send.stop_code {
            return Err(FinishError::Stopped(code));
        }
        if !send.is_writable() {
            return Err(FinishError::ClosedStream);
        }
        send.fin_requested = true;
        send.fin_pending = true;
        send.writable_wanted = false;
        self.schedule(id);
        Ok(())
    }

    /// Abandons sending on `id` with an application error code: queues a
    /// RESET_STREAM carrying the final size (RFC 9000 §3.1, §19.4) and
    /// drops the unsent and unacknowledged data. Resetting a stream that is
    /// already reset does nothing.
    pub fn reset(&mut self, id: StreamId, code: VarInt) -> Result<(), ClosedStream> {
        let send = self.send.get_mut(&id).ok_or(ClosedStream)?;
        if send.state.is_reset() {
            return Ok(());
        }
        self.reset_send(id, code).ok_or(ClosedStream)
    }

    /// Resets the sending part of `id` and queues RESET_STREAM. `None` if
    /// it cannot be reset (already terminal or reset).
    pub(super) fn reset_send(&mut self, id: StreamId, code: VarInt) -> Option<()> {
        self.unschedule(id);
        let send = self.send.get_mut(&id)?;
        let unsent = send.reset(code)?;
        self.send_credit.reserved = self.send_credit.reserved.saturating_sub(unsent);
        self.queue_control(id, StreamControl::ResetStream);
        Some(())
    }

    /// Reads up to `max` bytes of `id`, in order: a slice of a received
    /// datagram, never a copy.
    ///
    /// `Ok(None)` reports the end of the stream (once; the stream is then
    /// closed). Reading gives flow control credit back: MAX_STREAM_DATA and
    /// MAX_DATA are queued once half a window has been read (RFC 9000 §4.2).
    /// A `max` of zero returns empty data and changes nothing.
    pub fn read(&mut self, id: StreamId, max: usize) -> Result<Option<Bytes>, ReadError> {
        let recv = self.recv.get_mut(&id).ok_or(ReadError::ClosedStream)?;
        let chunks_before = recv.assembler.chunk_count();
        let consumed_before = recv.flow_consumed();
        let result = recv.read(max);
        let chunks_after = recv.assembler.chunk_count();
        let consumed = recv.flow_consumed().saturating_sub(consumed_before);
        let stream_update =
            consumed > 0 && recv.wants_credit() && recv.window.update(recv.assembler.read_offset());
        self.chunks = (self.chunks + chunks_after).saturating_sub(chunks_before);
        if stream_update {
            self.queue_control(id, StreamControl::MaxStreamData);
        }
        self.on_consumed(consumed);
        if !matches!(result, Ok(Some(_)) | Err(ReadError::Blocked)) {
            self.maybe_free(id);
        }
        result
    }

    /// Counts `bytes` as consumed at the connection level and queues
    /// MAX_DATA if the window moved.
    pub(super) fn on_consumed(&mut self, bytes: u64) {
        if self.receive.on_consumed(bytes) {
            self.pending.max_data = true;
        }
    }

    /// Stops reading `id` (RFC 9000 §3.5): discards what is buffered and
    /// what arrives later (still counted for flow control), and queues a
    /// STOP_SENDING with `code` if the peer may still be sending. Stopping
    /// twice does nothing.
    pub fn stop(&mut self, id: StreamId, code: VarInt) -> Result<(), ClosedStream> {
        let recv = self.recv.get_mut(&id).ok_or(ClosedStream)?;
        if recv.stop_code.is_some() {
            return Ok(());
        }
        if recv.state.is_terminal() {
            return Err(ClosedStream);
        }
        let consumed_before = recv.flow_consumed();
        self.chunks = self.chunks.saturating_sub(recv.assembler.chunk_count());
        recv.assembler.clear();
        recv.stop_code = Some(code);
        let consumed = recv.flow_consumed().saturating_sub(consumed_before);
        let wants_stop_sending = recv.wants_stop_sending();
        self.on_consumed(consumed);
        if wants_stop_sending {
            self.queue_control(id, StreamControl::StopSending);
        }
        self.maybe_free(id);
        Ok(())
    }

    /// Sets the sending priority of `id`: higher is sent first, equal
    /// priorities take turns (RFC 9000 §2.3). The default is 0.
    pub fn set_priority(&mut self, id: StreamId, priority: i32) -> Result<(), ClosedStream> {
        let send = self.send.get_mut(&id).ok_or(ClosedStream)?;
        if send.priority == priority {
            return Ok(());
        }
        send.priority = priority;
        self.unschedule(id);
        self.schedule(id);
        Ok(())
    }

    /// The sending priority of `id`.
    pub fn priority(&self, id: StreamId) -> Result<i32, ClosedStream> {
        self.send.get(&id).map(|s| s.priority).ok_or(ClosedStream)
    }
}
