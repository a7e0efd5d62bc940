//! A sans-IO implementation of QUIC (RFC 9000, 9001, 9002, with RFC 9221
//! datagrams, RFC 9368 version negotiation and QUIC v2 from RFC 9369).
//!
//! # The contract
//!
//! This crate does no I/O, reads no clock and starts no threads. The caller
//! passes `now` into every call that changes state, feeds received datagrams
//! and expired deadlines in, and drains datagrams to send, the next deadline
//! and application events out. The same inputs give the same outputs, which is
//! what lets the test suite run whole connections on a virtual clock.
//!
//! # A tour of the modules, from the wire up
//!
//! - [`coding`]: variable-length integers (RFC 9000 §16) and bounded readers
//!   that return errors instead of panicking.
//! - [`cid`], [`shared`], [`version`]: connection IDs, stream IDs, sides,
//!   directions, packet number spaces and QUIC versions.
//! - [`packet`]: long and short headers, Version Negotiation and Retry
//!   packets, packet number encoding, coalesced packets (RFC 9000 §17).
//! - [`frame`]: every frame of RFC 9000 §19 and RFC 9221's DATAGRAM, parsed
//!   without copying from the decrypted payload (RFC 9000 §12.4, §19).
//! - [`transport_params`]: the transport parameters extension (RFC 9000 §18).
//! - [`crypto`]: packet and header protection through rustls' QUIC API
//!   (RFC 9001 §5), initial secrets for v1 and v2, Retry integrity, key update.
//! - [`error`]: transport error codes (RFC 9000 §20).
//! - [`range_set`]: sorted sets of packet number and byte ranges, for ACK
//!   tracking and stream bookkeeping.
//! - [`connection`]: the per-connection machinery. So far the recovery
//!   building blocks of RFC 9002: the RTT estimator, the congestion
//!   [`Controller`](connection::congestion::Controller) trait with NewReno,
//!   and the pacer. The state machine itself is the next step.
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
