//! Handshakes on the simulated network (RFC 9000 §7, RFC 9001 §4).
#![allow(missing_debug_implementations)]

mod harness;
mod sim;

use std::net::SocketAddr;

use harness::certs::{ALPN, client_config, server_config};
use harness::{QuicHost, apps};
use quic_proto::TransportErrorCode;
use quic_proto::Version;
use quic_proto::config::{EndpointConfig, TransportConfig};
use quic_proto::connection::{ConnectionError, Event};
use quic_proto::endpoint::ConnectionHandle;
use sim::{Network, addr, run_seeded, secs, seeds};

pub struct Pair {
    pub net: Network<QuicHost>,
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub handle: ConnectionHandle,
}

fn pair(seed: u64, configure: impl FnOnce(&mut Network<QuicHost>)) -> Pair {
    pair_with_versions(seed, None, None, Version::V1, configure)
}

/// A pair whose endpoints speak the given versions (preferred first), the
/// client starting in `client_version`.
fn pair_with_versions(
    seed: u64,
    server_versions: Option<Vec<Version>>,
    client_versions: Option<Vec<Version>>,
    client_version: Version,
    configure: impl FnOnce(&mut Network<QuicHost>),
) -> Pair {
    let mut net = Network::new(seed);
    let start = net.start();
    let (client, server) = (addr(1), addr(2));
    let mut server_endpoint = EndpointConfig::seeded(seed ^ 0x5e);
    if let Some(versions) = server_versions {
        server_endpoint.supported_versions = versions;
    }
    let mut client_endpoint = EndpointConfig::seeded(seed ^ 0xc1);
    if let Some(versions) = client_versions {
        client_endpoint.supported_versions = versions;
    }
    let server_host = QuicHost::new(
        server,
        server_endpoint,
        Some(server_config(TransportConfig::default())),
        start,
    );
    net.add_host(server, server_host);
    net.add_host(client, QuicHost::new(client, client_endpoint, None, start));
    configure(&mut net);
    let mut config = client_config(TransportConfig::default());
    config.version = client_version;
    let handle = net
        .host_mut(client)
        .connect(start, &config, server, apps::idle());
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

/// RFC 9000 §8.1.2, §17.2.5: the server answers the first Initial with a
/// Retry; the client comes back with the token under new Initial keys, and
/// both sides check the original and retry source CID transport
/// parameters (§7.3).
#[test]
fn retry_handshake() {
    run_seeded("retry_handshake", seeds(8), |seed| {
        let mut p = pair(seed, |net| {
            net.host_mut(addr(2)).accept_policy = harness::AcceptPolicy::Retry;
        });
        let (client, server) = (p.client, p.server);
        p.net
            .drive_until(|net| connected(net, client, server), secs(5))?;
        let c = p.net.host_mut(client).only();
        assert!(c.conn.error().is_none());
        // The first Initial was answered by a Retry: the client sent at
        // least two Initials before the server's first packet.
        assert_eq!(p.net.host(server).conns.len(), 1);
        Ok(())
    });
}

/// RFC 9000 §6, RFC 9368 §2.1: a client starting in v2 against a v1-only
/// server gets Version Negotiation, starts over in v1, and the server's
/// Version Information confirms v1 was the right choice (§4).
#[test]
fn handshake_after_version_negotiation() {
    run_seeded("handshake_after_version_negotiation", seeds(4), |seed| {
        let mut p = pair_with_versions(
            seed,
            Some(vec![Version::V1]),
            Some(vec![Version::V2, Version::V1]),
            Version::V2,
            |_| {},
        );
        let (client, server) = (p.client, p.server);
        p.net
            .drive_until(|net| connected(net, client, server), secs(5))?;
        assert_eq!(p.net.host_mut(client).only().conn.version(), Version::V1);
        assert_eq!(p.net.host_mut(server).only().conn.version(), Version::V1);
        Ok(())
    });
}

/// RFC 9368 §2.3, RFC 9369: a client offering v1 and v2 starts in v1; a
/// server preferring v2 answers in v2 and the client follows, with no
/// extra round trip.
#[test]
fn v2_by_compatible_negotiation() {
    run_seeded("v2_by_compatible_negotiation", seeds(4), |seed| {
        let mut p = pair_with_versions(
            seed,
            Some(vec![Version::V2, Version::V1]),
            Some(vec![Version::V1, Version::V2]),
            Version::V1,
            |_| {},
        );
        let (client, server) = (p.client, p.server);
        p.net
            .drive_until(|net| connected(net, client, server), secs(5))?;
        assert_eq!(p.net.host_mut(client).only().conn.version(), Version::V2);
        assert_eq!(p.net.host_mut(server).only().conn.version(), Version::V2);
        Ok(())
    });
}

/// A client speaking only v1 against a server preferring v2: the server
/// stays in v1 because the client did not offer v2.
#[test]
fn no_upgrade_without_offer() {
    run_seeded("no_upgrade_without_offer", seeds(2), |seed| {
        let mut p = pair_with_versions(
            seed,
            Some(vec![Version::V2, Version::V1]),
            Some(vec![Version::V1]),
            Version::V1,
            |_| {},
        );
        let (client, server) = (p.client, p.server);
        p.net
            .drive_until(|net| connected(net, client, server), secs(5))?;
        assert_eq!(p.net.host_mut(server).only().conn.version(), Version::V1);
        Ok(())
    });
}

/// RFC 9000 §7.4.1: a client resuming a TLS session from a ticket of an
/// earlier connection checks and applies the server's new transport
/// parameters, not those remembered with the ticket (which rustls reports
/// until the server's EncryptedExtensions arrive).
#[test]
fn resumed_handshake_uses_new_transport_parameters() {
    run_seeded("resumed_handshake", seeds(4), |seed| {
        let mut net = Network::new(seed);
        let start = net.start();
        let (client, server) = (addr(1), addr(2));
        let mut tickets = server_config(TransportConfig::default());
        std::sync::Arc::make_mut(&mut tickets.crypto).send_tls13_tickets = 2;
        let server_endpoint = EndpointConfig::seeded(seed ^ 0x5e);
        let server_host = QuicHost::new(server, server_endpoint, Some(tickets), start);
        net.add_host(server, server_host);
        let client_endpoint = EndpointConfig::seeded(seed ^ 0xc1);
        net.add_host(client, QuicHost::new(client, client_endpoint, None, start));
        // One configuration, so one TLS session cache, for both connections.
        let config = client_config(TransportConfig::default());
        net.host_mut(client)
            .connect(start, &config, server, apps::idle());
        net.drive_until(|net| connected(net, client, server), secs(5))?;
        // The tickets follow the handshake, in 1-RTT CRYPTO frames.
        net.run_for(secs(1))?;
        let now = net.now();
        let second = net
            .host_mut(client)
            .connect(now, &config, server, apps::idle());
        let done = |net: &Network<QuicHost>| {
            let c = net.host(client).conn(second);
            c.events.contains(&Event::Connected) || c.conn.error().is_some()
        };
        net.drive_until(done, secs(5))?;
        let c = net.host(client).conn(second);
        if let Some(error) = c.conn.error() {
            return Err(format!("resumed handshake failed: {error:?}"));
        }
        Ok(())
    });
}

/// RFC 9000 §5.2.2: a refused connection ends on the client with
/// CONNECTION_REFUSED.
#[test]
fn refused_connection() {
    run_seeded("refused_connection", seeds(4), |seed| {
        let mut p = pair(seed, |net| {
            net.host_mut(addr(2)).accept_policy = harness::AcceptPolicy::Refuse;
        });
        let client = p.client;
        p.net
            .drive_until(|net| net.host(client).conns.is_empty(), secs(5))?;
        let lost = lost_reason(&p.net.host(client).finished[0].events);
        match lost {
            Some(ConnectionError::ConnectionClosed(close)) => {
                assert_eq!(close.error_code, TransportErrorCode::CONNECTION_REFUSED);
            }
            other => return Err(format!("expected CONNECTION_REFUSED, got {other:?}")),
        }
        assert!(p.net.host(p.server).conns.is_empty());
        Ok(())
    });
}

/// Pending handshakes are bounded (`ServerConfig::max_incoming`): beyond
/// the bound new clients are refused instead of growing server state.
#[test]
fn pending_handshakes_are_bounded() {
    run_seeded("pending_handshakes_are_bounded", seeds(2), |seed| {
        let mut net = Network::new(seed);
        let start = net.start();
        let server = addr(100);
        let mut config = server_config(TransportConfig::default());
        config.max_incoming = 3;
        net.add_host(
            server,
            QuicHost::new(server, EndpointConfig::seeded(seed), Some(config), start),
        );
        // The server's answers are lost, so no handshake can complete.
        net.set_default_link(move |l| l.delay(sim::ms(10)));
        for i in 1..=6 {
            let client = addr(i);
            net.add_host(
                client,
                QuicHost::new(client, EndpointConfig::seeded(seed + i as u64), None, start),
            );
            net.set_link(server, client, |l| l.loss(1.0));
            net.host_mut(client).connect(
                start,
                &client_config(TransportConfig::default()),
                server,
                apps::idle(),
            );
        }
        net.run_for(sim::ms(500))?;
        assert_eq!(
            net.host(server).conns.len(),
            3,
            "only max_incoming connections exist"
        );
        Ok(())
    });
}

fn lost_reason(events: &[Event]) -> Option<ConnectionError> {
    events.iter().find_map(|e| match e {
        Event::ConnectionLost { reason } => Some(reason.clone()),
        _ => None,
    })
}
