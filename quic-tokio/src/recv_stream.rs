//! The receiving half of a stream (RFC 9000 §3.2).

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use quic_proto::coding::VarInt;
use quic_proto::connection::ReadError as ProtoReadError;
use quic_proto::shared::StreamId;
use tokio::io::{AsyncRead, ReadBuf};

use crate::connection::state::{ConnectionRef, ConnectionState};
use crate::error::{ClosedStream, ReadError, ReadExactError, ReadToEndError};

/// Where reading stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadState {
    /// Data may still come.
    Open,
    /// The end of the stream was read: reads return `None` from now on.
    Finished,
    /// The peer reset the stream after data this handle already returned;
    /// the next read reports it.
    ResetPending(VarInt),
    /// The reset was reported, or the application stopped the stream.
    Closed,
}

/// The receiving half of a stream: an [`AsyncRead`], plus `async` methods,
/// among them [`read_chunk`](Self::read_chunk), which returns the received
/// data without copying it.
///
/// Dropping it before the end of the stream was read
/// [stops](Self::stop) the stream with error code 0.
#[derive(Debug)]
pub struct RecvStream {
    connection: ConnectionRef,
    id: StreamId,
    read_state: ReadState,
}

impl RecvStream {
    pub(crate) fn new(connection: ConnectionRef, id: StreamId) -> Self {
        Self {
            connection,
            id,
            read_state: ReadState::Open,
        }
    }

    /// The stream's ID.
    pub fn id(&self) -> StreamId {
        self.id
    }

    /// Reads into `buf`, waiting for data. Returns how many bytes were
    /// read, or `None` at the end of the stream.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: if the future is dropped before it completes, no data
    /// was read.
    pub async fn read(&mut self, buf: &mut [u8]) -> Result<Option<usize>, ReadError> {
        poll_fn(|cx| self.poll_read_into(cx, buf)).await
    }

    /// Fills `buf` exactly.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: if the future is dropped, an unknown amount of data
    /// was read into `buf`.
    pub async fn read_exact(&mut self, buf: &mut [u8]) -> Result<(), ReadExactError> {
        let mut filled = 0;
        while filled < buf.len() {
            match self.read(&mut buf[filled..]).await {
                Ok(Some(n)) => filled += n,
                Ok(None) => return Err(ReadExactError::FinishedEarly(filled)),
                Err(error) => return Err(ReadExactError::ReadError(error)),
            }
        }
        Ok(())
    }

    /// Takes the next in-order chunk of at most `max` bytes, waiting for
    /// one; `None` at the end of the stream. The chunk is a slice of the
    /// datagram it arrived in: nothing is copied.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: if the future is dropped before it completes, no data
    /// was read.
    pub async fn read_chunk(&mut self, max: usize) -> Result<Option<Bytes>, ReadError> {
        poll_fn(|cx| self.poll_read_chunk(cx, max)).await
    }

    /// Reads the rest of the stream, failing if it is longer than `limit`
    /// bytes (so that a peer cannot make us buffer without bound).
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: if the future is dropped, the data read so far is
    /// lost.
    pub async fn read_to_end(&mut self, limit: usize) -> Result<Vec<u8>, ReadToEndError> {
        let mut out = Vec::new();
        loop {
            let room = (limit - out.len()).saturating_add(1);
            match self.read_chunk(room).await {
                Ok(Some(chunk)) => {
                    if out.len() + chunk.len() > limit {
                        return Err(ReadToEndError::TooLong);
                    }
                    out.extend_from_slice(&chunk);
                }
                Ok(None) => return Ok(out),
                Err(error) => return Err(ReadToEndError::ReadError(error)),
            }
        }
    }

    /// Stops reading: data buffered and still to come is discarded, and
    /// the peer is asked to stop sending with `error_code` (STOP_SENDING,
    /// RFC 9000 §3.5).
    ///
    /// Fails if the stream was read to its end, reset, or stopped already.
    pub fn stop(&mut self, error_code: VarInt) -> Result<(), ClosedStream> {
        if self.read_state != ReadState::Open {
            return Err(ClosedStream);
        }
        self.connection
            .state
            .lock("stop")
            .proto
            .stop(self.id, error_code)
            .map_err(|_| ClosedStream)?;
        self.read_state = ReadState::Closed;
        self.connection.wake_driver();
        Ok(())
    }

