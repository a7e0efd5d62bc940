//! The endpoint's routing table: which connection owns a connection ID, or,
//! for zero-length CIDs, a remote address.

use std::collections::HashMap;
use std::net::SocketAddr;

use super::ConnectionHandle;
use crate::cid::ConnectionId;

/// What the table knows of one connection.
#[derive(Debug)]
struct Route {
    /// Every local CID routed to it.
    cids: Vec<ConnectionId>,
    /// On a server, the DCID the client chose for its first Initials, routed
    /// until the handshake completes.
    initial: Option<ConnectionId>,
    remote: SocketAddr,
    /// A server connection still counted against `max_incoming`.
    handshaking: bool,
}

/// Connection IDs and addresses to connections.
#[derive(Debug, Default)]
pub(super) struct Routes {
    by_cid: HashMap<ConnectionId, ConnectionHandle>,
    by_remote: HashMap<SocketAddr, ConnectionHandle>,
    /// Every connection by its peer's address, for datagrams whose CID
    /// routes nowhere: they may be stateless resets (RFC 9000 §10.3.1).
    by_address: HashMap<SocketAddr, ConnectionHandle>,
    slots: Vec<Option<Route>>,
    free: Vec<usize>,
}

impl Routes {
    /// The connection a datagram to `cid` from `remote` belongs to.
    pub(super) fn get(&self, cid: &ConnectionId, remote: SocketAddr) -> Option<ConnectionHandle> {
        if cid.is_empty() {
            return self.by_remote.get(&remote).copied();
        }
        self.by_cid.get(cid).copied()
    }

    /// The connection whose peer is at `remote`, if any.
    pub(super) fn by_address(&self, remote: SocketAddr) -> Option<ConnectionHandle> {
        self.by_address.get(&remote).copied()
    }

    pub(super) fn contains(&self, cid: &ConnectionId) -> bool {
        self.by_cid.contains_key(cid)
    }

    /// The number of connections.
    pub(super) fn len(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    /// Adds a connection reached by `local_cid` (or, if empty, by
    /// `remote`) and, on a server, by the client's initial DCID.
    pub(super) fn insert(
        &mut self,
        local_cid: ConnectionId,
        initial: Option<ConnectionId>,
        remote: SocketAddr,
    ) -> ConnectionHandle {
        let route = Route {
            cids: Vec::new(),
            initial,
            remote,
            handshaking: initial.is_some(),
        };
        let handle = match self.free.pop() {
            Some(slot) => {
                self.slots[slot] = Some(route);
                ConnectionHandle(slot)
            }
            None => {
                self.slots.push(Some(route));
                ConnectionHandle(self.slots.len() - 1)
            }
        };
        self.by_address.insert(remote, handle);
        if local_cid.is_empty() {
            self.by_remote.insert(remote, handle);
        } else {
            self.add_cid(handle, local_cid);
        }
        if let Some(initial) = initial {
            self.by_cid.insert(initial, handle);
        }
        handle
    }

    pub(super) fn add_cid(&mut self, handle: ConnectionHandle, cid: ConnectionId) {
        if let Some(Some(route)) = self.slots.get_mut(handle.0) {
            route.cids.push(cid);
            self.by_cid.insert(cid, handle);
        }
    }

    pub(super) fn remove_cid(&mut self, handle: ConnectionHandle, cid: &ConnectionId) {
        if let Some(Some(route)) = self.slots.get_mut(handle.0) {
            route.cids.retain(|c| c != cid);
            if self.by_cid.get(cid) == Some(&handle) {
                self.by_cid.remove(cid);
            }
        }
    }

    /// The handshake completed: the client's initial DCID stops routing.
    /// Returns whether the connection was counted as handshaking.
    pub(super) fn complete_handshake(&mut self, handle: ConnectionHandle) -> bool {
        let Some(Some(route)) = self.slots.get_mut(handle.0) else {
            return false;
        };
        if let Some(initial) = route.initial.take() {
            if self.by_cid.get(&initial) == Some(&handle) {
                self.by_cid.remove(&initial);
            }
        }
        std::mem::take(&mut route.handshaking)
    }

    /// Forgets a drained connection. Returns whether it was still counted as
    /// handshaking.
    pub(super) fn remove(&mut self, handle: ConnectionHandle) -> bool {
        let Some(route) = self.slots.get_mut(handle.0).and_then(Option::take) else {
            return false;
        };
        for cid in route.cids.iter().chain(route.initial.iter()) {
            if self.by_cid.get(cid) == Some(&handle) {
                self.by_cid.remove(cid);
            }
        }
        if self.by_remote.get(&route.remote) == Some(&handle) {
            self.by_remote.remove(&route.remote);
        }
        if self.by_address.get(&route.remote) == Some(&handle) {
            self.by_address.remove(&route.remote);
        }
        self.free.push(handle.0);
        route.handshaking
    }
}
