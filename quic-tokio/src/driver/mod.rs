//! The endpoint's driver: one task that owns the UDP socket and moves every
//! connection of the endpoint forward (DESIGN.md, "quic-tokio: the driver").
//!
//! Each time it runs, the driver
//!
//! 1. retries a transmit the socket refused last time,
//! 2. receives up to [`RECV_BUDGET`] datagrams and hands each straight to
//!    its connection (or to the accept queue),
//! 3. fires the connections whose deadline passed,
//! 4. takes the connections the application changed off the wake-up queue,
//! 5. flushes every connection touched: routes its events to the waiting
//!    tasks, sends what it has (at most [`TRANSMIT_BUDGET`] transmits in
//!    all), and files its next deadline,
//! 6. arms its one `Sleep` at the earliest deadline,
//!
//! and yields if a budget ran out, so one busy connection cannot starve the
//! others or the runtime. It ends when no handle on the endpoint is left and
//! every connection has drained; the socket closes with it.

mod timers;

use std::collections::VecDeque;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::BytesMut;
use quic_proto::connection::{EcnCodepoint, EndpointEvent};
use quic_proto::endpoint::DatagramEvent;
use tokio::time::Sleep;

use self::timers::TimerSet;
use crate::clock;
use crate::connection::state::{ConnectionShared, Wakes};
use crate::error::ConnectionError;
use crate::shared::EndpointShared;
use crate::udp::{self, UdpSocket};

/// The most datagrams received per run of the driver.
const RECV_BUDGET: usize = 64;
/// The most transmits (each one `poll_transmit`) sent per run.
const TRANSMIT_BUDGET: usize = 64;
/// The largest UDP payload one receive may bring.
const MAX_DATAGRAM: usize = 65_535;
/// Receive buffers are carved out of allocations of this size: datagrams
/// are handed to connections as slices of it, and stream data to the
/// application as slices of those, without copies.
const RECV_CHUNK: usize = 4 * MAX_DATAGRAM;

/// A transmit the socket could not take; its bytes are in `send_buf`.
#[derive(Debug, Clone, Copy)]
struct BlockedSend {
    destination: SocketAddr,
    ecn: Option<u8>,
    size: usize,
    segment_size: Option<usize>,
}

/// The driver task's future.
pub(crate) struct Driver {
    shared: Arc<EndpointShared>,
    socket: UdpSocket,
    /// Initialised bytes not yet handed out; refilled from a new
    /// allocation when shorter than a datagram.
    recv_buf: BytesMut,
    send_buf: Vec<u8>,
    blocked_send: Option<BlockedSend>,
    response_buf: Vec<u8>,
    timers: TimerSet,
    sleep: Pin<Box<Sleep>>,
    /// The deadline `sleep` is set to, if armed.
    armed: Option<Instant>,
    /// Connections to flush, in order; each at most once (its `dirty`
    /// flag).
    dirty: VecDeque<Arc<ConnectionShared>>,
    wake_ups: Vec<Arc<ConnectionShared>>,
    wakes: Wakes,
    endpoint_events: Vec<EndpointEvent>,
    max_segments: usize,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("local_addr", &self.shared.local_addr)
            .field("dirty", &self.dirty.len())
            .finish_non_exhaustive()
    }
}

impl Driver {
    pub(crate) fn new(shared: Arc<EndpointShared>, socket: UdpSocket) -> Self {
        // One GSO send carries at most 64 KiB: with full-size datagrams of
        // the minimum size, that is 54 of them (RFC 9000 §14).
        let max_segments = socket.max_gso_segments().clamp(1, 65_000 / 1200);
        tracing::debug!(
            gso = max_segments,
            gro = socket.gro_segments(),
            "driver started"
        );
        Self {
            shared,
            recv_buf: BytesMut::new(),
            send_buf: Vec::with_capacity(MAX_DATAGRAM),
            blocked_send: None,
            response_buf: Vec::new(),
            timers: TimerSet::default(),
            sleep: Box::pin(tokio::time::sleep_until(tokio::time::Instant::now())),
            armed: None,
            dirty: VecDeque::new(),
            wake_ups: Vec::new(),
            wakes: Wakes::default(),
            endpoint_events: Vec::new(),
            max_segments,
            socket,
        }
    }

