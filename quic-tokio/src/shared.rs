//! What the driver task and the application's endpoint handles share: the
//! `quic_proto::Endpoint` and the connection table behind one lock, the
//! coalescing wake-up queue, and the driver's waker.

use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::task::AtomicWaker;
use quic_proto::ConnectionId;
use quic_proto::endpoint::ConnectionHandle;
use quic_proto::token::TokenKey;
use tokio::sync::Notify;

use crate::config::ClientConfig;
use crate::connection::state::ConnectionShared;
use crate::sync::Lock;

/// The most stateless responses (Retry, refusals) the application may queue
/// for the driver before further ones are dropped, as UDP would.
pub(crate) const MAX_QUEUED_RESPONSES: usize = 64;

/// One endpoint, shared by its driver task and its handles.
pub(crate) struct EndpointShared {
    pub(crate) state: Lock<EndpointState>,
    /// Connections an application call changed, each at most once (its
    /// `queued` flag): bounded by the number of connections.
    wake_queue: Lock<WakeQueue>,
    /// The driver task.
    driver_waker: AtomicWaker,
    /// Application handles on the endpoint: `Endpoint` clones and pending
    /// `Incoming`s.
    handles: AtomicUsize,
    /// `accept()`: a connection is waiting, or the endpoint closed.
    pub(crate) incoming_notify: Notify,
    /// `wait_idle()`: the last connection drained.
    pub(crate) idle_notify: Notify,
    pub(crate) local_addr: SocketAddr,
    /// The driver task, for tests that check it ends.
    pub(crate) driver: Lock<Option<tokio::task::JoinHandle<()>>>,
}

/// The wake-up queue; closed when the driver stops, so that no connection
/// is kept alive by it afterwards.
#[derive(Debug, Default)]
struct WakeQueue {
    connections: Vec<Arc<ConnectionShared>>,
    closed: bool,
}

/// The state behind the endpoint's lock.
#[derive(Debug)]
pub(crate) struct EndpointState {
    pub(crate) proto: quic_proto::endpoint::Endpoint,
    /// Every live connection, indexed by its handle.
    connections: Vec<Option<Arc<ConnectionShared>>>,
    connection_count: usize,
    /// New connections waiting for `accept()`, at most `max_incoming`.
    pub(crate) incoming: VecDeque<quic_proto::endpoint::Incoming>,
    /// The Initial DCIDs of the new connections queued or held by the
    /// application, so that a client's retransmitted Initial does not
    /// become a second `Incoming` (RFC 9000 §7.2).
    pub(crate) pending_dst_cids: HashSet<ConnectionId>,
    pub(crate) max_incoming: usize,
    /// Stateless answers (Retry, CONNECTION_REFUSED) for the driver to send.
    pub(crate) responses: VecDeque<(SocketAddr, Vec<u8>)>,
    pub(crate) default_client_config: Option<ClientConfig>,
    /// Seals Retry and NEW_TOKEN tokens, drawn from the OS at start.
    pub(crate) token_key: TokenKey,
    /// `Endpoint::close` was called: no new connections either way.
    pub(crate) closed: bool,
    /// The driver task ended.
    pub(crate) driver_stopped: bool,
}

