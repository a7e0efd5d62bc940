//! Shared pieces of the `quic_vs_quinn` benchmark: the workload sizes, one
//! certificate for both stacks, result types and small statistics.
//!
//! `ours` and `quinn_side` run the same four workloads, each through its own
//! stack's public API only (client and server of the same stack).

pub mod ours;
pub mod quinn_side;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rustls::RootCertStore;
use rustls::client::Resumption;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// The ALPN both stacks' clients and servers agree on.
pub const ALPN: &[u8] = b"bench";
/// The largest stream a request/response peer accepts.
pub const RR_LIMIT: usize = 64 * 1024;
/// The size of the chunks the bulk writer hands to the stream (refcounted
/// clones of one buffer: neither stack copies them).
pub const BULK_CHUNK: usize = 1 << 20;

/// The workload sizes: quick by default, full with `BENCH_FULL=1`, and each
/// overridable by its own variable.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `BENCH_FULL=1`: the README's sizes instead of the quick ones.
    pub full: bool,
    /// `BENCH_BULK_MIB`: MiB uploaded per bulk run.
    pub bulk_mib: u64,
    /// `BENCH_RUNS`: runs per stack of each timed workload (bulk,
    /// request/response, handshakes); the median is reported.
    pub runs: usize,
    /// `BENCH_REQUESTS`: requests per request/response run.
    pub requests: usize,
    /// `BENCH_CONCURRENCY`: streams in flight in request/response.
    pub concurrency: usize,
    /// `BENCH_REQUEST_SIZE`: bytes of each request and each response.
    pub request_size: usize,
    /// `BENCH_HANDSHAKES`: handshakes per handshake run.
    pub handshakes: usize,
    /// `BENCH_HANDSHAKE_CONCURRENCY`: handshakes in flight in the concurrent
    /// run.
    pub handshake_concurrency: usize,
    /// `BENCH_IDLE_CONNS`: idle connections in the memory measurement.
    pub idle_conns: usize,
    /// `BENCH_ONLY`: the workloads to run, comma-separated (`bulk`, `rr`,
    /// `handshake`, `memory`); all when unset.
    pub only: Option<Vec<String>>,
    /// `BENCH_STACK`: `ours` or `quinn` to run one stack alone (for
    /// profiling; no ratios then); both when unset.
    pub stack: Option<String>,
}

impl Settings {
    pub fn from_env() -> Self {
        let full = env_u64("BENCH_FULL").is_some_and(|v| v != 0);
        let pick = |name: &str, quick: u64, full_value: u64| {
            env_u64(name).unwrap_or(if full { full_value } else { quick })
        };
        Self {
            full,
            bulk_mib: pick("BENCH_BULK_MIB", 64, 256).max(1),
            runs: pick("BENCH_RUNS", 3, 7).max(1) as usize,
            requests: pick("BENCH_REQUESTS", 10_000, 10_000).max(1) as usize,
            concurrency: pick("BENCH_CONCURRENCY", 100, 100).max(1) as usize,
            request_size: pick("BENCH_REQUEST_SIZE", 1024, 1024) as usize,
            handshakes: pick("BENCH_HANDSHAKES", 200, 500).max(1) as usize,
            handshake_concurrency: pick("BENCH_HANDSHAKE_CONCURRENCY", 16, 16).max(1) as usize,
            idle_conns: pick("BENCH_IDLE_CONNS", 300, 1000).max(1) as usize,
            only: std::env::var("BENCH_ONLY")
                .ok()
                .map(|only| only.split(',').map(|w| w.trim().to_owned()).collect()),
            stack: std::env::var("BENCH_STACK").ok(),
        }
    }

    /// Whether `workload` is selected.
    pub fn selects(&self, workload: &str) -> bool {
        self.only
            .as_ref()
            .is_none_or(|only| only.iter().any(|w| w == workload))
    }
}

fn env_u64(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    match value.trim().parse() {
        Ok(v) => Some(v),
        Err(_) => panic!("{name}={value:?} is not a non-negative integer"),
    }
}

/// A self-signed ECDSA P-256 certificate for "localhost" (DER) and its
/// PKCS#8 key, made once and presented by both stacks' servers.
pub struct Certificate {
    pub cert: Vec<u8>,
    pub key: Vec<u8>,
}

pub fn certificate() -> &'static Certificate {
    static CERT: OnceLock<Certificate> = OnceLock::new();
    CERT.get_or_init(|| {
        let certified =
            rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("rcgen");
        Certificate {
            cert: certified.cert.der().to_vec(),
            key: certified.signing_key.serialize_der(),
        }
    })
}

fn ring_provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The TLS configuration both stacks' servers wrap: ring, TLS 1.3 only, our
/// certificate, no session tickets (the clients do not resume).
pub fn tls_server_config() -> rustls::ServerConfig {
    let cert = certificate();
    let key = PrivateKeyDer::from(PrivatePkcs8KeyDer::from(cert.key.clone()));
    let mut config = rustls::ServerConfig::builder_with_provider(ring_provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("TLS 1.3")
        .with_no_client_auth()
        .with_single_cert(vec![CertificateDer::from(cert.cert.clone())], key)
        .expect("server certificate");
    config.alpn_protocols = vec![ALPN.to_vec()];
    config.send_tls13_tickets = 0;
    config
}

/// The TLS configuration both stacks' clients wrap: ring, TLS 1.3 only,
/// trusting our certificate, without resumption: every handshake is full.
pub fn tls_client_config() -> rustls::ClientConfig {
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from(certificate().cert.clone()))
        .expect("root");
    let mut config = rustls::ClientConfig::builder_with_provider(ring_provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("TLS 1.3")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![ALPN.to_vec()];
    config.resumption = Resumption::disabled();
    config
}

/// One request/response run.
#[derive(Debug, Clone)]
pub struct RrResult {
    pub elapsed: Duration,
    pub requests: usize,
    /// Every request's latency (open to full response), sorted.
    pub latencies: Vec<Duration>,
}

impl RrResult {
    pub fn new(elapsed: Duration, mut latencies: Vec<Duration>) -> Self {
        latencies.sort_unstable();
        Self {
            elapsed,
            requests: latencies.len(),
            latencies,
        }
    }

    pub fn rate(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }

    /// The `p`-th percentile latency (nearest rank), in microseconds.
    pub fn percentile_us(&self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        let rank = ((p / 100.0) * self.latencies.len() as f64).ceil() as usize;
        let index = rank.clamp(1, self.latencies.len()) - 1;
        self.latencies[index].as_secs_f64() * 1e6
    }
}

/// The median of `values` (the lower middle one for an even count).
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted
        .get((sorted.len().max(1) - 1) / 2)
        .copied()
        .unwrap_or(f64::NAN)
}

/// The process's resident set size in bytes (`VmRSS` of
/// `/proc/self/status`), or `None` off Linux.
pub fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// RSS growth per connection, from the RSS before and after opening
/// `count` connections.
pub fn per_connection(before: u64, after: u64, count: usize) -> f64 {
    after.saturating_sub(before) as f64 / count as f64
}

/// The CPU time (user + system) of every thread of this process so far,
/// from `/proc/self/stat`, or `None` off Linux. Linux reports it in ticks
/// of 1/100 s (`USER_HZ`).
pub fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces), which ends at
    // the last ')': state is field 3, utime 14 and stime 15.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(Duration::from_millis((user + system) * 10))
}
