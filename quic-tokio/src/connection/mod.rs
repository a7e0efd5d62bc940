//! The application's handles on a connection: [`Connecting`] while the
//! handshake runs, then [`Connection`].

pub(crate) mod state;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use quic_proto::coding::VarInt;
use quic_proto::connection::ConnectionStats;
use quic_proto::shared::{Dir, Side};
use rustls::pki_types::CertificateDer;
use tokio::sync::Notify;

use self::state::{ConnectionRef, ConnectionState};
use crate::error::{ConnectionError, SendDatagramError};
use crate::recv_stream::RecvStream;
use crate::send_stream::SendStream;

/// A connection whose handshake is under way: a future of the
/// [`Connection`].
///
/// Dropping it abandons the connection (it is closed with code 0).
#[derive(Debug)]
#[must_use = "a connection is abandoned when its Connecting is dropped"]
pub struct Connecting {
    connection: Option<ConnectionRef>,
}

impl Connecting {
    pub(crate) fn new(connection: ConnectionRef) -> Self {
        Self {
            connection: Some(connection),
        }
    }

    /// The peer's address.
    ///
    /// # Panics
    ///
    /// If called after the future completed.
    pub fn remote_address(&self) -> SocketAddr {
        let connection = self.connection.as_ref().expect("polled after completion");
        connection
            .state
            .lock("remote_address")
            .proto
            .remote_address()
    }
}

impl Future for Connecting {
    type Output = Result<Connection, ConnectionError>;

    /// Resolves when the handshake completes (RFC 9001 §4.1.1), or with
    /// why the connection failed.
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let connection = self.connection.as_ref().expect("polled after completion");
        {
            let mut state = connection.state.lock("connecting");
            if !state.connected {
                if let Some(error) = &state.error {
                    return Poll::Ready(Err(error.clone()));
                }
                state.connecting = Some(cx.waker().clone());
                return Poll::Pending;
            }
        }
        let connection = self.connection.take().expect("checked above");
        Poll::Ready(Ok(Connection { inner: connection }))
    }
}

/// An established QUIC connection.
///
/// Cheap to clone: every clone is a handle on the same connection. When the
/// last handle is dropped — `Connection`s, and the [`SendStream`]s and
/// [`RecvStream`]s of the connection, which keep it open too — the
/// connection is closed with error code 0 and an empty reason, as by
/// [`close`](Self::close).
#[derive(Debug, Clone)]
pub struct Connection {
    inner: ConnectionRef,
}

impl Connection {
    fn lock(&self, purpose: &'static str) -> std::sync::MutexGuard<'_, ConnectionState> {
        self.inner.state.lock(purpose)
    }

    /// Opens a bidirectional stream, waiting for the peer to allow another
    /// (MAX_STREAMS, RFC 9000 §4.6). The peer learns of the stream when
    /// data is first sent on it.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a stream is opened only when this returns it.
    pub async fn open_bi(&self) -> Result<(SendStream, RecvStream), ConnectionError> {
        let id = self.open(Dir::Bi).await?;
        Ok((
            SendStream::new(self.inner.clone(), id),
            RecvStream::new(self.inner.clone(), id),
        ))
    }

    /// Opens a unidirectional stream, waiting for the peer to allow
    /// another (RFC 9000 §4.6).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a stream is opened only when this returns it.
    pub async fn open_uni(&self) -> Result<SendStream, ConnectionError> {
        let id = self.open(Dir::Uni).await?;
        Ok(SendStream::new(self.inner.clone(), id))
    }

    async fn open(&self, dir: Dir) -> Result<quic_proto::StreamId, ConnectionError> {
        let notify = &self.inner.notify.open[dir as usize];
        let id = self
            .wait_for(notify, "open", |state| {
                let id = state.proto.open(dir)?;
                state.send.insert(id, Default::default());
                if dir == Dir::Bi {
                    state.recv.insert(id, None);
                }
                Some(id)
            })
            .await;
        // Opening may have queued STREAMS_BLOCKED.
        self.inner.wake_driver();
        id
    }

    /// Takes the next bidirectional stream the peer opened, waiting for
    /// one.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a stream is taken only when this returns it.
    pub async fn accept_bi(&self) -> Result<(SendStream, RecvStream), ConnectionError> {
        let id = self.accept(Dir::Bi).await?;
        Ok((
            SendStream::new(self.inner.clone(), id),
            RecvStream::new(self.inner.clone(), id),
        ))
    }

    /// Takes the next unidirectional stream the peer opened, waiting for
    /// one.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a stream is taken only when this returns it.
    pub async fn accept_uni(&self) -> Result<RecvStream, ConnectionError> {
        let id = self.accept(Dir::Uni).await?;
        Ok(RecvStream::new(self.inner.clone(), id))
    }

    async fn accept(&self, dir: Dir) -> Result<quic_proto::StreamId, ConnectionError> {
        let notify = &self.inner.notify.accept[dir as usize];
        self.wait_for(notify, "accept", |state| {
            let id = state.proto.accept(dir)?;
            state.recv.insert(id, None);
            if dir == Dir::Bi {
                state.send.insert(id, Default::default());
            }
            Some(id)
        })
        .await
    }

    /// Runs `attempt` under the lock until it succeeds or the connection
    /// ends, waiting on `notify` in between. Registering before looking
    /// means no wake-up is missed.
    async fn wait_for<T>(
        &self,
        notify: &Notify,
        purpose: &'static str,
        mut attempt: impl FnMut(&mut ConnectionState) -> Option<T>,
    ) -> Result<T, ConnectionError> {
        loop {
            let notified = notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut state = self.lock(purpose);
                if let Some(error) = &state.error {
                    return Err(error.clone());
                }
                if let Some(value) = attempt(&mut state) {
                    return Ok(value);
                }
            }
            notified.await;
        }
    }

