//! Packet protection against the RFC vectors (RFC 9001 Appendix A, RFC 9369
//! Appendix A), Retry integrity, and failure cases.

use bytes::BytesMut;
use proptest::prelude::*;

use super::rustls::raw_secret::{chacha20_keys, expand_label_sha256};
use super::vectors::{V1, V2, Vectors, hex};
use super::*;
use crate::cid::ConnectionId;
use crate::shared::Side;

fn client_dst_cid(v: &Vectors) -> ConnectionId {
    ConnectionId::new(&hex(v.client_dst_cid)).unwrap()
}

fn keys(v: &Vectors, side: Side) -> Keys {
    initial_keys(v.version, &client_dst_cid(v), side).unwrap()
}

/// The labels' common prefix: "quic " in v1, "quicv2 " in v2
/// (RFC 9369 §3.3.2).
fn label(v: &Vectors, name: &str) -> Vec<u8> {
    let prefix = if v.version == Version::V2 {
        "quicv2 "
    } else {
        "quic "
    };
    format!("{prefix}{name}").into_bytes()
}

fn expand(secret: &[u8], label: &[u8], len: usize) -> Vec<u8> {
    let mut out = vec![0; len];
    expand_label_sha256(secret, label, &mut out);
    out
}

/// Seals `payload` behind `header` and applies header protection, as a
/// sender does (RFC 9001 §5.3, §5.4.1).
fn protect(
    header_key: &dyn HeaderKey,
    packet_key: &dyn PacketKey,
    header: &[u8],
    pn_offset: usize,
    packet_number: u64,
    payload: &[u8],
) -> Vec<u8> {
    let mut packet = [header, payload].concat();
    packet.resize(packet.len() + packet_key.tag_len(), 0);
    packet_key.encrypt(packet_number, &mut packet, header.len());
    header_key.encrypt(pn_offset, &mut packet);
    packet
}

/// Removes header protection and opens the payload, as a receiver does
/// (RFC 9001 §5.4.1, §5.3); returns the header and the plaintext.
fn unprotect(
    header_key: &dyn HeaderKey,
    packet_key: &dyn PacketKey,
    packet: &[u8],
    pn_offset: usize,
    header_len: usize,
    packet_number: u64,
) -> Result<(Vec<u8>, Vec<u8>), CryptoError> {
    let mut packet = packet.to_vec();
    header_key.decrypt(pn_offset, &mut packet);
    let (header, payload) = packet.split_at(header_len);
    let mut payload = BytesMut::from(payload);
    packet_key.decrypt(packet_number, header, &mut payload)?;
    Ok((header.to_vec(), payload.to_vec()))
}

/// The mask a header key derives from `sample`, as far as it shows: the low
/// 4 (long header) or 5 (short header) bits of the first byte, then 4 bytes
/// for a 4-byte packet number (RFC 9001 §5.4.1).
fn observed_mask(header_key: &dyn HeaderKey, first: u8, sample: &[u8]) -> Vec<u8> {
    let mut packet = vec![first, 0, 0, 0, 0];
    packet.extend_from_slice(sample);
    header_key.encrypt(1, &mut packet);
    let mut mask = vec![packet[0] ^ first];
    mask.extend_from_slice(&packet[1..5]);
    mask
}

fn expected_mask(rfc_mask: &str, first_bits: u8) -> Vec<u8> {
    let mut mask = hex(rfc_mask);
    mask[0] &= first_bits;
    mask
}

/// RFC 9001 A.1, RFC 9369 A.1: the Initial secrets and the keys expanded
/// from them. rustls keeps its keys opaque, so this checks the derivation
/// spelled out with HMAC (HKDF-Extract) and HKDF-Expand-Label; the packet
/// tests below check rustls' keys through what they produce.
#[test]
fn initial_secrets_match_appendix_a1() {
    for v in [&V1, &V2] {
        let salt = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &hex(v.initial_salt));
        let initial_secret = ring::hmac::sign(&salt, &hex(v.client_dst_cid));
        assert_eq!(initial_secret.as_ref(), hex(v.initial_secret));
        let client = expand(initial_secret.as_ref(), b"client in", 32);
        let server = expand(initial_secret.as_ref(), b"server in", 32);
        assert_eq!(client, hex(v.client_initial_secret));
        assert_eq!(server, hex(v.server_initial_secret));
        for (secret, key, iv, hp) in [
            (&client, v.client_key, v.client_iv, v.client_hp),
            (&server, v.server_key, v.server_iv, v.server_hp),
        ] {
            assert_eq!(expand(secret, &label(v, "key"), 16), hex(key));
            assert_eq!(expand(secret, &label(v, "iv"), 12), hex(iv));
            assert_eq!(expand(secret, &label(v, "hp"), 16), hex(hp));
        }
    }
}

