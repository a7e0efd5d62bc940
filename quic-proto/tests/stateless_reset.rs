//! Stateless reset (RFC 9000 §10.3): a server that lost a connection's state
//! answers its packets with a reset derived from its static key, and the
//! client recognises it.
#![allow(missing_debug_implementations)]

mod harness;
mod sim;

use bytes::Bytes;
use harness::certs::{client_config, server_config};
use harness::{QuicHost, apps};
use quic_proto::Dir;
use quic_proto::config::{EndpointConfig, TransportConfig};
use quic_proto::connection::{ConnectionError, Event};
use sim::{Network, addr, run_seeded, secs, seeds};

/// RFC 9000 §10.3, §10.3.1: after the server restarts with the same reset
/// key, the client's next packet draws a stateless reset, which is smaller
/// than the packet that triggered it (§10.3.3), and the client's connection
/// ends with `Reset` without a closing period.
#[test]
fn restarted_server_resets_the_connection() {
    run_seeded("restarted_server_resets_the_connection", seeds(4), |seed| {
        let mut net = Network::new(seed);
        let start = net.start();
        let (client, server) = (addr(1), addr(2));
        let server_endpoint = EndpointConfig::seeded(seed ^ 0x5e);
        let make_server = |at| {
            QuicHost::new(
                server,
                server_endpoint.clone(),
                Some(server_config(TransportConfig::default())),
                at,
            )
        };
        net.add_host(server, make_server(start));
        net.add_host(
            client,
            QuicHost::new(client, EndpointConfig::seeded(seed ^ 0xc1), None, start),
        );
        let handle = net.host_mut(client).connect(
            start,
            &client_config(TransportConfig::default()),
            server,
            apps::idle(),
        );
        net.drive_until(
            |net| {
                net.host(client)
                    .conns
                    .values()
                    .any(|c| c.events.contains(&Event::Connected))
            },
            secs(5),
        )?;
        net.run_for(secs(1))?;
        // The server loses every connection.
        let now = net.now();
        *net.host_mut(server) = make_server(now);
        // The client sends something; the server can only reset it.
        let conn = &mut net.host_mut(client).conn_mut(handle).conn;
        let id = conn.open(Dir::Bi).ok_or("no stream")?;
        conn.write(id, Bytes::from_static(b"hello?"))
            .map_err(|e| format!("{e:?}"))?;
        let sizes = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
        let seen = sizes.clone();
        net.observe(move |event, _| {
            seen.borrow_mut()
                .push((event.datagram.src, event.datagram.len()));
            Ok(())
        });
        net.drive_until(|net| net.host(client).conns.is_empty(), secs(5))?;
        let finished = &net.host(client).finished;
        let lost = finished[0].events.iter().find_map(|e| match e {
            Event::ConnectionLost { reason } => Some(reason.clone()),
            _ => None,
        });
        assert_eq!(lost, Some(ConnectionError::Reset));
        let sizes = sizes.borrow();
        let from_client = sizes
            .iter()
            .filter(|(src, _)| *src == client)
            .map(|(_, n)| *n)
            .max()
            .unwrap_or(0);
        let resets: Vec<usize> = sizes
            .iter()
            .filter(|(src, _)| *src == server)
            .map(|(_, n)| *n)
            .collect();
        assert!(!resets.is_empty(), "the server answered");
        assert!(
            resets.iter().all(|&n| n < from_client && n >= 21),
            "reset sizes {resets:?} vs {from_client}"
        );
        Ok(())
    });
}
