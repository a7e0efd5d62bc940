//! Measures a `perf_server`: bulk goodput, request rate, or handshake rate.
//!
//! ```text
//! perf_client --connect ADDR [--server-name localhost] [--ca PEM | --insecure]
//!             [--bytes N | --requests N [--concurrency C] [--size S]
//!              | --handshakes N [--concurrency C]]
//! ```
//!
//! One mode per run, each printing one summary line that starts with its
//! name (times in ms, rates per second):
//!
//! - `--bytes N` (the default, with 100 MiB): uploads N bytes on one stream
//!   and waits for the server to have read them all.
//!   `bulk: N bytes in T s, R MiB/s`
//! - `--requests N`: N requests on separate streams, each uploading S bytes
//!   (`--size`, default 1024) and downloading as many, C at a time
//!   (`--concurrency`, default 100).
//!   `rr: N requests of S bytes, concurrency C, in T s, R requests/s, latency ms p50 A p90 B p99 C max D`
//! - `--handshakes N`: N full handshakes, each on a new connection closed
//!   right after, C at a time (`--concurrency`, default 1).
//!   `handshakes: N in T s, R handshakes/s, latency ms p50 A p99 B max C`
//!
//! Byte counts take a `K`, `M` or `G` suffix (KiB, MiB, GiB). Trust: like
//! `echo_client`, `--ca PEM` or `--insecure`; for perf only, neither means
//! `--insecure` (with the same warning), since `perf_server` makes a
//! throw-away certificate. Exits 1 on any error, 2 on a bad command line.
//! `SSLKEYLOGFILE` is honoured.
//!
//! ```sh
//! cargo run --release --example perf_client -- --connect 127.0.0.1:4433 --requests 10000
//! ```

mod common;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::args::{Args, Kind, Spec};
use common::tls::{self, Error, Trust};
use common::{exit_with, mib_per_s, ms, percentile, perf};
use quic::{ClientConfig, Connection, Endpoint, VarInt};
use tokio::task::JoinSet;
use tokio::time::Instant;

static SPEC: Spec = Spec {
    usage: "usage: perf_client --connect ADDR [--server-name localhost] [--ca PEM | --insecure]\n\
            \x20                  [--bytes N | --requests N [--concurrency C] [--size S]\n\
            \x20                   | --handshakes N [--concurrency C]]",
    flags: &[
        ("--connect", Kind::Value),
        ("--server-name", Kind::Value),
        ("--ca", Kind::Value),
        ("--insecure", Kind::Switch),
        ("--bytes", Kind::Value),
        ("--requests", Kind::Value),
        ("--concurrency", Kind::Value),
        ("--size", Kind::Value),
        ("--handshakes", Kind::Value),
    ],
};

/// What to measure.
#[derive(Debug)]
enum Mode {
    Bulk {
        bytes: u64,
    },
    Requests {
        count: u64,
        concurrency: u64,
        size: u64,
    },
    Handshakes {
        count: u64,
        concurrency: u64,
    },
}

/// Where and how to connect.
struct Target<'a> {
    endpoint: Endpoint,
    config: ClientConfig,
    remote: SocketAddr,
    server_name: &'a str,
}

#[tokio::main]
async fn main() {
    let args = Args::parse(&SPEC);
    let mode = mode_from(&args);
    if let Err(error) = run(&args, mode).await {
        exit_with(&error);
    }
}

/// The mode the flags ask for; a usage error if they mix modes.
fn mode_from(args: &Args) -> Mode {
    let given = ["--bytes", "--requests", "--handshakes"].map(|flag| args.has(flag));
    if given.iter().filter(|&&g| g).count() > 1 {
        args.fail("--bytes, --requests and --handshakes exclude each other");
    }
    let concurrency = |default| match args.parsed("--concurrency", default) {
        0 => args.fail("--concurrency must be at least 1"),
        c => c,
    };
    if args.has("--size") && !args.has("--requests") {
        args.fail("--size goes with --requests");
    }
    if args.has("--requests") {
        let count = args.parsed("--requests", 0);
        let size = args.size("--size", 1024);
        Mode::Requests {
            count,
            concurrency: concurrency(100),
            size,
        }
    } else if args.has("--handshakes") {
        let count = args.parsed("--handshakes", 0);
        Mode::Handshakes {
            count,
            concurrency: concurrency(1),
        }
    } else if args.has("--concurrency") {
        args.fail("--concurrency goes with --requests or --handshakes")
    } else {
        Mode::Bulk {
            bytes: args.size("--bytes", 100 << 20),
        }
    }
}

async fn run(args: &Args, mode: Mode) -> Result<(), Error> {
    let connect_to = args.required("--connect");
    let trust = common::trust_from(args, Some(Trust::Insecure));
    let remote = common::resolve(connect_to)?;
    let target = Target {
        endpoint: common::client_endpoint(remote)?,
        config: tls::client_config(&trust, perf::ALPN)?,
        remote,
        server_name: args.value("--server-name").unwrap_or("localhost"),
    };
    if let Mode::Handshakes { count, concurrency } = mode {
        return handshakes(&target, count, concurrency).await;
    }
    let (connection, _) = connect(&target).await?;
    match mode {
        Mode::Bulk { bytes } => bulk(&connection, bytes).await?,
        Mode::Requests {
            count,
            concurrency,
            size,
        } => {
            requests(&connection, count, concurrency, size).await?;
        }
        Mode::Handshakes { .. } => {}
    }
    connection.close(VarInt::from_u32(0), b"done");
    target.endpoint.wait_idle().await;
    Ok(())
}

