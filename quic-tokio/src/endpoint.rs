//! The application's handle on an endpoint: one UDP socket, its driver task,
//! and the connections made or accepted through it.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use quic_proto::ConnectionId;
use quic_proto::coding::VarInt;
use quic_proto::config::EndpointConfig;
use quic_proto::rand::Rng;
use quic_proto::token::TokenKey;

use crate::clock;
use crate::config::{ClientConfig, ServerConfig};
use crate::connection::Connecting;
use crate::connection::state::{ConnectionRef, ConnectionShared};
use crate::driver::Driver;
use crate::error::{AcceptError, ConnectError};
use crate::shared::{EndpointRef, EndpointShared};
use crate::udp::UdpSocket;

/// A QUIC endpoint: one UDP socket, serving as a client, a server or both.
///
/// Creating one spawns its driver task on the current Tokio runtime. The
/// driver runs while any handle on the endpoint exists (`Endpoint` clones,
/// pending [`Incoming`]s) or any connection lives; dropping every handle
/// lets the connections finish (see [`Connection`](crate::Connection) for
/// when they close), after which the task ends and the socket closes.
#[derive(Debug, Clone)]
pub struct Endpoint {
    inner: EndpointRef,
}

impl Endpoint {
    /// A server endpoint bound to `addr`, accepting connections with
    /// `config`; it can also connect out.
    ///
    /// Must be called within a Tokio runtime.
    pub fn server(config: ServerConfig, addr: SocketAddr) -> io::Result<Self> {
        Self::new(EndpointConfig::default(), Some(config), addr)
    }

    /// A client endpoint bound to `addr` (typically `0.0.0.0:0` or
    /// `[::]:0`). Set a default client configuration with
    /// [`set_default_client_config`](Self::set_default_client_config) or
    /// pass one to [`connect_with`](Self::connect_with).
    ///
    /// Must be called within a Tokio runtime.
    pub fn client(addr: SocketAddr) -> io::Result<Self> {
        Self::new(EndpointConfig::default(), None, addr)
    }

    /// An endpoint with explicit endpoint-wide settings, bound to `addr`.
    /// The random generator is seeded from the operating system unless
    /// `config` fixes a seed.
    ///
    /// Must be called within a Tokio runtime.
    pub fn new(
        config: EndpointConfig,
        server: Option<ServerConfig>,
        addr: SocketAddr,
    ) -> io::Result<Self> {
        let runtime = tokio::runtime::Handle::try_current().map_err(io::Error::other)?;
        let socket = UdpSocket::bind(addr)?;
        let local_addr = socket.local_addr()?;
        let mut os_rng =
            Rng::from_os().map_err(|_| io::Error::other("no randomness from the OS"))?;
        let token_key = TokenKey::from_rng(&mut os_rng);
        let max_incoming = server.as_ref().map_or(0, |s| s.max_incoming);
        let server = server.map(|s| Arc::new(s.to_proto(token_key.clone())));
        let (now, wall) = clock::wall_clock();
        let mut proto = quic_proto::endpoint::Endpoint::new(Arc::new(config), server, now);
        proto.set_wall_clock(now, wall);
        let shared = EndpointShared::new(proto, max_incoming, token_key, local_addr);
        let endpoint = Self {
            inner: EndpointRef::new(shared.clone()),
        };
        let driver = runtime.spawn(Driver::new(shared.clone(), socket));
        *shared.driver.lock("spawn") = Some(driver);
        Ok(endpoint)
    }

