//! Reassembly of stream and CRYPTO data that arrives out of order
//! (RFC 9000 §2.2: "an endpoint MUST be able to deliver stream data to an
//! application as an ordered byte stream").
//!
//! Received data is kept as [`Bytes`] slices of the datagrams it arrived in,
//! never copied: the reader gets the same slices back. Chunks are disjoint;
//! data received twice (retransmissions, overlapping frames) is kept once.
//!
//! The assembler bounds nothing by itself. Its callers bound it: the bytes it
//! holds are limited by flow control (every offset is below the limit we
//! advertised), and the number of chunks, which is what a peer sending many
//! tiny gapped fragments inflates, is visible through
//! [`Assembler::chunk_count`] so the stream layer can refuse to buffer more
//! (DESIGN.md rule 5).

use std::collections::BTreeMap;

use bytes::Bytes;

/// An ordered byte stream rebuilt from data at arbitrary offsets.
#[derive(Debug, Default)]
pub struct Assembler {
    /// Unread data keyed by stream offset; disjoint, all at or above
    /// `read_offset`.
    chunks: BTreeMap<u64, Bytes>,
    /// Everything below this offset has been handed to the reader.
    read_offset: u64,
    /// The number of bytes held in `chunks`.
    buffered: u64,
    /// One past the highest offset ever received.
    received_end: u64,
}

impl Assembler {
    /// An empty assembler at offset 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `data` received at `offset`. Bytes already read or already held
    /// are ignored; only the new parts are kept (as slices of `data`).
    /// Returns the number of new bytes.
    ///
    /// The caller has checked that `offset + data.len()` does not overflow
    /// and lies within flow control.
    pub fn insert(&mut self, offset: u64, data: Bytes) -> u64 {
        let end = offset.saturating_add(data.len() as u64);
        self.received_end = self.received_end.max(end);
        let mut start = offset.max(self.read_offset);
        // A chunk starting before us may already cover our beginning.
        if let Some((&prev_start, prev)) = self.chunks.range(..start).next_back() {
            start = start.max(prev_start + prev.len() as u64);
        }
        let mut added = 0;
        while start < end {
            let next = self
                .chunks
                .range(start..end)
                .next()
                .map(|(&s, c)| (s, s + c.len() as u64));
            let piece_end = next.map_or(end, |(next_start, _)| next_start);
            if start < piece_end {
                let piece = data.slice((start - offset) as usize..(piece_end - offset) as usize);
                added += piece.len() as u64;
                self.chunks.insert(start, piece);
            }
            start = next.map_or(end, |(_, next_end)| next_end);
        }
        self.buffered += added;
        added
    }

    /// Takes up to `max` bytes of in-order data at the read offset, if any
    /// has arrived. The result is a slice of a received datagram.
    pub fn read(&mut self, max: usize) -> Option<Bytes> {
        if max == 0 {
            return None;
        }
        let mut entry = self.chunks.first_entry()?;
        if *entry.key() != self.read_offset {
            return None;
        }
        let chunk = entry.get_mut();
        let taken = if chunk.len() <= max {
            entry.remove()
        } else {
            let head = chunk.split_to(max);
            let rest = std::mem::take(chunk);
            entry.remove();
            self.chunks.insert(self.read_offset + max as u64, rest);
            head
        };
        self.read_offset += taken.len() as u64;
        self.buffered -= taken.len() as u64;
        Some(taken)
    }

    /// Discards everything buffered, as when the application stops reading a
    /// stream (RFC 9000 §3.5) or a stream is reset.
    pub fn clear(&mut self) {
        self.chunks.clear();
        self.buffered = 0;
    }

    /// The offset of the next byte the reader will get.
    pub fn read_offset(&self) -> u64 {
        self.read_offset
    }

    /// The number of bytes buffered and not yet read.
    pub fn buffered(&self) -> u64 {
        self.buffered
    }

    /// The number of disjoint chunks buffered.
    pub fn chunk_count(&self) -> usize {
        self.chunks.len()
    }

    /// One past the highest offset ever received.
    pub fn received_end(&self) -> u64 {
        self.received_end
    }

    /// Whether in-order data is waiting at the read offset.
    pub fn has_readable(&self) -> bool {
        self.chunks
            .first_key_value()
            .is_some_and(|(&start, _)| start == self.read_offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn read_all(assembler: &mut Assembler, max: usize) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(chunk) = assembler.read(max) {
            assert!(!chunk.is_empty() && chunk.len() <= max);
            out.extend_from_slice(&chunk);
        }
        out
    }

    #[test]
    fn in_order_data_is_returned_without_copying() {
        let mut assembler = Assembler::new();
        let data = Bytes::from_static(b"hello world");
        assert_eq!(assembler.insert(0, data.clone()), 11);
        let read = assembler.read(100).unwrap();
        assert_eq!(read.as_ptr(), data.as_ptr());
        assert_eq!(assembler.read_offset(), 11);
        assert!(assembler.read(100).is_none());
    }

    #[test]
    fn gaps_hold_back_later_data() {
        let mut assembler = Assembler::new();
        assembler.insert(5, Bytes::from_static(b"world"));
        assert!(!assembler.has_readable());
        assert!(assembler.read(100).is_none());
        assert_eq!(assembler.received_end(), 10);
        assembler.insert(0, Bytes::from_static(b"hello"));
        assert_eq!(read_all(&mut assembler, 3), b"helloworld");
    }

    #[test]
    fn overlaps_and_duplicates_are_kept_once() {
        let mut assembler = Assembler::new();
        assert_eq!(assembler.insert(2, Bytes::from_static(b"cd")), 2);
        assert_eq!(assembler.insert(6, Bytes::from_static(b"gh")), 2);
        // Covers both chunks and the gaps around them.
        assert_eq!(assembler.insert(0, Bytes::from_static(b"abcdefghij")), 6);
        assert_eq!(assembler.buffered(), 10);
        assert_eq!(assembler.insert(3, Bytes::from_static(b"def")), 0);
        assert_eq!(read_all(&mut assembler, 4), b"abcdefghij");
        // Data below the read offset is ignored.
        assert_eq!(assembler.insert(0, Bytes::from_static(b"abc")), 0);
        assert_eq!(assembler.buffered(), 0);
    }

    proptest! {
        /// Any set of (possibly overlapping, duplicated, reordered) slices
        /// that covers the stream reads back as the stream, with reads
        /// interleaved anywhere.
        #[test]
        fn reassembles_any_arrival_order(
            len in 1usize..400,
            pieces in proptest::collection::vec((0usize..400, 1usize..64, any::<bool>()), 1..60),
            max in 1usize..50,
        ) {
            let stream: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let stream = Bytes::from(stream);
            let mut assembler = Assembler::new();
            let mut out = Vec::new();
            let mut arrivals: Vec<(usize, usize)> = pieces
                .iter()
                .map(|&(start, piece_len, _)| (start % len, (start % len + piece_len).min(len)))
                .collect();
            arrivals.push((0, len)); // a final retransmission of everything
            for (i, &(start, end)) in arrivals.iter().enumerate() {
                assembler.insert(start as u64, stream.slice(start..end));
                if pieces.get(i).is_some_and(|p| p.2) {
                    out.extend(read_all(&mut assembler, max));
                }
                prop_assert_eq!(assembler.buffered() + assembler.read_offset() <= len as u64, true);
            }
            out.extend(read_all(&mut assembler, max));
            prop_assert_eq!(&out[..], &stream[..]);
            prop_assert_eq!(assembler.buffered(), 0);
            prop_assert_eq!(assembler.chunk_count(), 0);
        }
    }
}
