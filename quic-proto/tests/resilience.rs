//! Connections under stress on the simulated network: many handshakes
//! through heavy loss, a blackholed path, the anti-amplification limit
//! (RFC 9000 §8.1) and small flow control windows (§4).
#![allow(missing_debug_implementations)]

mod harness;
mod sim;

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;

use bytes::{Bytes, BytesMut};
use harness::QuicHost;
use harness::apps::{Transfer, stream_data};
use harness::certs::{
    client_config, large_certificate_len, large_client_config, large_server_config, server_config,
};
use harness::pair::{PairBuilder, app};
use quic_proto::config::{EndpointConfig, TransportConfig};
use quic_proto::connection::Event;
use quic_proto::packet::PartialDecode;
use quic_proto::{Dir, SpaceId, VarInt};
use sim::{EventKind, LinkBuilder, Network, Switch, addr, ms, run_seeded, secs, seeds};

/// The streams one side sends: `count` streams of sizes drawn from the
/// seed up to `max_len`, alternating bidirectional and unidirectional.
fn streams(seed: u64, count: u64, max_len: u64) -> Vec<(Dir, Bytes)> {
    let mut rng = sim::SimRng::from_seed(seed);
    (0..count)
        .map(|i| {
            let len = rng.gen_range(0..max_len + 1) as usize;
            let dir = if i % 2 == 0 { Dir::Bi } else { Dir::Uni };
            (dir, stream_data(seed, i, len))
        })
        .collect()
}

fn transfer_of(net: &Network<QuicHost>, addr: SocketAddr) -> Option<&Transfer> {
    net.host(addr).conns.values().next().map(app::<Transfer>)
}

/// Whether both sides wrote everything and received everything the other
/// sent.
fn delivered(net: &Network<QuicHost>, client: SocketAddr, server: SocketAddr) -> bool {
    match (transfer_of(net, client), transfer_of(net, server)) {
        (Some(c), Some(s)) => {
            c.done_sending()
                && s.done_sending()
                && c.sent.len() == s.received.len()
                && s.sent.len() == c.received.len()
        }
        _ => false,
    }
}

/// Every stream arrived with the length and SHA-256 it was sent with.
fn check_transfer(
    net: &Network<QuicHost>,
    client: SocketAddr,
    server: SocketAddr,
) -> Result<(), String> {
    let c = transfer_of(net, client).ok_or("client connection gone")?;
    let s = transfer_of(net, server).ok_or("server connection gone")?;
    for (from, to, name) in [(c, s, "client"), (s, c, "server")] {
        for (id, sent) in &from.sent {
            if to.received.get(id) != Some(sent) {
                return Err(format!(
                    "{name} stream {id} arrived as {:?}, sent {sent:?}",
                    to.received.get(id)
                ));
            }
        }
        if to.resets != 0 || !to.read_errors.is_empty() {
            return Err(format!(
                "{} streams reset, read errors {:?}",
                to.resets, to.read_errors
            ));
        }
    }
    Ok(())
}

/// No live connection of either host has an error, and none drained.
fn check_no_errors(net: &Network<QuicHost>, addrs: &[SocketAddr]) -> Result<(), String> {
    for &addr in addrs {
        let host = net.host(addr);
        if let Some(conn) = host.finished.first() {
            return Err(format!(
                "{addr}: a connection ended: {:?}",
                conn.conn.error()
            ));
        }
        for conn in host.conns.values() {
            if let Some(error) = conn.conn.error() {
                return Err(format!("{addr}: {error}"));
            }
        }
    }
    Ok(())
}

// ----- many handshakes through loss -----

