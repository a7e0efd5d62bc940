//! Connections over loopback: handshake, echo, datagrams, closing, idle
//! timeout, many connections, and shutting an endpoint down.

mod common;

use std::time::Duration;

use common::{ALPN, cert, data, pair, pair_with};
use quic_tokio::{ConnectionError, Endpoint, TransportConfig, VarInt};

/// A server that echoes every bidirectional stream of `connection`.
fn spawn_echo(connection: quic_tokio::Connection) {
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
