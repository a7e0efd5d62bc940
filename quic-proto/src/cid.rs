//! Connection IDs (RFC 9000 §5.1).
//!
//! This module will grow the CID generator trait and the tables of CIDs we
//! issued and the peer issued; for now it holds the ID value type.

use std::fmt;
use std::ops::Deref;

use bytes::{Buf, BufMut};

use crate::coding::UnexpectedEnd;

/// A connection ID: 0 to 20 bytes in QUIC v1 and v2 (RFC 9000 §17.2), stored
/// inline so that copying one never allocates.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId {
    len: u8,
    bytes: [u8; ConnectionId::MAX_LEN],
}

/// A connection ID longer than 20 bytes was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionIdTooLong;

impl fmt::Display for ConnectionIdTooLong {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection ID longer than 20 bytes")
    }
}

impl std::error::Error for ConnectionIdTooLong {}

impl ConnectionId {
    /// The longest connection ID QUIC v1 and v2 allow (RFC 9000 §17.2).
    pub const MAX_LEN: usize = 20;

    /// The zero-length connection ID.
    pub const EMPTY: Self = Self {
        len: 0,
        bytes: [0; Self::MAX_LEN],
    };

    /// Copies `bytes` into a connection ID.
    pub fn new(bytes: &[u8]) -> Result<Self, ConnectionIdTooLong> {
        if bytes.len() > Self::MAX_LEN {
            return Err(ConnectionIdTooLong);
        }
        let mut id = Self::EMPTY;
        id.len = bytes.len() as u8;
        id.bytes[..bytes.len()].copy_from_slice(bytes);
        Ok(id)
    }

    /// Reads a connection ID of `len` bytes from `input`.
    pub fn decode<B: Buf>(input: &mut B, len: usize) -> Result<Self, DecodeCidError> {
        if len > Self::MAX_LEN {
            return Err(DecodeCidError::TooLong);
        }
        if input.remaining() < len {
            return Err(DecodeCidError::UnexpectedEnd);
        }
        let mut id = Self::EMPTY;
        id.len = len as u8;
        input.copy_to_slice(&mut id.bytes[..len]);
        Ok(id)
    }

    /// Reads a one-byte length followed by that many bytes, as long headers and
    /// NEW_CONNECTION_ID frames carry them.
    pub fn decode_with_len<B: Buf>(input: &mut B) -> Result<Self, DecodeCidError> {
        if !input.has_remaining() {
            return Err(DecodeCidError::UnexpectedEnd);
        }
        let len = usize::from(input.get_u8());
        Self::decode(input, len)
    }

    /// Appends the ID's bytes (without a length).
    pub fn encode<B: BufMut>(&self, out: &mut B) {
        out.put_slice(self);
    }

    /// Appends a one-byte length and the ID's bytes.
    pub fn encode_with_len<B: BufMut>(&self, out: &mut B) {
        out.put_u8(self.len);
        out.put_slice(self);
    }
}

/// Why a connection ID could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeCidError {
    /// The input ended inside the ID.
    UnexpectedEnd,
    /// The length exceeds [`ConnectionId::MAX_LEN`].
    TooLong,
}

impl From<UnexpectedEnd> for DecodeCidError {
    fn from(_: UnexpectedEnd) -> Self {
        Self::UnexpectedEnd
    }
}

impl Deref for ConnectionId {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl AsRef<[u8]> for ConnectionId {
    fn as_ref(&self) -> &[u8] {
        self
    }
}

impl fmt::Debug for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.iter() {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_limit() {
        assert!(ConnectionId::new(&[0; 20]).is_ok());
        assert_eq!(ConnectionId::new(&[0; 21]), Err(ConnectionIdTooLong));
        let mut input = &[21u8, 0, 0][..];
        assert_eq!(
            ConnectionId::decode_with_len(&mut input),
            Err(DecodeCidError::TooLong)
        );
        let mut input = &[4u8, 1, 2, 3][..];
        assert_eq!(
            ConnectionId::decode_with_len(&mut input),
            Err(DecodeCidError::UnexpectedEnd)
        );
    }

    #[test]
    fn round_trip_and_display() {
        let id = ConnectionId::new(&[0x83, 0x94, 0xc8, 0xf0]).unwrap();
        let mut out = Vec::new();
        id.encode_with_len(&mut out);
        assert_eq!(out, [4, 0x83, 0x94, 0xc8, 0xf0]);
        assert_eq!(ConnectionId::decode_with_len(&mut &out[..]).unwrap(), id);
        assert_eq!(id.to_string(), "8394c8f0");
        assert_eq!(ConnectionId::EMPTY.len(), 0);
    }
}
