//! Tests for the transport parameters codec.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
use std::time::Duration;

use bytes::Bytes;
use proptest::prelude::*;

use super::*;
use crate::error::{TransportError, TransportErrorCode};
use crate::shared::Side;
use crate::version::Version;

type Id = TransportParameterId;
type Error = TransportParameterError;

/// One `Transport Parameter` (RFC 9000 §18, Figure 21) built by hand.
fn param(id: u64, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    VarInt::from_u64(id).unwrap().encode(&mut out);
    VarInt::try_from(value.len()).unwrap().encode(&mut out);
    out.extend_from_slice(value);
    out
}

/// A varint's shortest encoding.
fn var(value: u64) -> Vec<u8> {
    let mut out = Vec::new();
    VarInt::from_u64(value).unwrap().encode(&mut out);
    out
}

fn cid(bytes: &[u8]) -> ConnectionId {
    ConnectionId::new(bytes).unwrap()
}

fn encode(params: &TransportParameters) -> Vec<u8> {
    let mut out = Vec::new();
    params.encode(&mut out);
    assert_eq!(out.len(), params.encoded_len());
    out
}

/// Decoding fails, and the error closes the connection with
/// TRANSPORT_PARAMETER_ERROR.
#[track_caller]
fn decode_err(sender: Side, input: &[u8]) -> Error {
    let err = TransportParameters::decode(sender, input).unwrap_err();
    assert_eq!(
        TransportError::from(err).code,
        TransportErrorCode::TRANSPORT_PARAMETER_ERROR
    );
    err
}

/// A valid Preferred Address value (RFC 9000 §18.2, Figure 22) with the given
/// connection ID.
fn preferred_address_value(cid: &[u8]) -> Vec<u8> {
    let mut value = vec![192, 0, 2, 1, 0x11, 0x51]; // 192.0.2.1:4433
    value.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
    value.extend_from_slice(&[0x11, 0x52]); // port 4434
    value.push(cid.len() as u8);
    value.extend_from_slice(cid);
    value.extend_from_slice(&[0xaa; 16]);
    value
}

/// RFC 9000 §18.2: the values assumed for absent parameters.
#[test]
fn rfc9000_18_2_defaults() {
    let params = TransportParameters::default();
    assert_eq!(params.max_udp_payload_size.into_inner(), 65527);
    assert_eq!(params.ack_delay_exponent, 3);
    assert_eq!(params.max_ack_delay, Duration::from_millis(25));
    assert_eq!(params.active_connection_id_limit.into_inner(), 2);
    assert_eq!(params.max_idle_timeout, Duration::ZERO);
    assert_eq!(params.initial_max_data, VarInt::ZERO);
    assert_eq!(params.initial_max_streams_bidi, VarInt::ZERO);
    assert_eq!(params.max_datagram_frame_size, VarInt::ZERO);
    assert!(!params.disable_active_migration && !params.grease_quic_bit);
    assert!(params.preferred_address.is_none() && params.version_information.is_none());
    // Defaults are not sent, and an empty extension means all defaults.
    assert!(encode(&params).is_empty());
    for sender in [Side::Client, Side::Server] {
        assert_eq!(TransportParameters::decode(sender, &[]).unwrap(), params);
    }
}

/// Parameters explicitly set to their default values are not written.
#[test]
fn explicit_defaults_are_not_encoded() {
    let params = TransportParameters {
        ack_delay_exponent: 3,
        max_ack_delay: Duration::from_micros(25_400), // 25 ms on the wire
        ..TransportParameters::default()
    };
    assert!(encode(&params).is_empty());
}

