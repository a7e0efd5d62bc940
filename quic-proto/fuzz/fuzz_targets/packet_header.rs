//! A datagram of arbitrary bytes through the receive path of the packet
//! codec: coalesced packets are split, header protection is removed with real
//! Initial keys, and nothing panics. The first input byte picks the local
//! connection ID length and whether a zero fixed bit is accepted.
#![no_main]

use std::sync::OnceLock;

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use quic_proto::crypto::{Keys, initial_keys};
use quic_proto::packet::{LongHeaderInvariants, PartialDecode};
use quic_proto::{ConnectionId, Side, Version};

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let cid = ConnectionId::new(&[0x83, 0x94, 0xc8, 0xf0, 0x3e, 0x51, 0x57, 0x08]).unwrap();
        initial_keys(Version::V1, &cid, Side::Server).unwrap()
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, datagram)) = data.split_first() else {
        return;
    };
    let local_cid_len = usize::from(control % 24);
    let accept_zero_fixed_bit = control & 0x80 != 0;
    let _ = LongHeaderInvariants::decode(datagram);
    let mut next = Some(BytesMut::from(datagram));
    let mut packets = 0;
    while let Some(buf) = next.take() {
        let len = buf.len();
        let Ok((partial, rest)) = PartialDecode::new(buf, local_cid_len, accept_zero_fixed_bit)
        else {
            break;
        };
        assert!(partial.len() <= len);
        let _ = (partial.dst_cid(), partial.version(), partial.space(), partial.token());
        if let Ok(mut packet) = partial.finish(Some(&*keys().header.remote)) {
            let _ = packet.header.reserved_bits_valid();
            if let Some(number) = packet.header.number() {
                let pn = number.expand(Some(1000));
                let _ = keys().packet.remote.decrypt(pn, &packet.header_data, &mut packet.payload);
            }
        }
        // Each split makes progress, so a datagram holds a bounded number.
        packets += 1;
        assert!(packets <= datagram.len());
        next = rest;
    }
});
