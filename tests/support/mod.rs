//! Shared set-up for the loopback tests: one self-signed certificate for
//! "localhost", endpoints on 127.0.0.1 port 0, and connected pairs.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use quic::rustls::RootCertStore;
use quic::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use quic::{ClientConfig, Connection, Endpoint, ServerConfig, TransportConfig};

pub const ALPN: &[u8] = b"test";

struct Certificate {
    cert: CertificateDer<'static>,
    key: Vec<u8>,
}

fn certificate() -> &'static Certificate {
    static CERT: OnceLock<Certificate> = OnceLock::new();
    CERT.get_or_init(|| {
        let certified =
            rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("rcgen");
        Certificate {
            cert: certified.cert.der().clone(),
            key: certified.signing_key.serialize_der(),
        }
    })
}

/// The server's certificate.
pub fn cert() -> CertificateDer<'static> {
    certificate().cert.clone()
}

pub fn localhost() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

pub fn server_config(transport: TransportConfig) -> ServerConfig {
    let key = PrivateKeyDer::from(PrivatePkcs8KeyDer::from(certificate().key.clone()));
    let mut config = ServerConfig::with_single_cert(vec![cert()], key).expect("server config");
    config
        .alpn_protocols(vec![ALPN.to_vec()])
        .transport_config(Arc::new(transport));
    config
}

pub fn client_config(transport: TransportConfig) -> ClientConfig {
    let mut roots = RootCertStore::empty();
    roots.add(cert()).expect("root");
    let mut config = ClientConfig::with_root_certificates(roots);
    config
        .alpn_protocols(vec![ALPN.to_vec()])
        .transport_config(Arc::new(transport));
    config
}

/// A server endpoint on loopback.
pub fn server(transport: TransportConfig) -> Endpoint {
    Endpoint::server(server_config(transport), localhost()).expect("bind server")
}

/// A client endpoint on loopback with a default client configuration.
pub fn client(transport: TransportConfig) -> Endpoint {
    let endpoint = Endpoint::client(localhost()).expect("bind client");
    endpoint.set_default_client_config(client_config(transport));
    endpoint
}

/// Endpoints and one connection between them.
pub struct Pair {
    pub server: Endpoint,
    pub client: Endpoint,
    /// The client's side of the connection.
    pub client_conn: Connection,
    /// The server's side of the connection.
    pub server_conn: Connection,
}

/// Connects a fresh client to a fresh server, both with `transport`.
pub async fn pair_with(transport: TransportConfig) -> Pair {
    let server = server(transport.clone());
    let client = client(transport);
    let addr = server.local_addr().expect("addr");
    let connecting = client.connect(addr, "localhost").expect("connect");
    let (client_conn, server_conn) = tokio::join!(connecting, async {
        let incoming = server.accept().await.expect("incoming");
        incoming.accept().expect("accept").await
    });
    Pair {
        server,
        client,
        client_conn: client_conn.expect("client handshake"),
        server_conn: server_conn.expect("server handshake"),
    }
}

pub async fn pair() -> Pair {
    pair_with(TransportConfig::default()).await
}

/// Deterministic contents: `len` bytes for stream number `index`.
pub fn data(index: u64, len: usize) -> Vec<u8> {
    let mut state = index.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x5555_5555;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    out
}
