//! QUIC versions (RFC 9000 §15, RFC 9369, RFC 9368).

use std::fmt;

/// A QUIC version number as carried in long headers.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Version(pub u32);

impl Version {
    /// QUIC version 1 (RFC 9000).
    pub const V1: Self = Self(0x0000_0001);
    /// QUIC version 2 (RFC 9369 §3.1).
    pub const V2: Self = Self(0x6b33_43cf);
    /// The value that marks a Version Negotiation packet (RFC 9000 §17.2.1).
    pub const NEGOTIATION: Self = Self(0);

    /// Versions this implementation speaks, in order of preference.
    pub const SUPPORTED: [Self; 2] = [Self::V1, Self::V2];

    /// Whether this implementation speaks the version.
    pub fn is_supported(self) -> bool {
        Self::SUPPORTED.contains(&self)
    }

    /// Whether the version is reserved for forcing negotiation, of the form
    /// 0x?a?a?a?a (RFC 9000 §15).
    pub fn is_reserved(self) -> bool {
        self.0 & 0x0f0f_0f0f == 0x0a0a_0a0a
    }
}

impl fmt::Debug for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::V1 => f.write_str("v1"),
            Self::V2 => f.write_str("v2"),
            Self(v) => write!(f, "{v:#010x}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_versions() {
        assert!(Version(0x1a2a3a4a).is_reserved());
        assert!(Version(0xfafafafa).is_reserved());
        assert!(!Version::V1.is_reserved());
        assert!(!Version::V2.is_reserved());
        assert!(Version::V2.is_supported());
        assert!(!Version(0x1a2a3a4a).is_supported());
    }
}
