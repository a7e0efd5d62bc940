//! What the driver and the application handles of one connection share: the
//! `quic_proto::Connection` behind one named lock, the wakers of the tasks
//! waiting on it, and the bookkeeping that routes each event to exactly those
//! tasks.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::Waker;

use bytes::Bytes;
use quic_proto::coding::VarInt;
use quic_proto::connection::Event;
use quic_proto::endpoint::ConnectionHandle;
use quic_proto::shared::{Dir, StreamId};
use tokio::sync::Notify;

use crate::clock;
use crate::error::ConnectionError;
use crate::shared::EndpointShared;
use crate::sync::Lock;

/// One connection, shared by the driver and the application's handles.
pub(crate) struct ConnectionShared {
    pub(crate) handle: ConnectionHandle,
    pub(crate) state: Lock<ConnectionState>,
    pub(crate) endpoint: Arc<EndpointShared>,
    /// How many application handles exist (`Connecting`, `Connection`,
    /// `SendStream`, `RecvStream`); the driver's references do not count.
    /// The connection closes when it falls to zero.
    handles: AtomicUsize,
    /// Whether the connection is on the endpoint's wake-up queue.
    pub(crate) queued: AtomicBool,
    /// Whether the connection is on the driver's flush list (driver only).
    pub(crate) dirty: AtomicBool,
    /// Waiters that may be many at once (a `Connection` is `Clone`).
    pub(crate) notify: Notifies,
}

/// The `Notify`s of the waits several tasks may share.
#[derive(Debug, Default)]
pub(crate) struct Notifies {
    /// `open_bi`/`open_uni`: stream credit arrived.
    pub(crate) open: [Notify; 2],
    /// `accept_bi`/`accept_uni`: the peer opened a stream.
    pub(crate) accept: [Notify; 2],
    /// `read_datagram`: a datagram arrived.
    pub(crate) datagram: Notify,
    /// `closed`: the connection ended.
    pub(crate) closed: Notify,
}

/// The state behind the connection's lock.
#[derive(Debug)]
pub(crate) struct ConnectionState {
    pub(crate) proto: quic_proto::connection::Connection,
    /// Why the connection ended, once it has.
    pub(crate) error: Option<ConnectionError>,
    /// The handshake completed.
    pub(crate) connected: bool,
    /// The connection is over and forgotten by the driver.
    pub(crate) drained: bool,
    /// The `Connecting` future waiting for the handshake.
    pub(crate) connecting: Option<Waker>,
    /// The send halves that have a handle.
    pub(crate) send: HashMap<StreamId, SendWaiters>,
    /// The receive halves that have a handle, with the waker of a blocked
    /// read.
    pub(crate) recv: HashMap<StreamId, Option<Waker>>,
}

/// What a `SendStream` waits for.
#[derive(Debug, Default)]
pub(crate) struct SendWaiters {
    /// A write blocked on flow control or the send buffer.
    pub(crate) writer: Option<Waker>,
    /// A `stopped()` call.
    pub(crate) stopped_waiter: Option<Waker>,
    /// The last write was cut short: wait for `StreamWritable` before
    /// trying (and copying) again.
    pub(crate) blocked: bool,
    /// The peer sent STOP_SENDING with this code.
    pub(crate) stopped: Option<VarInt>,
    /// Everything written and the FIN were acknowledged.
    pub(crate) acknowledged: bool,
}

/// The wake-ups one pass over a connection's events produced, done after its
/// lock is released.
#[derive(Debug, Default)]
pub(crate) struct Wakes {
    pub(crate) wakers: Vec<Waker>,
    notify: u8,
}

const OPEN_BI: u8 = 1 << 0;
const OPEN_UNI: u8 = 1 << 1;
const ACCEPT_BI: u8 = 1 << 2;
const ACCEPT_UNI: u8 = 1 << 3;
const DATAGRAM: u8 = 1 << 4;
const CLOSED: u8 = 1 << 5;
const ALL: u8 = (1 << 6) - 1;

fn open_bit(dir: Dir) -> u8 {
    match dir {
        Dir::Bi => OPEN_BI,
        Dir::Uni => OPEN_UNI,
    }
}

fn accept_bit(dir: Dir) -> u8 {
    match dir {
        Dir::Bi => ACCEPT_BI,
        Dir::Uni => ACCEPT_UNI,
    }
}

impl Wakes {
    /// Wakes everything collected.
    pub(crate) fn wake(&mut self, notify: &Notifies) {
        for waker in self.wakers.drain(..) {
            waker.wake();
        }
        let bits = std::mem::take(&mut self.notify);
        let all = [
            (OPEN_BI, &notify.open[0]),
            (OPEN_UNI, &notify.open[1]),
            (ACCEPT_BI, &notify.accept[0]),
            (ACCEPT_UNI, &notify.accept[1]),
            (DATAGRAM, &notify.datagram),
            (CLOSED, &notify.closed),
        ];
        for (bit, notify) in all {
            if bits & bit != 0 {
                notify.notify_waiters();
            }
        }
    }
}

