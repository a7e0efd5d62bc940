//! The driver's UDP socket: batched sends and receives and ECN marks, using
//! what the kernel offers and falling back when it refuses.
//!
//! DESIGN.md, "Batch the syscalls": one `sendmsg` carries a whole run of
//! same-sized datagrams (UDP GSO, `UDP_SEGMENT`) and one `recvmsg` may return
//! several (UDP GRO, `UDP_GRO`). ECN (RFC 9000 §13.4, RFC 3168 §5) is written
//! per send in an `IP_TOS` / `IPV6_TCLASS` control message and read back with
//! `IP_RECVTOS` / `IPV6_RECVTCLASS`.
//!
//! | feature                       | Linux, Android            | other unix | other |
//! |-------------------------------|---------------------------|------------|-------|
//! | send batches (GSO)            | probed at bind            | split      | split |
//! | receive batches (GRO)         | probed at bind            | no         | no    |
//! | ECN on send                   | yes                       | yes        | no    |
//! | ECN on receive                | if the sockopt is accepted | same      | no    |
//! | `src_ip` / `dst_ip` (pktinfo) | yes                       | no         | no    |
//!
//! Where a feature is missing the socket still works: a transmit with
//! `segment_size` is sent one datagram per syscall, received ECN is `None`.
//! Where the kernel accepts a feature at bind but refuses it on a send (GSO
//! with `EIO`/`EINVAL`, e.g. a device without checksum offload; an ECN control
//! message with `EINVAL`), the send is retried without it and, only if the
//! retry succeeds, the feature is switched off for the socket's lifetime.
//!
//! Not done: `sendmmsg`/`recvmmsg` (several peers per syscall). GSO and GRO
//! already batch the bulk case, one peer's run of datagrams; a server with
//! many small flows would gain from them.
//!
//! IPv6 sockets are dual-stack where the platform allows it (`IPV6_V6ONLY`
//! off): they take IPv4 destinations (sent as IPv4-mapped addresses) and
//! report IPv4 peers as plain `SocketAddr::V4`, so the protocol sees one
//! address per peer whichever family the socket has.

#[cfg(unix)]
mod cmsg;
#[cfg(unix)]
mod unix;
#[cfg(unix)]
use unix as sys;
#[cfg(not(unix))]
mod portable;
#[cfg(not(unix))]
use portable as sys;

#[cfg(test)]
mod tests;

use std::io;
use std::net::{IpAddr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll, ready};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::Interest;

/// The most payload one GSO `sendmsg` carries. The kernel caps a GSO send at
/// the largest IP packet (64 KiB less the IP and UDP headers); this stays
/// under that for both families, and [`UdpSocket::poll_send`] splits longer
/// transmits into several sends.
const MAX_GSO_BYTES: usize = 65_000;

/// How many dropped datagrams (empty, or truncated by a short buffer) one
/// [`UdpSocket::poll_recv`] skips before yielding to the scheduler, so a
/// flood of them cannot hold the task.
const MAX_SKIPPED_PER_POLL: usize = 32;

/// Datagrams to send in one call to [`UdpSocket::poll_send`]: what
/// `quic_proto`'s `Transmit` describes, plus the bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Transmit<'a> {
    /// Where to send them.
    pub destination: SocketAddr,
    /// The ECN codepoint (the two low bits) to mark them with; `None` or
    /// `Some(0)` for Not-ECT.
    pub ecn: Option<u8>,
    /// One datagram, or with `segment_size` several back to back.
    pub contents: &'a [u8],
    /// The size of every datagram in `contents` but the last, which may be
    /// shorter. `None`, or a size of at least `contents.len()`, means one
    /// datagram.
    pub segment_size: Option<usize>,
    /// The local address to send from, for a socket bound to a wildcard
    /// address; echo the `dst_ip` of what the peer sent. Ignored where
    /// `dst_ip` is never reported (see the module table).
    pub src_ip: Option<IpAddr>,
}

