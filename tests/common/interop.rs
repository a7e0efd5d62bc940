//! Set-up for the interop tests with quinn 0.11: one self-signed certificate
//! for "localhost" (trusted as the only root by both clients, so
//! certificate verification is real), endpoints of both stacks on
//! 127.0.0.1 port 0 with ALPN "interop", connected pairs, echo servers, and
//! streamed transfers checked with SHA-256.
#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use ring::digest;
use rustls::RootCertStore;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// The application protocol both sides offer.
pub const ALPN: &[u8] = b"interop";

/// The name in the certificate, sent as SNI.
pub const SERVER_NAME: &str = "localhost";

/// A guard against hangs only: every case finishes far sooner.
pub const HANG_GUARD: Duration = Duration::from_secs(20);

/// Runs `future`, failing the test if it has not finished within
/// [`HANG_GUARD`] of real time.
pub async fn bounded<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(HANG_GUARD, future)
        .await
        .expect("hang guard: the case did not finish in time")
}

struct Certificate {
    cert: CertificateDer<'static>,
    key: Vec<u8>,
}

fn certificate() -> &'static Certificate {
    static CERT: OnceLock<Certificate> = OnceLock::new();
    CERT.get_or_init(|| {
        let certified =
            rcgen::generate_simple_self_signed(vec![SERVER_NAME.to_owned()]).expect("rcgen");
        Certificate {
            cert: certified.cert.der().clone(),
            key: certified.signing_key.serialize_der(),
        }
    })
}

/// The server certificate.
pub fn cert() -> CertificateDer<'static> {
    certificate().cert.clone()
}

fn key() -> PrivateKeyDer<'static> {
    PrivateKeyDer::from(PrivatePkcs8KeyDer::from(certificate().key.clone()))
}

fn roots() -> Arc<RootCertStore> {
    let mut roots = RootCertStore::empty();
    roots.add(cert()).expect("root");
    Arc::new(roots)
}

fn ring_provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

pub fn localhost() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

// ----- our stack -----

/// Our server configuration: the certificate, ALPN "interop".
pub fn our_server_config(transport: quic::TransportConfig) -> quic::ServerConfig {
    let mut config = quic::ServerConfig::with_single_cert(vec![cert()], key()).expect("config");
    config
        .alpn_protocols(vec![ALPN.to_vec()])
        .transport_config(Arc::new(transport));
    config
}

/// Our client configuration: the certificate as the only root, ALPN
/// "interop".
pub fn our_client_config(transport: quic::TransportConfig) -> quic::ClientConfig {
    let mut config = quic::ClientConfig::with_root_certificates(roots());
    config
        .alpn_protocols(vec![ALPN.to_vec()])
        .transport_config(Arc::new(transport));
    config
}

pub fn our_server(config: quic::ServerConfig) -> quic::Endpoint {
    quic::Endpoint::server(config, localhost()).expect("bind our server")
}

pub fn our_client(config: quic::ClientConfig) -> quic::Endpoint {
    let endpoint = quic::Endpoint::client(localhost()).expect("bind our client");
    endpoint.set_default_client_config(config);
    endpoint
}

// ----- quinn -----

/// quinn's transport settings for these tests: datagrams accepted (RFC 9221).
pub fn quinn_transport() -> quinn::TransportConfig {
    let mut transport = quinn::TransportConfig::default();
    transport.datagram_receive_buffer_size(Some(1 << 20));
    transport
}