/// RFC 9000 §18, Figure 21: a hand-built sequence of parameters decodes to
/// the expected fields, skipping an unknown one.
#[test]
fn rfc9000_18_hand_encoded_buffer() {
    let bytes: Vec<u8> = [
        &[0x01, 0x02, 0x40, 0x64][..],         // max_idle_timeout = 100 ms
        &[0x04, 0x04, 0x80, 0x01, 0x00, 0x00], // initial_max_data = 65536 (4-byte varint)
        &[0x08, 0x01, 0x10],                   // initial_max_streams_bidi = 16
        &[0x0a, 0x01, 0x05],                   // ack_delay_exponent = 5
        &[0x0c, 0x00],                         // disable_active_migration
        &[0x1b, 0x03, 0x01, 0x02, 0x03],       // reserved id 27 (31 * 0 + 27): ignored
        &[0x0f, 0x04, 0xde, 0xad, 0xbe, 0xef], // initial_source_connection_id
        &[0x20, 0x02, 0x44, 0x00],             // max_datagram_frame_size = 1024
        &[0x6a, 0xb2, 0x00],                   // grease_quic_bit (id 0x2ab2)
        &[0x03, 0x08, 0xc0, 0, 0, 0, 0, 0, 0x05, 0xdc], // max_udp_payload_size = 1500, 8-byte varint
    ]
    .concat();
    let params = TransportParameters::decode(Side::Client, &bytes).unwrap();
    let expected = TransportParameters {
        max_idle_timeout: Duration::from_millis(100),
        initial_max_data: VarInt::from_u32(65536),
        initial_max_streams_bidi: VarInt::from_u32(16),
        ack_delay_exponent: 5,
        disable_active_migration: true,
        initial_source_connection_id: Some(cid(&[0xde, 0xad, 0xbe, 0xef])),
        max_datagram_frame_size: VarInt::from_u32(1024),
        grease_quic_bit: true,
        max_udp_payload_size: VarInt::from_u32(1500),
        ..TransportParameters::default()
    };
    assert_eq!(params, expected);
}

/// The encoder writes parameters in identifier order with shortest varints.
#[test]
fn encoder_output_by_hand() {
    let params = TransportParameters {
        max_idle_timeout: Duration::from_millis(10_000),
        initial_max_stream_data_uni: VarInt::from_u32(10),
        initial_source_connection_id: Some(ConnectionId::EMPTY),
        grease_quic_bit: true,
        ..TransportParameters::default()
    };
    let expected = [
        &[0x01, 0x02, 0x67, 0x10][..], // 10000 = 0x2710, two-byte varint
        &[0x07, 0x01, 0x0a],
        &[0x0f, 0x00], // zero-length CID: zero-length value (RFC 9000 §7.3)
        &[0x6a, 0xb2, 0x00],
    ]
    .concat();
    assert_eq!(encode(&params), expected);
}

/// RFC 9000 §18.2, Figure 22, and "Servers MAY choose to only send a
/// preferred address of one address family by sending an all-zero address
/// and port".
#[test]
fn rfc9000_18_2_preferred_address_wire_format() {
    let bytes = param(0x0d, &preferred_address_value(&[1, 2, 3, 4]));
    let params = TransportParameters::decode(Side::Server, &bytes).unwrap();
    let address = params.preferred_address.unwrap();
    assert_eq!(
        address.ipv4,
        Some(SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 4433))
    );
    assert_eq!(
        address.ipv6,
        Some(SocketAddrV6::new(Ipv6Addr::LOCALHOST, 4434, 0, 0))
    );
    assert_eq!(address.connection_id, cid(&[1, 2, 3, 4]));
    assert_eq!(address.stateless_reset_token, [0xaa; 16]);
    assert_eq!(encode(&params), bytes);

    // An all-zero IPv4 address and port mean "no IPv4 address".
    let mut value = preferred_address_value(&[1, 2, 3, 4]);
    value[..6].fill(0);
    let params = TransportParameters::decode(Side::Server, &param(0x0d, &value)).unwrap();
    let address = params.preferred_address.unwrap();
    assert_eq!(address.ipv4, None);
    assert!(address.ipv6.is_some());
    assert_eq!(encode(&params), param(0x0d, &value));

    // A zero address with a non-zero port is kept: it is not all-zero.
    value[4..6].copy_from_slice(&[0, 1]);
    let params = TransportParameters::decode(Side::Server, &param(0x0d, &value)).unwrap();
    assert_eq!(
        params.preferred_address.unwrap().ipv4,
        Some(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 1))
    );
}

/// RFC 9000 §18.2: "a server MUST NOT include a zero-length connection ID in
/// this transport parameter. A client MUST treat a violation of these
/// requirements as a connection error of type TRANSPORT_PARAMETER_ERROR."
#[test]
fn rfc9000_18_2_preferred_address_zero_length_cid() {
    let bytes = param(0x0d, &preferred_address_value(&[]));
    assert_eq!(
        decode_err(Side::Server, &bytes),
        Error::InvalidValue(Id::PREFERRED_ADDRESS)
    );
}

/// RFC 9000 §18.2: "A server that chooses a zero-length connection ID MUST
/// NOT provide a preferred address."
#[test]
fn rfc9000_18_2_preferred_address_with_zero_length_server_cid() {
    let bytes = [
        param(0x0d, &preferred_address_value(&[1])),
        param(0x0f, &[]),
    ]
    .concat();
    assert_eq!(
        decode_err(Side::Server, &bytes),
        Error::InvalidValue(Id::PREFERRED_ADDRESS)
    );
}

