//! Tests for the packet codec. RFC examples name their section; the mock
//! keys below stand in for the real ones (the RFC 9001 byte vectors with real
//! header protection are checked where the real keys live).

use crate::crypto::vectors::hex;
use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

use super::*;
use crate::cid::ConnectionId;
use crate::crypto::{CryptoError, HeaderKey, PacketKey};
use crate::shared::SpaceId;
use crate::version::Version;

// ---------------------------------------------------------------------------
// Mock keys and helpers

const TAG_LEN: usize = 16;
const SAMPLE_LEN: usize = 16;

/// Header protection with a mask derived from the sample (so that taking the
/// sample from the wrong place breaks the round trip), applied as RFC 9001
/// §5.4.1 applies the real mask.
struct XorHeaderKey;

impl XorHeaderKey {
    fn mask(pn_offset: usize, packet: &[u8]) -> [u8; 5] {
        let sample = &packet[pn_offset + 4..pn_offset + 4 + SAMPLE_LEN];
        let mut mask = [0u8; 5];
        for (i, byte) in mask.iter_mut().enumerate() {
            *byte = sample[i] ^ sample[SAMPLE_LEN - 1 - i] ^ 0x6d;
        }
        mask
    }

    fn first_byte_bits(first: u8) -> u8 {
        if first & 0x80 != 0 { 0x0f } else { 0x1f }
    }
}

impl HeaderKey for XorHeaderKey {
    fn decrypt(&self, pn_offset: usize, packet: &mut [u8]) {
        let mask = Self::mask(pn_offset, packet);
        packet[0] ^= mask[0] & Self::first_byte_bits(packet[0]);
        let pn_len = usize::from(packet[0] & 0x03) + 1;
        for i in 0..pn_len {
            packet[pn_offset + i] ^= mask[1 + i];
        }
    }

    fn encrypt(&self, pn_offset: usize, packet: &mut [u8]) {
        let mask = Self::mask(pn_offset, packet);
        let pn_len = usize::from(packet[0] & 0x03) + 1;
        packet[0] ^= mask[0] & Self::first_byte_bits(packet[0]);
        for i in 0..pn_len {
            packet[pn_offset + i] ^= mask[1 + i];
        }
    }

    fn sample_size(&self) -> usize {
        SAMPLE_LEN
    }
}

/// Header "protection" that changes nothing: decodes unprotected RFC
/// examples.
struct NoHeaderProtection;

impl HeaderKey for NoHeaderProtection {
    fn decrypt(&self, _: usize, _: &mut [u8]) {}
    fn encrypt(&self, _: usize, _: &mut [u8]) {}
    fn sample_size(&self) -> usize {
        SAMPLE_LEN
    }
}

/// A toy AEAD: XORs the payload and appends a checksum of header, payload and
/// packet number as the tag.
struct XorPacketKey;

fn checksum(packet_number: u64, header: &[u8], plaintext: &[u8]) -> [u8; TAG_LEN] {
    let mut tag = [packet_number as u8; TAG_LEN];
    for (i, byte) in header.iter().chain(plaintext).enumerate() {
        tag[i % TAG_LEN] = tag[i % TAG_LEN].rotate_left(3).wrapping_add(*byte);
    }
    tag
}

impl PacketKey for XorPacketKey {
    fn encrypt(&self, packet_number: u64, buf: &mut [u8], header_len: usize) {
        let (header, rest) = buf.split_at_mut(header_len);
        let plain_len = rest.len() - TAG_LEN;
        let tag = checksum(packet_number, header, &rest[..plain_len]);
        for byte in &mut rest[..plain_len] {
            *byte ^= 0x5c ^ packet_number as u8;
        }
        rest[plain_len..].copy_from_slice(&tag);
    }

    fn decrypt(
        &self,
        packet_number: u64,
        header: &[u8],
        payload: &mut BytesMut,
    ) -> Result<(), CryptoError> {
        let plain_len = payload.len().checked_sub(TAG_LEN).ok_or(CryptoError)?;
        for byte in &mut payload[..plain_len] {
            *byte ^= 0x5c ^ packet_number as u8;
        }
        if checksum(packet_number, header, &payload[..plain_len]) != payload[plain_len..] {
            return Err(CryptoError);
        }
        payload.truncate(plain_len);
        Ok(())
    }

    fn tag_len(&self) -> usize {
        TAG_LEN
    }

    fn confidentiality_limit(&self) -> u64 {
        u64::MAX
    }

    fn integrity_limit(&self) -> u64 {
        u64::MAX
    }
}

fn cid(bytes: &[u8]) -> ConnectionId {
    ConnectionId::new(bytes).unwrap()
}

/// Appends a complete protected packet: header, `plaintext` padded to the
/// sample minimum, tag.
fn push_packet(datagram: &mut Vec<u8>, partial: PartialEncode, plaintext: &[u8]) {
    let start = datagram.len() - partial.header_len();
    datagram.extend_from_slice(plaintext);
    let padding = partial
        .min_payload_len(TAG_LEN, SAMPLE_LEN)
        .saturating_sub(plaintext.len());
    datagram.resize(datagram.len() + padding + TAG_LEN, 0);
    let number = u64::from(partial.number().truncated());
    partial
        .finish(&mut datagram[start..], number, &XorPacketKey, &XorHeaderKey)
        .unwrap();
}

fn long_packet(header: &LongHeader, plaintext: &[u8]) -> Vec<u8> {
    let mut datagram = Vec::new();
    let partial = header.encode(&mut datagram).unwrap();
    assert_eq!(datagram.len(), header.encoded_len());
    push_packet(&mut datagram, partial, plaintext);
    datagram
}

fn short_packet(header: &ShortHeader, plaintext: &[u8]) -> Vec<u8> {
    let mut datagram = Vec::new();
    let partial = header.encode(&mut datagram);
    assert_eq!(datagram.len(), header.encoded_len());
    push_packet(&mut datagram, partial, plaintext);
    datagram
}

