//! A sans-IO implementation of QUIC (RFC 9000, 9001, 9002, with RFC 9221
//! datagrams, RFC 9368 version negotiation and QUIC v2 from RFC 9369).
//!
//! # The contract
//!
//! This crate does no I/O, reads no clock and starts no threads. The caller
//! passes `now` into every call that changes state, feeds received datagrams
//! and expired deadlines in, and drains datagrams to send, the next deadline
//! and application events out. Randomness comes from a generator seeded
//! through [`config::EndpointConfig`]. The same inputs give the same outputs,
//! which is what lets the test suite run whole connections on a virtual
//! clock and a simulated network.
//!
//! # A tour of the modules, from the wire up
//!
//! - [`coding`]: variable-length integers (RFC 9000 §16) and bounded readers
//!   that return errors instead of panicking.
//! - [`cid`], [`shared`], [`version`]: connection IDs and their generators,
//!   stream IDs, sides, directions, packet number spaces, QUIC versions.
//! - [`packet`]: long and short headers, Version Negotiation and Retry
//!   packets, packet number encoding, coalesced packets (RFC 9000 §17).
//! - [`frame`]: every frame of RFC 9000 §19 and RFC 9221's DATAGRAM, parsed
//!   without copying from the decrypted payload (RFC 9000 §12.4, §19).
//! - [`transport_params`]: the transport parameters extension (RFC 9000 §18).
//! - [`crypto`]: packet and header protection through rustls' QUIC API
//!   (RFC 9001 §5), Initial secrets for v1 and v2, Retry integrity, key
//!   updates, and the TLS session.
//! - [`rand`], [`token`], [`reset`]: the seedable generator, address
//!   validation tokens (RFC 9000 §8.1) and stateless resets (§10.3).
//! - [`range_set`]: sorted range sets for ACK and stream bookkeeping.
//! - [`config`]: transport, endpoint, server and client settings with their
//!   documented defaults.
//! - [`endpoint`]: one per UDP socket: routing, new connections, Version
//!   Negotiation, Retry, stateless resets (RFC 9000 §5.2, §6, §8, §10.3).
//! - [`connection`]: the connection state machine and its components:
//!   streams and flow control, loss recovery and congestion control, ACKs,
//!   connection IDs, key updates, datagrams, timers, closing.
//! - [`error`]: transport error codes (RFC 9000 §20).
//!
//! # Driving it
//!
//! A driver owns one [`endpoint::Endpoint`] per socket and the
//! [`connection::Connection`]s it creates, and after every input follows the
//! same order:
//!
//! 1. A datagram arrives: [`Endpoint::handle`](endpoint::Endpoint::handle)
//!    routes it. `ForConnection` goes to
//!    [`Connection::handle_datagram`](connection::Connection::handle_datagram);
//!    `NewConnection` is accepted, refused, retried or ignored; `Response`
//!    bytes are sent as they are.
//! 2. A deadline passes: [`Connection::handle_timeout`](connection::Connection::handle_timeout).
//! 3. Then, for each connection touched: drain
//!    [`poll_transmit`](connection::Connection::poll_transmit) until `None`
//!    and send what it wrote; drain
//!    [`poll_event`](connection::Connection::poll_event) into the
//!    application; drain
//!    [`poll_endpoint_event`](connection::Connection::poll_endpoint_event)
//!    into [`Endpoint::handle_event`](endpoint::Endpoint::handle_event)
//!    (a `Drained` event means the connection can be dropped); and re-arm the
//!    timer at [`poll_timeout`](connection::Connection::poll_timeout).
//! 4. The application calls stream or connection methods: repeat step 3
//!    for that connection.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cid;
pub mod coding;
pub mod config;
pub mod connection;
pub mod crypto;
pub mod endpoint;
pub mod error;
pub mod frame;
pub mod packet;
pub mod rand;
pub mod range_set;
pub mod reset;
pub mod shared;
pub mod token;
pub mod transport_params;
pub mod version;

#[cfg(test)]
mod wire_tests;

pub use cid::ConnectionId;
pub use coding::VarInt;
pub use error::{TransportError, TransportErrorCode};
pub use shared::{Dir, Side, SpaceId, StreamId};
pub use version::Version;
