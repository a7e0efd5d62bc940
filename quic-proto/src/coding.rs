//! Variable-length integers and bounded readers (RFC 9000 §16).
//!
//! Every reader here returns an error on short input rather than panicking, and
//! never trusts a length before checking that the bytes are there. Decoders in
//! the rest of the crate build on these helpers.

use std::fmt;

use bytes::{Buf, BufMut, Bytes};

/// The input ended before the value it was expected to hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnexpectedEnd;

impl fmt::Display for UnexpectedEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("unexpected end of input")
    }
}

impl std::error::Error for UnexpectedEnd {}

/// A value does not fit in a variable-length integer (it is 2^62 or more).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VarIntBoundsExceeded;

impl fmt::Display for VarIntBoundsExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("value too large for a variable-length integer")
    }
}

impl std::error::Error for VarIntBoundsExceeded {}

/// A QUIC variable-length integer: an unsigned value below 2^62.
///
/// RFC 9000 §16: the two most significant bits of the first byte give the
/// encoded length (1, 2, 4 or 8 bytes). Encoding always uses the shortest form;
/// decoding accepts every length, including non-minimal ones, as §16 requires
/// ("values do not need to be encoded on the minimum number of bytes").
#[derive(Default, Copy, Clone, Eq, PartialEq, Ord, PartialOrd, Hash)]
pub struct VarInt(u64);

impl VarInt {
    /// The largest representable value, 2^62 - 1.
    pub const MAX: Self = Self((1 << 62) - 1);
    /// The largest encoded length in bytes.
    pub const MAX_SIZE: usize = 8;
    /// Zero.
    pub const ZERO: Self = Self(0);

    /// Constructs a `VarInt` from a `u32`, which always fits.
    pub const fn from_u32(value: u32) -> Self {
        Self(value as u64)
    }

    /// Constructs a `VarInt` if `value` is below 2^62.
    pub const fn from_u64(value: u64) -> Result<Self, VarIntBoundsExceeded> {
        if value <= Self::MAX.0 {
            Ok(Self(value))
        } else {
            Err(VarIntBoundsExceeded)
        }
    }

    /// Constructs a `VarInt`, saturating at [`VarInt::MAX`].
    pub const fn saturating_from_u64(value: u64) -> Self {
        if value <= Self::MAX.0 {
            Self(value)
        } else {
            Self::MAX
        }
    }

    /// The value as a `u64`.
    pub const fn into_inner(self) -> u64 {
        self.0
    }

    /// The number of bytes the shortest encoding of this value takes.
    pub const fn size(self) -> usize {
        size_of_varint(self.0)
    }

    /// Appends the shortest encoding of this value.
    pub fn encode<B: BufMut + ?Sized>(self, out: &mut B) {
        let x = self.0;
        match self.size() {
            1 => out.put_u8(x as u8),
            2 => out.put_u16(0x4000 | x as u16),
            4 => out.put_u32(0x8000_0000 | x as u32),
            _ => out.put_u64(0xc000_0000_0000_0000 | x),
        }
    }

    /// Reads one variable-length integer of any encoded length.
    pub fn decode<B: Buf + ?Sized>(input: &mut B) -> Result<Self, UnexpectedEnd> {
        if !input.has_remaining() {
            return Err(UnexpectedEnd);
        }
        let first = input.chunk()[0];
        let len = 1usize << (first >> 6);
        if input.remaining() < len {
            return Err(UnexpectedEnd);
        }
        let value = match len {
            1 => u64::from(input.get_u8()),
            2 => u64::from(input.get_u16() & 0x3fff),
            4 => u64::from(input.get_u32() & 0x3fff_ffff),
            _ => input.get_u64() & 0x3fff_ffff_ffff_ffff,
        };
        Ok(Self(value))
    }
}

/// The number of bytes the shortest varint encoding of `x` takes.
///
/// Values of 2^62 and above have no encoding; this returns 8 for them, and
/// callers that may hold such values must check with [`VarInt::from_u64`].
pub const fn size_of_varint(x: u64) -> usize {
    if x < 1 << 6 {
        1
    } else if x < 1 << 14 {
        2
    } else if x < 1 << 30 {
        4
    } else {
        8
    }
}

impl From<u8> for VarInt {
    fn from(value: u8) -> Self {
        Self(u64::from(value))
    }
}

impl From<u16> for VarInt {
    fn from(value: u16) -> Self {
        Self(u64::from(value))
    }
}

impl From<u32> for VarInt {
    fn from(value: u32) -> Self {
        Self(u64::from(value))
    }
}

impl TryFrom<u64> for VarInt {
    type Error = VarIntBoundsExceeded;
    fn try_from(value: u64) -> Result<Self, Self::Error> {
        Self::from_u64(value)
    }
}

impl TryFrom<usize> for VarInt {
    type Error = VarIntBoundsExceeded;
    fn try_from(value: usize) -> Result<Self, Self::Error> {
        Self::from_u64(value as u64)
    }
}

impl From<VarInt> for u64 {
    fn from(value: VarInt) -> Self {
        value.0
    }
}

impl fmt::Debug for VarInt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for VarInt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Bounded reads on any [`Buf`]: each returns [`UnexpectedEnd`] instead of
/// panicking when the input is too short.
pub trait BufExt: Buf {
    /// Reads a variable-length integer.
    fn get_var(&mut self) -> Result<u64, UnexpectedEnd> {
        VarInt::decode(self).map(VarInt::into_inner)
    }

