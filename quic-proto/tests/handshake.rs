//! Handshakes on the simulated network (RFC 9000 §7, RFC 9001 §4).
#![allow(missing_debug_implementations)]

mod harness;
mod sim;

use std::net::SocketAddr;

use harness::certs::{ALPN, client_config, server_config};
use harness::{QuicHost, apps};
use quic_proto::config::{EndpointConfig, TransportConfig};
use quic_proto::connection::Event;
use quic_proto::endpoint::ConnectionHandle;
use sim::{Network, addr, run_seeded, secs, seeds};

pub struct Pair {
    pub net: Network<QuicHost>,
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub handle: ConnectionHandle,
}

fn pair(seed: u64, configure: impl FnOnce(&mut Network<QuicHost>)) -> Pair {
    let mut net = Network::new(seed);
    let start = net.start();
    let (client, server) = (addr(1), addr(2));
    let server_host = QuicHost::new(
        server,
        EndpointConfig::seeded(seed ^ 0x5e),
        Some(server_config(TransportConfig::default())),
        start,
    );
    net.add_host(server, server_host);
    net.add_host(
        client,
        QuicHost::new(client, EndpointConfig::seeded(seed ^ 0xc1), None, start),
    );
    configure(&mut net);
    let handle = net.host_mut(client).connect(
        start,
        &client_config(TransportConfig::default()),
        server,
        apps::idle(),
    );
    Pair {
        net,
        client,
        server,
        handle,
    }
}

fn connected(net: &Network<QuicHost>, client: SocketAddr, server: SocketAddr) -> bool {
    let has = |host: &QuicHost| {
        host.conns
            .values()
            .any(|c| c.events.contains(&Event::Connected))
    };
    has(net.host(client)) && has(net.host(server))
}

/// A plain handshake completes on both sides with the ALPN negotiated and
/// the handshake confirmed (HANDSHAKE_DONE reaches the client).
#[test]
fn plain_handshake() {
    run_seeded("plain_handshake", seeds(8), |seed| {
        let mut p = pair(seed, |_| {});
        let (client, server) = (p.client, p.server);
        p.net
            .drive_until(|net| connected(net, client, server), secs(5))?;
        let c = p.net.host_mut(client).only();
        assert_eq!(c.conn.alpn_protocol(), Some(ALPN));
        assert!(!c.conn.is_handshaking());
        let s = p.net.host_mut(server).only();
        assert_eq!(s.conn.alpn_protocol(), Some(ALPN));
        assert_eq!(s.conn.server_name(), Some("localhost"));
        // Nothing more to do: the network goes idle apart from timers.
        p.net.run_for(secs(1))?;
        let _ = p.handle;
        Ok(())
    });
}
