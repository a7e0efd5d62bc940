//! The QUIC transport parameters extension (RFC 9000 §7.4, §18), with the
//! parameters of RFC 9221 §3 (`max_datagram_frame_size`), RFC 9368 §3
//! (`version_information`) and RFC 9287 §3 (`grease_quic_bit`).
//!
//! The extension's data is a sequence of (identifier, length, value) tuples:
//!
//! ```text
//! Transport Parameters {
//!   Transport Parameter (..) ...,
//! }
//!
//! Transport Parameter {
//!   Transport Parameter ID (i),
//!   Transport Parameter Length (i),
//!   Transport Parameter Value (..),
//! }
//! ```
//! RFC 9000 §18, Figures 20 and 21.
//!
//! [`TransportParameters::decode`] parses and validates everything a single
//! parameter set can show: framing, duplicates, server-only parameters sent by
//! a client, value ranges and value encodings. Checks that need the
//! connection's state are the connection's job:
//!
//! - the connection IDs of RFC 9000 §7.3 (`initial_source_connection_id`,
//!   `original_destination_connection_id`, `retry_source_connection_id`),
//!   which [`TransportParameters::validate_connection_ids`] performs given
//!   the IDs seen in the handshake's packets;
//! - version negotiation (RFC 9368 §4): the client's Chosen Version must equal
//!   the version in use, and the server's must be one the client offered and
//!   equal the negotiated version; mismatches are VERSION_NEGOTIATION_ERROR;
//! - 0-RTT (RFC 9000 §7.4.1, RFC 9221 §3): a server accepting 0-RTT must not
//!   lower the remembered limits, and a client must not reuse remembered
//!   values of the parameters §7.4.1 lists.

mod decode;
mod encode;
mod error;
mod id;
mod preferred_address;
mod validate;
mod version_info;

#[cfg(test)]
mod tests;

use std::time::Duration;

use bytes::Bytes;

pub use self::error::TransportParameterError;
pub use self::id::TransportParameterId;
pub use self::preferred_address::PreferredAddress;
pub use self::validate::ExpectedConnectionIds;
pub use self::version_info::VersionInformation;
use crate::cid::ConnectionId;
use crate::coding::{UnexpectedEnd, VarInt};

/// The length of a stateless reset token (RFC 9000 §10.3).
pub const RESET_TOKEN_LEN: usize = 16;

/// One endpoint's transport parameters (RFC 9000 §18.2).
///
/// [`Default`] gives every parameter its default: the value an endpoint
/// assumes when the parameter is absent. [`encode`](Self::encode) writes only
/// the parameters that differ from their defaults.
///
/// Durations travel as whole milliseconds; a sub-millisecond remainder is
/// dropped when encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportParameters {
    /// The Destination Connection ID of the client's first Initial
    /// (RFC 9000 §7.3). Server only.
    pub original_destination_connection_id: Option<ConnectionId>,
    /// The idle timeout; zero disables it (RFC 9000 §10.1).
    pub max_idle_timeout: Duration,
    /// The stateless reset token for the connection ID the server chose in the
    /// handshake (RFC 9000 §10.3). Server only.
    pub stateless_reset_token: Option<[u8; RESET_TOKEN_LEN]>,
    /// The largest UDP payload the sender is willing to receive; at least
    /// 1200, default 65527.
    pub max_udp_payload_size: VarInt,
    /// The initial connection-level flow control limit (RFC 9000 §4.1).
    pub initial_max_data: VarInt,
    /// The initial flow control limit for bidirectional streams the sender
    /// opens.
    pub initial_max_stream_data_bidi_local: VarInt,
    /// The initial flow control limit for bidirectional streams the receiver
    /// opens.
    pub initial_max_stream_data_bidi_remote: VarInt,
    /// The initial flow control limit for unidirectional streams the receiver
    /// opens.
    pub initial_max_stream_data_uni: VarInt,
    /// How many bidirectional streams the receiver may open; at most 2^60
    /// (RFC 9000 §4.6).
    pub initial_max_streams_bidi: VarInt,
    /// How many unidirectional streams the receiver may open; at most 2^60
    /// (RFC 9000 §4.6).
    pub initial_max_streams_uni: VarInt,
    /// The exponent scaling the ACK Delay field of the sender's ACK frames; at
    /// most 20, default 3.
    pub ack_delay_exponent: u8,
    /// The longest the sender delays an acknowledgment; below 2^14 ms,
    /// default 25 ms.
    pub max_ack_delay: Duration,
    /// The sender does not support active migration (RFC 9000 §9).
    pub disable_active_migration: bool,
    /// The server's preferred address (RFC 9000 §9.6). Server only.
    pub preferred_address: Option<PreferredAddress>,
    /// How many of the peer's connection IDs the sender stores; at least 2,
    /// default 2.
    pub active_connection_id_limit: VarInt,
    /// The Source Connection ID of the sender's first Initial (RFC 9000 §7.3).
    pub initial_source_connection_id: Option<ConnectionId>,
    /// The Source Connection ID of the server's Retry (RFC 9000 §7.3). Server
    /// only.
    pub retry_source_connection_id: Option<ConnectionId>,
    /// The largest DATAGRAM frame the sender will receive; zero (the default)
    /// means DATAGRAM frames are not supported (RFC 9221 §3).
    pub max_datagram_frame_size: VarInt,
    /// Version Information (RFC 9368 §3).
    pub version_information: Option<VersionInformation>,
    /// The sender accepts packets with the QUIC Bit cleared (RFC 9287 §3).
    pub grease_quic_bit: bool,
    /// A reserved parameter to send, exercising the peer's handling of unknown
    /// parameters (RFC 9000 §18.1). The caller picks its identifier and
    /// contents; decoding ignores reserved parameters and leaves this `None`.
    pub grease: Option<ReservedParameter>,
}

