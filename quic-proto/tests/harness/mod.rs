//! QUIC endpoints as hosts of the simulated network: [`QuicHost`] adapts a
//! `quic_proto::endpoint::Endpoint` and its connections to `sim::Host`, and
//! [`App`]s play the application on each connection.
#![allow(dead_code)]

pub mod apps;
pub mod certs;
pub mod pair;

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::BytesMut;
use quic_proto::config::{ClientConfig, EndpointConfig, ServerConfig};
use quic_proto::connection::{Connection, EcnCodepoint, Event};
use quic_proto::endpoint::{ConnectionHandle, DatagramEvent, Endpoint, Incoming};

use crate::sim::{self, Datagram};

/// What a host does with a new connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AcceptPolicy {
    /// Accept at once.
    Accept,
    /// Answer with a Retry unless the address is already validated.
    Retry,
    /// Refuse with CONNECTION_REFUSED.
    Refuse,
}

/// The application on one connection.
pub trait App {
    /// An event of the connection.
    fn on_event(&mut self, conn: &mut Connection, now: Instant, event: &Event);
    /// Called after every input, to write what it can.
    fn poll(&mut self, conn: &mut Connection, now: Instant) {
        let _ = (conn, now);
    }
    /// Lets tests look inside.
    fn as_any(&self) -> &dyn std::any::Any;
}

/// One connection of a host, with its application.
pub struct Conn {
    pub conn: Connection,
    pub app: Box<dyn App>,
    /// Every event the connection emitted, in order.
    pub events: Vec<Event>,
}

/// An endpoint and its connections.
pub struct QuicHost {
    pub addr: SocketAddr,
    pub endpoint: Endpoint,
    pub conns: BTreeMap<ConnectionHandle, Conn>,
    /// Connections that drained, kept for inspection.
    pub finished: Vec<Conn>,
    pub accept_policy: AcceptPolicy,
    /// Makes the application for each accepted connection.
    pub server_app: Option<Box<dyn FnMut() -> Box<dyn App>>>,
    outgoing: VecDeque<Datagram>,
    buf: Vec<u8>,
    /// The most datagrams asked of `poll_transmit` at once.
    pub max_datagrams: usize,
}

impl QuicHost {
    pub fn new(
        addr: SocketAddr,
        config: EndpointConfig,
        server: Option<ServerConfig>,
        start: Instant,
    ) -> Self {
        Self {
            addr,
            endpoint: Endpoint::new(Arc::new(config), server.map(Arc::new), start),
            conns: BTreeMap::new(),
            finished: Vec::new(),
            accept_policy: AcceptPolicy::Accept,
            server_app: None,
            outgoing: VecDeque::new(),
            buf: Vec::new(),
            max_datagrams: 10,
        }
    }

    /// Starts a client connection with `app`.
    pub fn connect(
        &mut self,
        now: Instant,
        config: &ClientConfig,
        server: SocketAddr,
        app: Box<dyn App>,
    ) -> ConnectionHandle {
        let (handle, conn) = self
            .endpoint
            .connect(now, config, server, "localhost")
            .expect("connect");
        self.conns.insert(
            handle,
            Conn {
                conn,
                app,
                events: Vec::new(),
            },
        );
        self.after_input(now);
        handle
    }

    pub fn conn(&self, handle: ConnectionHandle) -> &Conn {
        &self.conns[&handle]
    }

    pub fn conn_mut(&mut self, handle: ConnectionHandle) -> &mut Conn {
        self.conns.get_mut(&handle).expect("connection")
    }

    /// The only live connection.
    pub fn only(&mut self) -> &mut Conn {
        assert_eq!(self.conns.len(), 1, "expected exactly one connection");
        self.conns.values_mut().next().expect("one")
    }

    fn on_incoming(&mut self, now: Instant, incoming: Incoming) {
        let policy =
            if self.accept_policy == AcceptPolicy::Retry && incoming.remote_address_validated() {
                AcceptPolicy::Accept
            } else {
                self.accept_policy
            };
        let remote = incoming.remote_address();
        match policy {
            AcceptPolicy::Accept => {
                let (handle, conn) = self.endpoint.accept(incoming, now).expect("accept");
                let app = self
                    .server_app
                    .as_mut()
                    .map_or_else(|| apps::idle(), |make| make());
                self.conns.insert(
                    handle,
                    Conn {
                        conn,
                        app,
                        events: Vec::new(),
                    },
                );
            }
            AcceptPolicy::Retry => {
                let transmit = self.endpoint.retry(incoming, &mut self.buf).expect("retry");
                self.queue(remote, transmit.size, None);
            }
            AcceptPolicy::Refuse => {
                if let Some(transmit) = self.endpoint.refuse(incoming, &mut self.buf) {
                    self.queue(remote, transmit.size, None);
                }
            }
        }
    }

