//! The UDP boundary of the driver: one bound socket, sending a [`Transmit`]
//! (a datagram, or several of `segment_size` back to back) and receiving
//! datagrams with their [`RecvMeta`].
//!
//! This is the portable implementation over [`tokio::net::UdpSocket`]: one
//! datagram per system call, no segmentation offload, no ECN. A version with
//! UDP GSO/GRO and `sendmmsg`/`recvmmsg` can replace this file as long as it
//! keeps these names and signatures; the driver already asks
//! [`UdpSocket::max_gso_segments`] how many datagrams to build per transmit
//! and splits received buffers by [`RecvMeta::stride`].

use std::io;
use std::net::SocketAddr;
use std::task::{Context, Poll, ready};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::ReadBuf;

/// The receive and send buffer sizes asked of the kernel: room for a burst
/// of ~1,000 full datagrams.
const SOCKET_BUFFER: usize = 2 << 20;

/// Datagrams to send: `contents` is one datagram, or with `segment_size`
/// several of that size back to back (the last may be shorter).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Transmit<'a> {
    /// Where to send them.
    pub(crate) destination: SocketAddr,
    /// The two ECN bits to mark them with (RFC 3168); `None` for Not-ECT.
    pub(crate) ecn: Option<u8>,
    /// The bytes.
    pub(crate) contents: &'a [u8],
    /// The size of each datagram when `contents` holds several.
    pub(crate) segment_size: Option<usize>,
}

/// What arrived in one receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RecvMeta {
    /// The sender.
    pub(crate) addr: SocketAddr,
    /// Bytes written into the buffer: one datagram, or with offload several
    /// of `stride` bytes back to back (the last may be shorter).
    pub(crate) len: usize,
    /// The size of each datagram in the buffer; equal to `len` here.
    pub(crate) stride: usize,
    /// The two ECN bits of the IP header, where the platform reports them.
    pub(crate) ecn: Option<u8>,
}

/// A bound UDP socket.
#[derive(Debug)]
pub(crate) struct UdpSocket {
    io: tokio::net::UdpSocket,
}

impl UdpSocket {
    /// Binds to `addr`. Must be called within a Tokio runtime.
    ///
    /// The socket's buffers are raised to [`SOCKET_BUFFER`] where the
    /// kernel allows (best effort: Linux caps them at `net.core.rmem_max`
    /// and `wmem_max`).
    pub(crate) fn bind(addr: SocketAddr) -> io::Result<Self> {
        let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
        socket.set_nonblocking(true)?;
        if socket.recv_buffer_size()? < SOCKET_BUFFER {
            let _ = socket.set_recv_buffer_size(SOCKET_BUFFER);
        }
        if socket.send_buffer_size()? < SOCKET_BUFFER {
            let _ = socket.set_send_buffer_size(SOCKET_BUFFER);
        }
        socket.bind(&addr.into())?;
        Ok(Self {
            io: tokio::net::UdpSocket::from_std(socket.into())?,
        })
    }

    /// The address the socket is bound to.
    pub(crate) fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.local_addr()
    }

    /// How many datagrams one [`Transmit`] may carry: 1 without
    /// segmentation offload.
    pub(crate) fn max_gso_segments(&self) -> usize {
        1
    }

    /// Sends every datagram of `transmit`, one system call each.
    ///
    /// `Pending` means the socket buffer is full and nothing was sent; call
    /// again with the same transmit once woken. Should the buffer fill up
    /// between the segments of one transmit, the remaining segments are
    /// dropped (QUIC recovers them as lost): with [`max_gso_segments`] at 1
    /// the driver never builds such a transmit for a connection.
    ///
    /// [`max_gso_segments`]: Self::max_gso_segments
    pub(crate) fn poll_send(
        &self,
        cx: &mut Context<'_>,
        transmit: &Transmit<'_>,
    ) -> Poll<io::Result<()>> {
        // The portable socket cannot set the ECN bits; the connection sees
        // no ECN feedback and treats the path as not ECN-capable.
        let _ = transmit.ecn;
        let segment = transmit
            .segment_size
            .unwrap_or(transmit.contents.len())
            .max(1);
        let mut segments = transmit.contents.chunks(segment);
        let Some(first) = segments.next() else {
            return Poll::Ready(Ok(()));
        };
        ready!(self.io.poll_send_to(cx, first, transmit.destination))?;
        for datagram in segments {
            match self.io.try_send_to(datagram, transmit.destination) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    tracing::debug!("socket buffer full mid-transmit: segments dropped");
                    break;
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Receives one datagram into `buf`.
    pub(crate) fn poll_recv(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<RecvMeta>> {
        let mut read = ReadBuf::new(buf);
        let addr = ready!(self.io.poll_recv_from(cx, &mut read))?;
        let len = read.filled().len();
        Poll::Ready(Ok(RecvMeta {
            addr,
            len,
            stride: len,
            ecn: None,
        }))
    }
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;

    use super::*;

    /// Without offload, a transmit of several segments leaves as that many
    /// datagrams, the last one shorter.
    #[tokio::test]
    async fn segments_are_sent_as_separate_datagrams() {
        let localhost = SocketAddr::from(([127, 0, 0, 1], 0));
        let sender = UdpSocket::bind(localhost).unwrap();
        let receiver = UdpSocket::bind(localhost).unwrap();
        assert_eq!(sender.max_gso_segments(), 1);
        let contents: Vec<u8> = (0..250u8).collect();
        let transmit = Transmit {
            destination: receiver.local_addr().unwrap(),
            ecn: None,
            contents: &contents,
            segment_size: Some(100),
        };
        poll_fn(|cx| sender.poll_send(cx, &transmit)).await.unwrap();
        let mut buf = [0; 1000];
        for expected in [&contents[..100], &contents[100..200], &contents[200..]] {
            let meta = poll_fn(|cx| receiver.poll_recv(cx, &mut buf))
                .await
                .unwrap();
            assert_eq!(meta.addr, sender.local_addr().unwrap());
            assert_eq!((meta.len, meta.stride), (expected.len(), expected.len()));
            assert_eq!(&buf[..meta.len], expected);
        }
    }
}
