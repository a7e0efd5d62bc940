//! Stream transfers on the simulated network: every byte of every stream
//! arrives exactly once and in order, checked by SHA-256, through loss,
//! reordering, duplication and corruption.
#![allow(missing_debug_implementations)]

mod harness;
mod sim;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use harness::apps::{Transfer, stream_data};
use harness::certs::{client_config, server_config};
use harness::{App, QuicHost};
use quic_proto::Dir;
use quic_proto::config::{EndpointConfig, TransportConfig};
use sim::{LinkBuilder, Network, addr, ms, run_seeded, secs, seeds};

/// The streams one side sends: `count` streams of sizes drawn from the
/// seed, alternating bidirectional and unidirectional.
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

fn transfer(app: &dyn App) -> &Transfer {
    app.as_any()
        .downcast_ref::<Transfer>()
        .expect("a Transfer app")
}

struct Run {
    net: Network<QuicHost>,
    client: SocketAddr,
    server: SocketAddr,
}

/// Client and server each send `count` streams to the other over links
/// built by `link`; the server also echoes nothing (bidi streams are
/// read-only for the receiver here).
fn setup(
    seed: u64,
    count: u64,
    max_len: u64,
    link: impl Fn(LinkBuilder) -> LinkBuilder + 'static,
) -> Run {
    let mut net = Network::new(seed);
    net.set_default_link(move |l| link(l.delay(ms(10))));
    let start = net.start();
    let (client, server) = (addr(1), addr(2));
    let transport = TransportConfig::default();
    let mut server_host = QuicHost::new(
        server,
        EndpointConfig::seeded(seed ^ 0x5e),
        Some(server_config(transport.clone())),
        start,
    );
    let server_streams = streams(seed ^ 0xffff, count, max_len);
    let mut once = Some(server_streams);
    server_host.server_app = Some(Box::new(move || {
        Box::new(Transfer::new(once.take().unwrap_or_default())) as Box<dyn App>
    }));
    net.add_host(server, server_host);
    net.add_host(
        client,
        QuicHost::new(client, EndpointConfig::seeded(seed ^ 0xc1), None, start),
    );
    let app = Box::new(Transfer::new(streams(seed, count, max_len)));
    net.host_mut(client)
        .connect(start, &client_config(transport), server, app);
    Run {
        net,
        client,
        server,
    }
}

fn check(run: &Run) -> Result<(), String> {
    let c = transfer(
        &*run
            .net
            .host(run.client)
            .conns
            .values()
            .next()
            .ok_or("client gone")?
            .app,
    );
    let s = transfer(
        &*run
            .net
            .host(run.server)
            .conns
            .values()
            .next()
            .ok_or("server gone")?
            .app,
    );
    for (id, sent) in &c.sent {
        if s.received.get(id) != Some(sent) {
            return Err(format!(
                "client stream {id} arrived as {:?}, sent {sent:?}",
                s.received.get(id)
            ));
        }
    }
    for (id, sent) in &s.sent {
        if c.received.get(id) != Some(sent) {
            return Err(format!(
                "server stream {id} arrived as {:?}, sent {sent:?}",
                c.received.get(id)
            ));
        }
    }
    Ok(())
}

fn delivered(net: &Network<QuicHost>, client: SocketAddr, server: SocketAddr) -> bool {
    let view = |addr| {
        net.host(addr)
            .conns
            .values()
            .next()
            .map(|c| transfer(&*c.app))
    };
    match (view(client), view(server)) {
        (Some(c), Some(s)) => {
            c.done_sending()
                && s.done_sending()
                && c.sent.len() == s.received.len()
                && s.sent.len() == c.received.len()
        }
        _ => false,
    }
}

fn run_case(
    name: &str,
    seed_count: u64,
    count: u64,
    max_len: u64,
    budget: Duration,
    link: impl Fn(LinkBuilder) -> LinkBuilder + Clone + 'static,
) {
    run_seeded(name, seeds(seed_count), |seed| {
        let mut run = setup(seed, count, max_len, link.clone());
        let (client, server) = (run.client, run.server);
        run.net
            .drive_until(|net| delivered(net, client, server), budget)?;
        check(&run)
    });
}

/// A small transfer on a clean link.
#[test]
fn streams_both_ways_clean_link() {
    run_case(
        "streams_both_ways_clean_link",
        2,
        20,
        20_000,
        secs(30),
        |l| l,
    );
}

/// 1,000 streams of random sizes each way, no loss.
#[test]
fn thousand_streams_no_loss() {
    run_case("thousand_streams_no_loss", 1, 1000, 4_000, secs(120), |l| l);
}

/// 1,000 streams each way at 5% loss with reordering and duplication.
#[test]
fn thousand_streams_5_percent_loss() {
    run_case(
        "thousand_streams_5_percent_loss",
        1,
        1000,
        4_000,
        secs(300),
        |l| l.loss(0.05).reorder(0.05, ms(15)).duplicate(0.02),
    );
}

/// 1,000 streams each way at 20% loss with reordering and duplication.
#[test]
fn thousand_streams_20_percent_loss() {
    run_case(
        "thousand_streams_20_percent_loss",
        1,
        1000,
        4_000,
        secs(600),
        |l| l.loss(0.20).reorder(0.05, ms(15)).duplicate(0.02),
    );
}

/// 1,000 streams each way with 1% of datagrams corrupted: corrupted
/// packets fail authentication and are repaired like losses.
#[test]
fn thousand_streams_1_percent_corruption() {
    run_case(
        "thousand_streams_1_percent_corruption",
        1,
        1000,
        4_000,
        secs(120),
        |l| l.corrupt(0.01),
    );
}
