//! Keys derived on ring from raw secrets (`ring_keys.rs`), and a client
//! session switching from v1 to v2 mid-handshake ([`Session::set_version`],
//! RFC 9368 §2.3, RFC 9369 §4.1).

use std::sync::{Arc, Mutex};

use ::rustls::crypto::ring::{cipher_suite, default_provider};
use ::rustls::crypto::{CipherSuiteCommon, CryptoProvider};
use ::rustls::{
    ClientConfig, KeyLog, RootCertStore, SupportedCipherSuite, Tls13CipherSuite, version,
};
use bytes::BytesMut;
use proptest::prelude::*;

use super::handshake_tests::{
    Certificate, Peer, assert_keys_pair_up, certificate, drive, seal_and_open, server_config,
};
use super::ring_keys::{Secret, SecretBytes, Suite, labels};
use super::rustls::TlsSession;
use super::vectors::{V1, V2, hex};
use super::*;

/// The suites QUIC uses, as rustls and as `ring_keys` name them.
const SUITES: [(SupportedCipherSuite, Suite); 3] = [
    (
        cipher_suite::TLS13_AES_128_GCM_SHA256,
        Suite::Aes128GcmSha256,
    ),
    (
        cipher_suite::TLS13_AES_256_GCM_SHA384,
        Suite::Aes256GcmSha384,
    ),
    (
        cipher_suite::TLS13_CHACHA20_POLY1305_SHA256,
        Suite::ChaCha20Poly1305Sha256,
    ),
];

/// A key log that records what it is given: the labels it accepts
/// (`None`: all), and every secret logged, in order.
#[derive(Debug, Default)]
struct RecordingKeyLog {
    only: Option<&'static str>,
    logged: Mutex<Vec<(String, Vec<u8>)>>,
}

impl RecordingKeyLog {
    fn labels(&self) -> Vec<String> {
        let logged = self.logged.lock().unwrap();
        logged.iter().map(|(label, _)| label.clone()).collect()
    }

    fn secret(&self, label: &str) -> Vec<u8> {
        let logged = self.logged.lock().unwrap();
        let found = logged.iter().find(|(logged, _)| logged == label);
        found.expect("secret logged").1.clone()
    }
}

impl KeyLog for RecordingKeyLog {
    fn log(&self, label: &str, _client_random: &[u8], secret: &[u8]) {
        assert!(self.will_log(label), "{label} logged against will_log");
        let entry = (label.to_owned(), secret.to_vec());
        self.logged.lock().unwrap().push(entry);
    }

    fn will_log(&self, label: &str) -> bool {
        self.only.is_none_or(|only| only == label)
    }
}

/// A client config that offers only `suite`, trusts `cert` and logs keys to
/// `key_log`.
fn client_config(
    cert: &Certificate,
    suite: SupportedCipherSuite,
    key_log: Arc<dyn KeyLog>,
) -> ClientConfig {
    let provider = CryptoProvider {
        cipher_suites: vec![suite],
        ..default_provider()
    };
    let mut roots = RootCertStore::empty();
    roots.add(cert.cert.clone()).unwrap();
    let mut config = ClientConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&[&version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"echo".to_vec()];
    config.key_log = key_log;
    config
}

fn secret(suite: Suite, bytes: &[u8]) -> Secret {
    Secret::new(suite, SecretBytes::new(bytes).unwrap()).unwrap()
}

/// Seals `payload` behind a short header with packet number 654360564 and
/// applies header protection (RFC 9001 §5.3, §5.4.1).
fn protect(keys: &DirectionalKeys, header: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut packet = [header, payload].concat();
    packet.resize(packet.len() + keys.packet.tag_len(), 0);
    keys.packet.encrypt(654_360_564, &mut packet, header.len());
    keys.header.encrypt(1, &mut packet);
    packet
}

