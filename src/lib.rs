//! `quic`: an async, Tokio-native QUIC implementation.
//!
//! This umbrella crate re-exports the Tokio driver ([`quic_tokio`]) at its
//! root and the sans-IO protocol crate as [`proto`].
#![warn(missing_docs)]

pub use quic_proto as proto;
pub use quic_tokio::*;