impl TransportParameters {
    /// The default `max_udp_payload_size`, the largest UDP payload
    /// (RFC 9000 §18.2).
    pub const DEFAULT_MAX_UDP_PAYLOAD_SIZE: VarInt = VarInt::from_u32(65527);
    /// The smallest valid `max_udp_payload_size` (RFC 9000 §18.2).
    pub const MIN_MAX_UDP_PAYLOAD_SIZE: VarInt = VarInt::from_u32(1200);
    /// The default `ack_delay_exponent` (RFC 9000 §18.2).
    pub const DEFAULT_ACK_DELAY_EXPONENT: u8 = 3;
    /// The largest valid `ack_delay_exponent` (RFC 9000 §18.2).
    pub const MAX_ACK_DELAY_EXPONENT: u8 = 20;
    /// The default `max_ack_delay` (RFC 9000 §18.2).
    pub const DEFAULT_MAX_ACK_DELAY: Duration = Duration::from_millis(25);
    /// `max_ack_delay` must be below 2^14 milliseconds (RFC 9000 §18.2).
    pub const MAX_ACK_DELAY_LIMIT_MS: u64 = 1 << 14;
    /// The default and smallest valid `active_connection_id_limit`
    /// (RFC 9000 §18.2).
    pub const MIN_ACTIVE_CONNECTION_ID_LIMIT: VarInt = VarInt::from_u32(2);
    /// The largest valid `initial_max_streams_bidi`/`_uni` (RFC 9000 §4.6).
    pub const MAX_STREAMS_LIMIT: u64 = 1 << 60;
}

impl Default for TransportParameters {
    /// The values RFC 9000 §18.2 assigns to absent parameters.
    fn default() -> Self {
        Self {
            original_destination_connection_id: None,
            max_idle_timeout: Duration::ZERO,
            stateless_reset_token: None,
            max_udp_payload_size: Self::DEFAULT_MAX_UDP_PAYLOAD_SIZE,
            initial_max_data: VarInt::ZERO,
            initial_max_stream_data_bidi_local: VarInt::ZERO,
            initial_max_stream_data_bidi_remote: VarInt::ZERO,
            initial_max_stream_data_uni: VarInt::ZERO,
            initial_max_streams_bidi: VarInt::ZERO,
            initial_max_streams_uni: VarInt::ZERO,
            ack_delay_exponent: Self::DEFAULT_ACK_DELAY_EXPONENT,
            max_ack_delay: Self::DEFAULT_MAX_ACK_DELAY,
            disable_active_migration: false,
            preferred_address: None,
            active_connection_id_limit: Self::MIN_ACTIVE_CONNECTION_ID_LIMIT,
            initial_source_connection_id: None,
            retry_source_connection_id: None,
            max_datagram_frame_size: VarInt::ZERO,
            version_information: None,
            grease_quic_bit: false,
            grease: None,
        }
    }
}

/// A reserved transport parameter (RFC 9000 §18.1): an identifier of the form
/// `31 * N + 27` with arbitrary contents and no meaning. Sending one checks
/// that the peer ignores parameters it does not know (RFC 9000 §7.4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReservedParameter {
    id: VarInt,
    value: Bytes,
}

impl ReservedParameter {
    /// A reserved parameter with identifier `id` and contents `value`, or
    /// `None` if `id` is not of the form `31 * N + 27`.
    pub fn new(id: VarInt, value: Bytes) -> Option<Self> {
        TransportParameterId(id.into_inner())
            .is_reserved()
            .then_some(Self { id, value })
    }

    /// The reserved parameter with identifier `31 * n + 27`, or `None` if that
    /// identifier does not fit in a varint.
    pub fn from_index(n: u64, value: Bytes) -> Option<Self> {
        let id = n.checked_mul(31)?.checked_add(27)?;
        Some(Self {
            id: VarInt::from_u64(id).ok()?,
            value,
        })
    }

    /// The identifier.
    pub fn id(&self) -> TransportParameterId {
        TransportParameterId(self.id.into_inner())
    }

    /// The contents.
    pub fn value(&self) -> &Bytes {
        &self.value
    }
}

/// A parameter's value does not parse or does not fill its declared length;
/// the decoder attaches the parameter's identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Malformed;

impl From<UnexpectedEnd> for Malformed {
    fn from(_: UnexpectedEnd) -> Self {
        Self
    }
}

impl From<crate::cid::DecodeCidError> for Malformed {
    fn from(_: crate::cid::DecodeCidError) -> Self {
        Self
    }
}
