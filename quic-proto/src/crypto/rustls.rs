//! The one module that talks to rustls (0.23, ring provider): packet and
//! header protection over `rustls::quic`'s keys, Initial keys, and the TLS
//! session. `version_switch.rs` lets a client session change its QUIC
//! version mid-handshake, which rustls cannot do itself.
//!
//! Nothing else in the crate names rustls; when rustls' QUIC API changes,
//! this module absorbs it.

use std::fmt;
use std::sync::Arc;

use ::rustls::crypto::ring as ring_provider;
use ::rustls::pki_types::ServerName;
use ::rustls::quic;
use ::rustls::{AlertDescription, Error, PeerMisbehaved, SupportedCipherSuite};

pub use ::rustls::{ClientConfig, ServerConfig};

use self::version_switch::{Level, VersionSwitch};
use super::ring_keys::{self, Labels};
use super::{
    CryptoError, DirectionalKeys, ExportKeyingMaterialError, HeaderKey, KeyChange, KeyPair, Keys,
    PacketKey, Session, SetVersionError, UnsupportedVersion,
};
use crate::cid::ConnectionId;
use crate::error::{TransportError, TransportErrorCode};
use crate::shared::Side;
use crate::version::Version;

mod version_switch;

/// Header protection (RFC 9001 §5.4) with a rustls key.
struct RustlsHeaderKey(Box<dyn quic::HeaderProtectionKey>);

impl RustlsHeaderKey {
    /// Applies (`remove == false`) or removes the mask. The packet number
    /// field is taken as the 4 bytes at `pn_offset`: the key reads the
    /// packet number length from the (unmasked) first byte and touches only
    /// that many (RFC 9001 §5.4.1). The sample starts 4 bytes after
    /// `pn_offset` whatever the packet number length (RFC 9001 §5.4.2).
    fn apply(&self, pn_offset: usize, packet: &mut [u8], remove: bool) -> Result<(), CryptoError> {
        let sample_len = self.0.sample_len();
        let sample_start = pn_offset.checked_add(4).ok_or(CryptoError)?;
        let sample_end = sample_start.checked_add(sample_len).ok_or(CryptoError)?;
        if pn_offset == 0 || packet.len() < sample_end {
            return Err(CryptoError);
        }
        let (head, tail) = packet.split_at_mut(sample_start);
        let sample = tail.get(..sample_len).ok_or(CryptoError)?;
        let (first, after_first) = head.split_first_mut().ok_or(CryptoError)?;
        let packet_number = after_first.get_mut(pn_offset - 1..).ok_or(CryptoError)?;
        let result = if remove {
            self.0.decrypt_in_place(sample, first, packet_number)
        } else {
            self.0.encrypt_in_place(sample, first, packet_number)
        };
        result.map_err(|_| CryptoError)
    }
}

impl HeaderKey for RustlsHeaderKey {
    /// A packet too short to hold the sample is left as it is; it then fails
    /// to open, so it is dropped either way.
    fn decrypt(&self, pn_offset: usize, packet: &mut [u8]) {
        let _ = self.apply(pn_offset, packet, true);
    }

    fn encrypt(&self, pn_offset: usize, packet: &mut [u8]) {
        let result = self.apply(pn_offset, packet, false);
        debug_assert!(result.is_ok(), "packet too short for header protection");
    }

    fn sample_size(&self) -> usize {
        self.0.sample_len()
    }
}

/// Payload protection (RFC 9001 §5.3) with a rustls key.
struct RustlsPacketKey(Box<dyn quic::PacketKey>);

impl PacketKey for RustlsPacketKey {
    fn encrypt(&self, packet_number: u64, buf: &mut [u8], header_len: usize) {
        super::seal_in_place(buf, header_len, self.0.tag_len(), |header, payload| {
            self.0.encrypt_in_place(packet_number, header, payload)
        });
    }

    fn decrypt(
        &self,
        packet_number: u64,
        header: &[u8],
        payload: &mut bytes::BytesMut,
    ) -> Result<(), CryptoError> {
        let plain_len = self
            .0
            .decrypt_in_place(packet_number, header, payload.as_mut())
            .map_err(|_| CryptoError)?
            .len();
        payload.truncate(plain_len);
        Ok(())
    }

