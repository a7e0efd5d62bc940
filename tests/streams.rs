//! Streams over loopback: many at once, a bulk transfer, resets and stops,
//! dropped handles, and cancelled reads and writes.

mod support;

use std::time::Duration;

use bytes::Bytes;
use quic::{ReadError, ReadToEndError, TransportConfig, VarInt, WriteError};
use ring::digest::{Context, SHA256, digest};
use support::{data, pair, pair_with};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// 200 bidirectional streams echoed and 200 unidirectional streams
/// delivered, all at once: twice the peer's stream limit of 100, so opening
/// waits for MAX_STREAMS credit (RFC 9000 §4.6).
#[tokio::test]
async fn many_concurrent_streams() {
    many_streams().await;
}

/// The same on two worker threads: the driver and the stream tasks run in
/// parallel and contend for the connection's lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_streams_on_two_threads() {
    many_streams().await;
}

async fn many_streams() {
    const STREAMS: u64 = 200;
    let pair = pair().await;
    let server = pair.server_conn.clone();
    tokio::spawn(async move {
        while let Ok((mut send, mut recv)) = server.accept_bi().await {
            tokio::spawn(async move {
                let request = recv.read_to_end(1 << 20).await.expect("read");
                send.write_all(&request).await.expect("echo");
                send.finish().expect("finish");
            });
        }
    });
    let server = pair.server_conn.clone();
    let uni_receiver = tokio::spawn(async move {
        let mut seen = vec![false; STREAMS as usize];
        for _ in 0..STREAMS {
            let mut recv = server.accept_uni().await.expect("accept uni");
            let message = recv.read_to_end(1 << 20).await.expect("read");
            let index = u64::from_le_bytes(message[..8].try_into().unwrap());
            assert_eq!(&message[8..], &data(index, 1000)[..], "stream {index}");
            assert!(!std::mem::replace(&mut seen[index as usize], true));
        }
        seen.iter().all(|&seen| seen)
    });
    let mut tasks = tokio::task::JoinSet::new();
    for index in 0..STREAMS {
        let connection = pair.client_conn.clone();
        tasks.spawn(async move {
            let (mut send, mut recv) = connection.open_bi().await.expect("open bi");
            let message = data(index, 3000);
            send.write_all(&message).await.expect("write");
            send.finish().expect("finish");
            assert_eq!(recv.read_to_end(1 << 20).await.expect("read"), message);
        });
        let connection = pair.client_conn.clone();
        tasks.spawn(async move {
            let mut send = connection.open_uni().await.expect("open uni");
            send.write_all(&index.to_le_bytes()).await.expect("write");
            send.write_all(&data(index, 1000)).await.expect("write");
            send.finish().expect("finish");
        });
    }
    while let Some(result) = tasks.join_next().await {
        result.expect("stream task");
    }
    assert!(uni_receiver.await.expect("receiver"));
}

/// 256 MiB on one stream, written as `Bytes` chunks without copying and
/// read as chunks, checked with SHA-256. Two worker threads: the sender, the
/// receiver and the two drivers run in parallel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfer_256_mib_with_sha256() {
    const LEN: usize = 256 << 20;
    const CHUNK: usize = 256 << 10;
    let pair = pair().await;
    let payload = Bytes::from(data(7, LEN));
    let expected = digest(&SHA256, &payload);
    let connection = pair.client_conn.clone();
    let sender = tokio::spawn(async move {
        let mut send = connection.open_uni().await.expect("open");
        for offset in (0..LEN).step_by(CHUNK) {
            send.write_chunk(payload.slice(offset..offset + CHUNK))
                .await
                .expect("write");
        }
        send.finish().expect("finish");
        // Every byte and the FIN acknowledged.
        assert_eq!(send.stopped().await.expect("stopped"), None);
    });
    let mut recv = pair.server_conn.accept_uni().await.expect("accept");
    let mut context = Context::new(&SHA256);
    let mut received = 0;
    while let Some(chunk) = recv.read_chunk(usize::MAX).await.expect("read") {
        received += chunk.len();
        context.update(&chunk);
    }
    assert_eq!(received, LEN);
    assert_eq!(context.finish().as_ref(), expected.as_ref());
    sender.await.expect("sender");
}

