//! Our stack beside quinn 0.11 in the same run, over loopback: each stack's
//! client against its own server, on a multi-thread Tokio runtime with two
//! worker threads, default transport settings on both sides and one TLS
//! configuration for both (rustls, ring provider, TLS 1.3, the same ECDSA
//! P-256 certificate, no session resumption: every handshake is full).
//!
//! `cargo bench --bench quic_vs_quinn` (quick, under two minutes), or
//! `BENCH_FULL=1 cargo bench --bench quic_vs_quinn` for the README figures.
//!
//! Workloads (each run alternates which stack goes first; the median of
//! `BENCH_RUNS` runs is reported):
//! 1. bulk: one bidi stream uploads `BENCH_BULK_MIB` MiB (1 MiB refcounted
//!    chunks, nothing copied by the application); the server counts the
//!    bytes without copying and answers with the count. Goodput in MiB/s,
//!    from opening the stream to the count arriving.
//! 2. request/response: `BENCH_REQUESTS` requests of `BENCH_REQUEST_SIZE`
//!    bytes, each on its own stream and echoed, `BENCH_CONCURRENCY` at a
//!    time on one connection; requests/s and p50/p99 latency.
//! 3. handshakes: `BENCH_HANDSHAKES` full handshakes on new connections from
//!    one client endpoint, closed once established; one at a time and
//!    `BENCH_HANDSHAKE_CONCURRENCY` at a time.
//!
//! Beside each timed workload, the process's CPU time (user + system, all
//! threads, from `/proc/self/stat`) per unit of work: on a shared machine
//! it moves less with other load than wall-clock rates do.
//!
//! 4. memory: `BENCH_IDLE_CONNS` idle connections to one server, each stack
//!    in a fresh child process; VmRSS growth divided by the count (client
//!    and server ends together). Allocator caveat: RSS moves in pages and
//!    counts memory the allocator keeps after freeing it (e.g. handshake
//!    buffers), so this is an upper bound on live state, equally for both.
//!
//! `BENCH_ONLY=bulk,rr,handshake,memory` picks workloads (all by default);
//! `BENCH_STACK=ours` (or `quinn`) runs one stack alone, for profiling.
//!
//! The benchmark body runs only under `cargo bench` (which passes
//! `--bench`); built for `cargo test --benches` it returns at once.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{RrResult, Settings, cpu_time, median, ours, quinn_side};

/// Set in the child processes of the memory measurement: `ours` or `quinn`.
const CHILD_VAR: &str = "QUIC_VS_QUINN_MEMORY_CHILD";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stack {
    Ours,
    Quinn,
}

impl Stack {
    fn name(self) -> &'static str {
        match self {
            Stack::Ours => "ours",
            Stack::Quinn => "quinn",
        }
    }

    /// The stacks `settings` selects, the first one alternating with
    /// `run`.
    fn order(settings: &Settings, run: usize) -> Vec<Stack> {
        let order = if run % 2 == 0 {
            [Stack::Ours, Stack::Quinn]
        } else {
            [Stack::Quinn, Stack::Ours]
        };
        order
            .into_iter()
            .filter(|stack| settings.stack.as_deref().is_none_or(|s| s == stack.name()))
            .collect()
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("Tokio runtime")
}

fn main() {
    if !std::env::args().any(|arg| arg == "--bench") {
        println!("quic_vs_quinn: skipped; run it with `cargo bench --bench quic_vs_quinn`");
        return;
    }
    let settings = Settings::from_env();
    if let Ok(stack) = std::env::var(CHILD_VAR) {
        memory_child(&stack, settings.idle_conns);
        return;
    }
    print_machine(&settings);
    let mut rows = Vec::new();
    if settings.selects("bulk") {
        rows.extend(bulk(&settings));
    }
    if settings.selects("rr") {
        rows.extend(request_response(&settings));
    }
    if settings.selects("handshake") {
        rows.extend(handshakes(&settings, 1));
        rows.extend(handshakes(&settings, settings.handshake_concurrency));
    }
    if settings.selects("memory") {
        let memory = [Stack::Ours, Stack::Quinn].map(|stack| {
            let wanted = Stack::order(&settings, 0).contains(&stack);
            wanted.then(|| memory(stack, &settings)).flatten()
        });
        if let [Some(ours), Some(quinn)] = memory {
            rows.push(Row::lower(
                format!(
                    "memory per idle connection, client + server ends, {} connections (KiB)",
                    settings.idle_conns
                ),
                [ours / 1024.0, quinn / 1024.0],
            ));
        }
    }
    print_table(&rows);
}