    fn tag_len(&self) -> usize {
        self.0.tag_len()
    }

    fn confidentiality_limit(&self) -> u64 {
        self.0.confidentiality_limit()
    }

    fn integrity_limit(&self) -> u64 {
        self.0.integrity_limit()
    }
}

fn header_key(key: Box<dyn quic::HeaderProtectionKey>) -> Box<dyn HeaderKey> {
    Box::new(RustlsHeaderKey(key))
}

fn packet_key(key: Box<dyn quic::PacketKey>) -> Box<dyn PacketKey> {
    Box::new(RustlsPacketKey(key))
}

fn convert_keys(keys: quic::Keys) -> Keys {
    Keys {
        header: KeyPair {
            local: header_key(keys.local.header),
            remote: header_key(keys.remote.header),
        },
        packet: KeyPair {
            local: packet_key(keys.local.packet),
            remote: packet_key(keys.remote.packet),
        },
    }
}

fn convert_directional(keys: quic::DirectionalKeys) -> DirectionalKeys {
    DirectionalKeys {
        header: header_key(keys.header),
        packet: packet_key(keys.packet),
    }
}

fn tls_version(version: Version) -> Result<quic::Version, UnsupportedVersion> {
    match version {
        Version::V1 => Ok(quic::Version::V1),
        Version::V2 => Ok(quic::Version::V2),
        other => Err(UnsupportedVersion(other)),
    }
}

fn tls_side(side: Side) -> ::rustls::Side {
    match side {
        Side::Client => ::rustls::Side::Client,
        Side::Server => ::rustls::Side::Server,
    }
}

/// The suite Initial packets use: AEAD_AES_128_GCM with SHA-256
/// (RFC 9001 §5.2), checked at compile time to be a TLS 1.3 suite with QUIC
/// support.
const INITIAL_SUITE: quic::Suite = match ring_provider::cipher_suite::TLS13_AES_128_GCM_SHA256 {
    SupportedCipherSuite::Tls13(suite) => match suite.quic {
        Some(quic) => quic::Suite { suite, quic },
        None => panic!("ring's AES-128-GCM suite lacks QUIC support"),
    },
    #[allow(unreachable_patterns)]
    _ => panic!("TLS13_AES_128_GCM_SHA256 is not a TLS 1.3 suite"),
};

/// The Initial keys of a connection (RFC 9001 §5.2; RFC 9369 §3.3.1 and
/// §3.3.2 for v2's salt and labels), derived from the Destination Connection
/// ID of the client's first Initial packet.
pub fn initial_keys(
    version: Version,
    client_dst_cid: &ConnectionId,
    side: Side,
) -> Result<Keys, UnsupportedVersion> {
    let version = tls_version(version)?;
    let keys = INITIAL_SUITE.keys(client_dst_cid, tls_side(side), version);
    Ok(convert_keys(keys))
}

/// Why a TLS session could not be created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NewSessionError {
    /// The QUIC version is not v1 or v2.
    UnsupportedVersion(Version),
    /// The server name is neither a DNS name nor an IP address.
    InvalidServerName,
    /// The configuration cannot run QUIC (RFC 9001 §4.2: TLS 1.3 only).
    UnsuitableConfig(&'static str),
    /// rustls refused to start the session.
    Tls(String),
}

impl fmt::Display for NewSessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnsupportedVersion(version) => write!(f, "unsupported QUIC version {version:?}"),
            Self::InvalidServerName => f.write_str("invalid server name"),
            Self::UnsuitableConfig(reason) => write!(f, "TLS config unsuitable for QUIC: {reason}"),
            Self::Tls(reason) => write!(f, "TLS session failed to start: {reason}"),
        }
    }
}

impl std::error::Error for NewSessionError {}

impl From<UnsupportedVersion> for NewSessionError {
    fn from(err: UnsupportedVersion) -> Self {
        Self::UnsupportedVersion(err.0)
    }
}

fn has_quic_suite(suites: &[SupportedCipherSuite]) -> bool {
    suites
        .iter()
        .any(|suite| suite.tls13().is_some_and(|suite| suite.quic.is_some()))
}