/// RFC 9000 §3.1, §19.4: a reset reaches the reader with its code.
#[tokio::test]
async fn reset_reaches_the_reader() {
    let pair = pair().await;
    let mut send = pair.client_conn.open_uni().await.unwrap();
    send.write_all(b"some data").await.unwrap();
    send.reset(VarInt::from_u32(7)).unwrap();
    assert!(send.reset(VarInt::from_u32(8)).is_err(), "reset twice");
    assert_eq!(
        send.write(b"more").await,
        Err(WriteError::ClosedStream),
        "write after reset"
    );
    let mut recv = pair.server_conn.accept_uni().await.unwrap();
    let mut buf = [0; 64];
    // Data that arrived before the reset may or may not be delivered; the
    // reset is reported in the end, once.
    let error = loop {
        match recv.read(&mut buf).await {
            Ok(Some(_)) => {}
            Ok(None) => panic!("a reset stream does not end cleanly"),
            Err(error) => break error,
        }
    };
    assert_eq!(error, ReadError::Reset(VarInt::from_u32(7)));
    assert_eq!(recv.read(&mut buf).await, Err(ReadError::ClosedStream));
}

/// RFC 9000 §3.5: STOP_SENDING reaches the writer, whose writes then fail
/// with the code, and `stopped` reports it.
#[tokio::test]
async fn stop_reaches_the_writer() {
    let pair = pair().await;
    let (mut send, _recv) = pair.client_conn.open_bi().await.unwrap();
    send.write_all(b"hello").await.unwrap();
    let (_server_send, mut server_recv) = pair.server_conn.accept_bi().await.unwrap();
    let mut buf = [0; 5];
    server_recv.read_exact(&mut buf).await.unwrap();
    server_recv.stop(VarInt::from_u32(9)).unwrap();
    assert!(server_recv.stop(VarInt::from_u32(9)).is_err(), "stop twice");
    assert_eq!(
        send.stopped().await.expect("stopped"),
        Some(VarInt::from_u32(9))
    );
    assert_eq!(
        send.write(b"more").await,
        Err(WriteError::Stopped(VarInt::from_u32(9)))
    );
    // As an io::Error for AsyncWrite users.
    let error = send.write_all(b"more").await.unwrap_err();
    assert_eq!(
        std::io::Error::from(error).kind(),
        std::io::ErrorKind::ConnectionReset
    );
}

/// `stopped` resolves with `None` once the peer acknowledged everything.
#[tokio::test]
async fn stopped_resolves_when_all_data_is_acknowledged() {
    let pair = pair().await;
    let mut send = pair.client_conn.open_uni().await.unwrap();
    send.write_all(&data(1, 100_000)).await.unwrap();
    send.finish().unwrap();
    assert!(send.finish().is_err(), "finish twice");
    let reader = tokio::spawn({
        let connection = pair.server_conn.clone();
        async move {
            let mut recv = connection.accept_uni().await.unwrap();
            recv.read_to_end(1 << 20).await.unwrap()
        }
    });
    assert_eq!(send.stopped().await, Ok(None));
    assert_eq!(reader.await.unwrap(), data(1, 100_000));
}

/// Dropping a `SendStream` mid-transfer finishes it: the peer reads
/// everything written, then the end of the stream.
#[tokio::test]
async fn dropping_a_send_stream_finishes_it() {
    let pair = pair().await;
    let message = data(2, 200_000);
    let mut send = pair.client_conn.open_uni().await.unwrap();
    send.write_all(&message).await.unwrap();
    drop(send);
    let mut recv = pair.server_conn.accept_uni().await.unwrap();
    assert_eq!(recv.read_to_end(1 << 20).await.unwrap(), message);
}

