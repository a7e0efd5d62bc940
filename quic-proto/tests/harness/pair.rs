//! A client and a server on one simulated network, configured with a
//! builder: transports, TLS configurations, applications and links.
//!
//! ```ignore
//! let mut p = PairBuilder::new(seed)
//!     .client_transport(TransportConfig { keep_alive_interval: Some(secs(1)), ..Default::default() })
//!     .link(|l| l.loss(0.05))
//!     .build();
//! p.drive_until_connected(secs(5))?;
//! ```

use std::net::SocketAddr;
use std::time::Duration;

use quic_proto::config::{ClientConfig, EndpointConfig, ServerConfig, TransportConfig};
use quic_proto::connection::{ConnectionError, Event};
use quic_proto::endpoint::ConnectionHandle;

use super::certs::{client_config, server_config};
use super::{App, Conn, QuicHost, apps};
use crate::sim::{LinkBuilder, Network, SimError, addr, ms};

type LinkFn = Box<dyn Fn(LinkBuilder) -> LinkBuilder>;
type AppFactory = Box<dyn FnMut() -> Box<dyn App>>;

/// Builds a [`Pair`]. Defaults: default transports, the "localhost"
/// certificates, idle applications, 10 ms links without impairments.
pub struct PairBuilder {
    seed: u64,
    client_transport: TransportConfig,
    server_transport: TransportConfig,
    client_config: Option<ClientConfig>,
    server_config: Option<ServerConfig>,
    client_app: Option<Box<dyn App>>,
    server_app: Option<AppFactory>,
    link: Option<LinkFn>,
}

impl PairBuilder {
    /// A pair on `seed` with the defaults.
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            client_transport: TransportConfig::default(),
            server_transport: TransportConfig::default(),
            client_config: None,
            server_config: None,
            client_app: None,
            server_app: None,
            link: None,
        }
    }

    /// The client's transport settings.
    pub fn client_transport(mut self, transport: TransportConfig) -> Self {
        self.client_transport = transport;
        self
    }

    /// The server's transport settings.
    pub fn server_transport(mut self, transport: TransportConfig) -> Self {
        self.server_transport = transport;
        self
    }

    /// The same transport settings on both sides.
    pub fn transport(self, transport: TransportConfig) -> Self {
        self.client_transport(transport.clone())
            .server_transport(transport)
    }

    /// A whole client configuration (its transport replaces
    /// [`client_transport`](Self::client_transport)).
    pub fn client_config(mut self, config: ClientConfig) -> Self {
        self.client_config = Some(config);
        self
    }

    /// A whole server configuration (its transport replaces
    /// [`server_transport`](Self::server_transport)).
    pub fn server_config(mut self, config: ServerConfig) -> Self {
        self.server_config = Some(config);
        self
    }

    /// The client's application.
    pub fn client_app(mut self, app: impl App + 'static) -> Self {
        self.client_app = Some(Box::new(app));
        self
    }

    /// Makes the application of each connection the server accepts.
    pub fn server_app(mut self, make: impl FnMut() -> Box<dyn App> + 'static) -> Self {
        self.server_app = Some(Box::new(make));
        self
    }

    /// Impairments added after the 10 ms delay on every direction nobody
    /// configures explicitly.
    pub fn link(mut self, link: impl Fn(LinkBuilder) -> LinkBuilder + 'static) -> Self {
        self.link = Some(Box::new(link));
        self
    }

    /// The network with both hosts, the client's connection started.
    pub fn build(self) -> Pair {
        self.build_with(|_| {})
    }

    /// Like [`build`](Self::build), with `configure` run on the network
    /// before the client connects (to set individual links, observers...).
    pub fn build_with(self, configure: impl FnOnce(&mut Network<QuicHost>)) -> Pair {
        let seed = self.seed;
        let mut net = Network::new(seed);
        if let Some(link) = self.link {
            net.set_default_link(move |l| link(l.delay(ms(10))));
        }
        let start = net.start();
        let (client, server) = (addr(1), addr(2));
        let server_config = self
            .server_config
            .unwrap_or_else(|| server_config(self.server_transport));
        let mut server_host = QuicHost::new(
            server,
            EndpointConfig::seeded(seed ^ 0x5e),
            Some(server_config),
            start,
        );
        server_host.server_app = self.server_app;
        net.add_host(server, server_host);
        net.add_host(
            client,
            QuicHost::new(client, EndpointConfig::seeded(seed ^ 0xc1), None, start),
        );
        configure(&mut net);
        let client_config = self
            .client_config
            .unwrap_or_else(|| client_config(self.client_transport));
        let app = self.client_app.unwrap_or_else(apps::idle);
        let handle = net
            .host_mut(client)
            .connect(start, &client_config, server, app);
        Pair {
            net,
            client,
            server,
            handle,
        }
    }
}