/// Checks what rustls lets us see of a client config: it must offer a TLS 1.3
/// cipher suite usable for QUIC (RFC 9001 §4.2, §5.3). The set of enabled
/// protocol versions is private to rustls; [`TlsSession::client`] reports a
/// config without TLS 1.3.
pub fn check_client_config(config: &ClientConfig) -> Result<(), NewSessionError> {
    if !has_quic_suite(&config.crypto_provider().cipher_suites) {
        return Err(NewSessionError::UnsuitableConfig(
            "no TLS 1.3 cipher suite usable with QUIC",
        ));
    }
    Ok(())
}

/// Checks a server config as [`check_client_config`] does, and that
/// `max_early_data_size` is 0 (no 0-RTT) or `u32::MAX` (0-RTT), the only
/// values QUIC allows (RFC 9001 §4.6.1).
pub fn check_server_config(config: &ServerConfig) -> Result<(), NewSessionError> {
    if !has_quic_suite(&config.crypto_provider().cipher_suites) {
        return Err(NewSessionError::UnsuitableConfig(
            "no TLS 1.3 cipher suite usable with QUIC",
        ));
    }
    if config.max_early_data_size != 0 && config.max_early_data_size != u32::MAX {
        return Err(NewSessionError::UnsuitableConfig(
            "max_early_data_size must be 0 or u32::MAX",
        ));
    }
    Ok(())
}

/// A client config builder with the ring provider and TLS 1.3 only, the
/// starting point for a QUIC client config. Set ALPN protocols on the result
/// (RFC 9001 §8.1).
pub fn client_config_builder() -> ::rustls::ConfigBuilder<ClientConfig, ::rustls::WantsVerifier> {
    ClientConfig::builder_with_provider(Arc::new(ring_provider::default_provider()))
        .with_protocol_versions(&[&::rustls::version::TLS13])
        .expect("the ring provider has TLS 1.3 cipher suites")
}

/// A server config builder with the ring provider and TLS 1.3 only.
pub fn server_config_builder() -> ::rustls::ConfigBuilder<ServerConfig, ::rustls::WantsVerifier> {
    ServerConfig::builder_with_provider(Arc::new(ring_provider::default_provider()))
        .with_protocol_versions(&[&::rustls::version::TLS13])
        .expect("the ring provider has TLS 1.3 cipher suites")
}

/// The 1-RTT secrets of the next key phase (RFC 9001 §6.1).
enum NextSecrets {
    /// rustls' own, in the version the session was created with.
    Rustls(quic::Secrets),
    /// Ours, after a version switch, with the new version's labels.
    Ring {
        secrets: ring_keys::Secrets,
        labels: &'static Labels,
    },
}

/// A TLS 1.3 session for QUIC over rustls: the [`Session`] the connection
/// drives.
///
/// A client session runs on its own copy of the [`ClientConfig`] it is
/// given, whose key log also keeps this connection's traffic secrets, so
/// that [`Session::set_version`] can re-derive its packet keys in another
/// version (RFC 9368 §2.3). The user's key log still sees every secret.
pub struct TlsSession {
    conn: quic::Connection,
    /// The version rustls derives keys for.
    version: Version,
    next_secrets: Option<NextSecrets>,
    /// On a client, the name it connects to.
    client_server_name: Option<String>,
    /// On a client, what changing the version needs.
    version_switch: Option<VersionSwitch>,
}

impl TlsSession {
    /// Starts a client session that will connect to `server_name` and send
    /// `transport_parameters` (already encoded, RFC 9000 §18) in its
    /// ClientHello. ALPN protocols come from `config` (RFC 9001 §8.1).
    ///
    /// `version` is the client's original version; the session clones
    /// `config` (a few small allocations; shared parts such as the session
    /// store stay shared) to capture its traffic secrets, so that it can
    /// switch to the negotiated version ([`Session::set_version`]).
    pub fn client(
        config: Arc<ClientConfig>,
        version: Version,
        server_name: &str,
        transport_parameters: Vec<u8>,
    ) -> Result<Self, NewSessionError> {
        let tls_version = tls_version(version)?;
        check_client_config(&config)?;
        let name = ServerName::try_from(server_name.to_owned())
            .map_err(|_| NewSessionError::InvalidServerName)?;
        let (config, version_switch) = VersionSwitch::client(&config, version);
        let conn = quic::ClientConnection::new(config, tls_version, name, transport_parameters)
            .map_err(|err| NewSessionError::Tls(err.to_string()))?;
        Ok(Self {
            conn: conn.into(),
            version,
            next_secrets: None,
            client_server_name: Some(server_name.to_owned()),
            version_switch: Some(version_switch),
        })
    }