/// Decodes every packet of a datagram with the mock header key.
fn decode_all(
    datagram: &[u8],
    local_cid_len: usize,
    accept_zero_fixed_bit: bool,
) -> Vec<Result<Packet, PacketDecodeError>> {
    let mut results = Vec::new();
    let mut next = Some(BytesMut::from(datagram));
    while let Some(data) = next.take() {
        match PartialDecode::new(data, local_cid_len, accept_zero_fixed_bit) {
            Ok((partial, rest)) => {
                results.push(partial.finish(Some(&XorHeaderKey)));
                next = rest;
            }
            Err(error) => results.push(Err(error)),
        }
    }
    results
}

fn decode_one(datagram: &[u8], local_cid_len: usize) -> Result<Packet, PacketDecodeError> {
    let (partial, rest) = PartialDecode::new(BytesMut::from(datagram), local_cid_len, false)?;
    assert!(rest.is_none());
    partial.finish(Some(&XorHeaderKey))
}

/// Opens the payload with the mock AEAD.
fn open(packet: &mut Packet) -> Vec<u8> {
    let number = u64::from(packet.header.number().unwrap().truncated());
    XorPacketKey
        .decrypt(number, &packet.header_data, &mut packet.payload)
        .unwrap();
    packet.payload.to_vec()
}

fn initial(version: Version, token: &[u8], number: PacketNumber) -> LongHeader {
    LongHeader::new(
        LongKind::Initial {
            token: Bytes::copy_from_slice(token),
        },
        version,
        cid(&[0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08]),
        cid(&[1, 2, 3]),
        number,
    )
}

// ---------------------------------------------------------------------------
// RFC examples (header bytes; the protected forms need the real keys)

/// RFC 9001 App. A.2 (v1) and RFC 9369 App. A.2 (v2): the client Initial's
/// unprotected header, with a 2-byte Length of 1182 and a 4-byte packet
/// number 2.
#[test]
fn rfc_client_initial_headers() {
    let cases = [
        (Version::V1, "c300000001088394c8f03e5157080000449e00000002"),
        (Version::V2, "d36b3343cf088394c8f03e5157080000449e00000002"),
    ];
    for (version, expected) in cases {
        let header = LongHeader::new(
            LongKind::Initial {
                token: Bytes::new(),
            },
            version,
            cid(&hex("8394c8f03e515708")),
            ConnectionId::EMPTY,
            PacketNumber::from_truncated(2, 4).unwrap(),
        );
        let mut packet = Vec::new();
        let partial = header.encode(&mut packet).unwrap();
        assert_eq!(partial.header_len(), 22);
        assert_eq!(partial.pn_offset(), 18);
        packet.resize(1200, 0); // 18 + 1182
        partial.set_length(&mut packet).unwrap();
        assert_eq!(packet[..22], hex(expected)[..], "{version:?}");

        // And back, through a header key that changes nothing.
        let (partial, rest) = PartialDecode::new(BytesMut::from(&packet[..]), 0, false).unwrap();
        assert!(rest.is_none());
        assert!(partial.is_initial());
        assert_eq!(partial.token(), Some(&[][..]));
        let decoded = partial.finish(Some(&NoHeaderProtection)).unwrap();
        assert_eq!(decoded.header, Header::Long(header));
        assert_eq!(decoded.header_data[..], hex(expected)[..]);
        assert_eq!(decoded.payload.len(), 1178);
    }
}

/// RFC 9001 App. A.3 (v1) and RFC 9369 App. A.3 (v2): the server Initial's
/// unprotected header, with a 2-byte packet number 1 and Length 117.
#[test]
fn rfc_server_initial_headers() {
    let cases = [
        (Version::V1, "c1000000010008f067a5502a4262b50040750001"),
        (Version::V2, "d16b3343cf0008f067a5502a4262b50040750001"),
    ];
    for (version, expected) in cases {
        let header = LongHeader::new(
            LongKind::Initial {
                token: Bytes::new(),
            },
            version,
            ConnectionId::EMPTY,
            cid(&hex("f067a5502a4262b5")),
            PacketNumber::from_truncated(1, 2).unwrap(),
        );
        let mut packet = Vec::new();
        let partial = header.encode(&mut packet).unwrap();
        packet.resize(partial.pn_offset() + 117, 0);
        partial.set_length(&mut packet).unwrap();
        assert_eq!(packet[..20], hex(expected)[..], "{version:?}");
    }
}

/// RFC 9001 App. A.4 (v1) and RFC 9369 App. A.4 (v2): a Retry packet; the
/// token is "token" and the last 16 bytes are the integrity tag.
#[test]
fn rfc_retry_packets() {
    let cases = [
        (
            Version::V1,
            "ff000000010008f067a5502a4262b5746f6b656e04a265ba2eff4d829058fb3f0f2496ba",
            "04a265ba2eff4d829058fb3f0f2496ba",
        ),
        (
            Version::V2,
            "cf6b3343cf0008f067a5502a4262b5746f6b656ec8646ce8bfe33952d955543665dcc7b6",
            "c8646ce8bfe33952d955543665dcc7b6",
        ),
    ];
    for (version, packet, tag) in cases {
        let packet = hex(packet);
        let (partial, rest) = PartialDecode::new(BytesMut::from(&packet[..]), 0, false).unwrap();
        assert!(rest.is_none());
        assert_eq!(partial.long_type(), Some(LongType::Retry));
        assert_eq!(partial.space(), None);
        assert!(!partial.is_protected());
        assert_eq!(partial.token(), Some(&b"token"[..]));
        let decoded = partial.finish(None).unwrap();
        let expected = RetryHeader {
            version,
            dst_cid: ConnectionId::EMPTY,
            src_cid: cid(&hex("f067a5502a4262b5")),
            token: Bytes::from_static(b"token"),
            unused: 0x0f,
            fixed_bit: true,
        };
        assert_eq!(decoded.header, Header::Retry(expected.clone()));
        assert_eq!(decoded.header_data[..], packet[..packet.len() - 16]);
        assert_eq!(
            decoded.retry_integrity_tag(),
            Some(hex(tag)[..].try_into().unwrap())
        );

        let mut encoded = Vec::new();
        expected.encode(&mut encoded).unwrap();
        assert_eq!(encoded.len(), expected.encoded_len());
        assert_eq!(encoded, decoded.header_data);
    }
}