    fn mark_dirty(&mut self, connection: &Arc<ConnectionShared>) {
        if !connection.dirty.swap(true, Ordering::Relaxed) {
            self.dirty.push_back(connection.clone());
        }
    }

    /// Retries the transmit the socket refused. Returns whether the socket
    /// takes more.
    fn retry_blocked_send(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(blocked) = self.blocked_send else {
            return true;
        };
        let transmit = udp::Transmit {
            src_ip: None,
            destination: blocked.destination,
            ecn: blocked.ecn,
            contents: &self.send_buf[..blocked.size],
            segment_size: blocked.segment_size,
        };
        match self.socket.poll_send(cx, &transmit) {
            Poll::Pending => false,
            Poll::Ready(result) => {
                if let Err(error) = result {
                    tracing::debug!(%error, "send failed");
                }
                self.blocked_send = None;
                true
            }
        }
    }

    /// Receives and routes datagrams. Returns whether the budget ran out
    /// (more may be waiting).
    fn receive(&mut self, cx: &mut Context<'_>, now: Instant) -> bool {
        for _ in 0..RECV_BUDGET {
            if self.recv_buf.len() < MAX_DATAGRAM {
                self.recv_buf = BytesMut::zeroed(RECV_CHUNK);
            }
            let meta = match self.socket.poll_recv(cx, &mut self.recv_buf) {
                Poll::Pending => return false,
                Poll::Ready(Ok(meta)) => meta,
                Poll::Ready(Err(error)) => {
                    // ICMP errors reported on the socket and the like: the
                    // socket itself stays usable.
                    tracing::debug!(%error, "receive failed");
                    continue;
                }
            };
            let mut data = self.recv_buf.split_to(meta.len.min(self.recv_buf.len()));
            let ecn = meta.ecn.and_then(EcnCodepoint::from_bits);
            let stride = meta.stride.max(1);
            while !data.is_empty() {
                let datagram = data.split_to(stride.min(data.len()));
                self.handle_datagram(cx, now, meta.addr, ecn, datagram);
            }
        }
        true
    }

    fn handle_datagram(
        &mut self,
        cx: &mut Context<'_>,
        now: Instant,
        remote: SocketAddr,
        ecn: Option<EcnCodepoint>,
        data: BytesMut,
    ) {
        let mut endpoint = self.shared.state.lock("handle_datagram");
        let event = endpoint
            .proto
            .handle(now, remote, ecn, data, &mut self.response_buf);
        match event {
            None => {}
            Some(DatagramEvent::ForConnection(handle, data)) => {
                let connection = endpoint.get(handle).cloned();
                drop(endpoint);
                if let Some(connection) = connection {
                    let mut state = connection.state.lock("handle_datagram");
                    state.proto.handle_datagram(now, remote, ecn, data);
                    drop(state);
                    self.mark_dirty(&connection);
                }
            }
            Some(DatagramEvent::NewConnection(incoming)) => {
                let full = endpoint.incoming.len() >= endpoint.max_incoming;
                if endpoint.pending_dst_cids.contains(&incoming.dst_cid()) {
                    // The client repeated its Initial while the first one
                    // waits for the application: nothing new in it.
                    tracing::trace!("retransmitted Initial of a pending connection");
                } else if endpoint.closed || full || !self.shared.has_handles() {
                    let refusal = endpoint.proto.refuse(incoming, &mut self.response_buf);
                    drop(endpoint);
                    if let Some(transmit) = refusal {
                        self.send_response(cx, transmit.destination, transmit.size);
                    }
                } else {
                    endpoint.pending_dst_cids.insert(incoming.dst_cid());
                    endpoint.incoming.push_back(incoming);
                    drop(endpoint);
                    self.shared.incoming_notify.notify_waiters();
                }
            }
            Some(DatagramEvent::Response(transmit)) => {
                drop(endpoint);
                self.send_response(cx, transmit.destination, transmit.size);
            }
        }
    }