/// Dropping a `RecvStream` before its end stops it with code 0: the
/// writer's `stopped` and writes report it (RFC 9000 §3.5).
#[tokio::test]
async fn dropping_a_recv_stream_stops_it() {
    let pair = pair().await;
    let mut send = pair.client_conn.open_uni().await.unwrap();
    send.write_all(b"first").await.unwrap();
    let mut recv = pair.server_conn.accept_uni().await.unwrap();
    let mut buf = [0; 5];
    recv.read_exact(&mut buf).await.unwrap();
    drop(recv);
    assert_eq!(send.stopped().await, Ok(Some(VarInt::ZERO)));
    // Writing keeps failing with the code, however much is written.
    let chunk = vec![0; 64 * 1024];
    let error = loop {
        if let Err(error) = send.write(&chunk).await {
            break error;
        }
    };
    assert_eq!(error, WriteError::Stopped(VarInt::ZERO));
}

/// A `RecvStream` read to its end is not stopped when dropped, and the
/// writer sees its data acknowledged, not a stop.
#[tokio::test]
async fn dropping_a_finished_recv_stream_does_not_stop_it() {
    let pair = pair().await;
    let mut send = pair.client_conn.open_uni().await.unwrap();
    send.write_all(b"all of it").await.unwrap();
    send.finish().unwrap();
    let mut recv = pair.server_conn.accept_uni().await.unwrap();
    assert_eq!(recv.read_to_end(100).await.unwrap(), b"all of it");
    drop(recv);
    assert_eq!(send.stopped().await, Ok(None));
}

/// `read_to_end` refuses a stream longer than its limit; `read_exact`
/// reports a stream that ends early.
#[tokio::test]
async fn read_limits() {
    let pair = pair().await;
    for _ in 0..2 {
        let mut send = pair.client_conn.open_uni().await.unwrap();
        send.write_all(&[1; 100]).await.unwrap();
        send.finish().unwrap();
    }
    let mut recv = pair.server_conn.accept_uni().await.unwrap();
    assert_eq!(recv.read_to_end(99).await, Err(ReadToEndError::TooLong));
    let mut recv = pair.server_conn.accept_uni().await.unwrap();
    let mut buf = [0; 101];
    assert_eq!(
        recv.read_exact(&mut buf).await,
        Err(quic::ReadExactError::FinishedEarly(100))
    );
}

/// The tokio traits: `AsyncWrite` with `shutdown` as finish, `AsyncRead` to
/// the end of the stream.
#[tokio::test]
async fn async_read_and_write() {
    let pair = pair().await;
    let (mut send, mut recv) = pair.client_conn.open_bi().await.unwrap();
    let message = data(3, 50_000);
    AsyncWriteExt::write_all(&mut send, &message).await.unwrap();
    send.shutdown().await.unwrap();
    send.shutdown().await.unwrap();
    let (mut server_send, mut server_recv) = pair.server_conn.accept_bi().await.unwrap();
    let mut received = Vec::new();
    AsyncReadExt::read_to_end(&mut server_recv, &mut received)
        .await
        .unwrap();
    assert_eq!(received, message);
    server_send.write_all(b"reply").await.unwrap();
    server_send.shutdown().await.unwrap();
    let mut reply = String::new();
    recv.read_to_string(&mut reply).await.unwrap();
    assert_eq!(reply, "reply");
}

