//! TLS configurations for tests: one self-signed certificate for
//! "localhost", made once per test binary.

use std::sync::{Arc, OnceLock};

use quic_proto::config::{ClientConfig, ServerConfig, TransportConfig};
use quic_proto::crypto::rustls::{client_config_builder, server_config_builder};
use quic_proto::token::TokenKey;
use rustls::RootCertStore;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

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

/// A certificate for "localhost" and 300 more names: about 10 KB, so the
/// server's first flight is several times the client's first datagram
/// (for anti-amplification tests, RFC 9000 §8.1).
fn large_certificate() -> &'static Certificate {
    static CERT: OnceLock<Certificate> = OnceLock::new();
    CERT.get_or_init(|| {
        let mut names = vec!["localhost".to_owned()];
        names.extend((0..300).map(|i| format!("host-{i:03}.amplification.test")));
        let certified = rcgen::generate_simple_self_signed(names).expect("rcgen");
        Certificate {
            cert: certified.cert.der().clone(),
            key: certified.signing_key.serialize_der(),
        }
    })
}

/// The size of the large certificate's DER encoding.
pub fn large_certificate_len() -> usize {
    large_certificate().cert.len()
}

pub const ALPN: &[u8] = b"test";

/// A server for "localhost" with `transport`.
pub fn server_config(transport: TransportConfig) -> ServerConfig {
    server_config_with(certificate(), transport)
}

/// A server with the large certificate (see [`large_client_config`]).
pub fn large_server_config(transport: TransportConfig) -> ServerConfig {
    server_config_with(large_certificate(), transport)
}

fn server_config_with(cert: &Certificate, transport: TransportConfig) -> ServerConfig {
    let key = PrivateKeyDer::from(PrivatePkcs8KeyDer::from(cert.key.clone()));
    let mut tls = server_config_builder()
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.clone()], key)
        .expect("server cert");
    tls.alpn_protocols = vec![ALPN.to_vec()];
    tls.max_early_data_size = 0;
    tls.send_tls13_tickets = 0;
    let mut config = ServerConfig::new(Arc::new(tls), TokenKey::new(&[7; 32]));
    config.transport = Arc::new(transport);
    config
}

/// A client trusting that server, with `transport`.
pub fn client_config(transport: TransportConfig) -> ClientConfig {
    client_config_with(certificate(), transport)
}

/// A client trusting the server of [`large_server_config`].
pub fn large_client_config(transport: TransportConfig) -> ClientConfig {
    client_config_with(large_certificate(), transport)
}

fn client_config_with(cert: &Certificate, transport: TransportConfig) -> ClientConfig {
    let mut roots = RootCertStore::empty();
    roots.add(cert.cert.clone()).expect("root");
    let mut tls = client_config_builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![ALPN.to_vec()];
    let mut config = ClientConfig::new(Arc::new(tls));
    config.transport = Arc::new(transport);
    config
}
