//! The socket over loopback: GSO, GRO, ECN, packet info, the fallbacks and
//! the errors. Every wait is bounded by [`within`]; nothing sleeps.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use super::*;

const LOCALHOST_V4: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const LOCALHOST_V6: IpAddr = IpAddr::V6(Ipv6Addr::LOCALHOST);
/// The receive buffer size the driver uses with GRO.
const RECV_BUF: usize = 64 * 1024;

/// Fails the test instead of hanging it.
async fn within<F: std::future::Future>(future: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(5), future)
        .await
        .expect("timed out")
}

/// `::1`, if this machine has IPv6 loopback; says why not otherwise.
fn localhost_v6() -> Option<IpAddr> {
    match std::net::UdpSocket::bind((Ipv6Addr::LOCALHOST, 0)) {
        Ok(_) => Some(LOCALHOST_V6),
        Err(error) => {
            eprintln!("skipping the ::1 case: cannot bind [::1]:0: {error}");
            None
        }
    }
}

fn bind(ip: IpAddr) -> UdpSocket {
    UdpSocket::bind(SocketAddr::new(ip, 0)).expect("bind")
}

fn addr(socket: &UdpSocket) -> SocketAddr {
    socket.local_addr().unwrap()
}

/// A plain Tokio socket, as a peer without GRO or ECN reporting would be,
/// with a receive buffer large enough for the bursts below.
fn plain_receiver(ip: IpAddr) -> tokio::net::UdpSocket {
    let socket = Socket::new(
        Domain::for_address(SocketAddr::new(ip, 0)),
        Type::DGRAM,
        None,
    )
    .unwrap();
    socket.set_recv_buffer_size(1 << 20).unwrap();
    socket.set_nonblocking(true).unwrap();
    socket.bind(&SocketAddr::new(ip, 0).into()).unwrap();
    tokio::net::UdpSocket::from_std(socket.into()).unwrap()
}

/// Datagram `index` of `len` bytes: its index, then a pattern that differs
/// per index and per offset.
fn datagram(index: usize, len: usize) -> Vec<u8> {
    (0..len)
        .map(|offset| {
            if offset == 0 {
                index as u8
            } else {
                (index * 7 + offset * 13) as u8
            }
        })
        .collect()
}

/// `count` datagrams of `size` bytes, then one of `last` bytes if non-zero,
/// back to back.
fn batch(count: usize, size: usize, last: usize) -> Vec<u8> {
    let mut bytes: Vec<u8> = (0..count).flat_map(|index| datagram(index, size)).collect();
    if last > 0 {
        bytes.extend(datagram(count, last));
    }
    bytes
}

fn transmit(destination: SocketAddr, contents: &[u8], segment_size: Option<usize>) -> Transmit<'_> {
    Transmit {
        destination,
        ecn: None,
        contents,
        segment_size,
        src_ip: None,
    }
}

/// Receives `count` datagrams at a plain socket; by index.
async fn recv_plain(socket: &tokio::net::UdpSocket, count: usize) -> BTreeMap<usize, Vec<u8>> {
    let mut received = BTreeMap::new();
    let mut buf = vec![0; RECV_BUF];
    while received.len() < count {
        let (len, _) = within(socket.recv_from(&mut buf)).await.unwrap();
        let datagram = buf[..len].to_vec();
        let index = usize::from(datagram[0]);
        assert!(
            received.insert(index, datagram).is_none(),
            "datagram {index} twice"
        );
    }
    received
}

/// Asserts `received` is exactly `count` datagrams of `size` and one of `last`.
fn assert_datagrams(received: &BTreeMap<usize, Vec<u8>>, count: usize, size: usize, last: usize) {
    let total = count + usize::from(last > 0);
    assert_eq!(received.len(), total);
    for (&index, bytes) in received {
        let len = if index == count { last } else { size };
        assert_eq!(bytes, &datagram(index, len), "datagram {index}");
    }
}

