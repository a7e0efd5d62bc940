//! Interoperability with quinn 0.11, both ways, over loopback: our client
//! with a quinn server and a quinn client with our server.
//!
//! Every case runs under a real-time hang guard ([`interop::bounded`]) and
//! waits only for the events it checks, never for time to pass. Both
//! clients verify the server's self-signed certificate (trusted as their
//! only root) for the name "localhost", and both sides offer the ALPN
//! protocol "interop".
//!
//! quinn 0.11 speaks QUIC v1 (and old drafts) but not v2 (RFC 9369), so the
//! v2 case checks that our client, asked to start in v2, falls back to v1
//! after quinn's Version Negotiation (RFC 9368 §8).

#[path = "common/interop.rs"]
mod interop;

use bytes::Bytes;
use interop::{
    ALPN, SERVER_NAME, Summary, bounded, cert, data, our_client, our_client_config, our_echo_round,
    our_receive, our_send, our_server, our_server_config, ours_to_quinn, ours_to_quinn_with,
    quinn_client, quinn_client_config, quinn_echo_round, quinn_handshake_data, quinn_receive,
    quinn_send, quinn_server, quinn_server_config, quinn_to_ours, quinn_to_ours_with,
    quinn_transport, spawn_our_echo, spawn_quinn_echo,
};

const ECHO_LEN: usize = 10 << 20;