/// RFC 9001 A.5, RFC 9369 A.5: keys derived on ring from the published
/// ChaCha20-Poly1305 secret protect the short header packet byte for byte;
/// the key update secret ("quic ku", "quicv2 ku", RFC 9001 §6.1) gives the
/// same keys as the published `ku` value.
#[test]
fn ring_keys_match_chacha20_appendix_a5() {
    for v in [&V1, &V2] {
        let labels = labels(v.version).unwrap();
        let traffic = secret(Suite::ChaCha20Poly1305Sha256, &hex(v.chacha_secret));
        let keys = traffic.keys(labels).unwrap();
        let header = hex(v.chacha_header);
        let packet = protect(&keys, &header, &hex(v.chacha_plaintext));
        assert_eq!(packet, hex(v.chacha_packet), "{:?}", v.version);

        let mut opened = packet.clone();
        keys.header.decrypt(1, &mut opened);
        assert_eq!(opened[..header.len()], header);
        let mut payload = BytesMut::from(&opened[header.len()..]);
        keys.packet
            .decrypt(v.chacha_pn, &header, &mut payload)
            .unwrap();
        assert_eq!(payload[..], hex(v.chacha_plaintext));

        let updated = traffic.next(labels).unwrap().keys(labels).unwrap();
        let published = secret(Suite::ChaCha20Poly1305Sha256, &hex(v.chacha_ku));
        let published = published.keys(labels).unwrap();
        let packet = protect(&updated, &header, b"after a key update");
        assert_eq!(packet, protect(&published, &header, b"after a key update"));
        assert_ne!(packet, protect(&keys, &header, b"after a key update"));
    }
}

/// Seals with one key and opens with the other, both ways, and the same for
/// header protection: the two are the same key.
fn assert_same_keys(rustls: (&dyn HeaderKey, &dyn PacketKey), ours: &DirectionalKeys) {
    let (header, packet) = rustls;
    let opened = seal_and_open(packet, &*ours.packet);
    assert_eq!(opened.as_deref(), Ok(&b"hello over 1-RTT"[..]));
    let opened = seal_and_open(&*ours.packet, packet);
    assert_eq!(opened.as_deref(), Ok(&b"hello over 1-RTT"[..]));
    for (masking, unmasking) in [(header, &*ours.header), (&*ours.header, header)] {
        let mut bytes: Vec<u8> = (0..48).collect();
        bytes[0] = 0x43;
        let original = bytes.clone();
        masking.encrypt(1, &mut bytes);
        assert_ne!(bytes, original);
        unmasking.decrypt(1, &mut bytes);
        assert_eq!(bytes, original);
    }
    assert_eq!(packet.tag_len(), ours.packet.tag_len());
    assert_eq!(header.sample_size(), ours.header.sample_size());
    let limits = |key: &dyn PacketKey| (key.confidentiality_limit(), key.integrity_limit());
    assert_eq!(limits(packet), limits(&*ours.packet));
}

/// RFC 9001 §5.1, §5.3, §5.4, §6.6: for every suite and both versions, the
/// keys derived on ring from the secrets rustls logs are rustls' own keys
/// (AEAD, header protection, limits) at the Handshake and 1-RTT levels.
#[test]
fn ring_keys_are_rustls_keys_for_the_same_secret() {
    let cert = certificate();
    for (rustls_suite, suite) in SUITES {
        for version in [Version::V1, Version::V2] {
            let key_log = Arc::new(RecordingKeyLog::default());
            let config = client_config(&cert, rustls_suite, key_log.clone());
            let mut client = Peer::client(config, version);
            let mut server = Peer::server(server_config(&cert, b"echo"), version);
            drive(&mut client, &mut server).unwrap();

            let labels = labels(version).unwrap();
            let ours = |label: &str| secret(suite, &key_log.secret(label)).keys(labels).unwrap();
            let handshake = client.handshake_keys.as_ref().unwrap();
            let one_rtt = client.one_rtt_keys.as_ref().unwrap();
            for (keys, local, remote) in [
                (
                    handshake,
                    "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
                    "SERVER_HANDSHAKE_TRAFFIC_SECRET",
                ),
                (
                    one_rtt,
                    "CLIENT_TRAFFIC_SECRET_0",
                    "SERVER_TRAFFIC_SECRET_0",
                ),
            ] {
                let local_keys = (&*keys.header.local, &*keys.packet.local);
                assert_same_keys(local_keys, &ours(local));
                let remote_keys = (&*keys.header.remote, &*keys.packet.remote);
                assert_same_keys(remote_keys, &ours(remote));
            }
        }
    }
}

/// When the client switches: at creation, when the server's first Initial
/// arrives (before its CRYPTO data is read), or after reading the server's
/// handshake data but before writing (the secrets were captured meanwhile).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SwitchPoint {
    AtCreation,
    BeforeServerData,
    AfterServerData,
}