/// RFC 9001 App. A.5 (and RFC 9369 App. A.5, same header): a short header
/// with an empty connection ID and packet number 654360564 in 3 bytes.
#[test]
fn rfc_short_header() {
    let header = ShortHeader::new(
        false,
        false,
        ConnectionId::EMPTY,
        PacketNumber::new(654_360_564, Some(654_360_000)),
    );
    // The RFC chose 3 bytes to avoid padding; the A.2 rule would pick 2 here.
    let header = ShortHeader {
        number: PacketNumber::truncate(654_360_564, 3),
        ..header
    };
    let mut out = Vec::new();
    let partial = header.encode(&mut out);
    assert_eq!(out, hex("4200bff4"));
    // The 21-byte packet of App. A.5 is exactly long enough for the sample.
    assert_eq!(partial.min_payload_len(TAG_LEN, SAMPLE_LEN), 1);

    let packet = hex("4200bff4655e5cd55c41f69080575d7999c25a5bfb");
    let (partial, _) = PartialDecode::new(BytesMut::from(&packet[..]), 0, false).unwrap();
    let decoded = partial.finish(Some(&NoHeaderProtection)).unwrap();
    assert_eq!(decoded.header, Header::Short(header));
    assert_eq!(
        decoded.header.number().unwrap().expand(Some(654_360_563)),
        654_360_564
    );
    assert_eq!(decoded.payload.len(), 17);
}

// ---------------------------------------------------------------------------
// Type bits

/// RFC 9000 §17.2 Table 5 and RFC 9369 §3.2.
#[test]
fn long_type_bits_by_version() {
    let table = [
        (LongType::Initial, 0b00, 0b01),
        (LongType::ZeroRtt, 0b01, 0b10),
        (LongType::Handshake, 0b10, 0b11),
        (LongType::Retry, 0b11, 0b00),
    ];
    for (ty, v1, v2) in table {
        assert_eq!(ty.to_bits(Version::V1), Some(v1));
        assert_eq!(ty.to_bits(Version::V2), Some(v2));
        assert_eq!(LongType::from_bits(v1, Version::V1), Some(ty));
        assert_eq!(LongType::from_bits(v2, Version::V2), Some(ty));
    }
    assert_eq!(LongType::Initial.to_bits(Version(0x1a2a3a4a)), None);
    assert_eq!(LongType::from_bits(0, Version(0x1a2a3a4a)), None);
}

/// The first byte a Handshake packet gets in each version (RFC 9369 §3.2).
#[test]
fn handshake_first_byte_differs_between_versions() {
    for (version, type_bits) in [(Version::V1, 0x20), (Version::V2, 0x30)] {
        let header = LongHeader::new(
            LongKind::Handshake,
            version,
            cid(&[1]),
            cid(&[2]),
            PacketNumber::truncate(0, 1),
        );
        let mut out = Vec::new();
        header.encode(&mut out).unwrap();
        assert_eq!(out[0], 0xc0 | type_bits);
        let packet = long_packet(&header, b"hello");
        let (partial, _) = PartialDecode::new(BytesMut::from(&packet[..]), 0, false).unwrap();
        assert_eq!(partial.long_type(), Some(LongType::Handshake));
        assert_eq!(partial.space(), Some(SpaceId::Handshake));
    }
}

// ---------------------------------------------------------------------------
// Protected round trips

#[test]
fn long_header_round_trip_with_protection() {
    let header = initial(
        Version::V1,
        b"a token",
        PacketNumber::new(70_000, Some(69_990)),
    );
    let packet = long_packet(&header, b"CRYPTO frames");
    let mut unprotected = Vec::new();
    let partial = header.encode(&mut unprotected).unwrap();
    let header_len = unprotected.len();
    unprotected.resize(packet.len(), 0);
    partial.set_length(&mut unprotected).unwrap();
    unprotected.truncate(header_len);
    // Header protection changed the packet number bytes.
    assert_ne!(
        packet[header.encoded_len() - 1],
        unprotected[header.encoded_len() - 1]
    );

    let (partial, rest) = PartialDecode::new(BytesMut::from(&packet[..]), 0, false).unwrap();
    assert!(rest.is_none());
    assert_eq!(partial.dst_cid(), &header.dst_cid);
    assert_eq!(partial.src_cid(), Some(&header.src_cid));
    assert_eq!(partial.version(), Some(Version::V1));
    assert_eq!(partial.space(), Some(SpaceId::Initial));
    assert_eq!(partial.token(), Some(&b"a token"[..]));
    assert_eq!(partial.len(), packet.len());
    assert_eq!(partial.data(), &packet[..]);
    let mut decoded = partial.finish(Some(&XorHeaderKey)).unwrap();
    assert_eq!(decoded.header, Header::Long(header.clone()));
    assert_eq!(decoded.header_data[..], unprotected[..]);
    assert_eq!(open(&mut decoded), b"CRYPTO frames");
}

#[test]
fn short_header_round_trip_with_key_phase_and_spin() {
    for (spin, key_phase) in [(false, false), (true, false), (false, true), (true, true)] {
        let header = ShortHeader::new(spin, key_phase, cid(&[9; 8]), PacketNumber::truncate(77, 1));
        let packet = short_packet(&header, b"STREAM");
        let (partial, _) = PartialDecode::new(BytesMut::from(&packet[..]), 8, false).unwrap();
        assert_eq!(
            partial.header(),
            &ProtectedHeader::Short {
                spin,
                dst_cid: cid(&[9; 8])
            }
        );
        assert_eq!(partial.space(), Some(SpaceId::Data));
        assert!(!partial.has_long_header());
        let mut decoded = partial.finish(Some(&XorHeaderKey)).unwrap();
        assert_eq!(decoded.header.key_phase(), Some(key_phase));
        assert_eq!(decoded.header, Header::Short(header));
        assert_eq!(open(&mut decoded), b"STREAM");
    }
}