    /// The address the socket is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.inner.local_addr)
    }

    /// Sets the configuration [`connect`](Self::connect) uses.
    pub fn set_default_client_config(&self, config: ClientConfig) {
        self.inner
            .state
            .lock("set_default_client_config")
            .default_client_config = Some(config);
    }

    /// Replaces the server configuration for new connections; `None` stops
    /// accepting (new clients are then ignored).
    pub fn set_server_config(&self, config: Option<ServerConfig>) {
        let mut endpoint = self.inner.state.lock("set_server_config");
        let token_key = endpoint.token_key.clone();
        endpoint.max_incoming = config.as_ref().map_or(0, |s| s.max_incoming);
        let server = config.map(|s| Arc::new(s.to_proto(token_key)));
        endpoint.proto.set_server_config(server);
    }

    /// Connects to `addr`, naming the server `server_name` for SNI and
    /// certificate checks, with the default client configuration.
    ///
    /// Returns at once; await the [`Connecting`] for the handshake.
    pub fn connect(&self, addr: SocketAddr, server_name: &str) -> Result<Connecting, ConnectError> {
        let config = self
            .inner
            .state
            .lock("connect")
            .default_client_config
            .clone()
            .ok_or(ConnectError::NoDefaultClientConfig)?;
        self.connect_with(config, addr, server_name)
    }

    /// Connects to `addr` with `config`.
    pub fn connect_with(
        &self,
        config: ClientConfig,
        addr: SocketAddr,
        server_name: &str,
    ) -> Result<Connecting, ConnectError> {
        let local = self.inner.local_addr;
        if addr.port() == 0 || addr.ip().is_unspecified() || addr.is_ipv4() != local.is_ipv4() {
            // An IPv6 socket could reach IPv4 peers as mapped addresses,
            // but the connection would then see them under another name.
            return Err(ConnectError::InvalidRemoteAddress(addr));
        }
        let connection = {
            let mut endpoint = self.inner.state.lock("connect");
            if endpoint.closed || endpoint.driver_stopped {
                return Err(ConnectError::EndpointStopping);
            }
            let (handle, proto) =
                endpoint
                    .proto
                    .connect(clock::now(), &config.inner, addr, server_name)?;
            let connection = ConnectionShared::new(handle, proto, Arc::clone(&self.inner));
            endpoint.insert(connection.clone());
            connection
        };
        connection.wake_driver();
        Ok(Connecting::new(ConnectionRef::new(connection)))
    }

    /// The next connection a client started, or `None` once the endpoint
    /// is closed.
    ///
    /// Up to the server configuration's
    /// [`max_incoming`](ServerConfig::max_incoming) new connections wait
    /// here; more are refused. An endpoint without a server configuration
    /// never yields one.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a connection is taken off the queue only when this
    /// returns it.
    pub async fn accept(&self) -> Option<Incoming> {
        loop {
            let notified = self.inner.incoming_notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let mut endpoint = self.inner.state.lock("accept");
                if let Some(incoming) = endpoint.incoming.pop_front() {
                    return Some(Incoming {
                        dst_cid: incoming.dst_cid(),
                        inner: Some(incoming),
                        endpoint: self.inner.clone(),
                    });
                }
                if endpoint.closed || endpoint.driver_stopped {
                    return None;
                }
            }
            notified.await;
        }
    }

    /// Closes every connection with `error_code` and `reason` (RFC 9000
    /// §10.2) and accepts no more; [`accept`](Self::accept) then returns
    /// `None`. Await [`wait_idle`](Self::wait_idle) to let the closes
    /// reach the peers before the runtime stops.
    pub fn close(&self, error_code: VarInt, reason: &[u8]) {
        let connections: Vec<Arc<ConnectionShared>> = {
            let mut endpoint = self.inner.state.lock("close");
            endpoint.closed = true;
            endpoint.clear_incoming();
            endpoint.connections().cloned().collect()
        };
        let reason = Bytes::copy_from_slice(reason);
        for connection in connections {
            connection.close(error_code, reason.clone());
        }
        self.inner.incoming_notify.notify_waiters();
    }

    /// Waits until every connection of the endpoint has drained: closed,
    /// and its closing or draining period over (RFC 9000 §10.2).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn wait_idle(&self) {
        loop {
            let notified = self.inner.idle_notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let endpoint = self.inner.state.lock("wait_idle");
                if endpoint.connection_count() == 0 || endpoint.driver_stopped {
                    return;
                }
            }
            notified.await;
        }
    }

    /// How many connections the endpoint drives, including those still
    /// closing or draining.
    pub fn open_connections(&self) -> usize {
        self.inner.state.lock("open_connections").connection_count()
    }

    /// Takes the handle of the endpoint's driver task, for tests that check
    /// that the task ends once every handle is dropped. Only the first call
    /// gets it.
    #[doc(hidden)]
    pub fn take_driver_handle(&self) -> Option<tokio::task::JoinHandle<()>> {
        self.inner.driver.lock("take_driver_handle").take()
    }
}

/// A client's first packet, waiting for the server's decision: accept,
/// refuse, retry or ignore (RFC 9000 §5.2.2, §8.1). Dropping it ignores it.
pub struct Incoming {
    inner: Option<quic_proto::endpoint::Incoming>,
    /// The DCID of the client's Initial, forgotten by the endpoint when
    /// this is dropped.
    dst_cid: ConnectionId,
    endpoint: EndpointRef,
}

