//! `sendmsg`/`recvmsg` with control messages, for every unix: ECN everywhere,
//! GSO, GRO and packet info on Linux and Android.

use std::io;
use std::mem::size_of;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsRawFd, RawFd};

use libc::c_int;
use socket2::{SockAddr, Socket};

use super::cmsg;
use super::{Datagram, Features, RawRecv};

/// `errno` values with which a kernel refuses a GSO send it may accept split.
pub(super) const GSO_REFUSALS: &[i32] = &[libc::EIO, libc::EINVAL];

/// `errno` values with which a kernel refuses a control message it does not
/// know.
pub(super) const CMSG_REFUSALS: &[i32] = &[libc::EINVAL, libc::ENOPROTOOPT, libc::EOPNOTSUPP];

/// How many datagrams a GSO send carries: the kernel's `UDP_MAX_SEGMENTS`
/// (64 since GSO arrived in Linux 4.18; later kernels take 128).
#[cfg(any(target_os = "linux", target_os = "android"))]
const GSO_SEGMENTS: usize = 64;

/// How many datagrams Linux GRO coalesces at most (`UDP_GRO_CNT_MAX`).
#[cfg(any(target_os = "linux", target_os = "android"))]
const GRO_SEGMENTS: usize = 64;

/// Switches on what the platform has, before bind. Every option is best
/// effort: a refusal only switches the feature off.
pub(super) fn configure(socket: &Socket, ipv6: bool, dual_stack: bool) -> Features {
    let fd = socket.as_raw_fd();
    // IPv4 options also govern an IPv6 socket's IPv4-mapped traffic.
    let v4_traffic = !ipv6 || dual_stack;
    let mut ecn_recv = true;
    if v4_traffic {
        ecn_recv &= set_option(fd, libc::IPPROTO_IP, libc::IP_RECVTOS, 1, "IP_RECVTOS");
    }
    if ipv6 {
        ecn_recv &= set_option(
            fd,
            libc::IPPROTO_IPV6,
            libc::IPV6_RECVTCLASS,
            1,
            "IPV6_RECVTCLASS",
        );
    }
    let features = Features {
        max_gso_segments: 1,
        gro_segments: 1,
        ecn_send: true,
        ecn_recv,
    };
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let features = linux::configure(fd, ipv6, v4_traffic, features);
    features
}

/// Sends one datagram, or with `segment_size` a GSO batch, in one `sendmsg`.
pub(super) fn send(socket: &impl AsRawFd, datagram: &Datagram<'_>) -> io::Result<()> {
    let mut control = cmsg::Buf::new();
    let control_len = encode_control(&mut control, datagram)?;
    let destination = SockAddr::from(datagram.destination);
    let mut iov = libc::iovec {
        iov_base: datagram.contents.as_ptr().cast_mut().cast(),
        iov_len: datagram.contents.len(),
    };
    // SAFETY: `msghdr` is plain integers and pointers, for which all zeroes
    // is a valid value (null pointers with zero lengths).
    let mut header: libc::msghdr = unsafe { std::mem::zeroed() };
    header.msg_name = destination.as_ptr().cast_mut().cast();
    header.msg_namelen = destination.len();
    header.msg_iov = &mut iov;
    header.msg_iovlen = 1;
    if control_len > 0 {
        header.msg_control = control.as_mut_ptr();
        header.msg_controllen = control_len as _;
    }
    loop {
        // SAFETY: every pointer in `header` is valid for the call: the
        // address and its length come from `destination`, the one iovec
        // covers `datagram.contents` (which the kernel only reads, despite
        // the `*mut`), and the control bytes are `control_len` bytes of
        // `control`; all outlive the call. The fd is open for as long as
        // `socket` is borrowed.
        let sent = unsafe { libc::sendmsg(socket.as_raw_fd(), &header, 0) };
        if sent >= 0 {
            return Ok(());
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}

/// The control messages for `datagram`; their length.
fn encode_control(control: &mut cmsg::Buf, datagram: &Datagram<'_>) -> io::Result<usize> {
    let mut writer = cmsg::Writer::new(control);
    let ipv4_path = is_ipv4_path(datagram.destination);
    if let Some(ecn) = datagram.ecn {
        // Only the ECN bits; DSCP stays 0.
        if ipv4_path {
            writer.push(libc::IPPROTO_IP, libc::IP_TOS, tos_value(ecn))?;
        } else {
            writer.push(libc::IPPROTO_IPV6, libc::IPV6_TCLASS, c_int::from(ecn))?;
        }
    }
    #[cfg(any(target_os = "linux", target_os = "android"))]
    linux::encode_control(&mut writer, datagram, ipv4_path)?;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    if datagram.segment_size.is_some() {
        // `configure` never enables GSO here.
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "no UDP GSO on this platform",
        ));
    }
    Ok(writer.len())
}

