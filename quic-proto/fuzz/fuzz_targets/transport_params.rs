//! Transport parameters from either side: decoding never panics, and whatever
//! decodes re-encodes to something that decodes to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use quic_proto::Side;
use quic_proto::transport_params::TransportParameters;

fuzz_target!(|data: &[u8]| {
    let Some((&first, input)) = data.split_first() else {
        return;
    };
    let sender = if first & 1 == 0 { Side::Client } else { Side::Server };
    if let Ok(params) = TransportParameters::decode(sender, input) {
        let mut out = Vec::new();
        params.encode(&mut out);
        assert_eq!(out.len(), params.encoded_len());
        let again = TransportParameters::decode(sender, &out).expect("re-encoded parameters decode");
        assert_eq!(again, params);
    }
});
