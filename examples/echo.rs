//! The echo demo: an echo server and client in one process, over loopback.
//!
//! ```text
//! echo [--streams 8] [--bytes 1M]
//! ```
//!
//! The server listens on 127.0.0.1 (a port the system picks) with a
//! self-signed certificate for `localhost`, which the client trusts as its
//! only root. The client opens `--streams` bidirectional streams at once
//! and sends `--bytes` bytes of a known pattern on each (a `K`, `M` or `G`
//! suffix means KiB, MiB, GiB); the server echoes every stream and the
//! client checks every byte. It prints the handshake time, what was echoed
//! and the goodput, then `echo ok: ...` as `echo_client` does, and exits 0;
//! on any error it exits 1.
//!
//! ```sh
//! cargo run --release --example echo
//! SSLKEYLOGFILE=/tmp/keys cargo run --release --example echo -- --streams 100 --bytes 64K
//! ```

mod common;

use std::time::Duration;

use common::args::{Args, Kind, Spec};
use common::tls::{self, Error};
use common::{echo, exit_with, mib_per_s, ms, within};
use quic::{ClientConfig, Connection, Endpoint, VarInt};
use rustls::RootCertStore;

static SPEC: Spec = Spec {
    usage: "usage: echo [--streams 8] [--bytes 1M]",
    flags: &[("--streams", Kind::Value), ("--bytes", Kind::Value)],
};

/// The longest the whole run may take.
const TIMEOUT: Duration = Duration::from_secs(60);

#[tokio::main]
async fn main() {
    let args = Args::parse(&SPEC);
    let streams: u64 = args.parsed("--streams", 8);
    let bytes = args.size("--bytes", 1 << 20);
    if let Err(error) = within(TIMEOUT, "the echo", run(streams, bytes)).await {
        exit_with(&error);
    }
}

async fn run(streams: u64, bytes: u64) -> Result<(), Error> {
    let (cert, key) = tls::self_signed()?;
    let mut server_config = quic::ServerConfig::with_single_cert(vec![cert.clone()], key)?;
    server_config.alpn_protocols(vec![echo::DEFAULT_ALPN.as_bytes().to_vec()]);
    let server = Endpoint::server(server_config, "127.0.0.1:0".parse()?)?;
    let server_addr = server.local_addr()?;
    println!("server: listening on {server_addr}, self-signed certificate for localhost");
    tokio::spawn(common::accept_loop(server, echo::serve));

    let mut roots = RootCertStore::empty();
    roots.add(cert)?;
    let mut client_config = ClientConfig::with_root_certificates(roots);
    client_config.alpn_protocols(vec![echo::DEFAULT_ALPN.as_bytes().to_vec()]);
    let client = Endpoint::client("127.0.0.1:0".parse()?)?;
    let (connection, handshake) =
        common::connect(&client, client_config, server_addr, "localhost").await?;
    print_handshake(&connection, handshake);

    let elapsed = echo::run(&connection, streams, bytes).await?;
    print_transfer(&connection, streams, bytes, elapsed);
    println!("echo ok: {streams} streams, {bytes} bytes");
    connection.close(VarInt::from_u32(0), b"done");
    client.wait_idle().await;
    Ok(())
}

fn print_handshake(connection: &Connection, handshake: Duration) {
    let alpn = connection.alpn_protocol().unwrap_or_default();
    println!(
        "client: connected to {} in {:.2} ms (TLS 1.3, ALPN {:?})",
        connection.remote_address(),
        ms(handshake),
        String::from_utf8_lossy(&alpn),
    );
}

fn print_transfer(connection: &Connection, streams: u64, bytes: u64, elapsed: Duration) {
    let total = streams.saturating_mul(bytes);
    let stats = connection.stats();
    println!(
        "client: echoed {streams} streams x {bytes} bytes = {:.2} MiB each way in {:.2} ms: \
         {:.1} MiB/s each way",
        total as f64 / (1024.0 * 1024.0),
        ms(elapsed),
        mib_per_s(total, elapsed),
    );
    println!(
        "client: {} packets sent, {} received, {} lost; RTT {:.3} ms",
        stats.packets_sent,
        stats.packets_received,
        stats.packets_lost,
        ms(stats.rtt),
    );
}
