//! Code shared by the example programs: argument parsing, TLS set-up, the
//! echo protocol, and the server accept loop. Each example includes this
//! module with `mod common;` and uses only part of it.
#![allow(dead_code)]

pub mod args;
pub mod echo;
pub mod perf;
pub mod tls;

use std::future::Future;
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use quic::{ClientConfig, Connection, ConnectionError, Endpoint};
use tokio::time::Instant;

use self::args::Args;
use self::tls::{Error, Identity, Trust};

/// The server identity the flags `--cert`, `--key` and `--cert-out` ask for.
pub fn identity_from(args: &Args) -> Identity<'_> {
    match (args.value("--cert"), args.value("--key")) {
        (Some(cert), Some(key)) => {
            if args.has("--cert-out") {
                args.fail("--cert-out writes the generated certificate: not with --cert");
            }
            Identity::Files { cert, key }
        }
        (None, None) => Identity::SelfSigned {
            cert_out: args.value("--cert-out"),
        },
        _ => args.fail("--cert and --key go together"),
    }
}

/// The trust the flags `--ca` and `--insecure` ask for; `default` when
/// neither is given (`None`: one of them is required).
pub fn trust_from<'a>(args: &'a Args, default: Option<Trust<'a>>) -> Trust<'a> {
    match (args.value("--ca"), args.has("--insecure")) {
        (Some(_), true) => args.fail("--ca and --insecure exclude each other"),
        (Some(path), false) => Trust::Ca(path),
        (None, true) => Trust::Insecure,
        (None, false) => default.unwrap_or_else(|| args.fail("give --ca PEM or --insecure")),
    }
}

/// Resolves `host:port` (an IP address or a name) to its first address.
pub fn resolve(addr: &str) -> Result<SocketAddr, Error> {
    addr.to_socket_addrs()
        .map_err(|e| format!("cannot resolve {addr}: {e}"))?
        .next()
        .ok_or_else(|| format!("{addr} resolves to no address").into())
}

/// A client endpoint on an ephemeral port of `remote`'s address family.
pub fn client_endpoint(remote: SocketAddr) -> Result<Endpoint, Error> {
    let local: SocketAddr = if remote.is_ipv4() {
        "0.0.0.0:0".parse()?
    } else {
        "[::]:0".parse()?
    };
    Ok(Endpoint::client(local)?)
}

/// Prints `listening on ADDR` (the bound address) and flushes stdout, so
/// that a script or test reading it knows the server is ready.
pub fn announce(endpoint: &Endpoint) -> Result<(), Error> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening on {}", endpoint.local_addr()?)?;
    stdout.flush()?;
    Ok(())
}

/// Accepts connections forever, running `serve` on each in its own task.
/// A failed handshake or connection is logged to stderr; the server goes
/// on.
pub async fn accept_loop<F, Fut>(endpoint: Endpoint, serve: F)
where
    F: Fn(Connection) -> Fut + Send + Sync + Copy + 'static,
    Fut: Future<Output = Result<(), ConnectionError>> + Send + 'static,
{
    while let Some(incoming) = endpoint.accept().await {
        let remote = incoming.remote_address();
        let connecting = match incoming.accept() {
            Ok(connecting) => connecting,
            Err(error) => {
                eprintln!("{remote}: not accepted: {error}");
                continue;
            }
        };
        tokio::spawn(async move {
            let result = match connecting.await {
                Ok(connection) => serve(connection).await,
                Err(error) => Err(error),
            };
            if let Err(error) = result {
                if !is_normal_close(&error) {
                    eprintln!("{remote}: {error}");
                }
            }
        });
    }
}

/// Whether a connection ended the ordinary way: the peer's application
/// closed it with code 0, or this side closed it.
pub fn is_normal_close(error: &ConnectionError) -> bool {
    match error {
        ConnectionError::ApplicationClosed(close) => close.error_code.into_inner() == 0,
        ConnectionError::LocallyClosed => true,
        _ => false,
    }
}

/// The longest a handshake may take.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Connects and completes the handshake, within [`HANDSHAKE_TIMEOUT`];
/// returns the connection and how long the handshake took.
pub async fn connect(
    endpoint: &Endpoint,
    config: ClientConfig,
    remote: SocketAddr,
    server_name: &str,
) -> Result<(Connection, Duration), Error> {
    let start = Instant::now();
    let connecting = endpoint.connect_with(config, remote, server_name)?;
    let connection = tokio::time::timeout(HANDSHAKE_TIMEOUT, connecting)
        .await
        .map_err(|_| format!("no handshake with {remote} within {HANDSHAKE_TIMEOUT:?}"))?
        .map_err(|e| format!("handshake with {remote} failed: {e}"))?;
    Ok((connection, start.elapsed()))
}

/// Runs `future` for at most `limit`, naming `what` timed out otherwise.
pub async fn within<T>(
    limit: Duration,
    what: &str,
    future: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    tokio::time::timeout(limit, future)
        .await
        .map_err(|_| format!("{what} did not finish within {} s", limit.as_secs()))?
}

/// Bytes per second as MiB/s.
pub fn mib_per_s(bytes: u64, elapsed: Duration) -> f64 {
    bytes as f64 / (1024.0 * 1024.0) / elapsed.as_secs_f64().max(1e-9)
}

/// Milliseconds, for printing.
pub fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

/// The `p`-th percentile (nearest rank) of sorted samples.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Prints `error: ...` to stderr and exits with code 1.
pub fn exit_with(error: &Error) -> ! {
    eprintln!("error: {error}");
    std::process::exit(1);
}
