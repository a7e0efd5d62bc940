//! QUIC for Tokio: the driver and async API over the sans-IO [`quic_proto`].
//!
//! An [`Endpoint`] owns a UDP socket. It connects out ([`Endpoint::connect`])
//! and, with a [`ServerConfig`], accepts connections ([`Endpoint::accept`]).
//! A [`Connection`] opens and accepts streams: [`SendStream`] implements
//! [`AsyncWrite`](tokio::io::AsyncWrite) and [`RecvStream`] implements
//! [`AsyncRead`](tokio::io::AsyncRead), and both have `async` methods that
//! move [`Bytes`](bytes::Bytes) without copying. Connections also carry
//! unreliable datagrams (RFC 9221).
//!
//! # Example
//!
//! An echo server and a client on loopback:
//!
//! ```
//! use std::net::SocketAddr;
//! use quic_tokio::{ClientConfig, Endpoint, ServerConfig, VarInt};
//! use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // A self-signed certificate for "localhost".
//! let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()])?;
//! let cert = CertificateDer::from(certified.cert.der().to_vec());
//! let key = PrivateKeyDer::from(PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der()));
//!
//! let mut server_config = ServerConfig::with_single_cert(vec![cert.clone()], key)?;
//! server_config.alpn_protocols(vec![b"echo".to_vec()]);
//! let server = Endpoint::server(server_config, "127.0.0.1:0".parse()?)?;
//! let server_addr = server.local_addr()?;
//! tokio::spawn(async move {
//!     while let Some(incoming) = server.accept().await {
//!         let Ok(connecting) = incoming.accept() else { continue };
//!         tokio::spawn(async move {
//!             let connection = connecting.await?;
//!             let (mut send, mut recv) = connection.accept_bi().await?;
//!             let request = recv.read_to_end(64 * 1024).await?;
//!             send.write_all(&request).await?;
//!             send.finish()?;
//!             connection.closed().await;
//!             Ok::<_, std::io::Error>(())
//!         });
//!     }
//! });
//!
//! let mut roots = rustls::RootCertStore::empty();
//! roots.add(cert)?;
//! let mut client_config = ClientConfig::with_root_certificates(roots);
//! client_config.alpn_protocols(vec![b"echo".to_vec()]);
//! let client = Endpoint::client(SocketAddr::from(([127, 0, 0, 1], 0)))?;
//! client.set_default_client_config(client_config);
//!
//! let connection = client.connect(server_addr, "localhost")?.await?;
//! let (mut send, mut recv) = connection.open_bi().await?;
//! send.write_all(b"hello").await?;
//! send.finish()?;
//! assert_eq!(recv.read_to_end(1024).await?, b"hello");
//!
//! connection.close(VarInt::from_u32(0), b"done");
//! client.wait_idle().await;
//! # Ok(())
//! # }
//! ```
//!
//! # How it runs
//!
//! Each endpoint has one driver task, spawned on the runtime that created
//! it. The task owns the socket, hands every received datagram straight to
//! its connection, sends what the connections have to send, and keeps one
//! timer for the earliest of all the connections' deadlines. Application
//! calls change a connection's state under its lock and wake the driver;
//! the driver wakes exactly the tasks an event concerns. Dropping every
//! handle lets the connections close and drain, then the task ends and the
//! socket closes.
//!
//! Time comes from Tokio's clock, so `tokio::time::pause()` drives every
//! protocol timer in tests.
//!
//! `SSLKEYLOGFILE` is honoured by the configurations built with
//! [`ServerConfig::with_single_cert`] and
//! [`ClientConfig::with_root_certificates`].
#![warn(missing_docs)]

mod clock;
mod config;
mod connection;
mod driver;
mod endpoint;
mod error;
mod recv_stream;
mod send_stream;
mod shared;
mod sync;
mod udp;

pub use quic_proto::config::{EndpointConfig, TransportConfig};
pub use quic_proto::connection::ConnectionStats;
pub use quic_proto::error::TransportError;
pub use quic_proto::frame::{ApplicationClose, ConnectionClose};
pub use quic_proto::token::TokenKey;
pub use quic_proto::{ConnectionId, Dir, Side, StreamId, TransportErrorCode, VarInt, Version};
pub use rustls;

pub use crate::config::{ClientConfig, ServerConfig};
pub use crate::connection::{Connecting, Connection};
pub use crate::endpoint::{Endpoint, Incoming, RetryError};
pub use crate::error::{
    AcceptError, ClosedStream, ConfigError, ConnectError, ConnectionError, ReadError,
    ReadExactError, ReadToEndError, SendDatagramError, StoppedError, WriteError,
};
pub use crate::recv_stream::RecvStream;
pub use crate::send_stream::SendStream;

/// Every handle can move between tasks and threads and be stored anywhere.
const _: fn() = || {
    fn assert<T: Send + Sync + Unpin + 'static>() {}
    assert::<Endpoint>();
    assert::<Incoming>();
    assert::<Connecting>();
    assert::<Connection>();
    assert::<SendStream>();
    assert::<RecvStream>();
    assert::<ServerConfig>();
    assert::<ClientConfig>();
    assert::<ConnectionError>();
    assert::<ConnectError>();
    assert::<WriteError>();
    assert::<ReadError>();
    assert::<RetryError>();
};