/// RFC 9000 §17.2, §17.3.1: reserved bits are only exposed; acting on them
/// waits for the AEAD.
#[test]
fn reserved_bits_are_reported_not_rejected() {
    let mut long = initial(Version::V2, b"", PacketNumber::truncate(3, 2));
    long.reserved_bits = 0x08;
    let mut decoded = decode_one(&long_packet(&long, b"x"), 0).unwrap();
    assert!(!decoded.header.reserved_bits_valid());
    assert_eq!(decoded.header, Header::Long(long));
    assert_eq!(open(&mut decoded)[..1], *b"x");

    let mut short = ShortHeader::new(false, true, cid(&[1, 2]), PacketNumber::truncate(3, 2));
    short.reserved_bits = 0x10;
    let decoded = decode_one(&short_packet(&short, b"x"), 2).unwrap();
    assert!(!decoded.header.reserved_bits_valid());
    assert_eq!(decoded.header, Header::Short(short.clone()));

    short.reserved_bits = 0;
    let decoded = decode_one(&short_packet(&short, b"x"), 2).unwrap();
    assert!(decoded.header.reserved_bits_valid());
}

// ---------------------------------------------------------------------------
// Coalesced packets (RFC 9000 §12.2)

#[test]
fn coalesced_initial_handshake_short_split() {
    let dst = cid(&[7; 4]);
    let src = cid(&[8; 5]);
    let initial = LongHeader::new(
        LongKind::Initial {
            token: Bytes::from_static(b"tok"),
        },
        Version::V2,
        dst,
        src,
        PacketNumber::truncate(0, 1),
    );
    let handshake = LongHeader::new(
        LongKind::Handshake,
        Version::V2,
        dst,
        src,
        PacketNumber::truncate(1, 2),
    );
    let short = ShortHeader::new(true, false, dst, PacketNumber::truncate(2, 4));
    let first = long_packet(&initial, b"first");
    let second = long_packet(&handshake, b"second");
    let third = short_packet(&short, b"third, the 1-RTT one");
    let datagram = [first.clone(), second.clone(), third.clone()].concat();

    let (partial, rest) = PartialDecode::new(BytesMut::from(&datagram[..]), 4, false).unwrap();
    assert_eq!(partial.data(), &first[..]);
    let rest = rest.unwrap();
    assert_eq!(rest[..], [second.clone(), third.clone()].concat()[..]);
    let (partial, rest) = PartialDecode::new(rest, 4, false).unwrap();
    assert_eq!(partial.len(), second.len());
    let (partial, rest) = PartialDecode::new(rest.unwrap(), 4, false).unwrap();
    assert_eq!(partial.len(), third.len());
    assert!(rest.is_none());

    let mut packets: Vec<Packet> = decode_all(&datagram, 4, false)
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(packets.len(), 3);
    assert_eq!(packets[0].header, Header::Long(initial));
    assert_eq!(packets[1].header, Header::Long(handshake));
    assert_eq!(packets[2].header, Header::Short(short));
    assert_eq!(open(&mut packets[0]), b"first");
    assert_eq!(open(&mut packets[1]), b"second");
    assert_eq!(open(&mut packets[2]), b"third, the 1-RTT one");
}

/// RFC 9000 §12.2: the Length delimits a packet; one beyond the datagram
/// drops it.
#[test]
fn length_beyond_datagram_is_rejected() {
    let header = LongHeader::new(
        LongKind::ZeroRtt,
        Version::V1,
        cid(&[1; 8]),
        cid(&[2; 8]),
        PacketNumber::truncate(5, 1),
    );
    let packet = long_packet(&header, b"early data");
    for cut in 1..=packet.len() - header.encoded_len() {
        let truncated = &packet[..packet.len() - cut];
        assert_eq!(
            PartialDecode::new(BytesMut::from(truncated), 0, false).unwrap_err(),
            PacketDecodeError::Truncated
        );
    }
    assert!(PartialDecode::new(BytesMut::from(&packet[..]), 0, false).is_ok());
}

/// A Length read with a non-minimal varint encoding is accepted
/// (RFC 9000 §16).
#[test]
fn length_in_any_varint_form_is_accepted() {
    let header = LongHeader::new(
        LongKind::Handshake,
        Version::V1,
        cid(&[1]),
        cid(&[2]),
        PacketNumber::truncate(5, 1),
    );
    let packet = long_packet(&header, b"payload");
    let length_offset = header.encoded_len() - 1 - 2;
    let length =
        u32::from(u16::from_be_bytes([packet[length_offset], packet[length_offset + 1]]) & 0x3fff);
    let mut widened = packet[..length_offset].to_vec();
    widened.extend_from_slice(&(0x8000_0000 | length).to_be_bytes());
    widened.extend_from_slice(&packet[length_offset + 2..]);
    // The header changed, so the mock AEAD tag no longer matches, but the
    // header itself decodes with the packet number where it belongs.
    let (partial, rest) = PartialDecode::new(BytesMut::from(&widened[..]), 0, false).unwrap();
    assert!(rest.is_none());
    assert_eq!(partial.len(), widened.len());
}

// ---------------------------------------------------------------------------
// Fixed bit, CID lengths, versions