    /// Queues an unreliable datagram (RFC 9221). Datagrams are never
    /// retransmitted; when the send queue is full the oldest is dropped.
    pub fn send_datagram(&self, data: Bytes) -> Result<(), SendDatagramError> {
        {
            let mut state = self.lock("send_datagram");
            if let Some(error) = &state.error {
                return Err(SendDatagramError::ConnectionLost(error.clone()));
            }
            state.proto.send_datagram(data)?;
        }
        self.inner.wake_driver();
        Ok(())
    }

    /// Receives the next datagram (RFC 9221), waiting for one. Datagrams
    /// received while none is read are queued up to
    /// [`TransportConfig::datagram_receive_queue`](crate::TransportConfig::datagram_receive_queue);
    /// beyond that the oldest is dropped.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a datagram is taken only when this returns it.
    pub async fn read_datagram(&self) -> Result<Bytes, ConnectionError> {
        let notify = &self.inner.notify.datagram;
        self.wait_for(notify, "read_datagram", |state| state.proto.recv_datagram())
            .await
    }

    /// The largest datagram [`send_datagram`](Self::send_datagram) takes
    /// now, or `None` if the peer does not accept datagrams.
    pub fn max_datagram_size(&self) -> Option<usize> {
        self.lock("max_datagram_size").proto.max_datagram_size()
    }

    /// Closes the connection at once with an application error code and
    /// reason (RFC 9000 §10.2): streams stop, and the peer receives a
    /// CONNECTION_CLOSE. Data not yet acknowledged is lost; to deliver it,
    /// wait for [`SendStream::stopped`] (or an application-level reply)
    /// first.
    pub fn close(&self, error_code: VarInt, reason: &[u8]) {
        self.inner.close(error_code, Bytes::copy_from_slice(reason));
    }

    /// Waits for the connection to end, and says why.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn closed(&self) -> ConnectionError {
        let notify = &self.inner.notify.closed;
        match self
            .wait_for(notify, "closed", |_| None::<Infallible>)
            .await
        {
            Err(error) => error,
            Ok(never) => match never {},
        }
    }

    /// Why the connection ended, if it has.
    pub fn close_reason(&self) -> Option<ConnectionError> {
        self.lock("close_reason").error.clone()
    }

    /// The current smoothed RTT estimate (RFC 9002 §5.3).
    pub fn rtt(&self) -> Duration {
        self.lock("rtt").proto.rtt().smoothed_rtt()
    }

    /// Counters about what the connection sent and received.
    pub fn stats(&self) -> ConnectionStats {
        self.lock("stats").proto.stats()
    }

    /// The peer's address.
    pub fn remote_address(&self) -> SocketAddr {
        self.lock("remote_address").proto.remote_address()
    }

    /// Which side of the connection this is.
    pub fn side(&self) -> Side {
        self.lock("side").proto.side()
    }

    /// Starts a 1-RTT key update (RFC 9001 §6) as soon as one is allowed.
    pub fn force_key_update(&self) {
        self.lock("force_key_update").proto.force_key_update();
        self.inner.wake_driver();
    }

    /// The application protocol negotiated with ALPN (RFC 9001 §8.1).
    pub fn alpn_protocol(&self) -> Option<Vec<u8>> {
        self.lock("alpn_protocol")
            .proto
            .alpn_protocol()
            .map(<[u8]>::to_vec)
    }

    /// The peer's certificate chain, end-entity first, if it sent one.
    pub fn peer_certificates(&self) -> Option<Vec<CertificateDer<'static>>> {
        let state = self.lock("peer_certificates");
        let chain = state.proto.peer_certificates()?;
        Some(
            chain
                .into_iter()
                .map(|der| CertificateDer::from(der.to_vec()))
                .collect(),
        )
    }

    /// The server name: the SNI a server received, or the name a client
    /// connected to.
    pub fn server_name(&self) -> Option<String> {
        self.lock("server_name")
            .proto
            .server_name()
            .map(str::to_owned)
    }

    /// A number identifying the connection among the endpoint's live ones;
    /// reused after it drains.
    pub fn stable_id(&self) -> usize {
        self.inner.handle.0
    }
}
