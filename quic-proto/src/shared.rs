//! Small value types every layer shares: endpoint side, stream direction,
//! stream IDs and packet number spaces.

use std::fmt;

use crate::coding::VarInt;

/// Which end of a connection an endpoint is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// The endpoint that initiated the connection.
    Client = 0,
    /// The endpoint that accepted it.
    Server = 1,
}

impl Side {
    /// Whether this is the client side.
    pub fn is_client(self) -> bool {
        self == Self::Client
    }

    /// Whether this is the server side.
    pub fn is_server(self) -> bool {
        self == Self::Server
    }
}

impl std::ops::Not for Side {
    type Output = Self;
    fn not(self) -> Self {
        match self {
            Self::Client => Self::Server,
            Self::Server => Self::Client,
        }
    }
}

/// A stream's direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dir {
    /// Data flows both ways.
    Bi = 0,
    /// Data flows only from the initiator.
    Uni = 1,
}

/// A stream ID (RFC 9000 §2.1): the low bit names the initiator, the next bit
/// the direction, and the rest is the index among streams of that kind.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId(u64);

impl StreamId {
    /// The ID of the `index`th stream that `initiator` opens in direction `dir`.
    pub fn new(initiator: Side, dir: Dir, index: u64) -> Self {
        Self((index << 2) | ((dir as u64) << 1) | initiator as u64)
    }

    /// Wraps a raw stream ID as read from the wire.
    pub const fn from_var(value: VarInt) -> Self {
        Self(value.into_inner())
    }

    /// The endpoint that opened this stream.
    pub fn initiator(self) -> Side {
        if self.0 & 1 == 0 {
            Side::Client
        } else {
            Side::Server
        }
    }

    /// The stream's direction.
    pub fn dir(self) -> Dir {
        if self.0 & 2 == 0 { Dir::Bi } else { Dir::Uni }
    }

    /// The index among streams of the same initiator and direction.
    pub fn index(self) -> u64 {
        self.0 >> 2
    }

    /// The raw value.
    pub const fn into_inner(self) -> u64 {
        self.0
    }
}

impl From<StreamId> for VarInt {
    fn from(id: StreamId) -> Self {
        // Stream IDs come from VarInts or from indexes below 2^60, so they fit.
        VarInt::saturating_from_u64(id.0)
    }
}

impl fmt::Debug for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let initiator = match self.initiator() {
            Side::Client => "client",
            Side::Server => "server",
        };
        let dir = match self.dir() {
            Dir::Bi => "bi",
            Dir::Uni => "uni",
        };
        write!(
            f,
            "StreamId({} {initiator} {dir} #{})",
            self.0,
            self.index()
        )
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A packet number space (RFC 9000 §12.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SpaceId {
    /// Initial packets.
    Initial = 0,
    /// Handshake packets.
    Handshake = 1,
    /// 0-RTT and 1-RTT packets share the application data space.
    Data = 2,
}

impl SpaceId {
    /// All spaces, in handshake order.
    pub const ALL: [Self; 3] = [Self::Initial, Self::Handshake, Self::Data];
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 9000 §2.1, Table 1: the two low bits of a stream ID.
    #[test]
    fn stream_id_type_bits() {
        let cases = [
            (0x00, Side::Client, Dir::Bi),
            (0x01, Side::Server, Dir::Bi),
            (0x02, Side::Client, Dir::Uni),
            (0x03, Side::Server, Dir::Uni),
        ];
        for (bits, side, dir) in cases {
            let id = StreamId::new(side, dir, 5);
            assert_eq!(id.into_inner(), (5 << 2) | bits);
            assert_eq!(id.initiator(), side);
            assert_eq!(id.dir(), dir);
            assert_eq!(id.index(), 5);
        }
        assert_eq!(!Side::Client, Side::Server);
    }
}
