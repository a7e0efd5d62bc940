//! Why a peer's transport parameters were rejected.

use std::fmt;

use super::TransportParameterId;
use crate::error::TransportError;

/// A peer's transport parameters were malformed or invalid.
///
/// Every variant closes the connection with TRANSPORT_PARAMETER_ERROR
/// (RFC 9000 §7.4, §18.2; RFC 9368 §4 for a malformed `version_information`
/// on a QUIC v1 connection); see the `From` conversion into
/// [`TransportError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportParameterError {
    /// The input ended inside a parameter's identifier, length or value
    /// (RFC 9000 §18, Figure 21).
    Truncated,
    /// A parameter appeared more than once (RFC 9000 §7.4: "An endpoint
    /// SHOULD treat receipt of duplicate transport parameters as a connection
    /// error of type TRANSPORT_PARAMETER_ERROR").
    Duplicate(TransportParameterId),
    /// A parameter's value does not parse, or does not fill its declared
    /// length exactly (RFC 9000 §18.2).
    Malformed(TransportParameterId),
    /// A client sent a server-only parameter (RFC 9000 §18.2).
    ServerOnly(TransportParameterId),
    /// A parameter's value is outside the range the RFC allows
    /// (RFC 9000 §7.4: "a transport parameter with an invalid value").
    InvalidValue(TransportParameterId),
    /// A parameter the connection requires is absent (RFC 9000 §7.3).
    Missing(TransportParameterId),
    /// A connection ID parameter differs from the one seen in the handshake's
    /// packets, or is present when it must not be (RFC 9000 §7.3).
    Mismatch(TransportParameterId),
}

impl TransportParameterError {
    /// The parameter at fault, if the error concerns a single one.
    pub fn parameter(self) -> Option<TransportParameterId> {
        match self {
            Self::Truncated => None,
            Self::Duplicate(id)
            | Self::Malformed(id)
            | Self::ServerOnly(id)
            | Self::InvalidValue(id)
            | Self::Missing(id)
            | Self::Mismatch(id) => Some(id),
        }
    }
}

impl fmt::Display for TransportParameterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated => f.write_str("truncated transport parameters"),
            Self::Duplicate(id) => write!(f, "duplicate {id}"),
            Self::Malformed(id) => write!(f, "malformed {id}"),
            Self::ServerOnly(id) => write!(f, "client sent server-only {id}"),
            Self::InvalidValue(id) => write!(f, "invalid value of {id}"),
            Self::Missing(id) => write!(f, "missing {id}"),
            Self::Mismatch(id) => write!(f, "{id} does not match the handshake"),
        }
    }
}

impl std::error::Error for TransportParameterError {}

impl From<TransportParameterError> for TransportError {
    fn from(err: TransportParameterError) -> Self {
        TransportError::TRANSPORT_PARAMETER_ERROR(err.to_string())
    }
}