/// RFC 9000 §18.2, Figure 22: the value must hold exactly the fields.
#[test]
fn rfc9000_18_2_preferred_address_length_mismatch() {
    let value = preferred_address_value(&[1, 2, 3, 4]);
    for bad in [
        &value[..value.len() - 1],
        &[value.as_slice(), &[0]].concat(),
        &value[..10],
    ] {
        assert_eq!(
            decode_err(Side::Server, &param(0x0d, bad)),
            Error::Malformed(Id::PREFERRED_ADDRESS)
        );
    }
    // Connection ID Length above 20.
    let mut long = preferred_address_value(&[7; 20]);
    long[24] = 21;
    long.push(7);
    assert_eq!(
        decode_err(Side::Server, &param(0x0d, &long)),
        Error::Malformed(Id::PREFERRED_ADDRESS)
    );
}

/// RFC 9000 §18.2: "Values below 1200 are invalid."
#[test]
fn rfc9000_18_2_max_udp_payload_size_below_1200() {
    assert_eq!(
        decode_err(Side::Client, &param(0x03, &var(1199))),
        Error::InvalidValue(Id::MAX_UDP_PAYLOAD_SIZE)
    );
    let params = TransportParameters::decode(Side::Client, &param(0x03, &var(1200))).unwrap();
    assert_eq!(params.max_udp_payload_size.into_inner(), 1200);
}

/// RFC 9000 §18.2: ack_delay_exponent "Values above 20 are invalid."
#[test]
fn rfc9000_18_2_ack_delay_exponent_above_20() {
    for bad in [21, 255, 256, 1 << 40] {
        assert_eq!(
            decode_err(Side::Server, &param(0x0a, &var(bad))),
            Error::InvalidValue(Id::ACK_DELAY_EXPONENT)
        );
    }
    let params = TransportParameters::decode(Side::Server, &param(0x0a, &var(20))).unwrap();
    assert_eq!(params.ack_delay_exponent, 20);
}

/// RFC 9000 §18.2: max_ack_delay "Values of 2^14 or greater are invalid."
#[test]
fn rfc9000_18_2_max_ack_delay_2_pow_14() {
    assert_eq!(
        decode_err(Side::Client, &param(0x0b, &var(1 << 14))),
        Error::InvalidValue(Id::MAX_ACK_DELAY)
    );
    let params = TransportParameters::decode(Side::Client, &param(0x0b, &var((1 << 14) - 1)));
    assert_eq!(
        params.unwrap().max_ack_delay,
        Duration::from_millis((1 << 14) - 1)
    );
}

/// RFC 9000 §18.2: "An endpoint that receives a value less than 2 MUST close
/// the connection with an error of type TRANSPORT_PARAMETER_ERROR."
#[test]
fn rfc9000_18_2_active_connection_id_limit_below_2() {
    for bad in [0, 1] {
        assert_eq!(
            decode_err(Side::Server, &param(0x0e, &var(bad))),
            Error::InvalidValue(Id::ACTIVE_CONNECTION_ID_LIMIT)
        );
    }
    let params = TransportParameters::decode(Side::Server, &param(0x0e, &var(2))).unwrap();
    assert_eq!(params.active_connection_id_limit.into_inner(), 2);
}

/// RFC 9000 §4.6: "If a max_streams transport parameter ... is received with
/// a value greater than 2^60 ... the connection MUST be closed immediately
/// with a connection error of type TRANSPORT_PARAMETER_ERROR".
#[test]
fn rfc9000_4_6_max_streams_above_2_pow_60() {
    for (id, param_id) in [
        (0x08, Id::INITIAL_MAX_STREAMS_BIDI),
        (0x09, Id::INITIAL_MAX_STREAMS_UNI),
    ] {
        assert_eq!(
            decode_err(Side::Client, &param(id, &var((1 << 60) + 1))),
            Error::InvalidValue(param_id)
        );
        assert!(TransportParameters::decode(Side::Client, &param(id, &var(1 << 60))).is_ok());
    }
}

/// RFC 9000 §18.2: "This parameter is a sequence of 16 bytes."
#[test]
fn rfc9000_18_2_stateless_reset_token_length() {
    for len in [0, 15, 17] {
        assert_eq!(
            decode_err(Side::Server, &param(0x02, &vec![1; len])),
            Error::Malformed(Id::STATELESS_RESET_TOKEN)
        );
    }
    let params = TransportParameters::decode(Side::Server, &param(0x02, &[9; 16])).unwrap();
    assert_eq!(params.stateless_reset_token, Some([9; 16]));
}

