//! The example programs, run as a user runs them: real processes, real
//! command lines, over loopback.
//!
//! The examples are built (once, by `cargo build --examples` in the same
//! target directory and profile as this test) before the first test runs:
//! `cargo test --workspace` builds them anyway, but `cargo test --test
//! examples` alone would not. Command lines are written as one string. Servers are started with `--listen
//! 127.0.0.1:0` and report their port on stdout; every wait is bounded, and
//! servers are killed when their guard is dropped.

use std::fs;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::{Arc, OnceLock, mpsc};
use std::thread;
use std::time::Duration;

use quic::rustls::RootCertStore;
use quic::rustls::pki_types::CertificateDer;
use quic::rustls::pki_types::pem::PemObject;
use quic::{ClientConfig, Endpoint, VarInt};

/// The longest any program may run in a test.
const LIMIT: Duration = Duration::from_secs(30);

/// `target/<profile>/examples`, with the examples built.
fn examples_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        // This test runs as target/<profile>/deps/examples-<hash>.
        let exe = std::env::current_exe().expect("current_exe");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("target/<profile>");
        let target_dir = profile_dir.parent().expect("target dir");
        let mut build = Command::new(env!("CARGO"));
        build.args(["build", "--quiet", "--examples", "--target-dir"]);
        build.arg(target_dir);
        match profile_dir.file_name().and_then(|name| name.to_str()) {
            Some("debug") => {}
            Some("release") => {
                build.arg("--release");
            }
            Some(other) => {
                build.args(["--profile", other]);
            }
            None => panic!("no profile directory in {}", exe.display()),
        }
        // Cargo sets these for the test; a build script that watches one
        // (ring's watches CARGO_MANIFEST_DIR) would otherwise see a change
        // and rebuild half the tree, twice: now, and in the next plain build.
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            let set_by_cargo = [
                "CARGO_MANIFEST_",
                "CARGO_PKG_",
                "CARGO_CRATE_",
                "CARGO_BIN_",
            ]
            .iter()
            .any(|prefix| name.starts_with(prefix))
                || ["CARGO_PRIMARY_PACKAGE", "CARGO_TARGET_TMPDIR", "OUT_DIR"].contains(&&*name);
            if set_by_cargo {
                build.env_remove(&*name);
            }
        }
        let status = build
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .expect("run cargo");
        assert!(status.success(), "cargo build --examples failed");
        profile_dir.join("examples")
    })
}

/// The example `name` with the arguments of `line` (split at whitespace:
/// the paths used here have none), stdin closed.
fn example(name: &str, line: &str, env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(examples_dir().join(name));
    command
        .args(line.split_whitespace())
        .envs(env.iter().copied())
        .stdin(Stdio::null());
    command
}

