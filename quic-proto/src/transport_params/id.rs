//! Transport parameter identifiers (RFC 9000 §18.2, §22.3; RFC 9221 §3;
//! RFC 9368 §3; RFC 9287 §3).

use std::fmt;

use crate::coding::VarInt;

/// A transport parameter identifier, the first field of each
/// `Transport Parameter` (RFC 9000 §18, Figure 21).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransportParameterId(pub u64);

macro_rules! known_ids {
    ($($(#[$doc:meta])* $name:ident = $value:literal, $text:literal, bit $bit:literal;)*) => {
        impl TransportParameterId {
            $($(#[$doc])* pub const $name: Self = Self($value);)*

            /// The registered name (`"max_idle_timeout"`, ...) of a parameter
            /// this crate understands, or `None` for any other identifier.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($value => Some($text),)*
                    _ => None,
                }
            }

            /// The parameter's bit in the duplicate-detection set, or `None`
            /// for a parameter this crate ignores.
            pub(super) fn known_bit(self) -> Option<u32> {
                match self.0 {
                    $($value => Some($bit),)*
                    _ => None,
                }
            }
        }
    };
}

known_ids! {
    /// RFC 9000 §18.2: the DCID of the client's first Initial (server only).
    ORIGINAL_DESTINATION_CONNECTION_ID = 0x00, "original_destination_connection_id", bit 0;
    /// RFC 9000 §18.2: idle timeout in milliseconds.
    MAX_IDLE_TIMEOUT = 0x01, "max_idle_timeout", bit 1;
    /// RFC 9000 §18.2: 16-byte stateless reset token (server only).
    STATELESS_RESET_TOKEN = 0x02, "stateless_reset_token", bit 2;
    /// RFC 9000 §18.2: largest UDP payload the sender will receive.
    MAX_UDP_PAYLOAD_SIZE = 0x03, "max_udp_payload_size", bit 3;
    /// RFC 9000 §18.2: initial connection flow control limit.
    INITIAL_MAX_DATA = 0x04, "initial_max_data", bit 4;
    /// RFC 9000 §18.2: initial limit for streams the sender opens.
    INITIAL_MAX_STREAM_DATA_BIDI_LOCAL = 0x05, "initial_max_stream_data_bidi_local", bit 5;
    /// RFC 9000 §18.2: initial limit for bidirectional streams the receiver opens.
    INITIAL_MAX_STREAM_DATA_BIDI_REMOTE = 0x06, "initial_max_stream_data_bidi_remote", bit 6;
    /// RFC 9000 §18.2: initial limit for unidirectional streams the receiver opens.
    INITIAL_MAX_STREAM_DATA_UNI = 0x07, "initial_max_stream_data_uni", bit 7;
    /// RFC 9000 §18.2: how many bidirectional streams the receiver may open.
    INITIAL_MAX_STREAMS_BIDI = 0x08, "initial_max_streams_bidi", bit 8;
    /// RFC 9000 §18.2: how many unidirectional streams the receiver may open.
    INITIAL_MAX_STREAMS_UNI = 0x09, "initial_max_streams_uni", bit 9;
    /// RFC 9000 §18.2: exponent scaling the ACK Delay field.
    ACK_DELAY_EXPONENT = 0x0a, "ack_delay_exponent", bit 10;
    /// RFC 9000 §18.2: largest delay before acknowledging, in milliseconds.
    MAX_ACK_DELAY = 0x0b, "max_ack_delay", bit 11;
    /// RFC 9000 §18.2: the sender does not support active migration.
    DISABLE_ACTIVE_MIGRATION = 0x0c, "disable_active_migration", bit 12;
    /// RFC 9000 §18.2: the server's preferred address (server only).
    PREFERRED_ADDRESS = 0x0d, "preferred_address", bit 13;
    /// RFC 9000 §18.2: how many peer connection IDs the sender stores.
    ACTIVE_CONNECTION_ID_LIMIT = 0x0e, "active_connection_id_limit", bit 14;
    /// RFC 9000 §18.2: the SCID of the sender's first Initial.
    INITIAL_SOURCE_CONNECTION_ID = 0x0f, "initial_source_connection_id", bit 15;
    /// RFC 9000 §18.2: the SCID of the server's Retry (server only).
    RETRY_SOURCE_CONNECTION_ID = 0x10, "retry_source_connection_id", bit 16;
    /// RFC 9368 §3: chosen and available versions.
    VERSION_INFORMATION = 0x11, "version_information", bit 17;
    /// RFC 9221 §3: largest DATAGRAM frame the sender will receive.
    MAX_DATAGRAM_FRAME_SIZE = 0x20, "max_datagram_frame_size", bit 18;
    /// RFC 9287 §3: the sender accepts packets with the QUIC Bit cleared.
    GREASE_QUIC_BIT = 0x2ab2, "grease_quic_bit", bit 19;
}

impl TransportParameterId {
    /// Whether the identifier has the reserved form `31 * N + 27`
    /// (RFC 9000 §18.1), used to exercise the rule that unknown parameters
    /// are ignored.
    pub const fn is_reserved(self) -> bool {
        self.0 % 31 == 27
    }

    /// Whether only a server may send this parameter (RFC 9000 §18.2: "A
    /// client MUST NOT include any server-only transport parameter").
    pub const fn is_server_only(self) -> bool {
        matches!(
            self,
            Self::ORIGINAL_DESTINATION_CONNECTION_ID
                | Self::STATELESS_RESET_TOKEN
                | Self::PREFERRED_ADDRESS
                | Self::RETRY_SOURCE_CONNECTION_ID
        )
    }

    /// The identifier as a varint. Every constant fits; an arbitrary `u64`
    /// of 2^62 or more saturates (such an identifier cannot come off the
    /// wire).
    pub const fn to_varint(self) -> VarInt {
        VarInt::saturating_from_u64(self.0)
    }
}

impl fmt::Debug for TransportParameterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name}({:#x})", self.0),
            None => write!(f, "TransportParameterId({:#x})", self.0),
        }
    }
}

impl fmt::Display for TransportParameterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "transport parameter {:#x}", self.0),
        }
    }
}