impl std::fmt::Debug for ConnectionShared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectionShared")
            .field("handle", &self.handle)
            .field("handles", &self.handles.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl ConnectionShared {
    pub(crate) fn new(
        handle: ConnectionHandle,
        proto: quic_proto::connection::Connection,
        endpoint: Arc<EndpointShared>,
    ) -> Arc<Self> {
        Arc::new(Self {
            handle,
            state: Lock::new(ConnectionState {
                proto,
                error: None,
                connected: false,
                drained: false,
                connecting: None,
                send: HashMap::new(),
                recv: HashMap::new(),
            }),
            endpoint,
            handles: AtomicUsize::new(0),
            queued: AtomicBool::new(false),
            dirty: AtomicBool::new(false),
            notify: Notifies::default(),
        })
    }

    /// Puts the connection on the endpoint's wake-up queue (once) and wakes
    /// the driver, after an application call changed its state.
    pub(crate) fn wake_driver(self: &Arc<Self>) {
        if !self.queued.swap(true, Ordering::AcqRel) {
            self.endpoint.queue_wake_up(self.clone());
        }
    }

    /// Closes the connection with `code` and `reason` unless it already
    /// ended; the driver sends the CONNECTION_CLOSE.
    pub(crate) fn close(self: &Arc<Self>, code: VarInt, reason: Bytes) {
        {
            let mut state = self.state.lock("close");
            state.proto.close(clock::now(), code, reason);
            state.error.get_or_insert(ConnectionError::LocallyClosed);
        }
        self.wake_driver();
    }

    /// Marks the connection as lost for `error` without the protocol's
    /// say, when the driver is gone, and wakes every waiter.
    pub(crate) fn abandon(&self, error: ConnectionError) {
        let mut wakes = Wakes::default();
        {
            let mut state = self.state.lock("abandon");
            state.error.get_or_insert(error);
            state.drained = true;
            state.wake_all(&mut wakes);
        }
        wakes.wake(&self.notify);
    }
}

impl ConnectionState {
    /// Drains the connection's events into the wakers of the tasks that
    /// care (DESIGN.md: "wake exactly the tasks that care"). Returns
    /// whether the connection drained.
    pub(crate) fn route_events(&mut self, wakes: &mut Wakes) -> bool {
        let mut drained = false;
        while let Some(event) = self.proto.poll_event() {
            match event {
                Event::HandshakeDataReady => {}
                Event::Connected => {
                    self.connected = true;
                    wakes.wakers.extend(self.connecting.take());
                }
                Event::ConnectionLost { reason } => {
                    self.error.get_or_insert(reason.into());
                    self.wake_all(wakes);
                }
                Event::StreamOpened { dir } => wakes.notify |= accept_bit(dir),
                Event::StreamAvailable { dir } => wakes.notify |= open_bit(dir),
                Event::StreamReadable { id } => {
                    if let Some(waker) = self.recv.get_mut(&id).and_then(Option::take) {
                        wakes.wakers.push(waker);
                    }
                }
                Event::StreamWritable { id } => {
                    if let Some(send) = self.send.get_mut(&id) {
                        send.blocked = false;
                        wakes.wakers.extend(send.writer.take());
                    }
                }
                Event::StreamFinished { id } => {
                    if let Some(send) = self.send.get_mut(&id) {
                        send.acknowledged = true;
                        wakes.wakers.extend(send.stopped_waiter.take());
                    }
                }
                Event::StreamStopped { id, error_code } => {
                    if let Some(send) = self.send.get_mut(&id) {
                        send.stopped = Some(error_code);
                        send.blocked = false;
                        wakes.wakers.extend(send.writer.take());
                        wakes.wakers.extend(send.stopped_waiter.take());
                    }
                }
                Event::DatagramReceived => wakes.notify |= DATAGRAM,
                Event::Drained => {
                    self.drained = true;
                    drained = true;
                }
            }
        }
        drained
    }

    /// Every waiter: the connection ended.
    fn wake_all(&mut self, wakes: &mut Wakes) {
        wakes.notify = ALL;
        wakes.wakers.extend(self.connecting.take());
        for send in self.send.values_mut() {
            wakes.wakers.extend(send.writer.take());
            wakes.wakers.extend(send.stopped_waiter.take());
        }
        for recv in self.recv.values_mut() {
            wakes.wakers.extend(recv.take());
        }
    }
}

/// A counted application handle on a connection: the last one dropped
/// closes the connection with code 0.
#[derive(Debug)]
pub(crate) struct ConnectionRef(Arc<ConnectionShared>);

impl ConnectionRef {
    pub(crate) fn new(shared: Arc<ConnectionShared>) -> Self {
        shared.handles.fetch_add(1, Ordering::Relaxed);
        Self(shared)
    }
}

impl Clone for ConnectionRef {
    fn clone(&self) -> Self {
        Self::new(self.0.clone())
    }
}

impl std::ops::Deref for ConnectionRef {
    type Target = Arc<ConnectionShared>;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl Drop for ConnectionRef {
    fn drop(&mut self) {
        if self.0.handles.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.close(VarInt::ZERO, Bytes::new());
        }
    }
}
