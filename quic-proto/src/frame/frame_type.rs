//! Frame types and their classification (RFC 9000 §12.4 Table 3, §12.5,
//! §13.2.1; RFC 9002 §2; RFC 9221 §4).

use std::fmt;

use bytes::BufMut;

use crate::coding::{BufMutExt, VarInt};

/// A frame type: the variable-length integer that starts every frame
/// (RFC 9000 §12.4, Figure 12).
///
/// Any value below 2^62 can be held, including types this crate does not know
/// (a CONNECTION_CLOSE frame may name one). The constants below are the types
/// of RFC 9000 §19 and RFC 9221 §4.
#[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FrameType(u64);

impl FrameType {
    /// PADDING (RFC 9000 §19.1).
    pub const PADDING: Self = Self(0x00);
    /// PING (RFC 9000 §19.2).
    pub const PING: Self = Self(0x01);
    /// ACK without ECN counts (RFC 9000 §19.3).
    pub const ACK: Self = Self(0x02);
    /// ACK with ECN counts (RFC 9000 §19.3).
    pub const ACK_ECN: Self = Self(0x03);
    /// RESET_STREAM (RFC 9000 §19.4).
    pub const RESET_STREAM: Self = Self(0x04);
    /// STOP_SENDING (RFC 9000 §19.5).
    pub const STOP_SENDING: Self = Self(0x05);
    /// CRYPTO (RFC 9000 §19.6).
    pub const CRYPTO: Self = Self(0x06);
    /// NEW_TOKEN (RFC 9000 §19.7).
    pub const NEW_TOKEN: Self = Self(0x07);
    /// STREAM with no flag set; the STREAM types are 0x08..=0x0f
    /// (RFC 9000 §19.8).
    pub const STREAM: Self = Self(0x08);
    /// The highest STREAM type, with OFF, LEN and FIN set (RFC 9000 §19.8).
    pub const STREAM_MAX: Self = Self(0x0f);
    /// MAX_DATA (RFC 9000 §19.9).
    pub const MAX_DATA: Self = Self(0x10);
    /// MAX_STREAM_DATA (RFC 9000 §19.10).
    pub const MAX_STREAM_DATA: Self = Self(0x11);
    /// MAX_STREAMS for bidirectional streams (RFC 9000 §19.11).
    pub const MAX_STREAMS_BIDI: Self = Self(0x12);
    /// MAX_STREAMS for unidirectional streams (RFC 9000 §19.11).
    pub const MAX_STREAMS_UNI: Self = Self(0x13);
    /// DATA_BLOCKED (RFC 9000 §19.12).
    pub const DATA_BLOCKED: Self = Self(0x14);
    /// STREAM_DATA_BLOCKED (RFC 9000 §19.13).
    pub const STREAM_DATA_BLOCKED: Self = Self(0x15);
    /// STREAMS_BLOCKED for bidirectional streams (RFC 9000 §19.14).
    pub const STREAMS_BLOCKED_BIDI: Self = Self(0x16);
    /// STREAMS_BLOCKED for unidirectional streams (RFC 9000 §19.14).
    pub const STREAMS_BLOCKED_UNI: Self = Self(0x17);
    /// NEW_CONNECTION_ID (RFC 9000 §19.15).
    pub const NEW_CONNECTION_ID: Self = Self(0x18);
    /// RETIRE_CONNECTION_ID (RFC 9000 §19.16).
    pub const RETIRE_CONNECTION_ID: Self = Self(0x19);
    /// PATH_CHALLENGE (RFC 9000 §19.17).
    pub const PATH_CHALLENGE: Self = Self(0x1a);
    /// PATH_RESPONSE (RFC 9000 §19.18).
    pub const PATH_RESPONSE: Self = Self(0x1b);
    /// CONNECTION_CLOSE signalling a transport error (RFC 9000 §19.19).
    pub const CONNECTION_CLOSE: Self = Self(0x1c);
    /// CONNECTION_CLOSE signalling an application error (RFC 9000 §19.19).
    pub const APPLICATION_CLOSE: Self = Self(0x1d);
    /// HANDSHAKE_DONE (RFC 9000 §19.20).
    pub const HANDSHAKE_DONE: Self = Self(0x1e);
    /// DATAGRAM without a Length field (RFC 9221 §4).
    pub const DATAGRAM: Self = Self(0x30);
    /// DATAGRAM with a Length field (RFC 9221 §4).
    pub const DATAGRAM_LEN: Self = Self(0x31);