/// RFC 9287 §3: "an endpoint that understands this transport parameter MUST
/// treat receipt of a non-empty value of the transport parameter as a
/// connection error of type TRANSPORT_PARAMETER_ERROR."
#[test]
fn rfc9287_3_grease_quic_bit_non_empty() {
    assert_eq!(
        decode_err(Side::Client, &param(0x2ab2, &[0])),
        Error::Malformed(Id::GREASE_QUIC_BIT)
    );
}

/// RFC 9000 §18.2: disable_active_migration "is a zero-length value".
#[test]
fn rfc9000_18_2_disable_active_migration_non_empty() {
    assert_eq!(
        decode_err(Side::Server, &param(0x0c, &[1])),
        Error::Malformed(Id::DISABLE_ACTIVE_MIGRATION)
    );
}

/// RFC 9000 §18.2: integer parameters are one varint; the value must hold
/// exactly that varint. RFC 9221 §3: max_datagram_frame_size is "an integer
/// value (represented as a variable-length integer)".
#[test]
fn rfc9000_18_2_integer_value_must_fill_length() {
    let cases: [&[u8]; 4] = [
        &[],           // no varint at all
        &[0x05, 0x00], // trailing byte
        &[0x80, 0x00], // a four-byte varint cut short
        &[0x40],       // a two-byte varint cut short
    ];
    for id in [0x01, 0x03, 0x04, 0x09, 0x0b, 0x0e, 0x20] {
        for value in cases {
            assert_eq!(
                decode_err(Side::Client, &param(id, value)),
                Error::Malformed(TransportParameterId(id)),
                "id {id:#x} value {value:?}"
            );
        }
    }
    let params = TransportParameters::decode(Side::Client, &param(0x20, &[0x7f, 0xff])).unwrap();
    assert_eq!(params.max_datagram_frame_size.into_inner(), 0x3fff);
}

/// RFC 9000 §17.2: connection IDs are at most 20 bytes, in transport
/// parameters too.
#[test]
fn rfc9000_17_2_connection_id_longer_than_20() {
    for id in [0x00, 0x0f, 0x10] {
        assert_eq!(
            decode_err(Side::Server, &param(id, &[3; 21])),
            Error::Malformed(TransportParameterId(id))
        );
        assert!(TransportParameters::decode(Side::Server, &param(id, &[3; 20])).is_ok());
    }
}

/// RFC 9000 §18.2: "A client MUST NOT include any server-only transport
/// parameter ... A server MUST treat receipt of any of these transport
/// parameters as a connection error of type TRANSPORT_PARAMETER_ERROR."
#[test]
fn rfc9000_18_2_server_only_parameters_from_client() {
    let cases = [
        (Id::ORIGINAL_DESTINATION_CONNECTION_ID, param(0x00, &[1, 2])),
        (Id::STATELESS_RESET_TOKEN, param(0x02, &[0; 16])),
        (
            Id::PREFERRED_ADDRESS,
            param(0x0d, &preferred_address_value(&[1])),
        ),
        (Id::RETRY_SOURCE_CONNECTION_ID, param(0x10, &[1, 2])),
    ];
    for (id, bytes) in cases {
        assert!(id.is_server_only());
        assert_eq!(decode_err(Side::Client, &bytes), Error::ServerOnly(id));
        assert!(TransportParameters::decode(Side::Server, &bytes).is_ok());
    }
    // `validate` applies the same rule to parameters we are about to send.
    let params = TransportParameters {
        stateless_reset_token: Some([0; 16]),
        ..TransportParameters::default()
    };
    assert_eq!(
        params.validate(Side::Client),
        Err(Error::ServerOnly(Id::STATELESS_RESET_TOKEN))
    );
    assert_eq!(params.validate(Side::Server), Ok(()));
}

/// RFC 9000 §7.4: "An endpoint SHOULD treat receipt of duplicate transport
/// parameters as a connection error of type TRANSPORT_PARAMETER_ERROR."
#[test]
fn rfc9000_7_4_duplicate_parameters() {
    let cases = [
        (Id::MAX_IDLE_TIMEOUT, param(0x01, &var(10))),
        (Id::DISABLE_ACTIVE_MIGRATION, param(0x0c, &[])),
        (Id::INITIAL_SOURCE_CONNECTION_ID, param(0x0f, &[1])),
        (
            Id::VERSION_INFORMATION,
            param(0x11, &[0, 0, 0, 1, 0, 0, 0, 1]),
        ),
        (Id::MAX_DATAGRAM_FRAME_SIZE, param(0x20, &var(1200))),
        (Id::GREASE_QUIC_BIT, param(0x2ab2, &[])),
    ];
    for (id, bytes) in cases {
        let once = TransportParameters::decode(Side::Client, &bytes);
        assert!(once.is_ok(), "{id:?}");
        // Duplicates are caught even with other parameters in between, and
        // even when the second copy carries a different value.
        let twice = [bytes.clone(), param(0x04, &var(5)), bytes].concat();
        assert_eq!(decode_err(Side::Client, &twice), Error::Duplicate(id));
    }
    let different_values = [param(0x04, &var(1)), param(0x04, &var(2))].concat();
    assert_eq!(
        decode_err(Side::Server, &different_values),
        Error::Duplicate(Id::INITIAL_MAX_DATA)
    );
}