/// RFC 9000 §17.2, §17.3.1: a zero Fixed Bit drops the packet, unless the
/// endpoint advertised grease_quic_bit (RFC 9287 §3).
#[test]
fn zero_fixed_bit_dropped_unless_greasing() {
    let mut long = initial(Version::V1, b"", PacketNumber::truncate(1, 1));
    long.fixed_bit = false;
    let mut short = ShortHeader::new(false, false, cid(&[3; 4]), PacketNumber::truncate(1, 1));
    short.fixed_bit = false;
    let retry = RetryHeader {
        version: Version::V1,
        dst_cid: cid(&[1]),
        src_cid: cid(&[2]),
        token: Bytes::from_static(b"t"),
        unused: 0,
        fixed_bit: false,
    };
    let mut retry_packet = Vec::new();
    retry.encode(&mut retry_packet).unwrap();
    retry_packet.extend_from_slice(&[0xaa; 16]);

    let long_packet = long_packet(&long, b"x");
    let short_packet = short_packet(&short, b"x");
    for packet in [&long_packet, &short_packet, &retry_packet] {
        assert_eq!(
            PartialDecode::new(BytesMut::from(&packet[..]), 4, false).unwrap_err(),
            PacketDecodeError::FIXED_BIT_ZERO
        );
    }
    assert_eq!(
        decode_all(&long_packet, 4, true)[0]
            .as_ref()
            .unwrap()
            .header,
        Header::Long(long)
    );
    assert_eq!(
        decode_all(&short_packet, 4, true)[0]
            .as_ref()
            .unwrap()
            .header,
        Header::Short(short)
    );
    let (partial, _) = PartialDecode::new(BytesMut::from(&retry_packet[..]), 4, true).unwrap();
    assert_eq!(partial.finish(None).unwrap().header, Header::Retry(retry));
}

/// Builds a long header by hand with arbitrary CID lengths.
fn raw_long_header(first: u8, version: u32, dst_len: usize, src_len: usize) -> Vec<u8> {
    let mut packet = vec![first];
    packet.extend_from_slice(&version.to_be_bytes());
    packet.push(dst_len as u8);
    packet.extend((0..dst_len).map(|i| i as u8));
    packet.push(src_len as u8);
    packet.extend((0..src_len).map(|i| 0x80 | i as u8));
    packet.extend_from_slice(&[0; 64]);
    packet
}

/// RFC 9000 §17.2: a v1 (or v2) long header with a CID over 20 bytes is
/// dropped.
#[test]
fn cid_over_20_bytes_rejected_in_v1_and_v2() {
    for version in [Version::V1, Version::V2] {
        for (dst, src) in [(21, 0), (0, 21), (255, 255)] {
            let packet = raw_long_header(0xc0, version.0, dst, src);
            assert_eq!(
                PartialDecode::new(BytesMut::from(&packet[..]), 0, false).unwrap_err(),
                PacketDecodeError::CID_TOO_LONG,
                "{version:?} {dst} {src}"
            );
        }
    }
}

/// RFC 8999 §5.1, RFC 9000 §17.2.1: an unknown version's long header yields
/// its invariant fields, with CIDs up to 255 bytes, for Version Negotiation.
#[test]
fn unsupported_version_keeps_invariant_fields() {
    let packet = raw_long_header(0x80, 0x1a2a3a4a, 255, 33);
    let error = PartialDecode::new(BytesMut::from(&packet[..]), 0, false).unwrap_err();
    let PacketDecodeError::UnsupportedVersion {
        version,
        dst_cid,
        src_cid,
    } = error
    else {
        panic!("unexpected {error:?}");
    };
    assert_eq!(version, Version(0x1a2a3a4a));
    assert_eq!(dst_cid[..], packet[6..6 + 255]);
    assert_eq!(src_cid[..], packet[6 + 256..6 + 256 + 33]);
    let invariants = LongHeaderInvariants::decode(&packet).unwrap();
    assert_eq!(invariants.dst_cid, &dst_cid[..]);
    assert_eq!(invariants.src_cid, &src_cid[..]);
    assert_eq!(invariants.encoded_len(), 1 + 4 + 1 + 255 + 1 + 33);

    // The server's answer echoes them swapped; the client can read it back
    // when its IDs fit v1's limit.
    let mut reply = Vec::new();
    encode_version_negotiation(&mut reply, &dst_cid, &src_cid, &Version::SUPPORTED, 0x15).unwrap();
    let reply_invariants = LongHeaderInvariants::decode(&reply).unwrap();
    assert_eq!(reply_invariants.version, Version::NEGOTIATION);
    assert_eq!(reply_invariants.dst_cid, &src_cid[..]);
    assert_eq!(reply_invariants.src_cid, &dst_cid[..]);

    // Truncated invariant fields are just truncated.
    assert_eq!(
        PartialDecode::new(BytesMut::from(&packet[..100]), 0, false).unwrap_err(),
        PacketDecodeError::Truncated
    );
}

#[test]
fn local_cid_length_over_20_is_refused() {
    let packet = [0x40u8; 64];
    assert!(matches!(
        PartialDecode::new(BytesMut::from(&packet[..]), 21, false),
        Err(PacketDecodeError::InvalidHeader(_))
    ));
}

// ---------------------------------------------------------------------------
// Version Negotiation and Retry

/// RFC 9000 §17.2.1: the server echoes the client's CIDs swapped, sets 0x40,
/// and the client reads the list back.
#[test]
fn version_negotiation_round_trip() {
    let client_dst = [1u8, 2, 3, 4, 5, 6, 7, 8];
    let client_src = [9u8, 10];
    let versions = [Version::V1, Version::V2, Version(0x0a1a2a3a)];
    let mut packet = Vec::new();
    encode_version_negotiation(&mut packet, &client_dst, &client_src, &versions, 0xff).unwrap();
    assert_eq!(packet[0], 0xff);
    assert_eq!(packet[1..5], [0, 0, 0, 0]);
    let (partial, rest) = PartialDecode::new(BytesMut::from(&packet[..]), 0, false).unwrap();
    assert!(rest.is_none());
    assert_eq!(partial.version(), Some(Version::NEGOTIATION));
    assert_eq!(partial.space(), None);
    let decoded = partial.finish(None).unwrap();
    let Header::VersionNegotiation(header) = &decoded.header else {
        panic!("not VN: {:?}", decoded.header);
    };
    assert_eq!(header.dst_cid, cid(&client_src));
    assert_eq!(header.src_cid, cid(&client_dst));
    assert_eq!(header.versions.iter().collect::<Vec<_>>(), versions);
    assert!(header.versions.contains(Version::V2));
    assert_eq!(header.versions.len(), 3);
    assert_eq!(header.versions, VersionList::new(&versions));
    assert!(decoded.payload.is_empty());
    assert_eq!(decoded.header_data.len(), packet.len() - 12);
}

