//! Arbitrary datagrams to a server endpoint, from a few addresses: nothing
//! panics, connections it starts stay bounded, transmits are drained.
#![no_main]

#[path = "common.rs"]
mod common;

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    #[allow(clippy::disallowed_methods)]
    let mut now = Instant::now();
    let mut server = common::Side::server(now);
    let mut out = Vec::new();
    let mut rest = data;
    // Each datagram: one byte of source, two of length, then the bytes.
    while rest.len() >= 3 {
        let source = rest[0] % 4;
        let len = usize::from(u16::from_be_bytes([rest[1], rest[2]])) % 1500;
        rest = &rest[3..];
        let take = len.min(rest.len());
        let (datagram, tail) = rest.split_at(take);
        rest = tail;
        let from = std::net::SocketAddr::from(([10, 0, 1, source], 1000 + u16::from(source)));
        now += Duration::from_millis(1);
        server.receive(now, from, datagram, &mut out);
        out.clear();
    }
    assert!(server.conns.len() <= 1024);
});