    /// What a read returns once the stream has ended for this handle.
    fn ended(&mut self) -> Option<Result<Option<usize>, ReadError>> {
        match self.read_state {
            ReadState::Open => None,
            ReadState::Finished => Some(Ok(None)),
            ReadState::ResetPending(code) => {
                self.read_state = ReadState::Closed;
                Some(Err(ReadError::Reset(code)))
            }
            ReadState::Closed => Some(Err(ReadError::ClosedStream)),
        }
    }

    fn poll_read_chunk(
        &mut self,
        cx: &mut Context<'_>,
        max: usize,
    ) -> Poll<Result<Option<Bytes>, ReadError>> {
        if let Some(ended) = self.ended() {
            return Poll::Ready(ended.map(|_| None));
        }
        let mut state = self.connection.state.lock("poll_read_chunk");
        match state.proto.read(self.id, max) {
            Ok(Some(chunk)) => {
                drop(state);
                // Reading may have queued a flow control update.
                self.connection.wake_driver();
                Poll::Ready(Ok(Some(chunk)))
            }
            Ok(None) => {
                self.read_state = ReadState::Finished;
                Poll::Ready(Ok(None))
            }
            Err(error) => read_failed(&mut self.read_state, self.id, &mut state, cx, error),
        }
    }

    /// Reads as much as is buffered into `buf`, chunk by chunk.
    fn poll_read_into(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<Result<Option<usize>, ReadError>> {
        if let Some(ended) = self.ended() {
            return Poll::Ready(ended);
        }
        if buf.is_empty() {
            return Poll::Ready(Ok(Some(0)));
        }
        let mut state = self.connection.state.lock("poll_read");
        let mut filled = 0;
        while filled < buf.len() {
            match state.proto.read(self.id, buf.len() - filled) {
                Ok(Some(chunk)) if chunk.is_empty() => break,
                Ok(Some(chunk)) => {
                    buf[filled..filled + chunk.len()].copy_from_slice(&chunk);
                    filled += chunk.len();
                }
                Ok(None) => {
                    self.read_state = ReadState::Finished;
                    break;
                }
                Err(ProtoReadError::Reset(code)) if filled > 0 => {
                    // Report the data first, the reset on the next read.
                    self.read_state = ReadState::ResetPending(code);
                    break;
                }
                Err(_) if filled > 0 => break,
                Err(error) => {
                    return read_failed(&mut self.read_state, self.id, &mut state, cx, error);
                }
            }
        }
        if filled == 0 {
            if self.read_state == ReadState::Finished {
                return Poll::Ready(Ok(None));
            }
            let blocked = ProtoReadError::Blocked;
            return read_failed(&mut self.read_state, self.id, &mut state, cx, blocked);
        }
        drop(state);
        self.connection.wake_driver();
        Poll::Ready(Ok(Some(filled)))
    }
}

/// A read that returned no data: blocked (wait), reset, or closed.
fn read_failed<T>(
    read_state: &mut ReadState,
    id: StreamId,
    state: &mut ConnectionState,
    cx: &mut Context<'_>,
    error: ProtoReadError,
) -> Poll<Result<Option<T>, ReadError>> {
    match error {
        ProtoReadError::Blocked => {
            if let Some(error) = &state.error {
                return Poll::Ready(Err(ReadError::ConnectionLost(error.clone())));
            }
            match state.recv.get_mut(&id) {
                Some(slot) => {
                    // Woken by `StreamReadable` or the connection's end.
                    *slot = Some(cx.waker().clone());
                    Poll::Pending
                }
                None => Poll::Ready(Err(ReadError::ClosedStream)),
            }
        }
        ProtoReadError::Reset(code) => {
            *read_state = ReadState::Closed;
            Poll::Ready(Err(ReadError::Reset(code)))
        }
        ProtoReadError::ClosedStream => {
            *read_state = ReadState::Closed;
            Poll::Ready(Err(match &state.error {
                Some(error) => ReadError::ConnectionLost(error.clone()),
                None => ReadError::ClosedStream,
            }))
        }
    }
}

impl AsyncRead for RecvStream {
    /// Reads what is buffered; at the end of the stream reads nothing (EOF).
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let read = ready!(this.poll_read_into(cx, buf.initialize_unfilled()))?;
        if let Some(n) = read {
            buf.advance(n);
        }
        Poll::Ready(Ok(()))
    }
}

impl Drop for RecvStream {
    fn drop(&mut self) {
        let stopped = {
            let mut state = self.connection.state.lock("drop_recv_stream");
            state.recv.remove(&self.id);
            self.read_state == ReadState::Open
                && state.error.is_none()
                && state.proto.stop(self.id, VarInt::ZERO).is_ok()
        };
        if stopped {
            self.connection.wake_driver();
        }
    }
}
