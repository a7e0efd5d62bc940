//! Sealing and opening one 1,200-byte QUIC packet through our packet
//! protection (rustls' QUIC keys with the ring provider, behind
//! `quic_proto::crypto`), beside raw ring AES-128-GCM on the same buffer in
//! the same run. The ratio of the two is our overhead.
//!
//! `cargo bench --bench packet_protection`
//!
//! Every variant does the same memory traffic per iteration: the plaintext is
//! copied into the packet buffer, sealed, the ciphertext is copied into the
//! receive buffer, and opened.

use bytes::BytesMut;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use quic::proto::crypto::{Keys, initial_keys};
use quic::proto::{ConnectionId, Side, Version};
use ring::aead::{AES_128_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use std::hint::black_box;

const PACKET_LEN: usize = 1200;
const TAG_LEN: usize = 16;
/// A short header: first byte, an 8-byte DCID and a 4-byte packet number.
const HEADER_LEN: usize = 1 + 8 + 4;
const PAYLOAD_LEN: usize = PACKET_LEN - HEADER_LEN - TAG_LEN;

fn keys(side: Side) -> Keys {
    let cid = ConnectionId::new(&[0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08]).unwrap();
    initial_keys(Version::V1, &cid, side).unwrap()
}

fn template() -> Vec<u8> {
    let mut packet = vec![0x41; HEADER_LEN];
    packet.extend((0..PAYLOAD_LEN).map(|i| i as u8));
    packet
}

fn ours(c: &mut Criterion, group_name: &str, header_protection: bool) {
    let client = keys(Side::Client);
    let server = keys(Side::Server);
    let template = template();
    let mut packet = vec![0u8; PACKET_LEN];
    let mut payload = BytesMut::with_capacity(PACKET_LEN);
    let mut pn = 0u64;
    let mut group = c.benchmark_group(group_name);
    group.throughput(Throughput::Bytes(PACKET_LEN as u64));
    group.bench_function("quic_proto", |b| {
        b.iter(|| {
            pn += 1;
            packet[..template.len()].copy_from_slice(&template);
            client.packet.local.encrypt(pn, &mut packet, HEADER_LEN);
            if header_protection {
                client.header.local.encrypt(HEADER_LEN - 4, &mut packet);
                server.header.remote.decrypt(HEADER_LEN - 4, &mut packet);
            }
            payload.clear();
            payload.extend_from_slice(&packet[HEADER_LEN..]);
            server
                .packet
                .remote
                .decrypt(pn, &packet[..HEADER_LEN], &mut payload)
                .unwrap();
            black_box(payload.len())
        });
    });
    ring_baseline(&mut group, header_protection);
    group.finish();
}

/// Raw ring AES-128-GCM: the same nonce construction (IV XOR packet number),
/// the same associated data and buffers; with `header_protection`, two AES
/// block encryptions for the masks, as QUIC's header protection does.
fn ring_baseline(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    header_protection: bool,
) {
    let key = LessSafeKey::new(UnboundKey::new(&AES_128_GCM, &[0x1f; 16]).unwrap());
    let hp = ring::aead::quic::HeaderProtectionKey::new(&ring::aead::quic::AES_128, &[0x2e; 16])
        .unwrap();
    let iv = [0x5a_u8; 12];
    let template = template();
    let mut packet = vec![0u8; PACKET_LEN];
    let mut payload = vec![0u8; PACKET_LEN];
    let mut pn = 0u64;
    group.bench_function("ring_aes_128_gcm", |b| {
        b.iter(|| {
            pn += 1;
            let nonce = || {
                let mut nonce = iv;
                for (n, p) in nonce[4..].iter_mut().zip(pn.to_be_bytes()) {
                    *n ^= p;
                }
                Nonce::assume_unique_for_key(nonce)
            };
            packet[..template.len()].copy_from_slice(&template);
            let (header, body) = packet.split_at_mut(HEADER_LEN);
            let (plain, tag_room) = body.split_at_mut(PAYLOAD_LEN);
            let tag = key
                .seal_in_place_separate_tag(nonce(), Aad::from(&header[..]), plain)
                .unwrap();
            tag_room.copy_from_slice(tag.as_ref());
            if header_protection {
                for _ in 0..2 {
                    let mask = hp.new_mask(&packet[HEADER_LEN..HEADER_LEN + 16]).unwrap();
                    packet[0] ^= mask[0] & 0x1f;
                }
            }
            let len = PACKET_LEN - HEADER_LEN;
            payload[..len].copy_from_slice(&packet[HEADER_LEN..]);
            let opened = key
                .open_in_place(
                    nonce(),
                    Aad::from(&packet[..HEADER_LEN]),
                    &mut payload[..len],
                )
                .unwrap();
            black_box(opened.len())
        });
    });
}

fn seal_open(c: &mut Criterion) {
    ours(c, "seal_open_1200", false);
}

fn seal_open_with_header_protection(c: &mut Criterion) {
    ours(c, "seal_open_hp_1200", true);
}

criterion_group!(benches, seal_open, seal_open_with_header_protection);
criterion_main!(benches);
