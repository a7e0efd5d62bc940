//! Streams (RFC 9000 §2, §3, §4): for now, the receive-side reassembly buffer.

pub mod assembler;