impl fmt::Debug for Incoming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Incoming")
            .field("remote_address", &self.remote_address())
            .finish_non_exhaustive()
    }
}

impl Incoming {
    fn proto(&self) -> &quic_proto::endpoint::Incoming {
        self.inner.as_ref().expect("present until consumed")
    }

    /// The client's address.
    pub fn remote_address(&self) -> SocketAddr {
        self.proto().remote_address()
    }

    /// Whether the client proved it owns its address, with a token from a
    /// Retry or an earlier connection (RFC 9000 §8.1).
    pub fn remote_address_validated(&self) -> bool {
        self.proto().remote_address_validated()
    }

    /// Whether [`retry`](Self::retry) may answer it: not if the client
    /// already came back from a Retry.
    pub fn may_retry(&self) -> bool {
        self.proto().may_retry()
    }

    /// Accepts the connection; await the [`Connecting`] for the handshake.
    pub fn accept(mut self) -> Result<Connecting, AcceptError> {
        let incoming = self.inner.take().expect("present until consumed");
        let connection = {
            let mut endpoint = self.endpoint.state.lock("incoming_accept");
            if endpoint.closed || endpoint.driver_stopped {
                return Err(AcceptError::EndpointStopping);
            }
            let (handle, proto) = endpoint.proto.accept(incoming, clock::now())?;
            let connection = ConnectionShared::new(handle, proto, Arc::clone(&self.endpoint));
            endpoint.insert(connection.clone());
            connection
        };
        connection.wake_driver();
        Ok(Connecting::new(ConnectionRef::new(connection)))
    }

    /// Refuses the connection with CONNECTION_REFUSED (RFC 9000 §5.2.2).
    pub fn refuse(mut self) {
        let incoming = self.inner.take().expect("present until consumed");
        let mut response = Vec::new();
        {
            let mut endpoint = self.endpoint.state.lock("refuse");
            if let Some(transmit) = endpoint.proto.refuse(incoming, &mut response) {
                response.truncate(transmit.size);
                endpoint.queue_response(transmit.destination, response);
            }
        }
        self.endpoint.wake_driver();
    }

    /// Answers with a Retry carrying an address-validation token (RFC 9000
    /// §8.1.2); the client comes back with it, and its next `Incoming` has
    /// [`remote_address_validated`](Self::remote_address_validated) set.
    ///
    /// Fails, giving the `Incoming` back, if the client already came back
    /// from a Retry ([`may_retry`](Self::may_retry)) or the endpoint is no
    /// longer a server.
    pub fn retry(mut self) -> Result<(), RetryError> {
        if !self.may_retry() {
            return Err(RetryError(Box::new(self)));
        }
        let incoming = self.inner.take().expect("present until consumed");
        let mut response = Vec::new();
        {
            let mut endpoint = self.endpoint.state.lock("retry");
            // `may_retry` was checked: only a missing server configuration
            // can fail, and then the client is ignored.
            if let Ok(transmit) = endpoint.proto.retry(incoming, &mut response) {
                response.truncate(transmit.size);
                endpoint.queue_response(transmit.destination, response);
            }
        }
        self.endpoint.wake_driver();
        Ok(())
    }

    /// Drops the connection attempt without an answer.
    pub fn ignore(mut self) {
        self.inner = None;
    }
}

impl Drop for Incoming {
    /// Once the application decided (or dropped it), a later Initial with
    /// the same DCID is either routed to the accepted connection or is a
    /// new attempt.
    fn drop(&mut self) {
        let mut endpoint = self.endpoint.state.lock("drop_incoming");
        endpoint.pending_dst_cids.remove(&self.dst_cid);
    }
}

/// [`Incoming::retry`] was not possible; the `Incoming` is given back.
pub struct RetryError(Box<Incoming>);

impl RetryError {
    /// The `Incoming`, to accept, refuse or ignore instead.
    pub fn into_incoming(self) -> Incoming {
        *self.0
    }
}

impl fmt::Debug for RetryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RetryError").field(&self.0).finish()
    }
}

impl fmt::Display for RetryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the client was already sent a Retry")
    }
}

impl std::error::Error for RetryError {}