/// A quinn server configuration from a rustls one (ring provider, TLS 1.3
/// only, ALPN "interop").
pub fn quinn_server_config(transport: quinn::TransportConfig) -> quinn::ServerConfig {
    let mut tls = rustls::ServerConfig::builder_with_provider(ring_provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("TLS 1.3")
        .with_no_client_auth()
        .with_single_cert(vec![cert()], key())
        .expect("certificate");
    tls.alpn_protocols = vec![ALPN.to_vec()];
    let crypto = quinn::crypto::rustls::QuicServerConfig::try_from(tls).expect("QUIC TLS");
    let mut config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    config.transport_config(Arc::new(transport));
    config
}

/// A quinn client configuration from a rustls one (ring provider, TLS 1.3
/// only, the certificate as the only root, ALPN "interop").
pub fn quinn_client_config(transport: quinn::TransportConfig) -> quinn::ClientConfig {
    let mut tls = rustls::ClientConfig::builder_with_provider(ring_provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("TLS 1.3")
        .with_root_certificates(roots())
        .with_no_client_auth();
    tls.alpn_protocols = vec![ALPN.to_vec()];
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(tls).expect("QUIC TLS");
    let mut config = quinn::ClientConfig::new(Arc::new(crypto));
    config.transport_config(Arc::new(transport));
    config
}

pub fn quinn_server(config: quinn::ServerConfig) -> quinn::Endpoint {
    quinn::Endpoint::server(config, localhost()).expect("bind quinn server")
}

pub fn quinn_client(config: quinn::ClientConfig) -> quinn::Endpoint {
    let mut endpoint = quinn::Endpoint::client(localhost()).expect("bind quinn client");
    endpoint.set_default_client_config(config);
    endpoint
}

/// The ALPN protocol and SNI quinn saw.
pub fn quinn_handshake_data(connection: &quinn::Connection) -> (Option<Vec<u8>>, Option<String>) {
    let data = connection
        .handshake_data()
        .expect("handshake data")
        .downcast::<quinn::crypto::rustls::HandshakeData>()
        .expect("rustls handshake data");
    (data.protocol, data.server_name)
}

// ----- connected pairs -----

/// Our client connected to a quinn server.
pub struct OursToQuinn {
    pub client: quic::Endpoint,
    pub server: quinn::Endpoint,
    /// Our (client) side.
    pub ours: quic::Connection,
    /// quinn's (server) side.
    pub theirs: quinn::Connection,
}

/// A quinn client connected to our server.
pub struct QuinnToOurs {
    pub client: quinn::Endpoint,
    pub server: quic::Endpoint,
    /// quinn's (client) side.
    pub theirs: quinn::Connection,
    /// Our (server) side.
    pub ours: quic::Connection,
}

/// Connects our client to a quinn server, both with default settings
/// (quinn's with datagrams accepted).
pub async fn ours_to_quinn() -> OursToQuinn {
    ours_to_quinn_with(
        our_client_config(quic::TransportConfig::default()),
        quinn_server_config(quinn_transport()),
    )
    .await
}

pub async fn ours_to_quinn_with(
    client: quic::ClientConfig,
    server: quinn::ServerConfig,
) -> OursToQuinn {
    let server = quinn_server(server);
    let client = our_client(client);
    let addr = server.local_addr().expect("addr");
    let connecting = client.connect(addr, SERVER_NAME).expect("connect");
    let (ours, theirs) = tokio::join!(connecting, async {
        let incoming = server.accept().await.expect("incoming");
        incoming.accept().expect("accept").await
    });
    OursToQuinn {
        client,
        server,
        ours: ours.expect("our client's handshake"),
        theirs: theirs.expect("quinn server's handshake"),
    }
}

/// Connects a quinn client to our server, both with default settings
/// (quinn's with datagrams accepted).
pub async fn quinn_to_ours() -> QuinnToOurs {
    quinn_to_ours_with(
        quinn_client_config(quinn_transport()),
        our_server_config(quic::TransportConfig::default()),
    )
    .await
}

pub async fn quinn_to_ours_with(
    client: quinn::ClientConfig,
    server: quic::ServerConfig,
) -> QuinnToOurs {
    let server = our_server(server);
    let client = quinn_client(client);
    let addr = server.local_addr().expect("addr");
    let connecting = client.connect(addr, SERVER_NAME).expect("connect");
    let (theirs, ours) = tokio::join!(connecting, async {
        let incoming = server.accept().await.expect("incoming");
        incoming.accept().expect("accept").await
    });
    QuinnToOurs {
        client,
        server,
        theirs: theirs.expect("quinn client's handshake"),
        ours: ours.expect("our server's handshake"),
    }
}

// ----- data -----

/// A deterministic byte stream (xorshift), produced in chunks.
pub struct Pattern {
    state: u64,
    remaining: usize,
}

impl Pattern {
    pub fn new(seed: u64, len: usize) -> Self {
        Self {
            state: seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1,
            remaining: len,
        }
    }

    /// The next chunk of at most `max` bytes, or `None` at the end.
    pub fn next_chunk(&mut self, max: usize) -> Option<Bytes> {
        if self.remaining == 0 {
            return None;
        }
        let len = max.min(self.remaining);
        self.remaining -= len;
        let mut out = Vec::with_capacity(len + 8);
        while out.len() < len {
            self.state ^= self.state << 13;
            self.state ^= self.state >> 7;
            self.state ^= self.state << 17;
            out.extend_from_slice(&self.state.to_le_bytes());
        }
        out.truncate(len);
        Some(out.into())
    }
}

/// `len` bytes of pattern `seed`, all at once.
pub fn data(seed: u64, len: usize) -> Vec<u8> {
    Pattern::new(seed, len)
        .next_chunk(len)
        .map_or_else(Vec::new, |b| b.to_vec())
}

/// What a transfer sent or received: its length and SHA-256.
#[derive(Debug, PartialEq, Eq)]
pub struct Summary {
    pub len: usize,
    pub sha256: Vec<u8>,
}

impl Summary {
    /// The summary of pattern `seed` of `len` bytes.
    pub fn of_pattern(seed: u64, len: usize) -> Self {
        let mut hasher = Hasher::default();
        let mut pattern = Pattern::new(seed, len);
        while let Some(chunk) = pattern.next_chunk(CHUNK) {
            hasher.update(&chunk);
        }
        hasher.finish()
    }
}

/// An incremental [`Summary`].
pub struct Hasher {
    context: digest::Context,
    len: usize,
}

impl Default for Hasher {
    fn default() -> Self {
        Self {
            context: digest::Context::new(&digest::SHA256),
            len: 0,
        }
    }
}

impl Hasher {
    pub fn update(&mut self, data: &[u8]) {
        self.context.update(data);
        self.len += data.len();
    }

    pub fn finish(self) -> Summary {
        Summary {
            len: self.len,
            sha256: self.context.finish().as_ref().to_vec(),
        }
    }
}

/// The size of the chunks transfers write and read.
pub const CHUNK: usize = 64 * 1024;

// ----- transfers on our streams -----

/// Writes pattern `seed` of `len` bytes to our stream and finishes it,
/// calling `after_chunk` after every chunk written.
pub async fn our_send(
    send: &mut quic::SendStream,
    seed: u64,
    len: usize,
    mut after_chunk: impl FnMut(),
) {
    let mut pattern = Pattern::new(seed, len);
    while let Some(chunk) = pattern.next_chunk(CHUNK) {
        send.write_chunk(chunk).await.expect("our write");
        after_chunk();
    }
    send.finish().expect("our finish");
}

/// Reads our stream to its end.
pub async fn our_receive(recv: &mut quic::RecvStream) -> Summary {
    let mut hasher = Hasher::default();
    while let Some(chunk) = recv.read_chunk(CHUNK).await.expect("our read") {
        hasher.update(&chunk);
    }
    hasher.finish()
}

/// Echoes every bidirectional stream of our `connection` until it ends.
pub fn spawn_our_echo(connection: quic::Connection) {
    tokio::spawn(async move {
        while let Ok((mut send, mut recv)) = connection.accept_bi().await {
            tokio::spawn(async move {
                while let Some(chunk) = recv.read_chunk(CHUNK).await? {
                    send.write_chunk(chunk).await?;
                }
                send.finish()?;
                Ok::<_, std::io::Error>(())
            });
        }
    });
}

/// Sends pattern `seed` of `len` bytes on a new bidirectional stream of
/// our `connection` and reads the echo at the same time; returns the
/// summary of the echo.
pub async fn our_echo_round(
    connection: &quic::Connection,
    seed: u64,
    len: usize,
    after_chunk: impl FnMut(),
) -> Summary {
    let (mut send, mut recv) = connection.open_bi().await.expect("our open_bi");
    let ((), echoed) = tokio::join!(
        our_send(&mut send, seed, len, after_chunk),
        our_receive(&mut recv)
    );
    echoed
}

// ----- transfers on quinn's streams -----

/// Writes pattern `seed` of `len` bytes to a quinn stream and finishes it,
/// calling `after_chunk` after every chunk written.
pub async fn quinn_send(
    send: &mut quinn::SendStream,
    seed: u64,
    len: usize,
    mut after_chunk: impl FnMut(),
) {
    let mut pattern = Pattern::new(seed, len);
    while let Some(chunk) = pattern.next_chunk(CHUNK) {
        send.write_chunk(chunk).await.expect("quinn write");
        after_chunk();
    }
    send.finish().expect("quinn finish");
}

/// Reads a quinn stream to its end.
pub async fn quinn_receive(recv: &mut quinn::RecvStream) -> Summary {
    let mut hasher = Hasher::default();
    while let Some(chunk) = recv.read_chunk(CHUNK, true).await.expect("quinn read") {
        hasher.update(&chunk.bytes);
    }
    hasher.finish()
}

/// Echoes every bidirectional stream of quinn's `connection` until it
/// ends.
pub fn spawn_quinn_echo(connection: quinn::Connection) {
    tokio::spawn(async move {
        while let Ok((mut send, mut recv)) = connection.accept_bi().await {
            tokio::spawn(async move {
                while let Some(chunk) = recv.read_chunk(CHUNK, true).await? {
                    send.write_chunk(chunk.bytes).await?;
                }
                send.finish()?;
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
            });
        }
    });
}

/// Sends pattern `seed` of `len` bytes on a new bidirectional stream of
/// quinn's `connection` and reads the echo at the same time; returns the
/// summary of the echo.
pub async fn quinn_echo_round(
    connection: &quinn::Connection,
    seed: u64,
    len: usize,
    after_chunk: impl FnMut(),
) -> Summary {
    let (mut send, mut recv) = connection.open_bi().await.expect("quinn open_bi");
    let ((), echoed) = tokio::join!(
        quinn_send(&mut send, seed, len, after_chunk),
        quinn_receive(&mut recv)
    );
    echoed
}
