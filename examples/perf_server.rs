//! The server side of `perf_client`'s measurements.
//!
//! ```text
//! perf_server --listen ADDR [--cert PEM --key PEM | --cert-out PEM]
//! ```
//!
//! On every bidirectional stream it reads an 8-byte big-endian response
//! size, reads (and counts, and drops) the rest of the stream to its end,
//! then sends that many bytes back and finishes. ALPN `perf`. Without
//! `--cert` it makes a self-signed certificate for `localhost` (written as
//! PEM to `--cert-out` if given, for `perf_client --ca`). It prints
//! `listening on ADDR` once ready and serves until killed; failures are
//! logged to stderr. `SSLKEYLOGFILE` is honoured.
//!
//! ```sh
//! cargo run --release --example perf_server -- --listen 127.0.0.1:4433
//! ```

mod common;

use common::args::{Args, Kind, Spec};
use common::tls::{self, Error};
use common::{exit_with, perf};
use quic::{Connection, ConnectionError, Endpoint, RecvStream, SendStream};

static SPEC: Spec = Spec {
    usage: "usage: perf_server --listen ADDR [--cert PEM --key PEM | --cert-out PEM]",
    flags: &[
        ("--listen", Kind::Value),
        ("--cert", Kind::Value),
        ("--key", Kind::Value),
        ("--cert-out", Kind::Value),
    ],
};

#[tokio::main]
async fn main() {
    let args = Args::parse(&SPEC);
    if let Err(error) = run(&args).await {
        exit_with(&error);
    }
}

async fn run(args: &Args) -> Result<(), Error> {
    let listen = args.required("--listen");
    let identity = common::identity_from(args);
    let listen = common::resolve(listen)?;
    let config = tls::server_config(&identity, perf::ALPN)?;
    let endpoint =
        Endpoint::server(config, listen).map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    common::announce(&endpoint)?;
    common::accept_loop(endpoint, serve).await;
    Ok(())
}

/// Answers every request stream of one connection until it ends.
async fn serve(connection: Connection) -> Result<(), ConnectionError> {
    loop {
        let (send, recv) = connection.accept_bi().await?;
        let connection = connection.clone();
        tokio::spawn(async move {
            let id = recv.id();
            if let Err(error) = answer(send, recv).await {
                // If the whole connection failed, its own error is logged once.
                if connection.close_reason().is_none() {
                    eprintln!("{} stream {id}: {error}", connection.remote_address());
                }
            }
        });
    }
}

/// One request: the response size, the upload to its end, the response.
async fn answer(mut send: SendStream, mut recv: RecvStream) -> Result<(), Error> {
    let mut header = [0; 8];
    recv.read_exact(&mut header).await?;
    let response = u64::from_be_bytes(header);
    perf::drain(&mut recv).await?;
    perf::send_bytes(&mut send, response).await?;
    send.finish()?;
    Ok(())
}