    /// The OFF bit of a STREAM type (RFC 9000 §19.8).
    pub(crate) const STREAM_OFF: u64 = 0x04;
    /// The LEN bit of a STREAM type (RFC 9000 §19.8).
    pub(crate) const STREAM_LEN: u64 = 0x02;
    /// The FIN bit of a STREAM type (RFC 9000 §19.8).
    pub(crate) const STREAM_FIN: u64 = 0x01;

    /// Wraps a frame type value, as read from the wire or named in a
    /// CONNECTION_CLOSE frame.
    pub const fn from_var(value: VarInt) -> Self {
        Self(value.into_inner())
    }

    /// The raw value.
    pub const fn into_inner(self) -> u64 {
        self.0
    }

    /// Whether this is one of the eight STREAM types (RFC 9000 §19.8).
    pub const fn is_stream(self) -> bool {
        self.0 >= Self::STREAM.0 && self.0 <= Self::STREAM_MAX.0
    }

    /// Whether this crate can decode frames of this type.
    pub fn is_known(self) -> bool {
        self.name().is_some()
    }

    /// The RFC's name for this type (`"STREAM"` for all eight STREAM types),
    /// or `None` for a type this crate does not know.
    pub fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            0x00 => "PADDING",
            0x01 => "PING",
            0x02 | 0x03 => "ACK",
            0x04 => "RESET_STREAM",
            0x05 => "STOP_SENDING",
            0x06 => "CRYPTO",
            0x07 => "NEW_TOKEN",
            0x08..=0x0f => "STREAM",
            0x10 => "MAX_DATA",
            0x11 => "MAX_STREAM_DATA",
            0x12 | 0x13 => "MAX_STREAMS",
            0x14 => "DATA_BLOCKED",
            0x15 => "STREAM_DATA_BLOCKED",
            0x16 | 0x17 => "STREAMS_BLOCKED",
            0x18 => "NEW_CONNECTION_ID",
            0x19 => "RETIRE_CONNECTION_ID",
            0x1a => "PATH_CHALLENGE",
            0x1b => "PATH_RESPONSE",
            0x1c | 0x1d => "CONNECTION_CLOSE",
            0x1e => "HANDSHAKE_DONE",
            0x30 | 0x31 => "DATAGRAM",
            _ => return None,
        })
    }

    /// Whether a packet holding this frame must be acknowledged
    /// (RFC 9000 §13.2.1, RFC 9002 §2): every frame but ACK, PADDING and
    /// CONNECTION_CLOSE. A packet is ack-eliciting if any of its frames is.
    ///
    /// Unknown types count as ack-eliciting: RFC 9000 §19.21 requires
    /// extension frames to cause an ACK unless they replace ACK.
    pub fn is_ack_eliciting(self) -> bool {
        !matches!(self.0, 0x00 | 0x02 | 0x03 | 0x1c | 0x1d)
    }

    /// Whether a packet holding this frame counts toward bytes in flight
    /// (RFC 9002 §2, "In flight"): it does when it is ack-eliciting or
    /// contains PADDING. Only ACK and CONNECTION_CLOSE do not count.
    pub fn counts_in_flight(self) -> bool {
        self.is_ack_eliciting() || self == Self::PADDING
    }

    /// Whether this is a probing frame (RFC 9000 §9.1, Table 3 "P"): a packet
    /// holding only PATH_CHALLENGE, PATH_RESPONSE, NEW_CONNECTION_ID and
    /// PADDING frames is a probing packet.
    pub fn is_probing(self) -> bool {
        matches!(self.0, 0x00 | 0x18 | 0x1a | 0x1b)
    }

    /// Whether this frame may appear in a packet of `kind`.
    ///
    /// RFC 9000 §12.4 Table 3 ("Pkts") tightened by §12.5, and RFC 9221 §5
    /// for DATAGRAM (0-RTT or 1-RTT keys only):
    ///
    /// | Frame                                                   | I | H | 0 | 1 |
    /// |---------------------------------------------------------|---|---|---|---|
    /// | PADDING, PING, CONNECTION_CLOSE (0x1c)                  | x | x | x | x |
    /// | ACK, CRYPTO                                             | x | x |   | x |
    /// | NEW_TOKEN, RETIRE_CONNECTION_ID, PATH_RESPONSE, HANDSHAKE_DONE |   |   |   | x |
    /// | CONNECTION_CLOSE (0x1d), DATAGRAM, every other type     |   |   | x | x |
    ///
    /// Table 3 marks RETIRE_CONNECTION_ID `__01`, but §12.5 lists it among the
    /// frames that cannot be sent in 0-RTT packets (a client has no
    /// connection IDs of the server's to retire before it has 1-RTT keys),
    /// so it is refused in 0-RTT here. Receiving a frame where it is not
    /// allowed is a PROTOCOL_VIOLATION (§12.4).
    ///
    /// Unknown types return `false`: they never decode.
    pub fn allowed_in(self, kind: PacketKind) -> bool {
        use PacketKind::{Handshake, Initial, OneRtt, ZeroRtt};
        match self.0 {
            // PADDING, PING, transport CONNECTION_CLOSE: IH01.
            0x00 | 0x01 | 0x1c => true,
            // ACK, CRYPTO: IH_1.
            0x02 | 0x03 | 0x06 => kind != ZeroRtt,
            // NEW_TOKEN, RETIRE_CONNECTION_ID, PATH_RESPONSE, HANDSHAKE_DONE: ___1.
            0x07 | 0x19 | 0x1b | 0x1e => kind == OneRtt,
            // Application data and connection management: __01.
            0x04 | 0x05 | 0x08..=0x18 | 0x1a | 0x1d | 0x30 | 0x31 => {
                !matches!(kind, Initial | Handshake)
            }
            _ => false,
        }
    }

    /// Appends the type as a (shortest-form) variable-length integer.
    pub fn encode<B: BufMut + ?Sized>(self, out: &mut B) {
        out.put_var(VarInt::saturating_from_u64(self.0));
    }

    /// The number of bytes [`FrameType::encode`] writes.
    pub fn encoded_len(self) -> usize {
        VarInt::saturating_from_u64(self.0).size()
    }
}

impl fmt::Debug for FrameType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{name}({:#x})", self.0),
            None => write!(f, "FrameType({:#x})", self.0),
        }
    }
}

impl fmt::Display for FrameType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "unknown frame type {:#x}", self.0),
        }
    }
}

impl From<FrameType> for u64 {
    fn from(ty: FrameType) -> Self {
        ty.0
    }
}

/// The kinds of packet that carry frames, as the columns of RFC 9000 §12.4
/// Table 3 name them (Version Negotiation, Retry and Stateless Reset packets
/// carry no frames).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PacketKind {
    /// An Initial packet ("I", RFC 9000 §17.2.2).
    Initial,
    /// A 0-RTT packet ("0", RFC 9000 §17.2.3).
    ZeroRtt,
    /// A Handshake packet ("H", RFC 9000 §17.2.4).
    Handshake,
    /// A 1-RTT (short header) packet ("1", RFC 9000 §17.3.1).
    OneRtt,
}

impl PacketKind {
    /// All four kinds.
    pub const ALL: [Self; 4] = [Self::Initial, Self::ZeroRtt, Self::Handshake, Self::OneRtt];
}
