//! Control messages (`cmsg(3)`): a writer for those a send attaches and a
//! reader for those the kernel attaches to a receive.
//!
//! Each message is a `cmsghdr` followed by its data, padded so the next
//! header is aligned:
//!
//! ```text
//! |<------------------ CMSG_SPACE(n) ----------------->|
//! |<------------- CMSG_LEN(n) ------------>|           |
//! +-------------------------+--------------+-----------+---------
//! | cmsg_len | level | type | data (n)     | padding   | next ...
//! +-------------------------+--------------+-----------+---------
//! ^ aligned for cmsghdr     ^ CMSG_DATA
//! ```

use std::io;
use std::mem::size_of;

use libc::{c_int, c_uint};

/// Room for the messages one send or receive carries (a segment size, a TOS
/// byte and a packet-info block take under 100 bytes), with room to spare.
const SPACE: usize = 256;

/// Control-message storage, aligned for `cmsghdr`.
#[repr(C)]
pub(super) struct Buf {
    _align: [libc::cmsghdr; 0],
    bytes: [u8; SPACE],
}

impl Buf {
    pub(super) fn new() -> Self {
        Self {
            _align: [],
            bytes: [0; SPACE],
        }
    }

    /// The capacity, for `msg_controllen` before a receive.
    pub(super) fn capacity(&self) -> usize {
        SPACE
    }

    /// The start, for `msg_control`.
    pub(super) fn as_mut_ptr(&mut self) -> *mut libc::c_void {
        self.bytes.as_mut_ptr().cast()
    }

    /// The messages in the first `len` bytes (the `msg_controllen` the kernel
    /// returned; clamped to the buffer).
    pub(super) fn messages(&self, len: usize) -> Messages<'_> {
        Messages {
            bytes: &self.bytes[..len.min(SPACE)],
            offset: 0,
        }
    }
}

impl std::fmt::Debug for Buf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Buf").finish_non_exhaustive()
    }
}

/// `CMSG_LEN(len)`: a header plus `len` bytes of data.
fn cmsg_len(len: usize) -> usize {
    let len = c_uint::try_from(len).unwrap_or(c_uint::MAX);
    // SAFETY: CMSG_LEN only does arithmetic on its argument (it is `unsafe`
    // in libc because it is a C macro, not because it touches memory).
    unsafe { libc::CMSG_LEN(len) as usize }
}

/// `CMSG_SPACE(len)`: `cmsg_len(len)` rounded up to the next header.
fn cmsg_space(len: usize) -> usize {
    let len = c_uint::try_from(len).unwrap_or(c_uint::MAX);
    // SAFETY: as for CMSG_LEN, arithmetic only.
    unsafe { libc::CMSG_SPACE(len) as usize }
}

/// Appends control messages to a [`Buf`].
#[derive(Debug)]
pub(super) struct Writer<'a> {
    buf: &'a mut Buf,
    len: usize,
}

impl<'a> Writer<'a> {
    pub(super) fn new(buf: &'a mut Buf) -> Self {
        Self { buf, len: 0 }
    }

    /// The bytes written, for `msg_controllen`.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Appends a message of `level` and `kind` carrying `value`'s bytes.
    ///
    /// # Errors
    ///
    /// `Other` if the buffer is full (a bug: [`SPACE`] fits every message
    /// a send attaches).
    pub(super) fn push<T: Copy>(&mut self, level: c_int, kind: c_int, value: T) -> io::Result<()> {
        let end = self
            .len
            .checked_add(cmsg_space(size_of::<T>()))
            .filter(|&end| end <= SPACE)
            .ok_or_else(|| io::Error::other("control message buffer full"))?;
        // SAFETY: `self.len` is a sum of CMSG_SPACE values, each a multiple
        // of the header alignment, and `bytes` starts aligned for `cmsghdr`
        // (`_align`), so `header` is aligned; `end <= SPACE` keeps the header
        // and its data inside `bytes`, which `&mut self.buf` lets us write.
        // The writes go through raw pointers (no reference to the possibly
        // unaligned data), and `T: Copy` has no drop glue.
        unsafe {
            let header = self
                .buf
                .bytes
                .as_mut_ptr()
                .add(self.len)
                .cast::<libc::cmsghdr>();
            (*header).cmsg_len = cmsg_len(size_of::<T>()) as _;
            (*header).cmsg_level = level;
            (*header).cmsg_type = kind;
            libc::CMSG_DATA(header).cast::<T>().write_unaligned(value);
        }
        self.len = end;
        Ok(())
    }
}

/// One control message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Message<'a> {
    pub(super) level: c_int,
    pub(super) kind: c_int,
    pub(super) data: &'a [u8],
}