/// RFC 9001 A.2, RFC 9369 A.2: the client Initial, protected byte for byte,
/// then opened by the server.
#[test]
fn client_initial_matches_appendix_a2() {
    for v in [&V1, &V2] {
        let header = hex(v.client_header);
        let mut payload = hex(v.client_crypto_frame);
        payload.resize(1162, 0); // PADDING frames
        let pn_offset = header.len() - 4;
        let client = keys(v, Side::Client);
        let packet = protect(
            &*client.header.local,
            &*client.packet.local,
            &header,
            pn_offset,
            2,
            &payload,
        );
        assert_eq!(packet.len(), 1200);
        assert_eq!(packet[header.len()..][..16], hex(v.client_sample));
        assert_eq!(packet[..header.len()], hex(v.client_protected_header));
        assert_eq!(packet, hex(v.client_packet), "{:?}", v.version);

        let server = keys(v, Side::Server);
        let opened = unprotect(
            &*server.header.remote,
            &*server.packet.remote,
            &hex(v.client_packet),
            pn_offset,
            header.len(),
            2,
        );
        assert_eq!(opened, Ok((header, payload)));
    }
}

/// RFC 9001 A.3, RFC 9369 A.3: the server Initial, with a 2-byte packet
/// number, protected byte for byte, then opened by the client.
#[test]
fn server_initial_matches_appendix_a3() {
    for v in [&V1, &V2] {
        let header = hex(v.server_header);
        let payload = hex(v.server_payload);
        let pn_offset = header.len() - 2;
        let server = keys(v, Side::Server);
        let packet = protect(
            &*server.header.local,
            &*server.packet.local,
            &header,
            pn_offset,
            1,
            &payload,
        );
        assert_eq!(packet[pn_offset + 4..][..16], hex(v.server_sample));
        assert_eq!(packet[..header.len()], hex(v.server_protected_header));
        assert_eq!(packet, hex(v.server_packet), "{:?}", v.version);

        let client = keys(v, Side::Client);
        let opened = unprotect(
            &*client.header.remote,
            &*client.packet.remote,
            &hex(v.server_packet),
            pn_offset,
            header.len(),
            1,
        );
        assert_eq!(opened, Ok((header, payload)));
    }
}

/// RFC 9001 §5.4.1, §5.4.3: the masks of A.2 and A.3 (AES) from their
/// samples, through the Initial header keys; long headers mask 4 bits of
/// the first byte.
#[test]
fn aes_header_protection_masks_match_rfc() {
    for v in [&V1, &V2] {
        let client = keys(v, Side::Client);
        let server = keys(v, Side::Server);
        for (key, sample, mask) in [
            (&client.header.local, v.client_sample, v.client_mask),
            (&server.header.remote, v.client_sample, v.client_mask),
            (&server.header.local, v.server_sample, v.server_mask),
            (&client.header.remote, v.server_sample, v.server_mask),
        ] {
            assert_eq!(key.sample_size(), 16);
            assert_eq!(
                observed_mask(&**key, 0xc3, &hex(sample)),
                expected_mask(mask, 0x0f)
            );
        }
    }
}

/// RFC 9001 A.5, RFC 9369 A.5: keys from a traffic secret, with HKDF labels
/// per version (RFC 9369 §3.3.2), including the key update secret.
#[test]
fn chacha20_key_derivation_matches_appendix_a5() {
    for v in [&V1, &V2] {
        let secret = hex(v.chacha_secret);
        assert_eq!(expand(&secret, &label(v, "key"), 32), hex(v.chacha_key));
        assert_eq!(expand(&secret, &label(v, "iv"), 12), hex(v.chacha_iv));
        assert_eq!(expand(&secret, &label(v, "hp"), 32), hex(v.chacha_hp));
        assert_eq!(expand(&secret, &label(v, "ku"), 32), hex(v.chacha_ku));
    }
}

/// RFC 9001 A.5, RFC 9369 A.5: a short header packet under
/// ChaCha20-Poly1305, protected byte for byte and opened back; the mask
/// covers 5 bits of a short header's first byte (RFC 9001 §5.4.4).
#[test]
fn chacha20_short_header_matches_appendix_a5() {
    for v in [&V1, &V2] {
        let keys = chacha20_keys(v.version, &hex(v.chacha_secret));
        let header = hex(v.chacha_header);
        let payload = hex(v.chacha_plaintext);
        let packet = protect(
            &*keys.header,
            &*keys.packet,
            &header,
            1,
            v.chacha_pn,
            &payload,
        );
        assert_eq!(packet[header.len()..], hex(v.chacha_ciphertext));
        assert_eq!(packet[5..], hex(v.chacha_sample));
        assert_eq!(packet[..4], hex(v.chacha_protected_header));
        assert_eq!(packet, hex(v.chacha_packet), "{:?}", v.version);
        assert_eq!(
            observed_mask(&*keys.header, 0x43, &hex(v.chacha_sample)),
            expected_mask(v.chacha_mask, 0x1f)
        );

        let opened = unprotect(
            &*keys.header,
            &*keys.packet,
            &hex(v.chacha_packet),
            1,
            header.len(),
            v.chacha_pn,
        );
        assert_eq!(opened, Ok((header, payload)));
    }
}

