//! Connection IDs (RFC 9000 §5.1): the value type and the pluggable
//! generators that choose the IDs we hand to peers.
//!
//! The tables of CIDs a connection issued and received live in
//! [`connection::cids`](crate::connection::cids).

use std::fmt;
use std::ops::Deref;
use std::time::Duration;

use bytes::{Buf, BufMut};
use ring::hmac;

use crate::coding::UnexpectedEnd;
use crate::rand::Rng;

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

/// Chooses the connection IDs an endpoint issues (RFC 9000 §5.1).
///
/// The endpoint owns one generator. A deployment that routes on connection
/// IDs (several shards behind one port, or a QUIC-aware load balancer) plugs
/// in a generator that encodes its routing information; every generator must
/// still satisfy §5.1: an observer must not be able to link two IDs of one
/// connection, so everything but routing bits has to come from `rng`.
///
/// A length of zero is allowed (for clients mostly): the peer then sends a
/// zero-length Destination Connection ID, the endpoint routes the connection
/// by address alone, and the connection can neither migrate nor issue new
/// IDs (§5.1, §5.1.1, §9). At most one such connection may use a given local
/// address and port.
pub trait ConnectionIdGenerator: Send + Sync + fmt::Debug {
    /// A new connection ID of [`cid_len`](Self::cid_len) bytes. The endpoint
    /// still checks it against the IDs in use and asks again on a collision.
    fn generate(&mut self, rng: &mut Rng) -> ConnectionId;

    /// The length of every ID this generator makes. Short-header packets do
    /// not carry the length (§17.3), so it must be fixed per endpoint.
    fn cid_len(&self) -> usize;

    /// A quick check that `cid` could have come from this generator (and, for
    /// routing generators, belongs here). `false` lets the endpoint drop or
    /// forward a datagram without a table lookup. The default checks the
    /// length.
    fn validate(&self, cid: &ConnectionId) -> bool {
        cid.len() == self.cid_len()
    }

    /// How long an ID may stay in use before the connection rotates it (by
    /// issuing new IDs with a higher Retire Prior To, §5.1.2). `None` keeps
    /// IDs for the life of the connection.
    fn lifetime(&self) -> Option<Duration> {
        None
    }
}

/// Generates IDs made entirely of random bytes: 8 of them by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RandomConnectionIdGenerator {
    len: usize,
    lifetime: Option<Duration>,
}

impl RandomConnectionIdGenerator {
    /// The default length: 64 random bits make collisions between the IDs of
    /// one endpoint negligible.
    pub const DEFAULT_LEN: usize = 8;

    /// A generator of `len`-byte IDs, 0 to 20. See [`ConnectionIdGenerator`]
    /// for what a zero length implies.
    pub fn new(len: usize) -> Result<Self, ConnectionIdTooLong> {
        if len > ConnectionId::MAX_LEN {
            return Err(ConnectionIdTooLong);
        }
        Ok(Self {
            len,
            lifetime: None,
        })
    }

    /// Sets the lifetime reported by [`ConnectionIdGenerator::lifetime`].
    pub fn with_lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = Some(lifetime);
        self
    }
}

impl Default for RandomConnectionIdGenerator {
    fn default() -> Self {
        Self {
            len: Self::DEFAULT_LEN,
            lifetime: None,
        }
    }
}

impl ConnectionIdGenerator for RandomConnectionIdGenerator {
    fn generate(&mut self, rng: &mut Rng) -> ConnectionId {
        let mut bytes = [0; ConnectionId::MAX_LEN];
        let bytes = &mut bytes[..self.len];
        rng.fill(bytes);
        ConnectionId::new(bytes).unwrap_or(ConnectionId::EMPTY)
    }

    fn cid_len(&self) -> usize {
        self.len
    }

    fn lifetime(&self) -> Option<Duration> {
        self.lifetime
    }
}

/// Generates IDs whose first one or two bytes name a shard (a worker, a
/// core, a process behind one `SO_REUSEPORT` port), followed by random bytes.
/// A shard that receives a datagram for another shard's connection (after a
/// NAT rebinding changed the kernel's hash, say) reads the owner with
/// [`shard_of`](Self::shard_of) and forwards it.
///
/// In the clear, the shard bytes are the same in every ID of a connection, so
/// an observer can tell "same shard" apart from "other shard": with `n`
/// shards, linkability (RFC 9000 §5.1, §9.5) improves only by a factor of `n`
/// over random IDs. [`with_obfuscation_key`](Self::with_obfuscation_key)
/// removes that: the shard bytes are then XORed with an HMAC of the random
/// part under a key all shards share, so they look random to anyone without
/// the key (the idea of QUIC-LB's encrypted CIDs, simplified). A stateless
/// router that cannot compute HMAC (a BPF program) needs the plain form.
#[derive(Debug, Clone)]
pub struct ShardedConnectionIdGenerator {
    shard: u16,
    shard_len: usize,
    len: usize,
    lifetime: Option<Duration>,
    mask_key: Option<hmac::Key>,
}

