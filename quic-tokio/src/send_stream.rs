//! The sending half of a stream (RFC 9000 §3.1).

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use quic_proto::coding::VarInt;
use quic_proto::connection::{FinishError, WriteError as ProtoWriteError};
use quic_proto::shared::StreamId;
use tokio::io::AsyncWrite;

use crate::connection::state::ConnectionRef;
use crate::error::{ClosedStream, StoppedError, WriteError};

/// The most bytes one write of a slice copies; larger slices are written
/// in several calls, so that a write that the stream can only partly take
/// never copies much more than it takes.
const MAX_COPY: usize = 64 * 1024;

/// What the application did to end the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    No,
    Finished,
    Reset,
}

/// The sending half of a stream: an [`AsyncWrite`], plus `async` methods
/// that write [`Bytes`] without copying.
///
/// Dropping it [finishes](Self::finish) the stream unless it was finished
/// or reset already; the data written so far is still delivered (as long
/// as the connection stays open).
#[derive(Debug)]
pub struct SendStream {
    connection: ConnectionRef,
    id: StreamId,
    ended: Ended,
}

impl SendStream {
    pub(crate) fn new(connection: ConnectionRef, id: StreamId) -> Self {
        Self {
            connection,
            id,
            ended: Ended::No,
        }
    }

    /// The stream's ID.
    pub fn id(&self) -> StreamId {
        self.id
    }

    /// Writes some of `buf`, waiting until the stream can take at least
    /// one byte (flow control, RFC 9000 §4.1, and the send buffer).
    /// Returns how many bytes were written.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: if the future is dropped before it completes, nothing
    /// was written.
    pub async fn write(&mut self, buf: &[u8]) -> Result<usize, WriteError> {
        poll_fn(|cx| self.poll_write_slice(cx, buf)).await
    }

    /// Writes all of `buf`.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: if the future is dropped, an unknown prefix of
    /// `buf` was written. Loop over [`write`](Self::write) to keep count.
    pub async fn write_all(&mut self, mut buf: &[u8]) -> Result<(), WriteError> {
        while !buf.is_empty() {
            let written = self.write(buf).await?;
            buf = &buf[written..];
        }
        Ok(())
    }

    /// Writes all of `data` without copying it: the stream keeps slices of
    /// `data` until the peer acknowledges them.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: if the future is dropped, an unknown prefix of
    /// `data` was written. Use [`write_chunk_partial`](Self::write_chunk_partial)
    /// to keep count.
    pub async fn write_chunk(&mut self, mut data: Bytes) -> Result<(), WriteError> {
        while !data.is_empty() {
            let written = self.write_chunk_partial(&data).await?;
            data.advance(written);
        }
        Ok(())
    }

    /// Writes a prefix of `data` without copying, waiting until the stream
    /// can take at least one byte. Returns how many bytes were written.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: if the future is dropped before it completes, nothing
    /// was written.
    pub async fn write_chunk_partial(&mut self, data: &Bytes) -> Result<usize, WriteError> {
        poll_fn(|cx| self.poll_write_with(cx, || data.clone())).await
    }

