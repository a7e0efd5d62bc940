//! Stream frames received from the peer (RFC 9000 §19.4, §19.5, §19.8 to
//! §19.14), checked against the rules of §3, §4.1, §4.5 and §4.6.
//!
//! Every handler checks everything before changing anything, so a frame
//! that earns a [`TransportError`] leaves the streams as they were.

use super::control::StreamControl;
use super::error::StreamFrameOutcome;
use super::limits::{Known, Part};
use super::recv::RecvStream;
use super::{StreamEvent, Streams};
use crate::error::TransportError;
use crate::frame::{
    self, DataBlocked, FrameType, MaxData, MaxStreamData, MaxStreams, ResetStream, StopSending,
    StreamDataBlocked, StreamsBlocked,
};
use crate::shared::StreamId;

impl Streams {
    /// Checks a frame's stream ID for `part` and returns where it stands,
    /// with the frame type on the error.
    fn check_id(&self, id: StreamId, part: Part, ty: FrameType) -> Result<Known, TransportError> {
        self.limits
            .check_incoming(id, part)
            .map_err(|e| e.with_frame_type(ty.into_inner()))
    }

    /// A STREAM frame (RFC 9000 §19.8).
    ///
    /// Errors: a send-only stream or one of ours not yet opened is a
    /// STREAM_STATE_ERROR; a stream ID beyond our MAX_STREAMS a
    /// STREAM_LIMIT_ERROR; data beyond the stream's or the connection's limit
    /// a FLOW_CONTROL_ERROR (§4.1); a changed final size or data beyond it a
    /// FINAL_SIZE_ERROR (§4.5). Frames for streams closed and forgotten are
    /// ignored. The frame type on errors is the STREAM type with the Length
    /// bit, whatever the frame was decoded from.
    ///
    /// [`StreamFrameOutcome::Refused`] (nothing changed) if buffering the
    /// data would exceed [`max_out_of_order_chunks`](super::StreamsConfig::max_out_of_order_chunks):
    /// the connection must then drop the packet unacknowledged.
    pub fn received_stream(
        &mut self,
        frame: frame::Stream,
    ) -> Result<StreamFrameOutcome, TransportError> {
        let ty = frame.frame_type(true);
        let id = frame.id;
        let known = self.check_id(id, Part::Recv, ty)?;
        let end = frame.offset.saturating_add(frame.data.len() as u64);
        let fresh;
        let recv = match (known, self.recv.get(&id)) {
            (Known::New, _) => {
                fresh = self.new_recv_stream(id);
                &fresh
            }
            (Known::Opened, Some(recv)) => recv,
            (Known::Opened, None) => return Ok(StreamFrameOutcome::Accepted),
        };
        let with_type = |e: TransportError| e.with_frame_type(ty.into_inner());
        recv.check_data(end, frame.fin).map_err(with_type)?;
        let more = end.saturating_sub(recv.highest);
        self.receive.check(more).map_err(with_type)?;
        if self.refuses(recv, frame.offset, end) {
            return Ok(StreamFrameOutcome::Refused);
        }
        if known == Known::New {
            self.open_remote(id);
        }
        self.receive.on_received(more);
        let Some(recv) = self.recv.get_mut(&id) else {
            return Ok(StreamFrameOutcome::Accepted);
        };
        let chunks_before = recv.assembler.chunk_count();
        let consumed_before = recv.flow_consumed();
        let notify = recv.on_data(frame.offset, frame.data, frame.fin);
        let chunks_after = recv.assembler.chunk_count();
        let consumed = recv.flow_consumed().saturating_sub(consumed_before);
        self.chunks = (self.chunks + chunks_after).saturating_sub(chunks_before);
        self.on_consumed(consumed);
        if notify {
            self.notify_readable(id);
        }
        self.maybe_free(id);
        Ok(StreamFrameOutcome::Accepted)
    }