fn print_machine(settings: &Settings) {
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|k| k.trim().to_owned())
        .unwrap_or_else(|_| std::env::consts::OS.to_owned());
    let mode = if settings.full { "full" } else { "quick" };
    println!("quic_vs_quinn ({mode} mode): nproc {nproc}, {cpu}, kernel {kernel}");
    println!(
        "Tokio multi-thread runtime, 2 worker threads; loopback; median of {} runs",
        settings.runs
    );
    println!();
}

/// Runs `work` on a fresh runtime for each selected stack, `settings.runs`
/// times, alternating which stack goes first. Returns, per stack, each
/// run's result and the CPU seconds it took (NaN off Linux).
fn rounds<T, F>(settings: &Settings, work: impl Fn(Stack) -> F) -> [Vec<(T, f64)>; 2]
where
    F: Future<Output = T>,
{
    let mut results = [Vec::new(), Vec::new()];
    for run in 0..settings.runs {
        for stack in Stack::order(settings, run) {
            let start = cpu_time();
            let result = runtime().block_on(work(stack));
            let cpu = match (start, cpu_time()) {
                (Some(start), Some(end)) => end.saturating_sub(start).as_secs_f64(),
                _ => f64::NAN,
            };
            results[stack as usize].push((result, cpu));
        }
    }
    results
}

/// The median over the runs of `f` of each stack's results.
fn medians<T>(results: &[Vec<(T, f64)>; 2], f: impl Fn(&(T, f64)) -> f64) -> [f64; 2] {
    [0, 1].map(|stack| median(&results[stack].iter().map(&f).collect::<Vec<_>>()))
}

/// Bulk goodput (MiB/s) and CPU time per MiB.
fn bulk(settings: &Settings) -> [Row; 2] {
    let bytes = settings.bulk_mib << 20;
    let mib = settings.bulk_mib as f64;
    let results = rounds(settings, |stack| async move {
        match stack {
            Stack::Ours => ours::bulk(bytes).await,
            Stack::Quinn => quinn_side::bulk(bytes).await,
        }
    });
    for (stack, runs) in [Stack::Ours, Stack::Quinn].iter().zip(&results) {
        for (run, (elapsed, cpu)) in runs.iter().enumerate() {
            println!(
                "bulk      run {run} {:>5}: {:8.1} MiB/s, {:6.2} CPU-ms/MiB",
                stack.name(),
                mib / elapsed.as_secs_f64(),
                cpu * 1e3 / mib
            );
        }
    }
    [
        Row::faster(
            format!("bulk upload, 1 stream, {} MiB (MiB/s)", settings.bulk_mib),
            medians(&results, |(elapsed, _)| mib / elapsed.as_secs_f64()),
        ),
        Row::lower(
            "bulk upload: CPU time per MiB, both ends (ms)",
            medians(&results, |(_, cpu)| cpu * 1e3 / mib),
        ),
    ]
}

/// Requests/s, p50 and p99 latency, and CPU time per request.
fn request_response(settings: &Settings) -> [Row; 4] {
    let (n, c, size) = (
        settings.requests,
        settings.concurrency,
        settings.request_size,
    );
    let results = rounds(settings, |stack| async move {
        match stack {
            Stack::Ours => ours::request_response(n, c, size).await,
            Stack::Quinn => quinn_side::request_response(n, c, size).await,
        }
    });
    let per_request = |(r, cpu): &(RrResult, f64)| cpu * 1e6 / r.requests as f64;
    for (stack, runs) in [Stack::Ours, Stack::Quinn].iter().zip(&results) {
        for (run, result) in runs.iter().enumerate() {
            let r = &result.0;
            println!(
                "req/resp  run {run} {:>5}: {:8.0} requests/s, p50 {:6.0} µs, p99 {:6.0} µs, {:5.1} CPU-µs/request",
                stack.name(),
                r.rate(),
                r.percentile_us(50.0),
                r.percentile_us(99.0),
                per_request(result)
            );
        }
    }
    [
        Row::faster(
            format!(
                "request/response, {n} × {size} B each way, {c} streams in flight (requests/s)"
            ),
            medians(&results, |(r, _)| r.rate()),
        ),
        Row::lower(
            "request/response latency p50 (µs)",
            medians(&results, |(r, _)| r.percentile_us(50.0)),
        ),
        Row::lower(
            "request/response latency p99 (µs)",
            medians(&results, |(r, _)| r.percentile_us(99.0)),
        ),
        Row::lower(
            "request/response: CPU time per request, both ends (µs)",
            medians(&results, per_request),
        ),
    ]
}