/// RFC 9002 §6.2: 50 clients, each on its own address, handshake with one
/// server through 30% loss in both directions; loss recovery (PTO probes,
/// retransmitted CRYPTO data) gets every one through within 60 s of
/// virtual time, with no connection error.
#[test]
fn fifty_handshakes_through_30_percent_loss() {
    run_seeded(
        "fifty_handshakes_through_30_percent_loss",
        seeds(1),
        |seed| {
            let mut net = Network::new(seed);
            net.set_default_link(|l| l.delay(ms(10)).loss(0.3));
            let start = net.start();
            let server = addr(200);
            net.add_host(
                server,
                QuicHost::new(
                    server,
                    EndpointConfig::seeded(seed ^ 0x5e),
                    Some(server_config(TransportConfig::default())),
                    start,
                ),
            );
            let clients: Vec<SocketAddr> = (1..=50).map(addr).collect();
            let config = client_config(TransportConfig::default());
            for (i, &client) in clients.iter().enumerate() {
                let endpoint = EndpointConfig::seeded(seed ^ (i as u64 + 1) << 16);
                net.add_host(client, QuicHost::new(client, endpoint, None, start));
                net.host_mut(client)
                    .connect(start, &config, server, harness::apps::idle());
            }
            let connected = |conn: &harness::Conn| conn.events.contains(&Event::Connected);
            net.drive_until(
                |net| {
                    let server = net.host(server);
                    server.conns.len() == 50
                        && server.conns.values().all(connected)
                        && clients
                            .iter()
                            .all(|&c| net.host(c).conns.values().all(connected))
                },
                secs(25),
            )?;
            let mut all = clients.clone();
            all.push(server);
            check_no_errors(&net, &all)?;
            for &client in &clients {
                assert_eq!(net.host(client).conns.len(), 1, "{client}");
            }
            eprintln!("seed {seed}: 50 handshakes done at {:?}", net.elapsed());
            Ok(())
        },
    );
}

// ----- blackhole -----

/// RFC 9002 §6.2: a path that drops everything both ways for 3 s in the
/// middle of a transfer (about 1 MB up, 400 KB down) stalls it; probe timeouts fire
/// with exponential backoff (a handful of datagrams, not a flood); once
/// the path returns the transfer completes with every SHA-256 matching and
/// the connection did not time out (idle timeout 30 s, RFC 9000 §10.1).
#[test]
fn blackhole_mid_transfer_recovers() {
    run_seeded("blackhole_mid_transfer_recovers", seeds(3), |seed| {
        let switch = Switch::new();
        let mut up = streams(seed, 4, 400 * 1024);
        up.push((Dir::Uni, stream_data(seed, 99, 200 * 1024)));
        let mut down = Some(streams(seed ^ 0xffff, 2, 400 * 1024));
        let sw = switch.clone();
        let mut p = PairBuilder::new(seed)
            .client_app(Transfer::new(up))
            .server_app(move || Box::new(Transfer::new(down.take().unwrap_or_default())))
            .build_with(|net| {
                net.set_links(addr(1), addr(2), move |l| l.delay(ms(10)).switch(&sw));
            });
        let (client, server) = (p.client, p.server);
        p.drive_until_connected(secs(5))?;
        p.net.drive_until(
            |net| {
                net.host(client)
                    .conns
                    .values()
                    .next()
                    .is_some_and(|c| c.conn.stats().bytes_sent > 300_000)
            },
            secs(10),
        )?;
        let ptos = |net: &Network<QuicHost>| -> u64 {
            [client, server]
                .iter()
                .filter_map(|&a| net.host(a).conns.values().next())
                .map(|c| c.conn.stats().ptos)
                .sum()
        };
        let sent = |net: &Network<QuicHost>| {
            let traffic = net.traffic();
            [
                traffic.pair(client, server).sent_datagrams,
                traffic.pair(server, client).sent_datagrams,
            ]
        };
        let ptos_before = ptos(&p.net);
        switch.set(true);
        // What was already allowed by the congestion window goes out first.
        p.net.run_for(ms(500))?;
        let sent_before = sent(&p.net);
        p.net.run_for(ms(2500))?;
        switch.set(false);
        let sent_after = sent(&p.net);
        let sent_during = [
            sent_after[0] - sent_before[0],
            sent_after[1] - sent_before[1],
        ];
        let ptos_during = ptos(&p.net) - ptos_before;
        assert!(
            !delivered(&p.net, client, server),
            "the transfer finished before the blackhole"
        );
        check_no_errors(&p.net, &[client, server])?;
        assert!(ptos_during > 0, "no PTO during the blackhole");
        // Probes back off exponentially: in the last 2.5 s a few datagrams
        // each way (two per PTO at most), not one per RTT.
        for (dir, sent) in ["up", "down"].iter().zip(sent_during) {
            assert!(sent <= 12, "{sent} datagrams sent {dir} into the blackhole");
        }
        let resumed = p.net.elapsed();
        p.net
            .drive_until(|net| delivered(net, client, server), secs(30))?;
        check_transfer(&p.net, client, server)?;
        check_no_errors(&p.net, &[client, server])?;
        eprintln!(
            "seed {seed}: {ptos_during} PTOs, sent {sent_during:?} during the blackhole; done {:?} after it",
            p.net.elapsed() - resumed
        );
        Ok(())
    });
}