/// A temporary directory, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("quic-examples-{}-{name}", std::process::id()));
        fs::create_dir_all(&dir).expect("create temp dir");
        let dir = Self(dir);
        assert!(
            !dir.path("x").contains(char::is_whitespace),
            "no spaces in paths"
        );
        dir
    }

    fn path(&self, file: &str) -> String {
        let path = self.0.join(file);
        path.to_str().expect("UTF-8 temp path").to_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A running server, killed on drop.
struct Server {
    child: Child,
    addr: String,
    /// Keeps reading stdout so that the server never blocks on it.
    _stdout: thread::JoinHandle<()>,
}

impl Server {
    /// Starts `name` with the arguments of `line` and waits for its
    /// `listening on ADDR`.
    fn start(name: &str, line: &str) -> Self {
        Self::start_with_env(name, line, &[])
    }

    /// [`start`](Self::start), with environment variables set.
    fn start_with_env(name: &str, line: &str, env: &[(&str, &str)]) -> Self {
        let mut child = example(name, line, env)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let (lines, first_line) = mpsc::channel();
        let reader = thread::spawn(move || forward_lines(stdout, lines));
        let Ok(first) = first_line.recv_timeout(LIMIT) else {
            let _ = child.kill();
            panic!("{name} did not say it was listening");
        };
        let addr = first
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("{name} printed {first:?}"))
            .to_owned();
        Self {
            child,
            addr,
            _stdout: reader,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends each line of `stdout` to `lines` (until nobody listens), then
/// reads the rest to the end.
fn forward_lines(stdout: ChildStdout, lines: mpsc::Sender<String>) {
    let mut reader = BufReader::new(stdout);
    let mut line = String::new();
    while reader.read_line(&mut line).unwrap_or(0) > 0 {
        if lines.send(line.trim_end().to_owned()).is_err() {
            break;
        }
        line.clear();
    }
    let _ = std::io::copy(&mut reader, &mut std::io::sink());
}

/// How a program ended.
struct Finished {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

/// Runs `name` with the arguments of `line` to its end (killing it after
/// [`LIMIT`]).
fn run(name: &str, line: &str) -> Finished {
    run_with_env(name, line, &[])
}

/// [`run`], with environment variables set.
fn run_with_env(name: &str, line: &str, env: &[(&str, &str)]) -> Finished {
    let mut child = example(name, line, env)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("start {name}: {e}"));
    let (done, outputs) = mpsc::channel();
    let pipes: [Box<dyn Read + Send>; 2] = [
        Box::new(child.stdout.take().expect("stdout")),
        Box::new(child.stderr.take().expect("stderr")),
    ];
    for (index, mut pipe) in pipes.into_iter().enumerate() {
        let done = done.clone();
        thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            let _ = done.send((index, text));
        });
    }
    let mut texts = [String::new(), String::new()];
    for _ in 0..2 {
        // Both pipes close when the program exits.
        let Ok((index, text)) = outputs.recv_timeout(LIMIT) else {
            let _ = child.kill();
            panic!("{name} {line} did not finish within {LIMIT:?}");
        };
        texts[index] = text;
    }
    let status = child.wait().expect("wait");
    let [stdout, stderr] = texts;
    Finished {
        status,
        stdout,
        stderr,
    }
}

fn assert_success(finished: &Finished, expected_line: &str) {
    let Finished {
        status,
        stdout,
        stderr,
    } = finished;
    assert!(status.success(), "exit {status:?}; stderr: {stderr}");
    let found = stdout.lines().any(|line| line == expected_line);
    assert!(found, "no line {expected_line:?} in {stdout:?}");
}

/// The summary line starting with `prefix`, from a successful run.
fn summary<'a>(finished: &'a Finished, prefix: &str) -> &'a str {
    let Finished {
        status,
        stdout,
        stderr,
    } = finished;
    assert!(status.success(), "exit {status:?}; stderr: {stderr}");
    let mut lines = stdout.lines().filter(|line| line.starts_with(prefix));
    let line = lines.next();
    assert!(lines.next().is_none(), "one summary line in {stdout:?}");
    line.unwrap_or_else(|| panic!("no {prefix:?} line in {stdout:?}"))
}

fn assert_fails_with(finished: &Finished, code: i32, message: &str) {
    let Finished {
        status,
        stdout,
        stderr,
    } = finished;
    assert_eq!(status.code(), Some(code), "stderr: {stderr}");
    assert!(
        stderr.contains(message),
        "{message:?} not in stderr: {stderr}"
    );
    assert!(!stdout.contains("echo ok"), "a success line on failure");
}

/// The key log at `path` has the secrets of a TLS 1.3 handshake.
fn assert_key_log(path: &str) {
    let log = fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    for label in [
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET ",
        "SERVER_TRAFFIC_SECRET_0 ",
    ] {
        let found = log.lines().any(|line| line.starts_with(label));
        assert!(found, "no {label} in {log:?}");
    }
}

#[test]
fn echo_client_through_echo_server_insecure_and_with_ca() {
    let dir = TempDir::new("echo");
    let cert = dir.path("cert.pem");
    let server = Server::start(
        "echo_server",
        &format!("--listen 127.0.0.1:0 --cert-out {cert}"),
    );
    let addr = &server.addr;

    let keys = dir.path("client-keys.txt");
    let line = format!("--connect {addr} --insecure --streams 4 --bytes 200000");
    let insecure = run_with_env("echo_client", &line, &[("SSLKEYLOGFILE", &keys)]);
    assert_success(&insecure, "echo ok: 4 streams, 200000 bytes");
    assert!(insecure.stderr.contains("warning: --insecure"), "warns");
    // The insecure configuration is built by hand: it keeps the key log.
    assert_key_log(&keys);

    let line = format!("--connect {addr} --ca {cert} --streams=3 --bytes=64K");
    let trusted = run("echo_client", &line);
    assert_success(&trusted, "echo ok: 3 streams, 65536 bytes");
    assert!(trusted.stderr.is_empty(), "no warning: {}", trusted.stderr);

    let defaults = run("echo_client", &format!("--connect {addr} --ca {cert}"));
    assert_success(&defaults, "echo ok: 1 streams, 100000 bytes");
}

