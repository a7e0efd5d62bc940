//! The receiving part of a stream: reassembly, final size and the stream's
//! receive window (RFC 9000 §2.2, §3.2, §4.1, §4.5).

use bytes::Bytes;

use super::assembler::Assembler;
use super::error::ReadError;
use super::flow::ReceiveWindow;
use super::state::RecvState;
use crate::coding::VarInt;
use crate::error::TransportError;

/// The receiving part of a stream.
#[derive(Debug)]
pub struct RecvStream {
    /// RFC 9000 §3.2 state.
    pub state: RecvState,
    /// Data received and not yet read, as slices of the datagrams.
    pub assembler: Assembler,
    /// One past the highest byte received (or the final size after a
    /// reset): what this stream counts toward connection flow control.
    pub highest: u64,
    /// Our MAX_STREAM_DATA for this stream.
    pub window: ReceiveWindow,
    /// The final size, once known (RFC 9000 §4.5).
    pub final_size: Option<u64>,
    /// The code of the peer's RESET_STREAM.
    pub reset_code: Option<VarInt>,
    /// The code the application stopped reading with (STOP_SENDING).
    pub stop_code: Option<VarInt>,
    /// A `Readable` event is queued.
    pub readable_queued: bool,
    /// A MAX_STREAM_DATA is queued.
    pub max_data_queued: bool,
    /// A STOP_SENDING is queued.
    pub stop_queued: bool,
}

impl RecvStream {
    /// A new receiving part in Recv with the given window.
    pub fn new(window: ReceiveWindow) -> Self {
        Self {
            state: RecvState::Recv,
            assembler: Assembler::new(),
            highest: 0,
            window,
            final_size: None,
            reset_code: None,
            stop_code: None,
            readable_queued: false,
            max_data_queued: false,
            stop_queued: false,
        }
    }

    /// Checks a STREAM frame's data `offset..end` against our limit and the
    /// final size (RFC 9000 §4.1, §4.5, §19.8).
    pub fn check_data(&self, end: u64, fin: bool) -> Result<(), TransportError> {
        if end > self.window.limit() {
            return Err(TransportError::FLOW_CONTROL_ERROR(
                "stream flow control limit exceeded",
            ));
        }
        match self.final_size {
            Some(size) if end > size => Err(TransportError::FINAL_SIZE_ERROR(
                "data beyond the final size",
            )),
            Some(size) if fin && end != size => {
                Err(TransportError::FINAL_SIZE_ERROR("final size changed"))
            }
            None if fin && end < self.highest => Err(TransportError::FINAL_SIZE_ERROR(
                "final size below data already received",
            )),
            _ => Ok(()),
        }
    }

    /// Checks a RESET_STREAM's final size (RFC 9000 §4.5, §19.4).
    pub fn check_reset(&self, final_size: u64) -> Result<(), TransportError> {
        if final_size > self.window.limit() {
            return Err(TransportError::FLOW_CONTROL_ERROR(
                "final size beyond the stream flow control limit",
            ));
        }
        match self.final_size {
            Some(size) if size != final_size => {
                Err(TransportError::FINAL_SIZE_ERROR("final size changed"))
            }
            None if final_size < self.highest => Err(TransportError::FINAL_SIZE_ERROR(
                "final size below data already received",
            )),
            _ => Ok(()),
        }
    }

    /// Whether received data is thrown away rather than buffered: the
    /// application stopped reading, the stream was reset, or all data is in.
    pub fn discards_data(&self) -> bool {
        self.stop_code.is_some() || !matches!(self.state, RecvState::Recv | RecvState::SizeKnown)
    }

    /// Whether data at `offset..end` fills the gap at the read offset of a
    /// stream with nothing readable: it lets the application make progress.
    pub fn fills_head(&self, offset: u64, end: u64) -> bool {
        let read = self.assembler.read_offset();
        !self.assembler.has_readable() && offset <= read && end > read
    }

    /// Whether data at `offset..end` could add chunks to the assembler.
    pub fn would_buffer(&self, offset: u64, end: u64) -> bool {
        offset < end && end > self.assembler.read_offset() && !self.discards_data()
    }

