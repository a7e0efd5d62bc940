//! TLS handshakes between a client and a server session in memory, handshake
//! bytes moved level by level, and the keys they produce.

use std::sync::Arc;

use ::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use ::rustls::{ClientConfig, RootCertStore, ServerConfig};
use bytes::BytesMut;

use super::rustls::{
    NewSessionError, TlsSession, check_client_config, check_server_config, client_config_builder,
    server_config_builder,
};
use super::*;
use crate::error::TransportErrorCode;
use crate::shared::Side;

pub(super) const CLIENT_PARAMS: &[u8] = b"client transport parameters";
pub(super) const SERVER_PARAMS: &[u8] = b"server transport parameters";

pub(super) struct Certificate {
    pub(super) cert: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
}

pub(super) fn certificate() -> Certificate {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    Certificate {
        cert: certified.cert.der().clone(),
        key: PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der()).into(),
    }
}

pub(super) fn server_config(cert: &Certificate, alpn: &[u8]) -> ServerConfig {
    let mut config = server_config_builder()
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.clone()], cert.key.clone_key())
        .unwrap();
    config.alpn_protocols = vec![alpn.to_vec()];
    config
}

/// A client that trusts `trusted` (or nothing).
pub(super) fn client_config(trusted: Option<&Certificate>, alpn: &[u8]) -> ClientConfig {
    let mut roots = RootCertStore::empty();
    if let Some(trusted) = trusted {
        roots.add(trusted.cert.clone()).unwrap();
    }
    let mut config = client_config_builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    config
}

/// One end of the in-memory handshake, held as a trait object to prove that
/// `Session` is object-safe.
pub(super) struct Peer {
    pub(super) session: Box<dyn Session>,
    pub(super) handshake_keys: Option<Keys>,
    pub(super) one_rtt_keys: Option<Keys>,
}

impl Peer {
    pub(super) fn new(session: TlsSession) -> Self {
        Self {
            session: Box::new(session),
            handshake_keys: None,
            one_rtt_keys: None,
        }
    }

    pub(super) fn client(config: ClientConfig, version: Version) -> Self {
        let session = TlsSession::client(
            Arc::new(config),
            version,
            "localhost",
            CLIENT_PARAMS.to_vec(),
        );
        Self::new(session.unwrap())
    }

    pub(super) fn server(config: ServerConfig, version: Version) -> Self {
        Self::new(TlsSession::server(Arc::new(config), version, SERVER_PARAMS.to_vec()).unwrap())
    }

    /// Drains the handshake bytes to send, one flight per encryption level,
    /// and keeps the keys of each new level.
    pub(super) fn flights(&mut self) -> Vec<Vec<u8>> {
        let mut flights = Vec::new();
        loop {
            let mut flight = Vec::new();
            let change = self.session.write_handshake(&mut flight);
            let wrote = !flight.is_empty();
            if wrote {
                flights.push(flight);
            }
            match change {
                Some(KeyChange::Handshake { keys }) => self.handshake_keys = Some(keys),
                Some(KeyChange::OneRtt { keys }) => self.one_rtt_keys = Some(keys),
                None if !wrote => return flights,
                None => {}
            }
        }
    }
}

/// Moves `from`'s pending handshake bytes to `to`; whether any moved.
pub(super) fn transfer(from: &mut Peer, to: &mut Peer) -> Result<bool, TransportError> {
    let flights = from.flights();
    for flight in &flights {
        to.session.read_handshake(flight)?;
    }
    Ok(!flights.is_empty())
}

/// Runs the handshake until neither side has anything to send. An error
/// names the side that raised it.
pub(super) fn drive(client: &mut Peer, server: &mut Peer) -> Result<(), (Side, TransportError)> {
    loop {
        let to_server = transfer(client, server).map_err(|err| (Side::Server, err))?;
        let to_client = transfer(server, client).map_err(|err| (Side::Client, err))?;
        if !to_server && !to_client {
            return Ok(());
        }
    }
}

/// Seals a packet with `local` and opens it with `remote`.
pub(super) fn seal_and_open(
    local: &dyn PacketKey,
    remote: &dyn PacketKey,
) -> Result<Vec<u8>, CryptoError> {
    let header = b"\x40short header";
    let payload = b"hello over 1-RTT";
    let mut buf = [&header[..], &payload[..]].concat();
    buf.resize(buf.len() + local.tag_len(), 0);
    local.encrypt(7, &mut buf, header.len());
    let mut sealed = BytesMut::from(&buf[header.len()..]);
    remote.decrypt(7, header, &mut sealed)?;
    Ok(sealed.to_vec())
}

