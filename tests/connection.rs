//! Connections over loopback: handshake, echo, datagrams, closing, idle
//! timeout, many connections, and shutting an endpoint down.

mod support;

use std::time::Duration;

use quic::{ConnectionError, Endpoint, TransportConfig, VarInt};
use support::{ALPN, cert, data, pair, pair_with};

/// A server that echoes every bidirectional stream of `connection`.
fn spawn_echo(connection: quic::Connection) {
    tokio::spawn(async move {
        while let Ok((mut send, mut recv)) = connection.accept_bi().await {
            tokio::spawn(async move {
                tokio::io::copy(&mut recv, &mut send).await?;
                send.finish()?;
                Ok::<_, std::io::Error>(())
            });
        }
    });
}

#[tokio::test]
async fn connects_and_echoes_on_bidi_streams() {
    let pair = pair().await;
    spawn_echo(pair.server_conn.clone());
    for index in 0..3 {
        let message = data(index, 10_000);
        let (mut send, mut recv) = pair.client_conn.open_bi().await.expect("open");
        send.write_all(&message).await.expect("write");
        send.finish().expect("finish");
        let echoed = recv.read_to_end(1 << 20).await.expect("read");
        assert_eq!(echoed, message);
    }
    // Handshake data on both sides (RFC 9001 §8.1 ALPN, SNI, certificates).
    assert_eq!(pair.client_conn.alpn_protocol().as_deref(), Some(ALPN));
    assert_eq!(pair.server_conn.alpn_protocol().as_deref(), Some(ALPN));
    assert_eq!(pair.server_conn.server_name().as_deref(), Some("localhost"));
    assert_eq!(pair.client_conn.peer_certificates(), Some(vec![cert()]));
    assert_eq!(pair.server_conn.peer_certificates(), None);
    assert_eq!(
        pair.client_conn.remote_address(),
        pair.server.local_addr().unwrap()
    );
    assert_eq!(
        pair.server_conn.remote_address(),
        pair.client.local_addr().unwrap()
    );
    assert!(pair.client_conn.rtt() > Duration::ZERO);
    let stats = pair.client_conn.stats();
    assert!(stats.datagrams_sent > 3 && stats.datagrams_received > 3);
}

/// A second connection from the same client resumes the TLS session of the
/// first. rustls then offers the old connection's transport parameters
/// (remembered for 0-RTT, RFC 9000 §7.4.1) until the server's
/// EncryptedExtensions arrive; the handshake must check the new ones
/// (RFC 9000 §7.3: `initial_source_connection_id` names this handshake).
#[tokio::test]
async fn later_connections_resume_the_tls_session() {
    let pair = pair().await;
    spawn_echo(pair.server_conn.clone());
    // A round trip: the session tickets the server sent right after the
    // handshake arrive before the echo does.
    let (mut send, mut recv) = pair.client_conn.open_bi().await.expect("open");
    send.write_all(b"ticket").await.expect("write");
    send.finish().expect("finish");
    assert_eq!(recv.read_to_end(64).await.expect("read"), b"ticket");
    let addr = pair.server.local_addr().unwrap();
    for round in 0..3 {
        let connecting = pair.client.connect(addr, "localhost").expect("connect");
        let (client_conn, server_conn) = tokio::join!(connecting, async {
            let incoming = pair.server.accept().await.expect("incoming");
            incoming.accept().expect("accept").await
        });
        let (client_conn, server_conn) = (
            client_conn.expect("resumed client handshake"),
            server_conn.expect("resumed server handshake"),
        );
        spawn_echo(server_conn);
        let message = data(round, 2_000);
        let (mut send, mut recv) = client_conn.open_bi().await.expect("open");
        send.write_all(&message).await.expect("write");
        send.finish().expect("finish");
        assert_eq!(recv.read_to_end(1 << 20).await.expect("read"), message);
    }
}