    /// Starts a server session that will send `transport_parameters`
    /// (already encoded) in its EncryptedExtensions.
    pub fn server(
        config: Arc<ServerConfig>,
        version: Version,
        transport_parameters: Vec<u8>,
    ) -> Result<Self, NewSessionError> {
        let tls_version = tls_version(version)?;
        check_server_config(&config)?;
        let conn = quic::ServerConnection::new(config, tls_version, transport_parameters)
            .map_err(|err| NewSessionError::Tls(err.to_string()))?;
        Ok(Self {
            conn: conn.into(),
            version,
            next_secrets: None,
            client_server_name: None,
            version_switch: None,
        })
    }

    /// Which end of the handshake this session is.
    pub fn side(&self) -> Side {
        match self.conn {
            quic::Connection::Client(_) => Side::Client,
            quic::Connection::Server(_) => Side::Server,
        }
    }

    /// The version whose labels the Handshake and 1-RTT keys use: the one
    /// the session was created with, or the one given to
    /// [`Session::set_version`].
    pub fn version(&self) -> Version {
        self.version_switch
            .as_ref()
            .map_or(self.version, VersionSwitch::version)
    }

    /// The keys of a new level from the captured secrets, if the version
    /// changed.
    fn switched_keys(&mut self, level: Level) -> Option<(Keys, NextSecrets)> {
        let suite = self.conn.negotiated_cipher_suite();
        let side = self.side();
        let (keys, secrets, labels) = self.version_switch.as_mut()?.keys(level, suite, side)?;
        Some((keys, NextSecrets::Ring { secrets, labels }))
    }
}

impl fmt::Debug for TlsSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsSession")
            .field("side", &self.side())
            .field("handshaking", &self.conn.is_handshaking())
            .finish_non_exhaustive()
    }
}

impl Session for TlsSession {
    fn read_handshake(&mut self, data: &[u8]) -> Result<(), TransportError> {
        self.conn
            .read_hs(data)
            .map_err(|err| transport_error(&err, self.conn.alert()))
    }

    fn write_handshake(&mut self, buf: &mut Vec<u8>) -> Option<KeyChange> {
        match self.conn.write_hs(buf)? {
            quic::KeyChange::Handshake { keys } => {
                let keys = match self.switched_keys(Level::Handshake) {
                    Some((keys, _)) => keys,
                    None => convert_keys(keys),
                };
                Some(KeyChange::Handshake { keys })
            }
            quic::KeyChange::OneRtt { keys, next } => {
                let (keys, next) = match self.switched_keys(Level::OneRtt) {
                    Some(switched) => switched,
                    None => (convert_keys(keys), NextSecrets::Rustls(next)),
                };
                self.next_secrets = Some(next);
                Some(KeyChange::OneRtt { keys })
            }
        }
    }

    fn is_handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    fn peer_transport_parameters(&self) -> Option<&[u8]> {
        self.conn.quic_transport_parameters()
    }

    fn alpn_protocol(&self) -> Option<&[u8]> {
        self.conn.alpn_protocol()
    }

    fn server_name(&self) -> Option<&str> {
        match &self.conn {
            quic::Connection::Client(_) => self.client_server_name.as_deref(),
            quic::Connection::Server(conn) => conn.server_name(),
        }
    }

    fn peer_certificates(&self) -> Option<Vec<&[u8]>> {
        let certs = self.conn.peer_certificates()?;
        Some(certs.iter().map(|cert| cert.as_ref()).collect())
    }

    fn early_keys(&self) -> Option<DirectionalKeys> {
        self.conn.zero_rtt_keys().map(convert_directional)
    }