    /// Whether buffering `offset..end` on `recv` would exceed the chunk
    /// bound (see the module documentation).
    fn refuses(&self, recv: &RecvStream, offset: u64, end: u64) -> bool {
        if !recv.would_buffer(offset, end) {
            return false;
        }
        let bound = self.config.max_out_of_order_chunks;
        let bound = if recv.fills_head(offset, end) {
            bound.saturating_mul(2)
        } else {
            bound
        };
        self.chunks >= bound
    }

    /// A RESET_STREAM frame (RFC 9000 §19.4).
    ///
    /// Errors: a send-only stream or one of ours not yet opened is a
    /// STREAM_STATE_ERROR; beyond our MAX_STREAMS a STREAM_LIMIT_ERROR; a
    /// final size beyond the stream's or the connection's limit a
    /// FLOW_CONTROL_ERROR; a changed final size, or one below data received,
    /// a FINAL_SIZE_ERROR (§4.5). The final size counts toward connection
    /// flow control. The application learns of the reset from
    /// [`read`](Self::read) (after a `Readable` event), unless all data had
    /// already arrived: then the reset is suppressed (§3.2).
    pub fn received_reset_stream(&mut self, frame: ResetStream) -> Result<(), TransportError> {
        let ty = FrameType::RESET_STREAM;
        let id = frame.id;
        let final_size = frame.final_size.into_inner();
        let known = self.check_id(id, Part::Recv, ty)?;
        let fresh;
        let recv = match (known, self.recv.get(&id)) {
            (Known::New, _) => {
                fresh = self.new_recv_stream(id);
                &fresh
            }
            (Known::Opened, Some(recv)) => recv,
            (Known::Opened, None) => return Ok(()),
        };
        let with_type = |e: TransportError| e.with_frame_type(ty.into_inner());
        recv.check_reset(final_size).map_err(with_type)?;
        let more = final_size.saturating_sub(recv.highest);
        self.receive.check(more).map_err(with_type)?;
        if known == Known::New {
            self.open_remote(id);
        }
        self.receive.on_received(more);
        let Some(recv) = self.recv.get_mut(&id) else {
            return Ok(());
        };
        let chunks_before = recv.assembler.chunk_count();
        let consumed_before = recv.flow_consumed();
        let notify = recv.on_reset(final_size, frame.error_code);
        let consumed = recv.flow_consumed().saturating_sub(consumed_before);
        let chunks_after = recv.assembler.chunk_count();
        self.chunks = (self.chunks + chunks_after).saturating_sub(chunks_before);
        self.on_consumed(consumed);
        if notify {
            self.notify_readable(id);
        }
        self.maybe_free(id);
        Ok(())
    }

    /// A STOP_SENDING frame (RFC 9000 §19.5).
    ///
    /// Errors: a receive-only stream or one of ours not yet opened is a
    /// STREAM_STATE_ERROR; beyond our MAX_STREAMS a STREAM_LIMIT_ERROR. In
    /// Ready, Send or Data Sent the stream is reset with the same code
    /// (§3.5) and [`StreamEvent::Stopped`] is reported.
    pub fn received_stop_sending(&mut self, frame: StopSending) -> Result<(), TransportError> {
        let id = frame.id;
        if self.check_id(id, Part::Send, FrameType::STOP_SENDING)? == Known::New {
            self.open_remote(id);
        }
        let Some(send) = self.send.get_mut(&id) else {
            return Ok(());
        };
        if send.state.is_reset() || send.state.is_terminal() {
            return Ok(());
        }
        send.stop_code = Some(frame.error_code);
        if self.reset_send(id, frame.error_code).is_some() {
            self.events.push(StreamEvent::Stopped {
                id,
                error_code: frame.error_code,
            });
        }
        Ok(())
    }

    /// A MAX_STREAM_DATA frame (RFC 9000 §19.10).
    ///
    /// Errors: a receive-only stream or one of ours not yet opened is a
    /// STREAM_STATE_ERROR; beyond our MAX_STREAMS a STREAM_LIMIT_ERROR.
    /// Limits that do not grow are ignored (§4.1).
    pub fn received_max_stream_data(&mut self, frame: MaxStreamData) -> Result<(), TransportError> {
        let id = frame.id;
        if self.check_id(id, Part::Send, FrameType::MAX_STREAM_DATA)? == Known::New {
            self.open_remote(id);
        }
        self.on_max_stream_data(id, frame.max.into_inner());
        Ok(())
    }