// ----- 1. handshake with ALPN, SNI and certificate verification -----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshake_our_client_quinn_server() {
    bounded(async {
        let pair = ours_to_quinn().await;
        // RFC 9001 §8.1: both sides agree on the protocol.
        assert_eq!(pair.ours.alpn_protocol().as_deref(), Some(ALPN));
        let (protocol, server_name) = quinn_handshake_data(&pair.theirs);
        assert_eq!(protocol.as_deref(), Some(ALPN));
        // quinn received our SNI.
        assert_eq!(server_name.as_deref(), Some(SERVER_NAME));
        assert_eq!(pair.ours.server_name().as_deref(), Some(SERVER_NAME));
        assert_eq!(pair.ours.peer_certificates(), Some(vec![cert()]));
        assert_eq!(
            pair.ours.remote_address(),
            pair.server.local_addr().unwrap()
        );
        assert_eq!(
            pair.theirs.remote_address(),
            pair.client.local_addr().unwrap()
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshake_quinn_client_our_server() {
    bounded(async {
        let pair = quinn_to_ours().await;
        assert_eq!(pair.ours.alpn_protocol().as_deref(), Some(ALPN));
        let (protocol, _) = quinn_handshake_data(&pair.theirs);
        assert_eq!(protocol.as_deref(), Some(ALPN));
        // We received quinn's SNI.
        assert_eq!(pair.ours.server_name().as_deref(), Some(SERVER_NAME));
        assert_eq!(pair.ours.peer_certificates(), None);
        assert_eq!(
            pair.ours.remote_address(),
            pair.client.local_addr().unwrap()
        );
    })
    .await;
}

/// The clients really check the certificate: a name it does not carry
/// fails the handshake.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_for_another_name_is_refused_both_ways() {
    bounded(async {
        let server = quinn_server(quinn_server_config(quinn_transport()));
        let addr = server.local_addr().unwrap();
        tokio::spawn(async move {
            while let Some(incoming) = server.accept().await {
                if let Ok(connecting) = incoming.accept() {
                    tokio::spawn(connecting);
                }
            }
        });
        let client = our_client(our_client_config(Default::default()));
        let result = client.connect(addr, "example.com").unwrap().await;
        assert!(
            matches!(result, Err(quic::ConnectionError::TransportError(_))),
            "{result:?}"
        );

        let server = our_server(our_server_config(Default::default()));
        let addr = server.local_addr().unwrap();
        let accepting = server.clone();
        tokio::spawn(async move {
            while let Some(incoming) = accepting.accept().await {
                if let Ok(connecting) = incoming.accept() {
                    tokio::spawn(connecting);
                }
            }
        });
        let client = quinn_client(quinn_client_config(quinn_transport()));
        let result = client.connect(addr, "example.com").unwrap().await;
        assert!(
            matches!(result, Err(quinn::ConnectionError::TransportError(_))),
            "{result:?}"
        );
        server.close(quic::VarInt::from_u32(0), b"");
    })
    .await;
}

// ----- 2. bidirectional echo of 10 MiB -----

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_10mib_our_client_quinn_server() {
    bounded(async {
        let pair = ours_to_quinn().await;
        spawn_quinn_echo(pair.theirs.clone());
        let echoed = our_echo_round(&pair.ours, 1, ECHO_LEN, || {}).await;
        assert_eq!(echoed, Summary::of_pattern(1, ECHO_LEN));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_10mib_quinn_client_our_server() {
    bounded(async {
        let pair = quinn_to_ours().await;
        spawn_our_echo(pair.ours.clone());
        let echoed = quinn_echo_round(&pair.theirs, 2, ECHO_LEN, || {}).await;
        assert_eq!(echoed, Summary::of_pattern(2, ECHO_LEN));
    })
    .await;
}

// ----- 3. unidirectional streams, each way -----

/// The streams each side sends: (pattern seed, length), from empty to a few
/// hundred KiB.
fn uni_plan(first_seed: u64) -> Vec<(u64, usize)> {
    [0, 1, 1500, 70_000, 300_000]
        .into_iter()
        .enumerate()
        .map(|(i, len)| (first_seed + i as u64, len))
        .collect()
}

/// The summaries of `plan`, sorted (streams may be accepted in any order).
fn expected(plan: &[(u64, usize)]) -> Vec<(usize, Vec<u8>)> {
    let mut out: Vec<_> = plan
        .iter()
        .map(|&(seed, len)| {
            let s = Summary::of_pattern(seed, len);
            (s.len, s.sha256)
        })
        .collect();
    out.sort();
    out
}

async fn our_send_uni(connection: &quic::Connection, plan: &[(u64, usize)]) {
    for &(seed, len) in plan {
        let mut send = connection.open_uni().await.expect("open_uni");
        our_send(&mut send, seed, len, || {}).await;
    }
}

async fn our_accept_uni(connection: &quic::Connection, count: usize) -> Vec<(usize, Vec<u8>)> {
    let mut out = Vec::new();
    for _ in 0..count {
        let mut recv = connection.accept_uni().await.expect("accept_uni");
        let s = our_receive(&mut recv).await;
        out.push((s.len, s.sha256));
    }
    out.sort();
    out
}

async fn quinn_send_uni(connection: &quinn::Connection, plan: &[(u64, usize)]) {
    for &(seed, len) in plan {
        let mut send = connection.open_uni().await.expect("open_uni");
        quinn_send(&mut send, seed, len, || {}).await;
    }
}

async fn quinn_accept_uni(connection: &quinn::Connection, count: usize) -> Vec<(usize, Vec<u8>)> {
    let mut out = Vec::new();
    for _ in 0..count {
        let mut recv = connection.accept_uni().await.expect("accept_uni");
        let s = quinn_receive(&mut recv).await;
        out.push((s.len, s.sha256));
    }
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uni_streams_our_client_quinn_server() {
    bounded(async {
        let pair = ours_to_quinn().await;
        let (ours_plan, theirs_plan) = (uni_plan(10), uni_plan(20));
        let ((), (), from_ours, from_theirs) = tokio::join!(
            our_send_uni(&pair.ours, &ours_plan),
            quinn_send_uni(&pair.theirs, &theirs_plan),
            quinn_accept_uni(&pair.theirs, ours_plan.len()),
            our_accept_uni(&pair.ours, theirs_plan.len()),
        );
        assert_eq!(from_ours, expected(&ours_plan));
        assert_eq!(from_theirs, expected(&theirs_plan));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uni_streams_quinn_client_our_server() {
    bounded(async {
        let pair = quinn_to_ours().await;
        let (ours_plan, theirs_plan) = (uni_plan(30), uni_plan(40));
        let ((), (), from_ours, from_theirs) = tokio::join!(
            our_send_uni(&pair.ours, &ours_plan),
            quinn_send_uni(&pair.theirs, &theirs_plan),
            quinn_accept_uni(&pair.theirs, ours_plan.len()),
            our_accept_uni(&pair.ours, theirs_plan.len()),
        );
        assert_eq!(from_ours, expected(&ours_plan));
        assert_eq!(from_theirs, expected(&theirs_plan));
    })
    .await;
}

// ----- 4. datagrams (RFC 9221), each way -----

const DATAGRAMS: u8 = 5;

fn datagram(from: u8, index: u8) -> Bytes {
    let mut out = vec![from, index];
    out.extend(data(
        u64::from(from) << 8 | u64::from(index),
        100 * usize::from(index),
    ));
    out.into()
}

/// The datagrams received, sorted: loopback does not lose them, but need
/// not keep their order.
fn sorted(mut datagrams: Vec<Bytes>) -> Vec<Bytes> {
    datagrams.sort();
    datagrams
}

fn all_datagrams(from: u8) -> Vec<Bytes> {
    sorted((0..DATAGRAMS).map(|i| datagram(from, i)).collect())
}

async fn exchange_datagrams(ours: &quic::Connection, theirs: &quinn::Connection) {
    assert!(ours.max_datagram_size().expect("quinn accepts datagrams") >= 1000);
    assert!(theirs.max_datagram_size().expect("we accept datagrams") >= 1000);
    for index in 0..DATAGRAMS {
        ours.send_datagram(datagram(1, index)).expect("our send");
        theirs
            .send_datagram(datagram(2, index))
            .expect("quinn send");
    }
    let (at_ours, at_theirs) = tokio::join!(
        async {
            let mut got = Vec::new();
            for _ in 0..DATAGRAMS {
                got.push(ours.read_datagram().await.expect("our read"));
            }
            sorted(got)
        },
        async {
            let mut got = Vec::new();
            for _ in 0..DATAGRAMS {
                got.push(theirs.read_datagram().await.expect("quinn read"));
            }
            sorted(got)
        },
    );
    assert_eq!(at_theirs, all_datagrams(1));
    assert_eq!(at_ours, all_datagrams(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn datagrams_our_client_quinn_server() {
    bounded(async {
        let pair = ours_to_quinn().await;
        exchange_datagrams(&pair.ours, &pair.theirs).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn datagrams_quinn_client_our_server() {
    bounded(async {
        let pair = quinn_to_ours().await;
        exchange_datagrams(&pair.ours, &pair.theirs).await;
    })
    .await;
}

// ----- 5. application close codes (RFC 9000 §19.19), from each side -----

/// One echo round trip first, so that both handshakes are confirmed
/// (RFC 9001 §4.1.2): before that, RFC 9000 §10.2.3 has a closing client
/// also send the close in Handshake packets, where the application's code
/// and reason are replaced by APPLICATION_ERROR.
async fn confirm_ours_to_quinn(pair: &interop::OursToQuinn) {
    spawn_quinn_echo(pair.theirs.clone());
    let echoed = our_echo_round(&pair.ours, 3, 1000, || {}).await;
    assert_eq!(echoed, Summary::of_pattern(3, 1000));
}

async fn confirm_quinn_to_ours(pair: &interop::QuinnToOurs) {
    spawn_our_echo(pair.ours.clone());
    let echoed = quinn_echo_round(&pair.theirs, 4, 1000, || {}).await;
    assert_eq!(echoed, Summary::of_pattern(4, 1000));
}

fn our_bye() -> quic::ConnectionError {
    quic::ConnectionError::ApplicationClosed(quic::ApplicationClose {
        error_code: quic::VarInt::from_u32(42),
        reason: Bytes::from_static(b"bye"),
    })
}

fn quinn_bye() -> quinn::ConnectionError {
    quinn::ConnectionError::ApplicationClosed(quinn::ApplicationClose {
        error_code: quinn::VarInt::from_u32(42),
        reason: Bytes::from_static(b"bye"),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_by_our_client_seen_by_quinn_server() {
    bounded(async {
        let pair = ours_to_quinn().await;
        confirm_ours_to_quinn(&pair).await;
        pair.ours.close(quic::VarInt::from_u32(42), b"bye");
        assert_eq!(pair.theirs.closed().await, quinn_bye());
        assert_eq!(
            pair.ours.close_reason(),
            Some(quic::ConnectionError::LocallyClosed)
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_by_quinn_server_seen_by_our_client() {
    bounded(async {
        let pair = ours_to_quinn().await;
        confirm_ours_to_quinn(&pair).await;
        pair.theirs.close(quinn::VarInt::from_u32(42), b"bye");
        assert_eq!(pair.ours.closed().await, our_bye());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_by_quinn_client_seen_by_our_server() {
    bounded(async {
        let pair = quinn_to_ours().await;
        confirm_quinn_to_ours(&pair).await;
        pair.theirs.close(quinn::VarInt::from_u32(42), b"bye");
        assert_eq!(pair.ours.closed().await, our_bye());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_by_our_server_seen_by_quinn_client() {
    bounded(async {
        let pair = quinn_to_ours().await;
        confirm_quinn_to_ours(&pair).await;
        pair.ours.close(quic::VarInt::from_u32(42), b"bye");
        assert_eq!(pair.theirs.closed().await, quinn_bye());
        assert_eq!(
            pair.ours.close_reason(),
            Some(quic::ConnectionError::LocallyClosed)
        );
    })
    .await;
}

// ----- 6. key updates (RFC 9001 §6) during transfers -----

/// Each echo round of the key update cases.
const KEY_UPDATE_ROUND: usize = 1 << 20;
/// Every case moves at least this many rounds (4 MiB each way)...
const KEY_UPDATE_MIN_ROUNDS: u64 = 4;
/// ... and goes on until this many key updates happened. A side may start
/// an update only once the previous one is acknowledged (§6.1), and both
/// stacks also wait until they drop the previous read key (§6.5, three
/// PTOs), so how many updates fit in a round depends on the machine.
const KEY_UPDATES_WANTED: u64 = 3;
/// A bound on the rounds, far above what is needed.
const KEY_UPDATE_MAX_ROUNDS: u64 = 40;

/// Runs echo rounds of [`KEY_UPDATE_ROUND`] bytes — the side under test
/// asking for a key update after every 64 KiB chunk written — until at
/// least [`KEY_UPDATES_WANTED`] updates were counted by our side, checking
/// every echo; returns the count.
async fn key_update_rounds<F>(mut round: impl FnMut(u64) -> F, updates: impl Fn() -> u64) -> u64
where
    F: std::future::Future<Output = Summary>,
{
    for index in 0..KEY_UPDATE_MAX_ROUNDS {
        let seed = 100 + index;
        assert_eq!(
            round(seed).await,
            Summary::of_pattern(seed, KEY_UPDATE_ROUND)
        );
        if index + 1 >= KEY_UPDATE_MIN_ROUNDS && updates() >= KEY_UPDATES_WANTED {
            return updates();
        }
    }
    panic!(
        "only {} key updates in {KEY_UPDATE_MAX_ROUNDS} rounds",
        updates()
    );
}

/// Our client updates keys while it transfers through quinn's server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_updates_by_our_client_with_quinn_server() {
    bounded(async {
        let pair = ours_to_quinn().await;
        spawn_quinn_echo(pair.theirs.clone());
        let ours = &pair.ours;
        key_update_rounds(
            move |seed| {
                our_echo_round(ours, seed, KEY_UPDATE_ROUND, move || {
                    ours.force_key_update();
                })
            },
            || ours.stats().key_updates,
        )
        .await;
    })
    .await;
}

/// quinn's server updates keys while our client transfers through it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_updates_by_quinn_server_with_our_client() {
    bounded(async {
        let pair = ours_to_quinn().await;
        spawn_quinn_echo(pair.theirs.clone());
        let (ours, theirs) = (&pair.ours, &pair.theirs);
        key_update_rounds(
            move |seed| {
                our_echo_round(ours, seed, KEY_UPDATE_ROUND, move || {
                    theirs.force_key_update();
                })
            },
            || ours.stats().key_updates,
        )
        .await;
    })
    .await;
}

/// quinn's client updates keys while it transfers through our server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_updates_by_quinn_client_with_our_server() {
    bounded(async {
        let pair = quinn_to_ours().await;
        spawn_our_echo(pair.ours.clone());
        let (ours, theirs) = (&pair.ours, &pair.theirs);
        key_update_rounds(
            move |seed| {
                quinn_echo_round(theirs, seed, KEY_UPDATE_ROUND, move || {
                    theirs.force_key_update();
                })
            },
            || ours.stats().key_updates,
        )
        .await;
    })
    .await;
}

/// Our server updates keys while quinn's client transfers through it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_updates_by_our_server_with_quinn_client() {
    bounded(async {
        let pair = quinn_to_ours().await;
        spawn_our_echo(pair.ours.clone());
        let (ours, theirs) = (&pair.ours, &pair.theirs);
        key_update_rounds(
            move |seed| {
                quinn_echo_round(theirs, seed, KEY_UPDATE_ROUND, move || {
                    ours.force_key_update();
                })
            },
            || ours.stats().key_updates,
        )
        .await;
    })
    .await;
}

// ----- 7. Retry (RFC 9000 §8.1.2) -----

/// Our server retries quinn's first Initial; quinn comes back with the
/// token and the handshake completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_by_our_server_with_quinn_client() {
    bounded(async {
        let server = our_server(our_server_config(Default::default()));
        let client = quinn_client(quinn_client_config(quinn_transport()));
        let connecting = client
            .connect(server.local_addr().unwrap(), SERVER_NAME)
            .unwrap();
        let (theirs, ours) = tokio::join!(connecting, async {
            let first = server.accept().await.expect("first Initial");
            assert!(!first.remote_address_validated());
            assert!(first.may_retry());
            first.retry().expect("retry");
            let second = server.accept().await.expect("Initial with the token");
            assert!(second.remote_address_validated());
            assert!(!second.may_retry());
            second.accept().expect("accept").await
        });
        let (theirs, ours) = (
            theirs.expect("quinn handshake"),
            ours.expect("our handshake"),
        );
        spawn_our_echo(ours);
        let echoed = quinn_echo_round(&theirs, 9, 100_000, || {}).await;
        assert_eq!(echoed, Summary::of_pattern(9, 100_000));
    })
    .await;
}

/// The same with `retry_all`: the endpoint retries before the application
/// sees the connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_all_by_our_server_with_quinn_client() {
    bounded(async {
        let mut config = our_server_config(Default::default());
        config.retry_all(true);
        let pair = quinn_to_ours_with(quinn_client_config(quinn_transport()), config).await;
        spawn_our_echo(pair.ours.clone());
        let echoed = quinn_echo_round(&pair.theirs, 10, 100_000, || {}).await;
        assert_eq!(echoed, Summary::of_pattern(10, 100_000));
    })
    .await;
}

/// quinn's server retries our first Initial; we come back with the token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_by_quinn_server_with_our_client() {
    bounded(async {
        let server = quinn_server(quinn_server_config(quinn_transport()));
        let client = our_client(our_client_config(Default::default()));
        let connecting = client
            .connect(server.local_addr().unwrap(), SERVER_NAME)
            .unwrap();
        let (ours, theirs) = tokio::join!(connecting, async {
            let first = server.accept().await.expect("first Initial");
            assert!(!first.remote_address_validated());
            assert!(first.may_retry());
            first.retry().expect("retry");
            let second = server.accept().await.expect("Initial with the token");
            assert!(second.remote_address_validated());
            assert!(!second.may_retry());
            second.accept().expect("accept").await
        });
        let (ours, theirs) = (
            ours.expect("our handshake"),
            theirs.expect("quinn handshake"),
        );
        spawn_quinn_echo(theirs);
        let echoed = our_echo_round(&ours, 11, 100_000, || {}).await;
        assert_eq!(echoed, Summary::of_pattern(11, 100_000));
    })
    .await;
}

// ----- QUIC v2 (RFC 9369) -----

/// quinn 0.11 does not speak v2: asked to start in v2, our client gets
/// quinn's Version Negotiation, starts over in v1, and — quinn sending no
/// version_information — proceeds as RFC 9368 §8 says for v1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn v2_our_client_falls_back_to_v1_with_quinn_server() {
    bounded(async {
        let mut client = our_client_config(Default::default());
        client.version(quic::Version::V2);
        let pair = ours_to_quinn_with(client, quinn_server_config(quinn_transport())).await;
        spawn_quinn_echo(pair.theirs.clone());
        let echoed = our_echo_round(&pair.ours, 12, 100_000, || {}).await;
        assert_eq!(echoed, Summary::of_pattern(12, 100_000));
    })
    .await;
}