/// What [`UdpSocket::poll_recv`] received.
///
/// Always `1 <= stride <= len`: empty datagrams are dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RecvMeta {
    /// The sender; IPv4 peers of a dual-stack socket as `SocketAddr::V4`.
    pub addr: SocketAddr,
    /// Bytes written to the buffer: one datagram, or with GRO several.
    pub len: usize,
    /// The size of each datagram in the buffer; the last may be shorter.
    /// Equal to `len` when the buffer holds one datagram.
    pub stride: usize,
    /// The ECN codepoint the datagrams carried (`0b10` ECT(0), `0b01` ECT(1),
    /// `0b11` CE); `None` for Not-ECT or where the platform does not say.
    pub ecn: Option<u8>,
    /// The local address the datagrams were sent to, where the platform says.
    pub dst_ip: Option<IpAddr>,
}

/// The receive and send buffer sizes asked of the kernel.
const SOCKET_BUFFER: usize = 2 << 20;

/// A non-blocking UDP socket registered with Tokio.
///
/// Every method takes `&self`: one socket can be polled for sends and
/// receives from the same task. The feature switches are atomics because a
/// refusal seen by one send must be seen by the next.
#[derive(Debug)]
pub(crate) struct UdpSocket {
    io: tokio::net::UdpSocket,
    /// Datagrams one GSO send may carry; 1 without GSO. Drops to 1 for good
    /// when the kernel refuses a GSO send that succeeds split up.
    max_gso_segments: AtomicUsize,
    /// Datagrams one receive may coalesce; 1 without GRO.
    gro_segments: usize,
    /// Whether sends carry the ECN control message; cleared for good when
    /// the kernel refuses it.
    ecn_send: AtomicBool,
    /// Whether the kernel agreed to report the received ECN field (for
    /// tests and the `Debug` output).
    #[cfg_attr(not(test), allow(dead_code))]
    ecn_recv: bool,
    /// An IPv6 socket: IPv4 destinations are sent as IPv4-mapped.
    ipv6: bool,
}

/// What the platform agreed to at bind time.
#[derive(Debug, Clone, Copy)]
struct Features {
    max_gso_segments: usize,
    gro_segments: usize,
    ecn_send: bool,
    ecn_recv: bool,
}

/// One `sendmsg`: a datagram, or with `segment_size` a GSO batch.
#[derive(Debug, Clone, Copy)]
struct Datagram<'a> {
    /// Already in the socket's family (IPv4-mapped on an IPv6 socket).
    destination: SocketAddr,
    contents: &'a [u8],
    segment_size: Option<u16>,
    /// A non-zero codepoint, or `None`.
    ecn: Option<u8>,
    src_ip: Option<IpAddr>,
}

/// What one receive produced, before [`RawRecv::into_meta`] checks it.
#[derive(Debug, Clone, Copy)]
struct RawRecv {
    addr: SocketAddr,
    /// Bytes copied into the buffer.
    copied: usize,
    /// The datagram (or batch) was longer than the buffer.
    truncated: bool,
    /// The GRO segment size, when the kernel coalesced.
    gro_stride: Option<usize>,
    /// The whole TOS / traffic-class byte, when reported.
    tos: Option<u8>,
    dst_ip: Option<IpAddr>,
}

impl UdpSocket {
    /// Binds a socket to `addr`, non-blocking and registered with the
    /// current Tokio runtime, with GSO, GRO, ECN reporting, packet info and
    /// the Don't Fragment bit (RFC 9000 §14) switched on where the platform
    /// has them.
    ///
    /// An IPv6 socket is dual-stack where the platform allows it (IPv4 peers
    /// reach it as IPv4-mapped addresses); bind `0.0.0.0` or a specific
    /// address to keep to one family.
    ///
    /// # Errors
    ///
    /// The socket, bind or registration errors; an error rather than a panic
    /// outside a Tokio runtime.
    pub(crate) fn bind(addr: SocketAddr) -> io::Result<Self> {
        tokio::runtime::Handle::try_current().map_err(io::Error::other)?;
        let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
        let ipv6 = addr.is_ipv6();
        if ipv6 {
            // Dual-stack where allowed; some systems (OpenBSD) refuse, and
            // the socket then serves IPv6 only.
            if let Err(error) = socket.set_only_v6(false) {
                tracing::debug!(%error, "IPv6 socket stays IPv6-only");
            }
        }
        socket.set_nonblocking(true)?;
        // Room for a burst of handshakes or a window's worth of datagrams;
        // the kernel may cap it (net.core.rmem_max), which is not an error.
        for (current, set) in [
            (
                socket.recv_buffer_size(),
                Socket::set_recv_buffer_size as fn(&Socket, usize) -> io::Result<()>,
            ),
            (socket.send_buffer_size(), Socket::set_send_buffer_size),
        ] {
            if current.is_ok_and(|size| size < SOCKET_BUFFER) {
                let _ = set(&socket, SOCKET_BUFFER);
            }
        }
        let dual_stack = ipv6 && !socket.only_v6().unwrap_or(true);
        let features = sys::configure(&socket, ipv6, dual_stack);
        socket.bind(&addr.into())?;
        let io = tokio::net::UdpSocket::from_std(socket.into())?;
        tracing::debug!(
            local = ?io.local_addr(),
            gso = features.max_gso_segments,
            gro = features.gro_segments,
            ecn_send = features.ecn_send,
            ecn_recv = features.ecn_recv,
            "UDP socket bound"
        );
        Ok(Self {
            io,
            max_gso_segments: AtomicUsize::new(features.max_gso_segments),
            gro_segments: features.gro_segments,
            ecn_send: AtomicBool::new(features.ecn_send),
            ecn_recv: features.ecn_recv,
            ipv6,
        })
    }