    fn queue(&mut self, dst: SocketAddr, size: usize, segment: Option<usize>) {
        self.queue_marked(dst, size, segment, None);
    }

    /// Queues the datagrams of a transmit, with its ECN codepoint.
    fn queue_marked(
        &mut self,
        dst: SocketAddr,
        size: usize,
        segment: Option<usize>,
        ecn: Option<EcnCodepoint>,
    ) {
        let segment = segment.unwrap_or(size).max(1);
        for chunk in self.buf[..size].chunks(segment) {
            let datagram = Datagram::new(self.addr, dst, chunk);
            let datagram = match ecn {
                Some(codepoint) => datagram.with_ecn(codepoint.bits()),
                None => datagram,
            };
            self.outgoing.push_back(datagram);
        }
    }

    /// Drains events into the apps and the endpoint, and lets apps write.
    fn after_input(&mut self, now: Instant) {
        let handles: Vec<ConnectionHandle> = self.conns.keys().copied().collect();
        for handle in handles {
            let entry = self.conns.get_mut(&handle).expect("live");
            while let Some(event) = entry.conn.poll_event() {
                entry.app.on_event(&mut entry.conn, now, &event);
                entry.events.push(event);
            }
            entry.app.poll(&mut entry.conn, now);
            while let Some(event) = entry.conn.poll_event() {
                entry.app.on_event(&mut entry.conn, now, &event);
                entry.events.push(event);
            }
            let mut drained = false;
            while let Some(event) = entry.conn.poll_endpoint_event() {
                drained |= matches!(event, quic_proto::connection::EndpointEvent::Drained);
                self.endpoint.handle_event(handle, event);
            }
            if drained {
                let entry = self.conns.remove(&handle).expect("live");
                self.finished.push(entry);
            }
        }
    }

    fn drain_transmits(&mut self, now: Instant) {
        let handles: Vec<ConnectionHandle> = self.conns.keys().copied().collect();
        for handle in handles {
            loop {
                let entry = self.conns.get_mut(&handle).expect("live");
                let Some(transmit) =
                    entry
                        .conn
                        .poll_transmit(now, self.max_datagrams, &mut self.buf)
                else {
                    break;
                };
                self.queue_marked(
                    transmit.destination,
                    transmit.size,
                    transmit.segment_size,
                    transmit.ecn,
                );
            }
        }
    }
}

impl sim::Host for QuicHost {
    fn receive(&mut self, now: Instant, datagram: Datagram) {
        let ecn = datagram.ecn.and_then(EcnCodepoint::from_bits);
        let src = datagram.src;
        match self
            .endpoint
            .handle(now, src, ecn, datagram.payload, &mut self.buf)
        {
            Some(DatagramEvent::ForConnection(handle, data)) => {
                if let Some(entry) = self.conns.get_mut(&handle) {
                    entry.conn.handle_datagram(now, src, ecn, data);
                }
            }
            Some(DatagramEvent::NewConnection(incoming)) => self.on_incoming(now, incoming),
            Some(DatagramEvent::Response(transmit)) => {
                self.queue(transmit.destination, transmit.size, transmit.segment_size);
            }
            None => {}
        }
        self.after_input(now);
    }

    fn poll_transmit(&mut self, now: Instant) -> Option<Datagram> {
        if self.outgoing.is_empty() {
            self.drain_transmits(now);
            self.after_input(now);
        }
        self.outgoing.pop_front()
    }

    fn poll_timeout(&mut self) -> Option<Instant> {
        self.conns
            .values()
            .filter_map(|c| c.conn.poll_timeout())
            .min()
    }

    fn handle_timeout(&mut self, now: Instant) {
        for entry in self.conns.values_mut() {
            if entry.conn.poll_timeout().is_some_and(|t| t <= now) {
                entry.conn.handle_timeout(now);
            }
        }
        self.after_input(now);
    }
}

/// Bytes of a datagram as a `BytesMut`, for injecting.
pub fn payload(bytes: &[u8]) -> BytesMut {
    BytesMut::from(bytes)
}