/// RFC 9001 §6.6: AEAD_AES_128_GCM may seal 2^23 packets and fail to open
/// 2^52; AEAD_CHACHA20_POLY1305 may fail to open 2^36.
#[test]
fn aead_usage_limits() {
    let keys = keys(&V1, Side::Client);
    assert_eq!(keys.packet.local.confidentiality_limit(), 1 << 23);
    assert_eq!(keys.packet.local.integrity_limit(), 1 << 52);
    assert_eq!(keys.packet.local.tag_len(), 16);
    let chacha = chacha20_keys(Version::V1, &hex(V1.chacha_secret));
    assert_eq!(chacha.packet.integrity_limit(), 1 << 36);
    assert_eq!(chacha.header.sample_size(), 16);
}

/// RFC 9001 §5.8, RFC 9369 §3.3.3: the Retry key and nonce are expanded from
/// the published secret.
#[test]
fn retry_key_and_nonce_derive_from_secret() {
    for v in [&V1, &V2] {
        let secret = hex(v.retry_secret);
        assert_eq!(expand(&secret, &label(v, "key"), 16), hex(v.retry_key));
        assert_eq!(expand(&secret, &label(v, "iv"), 12), hex(v.retry_nonce));
    }
}

/// RFC 9001 A.4, RFC 9369 A.4: the Retry Integrity Tag of the RFC's Retry
/// packet, and validation of that packet (RFC 9001 §5.8).
#[test]
fn retry_tag_matches_appendix_a4() {
    for v in [&V1, &V2] {
        let odcid = client_dst_cid(v);
        let retry = hex(v.retry_packet);
        let (body, tag) = retry.split_at(retry.len() - RETRY_INTEGRITY_TAG_LEN);
        assert_eq!(retry_integrity_tag(v.version, &odcid, body).unwrap(), tag);
        assert!(is_valid_retry(v.version, &odcid, &retry));
    }
}

/// RFC 9001 §5.8: any change to the packet, the original Destination
/// Connection ID or the version invalidates the tag.
#[test]
fn retry_rejects_modified_packets() {
    for v in [&V1, &V2] {
        let odcid = client_dst_cid(v);
        let retry = hex(v.retry_packet);
        for bit in 0..retry.len() * 8 {
            let mut flipped = retry.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            assert!(!is_valid_retry(v.version, &odcid, &flipped), "bit {bit}");
        }
        let other_cid = ConnectionId::new(&[0x83, 0x94, 0xc8, 0xf0]).unwrap();
        assert!(!is_valid_retry(v.version, &other_cid, &retry));
        let other_version = if v.version == Version::V1 {
            Version::V2
        } else {
            Version::V1
        };
        assert!(!is_valid_retry(other_version, &odcid, &retry));
        assert!(!is_valid_retry(
            v.version,
            &odcid,
            &retry[..retry.len() - 1]
        ));
        assert!(!is_valid_retry(v.version, &odcid, &retry[..15]));
        assert!(!is_valid_retry(v.version, &odcid, &[]));
    }
}

#[test]
fn unsupported_versions_have_no_keys() {
    let cid = client_dst_cid(&V1);
    let reserved = Version(0x1a2a_3a4a);
    assert_eq!(
        initial_keys(reserved, &cid, Side::Client).err(),
        Some(UnsupportedVersion(reserved))
    );
    assert_eq!(
        retry_integrity_tag(reserved, &cid, b"\xf0"),
        Err(UnsupportedVersion(reserved))
    );
    assert!(!is_valid_retry(reserved, &cid, &hex(V1.retry_packet)));
}

/// RFC 9369 §3.3: v1 and v2 Initial keys differ, so a v1 packet does not open
/// under v2 keys.
#[test]
fn v2_initial_keys_differ_from_v1() {
    let v2 = keys(&V2, Side::Server);
    let header_len = hex(V1.client_header).len();
    let packet = hex(V1.client_packet);
    let mut payload = BytesMut::from(&packet[header_len..]);
    let v1_header = hex(V1.client_header);
    assert_eq!(
        v2.packet.remote.decrypt(2, &v1_header, &mut payload),
        Err(CryptoError)
    );
}