/// A GSO send of 10 × 1200 bytes and a 500-byte tail arrives at a plain
/// receiver as 11 datagrams with the right sizes and bytes.
async fn gso_send_arrives_as_separate_datagrams(ip: IpAddr) {
    let sender = bind(ip);
    let receiver = plain_receiver(ip);
    let contents = batch(10, 1200, 500);
    let destination = receiver.local_addr().unwrap();
    within(send(&sender, &transmit(destination, &contents, Some(1200))))
        .await
        .unwrap();
    assert_datagrams(&recv_plain(&receiver, 11).await, 10, 1200, 500);
}

#[tokio::test]
async fn gso_send_arrives_as_separate_datagrams_v4() {
    gso_send_arrives_as_separate_datagrams(LOCALHOST_V4).await;
}

#[tokio::test]
async fn gso_send_arrives_as_separate_datagrams_v6() {
    if let Some(ip) = localhost_v6() {
        gso_send_arrives_as_separate_datagrams(ip).await;
    }
}

/// More than one send's worth (64 KiB, or `max_gso_segments`) still
/// arrives whole: `poll_send` splits it. 1300-byte datagrams fill each GSO
/// send to exactly `MAX_GSO_BYTES`, which both families must take.
async fn a_transmit_larger_than_one_gso_send_is_split(ip: IpAddr) {
    assert_eq!(MAX_GSO_BYTES % 1300, 0);
    let sender = bind(ip);
    let gso_before = sender.max_gso_segments();
    let receiver = plain_receiver(ip);
    let contents = batch(120, 1300, 0);
    let destination = receiver.local_addr().unwrap();
    within(send(&sender, &transmit(destination, &contents, Some(1300))))
        .await
        .unwrap();
    assert_datagrams(&recv_plain(&receiver, 120).await, 120, 1300, 0);
    assert_eq!(sender.max_gso_segments(), gso_before, "no GSO refusal");
}

#[tokio::test]
async fn a_transmit_larger_than_one_gso_send_is_split_v4() {
    a_transmit_larger_than_one_gso_send_is_split(LOCALHOST_V4).await;
}

#[tokio::test]
async fn a_transmit_larger_than_one_gso_send_is_split_v6() {
    if let Some(ip) = localhost_v6() {
        a_transmit_larger_than_one_gso_send_is_split(ip).await;
    }
}

/// Receives until `total` bytes came; checks every datagram in order
/// (loopback keeps order) and returns the metas.
async fn recv_all(socket: &UdpSocket, total: usize, size: usize) -> Vec<RecvMeta> {
    let mut metas = Vec::new();
    let mut buf = vec![0; RECV_BUF];
    let mut index = 0;
    let mut received = 0;
    while received < total {
        let meta = within(recv(socket, &mut buf)).await.unwrap();
        assert!(1 <= meta.stride && meta.stride <= meta.len, "{meta:?}");
        for bytes in buf[..meta.len].chunks(meta.stride) {
            assert_eq!(bytes, datagram(index, size), "datagram {index} of {meta:?}");
            index += 1;
        }
        received += meta.len;
        metas.push(meta);
    }
    assert_eq!(received, total);
    metas
}

/// A GRO receiver gets a GSO batch coalesced, with `stride` the segment
/// size and every byte intact; datagrams sent one by one arrive intact too.
async fn gro_receiver_gets_coalesced_segments(ip: IpAddr) {
    let sender = bind(ip);
    let receiver = bind(ip);
    let destination = addr(&receiver);
    let contents = batch(20, 1200, 0);
    within(send(&sender, &transmit(destination, &contents, Some(1200))))
        .await
        .unwrap();
    let metas = recv_all(&receiver, contents.len(), 1200).await;
    for meta in &metas {
        assert_eq!(meta.addr, addr(&sender));
        assert_eq!(meta.stride, 1200);
    }
    if receiver.gro_segments() > 1 && sender.max_gso_segments() > 1 {
        // Loopback hands a GSO batch to a GRO socket whole.
        assert_eq!(metas.len(), 1, "{metas:?}");
        assert_eq!(metas[0].len, 24_000);
    } else {
        eprintln!("no GRO or no GSO here: {} receives", metas.len());
    }

    // Many same-size datagrams, one syscall each, then receive them all.
    for index in 0..20 {
        let bytes = datagram(index, 1200);
        within(send(&sender, &transmit(destination, &bytes, None)))
            .await
            .unwrap();
    }
    let metas = recv_all(&receiver, 20 * 1200, 1200).await;
    assert!(metas.iter().all(|meta| meta.stride == 1200));
}