#[test]
fn echo_client_fails_on_wrong_alpn_or_untrusted_certificate() {
    let dir = TempDir::new("refused");
    let server = Server::start("echo_server", "--listen 127.0.0.1:0 --alpn echo");
    let addr = &server.addr;

    let wrong_alpn = run(
        "echo_client",
        &format!("--connect {addr} --insecure --alpn nope"),
    );
    assert_fails_with(&wrong_alpn, 1, "handshake with");
    assert!(
        wrong_alpn.stderr.contains("protocol"),
        "{}",
        wrong_alpn.stderr
    );

    // A CA the server's certificate was not issued by: another server's.
    let other = dir.path("other.pem");
    drop(Server::start(
        "echo_server",
        &format!("--listen 127.0.0.1:0 --cert-out {other}"),
    ));
    let untrusted = run("echo_client", &format!("--connect {addr} --ca {other}"));
    assert_fails_with(&untrusted, 1, "certificate");

    let line = format!("--connect {addr} --insecure --server-name example.com --alpn nope");
    assert_fails_with(&run("echo_client", &line), 1, "handshake with");

    let not_pem = dir.path("not.pem");
    fs::write(&not_pem, "not a certificate\n").expect("write");
    let unreadable = run("echo_client", &format!("--connect {addr} --ca {not_pem}"));
    assert_fails_with(&unreadable, 1, "no certificate");
}

#[test]
fn echo_server_uses_cert_and_key_files_and_key_log() {
    let dir = TempDir::new("files");
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("rcgen");
    let (cert, key) = (dir.path("cert.pem"), dir.path("key.pem"));
    fs::write(&cert, pem("CERTIFICATE", certified.cert.der())).expect("write cert");
    let key_der = certified.signing_key.serialize_der();
    fs::write(&key, pem("PRIVATE KEY", &key_der)).expect("write key");
    let keys = dir.path("server-keys.txt");
    let line = format!("--listen 127.0.0.1:0 --cert {cert} --key {key}");
    let server = Server::start_with_env("echo_server", &line, &[("SSLKEYLOGFILE", &keys)]);

    let line = format!(
        "--connect {} --ca {cert} --streams 2 --bytes 1000",
        server.addr
    );
    assert_success(&run("echo_client", &line), "echo ok: 2 streams, 1000 bytes");
    // The server wrote its secrets before its Finished, so before the echo.
    assert_key_log(&keys);
}

/// A client that resets one stream, stops another, writes a
/// unidirectional stream and then closes with an error code leaves the
/// server serving the same connection, then the next client.
#[tokio::test]
async fn echo_server_survives_misbehaving_clients() {
    let dir = TempDir::new("survive");
    let cert = dir.path("cert.pem");
    let server = Server::start(
        "echo_server",
        &format!("--listen 127.0.0.1:0 --cert-out {cert}"),
    );
    let endpoint = Endpoint::client("127.0.0.1:0".parse().expect("address")).expect("client");
    let mut roots = RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_file(&cert).expect("PEM"))
        .expect("root");
    let mut config = ClientConfig::with_root_certificates(Arc::new(roots));
    config.alpn_protocols(vec![b"echo".to_vec()]);
    let connecting =
        endpoint.connect_with(config, server.addr.parse().expect("address"), "localhost");
    let connection = tokio::time::timeout(LIMIT, connecting.expect("connect"))
        .await
        .expect("in time")
        .expect("handshake");

    let (mut reset, _) = connection.open_bi().await.expect("open");
    reset.write_all(b"half a request").await.expect("write");
    reset.reset(VarInt::from_u32(7)).expect("reset");
    let (mut stopped_send, mut stopped_recv) = connection.open_bi().await.expect("open");
    stopped_send
        .write_all(&vec![1; 100_000])
        .await
        .expect("write");
    stopped_recv.stop(VarInt::from_u32(8)).expect("stop");
    let mut uni = connection.open_uni().await.expect("open uni");
    uni.write_all(b"ignored").await.expect("write uni");
    uni.finish().expect("finish uni");

    // The same connection still echoes.
    let (mut send, mut recv) = connection.open_bi().await.expect("open");
    send.write_all(b"still there?").await.expect("write");
    send.finish().expect("finish");
    let echoed = tokio::time::timeout(LIMIT, recv.read_to_end(1024))
        .await
        .expect("in time");
    assert_eq!(echoed.expect("echo"), b"still there?");
    connection.close(VarInt::from_u32(99), b"going away rudely");
    tokio::time::timeout(LIMIT, endpoint.wait_idle())
        .await
        .expect("idle");

    let next = run(
        "echo_client",
        &format!("--connect {} --ca {cert}", server.addr),
    );
    assert_success(&next, "echo ok: 1 streams, 100000 bytes");
}