/// RFC 9000 §7.4.2: "An endpoint MUST ignore transport parameters that it does
/// not support", including repeated unknown and reserved ones (RFC 9000
/// §18.1).
#[test]
fn rfc9000_7_4_2_unknown_parameters_ignored() {
    let bytes = [
        param(0x12, &[1, 2, 3]),
        param(27, &[]),
        param(27, &[0xff; 40]),
        param(31 * 1000 + 27, &[5]),
        param(0x21, &[]),
        param(0x3fff_ffff_ffff_ffff, &[1]),
        param(0x04, &var(77)),
        param(0x12, &[4]),
    ]
    .concat();
    for sender in [Side::Client, Side::Server] {
        let params = TransportParameters::decode(sender, &bytes).unwrap();
        assert_eq!(
            params,
            TransportParameters {
                initial_max_data: VarInt::from_u32(77),
                ..TransportParameters::default()
            }
        );
    }
}

/// RFC 9000 §18, Figure 21: the identifier, length and value must all be
/// present.
#[test]
fn rfc9000_18_truncated_input() {
    let cases: [&[u8]; 6] = [
        &[0x40],                                                 // identifier cut short
        &[0x01],                                                 // no length
        &[0x01, 0x40],                                           // length cut short
        &[0x01, 0x02, 0x40],                                     // value shorter than its length
        &[0x04, 0x01, 0x05, 0x0c], // a second parameter without a length
        &[0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], // length 2^62 - 1
    ];
    for bytes in cases {
        assert_eq!(
            decode_err(Side::Client, bytes),
            Error::Truncated,
            "{bytes:?}"
        );
    }
}

/// RFC 9368 §4: "if it is too short or if its length is not divisible by
/// four ... If an endpoint receives a Chosen Version equal to zero, or any
/// Available Version equal to zero, it MUST treat it as a parsing failure",
/// which on QUIC v1 is TRANSPORT_PARAMETER_ERROR.
#[test]
fn rfc9368_4_version_information_parsing_failures() {
    let cases: [&[u8]; 6] = [
        &[],
        &[0, 0, 1],
        &[0, 0, 0, 1, 0, 0, 0, 1, 0], // not a multiple of four
        &[0, 0, 0, 1, 0, 0, 0, 1, 0, 0],
        &[0, 0, 0, 0, 0, 0, 0, 1],             // chosen version zero
        &[0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0], // an available version zero
    ];
    for sender in [Side::Client, Side::Server] {
        for value in cases {
            assert_eq!(
                decode_err(sender, &param(0x11, value)),
                Error::Malformed(Id::VERSION_INFORMATION),
                "{sender:?} {value:?}"
            );
        }
    }
}

/// RFC 9368 §4: "If a server receives Version Information where the Chosen
/// Version is not included in Available Versions, it MUST treat it as a
/// parsing failure." A server's list need not hold its Chosen Version and
/// "MAY be empty" (RFC 9368 §3).
#[test]
fn rfc9368_4_chosen_version_in_client_available_versions() {
    let v1_offering_v2 = [0, 0, 0, 1, 0x6b, 0x33, 0x43, 0xcf];
    assert_eq!(
        decode_err(Side::Client, &param(0x11, &v1_offering_v2)),
        Error::Malformed(Id::VERSION_INFORMATION)
    );
    let params = TransportParameters::decode(Side::Server, &param(0x11, &v1_offering_v2)).unwrap();
    let info = params.version_information.unwrap();
    assert_eq!(info.chosen_version, Version::V1);
    assert_eq!(info.available_versions().collect::<Vec<_>>(), [Version::V2]);

    let empty = TransportParameters::decode(Side::Server, &param(0x11, &[0, 0, 0, 1])).unwrap();
    assert_eq!(
        empty
            .version_information
            .unwrap()
            .available_versions()
            .len(),
        0
    );
    assert_eq!(
        decode_err(Side::Client, &param(0x11, &[0, 0, 0, 1])),
        Error::Malformed(Id::VERSION_INFORMATION)
    );

    // A client listing a reserved version (RFC 9368 §3) and its chosen one.
    let client = [0, 0, 0, 1, 0x1a, 0x2a, 0x3a, 0x4a, 0, 0, 0, 1];
    let params = TransportParameters::decode(Side::Client, &param(0x11, &client)).unwrap();
    assert_eq!(
        params.version_information.unwrap(),
        VersionInformation::new(Version::V1, &[Version(0x1a2a_3a4a), Version::V1])
    );
}

