//! A client and server in memory, for fuzz targets that need connections.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use quic_proto::config::{ClientConfig, EndpointConfig, ServerConfig};
use quic_proto::connection::Connection;
use quic_proto::crypto::rustls::{client_config_builder, server_config_builder};
use quic_proto::endpoint::{ConnectionHandle, DatagramEvent, Endpoint};
use quic_proto::token::TokenKey;
use rustls::RootCertStore;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

pub struct Certs {
    pub server: ServerConfig,
    pub client: ClientConfig,
}

pub fn certs() -> &'static Certs {
    static CERTS: OnceLock<Certs> = OnceLock::new();
    CERTS.get_or_init(|| {
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let cert: CertificateDer<'static> = certified.cert.der().clone();
        let key = PrivateKeyDer::from(PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der()));
        let mut tls = server_config_builder().with_no_client_auth().with_single_cert(vec![cert.clone()], key).unwrap();
        tls.alpn_protocols = vec![b"fuzz".to_vec()];
        tls.send_tls13_tickets = 0;
        let server = ServerConfig::new(Arc::new(tls), TokenKey::new(&[1; 32]));
        let mut roots = RootCertStore::empty();
        roots.add(cert).unwrap();
        let mut tls = client_config_builder().with_root_certificates(roots).with_no_client_auth();
        tls.alpn_protocols = vec![b"fuzz".to_vec()];
        Certs { server, client: ClientConfig::new(Arc::new(tls)) }
    })
}

pub const CLIENT: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1)), 1);
pub const SERVER: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2)), 2);

/// An endpoint with its connections.
pub struct Side {
    pub endpoint: Endpoint,
    pub conns: BTreeMap<ConnectionHandle, Connection>,
    pub addr: SocketAddr,
}

impl Side {
    pub fn server(now: Instant) -> Self {
        let endpoint = Endpoint::new(
            Arc::new(EndpointConfig::seeded(1)),
            Some(Arc::new(certs().server.clone())),
            now,
        );
        Self { endpoint, conns: BTreeMap::new(), addr: SERVER }
    }

    pub fn client(now: Instant) -> Self {
        let mut endpoint = Endpoint::new(Arc::new(EndpointConfig::seeded(2)), None, now);
        let (handle, conn) = endpoint.connect(now, &certs().client, SERVER, "localhost").unwrap();
        let mut conns = BTreeMap::new();
        conns.insert(handle, conn);
        Self { endpoint, conns, addr: CLIENT }
    }

    /// Takes one datagram from `from`; answers go to `out`.
    pub fn receive(&mut self, now: Instant, from: SocketAddr, data: &[u8], out: &mut Vec<Vec<u8>>) {
        let mut response = Vec::new();
        match self.endpoint.handle(now, from, None, BytesMut::from(data), &mut response) {
            Some(DatagramEvent::ForConnection(handle, data)) => {
                if let Some(conn) = self.conns.get_mut(&handle) {
                    conn.handle_datagram(now, from, None, data);
                }
            }
            Some(DatagramEvent::NewConnection(incoming)) => {
                if let Ok((handle, conn)) = self.endpoint.accept(incoming, now) {
                    self.conns.insert(handle, conn);
                }
            }
            Some(DatagramEvent::Response(t)) => out.push(response[..t.size].to_vec()),
            None => {}
        }
        self.service(now, out);
    }

    /// Fires due timers, drains events and transmits (bounded).
    pub fn service(&mut self, now: Instant, out: &mut Vec<Vec<u8>>) {
        let mut buf = Vec::new();
        let mut drained = Vec::new();
        for (&handle, conn) in self.conns.iter_mut() {
            if conn.poll_timeout().is_some_and(|t| t <= now) {
                conn.handle_timeout(now);
            }
            for _ in 0..64 {
                let Some(t) = conn.poll_transmit(now, 4, &mut buf) else { break };
                let segment = t.segment_size.unwrap_or(t.size).max(1);
                out.extend(buf[..t.size].chunks(segment).map(<[u8]>::to_vec));
            }
            while conn.poll_event().is_some() {}
            while let Some(event) = conn.poll_endpoint_event() {
                drained.push((handle, event));
            }
        }
        for (handle, event) in drained {
            let gone = matches!(event, quic_proto::connection::EndpointEvent::Drained);
            self.endpoint.handle_event(handle, event);
            if gone {
                self.conns.remove(&handle);
            }
        }
    }
}

/// Runs both sides until no datagram moves or `rounds` pass.
pub fn exchange(client: &mut Side, server: &mut Side, now: &mut Instant, rounds: usize) {
    let mut to_server = Vec::new();
    let mut to_client = Vec::new();
    client.service(*now, &mut to_server);
    for _ in 0..rounds {
        if to_server.is_empty() && to_client.is_empty() {
            *now += Duration::from_millis(5);
            client.service(*now, &mut to_server);
            server.service(*now, &mut to_client);
            if to_server.is_empty() && to_client.is_empty() {
                return;
            }
        }
        for d in std::mem::take(&mut to_server) {
            server.receive(*now, CLIENT, &d, &mut to_client);
        }
        for d in std::mem::take(&mut to_client) {
            client.receive(*now, SERVER, &d, &mut to_server);
        }
    }
}