#[test]
fn perf_client_modes_against_perf_server() {
    let dir = TempDir::new("perf");
    let cert = dir.path("cert.pem");
    let server = Server::start(
        "perf_server",
        &format!("--listen 127.0.0.1:0 --cert-out {cert}"),
    );
    let target = format!("--connect {} --ca {cert}", server.addr);

    let bulk = run("perf_client", &format!("{target} --bytes 300000"));
    let line = summary(&bulk, "bulk:");
    assert!(line.starts_with("bulk: 300000 bytes in "), "{line}");
    assert!(line.ends_with(" MiB/s"), "{line}");

    let rr = run(
        "perf_client",
        &format!("{target} --requests 30 --concurrency 4 --size 2000"),
    );
    let line = summary(&rr, "rr:");
    assert!(
        line.starts_with("rr: 30 requests of 2000 bytes, concurrency 4, in "),
        "{line}"
    );
    assert!(line.contains(" requests/s, latency ms p50 "), "{line}");
    assert!(
        line.contains(" p90 ") && line.contains(" p99 ") && line.contains(" max "),
        "{line}"
    );

    // Concurrent handshakes from one endpoint; later ones resume the TLS
    // session of earlier ones. Without --ca, perf defaults to --insecure,
    // and says so.
    let line = format!("--connect {} --handshakes 8 --concurrency 2", server.addr);
    let handshakes = run("perf_client", &line);
    let line = summary(&handshakes, "handshakes:");
    assert!(line.starts_with("handshakes: 8 in "), "{line}");
    assert!(line.contains(" handshakes/s, latency ms p50 "), "{line}");
    assert!(handshakes.stderr.contains("warning: --insecure"), "warns");
}

#[test]
fn echo_demo_runs() {
    let finished = run("echo", "--streams 3 --bytes 20000");
    assert_success(&finished, "echo ok: 3 streams, 20000 bytes");
    let stdout = &finished.stdout;
    assert!(
        stdout.contains("client: connected to 127.0.0.1:"),
        "{stdout}"
    );
    assert!(stdout.contains(" MiB/s each way"), "{stdout}");
}

#[test]
fn bad_command_lines_exit_2_with_usage() {
    // Each case: the program and its arguments, then what stderr says.
    let cases = [
        "echo_server --listen 127.0.0.1:0 --verbose => unknown flag --verbose",
        "echo_server => --listen is required",
        "echo_server --listen 127.0.0.1:0 --cert c.pem => go together",
        "echo_server --listen 127.0.0.1:0 --cert c --key k --cert-out o => not with --cert",
        "echo_client --connect => --connect needs a value",
        "echo_client --connect 127.0.0.1:1 => --ca PEM or --insecure",
        "echo_client --connect 127.0.0.1:1 --insecure --ca x => exclude",
        "echo_client --connect 127.0.0.1:1 --insecure --bytes lots => --bytes",
        "echo_client 127.0.0.1:1 => unexpected argument",
        "echo_client --insecure=yes => takes no value",
        "echo --streams -1 => --streams",
        "perf_server --listen 127.0.0.1:0 --alpn perf => unknown flag --alpn",
        "perf_client --connect x:1 --bytes 1 --requests 2 => exclude",
        "perf_client --connect x:1 --size 1 => --size goes with --requests",
        "perf_client --connect x:1 --concurrency 2 => --concurrency goes with",
        "perf_client --connect x:1 --requests 1 --requests 2 => twice",
    ];
    for case in cases {
        let (command, message) = case.split_once(" => ").expect("case");
        let (name, line) = command.split_once(' ').unwrap_or((command, ""));
        let Finished { status, stderr, .. } = run(name, line);
        assert_eq!(status.code(), Some(2), "{command}: {stderr}");
        assert!(stderr.contains(message), "{command}: {stderr}");
        assert!(stderr.contains(&format!("usage: {name} ")), "{stderr}");
    }
    let help = run("perf_client", "--help");
    assert!(help.status.success());
    assert!(
        help.stdout.starts_with("usage: perf_client --connect ADDR"),
        "{}",
        help.stdout
    );
}

/// `der` as PEM (RFC 7468), written here independently of the examples'
/// own encoder so that the file-loading path is tested on its own.
fn pem(label: &str, der: &[u8]) -> String {
    const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut text = String::new();
    for group in der.chunks(3) {
        let mut padded = [0u8; 3];
        padded[..group.len()].copy_from_slice(group);
        let n = u32::from_be_bytes([0, padded[0], padded[1], padded[2]]);
        for i in 0..4 {
            let sextet = (n >> (18 - 6 * i)) & 63;
            text.push(if i <= group.len() {
                B64[sextet as usize] as char
            } else {
                '='
            });
        }
    }
    let body: Vec<&str> = text
        .as_bytes()
        .chunks(64)
        .map(|line| std::str::from_utf8(line).expect("ASCII"))
        .collect();
    format!(
        "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
        body.join("\n")
    )
}