#[tokio::test]
async fn gro_receiver_gets_coalesced_segments_v4() {
    gro_receiver_gets_coalesced_segments(LOCALHOST_V4).await;
}

#[tokio::test]
async fn gro_receiver_gets_coalesced_segments_v6() {
    if let Some(ip) = localhost_v6() {
        gro_receiver_gets_coalesced_segments(ip).await;
    }
}

/// A batch with a short last datagram keeps it: `stride` is the segment
/// size and the last chunk is shorter.
#[tokio::test]
async fn gro_batch_with_a_short_tail() {
    let sender = bind(LOCALHOST_V4);
    let receiver = bind(LOCALHOST_V4);
    let contents = batch(5, 1200, 300);
    within(send(
        &sender,
        &transmit(addr(&receiver), &contents, Some(1200)),
    ))
    .await
    .unwrap();
    let mut buf = vec![0; RECV_BUF];
    let mut index = 0;
    let mut received = 0;
    while received < contents.len() {
        let meta = within(recv(&receiver, &mut buf)).await.unwrap();
        for bytes in buf[..meta.len].chunks(meta.stride) {
            let size = if index == 5 { 300 } else { 1200 };
            assert_eq!(bytes, datagram(index, size));
            index += 1;
        }
        received += meta.len;
    }
    assert_eq!(index, 6);
}

/// RFC 9000 §13.4.1: the ECN field of each datagram is reported. Sends
/// every codepoint and Not-ECT; expects them back where both ends support
/// ECN, `None` otherwise (the fallback).
async fn ecn_marks_round_trip(sender: &UdpSocket, receiver: &UdpSocket, destination: SocketAddr) {
    let supported = sender.ecn_send.load(Ordering::Relaxed) && receiver.ecn_recv;
    let mut buf = vec![0; RECV_BUF];
    for (index, codepoint) in [0b10, 0b01, 0b11, 0b00].into_iter().enumerate() {
        let bytes = datagram(index, 100);
        let transmit = Transmit {
            ecn: Some(codepoint),
            ..transmit(destination, &bytes, None)
        };
        within(send(sender, &transmit)).await.unwrap();
        let meta = within(recv(receiver, &mut buf)).await.unwrap();
        assert_eq!(&buf[..meta.len], &bytes[..]);
        let expected = (supported && codepoint != 0).then_some(codepoint);
        assert_eq!(
            meta.ecn, expected,
            "sent {codepoint:#04b}, supported: {supported}"
        );
    }
    // A GSO batch carries its mark on every datagram.
    let contents = batch(4, 500, 0);
    let transmit = Transmit {
        ecn: Some(0b10),
        ..transmit(destination, &contents, Some(500))
    };
    within(send(sender, &transmit)).await.unwrap();
    for meta in recv_all(receiver, contents.len(), 500).await {
        assert_eq!(meta.ecn, supported.then_some(0b10));
    }
}

#[tokio::test]
async fn ecn_marks_round_trip_v4() {
    let (sender, receiver) = (bind(LOCALHOST_V4), bind(LOCALHOST_V4));
    ecn_marks_round_trip(&sender, &receiver, addr(&receiver)).await;
}

#[tokio::test]
async fn ecn_marks_round_trip_v6() {
    if let Some(ip) = localhost_v6() {
        let (sender, receiver) = (bind(ip), bind(ip));
        ecn_marks_round_trip(&sender, &receiver, addr(&receiver)).await;
    }
}