/// Invalid parameters for a [`ShardedConnectionIdGenerator`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardConfigError {
    /// The shard ID takes 1 or 2 bytes.
    InvalidShardLen,
    /// The shard does not fit in the shard bytes.
    ShardTooLarge,
    /// The ID must hold the shard bytes plus at least
    /// [`ShardedConnectionIdGenerator::MIN_RANDOM_LEN`] random bytes, and at
    /// most 20 bytes in all.
    InvalidCidLen,
}

impl fmt::Display for ShardConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::InvalidShardLen => "the shard ID must take 1 or 2 bytes",
            Self::ShardTooLarge => "the shard does not fit in the shard bytes",
            Self::InvalidCidLen => "invalid connection ID length for a sharded generator",
        })
    }
}

impl std::error::Error for ShardConfigError {}

impl ShardedConnectionIdGenerator {
    /// The fewest random bytes an ID carries after the shard bytes.
    pub const MIN_RANDOM_LEN: usize = 4;

    /// IDs of `cid_len` bytes whose first `shard_len` bytes (1 or 2) encode
    /// `shard` in network byte order.
    pub fn new(shard: u16, shard_len: usize, cid_len: usize) -> Result<Self, ShardConfigError> {
        if !(1..=2).contains(&shard_len) {
            return Err(ShardConfigError::InvalidShardLen);
        }
        if shard_len == 1 && shard > 0xff {
            return Err(ShardConfigError::ShardTooLarge);
        }
        if cid_len > ConnectionId::MAX_LEN || cid_len < shard_len + Self::MIN_RANDOM_LEN {
            return Err(ShardConfigError::InvalidCidLen);
        }
        Ok(Self {
            shard,
            shard_len,
            len: cid_len,
            lifetime: None,
            mask_key: None,
        })
    }

    /// Hides the shard bytes from observers; every shard (and any router)
    /// must use the same `key`.
    pub fn with_obfuscation_key(mut self, key: &[u8; 32]) -> Self {
        self.mask_key = Some(hmac::Key::new(hmac::HMAC_SHA256, key));
        self
    }

    /// Sets the lifetime reported by [`ConnectionIdGenerator::lifetime`].
    pub fn with_lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = Some(lifetime);
        self
    }

    /// The shard this generator writes into its IDs.
    pub fn shard(&self) -> u16 {
        self.shard
    }

    /// The shard encoded in `cid`, or `None` if `cid` does not have this
    /// generator's length (so it cannot be one of ours). Any generator built
    /// with the same lengths and key decodes the IDs of every shard.
    pub fn shard_of(&self, cid: &ConnectionId) -> Option<u16> {
        if cid.len() != self.len {
            return None;
        }
        let (shard_bytes, random) = cid.split_at(self.shard_len);
        let mask = self.mask(random);
        let mut shard = 0u16;
        for (byte, mask) in shard_bytes.iter().zip(mask) {
            shard = shard << 8 | u16::from(byte ^ mask);
        }
        Some(shard)
    }

    /// The bytes XORed into the shard bytes: zero without a key.
    fn mask(&self, random: &[u8]) -> [u8; 2] {
        let mut mask = [0; 2];
        if let Some(key) = &self.mask_key {
            let tag = hmac::sign(key, random);
            mask.copy_from_slice(&tag.as_ref()[..2]);
        }
        mask
    }
}

impl ConnectionIdGenerator for ShardedConnectionIdGenerator {
    fn generate(&mut self, rng: &mut Rng) -> ConnectionId {
        let mut bytes = [0; ConnectionId::MAX_LEN];
        let bytes = &mut bytes[..self.len];
        let (shard_bytes, random) = bytes.split_at_mut(self.shard_len);
        rng.fill(random);
        let mask = self.mask(random);
        let shard = self.shard.to_be_bytes();
        let shard = &shard[2 - self.shard_len..];
        for ((out, shard), mask) in shard_bytes.iter_mut().zip(shard).zip(mask) {
            *out = shard ^ mask;
        }
        ConnectionId::new(bytes).unwrap_or(ConnectionId::EMPTY)
    }

    fn cid_len(&self) -> usize {
        self.len
    }

    /// The length matches and the ID names this shard.
    fn validate(&self, cid: &ConnectionId) -> bool {
        self.shard_of(cid) == Some(self.shard)
    }

    fn lifetime(&self) -> Option<Duration> {
        self.lifetime
    }
}

#[cfg(test)]
mod generator_tests;

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