async fn connect(target: &Target<'_>) -> Result<(Connection, Duration), Error> {
    let config = target.config.clone();
    common::connect(&target.endpoint, config, target.remote, target.server_name).await
}

/// Uploads `bytes` on one stream; done when the server has read them all
/// (its empty response ends).
async fn bulk(connection: &Connection, bytes: u64) -> Result<(), Error> {
    let start = Instant::now();
    let (mut send, mut recv) = connection.open_bi().await?;
    perf::send_request(&mut send, 0, bytes).await?;
    let answered = perf::drain(&mut recv).await?;
    let elapsed = start.elapsed();
    if answered != 0 {
        return Err(format!("asked for no response, got {answered} bytes").into());
    }
    println!(
        "bulk: {bytes} bytes in {:.3} s, {:.1} MiB/s",
        elapsed.as_secs_f64(),
        mib_per_s(bytes, elapsed)
    );
    Ok(())
}

/// `count` requests of `size` bytes each way, `concurrency` at a time.
async fn requests(
    connection: &Connection,
    count: u64,
    concurrency: u64,
    size: u64,
) -> Result<(), Error> {
    let start = Instant::now();
    let connection = connection.clone();
    let latencies = run_workers(count, concurrency, move || {
        let connection = connection.clone();
        async move { request(&connection, size).await }
    })
    .await?;
    let elapsed = start.elapsed();
    println!(
        "rr: {count} requests of {size} bytes, concurrency {concurrency}, in {:.3} s, \
         {:.0} requests/s, latency ms p50 {:.3} p90 {:.3} p99 {:.3} max {:.3}",
        elapsed.as_secs_f64(),
        count as f64 / elapsed.as_secs_f64().max(1e-9),
        ms(percentile(&latencies, 50.0)),
        ms(percentile(&latencies, 90.0)),
        ms(percentile(&latencies, 99.0)),
        ms(percentile(&latencies, 100.0)),
    );
    Ok(())
}

/// One request on a new stream; returns its latency.
async fn request(connection: &Connection, size: u64) -> Result<Duration, Error> {
    let start = Instant::now();
    let (mut send, mut recv) = connection.open_bi().await?;
    perf::send_request(&mut send, size, size).await?;
    let answered = perf::drain(&mut recv).await?;
    if answered != size {
        return Err(format!("asked for {size} bytes, got {answered}").into());
    }
    Ok(start.elapsed())
}

/// `count` handshakes, `concurrency` at a time, each on a new connection
/// closed (code 0) as soon as it is established.
async fn handshakes(target: &Target<'_>, count: u64, concurrency: u64) -> Result<(), Error> {
    let start = Instant::now();
    let shared = Arc::new((target.endpoint.clone(), target.config.clone()));
    let (remote, name) = (target.remote, Arc::<str>::from(target.server_name));
    let latencies = run_workers(count, concurrency, move || {
        let (shared, name) = (shared.clone(), name.clone());
        async move {
            let (endpoint, config) = &*shared;
            let (connection, latency) =
                common::connect(endpoint, config.clone(), remote, &name).await?;
            connection.close(VarInt::from_u32(0), b"done");
            Ok(latency)
        }
    })
    .await?;
    let elapsed = start.elapsed();
    target.endpoint.wait_idle().await;
    println!(
        "handshakes: {count} in {:.3} s, {:.0} handshakes/s, latency ms p50 {:.3} p99 {:.3} max {:.3}",
        elapsed.as_secs_f64(),
        count as f64 / elapsed.as_secs_f64().max(1e-9),
        ms(percentile(&latencies, 50.0)),
        ms(percentile(&latencies, 99.0)),
        ms(percentile(&latencies, 100.0)),
    );
    Ok(())
}

/// Runs `job` `count` times on `concurrency` tasks; returns the durations
/// the jobs report, sorted. The first failure ends the run.
async fn run_workers<F, Fut>(count: u64, concurrency: u64, job: F) -> Result<Vec<Duration>, Error>
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<Duration, Error>> + Send,
{
    let next = Arc::new(AtomicU64::new(0));
    let mut workers = JoinSet::new();
    for _ in 0..concurrency.min(count) {
        let (next, job) = (next.clone(), job.clone());
        workers.spawn(async move {
            let mut samples = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < count {
                samples.push(job().await?);
            }
            Ok::<_, Error>(samples)
        });
    }
    let mut all = Vec::with_capacity(usize::try_from(count.min(1 << 20)).unwrap_or(0));
    while let Some(samples) = workers.join_next().await {
        all.extend(samples??);
    }
    all.sort_unstable();
    Ok(all)
}