    /// Raises the peer's credit for our sending part of `id`.
    pub(super) fn on_max_stream_data(&mut self, id: StreamId, max: u64) {
        if let Some(send) = self.send.get_mut(&id) {
            if max > send.max_stream_data {
                send.max_stream_data = max;
                self.notify_writable(id);
            }
        }
    }

    /// A MAX_DATA frame (RFC 9000 §19.9). Limits that do not grow are
    /// ignored (§4.1).
    pub fn received_max_data(&mut self, frame: MaxData) -> Result<(), TransportError> {
        self.on_max_data(frame.max.into_inner());
        Ok(())
    }

    /// Raises the peer's connection credit and wakes the streams waiting for
    /// it.
    pub(super) fn on_max_data(&mut self, max: u64) {
        if !self.send_credit.on_max_data(max) {
            return;
        }
        let mut waiting = std::mem::take(&mut self.conn_blocked);
        for &id in &waiting {
            if let Some(send) = self.send.get_mut(&id) {
                send.conn_blocked = false;
                self.notify_writable(id);
            }
        }
        // Keep the allocation for next time.
        waiting.clear();
        if self.conn_blocked.is_empty() {
            self.conn_blocked = waiting;
        }
    }

    /// A MAX_STREAMS frame (RFC 9000 §19.11; counts above 2^60 are refused
    /// by the frame decoder). Limits that do not grow are ignored (§4.6).
    pub fn received_max_streams(&mut self, frame: MaxStreams) -> Result<(), TransportError> {
        self.on_max_streams(frame.dir, frame.count);
        Ok(())
    }

    /// Raises the peer's stream limit for `dir`; reports `Available` if an
    /// `open` was refused.
    pub(super) fn on_max_streams(&mut self, dir: crate::shared::Dir, count: u64) {
        if self.limits.on_max_streams(dir, count) {
            self.events.push(StreamEvent::Available { dir });
        }
    }

    /// A DATA_BLOCKED frame (RFC 9000 §19.12). With auto-growing windows, a
    /// peer blocked at our current MAX_DATA gets a larger window.
    pub fn received_data_blocked(&mut self, frame: DataBlocked) -> Result<(), TransportError> {
        let consumed = self.receive.consumed;
        if self
            .receive
            .window
            .on_peer_blocked(frame.limit.into_inner(), consumed)
        {
            self.pending.max_data = true;
        }
        Ok(())
    }

    /// A STREAM_DATA_BLOCKED frame (RFC 9000 §19.13).
    ///
    /// Errors: a send-only stream or one of ours not yet opened is a
    /// STREAM_STATE_ERROR; beyond our MAX_STREAMS a STREAM_LIMIT_ERROR. The
    /// frame opens a peer's stream (§3.2). With auto-growing windows, a peer
    /// blocked at our current limit gets a larger window.
    pub fn received_stream_data_blocked(
        &mut self,
        frame: StreamDataBlocked,
    ) -> Result<(), TransportError> {
        let id = frame.id;
        if self.check_id(id, Part::Recv, FrameType::STREAM_DATA_BLOCKED)? == Known::New {
            self.open_remote(id);
        }
        let Some(recv) = self.recv.get_mut(&id) else {
            return Ok(());
        };
        let consumed = recv.assembler.read_offset();
        if recv.wants_credit()
            && recv
                .window
                .on_peer_blocked(frame.limit.into_inner(), consumed)
        {
            self.queue_control(id, StreamControl::MaxStreamData);
        }
        Ok(())
    }

    /// A STREAMS_BLOCKED frame (RFC 9000 §19.14): informational only; our
    /// MAX_STREAMS credit is given back as streams close, never waiting for
    /// this signal (§4.6).
    pub fn received_streams_blocked(
        &mut self,
        frame: StreamsBlocked,
    ) -> Result<(), TransportError> {
        let _ = frame;
        Ok(())
    }
}