/// Reads and writes abandoned by `select!` lose nothing: each either
/// completed with a count or took nothing.
#[tokio::test]
async fn cancelled_reads_and_writes_lose_no_data() {
    // More than the stream's send buffer (1 MiB), so writes block.
    const LEN: usize = 3 << 20;
    let pair = pair().await;
    let message = data(4, LEN);
    let mut send = pair.client_conn.open_uni().await.unwrap();
    let to_send = message.clone();
    let writer = tokio::spawn(async move {
        let mut offset = 0;
        let mut cancelled = 0;
        for _ in 0..1_000_000 {
            if offset == LEN {
                break;
            }
            let end = (offset + 10_000).min(LEN);
            tokio::select! {
                written = send.write(&to_send[offset..end]) => offset += written.unwrap(),
                () = tokio::task::yield_now() => cancelled += 1,
            }
        }
        assert_eq!(offset, LEN);
        send.finish().unwrap();
        cancelled
    });
    let mut recv = pair.server_conn.accept_uni().await.unwrap();
    let mut received = Vec::with_capacity(LEN);
    let mut buf = vec![0; 7_000];
    let mut cancelled_reads = 0;
    for _ in 0..1_000_000 {
        tokio::select! {
            read = recv.read(&mut buf) => match read.unwrap() {
                Some(n) => received.extend_from_slice(&buf[..n]),
                None => break,
            },
            () = tokio::task::yield_now() => cancelled_reads += 1,
        }
    }
    assert_eq!(received.len(), LEN);
    assert!(received == message, "data corrupted");
    let cancelled_writes = writer.await.unwrap();
    assert!(
        cancelled_writes > 0 && cancelled_reads > 0,
        "nothing was cancelled: {cancelled_writes} writes, {cancelled_reads} reads"
    );
}

/// A stream limit of 1: the second `open_uni` waits until the peer has
/// read the first stream to its end and granted credit for another.
#[tokio::test(start_paused = true)]
async fn open_waits_for_stream_credit() {
    let transport = TransportConfig {
        max_concurrent_uni_streams: VarInt::from_u32(1),
        ..TransportConfig::default()
    };
    let pair = pair_with(transport).await;
    let mut first = pair.client_conn.open_uni().await.unwrap();
    first.write_all(b"one").await.unwrap();
    first.finish().unwrap();
    let second = pair.client_conn.open_uni();
    tokio::pin!(second);
    // On the paused clock the timeout only fires once every task and the
    // sockets are idle: the peer has had every chance to grant credit.
    assert!(
        tokio::time::timeout(Duration::from_secs(1), &mut second)
            .await
            .is_err(),
        "opened beyond the peer's limit"
    );
    let mut recv = pair.server_conn.accept_uni().await.unwrap();
    assert_eq!(recv.read_to_end(10).await.unwrap(), b"one");
    let mut second = second.await.expect("credit arrives");
    second.write_all(b"two").await.unwrap();
    second.finish().unwrap();
    let mut recv = pair.server_conn.accept_uni().await.unwrap();
    assert_eq!(recv.read_to_end(10).await.unwrap(), b"two");
}

/// Stream handles keep the connection open after the `Connection` handles
/// are gone; the last of them closes it.
#[tokio::test]
async fn streams_keep_the_connection_open() {
    let pair = pair().await;
    let (mut send, recv) = pair.client_conn.open_bi().await.unwrap();
    drop(pair.client_conn);
    send.write_all(b"still open").await.unwrap();
    send.finish().unwrap();
    let (_server_send, mut server_recv) = pair.server_conn.accept_bi().await.unwrap();
    assert_eq!(server_recv.read_to_end(100).await.unwrap(), b"still open");
    assert_eq!(send.stopped().await, Ok(None));
    drop((send, recv));
    assert!(matches!(
        pair.server_conn.closed().await,
        quic::ConnectionError::ApplicationClosed(_)
    ));
}

/// A STOP_SENDING that arrives before the application accepted the stream
/// is still reported by `stopped` and by writes.
#[tokio::test]
async fn stop_before_accept_is_reported() {
    let pair = pair().await;
    let (mut send, mut recv) = pair.client_conn.open_bi().await.unwrap();
    send.write_all(b"request").await.unwrap();
    send.finish().unwrap();
    // The server's send half is stopped before the server accepts it.
    recv.stop(VarInt::from_u32(5)).unwrap();
    let (mut server_send, mut server_recv) = pair.server_conn.accept_bi().await.unwrap();
    assert_eq!(server_recv.read_to_end(100).await.unwrap(), b"request");
    assert_eq!(server_send.stopped().await, Ok(Some(VarInt::from_u32(5))));
    assert_eq!(
        server_send.write(b"reply").await,
        Err(WriteError::Stopped(VarInt::from_u32(5)))
    );
}
