//! The connection state machine (RFC 9000, RFC 9002).
//!
//! For now this holds the self-contained recovery building blocks that the
//! state machine drives: the RTT estimator ([`rtt`], RFC 9002 §5), congestion
//! control ([`congestion`], RFC 9002 §7 and Appendix B) and the pacer
//! ([`pacing`], RFC 9002 §7.7). All of them take time as an input.

pub mod ack_tracker;
pub mod cids;
pub mod congestion;
pub mod crypto_stream;
pub mod datagrams;
pub mod events;
pub mod key_update;
pub mod pacing;
pub mod packet_builder;
pub mod recovery;
pub mod rtt;
pub mod streams;
pub mod timers;