impl Message<'_> {
    /// The data as a native-endian `int`, or as a single byte (Linux reports
    /// `IP_TOS` as one byte, `IPV6_TCLASS` as an int).
    pub(super) fn int_or_byte(&self) -> Option<c_int> {
        match self.data {
            [byte] => Some(c_int::from(*byte)),
            data => data
                .get(..size_of::<c_int>())
                .and_then(|bytes| bytes.try_into().ok())
                .map(c_int::from_ne_bytes),
        }
    }

    /// `N` bytes of the data from `offset`, if it has them.
    pub(super) fn bytes<const N: usize>(&self, offset: usize) -> Option<[u8; N]> {
        self.data
            .get(offset..offset.checked_add(N)?)?
            .try_into()
            .ok()
    }
}

/// The control messages a receive returned.
#[derive(Debug)]
pub(super) struct Messages<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Iterator for Messages<'a> {
    type Item = Message<'a>;

    fn next(&mut self) -> Option<Message<'a>> {
        let rest = self.bytes.get(self.offset..)?;
        if rest.len() < size_of::<libc::cmsghdr>() {
            return None;
        }
        // SAFETY: `rest` holds at least a header's bytes, all initialised
        // (the buffer is zeroed before the kernel writes into it), and every
        // bit pattern is a valid `cmsghdr` (integers only). The read is
        // unaligned-tolerant.
        let header = unsafe { rest.as_ptr().cast::<libc::cmsghdr>().read_unaligned() };
        let header_len = cmsg_len(0);
        // `size_t` on glibc, `socklen_t` on musl and macOS.
        #[allow(clippy::unnecessary_cast)]
        let data_len = (header.cmsg_len as usize).checked_sub(header_len)?;
        let data = rest.get(header_len..header_len.checked_add(data_len)?)?;
        self.offset = self.offset.checked_add(cmsg_space(data_len))?;
        Some(Message {
            level: header.cmsg_level,
            kind: header.cmsg_type,
            data,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_messages_read_back_in_order() {
        let mut buf = Buf::new();
        let mut writer = Writer::new(&mut buf);
        writer.push(17, 103, 1200u16).unwrap();
        writer.push(0, 1, c_int::from(0b10u8)).unwrap();
        writer.push(41, 50, [7u8; 20]).unwrap();
        let len = writer.len();
        assert_eq!(len, cmsg_space(2) + cmsg_space(4) + cmsg_space(20));
        let messages: Vec<_> = buf.messages(len).collect();
        assert_eq!(messages.len(), 3);
        assert_eq!((messages[0].level, messages[0].kind), (17, 103));
        assert_eq!(messages[0].data, 1200u16.to_ne_bytes());
        assert_eq!(messages[1].int_or_byte(), Some(0b10));
        assert_eq!((messages[2].level, messages[2].kind), (41, 50));
        assert_eq!(messages[2].bytes::<16>(4), Some([7; 16]));
        assert_eq!(messages[2].bytes::<16>(5), None, "past the data");
    }

    #[test]
    fn a_full_buffer_is_an_error_not_an_overflow() {
        let mut buf = Buf::new();
        let mut writer = Writer::new(&mut buf);
        let mut pushed = 0;
        while writer.push(0, 1, [0u8; 40]).is_ok() {
            pushed += 1;
        }
        assert_eq!(pushed, SPACE / cmsg_space(40));
        assert!(writer.len() <= SPACE);
    }

    #[test]
    fn a_one_byte_tos_reads_as_an_int() {
        let message = Message {
            level: 0,
            kind: 1,
            data: &[0xfe],
        };
        assert_eq!(message.int_or_byte(), Some(0xfe));
        let message = Message {
            level: 0,
            kind: 1,
            data: &[],
        };
        assert_eq!(message.int_or_byte(), None);
    }

    /// Whatever the length and bytes (the kernel's, or a bug's), reading
    /// stops inside the buffer without panicking.
    #[test]
    fn arbitrary_control_bytes_never_panic() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for round in 0..2000 {
            let mut buf = Buf::new();
            for byte in buf.bytes.iter_mut() {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                *byte = state as u8;
            }
            // Small lengths make plausible headers sometimes.
            if round % 2 == 0 {
                buf.bytes[0] = (state % 64) as u8;
                buf.bytes[1..8].fill(0);
            }
            let len = (state >> 8) as usize % (SPACE + 64);
            let mut count = 0;
            for message in buf.messages(len) {
                assert!(message.data.len() <= SPACE);
                count += 1;
            }
            assert!(count <= SPACE / size_of::<libc::cmsghdr>());
        }
    }
}