/// RFC 9000 §18.1: a reserved parameter we send is written as given and
/// ignored by the receiver.
#[test]
fn rfc9000_18_1_grease_parameter_round_trip_is_ignored() {
    let grease = ReservedParameter::from_index(3, Bytes::from_static(b"hello")).unwrap();
    assert_eq!(grease.id(), TransportParameterId(31 * 3 + 27));
    assert!(grease.id().is_reserved());
    let params = TransportParameters {
        initial_max_data: VarInt::from_u32(1000),
        grease: Some(grease),
        ..TransportParameters::default()
    };
    let bytes = encode(&params);
    assert!(bytes.ends_with(&[0x40, 120, 5, b'h', b'e', b'l', b'l', b'o']));
    let decoded = TransportParameters::decode(Side::Client, &bytes).unwrap();
    assert_eq!(decoded.grease, None);
    assert_eq!(
        decoded,
        TransportParameters {
            grease: None,
            ..params
        }
    );
}

#[test]
fn reserved_parameter_constructors() {
    assert!(ReservedParameter::new(VarInt::from_u32(27), Bytes::new()).is_some());
    assert!(ReservedParameter::new(VarInt::from_u32(58), Bytes::new()).is_some());
    assert!(ReservedParameter::new(VarInt::from_u32(28), Bytes::new()).is_none());
    assert!(ReservedParameter::from_index(u64::MAX, Bytes::new()).is_none());
    assert!(ReservedParameter::from_index(1 << 60, Bytes::new()).is_none());
    let largest = ((1u64 << 62) - 1 - 27) / 31;
    let grease = ReservedParameter::from_index(largest, Bytes::new()).unwrap();
    assert!(grease.id().0 < 1 << 62);
}

#[test]
fn error_display_names_the_parameter() {
    let err = TransportError::from(Error::Duplicate(Id::MAX_ACK_DELAY));
    assert_eq!(
        err.to_string(),
        "TRANSPORT_PARAMETER_ERROR: duplicate max_ack_delay"
    );
    assert_eq!(Error::Truncated.parameter(), None);
    assert_eq!(
        format!("{:?}", Id::GREASE_QUIC_BIT),
        "grease_quic_bit(0x2ab2)"
    );
    assert_eq!(TransportParameterId(0x99).name(), None);
}

/// RFC 9000 §7.3, Figure 7: a handshake without Retry.
#[test]
fn rfc9000_7_3_connection_ids_without_retry() {
    let (s1, c1, s3) = (cid(b"S1"), cid(b"C1"), cid(b"S3"));
    let client = TransportParameters {
        initial_source_connection_id: Some(c1),
        ..TransportParameters::default()
    };
    let expected_client = ExpectedConnectionIds::Client { initial_source: c1 };
    assert_eq!(client.validate_connection_ids(&expected_client), Ok(()));
    let wrong = ExpectedConnectionIds::Client { initial_source: s1 };
    assert_eq!(
        client.validate_connection_ids(&wrong),
        Err(Error::Mismatch(Id::INITIAL_SOURCE_CONNECTION_ID))
    );
    assert_eq!(
        TransportParameters::default().validate_connection_ids(&expected_client),
        Err(Error::Missing(Id::INITIAL_SOURCE_CONNECTION_ID))
    );

    let server = TransportParameters {
        original_destination_connection_id: Some(s1),
        initial_source_connection_id: Some(s3),
        ..TransportParameters::default()
    };
    let expected_server = ExpectedConnectionIds::Server {
        initial_source: s3,
        original_destination: s1,
        retry_source: None,
    };
    assert_eq!(server.validate_connection_ids(&expected_server), Ok(()));
    let no_odcid = TransportParameters {
        original_destination_connection_id: None,
        ..server.clone()
    };
    assert_eq!(
        no_odcid.validate_connection_ids(&expected_server),
        Err(Error::Missing(Id::ORIGINAL_DESTINATION_CONNECTION_ID))
    );
    // "presence of the retry_source_connection_id transport parameter when
    // no Retry packet was received"
    let unexpected_retry = TransportParameters {
        retry_source_connection_id: Some(cid(b"S2")),
        ..server
    };
    assert_eq!(
        unexpected_retry.validate_connection_ids(&expected_server),
        Err(Error::Mismatch(Id::RETRY_SOURCE_CONNECTION_ID))
    );
}