/// A dual-stack IPv6 socket talks to IPv4 peers: it sends to an IPv4
/// destination (as IPv4-mapped), reports the peer as `SocketAddr::V4`, and
/// reads and writes ECN on that IPv4 traffic.
#[tokio::test]
async fn dual_stack_socket_serves_ipv4_peers() {
    if localhost_v6().is_none() {
        return;
    }
    let dual = bind(IpAddr::V6(Ipv6Addr::UNSPECIFIED));
    let peer = bind(LOCALHOST_V4);
    let dual_v4 = SocketAddr::new(LOCALHOST_V4, addr(&dual).port());
    // IPv4 peer → dual-stack socket.
    ecn_marks_round_trip(&peer, &dual, dual_v4).await;
    let bytes = datagram(0, 10);
    within(send(&peer, &transmit(dual_v4, &bytes, None)))
        .await
        .unwrap();
    let mut buf = vec![0; RECV_BUF];
    let meta = within(recv(&dual, &mut buf)).await.unwrap();
    assert_eq!(meta.addr, addr(&peer), "an IPv4 peer, not IPv4-mapped");
    if cfg!(any(target_os = "linux", target_os = "android")) {
        assert_eq!(meta.dst_ip, Some(LOCALHOST_V4));
    }
    // Dual-stack socket → IPv4 peer, to the address it reported.
    ecn_marks_round_trip(&dual, &peer, meta.addr).await;
}

/// With GSO off (as on a kernel without it) a segmented transmit still
/// delivers every datagram, one syscall each.
#[tokio::test]
async fn without_gso_every_segment_still_arrives() {
    let sender = UdpSocket::bind_without_gso(SocketAddr::new(LOCALHOST_V4, 0)).unwrap();
    assert_eq!(sender.max_gso_segments(), 1);
    let receiver = plain_receiver(LOCALHOST_V4);
    let contents = batch(10, 1200, 500);
    let destination = receiver.local_addr().unwrap();
    within(send(&sender, &transmit(destination, &contents, Some(1200))))
        .await
        .unwrap();
    assert_datagrams(&recv_plain(&receiver, 11).await, 10, 1200, 500);
}

/// When the kernel refuses a GSO send (here: more segments than its
/// `UDP_MAX_SEGMENTS`, answered with `EINVAL`), the datagrams go out one by
/// one and GSO stays off for the socket.
#[tokio::test]
async fn kernel_refusing_gso_falls_back_for_good() {
    let sender = bind(LOCALHOST_V4);
    if sender.max_gso_segments() == 1 {
        eprintln!("skipping: no GSO to refuse here");
        return;
    }
    // Pretend the kernel took more segments than any does (64 or 128).
    sender.max_gso_segments.store(1000, Ordering::Relaxed);
    let receiver = plain_receiver(LOCALHOST_V4);
    let contents = batch(250, 40, 0);
    let destination = receiver.local_addr().unwrap();
    within(send(&sender, &transmit(destination, &contents, Some(40))))
        .await
        .unwrap();
    assert_eq!(sender.max_gso_segments(), 1, "GSO is off after the refusal");
    assert_datagrams(&recv_plain(&receiver, 250).await, 250, 40, 0);
}

/// Errors are returned, not swallowed, and an error that is not GSO's or
/// ECN's fault (a destination the kernel refuses: port 0) does not switch
/// either off.
#[tokio::test]
async fn refused_destination_is_an_error_and_keeps_the_features() {
    let sender = bind(LOCALHOST_V4);
    let gso_before = sender.max_gso_segments();
    let ecn_before = sender.ecn_send.load(Ordering::Relaxed);
    let contents = batch(3, 100, 0);
    let destination = SocketAddr::new(LOCALHOST_V4, 0);
    let transmit = Transmit {
        ecn: Some(0b10),
        ..transmit(destination, &contents, Some(100))
    };
    let error = within(send(&sender, &transmit)).await.unwrap_err();
    eprintln!("sending to port 0: {error}");
    assert_eq!(sender.max_gso_segments(), gso_before);
    assert_eq!(sender.ecn_send.load(Ordering::Relaxed), ecn_before);
}

