//! `SSLKEYLOGFILE` is honoured by the configurations quic-tokio builds. In a
//! test binary of its own, because it sets an environment variable.

mod support;

#[test]
fn ssl_key_log_file_receives_the_secrets() {
    let path = std::env::temp_dir().join(format!("quic-tokio-keylog-{}", std::process::id()));
    // SAFETY: this binary holds this one test, and it sets the variable
    // before starting any thread of its own.
    unsafe { std::env::set_var("SSLKEYLOGFILE", &path) };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let pair = support::pair().await;
        pair.client_conn.close(quic::VarInt::ZERO, b"");
    });
    let log = std::fs::read_to_string(&path).expect("key log written");
    std::fs::remove_file(&path).unwrap();
    for label in [
        "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
        "SERVER_HANDSHAKE_TRAFFIC_SECRET",
        "CLIENT_TRAFFIC_SECRET_0",
        "SERVER_TRAFFIC_SECRET_0",
    ] {
        // Both ends log each secret.
        assert_eq!(log.matches(label).count(), 2, "{label} in {log}");
    }
}