    fn early_data_accepted(&self) -> Option<bool> {
        match &self.conn {
            quic::Connection::Client(conn) if !conn.is_handshaking() => {
                Some(conn.is_early_data_accepted())
            }
            _ => None,
        }
    }

    fn next_1rtt_keys(&mut self) -> Option<KeyPair<Box<dyn PacketKey>>> {
        let side = self.side();
        match self.next_secrets.as_mut()? {
            NextSecrets::Rustls(secrets) => {
                let keys = secrets.next_packet_keys();
                Some(KeyPair {
                    local: packet_key(keys.local),
                    remote: packet_key(keys.remote),
                })
            }
            NextSecrets::Ring { secrets, labels } => {
                let keys = secrets.packet_keys(side, labels);
                let next = secrets.next(labels);
                match (keys, next) {
                    (Ok(keys), Ok(next)) => {
                        *secrets = next;
                        Some(keys)
                    }
                    // Unreachable: the same derivations already succeeded
                    // for these secrets' suite and labels.
                    _ => {
                        tracing::error!("no keys for the next 1-RTT key phase");
                        None
                    }
                }
            }
        }
    }

    /// On a client, switches the labels of the Handshake and 1-RTT keys
    /// still to come; see [`Session::set_version`]. A server session, made
    /// in the negotiated version from the start, accepts only its own
    /// version.
    fn set_version(&mut self, version: Version) -> Result<(), SetVersionError> {
        match &mut self.version_switch {
            Some(switch) => switch.set(version),
            None => {
                tls_version(version).map_err(|err| SetVersionError::UnsupportedVersion(err.0))?;
                if version == self.version {
                    Ok(())
                } else {
                    Err(SetVersionError::NotSupported)
                }
            }
        }
    }

    fn export_keying_material(
        &self,
        output: &mut [u8],
        label: &[u8],
        context: &[u8],
    ) -> Result<(), ExportKeyingMaterialError> {
        self.conn
            .export_keying_material(output, label, Some(context))
            .map(|_| ())
            .map_err(|_| ExportKeyingMaterialError)
    }
}

/// The transport error a failed handshake closes the connection with.
///
/// RFC 9001 §4.8: a TLS alert becomes CRYPTO_ERROR, 0x0100 plus the alert.
/// rustls records the alert it would have sent, so that is the usual path;
/// this includes a peer without transport parameters, which RFC 9001 §8.2
/// makes 0x016d (missing_extension). The connection raises
/// TRANSPORT_PARAMETER_ERROR itself when it decodes the parameters.
fn transport_error(err: &Error, alert: Option<AlertDescription>) -> TransportError {
    let code = match alert {
        Some(alert) => TransportErrorCode::crypto(u8::from(alert)),
        None => code_without_alert(err),
    };
    TransportError::new(code, err.to_string())
}

fn code_without_alert(err: &Error) -> TransportErrorCode {
    let alert = |alert: AlertDescription| TransportErrorCode::crypto(u8::from(alert));
    match err {
        Error::PeerMisbehaved(PeerMisbehaved::MissingQuicTransportParameters) => {
            alert(AlertDescription::MissingExtension)
        }
        Error::NoApplicationProtocol => alert(AlertDescription::NoApplicationProtocol),
        Error::InvalidCertificate(cert_err) => alert(AlertDescription::from(cert_err.clone())),
        Error::InappropriateMessage { .. }
        | Error::InappropriateHandshakeMessage { .. }
        | Error::InvalidMessage(_)
        | Error::PeerMisbehaved(_)
        | Error::PeerIncompatible(_)
        | Error::AlertReceived(_) => TransportErrorCode::PROTOCOL_VIOLATION,
        _ => TransportErrorCode::INTERNAL_ERROR,
    }
}

/// Keys from a raw traffic secret, for the RFC 9001 A.5 / RFC 9369 A.5
/// ChaCha20-Poly1305 vectors. rustls derives keys from secrets only inside
/// its key schedule, so HKDF-Expand-Label (RFC 8446 §7.1) is spelled out
/// here with the suite's HKDF.
#[cfg(test)]
pub(crate) mod raw_secret {
    use ::rustls::crypto::cipher::{AeadKey, Iv};
    use ::rustls::crypto::tls13::{HkdfExpander, OkmBlock};