/// The limited broadcast address without `SO_BROADCAST` is refused (on
/// Linux `EACCES`, or no route from loopback), and the error surfaces.
#[tokio::test]
async fn broadcast_without_permission_is_an_error() {
    let sender = bind(LOCALHOST_V4);
    let bytes = datagram(0, 10);
    let destination = SocketAddr::new(IpAddr::V4(Ipv4Addr::BROADCAST), 9);
    let error = within(send(&sender, &transmit(destination, &bytes, None)))
        .await
        .unwrap_err();
    eprintln!("sending to 255.255.255.255: {error}");
}

#[tokio::test]
async fn invalid_transmits_are_refused_before_the_kernel() {
    let sender = bind(LOCALHOST_V4);
    let bytes = batch(2, 10, 0);
    let v4 = SocketAddr::new(LOCALHOST_V4, 9);
    let error = within(send(&sender, &transmit(v4, &bytes, Some(0))))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
    let v6 = SocketAddr::new(LOCALHOST_V6, 9);
    let error = within(send(&sender, &transmit(v6, &bytes, None)))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
}

/// A datagram no IP packet can carry is refused (`EMSGSIZE`).
#[tokio::test]
async fn oversized_datagram_is_an_error() {
    let sender = bind(LOCALHOST_V4);
    let receiver = bind(LOCALHOST_V4);
    let bytes = vec![0; 70_000];
    let error = within(send(&sender, &transmit(addr(&receiver), &bytes, None)))
        .await
        .unwrap_err();
    #[cfg(unix)]
    assert_eq!(error.raw_os_error(), Some(libc::EMSGSIZE));
    #[cfg(not(unix))]
    drop(error);
}

/// Unusable datagrams are dropped and the next one is returned: one longer
/// than the buffer, and an empty one.
#[tokio::test]
async fn truncated_and_empty_datagrams_are_dropped() {
    let sender = plain_receiver(LOCALHOST_V4);
    let receiver = bind(LOCALHOST_V4);
    let destination = addr(&receiver);
    for len in [100, 0, 10] {
        within(sender.send_to(&datagram(len, len), destination))
            .await
            .unwrap();
    }
    let mut buf = [0; 50];
    let meta = within(recv(&receiver, &mut buf)).await.unwrap();
    assert_eq!((meta.len, meta.stride), (10, 10));
    assert_eq!(&buf[..10], &datagram(10, 10)[..]);
}

/// A GRO batch longer than the buffer keeps the whole datagrams that fit.
#[tokio::test]
async fn gro_batch_longer_than_the_buffer_keeps_whole_datagrams() {
    let sender = bind(LOCALHOST_V4);
    let receiver = bind(LOCALHOST_V4);
    let contents = batch(10, 1200, 0);
    within(send(
        &sender,
        &transmit(addr(&receiver), &contents, Some(1200)),
    ))
    .await
    .unwrap();
    let mut buf = vec![0; 5000];
    let meta = within(recv(&receiver, &mut buf)).await.unwrap();
    assert_eq!(meta.stride, 1200);
    if receiver.gro_segments() > 1 && sender.max_gso_segments() > 1 {
        assert_eq!(meta.len, 4800, "four whole datagrams of the coalesced ten");
    } else {
        assert_eq!(meta.len, 1200);
    }
    for (index, bytes) in buf[..meta.len].chunks(meta.stride).enumerate() {
        assert_eq!(bytes, datagram(index, 1200));
    }
}

/// `src_ip` picks the source address (any of 127/8 is local on Linux) and
/// `dst_ip` reports the address a datagram was sent to.
#[cfg(any(target_os = "linux", target_os = "android"))]
#[tokio::test]
async fn src_ip_and_dst_ip_are_the_packet_addresses() {
    let sender = bind(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let receiver = bind(LOCALHOST_V4);
    let source = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));
    let bytes = datagram(0, 10);
    let transmit = Transmit {
        src_ip: Some(source),
        ..transmit(addr(&receiver), &bytes, None)
    };
    within(send(&sender, &transmit)).await.unwrap();
    let mut buf = vec![0; RECV_BUF];
    let meta = within(recv(&receiver, &mut buf)).await.unwrap();
    assert_eq!(meta.addr, SocketAddr::new(source, addr(&sender).port()));
    assert_eq!(meta.dst_ip, Some(LOCALHOST_V4));
    // A source address of the other family is refused, not ignored.
    let wrong = Transmit {
        src_ip: Some(LOCALHOST_V6),
        ..transmit
    };
    let error = within(send(&sender, &wrong)).await.unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
}