// ----- anti-amplification -----

/// Watches the server's anti-amplification ledger.
#[derive(Default)]
struct Ledger {
    /// Check the bound (the handshake is under way).
    active: bool,
    /// The server received a Handshake or 1-RTT packet from the client:
    /// its address is validated (RFC 9000 §8.1), conservatively.
    validated: bool,
    /// Datagrams at which the bound was checked.
    checks: u64,
    /// The highest sent / received ratio seen while unvalidated.
    max_ratio: f64,
    /// The size of the client's first datagram.
    first_client_datagram: Option<usize>,
}

/// Whether `datagram` holds a Handshake or 1-RTT packet among its
/// coalesced packets.
fn proves_address(datagram: &BytesMut) -> bool {
    let mut next = Some(datagram.clone());
    for _ in 0..8 {
        let Some(buf) = next.take() else { break };
        let Ok((packet, rest)) = PartialDecode::new(buf, 8, true) else {
            break;
        };
        if matches!(packet.space(), Some(SpaceId::Handshake | SpaceId::Data)) {
            return true;
        }
        next = rest;
    }
    false
}

/// Installs the ledger check: at every datagram until the server's address
/// validation, bytes sent by the server to the client are at most three
/// times the bytes it received from the client (RFC 9000 §8.1).
fn watch_ledger(
    net: &mut Network<QuicHost>,
    client: SocketAddr,
    server: SocketAddr,
) -> Rc<RefCell<Ledger>> {
    let ledger = Rc::new(RefCell::new(Ledger {
        active: true,
        ..Ledger::default()
    }));
    let l = ledger.clone();
    net.observe(move |event, traffic| {
        let mut l = l.borrow_mut();
        let d = event.datagram;
        if event.kind == EventKind::Sent && d.src == client {
            l.first_client_datagram.get_or_insert(d.len());
        }
        if !l.active || l.validated {
            return Ok(());
        }
        l.checks += 1;
        let sent = traffic.pair(server, client).sent_bytes;
        let received = traffic.pair(client, server).delivered_bytes;
        if !traffic.within_amplification(server, client, 3) {
            return Err(format!(
                "anti-amplification: the server sent {sent} bytes having received {received}"
            ));
        }
        if received > 0 {
            l.max_ratio = l.max_ratio.max(sent as f64 / received as f64);
        }
        if event.kind == EventKind::Delivered
            && d.src == client
            && d.dst == server
            && proves_address(&d.payload)
        {
            l.validated = true;
        }
        Ok(())
    });
    ledger
}

/// One handshake with the ledger watched; returns it once both sides are
/// connected.
fn amplification_case(
    seed: u64,
    large: bool,
    up: impl Fn(LinkBuilder) -> LinkBuilder,
    down: impl Fn(LinkBuilder) -> LinkBuilder,
) -> Result<Ledger, String> {
    let mut builder = PairBuilder::new(seed);
    if large {
        builder = builder
            .client_config(large_client_config(TransportConfig::default()))
            .server_config(large_server_config(TransportConfig::default()));
    }
    let (client, server) = (addr(1), addr(2));
    let mut ledger = None;
    let mut p = builder.build_with(|net| {
        net.set_link(client, server, |l| up(l.delay(ms(10))));
        net.set_link(server, client, |l| down(l.delay(ms(10))));
        ledger = Some(watch_ledger(net, client, server));
    });
    let ledger = ledger.ok_or("no ledger")?;
    p.drive_until_connected(secs(60))?;
    ledger.borrow_mut().active = false;
    check_no_errors(&p.net, &[client, server])?;
    let l = ledger.take();
    // RFC 9000 §14.1: the client's first flight is the minimum Initial
    // datagram, which leaves the server the smallest budget: 3,600 bytes.
    assert_eq!(l.first_client_datagram, Some(1200));
    assert!(l.checks > 0);
    assert!(
        l.validated,
        "the server's address validation was never seen"
    );
    Ok(l)
}