    /// The address the socket is bound to.
    pub(crate) fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.local_addr()
    }

    /// How many datagrams one send may carry: 1 without GSO (or once the
    /// kernel refused it). A transmit may hold more, or more than 64 KiB:
    /// [`Self::poll_send`] then makes several sends.
    pub(crate) fn max_gso_segments(&self) -> usize {
        self.max_gso_segments.load(Ordering::Relaxed)
    }

    /// How many datagrams one receive may coalesce: 1 without GRO. With GRO,
    /// size receive buffers at 64 KiB: a batch longer than the buffer loses
    /// its tail.
    pub(crate) fn gro_segments(&self) -> usize {
        self.gro_segments
    }

    /// Sends `transmit`: with GSO in one `sendmsg` per 64 KiB, otherwise one
    /// per datagram.
    ///
    /// `Pending` only while nothing has been sent. If the socket buffer
    /// fills part-way through the datagrams, the rest are dropped and this
    /// returns `Ok` (a local loss, which QUIC recovers from like any other);
    /// retrying would duplicate the ones already sent.
    ///
    /// # Errors
    ///
    /// The kernel's error for the first datagram it refused (those before it
    /// were sent); `InvalidInput` for a zero `segment_size`, or an IPv6
    /// destination on an IPv4 socket.
    pub(crate) fn poll_send(
        &self,
        cx: &mut Context<'_>,
        transmit: &Transmit<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            ready!(self.io.poll_send_ready(cx))?;
            match self
                .io
                .try_io(Interest::WRITABLE, || self.send_now(transmit))
            {
                // `try_io` cleared the readiness: the next poll registers.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                result => return Poll::Ready(result),
            }
        }
    }

    /// Receives into `buf` with one `recvmsg`: one datagram, or with GRO
    /// several of `stride` bytes.
    ///
    /// Datagrams that cannot be used are dropped: empty ones, and one longer
    /// than `buf` (of a GRO batch longer than `buf`, the whole datagrams that
    /// fit are kept).
    ///
    /// # Errors
    ///
    /// The kernel's receive error.
    pub(crate) fn poll_recv(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<RecvMeta>> {
        let mut skipped = 0;
        loop {
            let raw = ready!(self.poll_recv_raw(cx, buf))?;
            if let Some(meta) = raw.into_meta() {
                return Poll::Ready(Ok(meta));
            }
            tracing::debug!(from = %raw.addr, len = raw.copied, "dropped an empty or truncated datagram");
            skipped += 1;
            if skipped == MAX_SKIPPED_PER_POLL {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
        }
    }

    /// One receive, as the kernel returned it.
    #[cfg(unix)]
    fn poll_recv_raw(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<RawRecv>> {
        loop {
            ready!(self.io.poll_recv_ready(cx))?;
            match self
                .io
                .try_io(Interest::READABLE, || sys::recv(&self.io, buf))
            {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                result => return Poll::Ready(result),
            }
        }
    }

    /// One receive, as Tokio returned it.
    #[cfg(not(unix))]
    fn poll_recv_raw(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<RawRecv>> {
        sys::poll_recv(&self.io, cx, buf)
    }

    /// Sends what the socket buffer takes now; `WouldBlock` only if that
    /// was nothing.
    fn send_now(&self, transmit: &Transmit<'_>) -> io::Result<()> {
        let destination = socket_destination(self.ipv6, transmit.destination)?;
        let segment_size = match transmit.segment_size {
            Some(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "segment_size must not be zero",
                ));
            }
            Some(size) if size < transmit.contents.len() => Some(size),
            _ => None,
        };
        let datagram = Datagram {
            destination,
            contents: transmit.contents,
            segment_size: None,
            ecn: transmit.ecn.map(|ecn| ecn & 0b11).filter(|&ecn| ecn != 0),
            src_ip: transmit.src_ip,
        };
        let Some(segment_size) = segment_size else {
            return self.send_datagram(&datagram);
        };
        let max_segments = self.max_gso_segments();
        // A GSO segment size travels as a u16; no UDP datagram is larger.
        let gso_size = u16::try_from(segment_size)
            .ok()
            .filter(|_| max_segments > 1);
        let Some(gso_size) = gso_size else {
            return self.send_each(&datagram, segment_size);
        };
        let per_send = max_segments.min(MAX_GSO_BYTES / segment_size).max(1);
        send_in_order(transmit.contents.chunks(segment_size * per_send), |batch| {
            self.send_gso(
                &Datagram {
                    contents: batch,
                    ..datagram
                },
                gso_size,
            )
        })
    }

    /// Sends `batch.contents` as one GSO send; if the kernel refuses GSO
    /// itself, one datagram at a time, and then no more GSO.
    fn send_gso(&self, batch: &Datagram<'_>, segment_size: u16) -> io::Result<()> {
        if batch.contents.len() <= usize::from(segment_size) {
            return self.send_datagram(batch);
        }
        let gso = Datagram {
            segment_size: Some(segment_size),
            ..*batch
        };
        let sent = self.send_datagram(&gso);
        let refusal = retry_without(sent, is_gso_refusal, || {
            self.send_each(batch, usize::from(segment_size))
        })?;
        if let Some(refusal) = refusal {
            self.max_gso_segments.store(1, Ordering::Relaxed);
            tracing::warn!(error = %refusal, "the kernel refused UDP GSO; sending datagrams one by one from now on");
        }
        Ok(())
    }

    /// Sends `datagram.contents` one `segment_size` datagram per syscall.
    fn send_each(&self, datagram: &Datagram<'_>, segment_size: usize) -> io::Result<()> {
        send_in_order(datagram.contents.chunks(segment_size), |contents| {
            self.send_datagram(&Datagram {
                contents,
                segment_size: None,
                ..*datagram
            })
        })
    }

    /// One syscall; if the kernel refuses the ECN control message, again
    /// without it, and then no more ECN marks.
    fn send_datagram(&self, datagram: &Datagram<'_>) -> io::Result<()> {
        let plain = Datagram {
            ecn: None,
            ..*datagram
        };
        if datagram.ecn.is_none() || !self.ecn_send.load(Ordering::Relaxed) {
            return sys::send(&self.io, &plain);
        }
        let sent = sys::send(&self.io, datagram);
        if let Some(refusal) = retry_without(sent, is_cmsg_refusal, || sys::send(&self.io, &plain))?
        {
            self.ecn_send.store(false, Ordering::Relaxed);
            tracing::warn!(error = %refusal, "the kernel refused ECN marks on send; sending Not-ECT from now on");
        }
        Ok(())
    }

    /// Test hook: binds with GSO off, as on a kernel without it.
    #[cfg(test)]
    pub(crate) fn bind_without_gso(addr: SocketAddr) -> io::Result<Self> {
        let socket = Self::bind(addr)?;
        socket.max_gso_segments.store(1, Ordering::Relaxed);
        Ok(socket)
    }
}

impl RawRecv {
    /// The receive as the driver sees it, or `None` to drop it: empty, or
    /// truncated with no whole datagram left.
    fn into_meta(self) -> Option<RecvMeta> {
        let stride = self.gro_stride.filter(|&stride| stride > 0);
        let len = match (self.truncated, stride) {
            (false, _) => self.copied,
            // The tail of the batch was cut: keep the whole datagrams.
            (true, Some(stride)) => self.copied - self.copied % stride,
            // One datagram, cut short: useless.
            (true, None) => 0,
        };
        if len == 0 {
            return None;
        }
        Some(RecvMeta {
            addr: canonical(self.addr),
            len,
            stride: stride.map_or(len, |stride| stride.min(len)),
            ecn: self.tos.map(|tos| tos & 0b11).filter(|&ecn| ecn != 0),
            dst_ip: self.dst_ip.map(canonical_ip),
        })
    }
}

/// The rule for an optional feature (GSO, an ECN mark) the kernel may
/// refuse: `sent` is the send with it. If that failed with an error
/// `may_be_refusal` accepts, sends again `without` it. If that works, the
/// feature was at fault: `Some(the refusal)`, and the caller switches it
/// off. If not, the feature is not blamed and the error of the send without
/// it (the destination's, say) is returned.
fn retry_without(
    sent: io::Result<()>,
    may_be_refusal: fn(&io::Error) -> bool,
    without: impl FnOnce() -> io::Result<()>,
) -> io::Result<Option<io::Error>> {
    match sent {
        Err(refusal) if may_be_refusal(&refusal) => without().map(|()| Some(refusal)),
        sent => sent.map(|()| None),
    }
}

/// Sends `pieces` in order with `send`: `WouldBlock` if the first would
/// block; `Ok` if a later one would, dropping it and the rest; the first
/// other error as it is.
fn send_in_order<'a>(
    pieces: impl Iterator<Item = &'a [u8]>,
    mut send: impl FnMut(&'a [u8]) -> io::Result<()>,
) -> io::Result<()> {
    let mut sent = 0usize;
    for piece in pieces {
        match send(piece) {
            Ok(()) => sent += 1,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && sent > 0 => {
                tracing::debug!(sent, "socket buffer full: dropping the rest of a transmit");
                return Ok(());
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// `destination` in the socket's family: IPv4 becomes IPv4-mapped on an
/// IPv6 socket; an IPv4-mapped address becomes IPv4 on an IPv4 socket.
fn socket_destination(ipv6_socket: bool, destination: SocketAddr) -> io::Result<SocketAddr> {
    match (ipv6_socket, destination) {
        (true, SocketAddr::V4(v4)) => Ok(SocketAddr::V6(SocketAddrV6::new(
            v4.ip().to_ipv6_mapped(),
            v4.port(),
            0,
            0,
        ))),
        (false, SocketAddr::V6(v6)) => match v6.ip().to_ipv4_mapped() {
            Some(ip) => Ok(SocketAddr::V4(SocketAddrV4::new(ip, v6.port()))),
            None => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "IPv6 destination on an IPv4 socket",
            )),
        },
        _ => Ok(destination),
    }
}

/// An IPv4-mapped peer as the IPv4 address it is.
fn canonical(addr: SocketAddr) -> SocketAddr {
    match addr {
        SocketAddr::V6(v6) => match v6.ip().to_ipv4_mapped() {
            Some(ip) => SocketAddr::V4(SocketAddrV4::new(ip, v6.port())),
            None => addr,
        },
        SocketAddr::V4(_) => addr,
    }
}

/// An IPv4-mapped address as the IPv4 address it is.
fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// Whether a GSO send failed in a way that may be GSO's fault: `EIO` (the
/// device cannot checksum segments) or `EINVAL` (e.g. more segments than the
/// kernel takes).
fn is_gso_refusal(error: &io::Error) -> bool {
    matches!(error.raw_os_error(), Some(code) if sys::GSO_REFUSALS.contains(&code))
}

/// Whether a send failed in a way that may be an ancillary message's fault.
fn is_cmsg_refusal(error: &io::Error) -> bool {
    matches!(error.raw_os_error(), Some(code) if sys::CMSG_REFUSALS.contains(&code))
}

/// Polls `UdpSocket::poll_send` to completion (tests and examples).
#[cfg(test)]
pub(crate) fn send<'a>(
    socket: &'a UdpSocket,
    transmit: &'a Transmit<'a>,
) -> impl std::future::Future<Output = io::Result<()>> + 'a {
    std::future::poll_fn(move |cx| socket.poll_send(cx, transmit))
}

/// Polls `UdpSocket::poll_recv` to completion (tests and examples).
#[cfg(test)]
pub(crate) fn recv<'a>(
    socket: &'a UdpSocket,
    buf: &'a mut [u8],
) -> impl std::future::Future<Output = io::Result<RecvMeta>> + 'a {
    std::future::poll_fn(move |cx| socket.poll_recv(cx, buf))
}
