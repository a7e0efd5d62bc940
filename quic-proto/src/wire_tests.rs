//! The RFC 9001 and RFC 9369 Appendix A packets through the whole wire stack:
//! the packet codec, the real rustls/ring keys and the frame iterator
//! together. (Each layer also checks the vectors on its own; this proves the
//! layers fit.)

use bytes::{BufMut, Bytes, BytesMut};

use crate::cid::ConnectionId;
use crate::crypto::vectors::{V1, V2, Vectors, hex};
use crate::crypto::{Keys, initial_keys, is_valid_retry};
use crate::frame::{Frame, Iter, PacketKind};
use crate::packet::{Header, LongHeader, LongKind, PacketNumber, PartialDecode};
use crate::shared::Side;

fn cid(text: &str) -> ConnectionId {
    ConnectionId::new(&hex(text)).unwrap()
}

fn keys(v: &Vectors, side: Side) -> Keys {
    initial_keys(v.version, &cid(v.client_dst_cid), side).unwrap()
}

/// Builds an Initial with the codec's encoder and the real keys.
fn build_initial(
    v: &Vectors,
    side: Side,
    dst: ConnectionId,
    src: ConnectionId,
    number: PacketNumber,
    full_pn: u64,
    plaintext: &[u8],
) -> Vec<u8> {
    let keys = keys(v, side);
    let header = LongHeader::new(
        LongKind::Initial {
            token: Bytes::new(),
        },
        v.version,
        dst,
        src,
        number,
    );
    let mut packet = Vec::new();
    let partial = header.encode(&mut packet).unwrap();
    packet.put_slice(plaintext);
    packet.put_bytes(0, keys.packet.local.tag_len());
    partial
        .finish(
            &mut packet,
            full_pn,
            &*keys.packet.local,
            &*keys.header.local,
        )
        .unwrap();
    packet
}

/// Opens an Initial as the receiving `side` would, returning the header and
/// the frames.
fn open_initial(v: &Vectors, side: Side, datagram: &[u8]) -> (Header, Vec<Frame>) {
    let (partial, rest) = PartialDecode::new(BytesMut::from(datagram), 0, false).unwrap();
    assert!(rest.is_none(), "one packet in the datagram");
    assert!(partial.is_initial());
    let keys = keys(v, side);
    let mut packet = partial.finish(Some(&*keys.header.remote)).unwrap();
    assert!(packet.header.reserved_bits_valid());
    let pn = packet.header.number().unwrap().expand(None);
    keys.packet
        .remote
        .decrypt(pn, &packet.header_data, &mut packet.payload)
        .unwrap();
    let frames = Iter::new(packet.payload.freeze())
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    assert!(frames.iter().all(|f| f.allowed_in(PacketKind::Initial)));
    (packet.header, frames)
}

/// RFC 9001 A.2 / RFC 9369 A.2: the client's first Initial, padded to a
/// 1162-byte payload (§14.1 wants a 1200-byte datagram).
fn client_initial(v: &Vectors) {
    let crypto = hex(v.client_crypto_frame);
    let mut plaintext = crypto.clone();
    plaintext.resize(1162, 0);
    let number = PacketNumber::from_truncated(2, 4).unwrap();
    let built = build_initial(
        v,
        Side::Client,
        cid(v.client_dst_cid),
        ConnectionId::EMPTY,
        number,
        2,
        &plaintext,
    );
    assert_eq!(
        built,
        hex(v.client_packet),
        "{:?} client Initial differs",
        v.version
    );
    assert_eq!(built.len(), 1200);

    let (header, frames) = open_initial(v, Side::Server, &built);
    assert_eq!(header.dst_cid(), &cid(v.client_dst_cid));
    assert_eq!(header.number().unwrap().expand(None), 2);
    let [Frame::Crypto(c), Frame::Padding(p)] = &frames[..] else {
        panic!("expected CRYPTO then PADDING, got {frames:?}");
    };
    assert_eq!(c.offset, 0);
    assert_eq!(c.data[0], 0x01, "a TLS ClientHello");
    assert_eq!(c.encoded_len() + p.len, 1162);
}

/// RFC 9001 A.3 / RFC 9369 A.3: the server's Initial with an ACK and the
/// ServerHello.
fn server_initial(v: &Vectors) {
    let payload = hex(v.server_payload);
    let number = PacketNumber::from_truncated(1, 2).unwrap();
    let built = build_initial(
        v,
        Side::Server,
        ConnectionId::EMPTY,
        cid("f067a5502a4262b5"),
        number,
        1,
        &payload,
    );
    assert_eq!(
        built,
        hex(v.server_packet),
        "{:?} server Initial differs",
        v.version
    );

    let (header, frames) = open_initial(v, Side::Client, &built);
    assert_eq!(header.src_cid(), Some(&cid("f067a5502a4262b5")));
    let [Frame::Ack(ack), Frame::Crypto(c)] = &frames[..] else {
        panic!("expected ACK then CRYPTO, got {frames:?}");
    };
    assert_eq!(ack.ranges().collect::<Vec<_>>(), [0..=0]);
    assert_eq!(c.data[0], 0x02, "a TLS ServerHello");
}

/// RFC 9001 A.4 / RFC 9369 A.4: the Retry parses, carries the token
/// "token", and its integrity tag verifies against the original DCID.
fn retry(v: &Vectors) {
    let bytes = hex(v.retry_packet);
    let (partial, _) = PartialDecode::new(BytesMut::from(&bytes[..]), 0, false).unwrap();
    let packet = partial.finish(None).unwrap();
    let Header::Retry(retry) = &packet.header else {
        panic!("not a Retry: {:?}", packet.header);
    };
    assert_eq!(&retry.token[..], b"token");
    assert_eq!(retry.src_cid, cid("f067a5502a4262b5"));
    assert!(is_valid_retry(v.version, &cid(v.client_dst_cid), &bytes));
    assert!(!is_valid_retry(v.version, &cid("0000000000000000"), &bytes));
}

#[test]
fn rfc9001_appendix_a_through_the_stack() {
    client_initial(&V1);
    server_initial(&V1);
    retry(&V1);
}

#[test]
fn rfc9369_appendix_a_through_the_stack() {
    client_initial(&V2);
    server_initial(&V2);
    retry(&V2);
}

/// A coalesced datagram (RFC 9000 §12.2): the A.3 server Initial followed by
/// the A.2-style client Initial splits into two packets that each open.
#[test]
fn coalesced_initials_split_and_open() {
    let first = hex(V1.server_packet);
    let second = hex(V1.client_packet);
    let mut datagram = BytesMut::from(&first[..]);
    datagram.extend_from_slice(&second);
    let (partial, rest) = PartialDecode::new(datagram, 0, false).unwrap();
    assert_eq!(partial.len(), first.len());
    let rest = rest.expect("a second packet");
    assert_eq!(&rest[..], &second[..]);
    let (_, frames) = open_initial(&V1, Side::Client, &first);
    assert_eq!(frames.len(), 2);
}
