//! Building one packet inside a datagram that may coalesce several
//! (RFC 9000 §12.2): the header goes first, each component appends its frames
//! within [`PacketBuilder::remaining`], and [`PacketBuilder::finish`] pads,
//! seals and protects the header in place (RFC 9001 §5.3, §5.4).

use crate::crypto::{HeaderKey, PacketKey};
use crate::packet::{LongHeader, PacketNumber, PartialEncode, ShortHeader};
use crate::shared::SpaceId;

/// The header of the packet being built.
#[derive(Debug)]
pub enum BuilderHeader {
    /// Initial, 0-RTT or Handshake.
    Long(LongHeader),
    /// 1-RTT.
    Short(ShortHeader),
}

/// A packet being built at the end of a datagram buffer.
#[derive(Debug)]
pub struct PacketBuilder {
    /// Where the packet starts in the buffer.
    start: usize,
    /// Where the payload's budget ends in the buffer, leaving room for the tag.
    limit: usize,
    partial: PartialEncode,
    space: SpaceId,
    packet_number: u64,
    tag_len: usize,
    /// Whether any frame asked for an acknowledgment (RFC 9002 §2).
    pub ack_eliciting: bool,
    /// Whether the packet counts toward bytes in flight (RFC 9002 §2):
    /// ack-eliciting or padded.
    pub in_flight: bool,
}

impl PacketBuilder {
    /// Writes the header at the end of `buf`. The packet, tag included, may
    /// grow the buffer up to `datagram_end`. Returns `None` when there is no
    /// room for the header, a minimal payload and the tag.
    pub fn begin(
        buf: &mut Vec<u8>,
        header: BuilderHeader,
        space: SpaceId,
        packet_number: u64,
        datagram_end: usize,
        tag_len: usize,
    ) -> Option<Self> {
        let start = buf.len();
        let header_len = match &header {
            BuilderHeader::Long(h) => h.encoded_len(),
            BuilderHeader::Short(h) => h.encoded_len(),
        };
        // A header, one byte of payload padded to the sample size, the tag.
        let smallest = header_len + PacketNumber::MAX_LEN + tag_len;
        if start + smallest > datagram_end {
            return None;
        }
        let partial = match &header {
            BuilderHeader::Long(h) => h.encode(buf).ok()?,
            BuilderHeader::Short(h) => h.encode(buf),
        };
        Some(Self {
            start,
            limit: datagram_end - tag_len,
            partial,
            space,
            packet_number,
            tag_len,
            ack_eliciting: false,
            in_flight: false,
        })
    }

    /// How many more payload bytes fit.
    pub fn remaining(&self, buf: &[u8]) -> usize {
        self.limit.saturating_sub(buf.len())
    }

    /// Where the packet starts in the buffer.
    pub fn start(&self) -> usize {
        self.start
    }

    /// The packet number space.
    pub fn space(&self) -> SpaceId {
        self.space
    }

    /// The full packet number.
    pub fn packet_number(&self) -> u64 {
        self.packet_number
    }

    /// Whether any payload has been written.
    pub fn is_empty(&self, buf: &[u8]) -> bool {
        buf.len() == self.start + self.partial.header_len()
    }

    /// Pads with PADDING frames (zero bytes) until the datagram, which
    /// started at `datagram_start`, is at least `size` bytes once the tag is
    /// added, as far as the budget allows (RFC 9000 §14.1).
    pub fn pad_datagram_to(&mut self, buf: &mut Vec<u8>, datagram_start: usize, size: usize) {
        let target = (datagram_start + size)
            .saturating_sub(self.tag_len)
            .min(self.limit);
        if buf.len() < target {
            buf.resize(target, 0);
            self.in_flight = true;
        }
    }