/// A v1 client and a v2 server; the client calls `set_version(V2)` at
/// `switch` (or never) and the handshake runs to its end.
fn v1_client_v2_server(
    cert: &Certificate,
    suite: SupportedCipherSuite,
    switch: Option<SwitchPoint>,
) -> (Peer, Peer) {
    let config = client_config(cert, suite, Arc::new(::rustls::NoKeyLog));
    let mut client = Peer::client(config, Version::V1);
    let mut server = Peer::server(server_config(cert, b"echo"), Version::V2);
    let switch_at = |point: SwitchPoint, client: &mut Peer| {
        if switch == Some(point) {
            assert_eq!(client.session.set_version(Version::V2), Ok(()));
        }
    };
    switch_at(SwitchPoint::AtCreation, &mut client);
    for flight in client.flights() {
        server.session.read_handshake(&flight).unwrap();
    }
    let server_flights = server.flights();
    switch_at(SwitchPoint::BeforeServerData, &mut client);
    for flight in &server_flights {
        client.session.read_handshake(flight).unwrap();
    }
    switch_at(SwitchPoint::AfterServerData, &mut client);
    drive(&mut client, &mut server).unwrap();
    assert!(!client.session.is_handshaking());
    assert!(!server.session.is_handshaking());
    (client, server)
}

/// RFC 9369 §4.1, RFC 9368 §2.3: a client created in v1 that learns the
/// negotiated version v2 uses v2's labels for its Handshake and 1-RTT keys
/// (RFC 9369 §3.3.2), which then pair up with a v2 server's both ways, and
/// key updates ("quicv2 ku", RFC 9001 §6) stay in step.
#[test]
fn client_switches_from_v1_to_v2_mid_handshake() {
    let cert = certificate();
    let points = [
        SwitchPoint::AtCreation,
        SwitchPoint::BeforeServerData,
        SwitchPoint::AfterServerData,
    ];
    for (suite, _) in SUITES {
        for point in points {
            let (mut client, mut server) = v1_client_v2_server(&cert, suite, Some(point));
            let (client_hs, server_hs) = (
                client.handshake_keys.as_ref().unwrap(),
                server.handshake_keys.as_ref().unwrap(),
            );
            assert_keys_pair_up(client_hs, server_hs);
            assert_keys_pair_up(server_hs, client_hs);
            let (client_1rtt, server_1rtt) = (
                client.one_rtt_keys.as_ref().unwrap(),
                server.one_rtt_keys.as_ref().unwrap(),
            );
            assert_keys_pair_up(client_1rtt, server_1rtt);
            assert_keys_pair_up(server_1rtt, client_1rtt);

            let mut previous_server = server.one_rtt_keys.take().unwrap().packet;
            for phase in 1..=3 {
                let client_keys = client.session.next_1rtt_keys().unwrap();
                let server_keys = server.session.next_1rtt_keys().unwrap();
                for (local, remote) in [
                    (&client_keys.local, &server_keys.remote),
                    (&server_keys.local, &client_keys.remote),
                ] {
                    let opened = seal_and_open(&**local, &**remote);
                    assert_eq!(opened.as_deref(), Ok(&b"hello over 1-RTT"[..]), "{phase}");
                }
                let stale = seal_and_open(&*client_keys.local, &*previous_server.remote);
                assert_eq!(stale, Err(CryptoError), "{suite:?} {point:?} {phase}");
                previous_server = server_keys;
            }
        }
    }
}

/// The control: without `set_version`, the same pairing completes the TLS
/// handshake (it is the same in both versions) but no key pairs up, at any
/// level or key phase, so the test above would catch a switch that did
/// nothing.
#[test]
fn without_set_version_v1_client_and_v2_server_do_not_interoperate() {
    let cert = certificate();
    for (suite, _) in SUITES {
        let (mut client, mut server) = v1_client_v2_server(&cert, suite, None);
        let levels = [
            (&client.handshake_keys, &server.handshake_keys),
            (&client.one_rtt_keys, &server.one_rtt_keys),
        ];
        for (client_keys, server_keys) in levels {
            let (client_keys, server_keys) =
                (client_keys.as_ref().unwrap(), server_keys.as_ref().unwrap());
            let opened = seal_and_open(&*client_keys.packet.local, &*server_keys.packet.remote);
            assert_eq!(opened, Err(CryptoError));
            let opened = seal_and_open(&*server_keys.packet.local, &*client_keys.packet.remote);
            assert_eq!(opened, Err(CryptoError));
        }
        let client_next = client.session.next_1rtt_keys().unwrap();
        let server_next = server.session.next_1rtt_keys().unwrap();
        let opened = seal_and_open(&*client_next.local, &*server_next.remote);
        assert_eq!(opened, Err(CryptoError));
    }
}