/// RFC 9000 §17.2.1: clients ignore the Unused bits, including 0x40, and the
/// packet runs to the end of the datagram.
#[test]
fn version_negotiation_ignores_first_byte_bits() {
    for first in [0x80u8, 0x83, 0xbf, 0xc0, 0xff] {
        let mut packet = vec![first, 0, 0, 0, 0, 1, 0xaa, 0];
        packet.extend_from_slice(&Version::V1.0.to_be_bytes());
        let decoded = decode_all(&packet, 0, false).remove(0).unwrap();
        let Header::VersionNegotiation(header) = decoded.header else {
            panic!("not VN");
        };
        assert_eq!(header.unused, first & 0x7f);
        assert_eq!(header.versions.iter().collect::<Vec<_>>(), [Version::V1]);
    }
    // A list that is not whole versions is malformed.
    let packet = [0x80u8, 0, 0, 0, 0, 0, 0, 0, 0, 1];
    assert!(matches!(
        PartialDecode::new(BytesMut::from(&packet[..]), 0, false),
        Err(PacketDecodeError::InvalidHeader(_))
    ));
}

#[test]
fn version_negotiation_encoder_limits() {
    let mut out = Vec::new();
    assert_eq!(
        encode_version_negotiation(&mut out, &[0; 256], &[], &[Version::V1], 0),
        Err(PacketEncodeError::ConnectionIdTooLong)
    );
    assert!(encode_version_negotiation(&mut out, &[0; 255], &[0; 255], &[], 0).is_ok());
}

/// RFC 9000 §17.2.5: a Retry shorter than its integrity tag is dropped; one
/// with exactly the tag has an empty token.
#[test]
fn retry_needs_its_tag() {
    let header = RetryHeader {
        version: Version::V2,
        dst_cid: cid(&[1, 2]),
        src_cid: cid(&[3, 4, 5]),
        token: Bytes::new(),
        unused: 0x05,
        fixed_bit: true,
    };
    let mut packet = Vec::new();
    header.encode(&mut packet).unwrap();
    packet.extend_from_slice(&[0x11; 15]);
    assert_eq!(
        PartialDecode::new(BytesMut::from(&packet[..]), 0, false).unwrap_err(),
        PacketDecodeError::Truncated
    );
    packet.push(0x11);
    let decoded = decode_all(&packet, 0, false).remove(0).unwrap();
    assert_eq!(decoded.header, Header::Retry(header));
    assert_eq!(decoded.retry_integrity_tag(), Some([0x11; 16]));
}

// ---------------------------------------------------------------------------
// Header protection sample and keys

/// RFC 9001 §5.4.2: a packet too short to sample 16 bytes at pn_offset + 4
/// is dropped; one exactly long enough is not.
#[test]
fn too_short_for_sample_is_rejected() {
    // Short header, 4-byte CID: pn_offset 5, sample ends at 25.
    let mut packet = vec![0x40u8];
    packet.extend_from_slice(&[0xee; 4]);
    packet.resize(25, 0);
    let finish = |len: usize| {
        let (partial, _) = PartialDecode::new(BytesMut::from(&packet[..len]), 4, false)?;
        partial.finish(Some(&NoHeaderProtection))
    };
    assert_eq!(
        finish(24).unwrap_err(),
        PacketDecodeError::TOO_SHORT_FOR_SAMPLE
    );
    assert!(finish(25).is_ok());

    // Long header: the sample must lie within the Length, not in the next
    // coalesced packet.
    let header = LongHeader::new(
        LongKind::Handshake,
        Version::V1,
        cid(&[1]),
        cid(&[2]),
        PacketNumber::truncate(0, 1),
    );
    let mut datagram = Vec::new();
    let partial = header.encode(&mut datagram).unwrap();
    datagram.resize(partial.pn_offset() + 4 + SAMPLE_LEN - 1, 0);
    partial.set_length(&mut datagram).unwrap();
    datagram.extend_from_slice(&short_packet(
        &ShortHeader::new(
            false,
            false,
            ConnectionId::EMPTY,
            PacketNumber::truncate(0, 1),
        ),
        b"more",
    ));
    let results = decode_all(&datagram, 0, false);
    assert_eq!(results.len(), 2);
    assert_eq!(
        results[0].as_ref().unwrap_err(),
        &PacketDecodeError::TOO_SHORT_FOR_SAMPLE
    );
    assert!(results[1].is_ok());
}

#[test]
fn protected_packet_needs_a_header_key() {
    let packet = short_packet(
        &ShortHeader::new(
            false,
            false,
            ConnectionId::EMPTY,
            PacketNumber::truncate(0, 1),
        ),
        b"x",
    );
    let (partial, _) = PartialDecode::new(BytesMut::from(&packet[..]), 0, false).unwrap();
    assert!(partial.is_protected());
    assert_eq!(
        partial.finish(None).unwrap_err(),
        PacketDecodeError::MissingHeaderKey
    );
}

#[test]
fn empty_datagram_is_truncated() {
    assert_eq!(
        PartialDecode::new(BytesMut::new(), 0, false).unwrap_err(),
        PacketDecodeError::Truncated
    );
}

// ---------------------------------------------------------------------------
// Encoder errors