    fn poll_write_slice(
        &mut self,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<Result<usize, WriteError>> {
        self.poll_write_with(cx, || {
            Bytes::copy_from_slice(&buf[..buf.len().min(MAX_COPY)])
        })
    }

    /// Writes what `data` makes, unless the stream is known to be blocked
    /// (then `data` is not called, and nothing is copied).
    fn poll_write_with(
        &mut self,
        cx: &mut Context<'_>,
        data: impl FnOnce() -> Bytes,
    ) -> Poll<Result<usize, WriteError>> {
        if self.ended != Ended::No {
            return Poll::Ready(Err(WriteError::ClosedStream));
        }
        let mut guard = self.connection.state.lock("poll_write");
        let state = &mut *guard;
        if let Some(error) = &state.error {
            return Poll::Ready(Err(WriteError::ConnectionLost(error.clone())));
        }
        let Some(waiters) = state.send.get_mut(&self.id) else {
            return Poll::Ready(Err(WriteError::ClosedStream));
        };
        if let Some(code) = waiters.stopped {
            return Poll::Ready(Err(WriteError::Stopped(code)));
        }
        if !waiters.blocked {
            let data = data();
            let len = data.len();
            match state.proto.write(self.id, data) {
                Ok(written) => {
                    waiters.blocked = written < len;
                    drop(guard);
                    if written > 0 {
                        self.connection.wake_driver();
                    }
                    return Poll::Ready(Ok(written));
                }
                Err(ProtoWriteError::Blocked) => waiters.blocked = true,
                Err(ProtoWriteError::Stopped(code)) => {
                    return Poll::Ready(Err(WriteError::Stopped(code)));
                }
                Err(ProtoWriteError::ClosedStream) => {
                    return Poll::Ready(Err(WriteError::ClosedStream));
                }
            }
        }
        // Woken by `StreamWritable`, `StreamStopped` or the connection's end.
        match &mut waiters.writer {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// Finishes the stream: a FIN follows the data written (RFC 9000 §3.1).
    /// Returns at once; [`stopped`](Self::stopped) tells when the peer has
    /// everything.
    ///
    /// Fails if the stream was already finished or reset, or the peer
    /// stopped it ([`stopped`](Self::stopped) gives the code).
    pub fn finish(&mut self) -> Result<(), ClosedStream> {
        self.try_finish().map_err(|_| ClosedStream)
    }

    fn try_finish(&mut self) -> Result<(), FinishError> {
        if self.ended != Ended::No {
            return Err(FinishError::ClosedStream);
        }
        self.connection.state.lock("finish").proto.finish(self.id)?;
        self.ended = Ended::Finished;
        self.connection.wake_driver();
        Ok(())
    }

    /// Abandons the stream with an application error code: RESET_STREAM
    /// tells the peer (RFC 9000 §3.1, §19.4), and data not yet delivered is
    /// dropped.
    ///
    /// Fails if the stream was already reset, or finished and entirely
    /// acknowledged.
    pub fn reset(&mut self, error_code: VarInt) -> Result<(), ClosedStream> {
        if self.ended == Ended::Reset {
            return Err(ClosedStream);
        }
        self.connection
            .state
            .lock("reset")
            .proto
            .reset(self.id, error_code)
            .map_err(|_| ClosedStream)?;
        self.ended = Ended::Reset;
        self.connection.wake_driver();
        Ok(())
    }

    /// Waits until the peer no longer needs the stream: it asked us to stop
    /// sending (STOP_SENDING, RFC 9000 §3.5), giving `Some(code)`, or it
    /// acknowledged all the data and the FIN (after [`finish`](Self::finish)),
    /// giving `None`.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn stopped(&mut self) -> Result<Option<VarInt>, StoppedError> {
        poll_fn(|cx| self.poll_stopped(cx)).await
    }

    fn poll_stopped(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<VarInt>, StoppedError>> {
        let mut guard = self.connection.state.lock("stopped");
        let state = &mut *guard;
        let Some(waiters) = state.send.get_mut(&self.id) else {
            return Poll::Ready(Err(StoppedError::ClosedStream));
        };
        if let Some(code) = waiters.stopped {
            return Poll::Ready(Ok(Some(code)));
        }
        if waiters.acknowledged {
            return Poll::Ready(Ok(None));
        }
        if self.ended == Ended::Reset {
            return Poll::Ready(Err(StoppedError::ClosedStream));
        }
        if let Some(error) = &state.error {
            return Poll::Ready(Err(StoppedError::ConnectionLost(error.clone())));
        }
        // A STOP_SENDING that arrived before this stream was accepted had no
        // handle to reach; an empty write reports it and changes nothing.
        if let Err(ProtoWriteError::Stopped(code)) = state.proto.write(self.id, Bytes::new()) {
            waiters.stopped = Some(code);
            return Poll::Ready(Ok(Some(code)));
        }
        waiters.stopped_waiter = Some(cx.waker().clone());
        Poll::Pending
    }

    /// Sets the stream's send priority: higher goes first; streams of equal
    /// priority take turns (RFC 9000 §2.3). Default: 0.
    pub fn set_priority(&self, priority: i32) -> Result<(), ClosedStream> {
        self.connection
            .state
            .lock("set_priority")
            .proto
            .set_priority(self.id, priority)
            .map_err(|_| ClosedStream)
    }
}

impl AsyncWrite for SendStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .poll_write_slice(cx, buf)
            .map_err(io::Error::from)
    }

    /// Data is handed to the connection on write: nothing to flush.
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// Finishes the stream, without waiting for the peer's acknowledgment.
    /// Shutting down twice is not an error.
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.ended == Ended::Finished {
            return Poll::Ready(Ok(()));
        }
        Poll::Ready(this.try_finish().map_err(|error| match error {
            FinishError::Stopped(code) => WriteError::Stopped(code).into(),
            FinishError::ClosedStream => ClosedStream.into(),
        }))
    }
}

impl Drop for SendStream {
    fn drop(&mut self) {
        let finished = {
            let mut state = self.connection.state.lock("drop_send_stream");
            state.send.remove(&self.id);
            self.ended == Ended::No && state.error.is_none() && state.proto.finish(self.id).is_ok()
        };
        if finished {
            self.connection.wake_driver();
        }
    }
}