    /// Takes a checked STREAM frame. Returns whether the application should
    /// hear of it (data readable or the end reached).
    pub fn on_data(&mut self, offset: u64, data: Bytes, fin: bool) -> bool {
        let end = offset + data.len() as u64;
        self.highest = self.highest.max(end);
        let was_recv = self.state == RecvState::Recv;
        if fin && self.final_size.is_none() {
            self.final_size = Some(end);
            if was_recv {
                let done = self.state.on_recv_fin();
                debug_assert!(done.is_ok());
            }
        }
        if self.discards_data() {
            return false;
        }
        self.assembler.insert(offset, data);
        if self.state == RecvState::SizeKnown && self.all_received() {
            let done = self.state.on_all_received();
            debug_assert!(done.is_ok());
            return true;
        }
        self.assembler.has_readable()
    }

    /// Whether every byte up to the final size is read or buffered.
    fn all_received(&self) -> bool {
        let have = self.assembler.read_offset() + self.assembler.buffered();
        self.final_size == Some(have)
    }

    /// Takes a checked RESET_STREAM. Returns whether the application should
    /// hear of it. A reset arriving after all data is suppressed: the
    /// application reads the data (RFC 9000 §3.2).
    pub fn on_reset(&mut self, final_size: u64, code: VarInt) -> bool {
        self.highest = final_size;
        self.final_size = Some(final_size);
        if !matches!(self.state, RecvState::Recv | RecvState::SizeKnown) {
            return false;
        }
        let done = self.state.on_reset_recvd();
        debug_assert!(done.is_ok());
        self.reset_code = Some(code);
        self.assembler.clear();
        self.stop_code.is_none()
    }

    /// The bytes of this stream that count as consumed for connection flow
    /// control: read by the application, or discarded (RFC 9000 §4.5: a
    /// stopped or reset stream gives back its whole final size).
    pub fn flow_consumed(&self) -> u64 {
        if self.stop_code.is_some() || self.reset_code.is_some() {
            self.final_size.unwrap_or(self.highest)
        } else {
            self.assembler.read_offset()
        }
    }

    /// Reads up to `max` bytes (RFC 9000 §3.2 "App Read All Data", "App Read
    /// Reset"). `Ok(None)` reports the end of the stream, once.
    pub fn read(&mut self, max: usize) -> Result<Option<Bytes>, ReadError> {
        if self.stop_code.is_some() || self.state.is_terminal() {
            return Err(ReadError::ClosedStream);
        }
        if self.state == RecvState::ResetRecvd {
            let done = self.state.on_app_read_reset();
            debug_assert!(done.is_ok());
            return Err(ReadError::Reset(self.reset_code.unwrap_or(VarInt::ZERO)));
        }
        if max == 0 {
            return Ok(Some(Bytes::new()));
        }
        if let Some(data) = self.assembler.read(max) {
            return Ok(Some(data));
        }
        if self.state == RecvState::DataRecvd
            && self.final_size == Some(self.assembler.read_offset())
        {
            let done = self.state.on_app_read_all();
            debug_assert!(done.is_ok());
            return Ok(None);
        }
        Err(ReadError::Blocked)
    }

    /// Whether the application can learn something from `read` now.
    pub fn is_readable(&self) -> bool {
        self.stop_code.is_none()
            && (self.assembler.has_readable()
                || matches!(self.state, RecvState::DataRecvd | RecvState::ResetRecvd))
    }

    /// Whether MAX_STREAM_DATA may still be sent: only in Recv (RFC 9000
    /// §3.3) and while the application reads.
    pub fn wants_credit(&self) -> bool {
        self.state == RecvState::Recv && self.stop_code.is_none()
    }

    /// Whether STOP_SENDING is still useful: Recv or Size Known (RFC 9000
    /// §3.5).
    pub fn wants_stop_sending(&self) -> bool {
        self.stop_code.is_some() && matches!(self.state, RecvState::Recv | RecvState::SizeKnown)
    }

    /// Whether this part can be forgotten: terminal, or stopped by the
    /// application with the final size known (all flow control accounted).
    pub fn is_done(&self) -> bool {
        self.state.is_terminal() || (self.stop_code.is_some() && self.final_size.is_some())
    }
}