#[test]
fn encoder_checks_before_writing() {
    let header = initial(Version::V1, b"", PacketNumber::truncate(9, 1));
    let mut packet = Vec::new();
    let partial = header.encode(&mut packet).unwrap();

    // Padding to the minimum payload is enough; one byte less is not.
    let min = partial.min_payload_len(TAG_LEN, SAMPLE_LEN);
    assert_eq!(min, 3);
    let mut short = packet.clone();
    short.resize(packet.len() + min - 1 + TAG_LEN, 0);
    let before = short.clone();
    assert_eq!(
        partial.finish(&mut short, 9, &XorPacketKey, &XorHeaderKey),
        Err(PacketEncodeError::TooShortForSample)
    );
    assert_eq!(short, before, "nothing written on error");

    // The full packet number must match the truncated one in the header.
    let mut ok = packet.clone();
    ok.resize(packet.len() + min + TAG_LEN, 0);
    assert_eq!(
        partial.finish(&mut ok.clone(), 10, &XorPacketKey, &XorHeaderKey),
        Err(PacketEncodeError::PacketNumberMismatch)
    );
    assert_eq!(
        partial.finish(&mut ok.clone(), 9 + 256, &XorPacketKey, &XorHeaderKey),
        Ok(())
    );

    // No room for the tag.
    let mut no_tag = packet.clone();
    no_tag.resize(packet.len() + 20, 0);
    let mut no_tag = no_tag[..packet.len() + 8].to_vec();
    assert_eq!(
        partial.finish(&mut no_tag, 9, &XorPacketKey, &XorHeaderKey),
        Err(PacketEncodeError::BufferTooShort)
    );

    // The 2-byte Length caps the packet.
    let mut long = packet.clone();
    long.resize(partial.pn_offset() + MAX_LENGTH, 0);
    assert_eq!(partial.set_length(&mut long), Ok(()));
    assert_eq!(
        long[partial.pn_offset() - 2..partial.pn_offset()],
        [0x7f, 0xff]
    );
    long.push(0);
    assert_eq!(
        partial.finish(&mut long, 9, &XorPacketKey, &XorHeaderKey),
        Err(PacketEncodeError::LengthTooLarge)
    );

    // Only v1 and v2 have type bits.
    let mut unknown = header.clone();
    unknown.version = Version(0x1a2a3a4a);
    assert_eq!(
        unknown.encode(&mut Vec::new()),
        Err(PacketEncodeError::UnsupportedVersion(Version(0x1a2a3a4a)))
    );
}

#[test]
fn separate_length_seal_and_protect_steps_match_finish() {
    let header = LongHeader::new(
        LongKind::Handshake,
        Version::V2,
        cid(&[4; 12]),
        cid(&[5; 3]),
        PacketNumber::truncate(300, 2),
    );
    let together = long_packet(&header, b"0123456789");
    let mut apart = Vec::new();
    let partial = header.encode(&mut apart).unwrap();
    apart.extend_from_slice(b"0123456789");
    apart.resize(apart.len() + TAG_LEN, 0);
    partial.set_length(&mut apart).unwrap();
    XorPacketKey.encrypt(300, &mut apart, partial.header_len());
    partial.protect_header(&mut apart, &XorHeaderKey).unwrap();
    assert_eq!(apart, together);
}

// ---------------------------------------------------------------------------
// Property tests

fn any_cid() -> impl Strategy<Value = ConnectionId> {
    proptest::collection::vec(any::<u8>(), 0..=20).prop_map(|bytes| cid(&bytes))
}

fn any_version() -> impl Strategy<Value = Version> {
    prop_oneof![Just(Version::V1), Just(Version::V2)]
}

fn any_number() -> impl Strategy<Value = PacketNumber> {
    (any::<u32>(), 1usize..=4).prop_map(|(value, len)| PacketNumber::truncate(value.into(), len))
}

fn any_kind() -> impl Strategy<Value = LongKind> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..80).prop_map(|token| LongKind::Initial {
            token: token.into()
        }),
        Just(LongKind::ZeroRtt),
        Just(LongKind::Handshake),
    ]
}

prop_compose! {
    fn any_long_header()(
        kind in any_kind(),
        version in any_version(),
        dst_cid in any_cid(),
        src_cid in any_cid(),
        number in any_number(),
        reserved in 0u8..4,
        fixed_bit in any::<bool>(),
    ) -> LongHeader {
        LongHeader {
            kind,
            version,
            dst_cid,
            src_cid,
            number,
            reserved_bits: reserved << 2,
            fixed_bit,
        }
    }
}

prop_compose! {
    fn any_short_header(cid_len: usize)(
        spin in any::<bool>(),
        key_phase in any::<bool>(),
        dst_cid in proptest::collection::vec(any::<u8>(), cid_len),
        number in any_number(),
        reserved in 0u8..4,
        fixed_bit in any::<bool>(),
    ) -> ShortHeader {
        ShortHeader {
            spin,
            key_phase,
            dst_cid: cid(&dst_cid),
            number,
            reserved_bits: reserved << 3,
            fixed_bit,
        }
    }
}

prop_compose! {
    fn any_retry_header()(
        version in any_version(),
        dst_cid in any_cid(),
        src_cid in any_cid(),
        token in proptest::collection::vec(any::<u8>(), 0..100),
        unused in 0u8..16,
        fixed_bit in any::<bool>(),
    ) -> RetryHeader {
        RetryHeader { version, dst_cid, src_cid, token: token.into(), unused, fixed_bit }
    }
}

/// One packet of any form, with its expected header and plaintext.
#[derive(Debug, Clone)]
enum AnyPacket {
    Long(LongHeader, Vec<u8>),
    Short(ShortHeader, Vec<u8>),
}

fn any_payload() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..64)
}