#[tokio::test]
async fn datagrams_flow_both_ways() {
    let pair = pair().await;
    let max = pair
        .client_conn
        .max_datagram_size()
        .expect("peer accepts datagrams");
    assert!(max >= 1000, "max datagram size {max}");
    for index in 0..10u8 {
        pair.client_conn
            .send_datagram(vec![index; 100].into())
            .expect("send");
    }
    for index in 0..10u8 {
        let datagram = pair.server_conn.read_datagram().await.expect("read");
        assert_eq!(&datagram[..], &[index; 100][..]);
    }
    pair.server_conn
        .send_datagram(bytes::Bytes::from_static(b"pong"))
        .expect("send");
    assert_eq!(
        &pair.client_conn.read_datagram().await.unwrap()[..],
        b"pong"
    );
    let too_large = bytes::Bytes::from(vec![0; max + 1]);
    assert_eq!(
        pair.client_conn.send_datagram(too_large),
        Err(quic::SendDatagramError::TooLarge)
    );
}

#[tokio::test]
async fn datagrams_refused_when_peer_disables_them() {
    let transport = TransportConfig {
        max_datagram_frame_size: None,
        ..TransportConfig::default()
    };
    let pair = pair_with(transport).await;
    assert_eq!(pair.client_conn.max_datagram_size(), None);
    assert_eq!(
        pair.client_conn
            .send_datagram(bytes::Bytes::from_static(b"x")),
        Err(quic::SendDatagramError::UnsupportedByPeer)
    );
}

/// RFC 9000 §10.2: the peer learns the application's close code and reason
/// from CONNECTION_CLOSE.
#[tokio::test]
async fn close_code_and_reason_reach_the_peer() {
    let pair = pair().await;
    pair.client_conn.close(VarInt::from_u32(42), b"bye");
    let ConnectionError::ApplicationClosed(close) = pair.server_conn.closed().await else {
        panic!("expected an application close");
    };
    assert_eq!(close.error_code, VarInt::from_u32(42));
    assert_eq!(&close.reason[..], b"bye");
    assert_eq!(
        pair.client_conn.closed().await,
        ConnectionError::LocallyClosed
    );
    // Operations on the closed connection fail with the reason.
    assert_eq!(
        pair.client_conn.open_uni().await.unwrap_err(),
        ConnectionError::LocallyClosed
    );
    assert!(matches!(
        pair.server_conn.accept_bi().await,
        Err(ConnectionError::ApplicationClosed(_))
    ));
}

#[tokio::test]
async fn endpoint_close_reaches_every_peer_and_stops_accepting() {
    let pair = pair().await;
    pair.server.close(VarInt::from_u32(7), b"shutting down");
    let ConnectionError::ApplicationClosed(close) = pair.client_conn.closed().await else {
        panic!("expected an application close");
    };
    assert_eq!(close.error_code, VarInt::from_u32(7));
    assert_eq!(&close.reason[..], b"shutting down");
    assert!(pair.server.accept().await.is_none());
    let addr = pair.client.local_addr().unwrap();
    let config = support::client_config(TransportConfig::default());
    assert!(matches!(
        pair.server.connect_with(config, addr, "localhost"),
        Err(quic::ConnectError::EndpointStopping)
    ));
}

/// RFC 9000 §10.1: a connection with nothing to say closes silently after
/// the idle timeout, on both sides.
#[tokio::test(start_paused = true)]
async fn idle_timeout_closes_both_sides() {
    let transport = TransportConfig {
        max_idle_timeout: Some(Duration::from_secs(5)),
        ..TransportConfig::default()
    };
    let pair = pair_with(transport).await;
    let start = tokio::time::Instant::now();
    let (client, server) = tokio::join!(pair.client_conn.closed(), pair.server_conn.closed());
    assert_eq!(client, ConnectionError::TimedOut);
    assert_eq!(server, ConnectionError::TimedOut);
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_secs(5) && elapsed < Duration::from_secs(7),
        "timed out after {elapsed:?}"
    );
}

/// Keep-alives hold an otherwise idle connection open (RFC 9000 §10.1.2).
#[tokio::test(start_paused = true)]
async fn keep_alive_prevents_the_idle_timeout() {
    let transport = TransportConfig {
        max_idle_timeout: Some(Duration::from_secs(5)),
        keep_alive_interval: Some(Duration::from_secs(1)),
        ..TransportConfig::default()
    };
    let pair = pair_with(transport).await;
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(pair.client_conn.close_reason(), None);
    assert_eq!(pair.server_conn.close_reason(), None);
}