#[tokio::test]
async fn poll_recv_is_pending_when_nothing_is_queued() {
    let receiver = bind(LOCALHOST_V4);
    let mut cx = Context::from_waker(std::task::Waker::noop());
    let mut buf = [0; 100];
    assert!(receiver.poll_recv(&mut cx, &mut buf).is_pending());
}

#[test]
fn bind_outside_a_runtime_is_an_error() {
    assert!(UdpSocket::bind(SocketAddr::new(LOCALHOST_V4, 0)).is_err());
}

/// What this kernel offers; on Linux 5.0+ (GSO 4.18, GRO 5.0) all of it.
#[tokio::test]
async fn reports_what_this_kernel_supports() {
    let v4 = bind(LOCALHOST_V4);
    eprintln!(
        "IPv4: GSO segments {}, GRO segments {}, ECN send {}, ECN receive {}",
        v4.max_gso_segments(),
        v4.gro_segments(),
        v4.ecn_send.load(Ordering::Relaxed),
        v4.ecn_recv
    );
    if let Some(ip) = localhost_v6() {
        let v6 = bind(ip);
        eprintln!(
            "IPv6: GSO segments {}, GRO segments {}, ECN send {}, ECN receive {}",
            v6.max_gso_segments(),
            v6.gro_segments(),
            v6.ecn_send.load(Ordering::Relaxed),
            v6.ecn_recv
        );
    }
    if linux_at_least(5, 0) {
        assert!(v4.max_gso_segments() > 1);
        assert!(v4.gro_segments() > 1);
        assert!(v4.ecn_recv);
    }
}

/// Whether this is Linux of at least `major.minor`.
fn linux_at_least(major: u32, minor: u32) -> bool {
    if !cfg!(target_os = "linux") {
        return false;
    }
    let Ok(release) = std::fs::read_to_string("/proc/sys/kernel/osrelease") else {
        return false;
    };
    let mut numbers = release
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok());
    let version: (u32, u32) = (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0));
    version >= (major, minor)
}

#[test]
fn receive_metadata_is_checked() {
    let addr = SocketAddr::new(LOCALHOST_V4, 4433);
    let raw = RawRecv {
        addr,
        copied: 3000,
        truncated: false,
        gro_stride: Some(1200),
        tos: Some(0xb8 | 0b10),
        dst_ip: None,
    };
    let meta = raw.into_meta().unwrap();
    assert_eq!(
        (meta.len, meta.stride, meta.ecn),
        (3000, 1200, Some(0b10)),
        "DSCP bits ignored"
    );
    // A stride over the length is one datagram.
    let one = RawRecv {
        gro_stride: Some(5000),
        tos: Some(0),
        ..raw
    }
    .into_meta()
    .unwrap();
    assert_eq!((one.len, one.stride, one.ecn), (3000, 3000, None));
    // A truncated batch keeps whole datagrams; a truncated datagram is dropped.
    let cut = RawRecv {
        truncated: true,
        ..raw
    }
    .into_meta()
    .unwrap();
    assert_eq!((cut.len, cut.stride), (2400, 1200));
    assert_eq!(
        RawRecv {
            truncated: true,
            gro_stride: None,
            ..raw
        }
        .into_meta(),
        None
    );
    assert_eq!(
        RawRecv {
            copied: 1000,
            truncated: true,
            ..raw
        }
        .into_meta(),
        None
    );
    assert_eq!(
        RawRecv {
            copied: 0,
            gro_stride: None,
            ..raw
        }
        .into_meta(),
        None
    );
    assert_eq!(
        RawRecv {
            gro_stride: Some(0),
            ..raw
        }
        .into_meta()
        .unwrap()
        .stride,
        3000
    );
    // IPv4-mapped addresses come out as IPv4.
    let mapped = SocketAddr::new(IpAddr::V6(Ipv4Addr::LOCALHOST.to_ipv6_mapped()), 4433);
    let dst = IpAddr::V6(Ipv4Addr::new(10, 0, 0, 1).to_ipv6_mapped());
    let meta = RawRecv {
        addr: mapped,
        dst_ip: Some(dst),
        ..raw
    }
    .into_meta()
    .unwrap();
    assert_eq!(meta.addr, addr);
    assert_eq!(meta.dst_ip, Some(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))));
}