/// The user's key log (SSLKEYLOGFILE and the like) still receives every
/// secret, in rustls' order, while the session captures its own copies; a
/// key log that wants only some labels gets only those, and the switch
/// still works.
#[test]
fn user_key_log_still_receives_every_secret() {
    let cert = certificate();
    let suite = cipher_suite::TLS13_AES_128_GCM_SHA256;
    for only in [None, Some("EXPORTER_SECRET")] {
        let key_log = Arc::new(RecordingKeyLog {
            only,
            ..RecordingKeyLog::default()
        });
        let mut client = Peer::client(client_config(&cert, suite, key_log.clone()), Version::V1);
        let mut server = Peer::server(server_config(&cert, b"echo"), Version::V2);
        client.session.set_version(Version::V2).unwrap();
        drive(&mut client, &mut server).unwrap();
        let expected: &[&str] = match only {
            None => &[
                "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
                "SERVER_HANDSHAKE_TRAFFIC_SECRET",
                "CLIENT_TRAFFIC_SECRET_0",
                "SERVER_TRAFFIC_SECRET_0",
                "EXPORTER_SECRET",
            ],
            Some(only) => &[only],
        };
        assert_eq!(key_log.labels(), expected);
        let client_1rtt = client.one_rtt_keys.as_ref().unwrap();
        assert_keys_pair_up(client_1rtt, server.one_rtt_keys.as_ref().unwrap());
    }
}

/// `set_version`'s refusals: versions without keys, a server session (made
/// in the negotiated version, RFC 9369 §4.1), a switch after the Handshake
/// keys exist, and a config whose suites `ring_keys` does not know.
/// Setting the current version always succeeds, and a client may switch
/// back before its Handshake keys exist.
#[test]
fn set_version_refusals() {
    let cert = certificate();
    let suite = cipher_suite::TLS13_AES_128_GCM_SHA256;
    let new_client = |suite| {
        let config = client_config(&cert, suite, Arc::new(::rustls::NoKeyLog));
        Peer::client(config, Version::V1)
    };
    let reserved = Version(0x0a0a_0a0a);
    let mut client = new_client(suite);
    assert_eq!(
        client.session.set_version(reserved),
        Err(SetVersionError::UnsupportedVersion(reserved))
    );

    let mut server = Peer::server(server_config(&cert, b"echo"), Version::V2);
    assert_eq!(server.session.set_version(Version::V2), Ok(()));
    assert_eq!(
        server.session.set_version(Version::V1),
        Err(SetVersionError::NotSupported)
    );

    // Switch to v2 and back before any keys: a plain v1 handshake.
    let mut v1_server = Peer::server(server_config(&cert, b"echo"), Version::V1);
    assert_eq!(client.session.set_version(Version::V2), Ok(()));
    assert_eq!(client.session.set_version(Version::V1), Ok(()));
    drive(&mut client, &mut v1_server).unwrap();
    let client_1rtt = client.one_rtt_keys.as_ref().unwrap();
    assert_keys_pair_up(client_1rtt, v1_server.one_rtt_keys.as_ref().unwrap());
    assert_eq!(client.session.set_version(Version::V1), Ok(()));
    assert_eq!(
        client.session.set_version(Version::V2),
        Err(SetVersionError::TooLate)
    );

    // TLS_AES_128_CCM_SHA256's code point on AES-128-GCM's algorithms: a
    // suite rustls accepts for QUIC but `ring_keys` has no keys for.
    let aes = suite.tls13().unwrap();
    let unknown: &'static Tls13CipherSuite = Box::leak(Box::new(Tls13CipherSuite {
        common: CipherSuiteCommon {
            suite: ::rustls::CipherSuite::TLS13_AES_128_CCM_SHA256,
            ..aes.common
        },
        ..*aes
    }));
    let mut client = new_client(unknown.into());
    assert_eq!(
        client.session.set_version(Version::V2),
        Err(SetVersionError::NotSupported)
    );
    assert_eq!(client.session.set_version(Version::V1), Ok(()));
}

/// The session reports the version its keys use.
#[test]
fn tls_session_reports_its_key_version() {
    let cert = certificate();
    let config = client_config(
        &cert,
        cipher_suite::TLS13_AES_128_GCM_SHA256,
        Arc::new(::rustls::NoKeyLog),
    );
    let mut client =
        TlsSession::client(Arc::new(config), Version::V1, "localhost", Vec::new()).unwrap();
    assert_eq!(client.version(), Version::V1);
    client.set_version(Version::V2).unwrap();
    assert_eq!(client.version(), Version::V2);
}