#[tokio::test(start_paused = true)]
async fn wait_idle_resolves_once_connections_drain() {
    use futures::FutureExt;
    let pair = pair().await;
    assert_eq!(pair.client.open_connections(), 1);
    assert!(pair.client.wait_idle().now_or_never().is_none());
    pair.client_conn.close(VarInt::from_u32(0), b"");
    // The closing period (RFC 9000 §10.2) passes on the paused clock.
    pair.client.wait_idle().await;
    assert_eq!(pair.client.open_connections(), 0);
    pair.server.wait_idle().await;
    assert_eq!(pair.server.open_connections(), 0);
}

/// Dropping every handle on a connection closes it with code 0.
#[tokio::test]
async fn dropping_the_last_connection_handle_closes_it() {
    let pair = pair().await;
    let extra = pair.client_conn.clone();
    drop(pair.client_conn);
    // A clone still holds it open.
    assert_eq!(extra.close_reason(), None);
    drop(extra);
    let ConnectionError::ApplicationClosed(close) = pair.server_conn.closed().await else {
        panic!("expected an application close");
    };
    assert_eq!(close.error_code, VarInt::ZERO);
}

/// One server takes 1,000 simultaneous handshakes; each connection echoes a
/// stream. The server sees exactly 1,000 connections: a client's repeated
/// Initial does not become a second one (RFC 9000 §7.2). On the paused
/// clock, the CPU time of 2,000 handshakes does not count as round-trip
/// time.
#[tokio::test(start_paused = true)]
async fn thousand_concurrent_connections_to_one_server() {
    const CONNECTIONS: u64 = 1000;
    let server = support::server(TransportConfig::default());
    let addr = server.local_addr().unwrap();
    let accepting = server.clone();
    let acceptor = tokio::spawn(async move {
        let mut accepted = 0;
        while let Some(incoming) = accepting.accept().await {
            let connecting = incoming.accept().expect("accept");
            accepted += 1;
            tokio::spawn(async move {
                let connection = connecting.await.expect("server handshake");
                spawn_echo(connection.clone());
                connection.closed().await
            });
        }
        accepted
    });
    let client = support::client(TransportConfig::default());
    let mut tasks = tokio::task::JoinSet::new();
    for index in 0..CONNECTIONS {
        let connecting = client.connect(addr, "localhost").expect("connect");
        tasks.spawn(async move {
            let connection = connecting.await.expect("client handshake");
            let (mut send, mut recv) = connection.open_bi().await.expect("open");
            let message = data(index, 2000);
            send.write_all(&message).await.expect("write");
            send.finish().expect("finish");
            assert_eq!(recv.read_to_end(4000).await.expect("read"), message);
            connection.close(VarInt::ZERO, b"done");
        });
    }
    let mut done = 0;
    while let Some(result) = tasks.join_next().await {
        result.expect("connection task");
        done += 1;
    }
    assert_eq!(done, CONNECTIONS);
    client.wait_idle().await;
    assert_eq!(client.open_connections(), 0);
    server.close(VarInt::ZERO, b"");
    assert_eq!(acceptor.await.expect("acceptor"), CONNECTIONS);
}

/// RFC 9000 §8.1.2: a server can answer with a Retry; the client comes back
/// with the token and its address counts as validated.
#[tokio::test]
async fn retry_then_accept() {
    let server = support::server(TransportConfig::default());
    let client = support::client(TransportConfig::default());
    let connecting = client
        .connect(server.local_addr().unwrap(), "localhost")
        .expect("connect");
    let server_side = async {
        let first = server.accept().await.expect("incoming");
        assert!(!first.remote_address_validated());
        assert_eq!(first.remote_address(), client.local_addr().unwrap());
        first.retry().expect("retry");
        let second = server.accept().await.expect("incoming after retry");
        assert!(second.remote_address_validated());
        assert!(!second.may_retry());
        let second = second.retry().expect_err("only one retry").into_incoming();
        second.accept().expect("accept").await
    };
    let (client_conn, server_conn) = tokio::join!(connecting, server_side);
    client_conn.expect("client handshake");
    server_conn.expect("server handshake");
}

/// RFC 9000 §5.2.2: a refused client sees CONNECTION_REFUSED.
#[tokio::test]
async fn refused_connection_fails_with_connection_refused() {
    let server = support::server(TransportConfig::default());
    let client = support::client(TransportConfig::default());
    let connecting = client
        .connect(server.local_addr().unwrap(), "localhost")
        .expect("connect");
    let refuse = async { server.accept().await.expect("incoming").refuse() };
    let (result, ()) = tokio::join!(connecting, refuse);
    let Err(ConnectionError::ConnectionClosed(close)) = result else {
        panic!("expected CONNECTION_REFUSED, got {result:?}");
    };
    assert_eq!(
        close.error_code,
        quic::TransportErrorCode::CONNECTION_REFUSED
    );
}

