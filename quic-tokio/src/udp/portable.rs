//! The fallback where there is no `sendmsg`/`recvmsg` here: Tokio's own
//! `send_to`/`recv_from`, one datagram per syscall, no ECN, no packet info.

use std::io;
use std::task::{Context, Poll, ready};

use socket2::Socket;
use tokio::io::ReadBuf;

use super::{Datagram, Features, RawRecv};

/// Windows' "message too long" receive error.
const WSAEMSGSIZE: i32 = 10040;

/// No GSO here, so no GSO refusal either.
pub(super) const GSO_REFUSALS: &[i32] = &[];

/// No control messages here, so no refusal either.
pub(super) const CMSG_REFUSALS: &[i32] = &[];

/// Nothing to switch on.
pub(super) fn configure(_socket: &Socket, _ipv6: bool, _dual_stack: bool) -> Features {
    Features {
        max_gso_segments: 1,
        gro_segments: 1,
        ecn_send: false,
        ecn_recv: false,
    }
}

/// Sends one datagram (the ECN mark is dropped: `ecn_send` is off).
pub(super) fn send(socket: &tokio::net::UdpSocket, datagram: &Datagram<'_>) -> io::Result<()> {
    if datagram.segment_size.is_some() {
        // `configure` never enables GSO here.
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "no UDP GSO on this platform",
        ));
    }
    socket
        .try_send_to(datagram.contents, datagram.destination)
        .map(drop)
}

/// Receives one datagram.
pub(super) fn poll_recv(
    socket: &tokio::net::UdpSocket,
    cx: &mut Context<'_>,
    buf: &mut [u8],
) -> Poll<io::Result<RawRecv>> {
    loop {
        let mut read = ReadBuf::new(buf);
        match ready!(socket.poll_recv_from(cx, &mut read)) {
            Ok(addr) => {
                let copied = read.filled().len();
                return Poll::Ready(Ok(RawRecv {
                    addr,
                    copied,
                    // Windows reports a datagram longer than the buffer as
                    // an error instead (below).
                    truncated: false,
                    gro_stride: None,
                    tos: None,
                    dst_ip: None,
                }));
            }
            // Windows reports an ICMP port-unreachable for an earlier send
            // as a receive error; it says nothing about this receive.
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {}
            // WSAEMSGSIZE: a datagram longer than `buf`, consumed; drop it
            // as `RawRecv::into_meta` does a truncated one elsewhere.
            Err(e) if e.raw_os_error() == Some(WSAEMSGSIZE) => {
                tracing::debug!("dropped a datagram longer than the receive buffer");
            }
            Err(e) => return Poll::Ready(Err(e)),
        }
    }
}