/// Handshakes/s at `concurrency`, and CPU time per handshake.
fn handshakes(settings: &Settings, concurrency: usize) -> [Row; 2] {
    let count = settings.handshakes;
    let results = rounds(settings, |stack| async move {
        match stack {
            Stack::Ours => ours::handshakes(count, concurrency).await,
            Stack::Quinn => quinn_side::handshakes(count, concurrency).await,
        }
    });
    let rate = |(elapsed, _): &(Duration, f64)| count as f64 / elapsed.as_secs_f64();
    let per_handshake = |(_, cpu): &(Duration, f64)| cpu * 1e6 / count as f64;
    for (stack, runs) in [Stack::Ours, Stack::Quinn].iter().zip(&results) {
        for (run, result) in runs.iter().enumerate() {
            println!(
                "handshake run {run} {:>5}: {:8.0} handshakes/s at concurrency {concurrency}, {:5.0} CPU-µs/handshake",
                stack.name(),
                rate(result),
                per_handshake(result)
            );
        }
    }
    let how = if concurrency == 1 {
        format!("{count} sequential")
    } else {
        format!("{count} at concurrency {concurrency}")
    };
    [
        Row::faster(
            format!("handshakes, {how} (handshakes/s)"),
            medians(&results, rate),
        ),
        Row::lower(
            format!("handshakes, {how}: CPU time per handshake, both ends (µs)"),
            medians(&results, per_handshake),
        ),
    ]
}

/// Bytes of RSS per idle connection, measured in a fresh child process.
fn memory(stack: Stack, settings: &Settings) -> Option<f64> {
    let exe = std::env::current_exe().ok()?;
    let output = Command::new(exe)
        .arg("--bench")
        .env(CHILD_VAR, stack.name())
        .env("BENCH_IDLE_CONNS", settings.idle_conns.to_string())
        .output()
        .ok()?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        eprintln!(
            "memory {}: child failed: {}\n{stdout}{}",
            stack.name(),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        return None;
    }
    let line = stdout.lines().find(|l| l.starts_with("rss"))?;
    let field = |name: &str| -> Option<u64> {
        line.split_whitespace()
            .find_map(|f| f.strip_prefix(name)?.strip_prefix('='))?
            .parse()
            .ok()
    };
    let (before, after) = (field("before")?, field("after")?);
    if before == 0 {
        return None;
    }
    let per = common::per_connection(before, after, settings.idle_conns);
    println!(
        "memory        {:>5}: RSS {:.1} → {:.1} MiB for {} idle connections: {:.1} KiB each",
        stack.name(),
        before as f64 / (1 << 20) as f64,
        after as f64 / (1 << 20) as f64,
        settings.idle_conns,
        per / 1024.0
    );
    Some(per)
}

/// The memory measurement's child process: prints the RSS before and after.
fn memory_child(stack: &str, count: usize) {
    let (before, after) = runtime().block_on(async {
        match stack {
            "ours" => ours::idle_memory(count).await,
            "quinn" => quinn_side::idle_memory(count).await,
            other => panic!("{CHILD_VAR}={other:?}: expected ours or quinn"),
        }
    });
    println!("rss before={before} after={after}");
}

/// One line of the result table.
struct Row {
    name: String,
    values: [f64; 2],
    /// Whether a higher figure is better (rates) or a lower one (latency,
    /// memory).
    higher_is_better: bool,
}

impl Row {
    fn faster(name: impl Into<String>, values: [f64; 2]) -> Self {
        Self {
            name: name.into(),
            values,
            higher_is_better: true,
        }
    }

    fn lower(name: impl Into<String>, values: [f64; 2]) -> Self {
        Self {
            name: name.into(),
            values,
            higher_is_better: false,
        }
    }
}

fn print_table(rows: &[Row]) {
    println!();
    println!("| Measurement | ours | quinn 0.11 | ours/quinn | better |");
    println!("| --- | ---: | ---: | ---: | --- |");
    for row in rows
        .iter()
        .filter(|row| row.values.iter().all(|v| v.is_finite()))
    {
        let [ours, quinn] = row.values;
        let better = if row.higher_is_better {
            "> 1: ours faster"
        } else {
            "< 1: ours lower"
        };
        println!(
            "| {} | {} | {} | {:.2}× | {better} |",
            row.name,
            figure(ours),
            figure(quinn),
            ours / quinn
        );
    }
}

fn figure(value: f64) -> String {
    if value >= 100.0 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}
