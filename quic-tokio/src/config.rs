//! Server and client configurations: quic-proto's, with TLS set up the way
//! QUIC needs it (RFC 9001 §4.2: TLS 1.3 only, ring provider) and
//! `SSLKEYLOGFILE` honoured.
//!
//! [`TransportConfig`](crate::TransportConfig) is quic-proto's, re-exported
//! with its documented defaults.

use std::sync::Arc;

use quic_proto::config::TransportConfig;
use quic_proto::crypto::rustls::{
    check_client_config, check_server_config, client_config_builder, server_config_builder,
};
use quic_proto::token::TokenKey;
use quic_proto::version::Version;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{KeyLogFile, RootCertStore};

use crate::error::ConfigError;

/// How a server endpoint answers new connections: its TLS identity, ALPN
/// protocols and transport settings.
///
/// The key that seals address-validation tokens (RFC 9000 §8.1) is drawn
/// from the operating system when the endpoint starts, unless one is set
/// with [`token_key`](Self::token_key).
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub(crate) crypto: Arc<rustls::ServerConfig>,
    pub(crate) transport: Arc<TransportConfig>,
    pub(crate) token_key: Option<TokenKey>,
    pub(crate) max_incoming: usize,
    pub(crate) retry_all: bool,
}

impl ServerConfig {
    /// A server presenting `cert_chain` (end-entity first) signed by `key`,
    /// without client authentication. The TLS key log follows
    /// `SSLKEYLOGFILE` when it is set.
    pub fn with_single_cert(
        cert_chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<Self, ConfigError> {
        let mut crypto = server_config_builder()
            .with_no_client_auth()
            .with_single_cert(cert_chain, key)?;
        crypto.key_log = Arc::new(KeyLogFile::new());
        Self::with_crypto(Arc::new(crypto))
    }

    /// A server with a rustls configuration built by the caller. It must
    /// allow TLS 1.3 with a QUIC-capable cipher suite, and its
    /// `max_early_data_size` must be 0 or `u32::MAX` (RFC 9001 §4.6.1).
    pub fn with_crypto(crypto: Arc<rustls::ServerConfig>) -> Result<Self, ConfigError> {
        check_server_config(&crypto).map_err(ConfigError::Unsuitable)?;
        Ok(Self {
            crypto,
            transport: Arc::new(TransportConfig::default()),
            token_key: None,
            max_incoming: 1024,
            retry_all: false,
        })
    }

    /// Sets the application protocols offered in ALPN, preferred first
    /// (RFC 9001 §8.1).
    pub fn alpn_protocols(&mut self, protocols: Vec<Vec<u8>>) -> &mut Self {
        Arc::make_mut(&mut self.crypto).alpn_protocols = protocols;
        self
    }

    /// Sets the transport settings of accepted connections.
    pub fn transport_config(&mut self, transport: Arc<TransportConfig>) -> &mut Self {
        self.transport = transport;
        self
    }

    /// Sets the key that seals Retry and NEW_TOKEN tokens; keep it across
    /// restarts so tokens stay valid.
    pub fn token_key(&mut self, key: TokenKey) -> &mut Self {
        self.token_key = Some(key);
        self
    }

    /// Sets how many connections may be handshaking, and how many may wait
    /// in [`Endpoint::accept`](crate::Endpoint::accept)'s queue; more are
    /// refused with CONNECTION_REFUSED. Default: 1,024.
    pub fn max_incoming(&mut self, max: usize) -> &mut Self {
        self.max_incoming = max;
        self
    }

    /// Answers every new connection with a Retry to validate the client's
    /// address first (RFC 9000 §8.1.2). Default: off;
    /// [`Incoming::retry`](crate::Incoming::retry) decides per connection.
    pub fn retry_all(&mut self, retry: bool) -> &mut Self {
        self.retry_all = retry;
        self
    }

    /// The protocol crate's configuration, with `token_key` if none was
    /// set.
    pub(crate) fn to_proto(&self, token_key: TokenKey) -> quic_proto::config::ServerConfig {
        let mut config = quic_proto::config::ServerConfig::new(
            self.crypto.clone(),
            self.token_key.clone().unwrap_or(token_key),
        );
        config.transport = self.transport.clone();
        config.max_incoming = self.max_incoming;
        config.retry_all = self.retry_all;
        config
    }
}

/// How a client connects: whom it trusts, its ALPN protocols and transport
/// settings.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub(crate) inner: quic_proto::config::ClientConfig,
}

impl ClientConfig {
    /// A client trusting the certificate authorities in `roots`, without a
    /// client certificate. The TLS key log follows `SSLKEYLOGFILE` when it
    /// is set.
    pub fn with_root_certificates(roots: impl Into<Arc<RootCertStore>>) -> Self {
        let mut crypto = client_config_builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        crypto.key_log = Arc::new(KeyLogFile::new());
        Self {
            inner: quic_proto::config::ClientConfig::new(Arc::new(crypto)),
        }
    }

    /// A client with a rustls configuration built by the caller; it must
    /// allow TLS 1.3 with a QUIC-capable cipher suite.
    pub fn with_crypto(crypto: Arc<rustls::ClientConfig>) -> Result<Self, ConfigError> {
        check_client_config(&crypto).map_err(ConfigError::Unsuitable)?;
        Ok(Self {
            inner: quic_proto::config::ClientConfig::new(crypto),
        })
    }

    /// Sets the application protocols offered in ALPN, preferred first
    /// (RFC 9001 §8.1).
    pub fn alpn_protocols(&mut self, protocols: Vec<Vec<u8>>) -> &mut Self {
        Arc::make_mut(&mut self.inner.crypto).alpn_protocols = protocols;
        self
    }

    /// Sets the transport settings of connections made with this
    /// configuration.
    pub fn transport_config(&mut self, transport: Arc<TransportConfig>) -> &mut Self {
        self.inner.transport = transport;
        self
    }

    /// Sets the QUIC version of the first Initial (RFC 9000 §6; v2 is
    /// RFC 9369). Default: v1.
    pub fn version(&mut self, version: Version) -> &mut Self {
        self.inner.version = version;
        self
    }
}