/// RFC 9000 §7.3, Figure 8: a handshake with Retry.
#[test]
fn rfc9000_7_3_connection_ids_with_retry() {
    let (s1, s2, s3) = (cid(b"S1"), cid(b"S2"), cid(b"S3"));
    let server = TransportParameters {
        original_destination_connection_id: Some(s1),
        retry_source_connection_id: Some(s2),
        initial_source_connection_id: Some(s3),
        ..TransportParameters::default()
    };
    let expected = ExpectedConnectionIds::Server {
        initial_source: s3,
        original_destination: s1,
        retry_source: Some(s2),
    };
    assert_eq!(server.validate_connection_ids(&expected), Ok(()));
    let missing = TransportParameters {
        retry_source_connection_id: None,
        ..server.clone()
    };
    assert_eq!(
        missing.validate_connection_ids(&expected),
        Err(Error::Missing(Id::RETRY_SOURCE_CONNECTION_ID))
    );
    let wrong_odcid = TransportParameters {
        original_destination_connection_id: Some(s2),
        ..server
    };
    assert_eq!(
        wrong_odcid.validate_connection_ids(&expected),
        Err(Error::Mismatch(Id::ORIGINAL_DESTINATION_CONNECTION_ID))
    );
}

/// `validate` catches local configurations the peer would reject.
#[test]
fn validate_local_configuration() {
    let bad = [
        TransportParameters {
            max_ack_delay: Duration::from_millis(1 << 14),
            ..TransportParameters::default()
        },
        TransportParameters {
            ack_delay_exponent: 21,
            ..TransportParameters::default()
        },
        TransportParameters {
            max_idle_timeout: Duration::MAX,
            ..TransportParameters::default()
        },
    ];
    for params in bad {
        assert!(matches!(
            params.validate(Side::Server),
            Err(Error::InvalidValue(_))
        ));
    }
    let zero_chosen = TransportParameters {
        version_information: Some(VersionInformation::new(Version(0), &[])),
        ..TransportParameters::default()
    };
    assert_eq!(
        zero_chosen.validate(Side::Server),
        Err(Error::Malformed(Id::VERSION_INFORMATION))
    );
}

prop_compose! {
    fn arb_cid()(bytes in proptest::collection::vec(any::<u8>(), 0..=20)) -> ConnectionId {
        ConnectionId::new(&bytes).unwrap()
    }
}

prop_compose! {
    fn arb_varint()(value in prop_oneof![0u64..64, 0u64..16384, 0u64..(1 << 30), 0u64..(1 << 62)])
        -> VarInt {
        VarInt::from_u64(value).unwrap()
    }
}

prop_compose! {
    fn arb_preferred_address()(
        ipv4 in proptest::option::of((any::<u32>(), 1u16..)),
        ipv6 in proptest::option::of((any::<u128>(), 1u16..)),
        cid in proptest::collection::vec(any::<u8>(), 1..=20),
        token in any::<[u8; 16]>(),
    ) -> PreferredAddress {
        PreferredAddress {
            ipv4: ipv4.map(|(ip, port)| SocketAddrV4::new(ip.into(), port)),
            ipv6: ipv6.map(|(ip, port)| SocketAddrV6::new(ip.into(), port, 0, 0)),
            connection_id: ConnectionId::new(&cid).unwrap(),
            stateless_reset_token: token,
        }
    }
}

prop_compose! {
    /// Version Information valid for either sender: the chosen version is
    /// listed (a client must list it) and no version is zero.
    fn arb_version_information()(
        chosen in 1u32..,
        others in proptest::collection::vec(1u32.., 0..8),
        position in any::<prop::sample::Index>(),
    ) -> VersionInformation {
        let mut versions: Vec<Version> = others.into_iter().map(Version).collect();
        let at = position.index(versions.len() + 1);
        versions.insert(at, Version(chosen));
        VersionInformation::new(Version(chosen), &versions)
    }
}