#[test]
fn destinations_follow_the_socket_family() {
    let v4 = SocketAddr::new(LOCALHOST_V4, 443);
    let mapped = SocketAddr::new(IpAddr::V6(Ipv4Addr::LOCALHOST.to_ipv6_mapped()), 443);
    assert_eq!(socket_destination(true, v4).unwrap(), mapped);
    assert_eq!(socket_destination(false, mapped).unwrap(), v4);
    assert_eq!(socket_destination(false, v4).unwrap(), v4);
    let v6 = SocketAddr::new(LOCALHOST_V6, 443);
    assert_eq!(socket_destination(true, v6).unwrap(), v6);
    assert!(socket_destination(false, v6).is_err());
}

#[test]
fn send_in_order_stops_at_a_full_buffer_only_after_progress() {
    let pieces: [&[u8]; 3] = [b"a", b"b", b"c"];
    let would_block = || io::Error::from(io::ErrorKind::WouldBlock);
    // Nothing sent: the caller must wait and retry.
    let result = send_in_order(pieces.into_iter(), |_| Err(would_block()));
    assert_eq!(result.unwrap_err().kind(), io::ErrorKind::WouldBlock);
    // Some sent: the rest is dropped, the transmit done.
    let mut sent = Vec::new();
    let result = send_in_order(pieces.into_iter(), |piece| {
        if sent.len() == 2 {
            return Err(would_block());
        }
        sent.push(piece);
        Ok(())
    });
    assert!(result.is_ok());
    assert_eq!(sent, [b"a", b"b"]);
    // Any other error surfaces, wherever it happens.
    let mut calls = 0;
    let result = send_in_order(pieces.into_iter(), |_| {
        calls += 1;
        if calls == 2 {
            Err(io::Error::from(io::ErrorKind::PermissionDenied))
        } else {
            Ok(())
        }
    });
    assert_eq!(result.unwrap_err().kind(), io::ErrorKind::PermissionDenied);
    assert_eq!(calls, 2);
}

/// A feature is switched off only when the send without it works: not for
/// errors that are not refusals, nor when the retry fails too.
#[test]
fn a_refused_feature_is_blamed_only_if_the_retry_works() {
    let einval = || Err(io::Error::from(io::ErrorKind::InvalidInput));
    let is_invalid: fn(&io::Error) -> bool = |e| e.kind() == io::ErrorKind::InvalidInput;
    // Sent with the feature: no retry.
    let result = retry_without(Ok(()), is_invalid, || panic!("retried"));
    assert!(result.unwrap().is_none());
    // Refused, and sent without: the feature is at fault.
    let refusal = retry_without(einval(), is_invalid, || Ok(())).unwrap();
    assert_eq!(refusal.unwrap().kind(), io::ErrorKind::InvalidInput);
    // Refused, and refused without: the send's error, the feature kept.
    let denied = || Err(io::Error::from(io::ErrorKind::PermissionDenied));
    let error = retry_without(einval(), is_invalid, denied).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::PermissionDenied);
    // Refused, and the retry would block: nothing sent, wait and try again.
    let would_block = || Err(io::Error::from(io::ErrorKind::WouldBlock));
    let error = retry_without(einval(), is_invalid, would_block).unwrap_err();
    assert_eq!(error.kind(), io::ErrorKind::WouldBlock);
    // Not a refusal: no retry.
    let result = retry_without(denied(), is_invalid, || panic!("retried"));
    assert_eq!(result.unwrap_err().kind(), io::ErrorKind::PermissionDenied);
}
