//! Parsing a peer's transport parameters (RFC 9000 §7.4, §18).

use std::time::Duration;

use super::{
    Malformed, PreferredAddress, RESET_TOKEN_LEN, TransportParameterError, TransportParameterId,
    TransportParameters, VersionInformation,
};
use crate::cid::ConnectionId;
use crate::coding::{BufExt, VarInt};
use crate::shared::Side;

impl TransportParameters {
    /// Parses and validates the transport parameters that `sender` sent.
    ///
    /// - Parameters this crate does not know, including reserved ones, are
    ///   skipped (RFC 9000 §7.4.2: "An endpoint MUST ignore transport
    ///   parameters that it does not support").
    /// - A known parameter seen twice is an error (RFC 9000 §7.4). Duplicate
    ///   detection uses a bitset over the known identifiers, so an unknown
    ///   identifier repeated any number of times costs nothing and is not
    ///   reported.
    /// - A client sending a server-only parameter is an error (RFC 9000
    ///   §18.2).
    /// - Then [`validate`](Self::validate) checks the values.
    ///
    /// Decoding never panics and allocates only for `version_information`,
    /// whose Available Versions are copied (at most the input's length).
    pub fn decode(sender: Side, input: &[u8]) -> Result<Self, TransportParameterError> {
        let mut params = Self::default();
        let mut seen: u32 = 0;
        let mut input = input;
        while !input.is_empty() {
            let (id, value) = next_parameter(&mut input)?;
            let Some(bit) = id.known_bit() else {
                continue;
            };
            if seen & (1 << bit) != 0 {
                return Err(TransportParameterError::Duplicate(id));
            }
            seen |= 1 << bit;
            if sender.is_client() && id.is_server_only() {
                return Err(TransportParameterError::ServerOnly(id));
            }
            params
                .set(id, value)
                .map_err(|Malformed| TransportParameterError::Malformed(id))?;
        }
        params.validate(sender)?;
        Ok(params)
    }

    /// Stores one known parameter's value.
    fn set(&mut self, id: TransportParameterId, value: &[u8]) -> Result<(), Malformed> {
        type Id = TransportParameterId;
        match id {
            Id::ORIGINAL_DESTINATION_CONNECTION_ID => {
                self.original_destination_connection_id = Some(connection_id(value)?);
            }
            Id::MAX_IDLE_TIMEOUT => self.max_idle_timeout = millis(value)?,
            Id::STATELESS_RESET_TOKEN => {
                let token = <[u8; RESET_TOKEN_LEN]>::try_from(value).map_err(|_| Malformed)?;
                self.stateless_reset_token = Some(token);
            }
            Id::MAX_UDP_PAYLOAD_SIZE => self.max_udp_payload_size = integer(value)?,
            Id::INITIAL_MAX_DATA => self.initial_max_data = integer(value)?,
            Id::INITIAL_MAX_STREAM_DATA_BIDI_LOCAL => {
                self.initial_max_stream_data_bidi_local = integer(value)?;
            }
            Id::INITIAL_MAX_STREAM_DATA_BIDI_REMOTE => {
                self.initial_max_stream_data_bidi_remote = integer(value)?;
            }
            Id::INITIAL_MAX_STREAM_DATA_UNI => self.initial_max_stream_data_uni = integer(value)?,
            Id::INITIAL_MAX_STREAMS_BIDI => self.initial_max_streams_bidi = integer(value)?,
            Id::INITIAL_MAX_STREAMS_UNI => self.initial_max_streams_uni = integer(value)?,
            Id::ACK_DELAY_EXPONENT => {
                // Saturate: anything above 255 is as invalid as 21, and
                // `validate` reports it as an invalid value.
                let exponent = integer(value)?.into_inner();
                self.ack_delay_exponent = u8::try_from(exponent).unwrap_or(u8::MAX);
            }
            Id::MAX_ACK_DELAY => self.max_ack_delay = millis(value)?,
            Id::DISABLE_ACTIVE_MIGRATION => self.disable_active_migration = empty(value)?,
            Id::PREFERRED_ADDRESS => {
                self.preferred_address = Some(PreferredAddress::decode(value)?);
            }
            Id::ACTIVE_CONNECTION_ID_LIMIT => self.active_connection_id_limit = integer(value)?,
            Id::INITIAL_SOURCE_CONNECTION_ID => {
                self.initial_source_connection_id = Some(connection_id(value)?);
            }
            Id::RETRY_SOURCE_CONNECTION_ID => {
                self.retry_source_connection_id = Some(connection_id(value)?);
            }
            Id::VERSION_INFORMATION => {
                self.version_information = Some(VersionInformation::decode(value)?);
            }
            Id::MAX_DATAGRAM_FRAME_SIZE => self.max_datagram_frame_size = integer(value)?,
            Id::GREASE_QUIC_BIT => self.grease_quic_bit = empty(value)?,
            // `decode` only passes identifiers with a duplicate-detection bit,
            // which are exactly the arms above.
            _ => {}
        }
        Ok(())
    }
}

/// Splits the next (identifier, value) off `input` (RFC 9000 §18, Figure 21),
/// checking the declared length against what remains.
fn next_parameter<'a>(
    input: &mut &'a [u8],
) -> Result<(TransportParameterId, &'a [u8]), TransportParameterError> {
    let id = input
        .get_var()
        .map_err(|_| TransportParameterError::Truncated)?;
    let len = input
        .get_var()
        .map_err(|_| TransportParameterError::Truncated)?;
    let (value, rest) = usize::try_from(len)
        .ok()
        .and_then(|len| input.split_at_checked(len))
        .ok_or(TransportParameterError::Truncated)?;
    *input = rest;
    Ok((TransportParameterId(id), value))
}

/// An integer parameter: one varint filling the value exactly (RFC 9000
/// §18.2: "Those transport parameters that are identified as integers use a
/// variable-length integer encoding").
fn integer(value: &[u8]) -> Result<VarInt, Malformed> {
    let mut input = value;
    let integer = VarInt::decode(&mut input)?;
    if !input.is_empty() {
        return Err(Malformed);
    }
    Ok(integer)
}

/// An integer parameter counting milliseconds.
fn millis(value: &[u8]) -> Result<Duration, Malformed> {
    Ok(Duration::from_millis(integer(value)?.into_inner()))
}

/// A flag parameter, present with a zero-length value (RFC 9000 §18.2
/// `disable_active_migration`; RFC 9287 §3: "an endpoint that understands
/// this transport parameter MUST treat receipt of a non-empty value of the
/// transport parameter as a connection error").
fn empty(value: &[u8]) -> Result<bool, Malformed> {
    if value.is_empty() {
        Ok(true)
    } else {
        Err(Malformed)
    }
}

/// A connection ID parameter: the whole value, at most 20 bytes (RFC 9000
/// §17.2).
fn connection_id(value: &[u8]) -> Result<ConnectionId, Malformed> {
    ConnectionId::new(value).map_err(|_| Malformed)
}
