//! Arbitrary frame bytes sent inside genuine, protected 1-RTT packets from a
//! client to a server after a real handshake: the server's frame
//! processing never panics, and whatever it does it stays able to answer.
#![no_main]

#[path = "common.rs"]
mod common;

use std::time::Instant;

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use quic_proto::SpaceId;

fuzz_target!(|data: &[u8]| {
    #[allow(clippy::disallowed_methods)]
    let mut now = Instant::now();
    let mut client = common::Side::client(now);
    let mut server = common::Side::server(now);
    common::exchange(&mut client, &mut server, &mut now, 50);
    let Some(conn) = client.conns.values_mut().next() else { return };
    if conn.is_handshaking() {
        return;
    }
    // Up to four packets of fuzzed frames.
    for chunk in data.chunks(1000).take(4) {
        let Some(conn) = client.conns.values_mut().next() else { return };
        conn.inject_raw_frames(SpaceId::Data, Bytes::copy_from_slice(chunk));
        common::exchange(&mut client, &mut server, &mut now, 20);
    }
});
