//! Transport error codes and the transport error a connection closes with
//! (RFC 9000 §20.1).
//!
//! Peer misbehaviour is a [`TransportError`]: the code we send in a
//! CONNECTION_CLOSE frame. Local API misuse gets its own typed error beside
//! the API that can fail; it never becomes a `TransportError`.

use std::borrow::Cow;
use std::fmt;

use crate::coding::UnexpectedEnd;

/// A QUIC transport error code (RFC 9000 §20.1), carried in CONNECTION_CLOSE
/// frames of type 0x1c.
#[derive(Copy, Clone, Eq, PartialEq, Hash)]
pub struct TransportErrorCode(u64);

macro_rules! transport_error_codes {
    ($($(#[$doc:meta])* $name:ident = $value:literal, $desc:literal;)*) => {
        impl TransportErrorCode {
            $($(#[$doc])* pub const $name: Self = Self($value);)*

            /// The RFC's name for this code (`"PROTOCOL_VIOLATION"`, ...), or
            /// `None` for codes RFC 9000 does not name.
            pub fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($value => Some(stringify!($name)),)*
                    0x0100..=0x01ff => Some("CRYPTO_ERROR"),
                    _ => None,
                }
            }

            /// A short description from the RFC's table.
            pub fn description(self) -> &'static str {
                match self.0 {
                    $($value => $desc,)*
                    0x0100..=0x01ff => "TLS alert",
                    _ => "unknown error",
                }
            }
        }

        impl TransportError {
            $(
                #[doc = concat!("A `", stringify!($name), "` error with the given reason.")]
                #[allow(non_snake_case)]
                pub fn $name(reason: impl Into<Cow<'static, str>>) -> Self {
                    Self::new(TransportErrorCode::$name, reason)
                }
            )*
        }
    };
}

transport_error_codes! {
    /// An endpoint closes the connection without any error.
    NO_ERROR = 0x00, "no error";
    /// An internal error in the endpoint.
    INTERNAL_ERROR = 0x01, "implementation error";
    /// The server refuses to accept a new connection.
    CONNECTION_REFUSED = 0x02, "server refuses a connection";
    /// More data was received than permitted by advertised limits.
    FLOW_CONTROL_ERROR = 0x03, "flow control error";
    /// A stream frame exceeded the advertised stream limit.
    STREAM_LIMIT_ERROR = 0x04, "too many streams opened";
    /// A frame arrived for a stream in a state that does not permit it.
    STREAM_STATE_ERROR = 0x05, "frame received in invalid stream state";
    /// A final size changed, or data was received beyond it.
    FINAL_SIZE_ERROR = 0x06, "change to final size";
    /// A frame was badly formatted.
    FRAME_ENCODING_ERROR = 0x07, "frame encoding error";
    /// Transport parameters were malformed, invalid or missing.
    TRANSPORT_PARAMETER_ERROR = 0x08, "error in transport parameters";
    /// More connection IDs were provided than the advertised limit.
    CONNECTION_ID_LIMIT_ERROR = 0x09, "too many connection IDs received";
    /// A protocol compliance error not covered by a more specific code.
    PROTOCOL_VIOLATION = 0x0a, "generic protocol violation";
    /// A server received a client Initial with an invalid token.
    INVALID_TOKEN = 0x0b, "invalid token received";
    /// The application or application protocol caused the close.
    APPLICATION_ERROR = 0x0c, "application error";
    /// More data was received in CRYPTO frames than can be buffered.
    CRYPTO_BUFFER_EXCEEDED = 0x0d, "CRYPTO data buffer overflowed";
    /// An error in a key update.
    KEY_UPDATE_ERROR = 0x0e, "invalid packet protection update";
    /// The AEAD integrity limit was reached.
    AEAD_LIMIT_REACHED = 0x0f, "excessive use of packet protection keys";
    /// No viable network path exists.
    NO_VIABLE_PATH = 0x10, "no viable network path exists";
    /// Version negotiation failed (RFC 9368 §4).
    VERSION_NEGOTIATION_ERROR = 0x11, "version negotiation failure";
}

impl TransportErrorCode {
    /// The code for a TLS alert (RFC 9001 §4.8): 0x0100 plus the alert.
    pub const fn crypto(alert: u8) -> Self {
        Self(0x0100 | alert as u64)
    }

    /// Wraps a raw code as received from the wire.
    pub const fn from_u64(code: u64) -> Self {
        Self(code)
    }

    /// The raw code.
    pub const fn into_inner(self) -> u64 {
        self.0
    }
}

impl fmt::Debug for TransportErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name}({:#x})", self.0),
            None => write!(f, "TransportErrorCode({:#x})", self.0),
        }
    }
}

impl fmt::Display for TransportErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "unknown error {:#x}", self.0),
        }
    }
}

/// An error that closes the connection with a transport CONNECTION_CLOSE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransportError {
    /// The code sent to the peer.
    pub code: TransportErrorCode,
    /// The type of the frame that triggered the error, if any (RFC 9000 §19.19).
    pub frame_type: Option<u64>,
    /// A human-readable reason, sent to the peer.
    pub reason: Cow<'static, str>,
}

impl TransportError {
    /// An error with `code` and `reason`.
    pub fn new(code: TransportErrorCode, reason: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            frame_type: None,
            reason: reason.into(),
        }
    }

    /// Records the frame type that triggered the error.
    pub fn with_frame_type(mut self, frame_type: u64) -> Self {
        self.frame_type = Some(frame_type);
        self
    }
}

impl fmt::Display for TransportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        if let Some(ty) = self.frame_type {
            write!(f, " in frame {ty:#x}")?;
        }
        if !self.reason.is_empty() {
            write!(f, ": {}", self.reason)?;
        }
        Ok(())
    }
}

impl std::error::Error for TransportError {}

impl From<UnexpectedEnd> for TransportError {
    /// A truncated encoding inside a frame is a FRAME_ENCODING_ERROR
    /// (RFC 9000 §12.4).
    fn from(_: UnexpectedEnd) -> Self {
        Self::FRAME_ENCODING_ERROR("truncated")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_values_match_rfc9000_table() {
        assert_eq!(TransportErrorCode::PROTOCOL_VIOLATION.into_inner(), 0x0a);
        assert_eq!(
            TransportErrorCode::VERSION_NEGOTIATION_ERROR.into_inner(),
            0x11
        );
        assert_eq!(
            TransportErrorCode::from_u64(0x07).name(),
            Some("FRAME_ENCODING_ERROR")
        );
        assert_eq!(TransportErrorCode::crypto(0x2a).into_inner(), 0x012a);
        assert_eq!(
            TransportErrorCode::crypto(0x2a).name(),
            Some("CRYPTO_ERROR")
        );
        assert_eq!(TransportErrorCode::from_u64(0x4242).name(), None);
    }

    #[test]
    fn display_includes_frame_type_and_reason() {
        let err = TransportError::FLOW_CONTROL_ERROR("too much").with_frame_type(0x08);
        assert_eq!(err.to_string(), "FLOW_CONTROL_ERROR in frame 0x8: too much");
        assert_eq!(
            TransportError::from(UnexpectedEnd).code,
            TransportErrorCode::FRAME_ENCODING_ERROR
        );
    }
}
