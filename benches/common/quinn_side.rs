//! The four workloads over quinn 0.11 (ring provider): a quinn client
//! against a quinn server on loopback, default transport settings. The same
//! code as `ours.rs`, in quinn's API.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use quinn::{ClientConfig, Connection, Endpoint, RecvStream, SendStream, ServerConfig, VarInt};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::{BULK_CHUNK, RR_LIMIT, RrResult, tls_client_config, tls_server_config};

/// What the server does with a connection.
#[derive(Clone)]
enum Mode {
    /// Serve every bidi stream: echo it, or for bulk, count it.
    Streams { bulk: bool },
    /// Hold the connection until it closes, adding a permit to the
    /// semaphore once it is established.
    Idle(Option<Arc<Semaphore>>),
}

fn localhost() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

fn server_endpoint() -> Endpoint {
    let crypto = QuicServerConfig::try_from(tls_server_config()).expect("quinn server config");
    let config = ServerConfig::with_crypto(Arc::new(crypto));
    Endpoint::server(config, localhost()).expect("bind quinn server")
}

fn client_endpoint() -> Endpoint {
    let crypto = QuicClientConfig::try_from(tls_client_config()).expect("quinn client config");
    let mut endpoint = Endpoint::client(localhost()).expect("bind quinn client");
    endpoint.set_default_client_config(ClientConfig::new(Arc::new(crypto)));
    endpoint
}

/// A server running `mode` and a client endpoint; returns them and the
/// server's address.
fn start(mode: Mode) -> (Endpoint, Endpoint, SocketAddr) {
    let server = server_endpoint();
    let addr = server.local_addr().expect("server address");
    tokio::spawn(serve(server.clone(), mode));
    (server, client_endpoint(), addr)
}

async fn serve(endpoint: Endpoint, mode: Mode) {
    while let Some(incoming) = endpoint.accept().await {
        let Ok(connecting) = incoming.accept() else {
            continue;
        };
        let mode = mode.clone();
        tokio::spawn(async move {
            let Ok(connection) = connecting.await else {
                return;
            };
            match mode {
                Mode::Idle(established) => {
                    if let Some(established) = established {
                        established.add_permits(1);
                    }
                    connection.closed().await;
                }
                Mode::Streams { bulk } => {
                    while let Ok((send, recv)) = connection.accept_bi().await {
                        if bulk {
                            tokio::spawn(count(send, recv));
                        } else {
                            tokio::spawn(echo(send, recv));
                        }
                    }
                }
            }
        });
    }
}

/// Reads the stream to its end without copying and answers with the byte
/// count.
async fn count(mut send: SendStream, mut recv: RecvStream) {
    let mut total = 0u64;
    while let Ok(Some(chunk)) = recv.read_chunk(usize::MAX, true).await {
        total += chunk.bytes.len() as u64;
    }
    if send.write_all(&total.to_le_bytes()).await.is_ok() {
        let _ = send.finish();
    }
}

/// Answers a request with the same bytes.
async fn echo(mut send: SendStream, mut recv: RecvStream) {
    let Ok(request) = recv.read_to_end(RR_LIMIT).await else {
        return;
    };
    if send.write_all(&request).await.is_ok() {
        let _ = send.finish();
    }
}

async fn connect(client: &Endpoint, addr: SocketAddr) -> Connection {
    client
        .connect(addr, "localhost")
        .expect("connect")
        .await
        .expect("quinn handshake")
}

async fn shut_down(server: Endpoint, client: Endpoint) {
    client.close(VarInt::from_u32(0), b"done");
    client.wait_idle().await;
    server.close(VarInt::from_u32(0), b"done");
    server.wait_idle().await;
}

