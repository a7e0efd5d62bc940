//! An echo server: on every bidirectional stream of every connection, it
//! writes back every byte it reads and finishes when the peer finishes.
//! Unidirectional streams are read and discarded.
//!
//! ```text
//! echo_server --listen ADDR [--cert PEM --key PEM | --cert-out PEM] [--alpn echo]
//! ```
//!
//! Without `--cert`, the server makes a self-signed certificate for
//! `localhost`, kept in memory: clients then need `--insecure`, or
//! `--ca PEM` with the file `--cert-out PEM` wrote it to. Once it listens,
//! it prints `listening on ADDR` with the address it is bound to (so
//! `--listen 127.0.0.1:0` tells the port chosen), then serves until killed.
//! A failing connection or stream is logged to stderr and the server goes
//! on. `SSLKEYLOGFILE` is honoured.
//!
//! ```sh
//! cargo run --example echo_server -- --listen 127.0.0.1:4433 --cert-out /tmp/echo.pem
//! ```

mod common;

use common::args::{Args, Kind, Spec};
use common::tls::{self, Error};
use common::{echo, exit_with};
use quic::Endpoint;

static SPEC: Spec = Spec {
    usage: "usage: echo_server --listen ADDR [--cert PEM --key PEM | --cert-out PEM] [--alpn echo]",
    flags: &[
        ("--listen", Kind::Value),
        ("--cert", Kind::Value),
        ("--key", Kind::Value),
        ("--cert-out", Kind::Value),
        ("--alpn", Kind::Value),
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
    let alpn = args.value("--alpn").unwrap_or(echo::DEFAULT_ALPN);
    let identity = common::identity_from(args);
    let listen = common::resolve(listen)?;
    let config = tls::server_config(&identity, alpn.as_bytes())?;
    let endpoint =
        Endpoint::server(config, listen).map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    common::announce(&endpoint)?;
    common::accept_loop(endpoint, echo::serve).await;
    Ok(())
}
