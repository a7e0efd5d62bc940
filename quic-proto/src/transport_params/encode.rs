//! Writing our transport parameters (RFC 9000 §18).

use std::time::Duration;

use bytes::BufMut;

use super::{PreferredAddress, TransportParameterId, TransportParameters, VersionInformation};
use crate::cid::ConnectionId;
use crate::coding::{BufMutExt, VarInt};

/// The value of one parameter about to be written.
enum Value<'a> {
    /// A varint filling the value.
    Integer(VarInt),
    /// A flag: present, with a zero-length value.
    Empty,
    /// Raw bytes: connection IDs, tokens, reserved parameters.
    Bytes(&'a [u8]),
    /// RFC 9000 §18.2, Figure 22.
    PreferredAddress(&'a PreferredAddress),
    /// RFC 9368 §3, Figure 2.
    VersionInformation(&'a VersionInformation),
}

impl Value<'_> {
    fn len(&self) -> usize {
        match self {
            Self::Integer(value) => value.size(),
            Self::Empty => 0,
            Self::Bytes(bytes) => bytes.len(),
            Self::PreferredAddress(address) => address.encoded_len(),
            Self::VersionInformation(info) => info.encoded_len(),
        }
    }

    fn write<B: BufMut>(&self, out: &mut B) {
        match self {
            Self::Integer(value) => out.put_var(*value),
            Self::Empty => {}
            Self::Bytes(bytes) => out.put_slice(bytes),
            Self::PreferredAddress(address) => address.encode(out),
            Self::VersionInformation(info) => info.encode(out),
        }
    }
}

/// The length field of a value. Values come from memory, so their lengths fit
/// a varint; saturating keeps this total.
fn length(value: &Value<'_>) -> VarInt {
    VarInt::try_from(value.len()).unwrap_or(VarInt::MAX)
}

impl TransportParameters {
    /// Appends every parameter that differs from its default (RFC 9000 §18),
    /// then the reserved [`grease`](Self::grease) parameter if one is set.
    ///
    /// Encoding does not check the values: run [`validate`](Self::validate)
    /// with our side first (it is what the peer will run). Durations are
    /// written in whole milliseconds, saturating at the varint maximum.
    pub fn encode<B: BufMut>(&self, out: &mut B) {
        self.for_each_parameter(|id, value| {
            out.put_var(id.to_varint());
            out.put_var(length(&value));
            value.write(out);
        });
    }

    /// The number of bytes [`encode`](Self::encode) writes.
    pub fn encoded_len(&self) -> usize {
        let mut len = 0usize;
        self.for_each_parameter(|id, value| {
            len = len
                .saturating_add(id.to_varint().size())
                .saturating_add(length(&value).size())
                .saturating_add(value.len());
        });
        len
    }

    /// Calls `emit` for each parameter to send, in identifier order, with the
    /// reserved parameter last.
    fn for_each_parameter(&self, mut emit: impl FnMut(TransportParameterId, Value<'_>)) {
        for (id, value) in self.known_parameters() {
            if let Some(value) = value {
                emit(id, value);
            }
        }
        if let Some(grease) = &self.grease {
            emit(grease.id(), Value::Bytes(grease.value()));
        }
    }

    /// Every known parameter with its value, or `None` where it is absent or
    /// has its default value and so is not sent. A table, one row per
    /// parameter.
    fn known_parameters(&self) -> [(TransportParameterId, Option<Value<'_>>); 20] {
        type Id = TransportParameterId;
        [
            (
                Id::ORIGINAL_DESTINATION_CONNECTION_ID,
                cid(self.original_destination_connection_id.as_ref()),
            ),
            (
                Id::MAX_IDLE_TIMEOUT,
                duration(self.max_idle_timeout, Duration::ZERO),
            ),
            (
                Id::STATELESS_RESET_TOKEN,
                self.stateless_reset_token.as_ref().map(|t| Value::Bytes(t)),
            ),
            (
                Id::MAX_UDP_PAYLOAD_SIZE,
                integer(
                    self.max_udp_payload_size,
                    Self::DEFAULT_MAX_UDP_PAYLOAD_SIZE,
                ),
            ),
            (
                Id::INITIAL_MAX_DATA,
                integer(self.initial_max_data, VarInt::ZERO),
            ),
            (
                Id::INITIAL_MAX_STREAM_DATA_BIDI_LOCAL,
                integer(self.initial_max_stream_data_bidi_local, VarInt::ZERO),
            ),
            (
                Id::INITIAL_MAX_STREAM_DATA_BIDI_REMOTE,
                integer(self.initial_max_stream_data_bidi_remote, VarInt::ZERO),
            ),
            (
                Id::INITIAL_MAX_STREAM_DATA_UNI,
                integer(self.initial_max_stream_data_uni, VarInt::ZERO),
            ),
            (
                Id::INITIAL_MAX_STREAMS_BIDI,
                integer(self.initial_max_streams_bidi, VarInt::ZERO),
            ),
            (
                Id::INITIAL_MAX_STREAMS_UNI,
                integer(self.initial_max_streams_uni, VarInt::ZERO),
            ),
            (
                Id::ACK_DELAY_EXPONENT,
                integer(
                    self.ack_delay_exponent.into(),
                    Self::DEFAULT_ACK_DELAY_EXPONENT.into(),
                ),
            ),
            (
                Id::MAX_ACK_DELAY,
                duration(self.max_ack_delay, Self::DEFAULT_MAX_ACK_DELAY),
            ),
            (
                Id::DISABLE_ACTIVE_MIGRATION,
                flag(self.disable_active_migration),
            ),
            (
                Id::PREFERRED_ADDRESS,
                self.preferred_address.as_ref().map(Value::PreferredAddress),
            ),
            (
                Id::ACTIVE_CONNECTION_ID_LIMIT,
                integer(
                    self.active_connection_id_limit,
                    Self::MIN_ACTIVE_CONNECTION_ID_LIMIT,
                ),
            ),
            (
                Id::INITIAL_SOURCE_CONNECTION_ID,
                cid(self.initial_source_connection_id.as_ref()),
            ),
            (
                Id::RETRY_SOURCE_CONNECTION_ID,
                cid(self.retry_source_connection_id.as_ref()),
            ),
            (
                Id::VERSION_INFORMATION,
                self.version_information
                    .as_ref()
                    .map(Value::VersionInformation),
            ),
            (
                Id::MAX_DATAGRAM_FRAME_SIZE,
                integer(self.max_datagram_frame_size, VarInt::ZERO),
            ),
            (Id::GREASE_QUIC_BIT, flag(self.grease_quic_bit)),
        ]
    }
}

/// An integer parameter, sent unless it has its default value.
fn integer(value: VarInt, default: VarInt) -> Option<Value<'static>> {
    (value != default).then_some(Value::Integer(value))
}

/// A millisecond parameter, sent unless it has its default value.
fn duration(value: Duration, default: Duration) -> Option<Value<'static>> {
    integer(millis(value), millis(default))
}

/// A flag parameter, sent when set.
fn flag(set: bool) -> Option<Value<'static>> {
    set.then_some(Value::Empty)
}

/// A connection ID parameter, sent when present (a zero-length ID is sent
/// with a zero-length value, RFC 9000 §7.3).
fn cid(cid: Option<&ConnectionId>) -> Option<Value<'_>> {
    cid.map(|cid| Value::Bytes(cid))
}

/// Whole milliseconds, saturating at the varint maximum.
fn millis(duration: Duration) -> VarInt {
    VarInt::saturating_from_u64(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX))
}