/// The `IP_TOS` control message's type: a byte on the BSDs, an int
/// elsewhere (Linux takes either).
#[cfg(any(target_os = "freebsd", target_os = "netbsd", target_os = "openbsd"))]
fn tos_value(ecn: u8) -> u8 {
    ecn
}

/// The `IP_TOS` control message's type: a byte on the BSDs, an int
/// elsewhere (Linux takes either).
#[cfg(not(any(target_os = "freebsd", target_os = "netbsd", target_os = "openbsd")))]
fn tos_value(ecn: u8) -> c_int {
    c_int::from(ecn)
}

/// Whether the kernel sends to `destination` as IPv4 (an IPv4 address, or
/// IPv4-mapped on a dual-stack socket), which takes IPv4 control messages.
fn is_ipv4_path(destination: SocketAddr) -> bool {
    match destination {
        SocketAddr::V4(_) => true,
        SocketAddr::V6(v6) => v6.ip().to_ipv4_mapped().is_some(),
    }
}

/// Receives into `buf` with one `recvmsg`.
pub(super) fn recv(socket: &impl AsRawFd, buf: &mut [u8]) -> io::Result<RawRecv> {
    let mut control = cmsg::Buf::new();
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: `try_init` hands us a zeroed address storage and its length,
    // which we pass to `recvmsg` as the name buffer; the kernel writes at
    // most that length and reports how much in `msg_namelen`, which we store
    // back, so the address is initialised up to the length `try_init` keeps.
    let (received, source) = unsafe {
        SockAddr::try_init(|storage, storage_len| {
            // SAFETY: as for `send`, all zeroes is a valid `msghdr`.
            let mut header: libc::msghdr = std::mem::zeroed();
            header.msg_name = storage.cast();
            header.msg_namelen = *storage_len;
            header.msg_iov = &mut iov;
            header.msg_iovlen = 1;
            header.msg_control = control.as_mut_ptr();
            header.msg_controllen = control.capacity() as _;
            // SAFETY: the name buffer is the storage above; the iovec covers
            // `buf` (exclusively borrowed); the control buffer is `control`,
            // `capacity()` bytes. All outlive the call.
            let copied = recvmsg(socket.as_raw_fd(), &mut header)?;
            *storage_len = header.msg_namelen;
            Ok((copied, header.msg_flags, header.msg_controllen as usize))
        })?
    };
    let (copied, flags, control_len) = received;
    let addr = source
        .as_socket()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "recvmsg: not an IP source"))?;
    let mut raw = RawRecv {
        addr,
        copied,
        truncated: flags & libc::MSG_TRUNC != 0,
        gro_stride: None,
        tos: None,
        dst_ip: None,
    };
    for message in control.messages(control_len) {
        decode_control(&message, &mut raw);
    }
    Ok(raw)
}

/// `recvmsg` on `fd`, retried on `EINTR`: the bytes copied.
///
/// # Safety
///
/// Every pointer in `header` must be valid for the kernel to write what its
/// length says, and stay so for the call.
unsafe fn recvmsg(fd: RawFd, header: &mut libc::msghdr) -> io::Result<usize> {
    loop {
        // SAFETY: the caller vouches for `header`'s buffers.
        let copied = unsafe { libc::recvmsg(fd, header, 0) };
        if let Ok(copied) = usize::try_from(copied) {
            return Ok(copied);
        }
        let error = io::Error::last_os_error();
        if error.kind() != io::ErrorKind::Interrupted {
            return Err(error);
        }
    }
}

/// Records what one control message of a receive says.
fn decode_control(message: &cmsg::Message<'_>, raw: &mut RawRecv) {
    match (message.level, message.kind) {
        // Linux reports IPv4 TOS as `IP_TOS`, the BSDs and macOS as
        // `IP_RECVTOS`.
        (libc::IPPROTO_IP, libc::IP_TOS | libc::IP_RECVTOS)
        | (libc::IPPROTO_IPV6, libc::IPV6_TCLASS) => {
            raw.tos = message.int_or_byte().map(|tos| tos as u8);
        }
        #[cfg(any(target_os = "linux", target_os = "android"))]
        _ => linux::decode_control(message, raw),
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        _ => {}
    }
}

/// Sets an `int` socket option; whether the kernel took it.
fn set_option(fd: RawFd, level: c_int, name: c_int, value: c_int, what: &str) -> bool {
    // SAFETY: `value` is a live `int` and we pass exactly its size; the
    // kernel only reads it.
    let result = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&raw const value).cast(),
            size_of::<c_int>() as libc::socklen_t,
        )
    };
    if result == 0 {
        true
    } else {
        tracing::debug!(error = %io::Error::last_os_error(), "{what} not available");
        false
    }
}

/// An IPv4 address from its network-order bytes.
fn ipv4(bytes: [u8; 4]) -> IpAddr {
    IpAddr::V4(Ipv4Addr::from(bytes))
}

