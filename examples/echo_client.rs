//! An echo client: opens `--streams` bidirectional streams at once, sends
//! `--bytes` bytes of a deterministic pattern on each and finishes, reads
//! the echo and checks it byte for byte.
//!
//! ```text
//! echo_client --connect ADDR [--server-name localhost] [--ca PEM | --insecure]
//!             [--alpn echo] [--streams 1] [--bytes 100000]
//! ```
//!
//! On success it prints `echo ok: STREAMS streams, BYTES bytes`, where
//! BYTES is the per-stream count given with `--bytes` (in digits, also when
//! given with a `K`/`M`/`G` suffix), closes the connection with code 0,
//! waits for the close to complete and exits 0. On any error (connection,
//! TLS, a wrong echo, or 60 s passing) it prints the error to stderr and
//! exits 1; a bad command line exits 2. `SSLKEYLOGFILE` is honoured.
//!
//! ```sh
//! cargo run --example echo_client -- --connect 127.0.0.1:4433 --ca /tmp/echo.pem --streams 4
//! ```

mod common;

use std::time::Duration;

use common::args::{Args, Kind, Spec};
use common::tls::{self, Error};
use common::{echo, exit_with, within};
use quic::VarInt;

static SPEC: Spec = Spec {
    usage: "usage: echo_client --connect ADDR [--server-name localhost] [--ca PEM | --insecure]\n\
            \x20                  [--alpn echo] [--streams 1] [--bytes 100000]",
    flags: &[
        ("--connect", Kind::Value),
        ("--server-name", Kind::Value),
        ("--ca", Kind::Value),
        ("--insecure", Kind::Switch),
        ("--alpn", Kind::Value),
        ("--streams", Kind::Value),
        ("--bytes", Kind::Value),
    ],
};

/// The longest the whole run may take.
const TIMEOUT: Duration = Duration::from_secs(60);

#[tokio::main]
async fn main() {
    let args = Args::parse(&SPEC);
    if let Err(error) = within(TIMEOUT, "the echo", run(&args)).await {
        exit_with(&error);
    }
}

async fn run(args: &Args) -> Result<(), Error> {
    // Every flag is checked before anything is done.
    let connect = args.required("--connect");
    let server_name = args.value("--server-name").unwrap_or("localhost");
    let alpn = args.value("--alpn").unwrap_or(echo::DEFAULT_ALPN);
    let streams: u64 = args.parsed("--streams", 1);
    let bytes = args.size("--bytes", 100_000);
    let trust = common::trust_from(args, None);

    let remote = common::resolve(connect)?;
    let config = tls::client_config(&trust, alpn.as_bytes())?;
    let endpoint = common::client_endpoint(remote)?;
    let (connection, _) = common::connect(&endpoint, config, remote, server_name).await?;
    echo::run(&connection, streams, bytes).await?;
    println!("echo ok: {streams} streams, {bytes} bytes");
    connection.close(VarInt::from_u32(0), b"done");
    endpoint.wait_idle().await;
    Ok(())
}