    /// Reads one byte.
    fn read_u8(&mut self) -> Result<u8, UnexpectedEnd> {
        if self.remaining() < 1 {
            return Err(UnexpectedEnd);
        }
        Ok(self.get_u8())
    }

    /// Reads a big-endian `u16`.
    fn read_u16(&mut self) -> Result<u16, UnexpectedEnd> {
        if self.remaining() < 2 {
            return Err(UnexpectedEnd);
        }
        Ok(self.get_u16())
    }

    /// Reads a big-endian `u32`.
    fn read_u32(&mut self) -> Result<u32, UnexpectedEnd> {
        if self.remaining() < 4 {
            return Err(UnexpectedEnd);
        }
        Ok(self.get_u32())
    }

    /// Copies exactly `dst.len()` bytes out.
    fn read_to_slice(&mut self, dst: &mut [u8]) -> Result<(), UnexpectedEnd> {
        if self.remaining() < dst.len() {
            return Err(UnexpectedEnd);
        }
        self.copy_to_slice(dst);
        Ok(())
    }

    /// Takes the next `len` bytes as [`Bytes`]. For a `Bytes` input this is a
    /// reference-counted slice, not a copy.
    fn read_bytes(&mut self, len: usize) -> Result<Bytes, UnexpectedEnd> {
        if self.remaining() < len {
            return Err(UnexpectedEnd);
        }
        Ok(self.copy_to_bytes(len))
    }

    /// Skips `len` bytes.
    fn skip_bytes(&mut self, len: usize) -> Result<(), UnexpectedEnd> {
        if self.remaining() < len {
            return Err(UnexpectedEnd);
        }
        self.advance(len);
        Ok(())
    }
}

impl<B: Buf + ?Sized> BufExt for B {}

/// Writes QUIC's variable-length integers.
pub trait BufMutExt: BufMut {
    /// Appends `value` as a variable-length integer.
    fn put_var(&mut self, value: VarInt) {
        value.encode(self);
    }
}

impl<B: BufMut + ?Sized> BufMutExt for B {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// RFC 9000 §A.1 sample encodings.
    #[test]
    fn rfc9000_appendix_a1_examples() {
        let cases: [(&[u8], u64); 4] = [
            (
                &[0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c],
                151_288_809_941_952_652,
            ),
            (&[0x9d, 0x7f, 0x3e, 0x7d], 494_878_333),
            (&[0x7b, 0xbd], 15_293),
            (&[0x25], 37),
        ];
        for (bytes, value) in cases {
            let mut input = bytes;
            assert_eq!(VarInt::decode(&mut input).unwrap().into_inner(), value);
            assert!(input.is_empty());
            let mut out = Vec::new();
            VarInt::from_u64(value).unwrap().encode(&mut out);
            assert_eq!(out, bytes);
        }
        // §A.1: "the two-byte sequence 0x40 0x25 also decodes to 37".
        assert_eq!(
            VarInt::decode(&mut &[0x40u8, 0x25][..])
                .unwrap()
                .into_inner(),
            37
        );
    }

    #[test]
    fn bounds() {
        assert!(VarInt::from_u64(1 << 62).is_err());
        assert_eq!(VarInt::from_u64((1 << 62) - 1), Ok(VarInt::MAX));
        assert_eq!(VarInt::saturating_from_u64(u64::MAX), VarInt::MAX);
        assert_eq!(VarInt::MAX.size(), 8);
        assert_eq!(VarInt::from_u32(63).size(), 1);
        assert_eq!(VarInt::from_u32(64).size(), 2);
        assert_eq!(VarInt::from_u32(16383).size(), 2);
        assert_eq!(VarInt::from_u32(16384).size(), 4);
        assert_eq!(VarInt::from_u32((1 << 30) - 1).size(), 4);
        assert_eq!(VarInt::from_u64(1 << 30).unwrap().size(), 8);
    }

    #[test]
    fn short_input_is_an_error() {
        for bytes in [&[][..], &[0x40], &[0x80, 0, 0], &[0xc0, 0, 0, 0, 0, 0, 0]] {
            let mut input = bytes;
            assert_eq!(VarInt::decode(&mut input), Err(UnexpectedEnd));
        }
    }

    proptest! {
        #[test]
        fn round_trip(value in 0u64..(1 << 62)) {
            let v = VarInt::from_u64(value).unwrap();
            let mut out = Vec::new();
            v.encode(&mut out);
            prop_assert_eq!(out.len(), v.size());
            let mut input = &out[..];
            prop_assert_eq!(VarInt::decode(&mut input).unwrap(), v);
            prop_assert!(input.is_empty());
        }

        #[test]
        fn every_length_decodes(value in 0u64..(1 << 6), len_class in 0u8..4) {
            // A small value in a longer-than-needed encoding still decodes.
            let mut out = Vec::new();
            match len_class {
                0 => out.push(value as u8),
                1 => out.extend_from_slice(&(0x4000 | value as u16).to_be_bytes()),
                2 => out.extend_from_slice(&(0x8000_0000 | value as u32).to_be_bytes()),
                _ => out.extend_from_slice(&(0xc000_0000_0000_0000 | value).to_be_bytes()),
            }
            prop_assert_eq!(VarInt::decode(&mut &out[..]).unwrap().into_inner(), value);
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..16)) {
            let mut input = &bytes[..];
            while VarInt::decode(&mut input).is_ok() {}
        }
    }
}