#[tokio::test]
async fn connect_checks_its_arguments() {
    let client = Endpoint::client(support::localhost()).unwrap();
    let server_addr = "127.0.0.1:4433".parse().unwrap();
    assert!(matches!(
        client.connect(server_addr, "localhost"),
        Err(quic::ConnectError::NoDefaultClientConfig)
    ));
    client.set_default_client_config(support::client_config(TransportConfig::default()));
    assert!(matches!(
        client.connect("127.0.0.1:0".parse().unwrap(), "localhost"),
        Err(quic::ConnectError::InvalidRemoteAddress(_))
    ));
    assert!(matches!(
        client.connect("[::1]:4433".parse().unwrap(), "localhost"),
        Err(quic::ConnectError::InvalidRemoteAddress(_))
    ));
    assert!(matches!(
        client.connect(server_addr, "not a name!"),
        Err(quic::ConnectError::Tls(_))
    ));
    let error: std::io::Error = client
        .connect(server_addr, "not a name!")
        .unwrap_err()
        .into();
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
}

/// After every handle is dropped, the connections close and drain, the
/// driver task ends and the socket is closed: its port can be bound again.
#[tokio::test(start_paused = true)]
async fn dropping_everything_stops_the_driver_and_frees_the_socket() {
    let pair = pair().await;
    spawn_echo(pair.server_conn.clone());
    let (mut send, mut recv) = pair.client_conn.open_bi().await.unwrap();
    send.write_all(b"ping").await.unwrap();
    send.finish().unwrap();
    assert_eq!(recv.read_to_end(10).await.unwrap(), b"ping");
    let addresses = [
        pair.server.local_addr().unwrap(),
        pair.client.local_addr().unwrap(),
    ];
    let drivers = [
        pair.server.take_driver_handle().expect("server driver"),
        pair.client.take_driver_handle().expect("client driver"),
    ];
    drop((send, recv));
    drop(pair);
    for driver in drivers {
        tokio::time::timeout(Duration::from_secs(60), driver)
            .await
            .expect("driver ends")
            .expect("driver did not panic");
    }
    for addr in addresses {
        std::net::UdpSocket::bind(addr).expect("port free again");
    }
    // The echo tasks ended with their connection.
    tokio::task::yield_now().await;
    let metrics = tokio::runtime::Handle::current().metrics();
    assert_eq!(metrics.num_alive_tasks(), 0);
}

/// An endpoint with no connection stops as soon as its handle is dropped.
#[tokio::test]
async fn dropping_an_unused_endpoint_stops_its_driver() {
    let endpoint = Endpoint::client(support::localhost()).unwrap();
    let addr = endpoint.local_addr().unwrap();
    let driver = endpoint.take_driver_handle().unwrap();
    drop(endpoint);
    driver.await.unwrap();
    std::net::UdpSocket::bind(addr).expect("port free again");
}

/// The futures of the API can be spawned on a multi-threaded runtime.
#[test]
fn futures_are_send() {
    fn assert_send<T: Send>(_: &T) {}
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let endpoint = Endpoint::client(support::localhost()).unwrap();
        assert_send(&endpoint.accept());
        assert_send(&endpoint.wait_idle());
    });
    fn connection_futures(connection: &quic::Connection) {
        assert_send(&connection.open_bi());
        assert_send(&connection.open_uni());
        assert_send(&connection.accept_bi());
        assert_send(&connection.accept_uni());
        assert_send(&connection.read_datagram());
        assert_send(&connection.closed());
    }
    fn stream_futures(send: &mut quic::SendStream, recv: &mut quic::RecvStream) {
        assert_send(&send.write(b""));
        assert_send(&send.write_chunk(bytes::Bytes::new()));
        assert_send(&send.stopped());
        let mut buf = [0; 4];
        assert_send(&recv.read(&mut buf));
        assert_send(&recv.read_chunk(1));
        assert_send(&recv.read_to_end(1));
    }
    let _ = (connection_futures, stream_futures);
}