pub(super) fn assert_keys_pair_up(sender: &Keys, receiver: &Keys) {
    let opened = seal_and_open(&*sender.packet.local, &*receiver.packet.remote);
    assert_eq!(opened.as_deref(), Ok(&b"hello over 1-RTT"[..]));
    let mut packet: Vec<u8> = (0..40).collect();
    packet[0] = 0x43;
    let original = packet.clone();
    sender.header.local.encrypt(1, &mut packet);
    assert_ne!(packet, original);
    receiver.header.remote.decrypt(1, &mut packet);
    assert_eq!(packet, original);
}

/// RFC 9001 §4: a full handshake in v1 and v2; ALPN (§8.1), server name,
/// transport parameters (§8.2) and certificates as each side sees them;
/// Handshake and 1-RTT keys that pair up across the two sides.
#[test]
fn handshake_completes_with_matching_keys() {
    let cert = certificate();
    for version in [Version::V1, Version::V2] {
        let mut client = Peer::client(client_config(Some(&cert), b"echo"), version);
        let mut server = Peer::server(server_config(&cert, b"echo"), version);
        assert!(client.session.is_handshaking());
        assert_eq!(server.session.peer_transport_parameters(), None);
        drive(&mut client, &mut server).unwrap();

        for peer in [&client, &server] {
            assert!(!peer.session.is_handshaking());
            assert_eq!(peer.session.alpn_protocol(), Some(&b"echo"[..]));
            assert_eq!(peer.session.server_name(), Some("localhost"));
        }
        assert_eq!(
            server.session.peer_transport_parameters(),
            Some(CLIENT_PARAMS)
        );
        assert_eq!(
            client.session.peer_transport_parameters(),
            Some(SERVER_PARAMS)
        );
        assert_eq!(
            client.session.peer_certificates(),
            Some(vec![cert.cert.as_ref()])
        );
        assert_eq!(server.session.peer_certificates(), None);
        assert_eq!(client.session.early_data_accepted(), Some(false));
        assert_eq!(server.session.early_data_accepted(), None);

        let (client_hs, server_hs) = (
            client.handshake_keys.unwrap(),
            server.handshake_keys.unwrap(),
        );
        assert_keys_pair_up(&client_hs, &server_hs);
        assert_keys_pair_up(&server_hs, &client_hs);
        let client_1rtt = client.one_rtt_keys.as_ref().unwrap();
        let server_1rtt = server.one_rtt_keys.as_ref().unwrap();
        assert_keys_pair_up(client_1rtt, server_1rtt);
        assert_keys_pair_up(server_1rtt, client_1rtt);
        // Each level has its own keys.
        let crossed = seal_and_open(&*client_hs.packet.local, &*server_1rtt.packet.remote);
        assert_eq!(crossed, Err(CryptoError));
    }
}

/// RFC 9001 §6: both sides step to the next key phase in lockstep; a packet
/// under the new keys opens only with the peer's new keys.
#[test]
fn key_update_steps_both_sides() {
    let cert = certificate();
    for version in [Version::V1, Version::V2] {
        let mut client = Peer::client(client_config(Some(&cert), b"echo"), version);
        let mut server = Peer::server(server_config(&cert, b"echo"), version);
        drive(&mut client, &mut server).unwrap();
        let phase0_server = server.one_rtt_keys.take().unwrap().packet;

        let phase1_client = client.session.next_1rtt_keys().unwrap();
        let phase1_server = server.session.next_1rtt_keys().unwrap();
        let opened = seal_and_open(&*phase1_client.local, &*phase1_server.remote);
        assert_eq!(opened.as_deref(), Ok(&b"hello over 1-RTT"[..]));
        let opened = seal_and_open(&*phase1_server.local, &*phase1_client.remote);
        assert!(opened.is_ok());
        let stale = seal_and_open(&*phase1_client.local, &*phase0_server.remote);
        assert_eq!(stale, Err(CryptoError));

        let phase2_client = client.session.next_1rtt_keys().unwrap();
        let phase2_server = server.session.next_1rtt_keys().unwrap();
        assert!(seal_and_open(&*phase2_client.local, &*phase2_server.remote).is_ok());
        let stale = seal_and_open(&*phase2_client.local, &*phase1_server.remote);
        assert_eq!(stale, Err(CryptoError));
    }
}