prop_compose! {
    /// Integer and flag parameters, valid for both sides.
    fn arb_common()(
        idle_ms in 0u64..(1 << 62),
        max_udp in 1200u64..(1 << 62),
        flow in [arb_varint(), arb_varint(), arb_varint(), arb_varint()],
        streams in [0u64..=(1 << 60), 0u64..=(1 << 60)],
        ack_delay_exponent in 0u8..=20,
        max_ack_delay_ms in 0u64..(1 << 14),
        flags in any::<(bool, bool)>(),
        acid_limit in 2u64..(1 << 62),
        datagram in arb_varint(),
    ) -> TransportParameters {
        TransportParameters {
            max_idle_timeout: Duration::from_millis(idle_ms),
            max_udp_payload_size: VarInt::from_u64(max_udp).unwrap(),
            initial_max_data: flow[0],
            initial_max_stream_data_bidi_local: flow[1],
            initial_max_stream_data_bidi_remote: flow[2],
            initial_max_stream_data_uni: flow[3],
            initial_max_streams_bidi: VarInt::from_u64(streams[0]).unwrap(),
            initial_max_streams_uni: VarInt::from_u64(streams[1]).unwrap(),
            ack_delay_exponent,
            max_ack_delay: Duration::from_millis(max_ack_delay_ms),
            disable_active_migration: flags.0,
            grease_quic_bit: flags.1,
            active_connection_id_limit: VarInt::from_u64(acid_limit).unwrap(),
            max_datagram_frame_size: datagram,
            ..TransportParameters::default()
        }
    }
}

/// Any valid parameter set `sender` may send. Server-only parameters appear
/// only for a server.
fn arb_params(sender: Side) -> impl Strategy<Value = TransportParameters> {
    let server = sender.is_server();
    (
        arb_common(),
        proptest::option::of(arb_cid()),
        proptest::option::of(arb_version_information()),
        proptest::option::of(arb_cid()),
        proptest::option::of(arb_cid()),
        proptest::option::of(any::<[u8; 16]>()),
        proptest::option::of(arb_preferred_address()),
    )
        .prop_map(move |(common, iscid, info, odcid, rscid, token, address)| {
            let mut params = TransportParameters {
                initial_source_connection_id: iscid,
                version_information: info,
                ..common
            };
            if server {
                params.original_destination_connection_id = odcid;
                params.retry_source_connection_id = rscid;
                params.stateless_reset_token = token;
                // RFC 9000 §18.2: no preferred address with a zero-length
                // server connection ID.
                if !iscid.is_some_and(|cid| cid.is_empty()) {
                    params.preferred_address = address;
                }
            }
            params
        })
}

fn arb_side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::Client), Just(Side::Server)]
}

proptest! {
    /// Every valid parameter set survives encoding and decoding, and
    /// `encoded_len` is exact; a reserved parameter is dropped on decode.
    #[test]
    fn round_trip(
        (sender, params) in arb_side().prop_flat_map(|side| (Just(side), arb_params(side))),
        grease in proptest::option::of((0u64..1000, proptest::collection::vec(any::<u8>(), 0..32))),
    ) {
        prop_assert_eq!(params.validate(sender), Ok(()));
        let with_grease = TransportParameters {
            grease: grease.map(|(n, value)| {
                ReservedParameter::from_index(n, value.into()).unwrap()
            }),
            ..params.clone()
        };
        let bytes = encode(&with_grease);
        let decoded = TransportParameters::decode(sender, &bytes).unwrap();
        prop_assert_eq!(decoded, params);
    }

    /// Arbitrary bytes never panic, and whatever decodes re-encodes to
    /// something that decodes to the same parameters.
    #[test]
    fn arbitrary_bytes_never_panic(
        sender in arb_side(),
        bytes in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        if let Ok(params) = TransportParameters::decode(sender, &bytes) {
            let again = TransportParameters::decode(sender, &encode(&params));
            prop_assert_eq!(again, Ok(params));
        }
    }

    /// Well-framed parameters with known identifiers and arbitrary values
    /// reach every value parser; none panics, and what decodes re-encodes.
    #[test]
    fn arbitrary_values_never_panic(
        sender in arb_side(),
        fields in proptest::collection::vec(
            (
                prop_oneof![0u64..=0x11, Just(0x20), Just(0x2ab2), 0u64..100],
                proptest::collection::vec(any::<u8>(), 0..64),
            ),
            0..8,
        ),
    ) {
        let bytes: Vec<u8> = fields.iter().flat_map(|(id, value)| param(*id, value)).collect();
        if let Ok(params) = TransportParameters::decode(sender, &bytes) {
            let again = TransportParameters::decode(sender, &encode(&params));
            prop_assert_eq!(again, Ok(params));
        }
    }
}