proptest! {
    /// Every long header form, v1 and v2, survives encode → protect →
    /// decode → unprotect, and the payload opens.
    #[test]
    fn long_header_round_trip(header in any_long_header(), payload in any_payload()) {
        let packet = long_packet(&header, &payload);
        let results = decode_all(&packet, 0, !header.fixed_bit);
        prop_assert_eq!(results.len(), 1);
        let mut decoded = results.into_iter().next().unwrap().unwrap();
        prop_assert_eq!(&decoded.header, &Header::Long(header.clone()));
        prop_assert_eq!(decoded.header.space(), Some(header.kind.space()));
        let opened = open(&mut decoded);
        prop_assert_eq!(&opened[..payload.len()], &payload[..]);
        prop_assert!(opened[payload.len()..].iter().all(|&b| b == 0));
    }

    /// Short headers survive the round trip for every CID length.
    #[test]
    fn short_header_round_trip(
        (cid_len, header) in (0usize..=20).prop_flat_map(|len| (Just(len), any_short_header(len))),
        payload in any_payload(),
    ) {
        let packet = short_packet(&header, &payload);
        let (partial, rest) =
            PartialDecode::new(BytesMut::from(&packet[..]), cid_len, !header.fixed_bit).unwrap();
        prop_assert!(rest.is_none());
        let mut decoded = partial.finish(Some(&XorHeaderKey)).unwrap();
        prop_assert_eq!(&decoded.header, &Header::Short(header.clone()));
        let opened = open(&mut decoded);
        prop_assert_eq!(&opened[..payload.len()], &payload[..]);
    }

    /// Retry packets: the token and the tag are found again.
    #[test]
    fn retry_round_trip(header in any_retry_header(), tag in any::<[u8; 16]>()) {
        let mut packet = Vec::new();
        header.encode(&mut packet).unwrap();
        prop_assert_eq!(packet.len(), header.encoded_len());
        packet.extend_from_slice(&tag);
        let (partial, rest) =
            PartialDecode::new(BytesMut::from(&packet[..]), 0, !header.fixed_bit).unwrap();
        prop_assert!(rest.is_none());
        prop_assert_eq!(partial.token(), Some(&header.token[..]));
        let decoded = partial.finish(None).unwrap();
        prop_assert_eq!(&decoded.header, &Header::Retry(header.clone()));
        prop_assert_eq!(decoded.retry_integrity_tag(), Some(tag));
        prop_assert_eq!(&decoded.header_data[..], &packet[..packet.len() - 16]);
    }

    /// Version Negotiation packets round-trip.
    #[test]
    fn version_negotiation_round_trip_prop(
        dst in any_cid(),
        src in any_cid(),
        versions in proptest::collection::vec(any::<u32>().prop_map(Version), 0..8),
        random in any::<u8>(),
    ) {
        let mut packet = Vec::new();
        encode_version_negotiation(&mut packet, &src, &dst, &versions, random).unwrap();
        let decoded = decode_all(&packet, 0, false).remove(0).unwrap();
        let Header::VersionNegotiation(header) = decoded.header else {
            panic!("not VN");
        };
        prop_assert_eq!(header.dst_cid, dst);
        prop_assert_eq!(header.src_cid, src);
        prop_assert_eq!(header.unused, (random | 0x40) & 0x7f);
        prop_assert_eq!(header.versions.iter().collect::<Vec<_>>(), versions);
    }

    /// Any sequence of long packets, optionally ending with a short one,
    /// coalesced into one datagram splits back into the same packets
    /// (RFC 9000 §12.2).
    #[test]
    fn coalesced_packets_split(
        longs in proptest::collection::vec((any_long_header(), any_payload()), 0..4),
        short in proptest::option::of((any_short_header(8), any_payload())),
    ) {
        let mut expected: Vec<AnyPacket> = longs
            .into_iter()
            .map(|(header, payload)| AnyPacket::Long(header, payload))
            .collect();
        expected.extend(short.map(|(header, payload)| AnyPacket::Short(header, payload)));
        prop_assume!(!expected.is_empty());
        let datagram: Vec<u8> = expected
            .iter()
            .flat_map(|packet| match packet {
                AnyPacket::Long(header, payload) => long_packet(header, payload),
                AnyPacket::Short(header, payload) => short_packet(header, payload),
            })
            .collect();
        let results = decode_all(&datagram, 8, true);
        prop_assert_eq!(results.len(), expected.len());
        for (result, packet) in results.into_iter().zip(&expected) {
            let mut decoded = result.unwrap();
            let (header, payload) = match packet {
                AnyPacket::Long(header, payload) => (Header::Long(header.clone()), payload),
                AnyPacket::Short(header, payload) => (Header::Short(header.clone()), payload),
            };
            prop_assert_eq!(&decoded.header, &header);
            prop_assert_eq!(&open(&mut decoded)[..payload.len()], &payload[..]);
        }
    }

    /// No input makes the decoder panic, whatever the CID length and fixed
    /// bit policy, with or without a header key.
    #[test]
    fn arbitrary_bytes_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..400),
        local_cid_len in 0usize..=24,
        accept_zero_fixed_bit in any::<bool>(),
        with_key in any::<bool>(),
    ) {
        let mut next = Some(BytesMut::from(&bytes[..]));
        let mut total = 0;
        while let Some(data) = next.take() {
            let Ok((partial, rest)) = PartialDecode::new(data, local_cid_len, accept_zero_fixed_bit)
            else {
                break;
            };
            total += partial.len();
            let key: Option<&dyn HeaderKey> = if with_key { Some(&XorHeaderKey) } else { None };
            if let Ok(packet) = partial.finish(key) {
                prop_assert!(packet.header_data.len() + packet.payload.len() <= bytes.len());
            }
            next = rest;
        }
        prop_assert!(total <= bytes.len());
    }

    /// Valid packets with bytes flipped or cut off never panic the decoder
    /// either; this reaches deeper than random bytes.
    #[test]
    fn mutated_packets_never_panic(
        header in any_long_header(),
        short in any_short_header(4),
        payload in any_payload(),
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..4),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut datagram = long_packet(&header, &payload);
        datagram.extend(short_packet(&short, &payload));
        for (index, value) in flips {
            let at = index.index(datagram.len());
            datagram[at] ^= value;
        }
        datagram.truncate(cut.index(datagram.len() + 1));
        for mut packet in decode_all(&datagram, 4, true).into_iter().flatten() {
            if let Some(number) = packet.header.number() {
                let number = u64::from(number.truncated());
                let _ = XorPacketKey.decrypt(number, &packet.header_data, &mut packet.payload);
            }
        }
    }
}