/// RFC 9369 §4.1: "The client MUST NOT send 0-RTT packets using the
/// negotiated version": after a switch, the client's 0-RTT keys are still
/// those of its original version, which a server of that version shares.
#[test]
fn early_keys_keep_the_original_version() {
    let cert = certificate();
    let mut config = client_config(
        &cert,
        cipher_suite::TLS13_AES_128_GCM_SHA256,
        Arc::new(::rustls::NoKeyLog),
    );
    config.enable_early_data = true;
    let config = Arc::new(config);
    let mut server_config = server_config(&cert, b"echo");
    server_config.max_early_data_size = u32::MAX;
    let server_config = Arc::new(server_config);
    let new_pair = || {
        let client = TlsSession::client(config.clone(), Version::V1, "localhost", Vec::new());
        let server = TlsSession::server(server_config.clone(), Version::V1, Vec::new());
        (Peer::new(client.unwrap()), Peer::new(server.unwrap()))
    };
    let (mut client, mut server) = new_pair();
    drive(&mut client, &mut server).unwrap();

    let (mut client, mut server) = new_pair();
    let client_hello = client.flights();
    client.session.set_version(Version::V2).unwrap();
    let client_early = client.session.early_keys().expect("client 0-RTT keys");
    for flight in &client_hello {
        server.session.read_handshake(flight).unwrap();
    }
    let server_early = server.session.early_keys().expect("server 0-RTT keys");
    let opened = seal_and_open(&*client_early.packet, &*server_early.packet);
    assert_eq!(opened.as_deref(), Ok(&b"hello over 1-RTT"[..]));
}

proptest! {
    /// Arbitrary bytes never make ring's header removal or packet opening
    /// panic, whatever the suite.
    #[test]
    fn ring_keys_never_panic_on_arbitrary_input(
        suite in 0usize..3,
        packet in proptest::collection::vec(any::<u8>(), 0..200),
        pn_offset in 0usize..220,
        header_len in 0usize..200,
        packet_number in any::<u64>(),
    ) {
        let (_, suite) = SUITES[suite];
        let len = if suite == Suite::Aes256GcmSha384 { 48 } else { 32 };
        let keys = secret(suite, &vec![0x42; len]).keys(labels(Version::V2).unwrap()).unwrap();
        let mut unmasked = packet.clone();
        keys.header.decrypt(pn_offset, &mut unmasked);
        let split = header_len.min(packet.len());
        let (header, payload) = packet.split_at(split);
        let mut payload = BytesMut::from(payload);
        prop_assert!(keys.packet.decrypt(packet_number, header, &mut payload).is_err());
    }

    /// Whatever ring's keys seal opens back, whatever the suite, and fails
    /// under any other packet number.
    #[test]
    fn ring_keys_seal_open_round_trip(
        suite in 0usize..3,
        header in proptest::collection::vec(any::<u8>(), 1..40),
        payload in proptest::collection::vec(any::<u8>(), 0..300),
        packet_number in 0u64..(1 << 62),
    ) {
        let (_, suite) = SUITES[suite];
        let len = if suite == Suite::Aes256GcmSha384 { 48 } else { 32 };
        let keys = secret(suite, &vec![0x17; len]).keys(labels(Version::V1).unwrap()).unwrap();
        let mut buf = [&header[..], &payload[..]].concat();
        buf.resize(buf.len() + keys.packet.tag_len(), 0);
        keys.packet.encrypt(packet_number, &mut buf, header.len());
        let mut sealed = BytesMut::from(&buf[header.len()..]);
        let mut wrong = sealed.clone();
        keys.packet.decrypt(packet_number, &header, &mut sealed).unwrap();
        prop_assert_eq!(&sealed[..], &payload[..]);
        prop_assert!(keys.packet.decrypt(packet_number ^ 1, &header, &mut wrong).is_err());
    }
}

/// Secrets of the wrong length for their suite, or longer than any hash,
/// are refused rather than expanded.
#[test]
fn secrets_must_match_their_suite() {
    assert!(SecretBytes::new(&[0; 49]).is_none());
    for (suite, len) in [
        (Suite::Aes128GcmSha256, 32),
        (Suite::ChaCha20Poly1305Sha256, 32),
        (Suite::Aes256GcmSha384, 48),
    ] {
        let wrong = if len == 32 { 48 } else { 32 };
        assert!(Secret::new(suite, SecretBytes::new(&vec![1; len]).unwrap()).is_some());
        assert!(Secret::new(suite, SecretBytes::new(&vec![1; wrong]).unwrap()).is_none());
    }
}