    use super::*;

    /// HKDF-Expand-Label(secret, label, "", out.len()) with SHA-256
    /// (RFC 8446 §7.1).
    pub(crate) fn expand_label_sha256(secret: &[u8], label: &[u8], out: &mut [u8]) {
        let hkdf = INITIAL_SUITE.suite.hkdf_provider;
        expand_label(&*hkdf.expander_for_okm(&OkmBlock::new(secret)), label, out);
    }

    fn expand_label(expander: &dyn HkdfExpander, label: &[u8], out: &mut [u8]) {
        let out_len = u16::try_from(out.len()).unwrap().to_be_bytes();
        let label_len = [u8::try_from(b"tls13 ".len() + label.len()).unwrap()];
        let info: [&[u8]; 5] = [&out_len, &label_len, b"tls13 ", label, &[0]];
        expander.expand_slice(&info, out).unwrap();
    }

    /// One direction's keys from a traffic secret, with
    /// TLS_CHACHA20_POLY1305_SHA256 and the labels of `version`
    /// (RFC 9001 §5.1, RFC 9369 §3.3.2).
    pub(crate) fn chacha20_keys(version: Version, secret: &[u8]) -> DirectionalKeys {
        let prefix: &[u8] = match version {
            Version::V1 => b"quic ",
            Version::V2 => b"quicv2 ",
            _ => panic!("no labels for {version:?}"),
        };
        let label = |name: &[u8]| [prefix, name].concat();
        let suite = ring_provider::cipher_suite::TLS13_CHACHA20_POLY1305_SHA256
            .tls13()
            .and_then(|suite| suite.quic_suite())
            .unwrap();
        assert_eq!(suite.quic.aead_key_len(), 32);
        let expander = suite
            .suite
            .hkdf_provider
            .expander_for_okm(&OkmBlock::new(secret));
        let (mut key, mut iv, mut hp) = ([0; 32], [0; 12], [0; 32]);
        expand_label(&*expander, &label(b"key"), &mut key);
        expand_label(&*expander, &label(b"iv"), &mut iv);
        expand_label(&*expander, &label(b"hp"), &mut hp);
        DirectionalKeys {
            header: header_key(suite.quic.header_protection_key(AeadKey::from(hp))),
            packet: packet_key(suite.quic.packet_key(AeadKey::from(key), Iv::from(iv))),
        }
    }
}

#[cfg(test)]
mod tests {
    use ::rustls::CertificateError;

    use super::*;

    /// RFC 9001 §4.8: the alert rustls recorded decides the code.
    #[test]
    fn alerts_become_crypto_errors() {
        let err = Error::General("x".into());
        let mapped = transport_error(&err, Some(AlertDescription::HandshakeFailure));
        assert_eq!(mapped.code, TransportErrorCode::crypto(0x28));
        assert_eq!(mapped.reason, err.to_string());
    }

    /// Without a recorded alert: RFC 9001 §8.2 (missing_extension), §8.1
    /// (no_application_protocol), the certificate's alert, and otherwise
    /// PROTOCOL_VIOLATION for the peer's faults or INTERNAL_ERROR for ours.
    #[test]
    fn errors_without_alerts() {
        let cases = [
            (
                Error::PeerMisbehaved(PeerMisbehaved::MissingQuicTransportParameters),
                TransportErrorCode::crypto(0x6d),
            ),
            (
                Error::NoApplicationProtocol,
                TransportErrorCode::crypto(0x78),
            ),
            (
                Error::InvalidCertificate(CertificateError::UnknownIssuer),
                TransportErrorCode::crypto(0x30),
            ),
            (
                Error::PeerMisbehaved(PeerMisbehaved::TooManyKeyUpdateRequests),
                TransportErrorCode::PROTOCOL_VIOLATION,
            ),
            (
                Error::General("oops".into()),
                TransportErrorCode::INTERNAL_ERROR,
            ),
        ];
        for (err, code) in cases {
            assert_eq!(transport_error(&err, None).code, code, "{err:?}");
        }
    }
}