    /// Sends the stateless datagram in `response_buf`; dropped if the
    /// socket is full, as the network might.
    fn send_response(&mut self, cx: &mut Context<'_>, destination: SocketAddr, size: usize) {
        let transmit = udp::Transmit {
            src_ip: None,
            destination,
            ecn: None,
            contents: &self.response_buf[..size],
            segment_size: None,
        };
        match self.socket.poll_send(cx, &transmit) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(error)) => tracing::debug!(%error, "send failed"),
            Poll::Pending => tracing::debug!("socket full: stateless response dropped"),
        }
    }

    /// Sends the Retry and refusal packets the application queued.
    fn send_queued_responses(&mut self, cx: &mut Context<'_>) {
        loop {
            let next = self.shared.state.lock("responses").responses.pop_front();
            let Some((destination, datagram)) = next else {
                return;
            };
            let transmit = udp::Transmit {
                src_ip: None,
                destination,
                ecn: None,
                contents: &datagram,
                segment_size: None,
            };
            match self.socket.poll_send(cx, &transmit) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(error)) => tracing::debug!(%error, "send failed"),
                Poll::Pending => {
                    let mut endpoint = self.shared.state.lock("responses");
                    endpoint.responses.push_front((destination, datagram));
                    return;
                }
            }
        }
    }

    /// Fires every connection whose deadline is due.
    fn fire_timers(&mut self, now: Instant) {
        while let Some(handle) = self.timers.pop_due(now) {
            let connection = self.shared.state.lock("fire_timers").get(handle).cloned();
            if let Some(connection) = connection {
                connection
                    .state
                    .lock("handle_timeout")
                    .proto
                    .handle_timeout(now);
                self.mark_dirty(&connection);
            }
        }
    }

    /// Moves the connections the application changed onto the flush list.
    fn take_wake_ups(&mut self) {
        self.shared.take_wake_ups(&mut self.wake_ups);
        let mut wake_ups = std::mem::take(&mut self.wake_ups);
        for connection in wake_ups.drain(..) {
            // Cleared before the connection is locked, so that a change
            // made after this point queues it again.
            connection.queued.swap(false, Ordering::AcqRel);
            self.mark_dirty(&connection);
        }
        self.wake_ups = wake_ups;
    }

    /// Flushes the connections on the list, within the transmit budget.
    /// Returns whether work is left that can be done now.
    fn flush(&mut self, cx: &mut Context<'_>, now: Instant, mut can_send: bool) -> bool {
        let mut budget = TRANSMIT_BUDGET;
        for _ in 0..self.dirty.len() {
            let Some(connection) = self.dirty.pop_front() else {
                break;
            };
            connection.dirty.store(false, Ordering::Relaxed);
            if self.flush_one(cx, &connection, now, &mut budget, &mut can_send) {
                self.mark_dirty(&connection);
            }
        }
        can_send && !self.dirty.is_empty()
    }

    /// Routes one connection's events, sends what it has and files its
    /// deadline. Returns whether it has more to send.
    fn flush_one(
        &mut self,
        cx: &mut Context<'_>,
        connection: &Arc<ConnectionShared>,
        now: Instant,
        budget: &mut usize,
        can_send: &mut bool,
    ) -> bool {
        // Events first, so that woken tasks run while we send.
        if !self.route(connection) {
            return false;
        }
        // A connection that cannot send now (the socket is full) stays on
        // the list until it can.
        let mut again = !*can_send;
        while *can_send {
            if *budget == 0 {
                again = true;
                break;
            }
            let transmit = connection.state.lock("poll_transmit").proto.poll_transmit(
                now,
                self.max_segments,
                &mut self.send_buf,
            );
            let Some(transmit) = transmit else { break };
            *budget -= 1;
            let blocked = BlockedSend {
                destination: transmit.destination,
                ecn: transmit.ecn.map(EcnCodepoint::bits),
                size: transmit.size,
                segment_size: transmit.segment_size,
            };
            self.blocked_send = Some(blocked);
            if !self.retry_blocked_send(cx) {
                *can_send = false;
                again = true;
            }
        }
        self.route(connection);
        again
    }

    /// Routes a connection's events to its waiting tasks, applies its
    /// endpoint events and files its deadline. Returns `false` once the
    /// connection has drained (it is then forgotten).
    fn route(&mut self, connection: &Arc<ConnectionShared>) -> bool {
        let (drained, deadline) = {
            let mut state = connection.state.lock("route_events");
            if state.drained {
                // Drained earlier; its handle may already name another
                // connection.
                return false;
            }
            let drained = state.route_events(&mut self.wakes);
            while let Some(event) = state.proto.poll_endpoint_event() {
                self.endpoint_events.push(event);
            }
            (drained, state.proto.poll_timeout())
        };
        self.wakes.wake(&connection.notify);
        let handle = connection.handle;
        self.timers.set(handle, deadline.filter(|_| !drained));
        if self.endpoint_events.is_empty() && !drained {
            return true;
        }
        let idle = {
            let mut endpoint = self.shared.state.lock("endpoint_events");
            for event in self.endpoint_events.drain(..) {
                endpoint.proto.handle_event(handle, event);
            }
            if drained {
                endpoint.remove(handle);
            }
            endpoint.connection_count() == 0
        };
        if drained && idle {
            self.shared.idle_notify.notify_waiters();
        }
        !drained
    }

    /// Arms the `Sleep` at the earliest deadline. Returns whether a
    /// deadline is already due.
    fn arm_timer(&mut self, cx: &mut Context<'_>, now: Instant) -> bool {
        let Some(next) = self.timers.next() else {
            self.armed = None;
            return false;
        };
        if next <= now {
            return true;
        }
        if self.armed != Some(next) {
            self.sleep
                .as_mut()
                .reset(tokio::time::Instant::from_std(next));
            self.armed = Some(next);
        }
        // The clock decides when timers are due; the `Sleep` only wakes us.
        self.sleep.as_mut().poll(cx).is_ready()
    }

    /// No handle is left and every connection has drained.
    fn finished(&self) -> bool {
        !self.shared.has_handles() && self.shared.state.lock("finished").connection_count() == 0
    }
}

impl Future for Driver {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        this.shared.register_driver(cx.waker());
        let now = clock::now();
        let can_send = this.retry_blocked_send(cx);
        let more_to_receive = this.receive(cx, now);
        this.fire_timers(now);
        this.take_wake_ups();
        if can_send {
            this.send_queued_responses(cx);
        }
        let more_to_send = this.flush(cx, now, can_send);
        if this.finished() {
            return Poll::Ready(());
        }
        let timer_due = this.arm_timer(cx, now);
        if more_to_receive || more_to_send || timer_due {
            // Yield to the runtime, then carry on.
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }
}

impl Drop for Driver {
    /// The task ended, or its runtime shut down: fail whatever still waits
    /// on this endpoint, and break the reference cycles between the
    /// endpoint and its connections.
    fn drop(&mut self) {
        self.shared.close_wake_ups();
        let connections = {
            let mut endpoint = self.shared.state.lock("driver_stopped");
            endpoint.driver_stopped = true;
            endpoint.clear_incoming();
            endpoint.take_all()
        };
        for connection in connections {
            connection.abandon(ConnectionError::EndpointStopped);
        }
        self.dirty.clear();
        self.shared.incoming_notify.notify_waiters();
        self.shared.idle_notify.notify_waiters();
    }
}