    /// Pads if the payload is too short for header protection's sample
    /// (RFC 9001 §5.4.2), seals the payload and protects the header.
    /// Returns the packet's size.
    pub fn finish(
        self,
        buf: &mut Vec<u8>,
        packet_key: &dyn PacketKey,
        header_key: &dyn HeaderKey,
    ) -> usize {
        let payload_start = self.start + self.partial.header_len();
        let min_payload = self
            .partial
            .min_payload_len(self.tag_len, header_key.sample_size());
        if buf.len() < payload_start + min_payload {
            buf.resize(payload_start + min_payload, 0);
        }
        buf.resize(buf.len() + self.tag_len, 0);
        let packet = &mut buf[self.start..];
        // The builder reserved room for the tag and the sample up front, and
        // the packet number was truncated from `packet_number`, so this
        // cannot fail.
        self.partial
            .finish(packet, self.packet_number, packet_key, header_key)
            .expect("packet builder keeps its packets well formed");
        buf.len() - self.start
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cid::ConnectionId;
    use crate::crypto::initial_keys;
    use crate::frame::{Frame, Iter};
    use crate::packet::{LongKind, PartialDecode};
    use crate::shared::Side;
    use crate::version::Version;
    use bytes::{Bytes, BytesMut};

    fn header(pn: u64) -> BuilderHeader {
        BuilderHeader::Long(LongHeader::new(
            LongKind::Initial {
                token: Bytes::new(),
            },
            Version::V1,
            ConnectionId::new(&[1; 8]).unwrap(),
            ConnectionId::new(&[2; 8]).unwrap(),
            PacketNumber::new(pn, None),
        ))
    }

    /// A padded Initial fills the datagram to 1,200 bytes (RFC 9000 §14.1)
    /// and opens back with the peer's keys.
    #[test]
    fn padded_initial_round_trips() {
        let cid = ConnectionId::new(&[1; 8]).unwrap();
        let client = initial_keys(Version::V1, &cid, Side::Client).unwrap();
        let server = initial_keys(Version::V1, &cid, Side::Server).unwrap();
        let mut buf = Vec::new();
        let mut builder =
            PacketBuilder::begin(&mut buf, header(7), SpaceId::Initial, 7, 1200, 16).unwrap();
        assert!(builder.is_empty(&buf));
        Frame::Ping.encode(&mut buf);
        builder.ack_eliciting = true;
        builder.pad_datagram_to(&mut buf, 0, 1200);
        let size = builder.finish(&mut buf, &*client.packet.local, &*client.header.local);
        assert_eq!(size, 1200);
        assert_eq!(buf.len(), 1200);

        let (partial, rest) = PartialDecode::new(BytesMut::from(&buf[..]), 0, false).unwrap();
        assert!(rest.is_none());
        let mut packet = partial.finish(Some(&*server.header.remote)).unwrap();
        let pn = packet.header.number().unwrap().expand(None);
        assert_eq!(pn, 7);
        server
            .packet
            .remote
            .decrypt(pn, &packet.header_data, &mut packet.payload)
            .unwrap();
        let frames: Vec<Frame> = Iter::new(packet.payload.freeze())
            .map(Result::unwrap)
            .collect();
        assert!(matches!(frames[0], Frame::Ping));
    }

    /// A tiny payload is padded so header protection can sample
    /// (RFC 9001 §5.4.2), and too small a budget refuses to start a packet.
    #[test]
    fn sample_padding_and_budget() {
        let cid = ConnectionId::new(&[1; 8]).unwrap();
        let keys = initial_keys(Version::V1, &cid, Side::Client).unwrap();
        let mut buf = Vec::new();
        let builder =
            PacketBuilder::begin(&mut buf, header(0), SpaceId::Initial, 0, 1200, 16).unwrap();
        let header_len = buf.len();
        let size = builder.finish(&mut buf, &*keys.packet.local, &*keys.header.local);
        // 1-byte packet number: 3 bytes of padding, then the tag.
        assert_eq!(size, header_len + 3 + 16);
        let mut small = Vec::new();
        assert!(PacketBuilder::begin(&mut small, header(0), SpaceId::Initial, 0, 30, 16).is_none());
        assert!(small.is_empty());
    }
}