/// RFC 9000 §8.1: before it validates the client's address the server
/// sends at most three times what it received, checked at every datagram:
/// on a clean link and with 50% loss from the client (the server then sits
/// at its limit until the client's probes arrive, RFC 9002 §6.2.2.1).
#[test]
fn anti_amplification_limit_holds() {
    run_seeded("anti_amplification_limit_holds", seeds(4), |seed| {
        let clean = amplification_case(seed, false, |l| l, |l| l)?;
        let lossy = amplification_case(seed, false, |l| l.loss(0.5), |l| l)?;
        eprintln!(
            "seed {seed}: max ratio clean {:.2}, lossy {:.2}",
            clean.max_ratio, lossy.max_ratio
        );
        Ok(())
    });
}

/// RFC 9000 §8.1 with a ~10 KB certificate: the server's first flight is
/// about three client datagrams' worth of budget, so it must stop at the
/// limit and continue as the client's datagrams arrive, clean and with 50%
/// loss from the client and 10% to it.
#[test]
fn anti_amplification_limit_holds_large_certificate() {
    run_seeded(
        "anti_amplification_limit_holds_large_certificate",
        seeds(4),
        |seed| {
            let cert = large_certificate_len();
            assert!(cert > 2 * 3600, "the certificate is only {cert} bytes");
            let clean = amplification_case(seed, true, |l| l, |l| l)?;
            let lossy = amplification_case(seed, true, |l| l.loss(0.5), |l| l.loss(0.1))?;
            // The server used its budget: the limit, not its data, held it back.
            for (name, ledger) in [("clean", &clean), ("lossy", &lossy)] {
                assert!(
                    ledger.max_ratio > 2.5,
                    "{name}: max ratio {:.2}",
                    ledger.max_ratio
                );
            }
            eprintln!(
                "seed {seed}: max ratio clean {:.2}, lossy {:.2}",
                clean.max_ratio, lossy.max_ratio
            );
            Ok(())
        },
    );
}

// ----- flow control and stream limits -----

/// RFC 9000 §4.1, §4.6: with a 16 KiB stream window, a 64 KiB connection
/// window and 4 concurrent streams of each type on both sides, 64 streams
/// of up to 24 KB each way never exceed the receiver's limits: the receiver
/// closes with FLOW_CONTROL_ERROR or STREAM_LIMIT_ERROR on a violation, and
/// none happens; every stream arrives intact; neither side ever tracks more
/// than 4 + 4 of its own and 4 + 4 of the peer's streams. Odd seeds run at
/// 5% loss with reordering.
#[test]
fn small_windows_many_streams_stay_within_limits() {
    run_seeded(
        "small_windows_many_streams_stay_within_limits",
        seeds(3),
        |seed| {
            let transport = TransportConfig {
                stream_receive_window: VarInt::from_u32(16 * 1024),
                receive_window: VarInt::from_u32(64 * 1024),
                max_concurrent_bidi_streams: VarInt::from_u32(4),
                max_concurrent_uni_streams: VarInt::from_u32(4),
                ..TransportConfig::default()
            };
            let lossy = seed % 2 == 1;
            let mut down = Some(streams(seed ^ 0xffff, 64, 24_000));
            let mut p = PairBuilder::new(seed)
                .transport(transport)
                .client_app(Transfer::new(streams(seed, 64, 24_000)))
                .server_app(move || Box::new(Transfer::new(down.take().unwrap_or_default())))
                .link(move |l| {
                    if lossy {
                        l.loss(0.05).reorder(0.05, ms(15))
                    } else {
                        l
                    }
                })
                .build();
            let (client, server) = (p.client, p.server);
            let mut most_streams = 0;
            p.net.drive_until(
                |net| {
                    for a in [client, server] {
                        if let Some(c) = net.host(a).conns.values().next() {
                            most_streams = most_streams.max(c.conn.state_sizes().streams);
                        }
                    }
                    delivered(net, client, server)
                        || !net.host(server).finished.is_empty()
                        || !net.host(client).finished.is_empty()
                },
                secs(120),
            )?;
            check_no_errors(&p.net, &[client, server])?;
            check_transfer(&p.net, client, server)?;
            // 4 + 4 streams of the peer's and 4 + 4 of ours at most; under loss
            // a stream of ours can linger waiting for the ACK of its last data
            // after the peer, done with it, returned its credit (RFC 9000 §4.6).
            let bound = if lossy { 24 } else { 16 };
            assert!(
                most_streams <= bound,
                "{most_streams} streams tracked at once"
            );
            eprintln!(
                "seed {seed}: done at {:?}, at most {most_streams} streams",
                p.net.elapsed()
            );
            Ok(())
        },
    );
}
