//! What one packet carried for the streams component: a compact record the
//! connection stores with the sent packet and hands back when the packet is
//! acknowledged or lost (DESIGN.md "cheap bookkeeping per packet").

use crate::shared::{Dir, StreamId};

/// One frame the streams component wrote into a packet.
///
/// STREAM frames are recorded as offset ranges of the send buffer, never as
/// copies of their data. Control frames record the value they carried, so a
/// lost one is re-sent only if that value is still current (RFC 9000 §13.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SentFrame {
    /// STREAM (RFC 9000 §19.8): `len` bytes at `offset`, with the FIN bit.
    Stream {
        /// The stream.
        id: StreamId,
        /// The offset of the first byte.
        offset: u64,
        /// The number of bytes.
        len: u32,
        /// Whether the FIN bit was set.
        fin: bool,
    },
    /// RESET_STREAM (RFC 9000 §19.4).
    ResetStream {
        /// The stream.
        id: StreamId,
    },
    /// STOP_SENDING (RFC 9000 §19.5).
    StopSending {
        /// The stream.
        id: StreamId,
    },
    /// MAX_STREAM_DATA (RFC 9000 §19.10).
    MaxStreamData {
        /// The stream.
        id: StreamId,
        /// The limit sent.
        max: u64,
    },
    /// STREAM_DATA_BLOCKED (RFC 9000 §19.13).
    StreamDataBlocked {
        /// The stream.
        id: StreamId,
        /// The limit sent.
        limit: u64,
    },
    /// MAX_DATA (RFC 9000 §19.9).
    MaxData {
        /// The limit sent.
        max: u64,
    },
    /// MAX_STREAMS (RFC 9000 §19.11).
    MaxStreams {
        /// The direction.
        dir: Dir,
        /// The count sent.
        count: u64,
    },
    /// DATA_BLOCKED (RFC 9000 §19.12).
    DataBlocked {
        /// The limit sent.
        limit: u64,
    },
    /// STREAMS_BLOCKED (RFC 9000 §19.14).
    StreamsBlocked {
        /// The direction.
        dir: Dir,
        /// The limit sent.
        limit: u64,
    },
}

/// How many frames a record holds without allocating.
const INLINE: usize = 3;

/// A filler for unused inline slots; never visible.
const FILLER: SentFrame = SentFrame::MaxData { max: 0 };

/// The frames one packet carried, in the order written.
///
/// The first three live inline, so creating and filling a record for a
/// typical packet (one or two STREAM frames, maybe a MAX_DATA) allocates
/// nothing; more spill into a `Vec`.
#[derive(Debug, Clone)]
pub struct StreamsSent {
    inline: [SentFrame; INLINE],
    inline_len: u8,
    spill: Vec<SentFrame>,
}

impl Default for StreamsSent {
    fn default() -> Self {
        Self::new()
    }
}

impl StreamsSent {
    /// An empty record.
    pub const fn new() -> Self {
        Self {
            inline: [FILLER; INLINE],
            inline_len: 0,
            spill: Vec::new(),
        }
    }

    /// Appends a frame.
    pub fn push(&mut self, frame: SentFrame) {
        let len = usize::from(self.inline_len);
        if len < INLINE {
            self.inline[len] = frame;
            self.inline_len += 1;
        } else {
            self.spill.push(frame);
        }
    }

    /// The number of frames.
    pub fn len(&self) -> usize {
        usize::from(self.inline_len) + self.spill.len()
    }

    /// Whether no frame was recorded: the packet carried nothing of ours.
    pub fn is_empty(&self) -> bool {
        self.inline_len == 0
    }

    /// The frames, in the order written.
    pub fn iter(&self) -> impl Iterator<Item = &SentFrame> + '_ {
        self.inline[..usize::from(self.inline_len)]
            .iter()
            .chain(self.spill.iter())
    }

    /// Forgets every frame, keeping any spill allocation for reuse.
    pub fn clear(&mut self) {
        self.inline_len = 0;
        self.spill.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared::Side;

    #[test]
    fn inline_then_spill_in_order() {
        let mut sent = StreamsSent::new();
        assert!(sent.is_empty());
        let frames: Vec<_> = (0..5)
            .map(|i| SentFrame::Stream {
                id: StreamId::new(Side::Client, Dir::Bi, i),
                offset: i * 10,
                len: 10,
                fin: i == 4,
            })
            .collect();
        for (i, &f) in frames.iter().enumerate() {
            sent.push(f);
            assert_eq!(sent.len(), i + 1);
            if i < INLINE {
                assert_eq!(
                    sent.spill.capacity(),
                    0,
                    "no allocation for {} frames",
                    i + 1
                );
            }
        }
        assert!(!sent.is_empty());
        assert_eq!(sent.iter().copied().collect::<Vec<_>>(), frames);
        sent.clear();
        assert!(sent.is_empty());
        assert_eq!(sent.iter().count(), 0);
        assert!(std::mem::size_of::<SentFrame>() <= 24);
    }
}