#[test]
fn no_1rtt_keys_before_the_handshake() {
    let cert = certificate();
    let mut client = Peer::client(client_config(Some(&cert), b"echo"), Version::V1);
    assert!(client.session.next_1rtt_keys().is_none());
    assert!(client.session.early_keys().is_none());
    let mut out = [0; 32];
    assert_eq!(
        client
            .session
            .export_keying_material(&mut out, b"label", b""),
        Err(ExportKeyingMaterialError)
    );
}

/// RFC 8446 §7.5: both ends export the same keying material.
#[test]
fn exported_keying_material_agrees() {
    let cert = certificate();
    let mut client = Peer::client(client_config(Some(&cert), b"echo"), Version::V1);
    let mut server = Peer::server(server_config(&cert, b"echo"), Version::V1);
    drive(&mut client, &mut server).unwrap();
    let export = |peer: &Peer, label: &[u8]| {
        let mut out = [0; 32];
        peer.session
            .export_keying_material(&mut out, label, b"context")
            .unwrap();
        out
    };
    assert_eq!(export(&client, b"label"), export(&server, b"label"));
    assert_ne!(export(&client, b"label"), export(&client, b"other label"));
}

/// RFC 9001 §4.8: a certificate the client cannot verify closes the
/// connection with CRYPTO_ERROR carrying the TLS alert: unknown_ca (48) with
/// no trust anchor at all; decrypt_error (51) when the trusted certificate
/// has the issuer's name (rcgen's default) but another key.
#[test]
fn untrusted_certificate_is_a_crypto_error() {
    let cert = certificate();
    let other = certificate();
    for (trusted, alert) in [(None, 48), (Some(&other), 51)] {
        let mut client = Peer::client(client_config(trusted, b"echo"), Version::V1);
        let mut server = Peer::server(server_config(&cert, b"echo"), Version::V1);
        let (side, err) = drive(&mut client, &mut server).unwrap_err();
        assert_eq!(side, Side::Client);
        assert_eq!(err.code, TransportErrorCode::crypto(alert));
        assert!((0x100..=0x1ff).contains(&err.code.into_inner()));
        assert_eq!(err.code.name(), Some("CRYPTO_ERROR"));
        assert!(client.session.is_handshaking());
    }
}

/// RFC 9001 §8.1: a server that cannot select an application protocol
/// closes with 0x0178 (no_application_protocol).
#[test]
fn alpn_mismatch_is_no_application_protocol() {
    let cert = certificate();
    let mut client = Peer::client(client_config(Some(&cert), b"other"), Version::V1);
    let mut server = Peer::server(server_config(&cert, b"echo"), Version::V1);
    let (side, err) = drive(&mut client, &mut server).unwrap_err();
    assert_eq!(side, Side::Server);
    assert_eq!(err.code, TransportErrorCode::from_u64(0x0178));
}

/// RFC 9001 §8.2: a ClientHello without the quic_transport_parameters
/// extension (here a TLS-over-TCP ClientHello) closes with 0x016d
/// (missing_extension).
#[test]
fn missing_transport_parameters_is_missing_extension() {
    let cert = certificate();
    let mut config = client_config(Some(&cert), b"echo");
    config.resumption = ::rustls::client::Resumption::disabled();
    let mut tcp_client =
        ::rustls::ClientConnection::new(Arc::new(config), "localhost".try_into().unwrap()).unwrap();
    let mut records = Vec::new();
    tcp_client.write_tls(&mut records).unwrap();
    // Strip the 5-byte record header (RFC 8446 §5.1) to get the handshake
    // message QUIC would carry in CRYPTO frames.
    assert_eq!(records[0], 22);
    let client_hello = &records[5..];

    let mut server = Peer::server(server_config(&cert, b"echo"), Version::V1);
    let err = server.session.read_handshake(client_hello).unwrap_err();
    assert_eq!(err.code, TransportErrorCode::from_u64(0x016d));
}