impl std::fmt::Debug for EndpointShared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndpointShared")
            .field("local_addr", &self.local_addr)
            .field("handles", &self.handles.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl EndpointShared {
    pub(crate) fn new(
        proto: quic_proto::endpoint::Endpoint,
        max_incoming: usize,
        token_key: TokenKey,
        local_addr: SocketAddr,
    ) -> Arc<Self> {
        Arc::new(Self {
            state: Lock::new(EndpointState {
                proto,
                connections: Vec::new(),
                connection_count: 0,
                incoming: VecDeque::new(),
                pending_dst_cids: HashSet::new(),
                max_incoming,
                responses: VecDeque::new(),
                default_client_config: None,
                token_key,
                closed: false,
                driver_stopped: false,
            }),
            wake_queue: Lock::new(WakeQueue::default()),
            driver_waker: AtomicWaker::new(),
            handles: AtomicUsize::new(0),
            incoming_notify: Notify::new(),
            idle_notify: Notify::new(),
            local_addr,
            driver: Lock::new(None),
        })
    }

    /// Appends a connection whose `queued` flag the caller just set, and
    /// wakes the driver.
    pub(crate) fn queue_wake_up(&self, connection: Arc<ConnectionShared>) {
        {
            let mut queue = self.wake_queue.lock("queue_wake_up");
            if queue.closed {
                return;
            }
            queue.connections.push(connection);
        }
        self.wake_driver();
    }

    /// Swaps the queued connections into `out`, which must be empty
    /// (driver).
    pub(crate) fn take_wake_ups(&self, out: &mut Vec<Arc<ConnectionShared>>) {
        let mut queue = self.wake_queue.lock("take_wake_ups");
        std::mem::swap(&mut queue.connections, out);
    }

    /// Empties the wake-up queue for good (the driver stopped).
    pub(crate) fn close_wake_ups(&self) {
        let mut queue = self.wake_queue.lock("close_wake_ups");
        queue.closed = true;
        queue.connections.clear();
    }

    pub(crate) fn wake_driver(&self) {
        self.driver_waker.wake();
    }

    pub(crate) fn register_driver(&self, waker: &std::task::Waker) {
        self.driver_waker.register(waker);
    }

    pub(crate) fn add_handle(&self) {
        self.handles.fetch_add(1, Ordering::Relaxed);
    }

    /// Drops a handle; the driver re-checks whether it may stop.
    pub(crate) fn remove_handle(&self) {
        if self.handles.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.wake_driver();
        }
    }

    pub(crate) fn has_handles(&self) -> bool {
        self.handles.load(Ordering::Acquire) > 0
    }
}

impl EndpointState {
    pub(crate) fn insert(&mut self, connection: Arc<ConnectionShared>) {
        let index = connection.handle.0;
        if self.connections.len() <= index {
            self.connections.resize(index + 1, None);
        }
        if self.connections[index].replace(connection).is_none() {
            self.connection_count += 1;
        }
    }

    pub(crate) fn get(&self, handle: ConnectionHandle) -> Option<&Arc<ConnectionShared>> {
        self.connections.get(handle.0)?.as_ref()
    }

    pub(crate) fn remove(&mut self, handle: ConnectionHandle) -> Option<Arc<ConnectionShared>> {
        let removed = self.connections.get_mut(handle.0)?.take();
        if removed.is_some() {
            self.connection_count -= 1;
        }
        removed
    }

    /// Takes every connection (the driver is stopping).
    pub(crate) fn take_all(&mut self) -> Vec<Arc<ConnectionShared>> {
        self.connection_count = 0;
        self.connections.drain(..).flatten().collect()
    }

    pub(crate) fn connections(&self) -> impl Iterator<Item = &Arc<ConnectionShared>> + '_ {
        self.connections.iter().flatten()
    }

    pub(crate) fn connection_count(&self) -> usize {
        self.connection_count
    }

    /// Forgets the queued new connections.
    pub(crate) fn clear_incoming(&mut self) {
        for incoming in self.incoming.drain(..) {
            self.pending_dst_cids.remove(&incoming.dst_cid());
        }
    }

    /// Queues a stateless answer for the driver, dropping it if the queue
    /// is full.
    pub(crate) fn queue_response(&mut self, destination: SocketAddr, datagram: Vec<u8>) {
        if self.responses.len() < MAX_QUEUED_RESPONSES {
            self.responses.push_back((destination, datagram));
        }
    }
}

/// A counted application handle on an endpoint: while any exists (or any
/// connection lives), the driver keeps running.
#[derive(Debug)]
pub(crate) struct EndpointRef(Arc<EndpointShared>);

impl EndpointRef {
    pub(crate) fn new(shared: Arc<EndpointShared>) -> Self {
        shared.add_handle();
        Self(shared)
    }
}

impl Clone for EndpointRef {
    fn clone(&self) -> Self {
        Self::new(self.0.clone())
    }
}

impl std::ops::Deref for EndpointRef {
    type Target = Arc<EndpointShared>;

    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl Drop for EndpointRef {
    fn drop(&mut self) {
        self.0.remove_handle();
    }
}
