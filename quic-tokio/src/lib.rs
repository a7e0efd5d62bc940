//! The Tokio driver for [`quic_proto`]: it owns the UDP sockets and the
//! connections' deadlines, and surfaces `Endpoint`, `Connection`,
//! `SendStream` and `RecvStream` to `async fn` code.
//!
//! The driver is built on the connection state machine; until that lands this
//! crate only re-exports the protocol crate's value types.
#![warn(missing_docs)]

#[allow(dead_code)] // until the driver uses it
mod udp;

pub use quic_proto::{ConnectionId, Dir, Side, StreamId, TransportErrorCode, VarInt, Version};