/// A client and a server on one network.
pub struct Pair {
    pub net: Network<QuicHost>,
    pub client: SocketAddr,
    pub server: SocketAddr,
    /// The client's connection.
    pub handle: ConnectionHandle,
}

impl Pair {
    /// Runs until both sides emitted `Event::Connected`.
    pub fn drive_until_connected(&mut self, max: Duration) -> Result<(), SimError> {
        let (client, server) = (self.client, self.server);
        self.net
            .drive_until(|net| connected(net, client, server), max)
    }

    /// The client's connection while it lives.
    pub fn client_conn(&self) -> Option<&Conn> {
        self.net.host(self.client).conns.get(&self.handle)
    }

    /// The client's connection while it lives, mutably.
    ///
    /// # Panics
    /// If it drained.
    pub fn client_mut(&mut self) -> &mut Conn {
        let handle = self.handle;
        self.net.host_mut(self.client).conn_mut(handle)
    }

    /// The server's only connection while it lives.
    pub fn server_conn(&self) -> Option<&Conn> {
        self.net.host(self.server).conns.values().next()
    }

    /// The server's only connection while it lives, mutably.
    ///
    /// # Panics
    /// If there is none.
    pub fn server_mut(&mut self) -> &mut Conn {
        self.net.host_mut(self.server).only()
    }

    /// The client's connection, live or drained.
    pub fn client_any(&self) -> Option<&Conn> {
        any_conn(self.net.host(self.client))
    }

    /// The server's first connection, live or drained.
    pub fn server_any(&self) -> Option<&Conn> {
        any_conn(self.net.host(self.server))
    }

    /// Whether neither host has a live connection left.
    pub fn both_drained(&self) -> bool {
        self.net.host(self.client).conns.is_empty() && self.net.host(self.server).conns.is_empty()
    }
}

/// A host's first live connection, else its first drained one.
pub fn any_conn(host: &QuicHost) -> Option<&Conn> {
    host.conns.values().next().or_else(|| host.finished.first())
}

/// Whether both hosts have a connection that emitted `Event::Connected`.
pub fn connected(net: &Network<QuicHost>, client: SocketAddr, server: SocketAddr) -> bool {
    let has = |host: &QuicHost| {
        host.conns
            .values()
            .any(|c| c.events.contains(&Event::Connected))
    };
    has(net.host(client)) && has(net.host(server))
}

/// The reason in the connection's `ConnectionLost` event, if it emitted one.
pub fn lost_reason(conn: &Conn) -> Option<&ConnectionError> {
    conn.events.iter().find_map(|e| match e {
        Event::ConnectionLost { reason } => Some(reason),
        _ => None,
    })
}

/// The application of `conn`, downcast.
///
/// # Panics
/// If it is not a `T`.
pub fn app<T: 'static>(conn: &Conn) -> &T {
    conn.app
        .as_any()
        .downcast_ref::<T>()
        .expect("application of another type")
}