/// An IPv6 address from its network-order bytes.
fn ipv6(bytes: [u8; 16]) -> IpAddr {
    IpAddr::V6(Ipv6Addr::from(bytes))
}

/// GSO, GRO, packet info and path MTU discovery.
#[cfg(any(target_os = "linux", target_os = "android"))]
mod linux {
    use std::io;
    use std::mem::{offset_of, size_of};
    use std::net::IpAddr;
    use std::os::fd::RawFd;

    use libc::c_int;

    use super::super::{Datagram, Features, RawRecv};
    use super::{GRO_SEGMENTS, GSO_SEGMENTS, cmsg, ipv4, ipv6, set_option};

    pub(super) fn configure(
        fd: RawFd,
        ipv6: bool,
        v4_traffic: bool,
        mut features: Features,
    ) -> Features {
        if gso_supported(fd) {
            features.max_gso_segments = GSO_SEGMENTS;
        }
        if set_option(fd, libc::SOL_UDP, libc::UDP_GRO, 1, "UDP_GRO") {
            features.gro_segments = GRO_SEGMENTS;
        }
        // Packet info gives `dst_ip` and takes `src_ip`. RFC 9000 §14: set
        // Don't Fragment; PROBE sets it without letting a cached path MTU
        // refuse the larger probes of DPLPMTUD (RFC 8899).
        if v4_traffic {
            set_option(fd, libc::IPPROTO_IP, libc::IP_PKTINFO, 1, "IP_PKTINFO");
            let probe = libc::IP_PMTUDISC_PROBE;
            set_option(
                fd,
                libc::IPPROTO_IP,
                libc::IP_MTU_DISCOVER,
                probe,
                "IP_MTU_DISCOVER",
            );
        }
        if ipv6 {
            set_option(
                fd,
                libc::IPPROTO_IPV6,
                libc::IPV6_RECVPKTINFO,
                1,
                "IPV6_RECVPKTINFO",
            );
            let probe = libc::IPV6_PMTUDISC_PROBE;
            set_option(
                fd,
                libc::IPPROTO_IPV6,
                libc::IPV6_MTU_DISCOVER,
                probe,
                "IPV6_MTU_DISCOVER",
            );
        }
        features
    }

    /// Whether the kernel knows `UDP_SEGMENT` (Linux 4.18+): reading it
    /// fails on kernels without GSO.
    fn gso_supported(fd: RawFd) -> bool {
        let mut value: c_int = 0;
        let mut len = size_of::<c_int>() as libc::socklen_t;
        // SAFETY: `value` and `len` are live locals; `len` says `value`'s
        // exact size, so the kernel writes within it.
        let result = unsafe {
            libc::getsockopt(
                fd,
                libc::SOL_UDP,
                libc::UDP_SEGMENT,
                (&raw mut value).cast(),
                &mut len,
            )
        };
        result == 0
    }

    pub(super) fn encode_control(
        writer: &mut cmsg::Writer<'_>,
        datagram: &Datagram<'_>,
        ipv4_path: bool,
    ) -> io::Result<()> {
        if let Some(segment_size) = datagram.segment_size {
            writer.push(libc::SOL_UDP, libc::UDP_SEGMENT, segment_size)?;
        }
        match (datagram.src_ip.map(super::super::canonical_ip), ipv4_path) {
            (None, _) => {}
            (Some(IpAddr::V4(ip)), true) => {
                let info = libc::in_pktinfo {
                    ipi_ifindex: 0,
                    ipi_spec_dst: libc::in_addr {
                        s_addr: u32::from_ne_bytes(ip.octets()),
                    },
                    ipi_addr: libc::in_addr { s_addr: 0 },
                };
                writer.push(libc::IPPROTO_IP, libc::IP_PKTINFO, info)?;
            }
            (Some(IpAddr::V6(ip)), false) => {
                let info = libc::in6_pktinfo {
                    ipi6_addr: libc::in6_addr {
                        s6_addr: ip.octets(),
                    },
                    ipi6_ifindex: 0,
                };
                writer.push(libc::IPPROTO_IPV6, libc::IPV6_PKTINFO, info)?;
            }
            (Some(_), _) => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "src_ip and destination are of different families",
                ));
            }
        }
        Ok(())
    }

    pub(super) fn decode_control(message: &cmsg::Message<'_>, raw: &mut RawRecv) {
        match (message.level, message.kind) {
            (libc::SOL_UDP, libc::UDP_GRO) => {
                raw.gro_stride = message
                    .int_or_byte()
                    .and_then(|size| usize::try_from(size).ok());
            }
            (libc::IPPROTO_IP, libc::IP_PKTINFO) => {
                raw.dst_ip = message
                    .bytes(offset_of!(libc::in_pktinfo, ipi_addr))
                    .map(ipv4);
            }
            (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO) => {
                raw.dst_ip = message
                    .bytes(offset_of!(libc::in6_pktinfo, ipi6_addr))
                    .map(ipv6);
            }
            _ => {}
        }
    }
}