/// RFC 9001 §4.6: after a resumable handshake, a client offering 0-RTT and a
/// server accepting it derive the same 0-RTT keys.
#[test]
fn zero_rtt_keys_match_on_resumption() {
    let cert = certificate();
    let mut client_config = client_config(Some(&cert), b"echo");
    client_config.enable_early_data = true;
    let client_config = Arc::new(client_config);
    let mut server_config = server_config(&cert, b"echo");
    server_config.max_early_data_size = u32::MAX;
    let server_config = Arc::new(server_config);
    let new_pair = || {
        let client = TlsSession::client(
            client_config.clone(),
            Version::V1,
            "localhost",
            CLIENT_PARAMS.to_vec(),
        );
        let server = TlsSession::server(server_config.clone(), Version::V1, SERVER_PARAMS.to_vec());
        (Peer::new(client.unwrap()), Peer::new(server.unwrap()))
    };

    let (mut client, mut server) = new_pair();
    assert!(client.session.early_keys().is_none());
    drive(&mut client, &mut server).unwrap();

    let (mut client, mut server) = new_pair();
    let client_hello = client.flights();
    let client_early = client.session.early_keys().expect("client 0-RTT keys");
    for flight in &client_hello {
        server.session.read_handshake(flight).unwrap();
    }
    let server_early = server.session.early_keys().expect("server 0-RTT keys");
    let opened = seal_and_open(&*client_early.packet, &*server_early.packet);
    assert_eq!(opened.as_deref(), Ok(&b"hello over 1-RTT"[..]));
    let mut packet: Vec<u8> = (0..40).collect();
    packet[0] = 0xd3;
    let original = packet.clone();
    client_early.header.encrypt(1, &mut packet);
    server_early.header.decrypt(1, &mut packet);
    assert_eq!(packet, original);

    drive(&mut client, &mut server).unwrap();
    assert_eq!(client.session.early_data_accepted(), Some(true));
}

/// RFC 9001 §4.6.1: a server's max_early_data_size must be 0 or 2^32-1.
#[test]
fn server_config_checks() {
    let cert = certificate();
    let mut config = server_config(&cert, b"echo");
    assert_eq!(check_server_config(&config), Ok(()));
    config.max_early_data_size = 1000;
    assert!(matches!(
        check_server_config(&config),
        Err(NewSessionError::UnsuitableConfig(_))
    ));
    let session = TlsSession::server(Arc::new(config), Version::V1, Vec::new());
    assert!(matches!(session, Err(NewSessionError::UnsuitableConfig(_))));
}

/// RFC 9001 §5.3: a client config whose cipher suites cannot protect QUIC
/// packets is refused; so are unknown versions and invalid names.
#[test]
fn client_config_checks() {
    let cert = certificate();
    let config = client_config(Some(&cert), b"echo");
    assert_eq!(check_client_config(&config), Ok(()));

    let aes = ::rustls::crypto::ring::cipher_suite::TLS13_AES_128_GCM_SHA256
        .tls13()
        .unwrap();
    let without_quic: &'static ::rustls::Tls13CipherSuite =
        Box::leak(Box::new(::rustls::Tls13CipherSuite {
            common: ::rustls::crypto::CipherSuiteCommon {
                suite: aes.common.suite,
                hash_provider: aes.common.hash_provider,
                confidentiality_limit: aes.common.confidentiality_limit,
            },
            hkdf_provider: aes.hkdf_provider,
            aead_alg: aes.aead_alg,
            quic: None,
        }));
    let provider = ::rustls::crypto::CryptoProvider {
        cipher_suites: vec![without_quic.into()],
        ..::rustls::crypto::ring::default_provider()
    };
    let mut roots = RootCertStore::empty();
    roots.add(cert.cert.clone()).unwrap();
    let no_quic = ClientConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&[&::rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    assert!(matches!(
        check_client_config(&no_quic),
        Err(NewSessionError::UnsuitableConfig(_))
    ));
    let session = TlsSession::client(Arc::new(no_quic), Version::V1, "localhost", Vec::new());
    assert!(matches!(session, Err(NewSessionError::UnsuitableConfig(_))));

    let config = Arc::new(config);
    let reserved = Version(0x0a0a_0a0a);
    assert_eq!(
        TlsSession::client(config.clone(), reserved, "localhost", Vec::new()).err(),
        Some(NewSessionError::UnsupportedVersion(reserved))
    );
    assert_eq!(
        TlsSession::client(config, Version::V1, "not a host name!", Vec::new()).err(),
        Some(NewSessionError::InvalidServerName)
    );
}

#[test]
fn sessions_are_send() {
    fn assert_send<T: Send>() {}
    assert_send::<TlsSession>();
    assert_send::<Box<dyn Session>>();
    assert_send::<Keys>();
}

#[test]
fn session_reports_its_side() {
    let cert = certificate();
    let client = TlsSession::client(
        Arc::new(client_config(Some(&cert), b"echo")),
        Version::V2,
        "localhost",
        Vec::new(),
    )
    .unwrap();
    let server = TlsSession::server(
        Arc::new(server_config(&cert, b"echo")),
        Version::V2,
        Vec::new(),
    )
    .unwrap();
    assert_eq!(client.side(), Side::Client);
    assert_eq!(server.side(), Side::Server);
    assert!(format!("{client:?}").contains("Client"));
}
