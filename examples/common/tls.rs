//! Certificates and TLS configurations for the examples.
//!
//! A server presents a certificate chain and key read from PEM files, or a
//! self-signed certificate for `localhost` generated at start-up (kept in
//! memory; written out as PEM only when asked, so that a client can trust
//! it with `--ca`). A client trusts the roots in a PEM file, or, with
//! `--insecure`, any certificate.
//!
//! `SSLKEYLOGFILE` is honoured on both sides: the quic configuration
//! helpers set rustls' key log, and so does [`insecure_client`].

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use quic::proto::crypto::rustls::client_config_builder;
use quic::{ClientConfig, ServerConfig};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, KeyLogFile, RootCertStore, SignatureScheme};

/// The error type of the examples: anything, with a readable message.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// Where a server's certificate comes from.
#[derive(Debug)]
pub enum Identity<'a> {
    /// PEM files: the chain (end-entity first) and its private key.
    Files { cert: &'a str, key: &'a str },
    /// A self-signed certificate for `localhost`, made now; written as PEM
    /// to the path if one is given.
    SelfSigned { cert_out: Option<&'a str> },
}

/// Whom a client trusts.
#[derive(Debug)]
pub enum Trust<'a> {
    /// The root certificates in this PEM file.
    Ca(&'a str),
    /// Anyone: the certificate is not checked (the handshake signature
    /// still is). For tests and demos only.
    Insecure,
}

/// A server configuration offering `alpn`.
pub fn server_config(identity: &Identity<'_>, alpn: &[u8]) -> Result<ServerConfig, Error> {
    let (chain, key) = match identity {
        Identity::Files { cert, key } => (read_certs(cert)?, read_key(key)?),
        Identity::SelfSigned { cert_out } => {
            let (cert, key) = self_signed()?;
            if let Some(path) = cert_out {
                std::fs::write(path, pem_encode("CERTIFICATE", &cert))
                    .map_err(|e| format!("cannot write {path}: {e}"))?;
            }
            (vec![cert], key)
        }
    };
    let mut config = ServerConfig::with_single_cert(chain, key)?;
    config.alpn_protocols(vec![alpn.to_vec()]);
    Ok(config)
}

/// A client configuration offering `alpn`. `Trust::Insecure` prints a
/// warning to stderr.
pub fn client_config(trust: &Trust<'_>, alpn: &[u8]) -> Result<ClientConfig, Error> {
    let mut config = match trust {
        Trust::Ca(path) => {
            let mut roots = RootCertStore::empty();
            for cert in read_certs(path)? {
                roots
                    .add(cert)
                    .map_err(|e| format!("{path}: unusable root certificate: {e}"))?;
            }
            ClientConfig::with_root_certificates(roots)
        }
        Trust::Insecure => {
            eprintln!(
                "warning: --insecure: the server's certificate is not verified; \
                 anyone on the path can impersonate it"
            );
            insecure_client()?
        }
    };
    config.alpn_protocols(vec![alpn.to_vec()]);
    Ok(config)
}

/// A self-signed certificate for `localhost` and its key.
pub fn self_signed() -> Result<(CertificateDer<'static>, PrivateKeyDer<'static>), Error> {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])?;
    let cert = certified.cert.der().clone();
    let key = PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der()).into();
    Ok((cert, key))
}

/// The certificates of a PEM file, in order; an error if there are none.
pub fn read_certs(path: &str) -> Result<Vec<CertificateDer<'static>>, Error> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|e| format!("{path}: cannot read certificates: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{path}: no certificate found").into());
    }
    Ok(certs)
}

/// The first private key (PKCS #8, PKCS #1 or SEC1) of a PEM file.
pub fn read_key(path: &str) -> Result<PrivateKeyDer<'static>, Error> {
    PrivateKeyDer::from_pem_file(Path::new(path))
        .map_err(|e| format!("{path}: cannot read a private key: {e}").into())
}

/// `der` as a PEM section with the given label (RFC 7468), lines of 64.
pub fn pem_encode(label: &str, der: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut base64 = String::with_capacity(der.len().div_ceil(3) * 4);
    for group in der.chunks(3) {
        let bits = group
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= group.len() {
                base64.push(char::from(ALPHABET[(bits >> (18 - 6 * i)) as usize & 63]));
            } else {
                base64.push('=');
            }
        }
    }
    let mut pem = format!("-----BEGIN {label}-----\n");
    for line in base64.as_bytes().chunks(64) {
        // The alphabet is ASCII, so every chunk is valid UTF-8.
        let _ = writeln!(pem, "{}", String::from_utf8_lossy(line));
    }
    let _ = writeln!(pem, "-----END {label}-----");
    pem
}

/// A client that accepts any certificate, with the key log set from
/// `SSLKEYLOGFILE`.
fn insecure_client() -> Result<ClientConfig, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut crypto = client_config_builder()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
        .with_no_client_auth();
    crypto.key_log = Arc::new(KeyLogFile::new());
    Ok(ClientConfig::with_crypto(Arc::new(crypto))?)
}

/// Accepts every certificate, but still checks that the server signed the
/// handshake with the key of the certificate it sent (so the connection is
/// at least encrypted to whoever holds that key).
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