/// RFC 9001 §5.5: tampered packets fail to open, whichever byte changed.
#[test]
fn tampered_packets_fail_to_open() {
    let server = keys(&V1, Side::Server);
    let header = hex(V1.client_header);
    let packet = hex(V1.client_packet);
    let (key, hp) = (&*server.packet.remote, &*server.header.remote);
    let pn_offset = header.len() - 4;
    for index in [header.len(), header.len() + 500, packet.len() - 1, 0, 5] {
        let mut tampered = packet.clone();
        tampered[index] ^= 0x01;
        let opened = unprotect(hp, key, &tampered, pn_offset, header.len(), 2);
        assert_eq!(opened, Err(CryptoError), "byte {index}");
    }
    // The right bytes under the wrong packet number.
    let opened = unprotect(hp, key, &packet, pn_offset, header.len(), 3);
    assert_eq!(opened, Err(CryptoError));
}

/// A payload shorter than the tag fails to open and is left as it was.
#[test]
fn short_payloads_fail_to_open() {
    let keys = keys(&V1, Side::Server);
    for len in [0, 1, 15] {
        let mut payload = BytesMut::from(&vec![0xab; len][..]);
        assert_eq!(
            keys.packet.remote.decrypt(0, b"header", &mut payload),
            Err(CryptoError)
        );
        assert_eq!(payload.len(), len);
    }
}

/// RFC 9001 §5.4.2: a packet too short to sample is left unchanged rather
/// than read out of bounds.
#[test]
fn header_protection_ignores_packets_too_short_to_sample() {
    let keys = keys(&V1, Side::Server);
    let original = hex(V1.client_header);
    for len in [0, 1, original.len(), original.len() + 15] {
        let mut packet = original.clone();
        packet.resize(len, 0x55);
        let before = packet.clone();
        keys.header.remote.decrypt(original.len() - 4, &mut packet);
        assert_eq!(packet, before);
    }
    let mut packet = vec![0xc3; 40];
    keys.header.remote.decrypt(usize::MAX - 2, &mut packet);
    keys.header.remote.decrypt(0, &mut packet);
    assert_eq!(packet, vec![0xc3; 40]);
}

/// Header protection is its own inverse once the packet number length is
/// read from the right (masked or unmasked) first byte (RFC 9001 §5.4.1).
#[test]
fn header_protection_round_trips_every_packet_number_length() {
    let keys = keys(&V2, Side::Client);
    for first in [0xc0u8, 0xc1, 0xc2, 0xc3, 0x40, 0x41, 0x42, 0x43] {
        let mut packet: Vec<u8> = (0..64).collect();
        packet[0] = first;
        let original = packet.clone();
        keys.header.local.encrypt(10, &mut packet);
        let pn_len = usize::from(first & 0x03) + 1;
        assert_eq!(packet[10 + pn_len..], original[10 + pn_len..]);
        keys.header.local.decrypt(10, &mut packet);
        assert_eq!(packet, original);
    }
}

proptest! {
    /// Arbitrary bytes never make header removal, packet opening or Retry
    /// validation panic.
    #[test]
    fn arbitrary_input_never_panics(
        packet in proptest::collection::vec(any::<u8>(), 0..200),
        pn_offset in 0usize..220,
        header_len in 0usize..200,
        packet_number in any::<u64>(),
    ) {
        let keys = keys(&V1, Side::Server);
        let mut unmasked = packet.clone();
        keys.header.remote.decrypt(pn_offset, &mut unmasked);
        let split = header_len.min(packet.len());
        let (header, payload) = packet.split_at(split);
        let mut payload = BytesMut::from(payload);
        prop_assert!(keys.packet.remote.decrypt(packet_number, header, &mut payload).is_err());
        prop_assert!(!is_valid_retry(Version::V1, &client_dst_cid(&V1), &packet));
    }

    /// Whatever is sealed opens back under the peer's key.
    #[test]
    fn seal_open_round_trip(
        header in proptest::collection::vec(any::<u8>(), 1..40),
        payload in proptest::collection::vec(any::<u8>(), 0..300),
        packet_number in 0u64..(1 << 62),
    ) {
        let client = keys(&V2, Side::Client);
        let server = keys(&V2, Side::Server);
        let mut buf = [&header[..], &payload[..]].concat();
        buf.resize(buf.len() + 16, 0);
        client.packet.local.encrypt(packet_number, &mut buf, header.len());
        let mut sealed = BytesMut::from(&buf[header.len()..]);
        server.packet.remote.decrypt(packet_number, &header, &mut sealed).unwrap();
        prop_assert_eq!(&sealed[..], &payload[..]);
    }
}