/// Uploads `total` bytes on one bidi stream; the time from opening the
/// stream to the server's byte count arriving back.
pub async fn bulk(total: u64) -> Duration {
    let (server, client, addr) = start(Mode::Streams { bulk: true });
    let connection = connect(&client, addr).await;
    let chunk = Bytes::from(vec![0xa5; BULK_CHUNK]);
    let start = Instant::now();
    let (mut send, mut recv) = connection.open_bi().await.expect("open");
    let mut left = total;
    while left > 0 {
        let len = left.min(chunk.len() as u64);
        send.write_chunk(chunk.slice(..len as usize))
            .await
            .expect("write");
        left -= len;
    }
    send.finish().expect("finish");
    let reply = recv.read_to_end(8).await.expect("count");
    let elapsed = start.elapsed();
    let counted = u64::from_le_bytes(reply.try_into().expect("8-byte count"));
    assert_eq!(counted, total, "the server counted every byte");
    drop(connection);
    shut_down(server, client).await;
    elapsed
}

/// `requests` requests of `size` bytes, each echoed, on their own streams,
/// `concurrency` at a time on one connection.
pub async fn request_response(requests: usize, concurrency: usize, size: usize) -> RrResult {
    let (server, client, addr) = start(Mode::Streams { bulk: false });
    let connection = connect(&client, addr).await;
    let request = vec![0x5a; size];
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    for _ in 0..concurrency {
        let (connection, request, next) = (connection.clone(), request.clone(), next.clone());
        tasks.spawn(async move {
            let mut latencies = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < requests {
                let sent = Instant::now();
                let (mut send, mut recv) = connection.open_bi().await.expect("open");
                send.write_all(&request).await.expect("write");
                send.finish().expect("finish");
                let response = recv.read_to_end(RR_LIMIT).await.expect("response");
                assert_eq!(response.len(), request.len(), "echoed in full");
                latencies.push(sent.elapsed());
            }
            latencies
        });
    }
    let mut latencies = Vec::with_capacity(requests);
    while let Some(task) = tasks.join_next().await {
        latencies.extend(task.expect("request task"));
    }
    let elapsed = start.elapsed();
    drop(connection);
    shut_down(server, client).await;
    RrResult::new(elapsed, latencies)
}

/// `count` full handshakes, `concurrency` at a time, each connection
/// closed once established; the total time.
pub async fn handshakes(count: usize, concurrency: usize) -> Duration {
    let (server, client, addr) = start(Mode::Idle(None));
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    for _ in 0..concurrency {
        let (client, next) = (client.clone(), next.clone());
        tasks.spawn(async move {
            while next.fetch_add(1, Ordering::Relaxed) < count {
                let connection = connect(&client, addr).await;
                connection.close(VarInt::from_u32(0), b"");
            }
        });
    }
    while let Some(task) = tasks.join_next().await {
        task.expect("handshake task");
    }
    let elapsed = start.elapsed();
    shut_down(server, client).await;
    elapsed
}

/// Opens `count` connections, 16 at a time, and keeps them.
async fn open_idle(client: &Endpoint, addr: SocketAddr, count: usize) -> Vec<Connection> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = JoinSet::new();
    for _ in 0..16 {
        let (client, next) = (client.clone(), next.clone());
        tasks.spawn(async move {
            let mut connections = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < count {
                connections.push(connect(&client, addr).await);
            }
            connections
        });
    }
    let mut connections = Vec::with_capacity(count);
    while let Some(task) = tasks.join_next().await {
        connections.extend(task.expect("connect task"));
    }
    connections
}

/// The process's RSS before and after `count` idle connections (both
/// ends in this process) were established, after a warm-up of 16.
pub async fn idle_memory(count: usize) -> (u64, u64) {
    let established = Arc::new(Semaphore::new(0));
    let (server, client, addr) = start(Mode::Idle(Some(established.clone())));
    let warm_up = open_idle(&client, addr, 16).await;
    established.acquire_many(16).await.expect("open").forget();
    let before = super::rss_bytes().unwrap_or(0);
    let connections = open_idle(&client, addr, count).await;
    let permits = u32::try_from(count).expect("count fits u32");
    established
        .acquire_many(permits)
        .await
        .expect("open")
        .forget();
    let after = super::rss_bytes().unwrap_or(0);
    drop((warm_up, connections));
    shut_down(server, client).await;
    (before, after)
}
