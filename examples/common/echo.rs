//! The echo protocol: the client opens bidirectional streams, writes a
//! deterministic pattern on each and finishes; the server writes back every
//! byte it reads and finishes when the client has; the client checks what
//! comes back byte for byte.
//!
//! Byte `i` of stream number `s` (counting the client's streams from 0) is
//! `(i * 31 + s) as u8`.

use std::time::Duration;

use bytes::Bytes;
use quic::{Connection, ConnectionError, RecvStream, SendStream};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::tls::Error;

/// The ALPN protocol of the echo examples, unless `--alpn` says otherwise.
pub const DEFAULT_ALPN: &str = "echo";

/// The most bytes read or written at once.
const CHUNK: usize = 64 * 1024;

/// The pattern repeats every 256 bytes.
const PERIOD: usize = 256;

/// Serves one connection: echoes every bidirectional stream, reads and
/// discards unidirectional ones, until the connection ends. Errors on a
/// stream are logged to stderr and end only that stream.
pub async fn serve(connection: Connection) -> Result<(), ConnectionError> {
    tokio::spawn(discard_uni(connection.clone()));
    loop {
        let (send, recv) = connection.accept_bi().await?;
        let connection = connection.clone();
        tokio::spawn(async move {
            let id = recv.id();
            if let Err(error) = echo_stream(send, recv).await {
                // If the whole connection failed, its own error is logged once.
                if connection.close_reason().is_none() {
                    eprintln!("{} stream {id}: {error}", connection.remote_address());
                }
            }
        });
    }
}

/// Writes back everything `recv` yields, then finishes `send`. The chunks
/// received are sent as they are, without copying.
async fn echo_stream(mut send: SendStream, mut recv: RecvStream) -> Result<(), Error> {
    while let Some(chunk) = recv.read_chunk(CHUNK).await? {
        send.write_chunk(chunk).await?;
    }
    send.finish()?;
    Ok(())
}

/// Reads every unidirectional stream the peer opens to its end, keeping
/// nothing.
async fn discard_uni(connection: Connection) {
    while let Ok(mut recv) = connection.accept_uni().await {
        tokio::spawn(async move { while let Ok(Some(_)) = recv.read_chunk(CHUNK).await {} });
    }
}

/// Echoes `bytes` bytes on each of `streams` concurrent streams and checks
/// the answers; returns how long it took.
pub async fn run(connection: &Connection, streams: u64, bytes: u64) -> Result<Duration, Error> {
    let start = Instant::now();
    let mut tasks = JoinSet::new();
    for index in 0..streams {
        let connection = connection.clone();
        tasks.spawn(async move {
            echo_one(&connection, index, bytes)
                .await
                .map_err(|e| format!("stream {index}: {e}"))
        });
    }
    while let Some(result) = tasks.join_next().await {
        result??;
    }
    Ok(start.elapsed())
}

/// One stream: writes the pattern in a task of its own while reading the
/// echo, so that neither side waits on the other's flow control.
async fn echo_one(connection: &Connection, index: u64, bytes: u64) -> Result<(), Error> {
    let (mut send, mut recv) = connection.open_bi().await?;
    let block = pattern_block(index);
    let writer = tokio::spawn({
        let block = block.clone();
        async move {
            let mut left = bytes;
            while left > 0 {
                let len = left.min(CHUNK as u64) as usize;
                send.write_chunk(block.slice(..len)).await?;
                left -= len as u64;
            }
            send.finish()?;
            Ok::<_, Error>(())
        }
    });
    if let Err(error) = check_echo(&mut recv, &block, bytes).await {
        writer.abort();
        return Err(error);
    }
    writer.await?
}

/// Reads the echo to its end, comparing it with the pattern.
async fn check_echo(recv: &mut RecvStream, block: &Bytes, bytes: u64) -> Result<(), Error> {
    let mut offset = 0u64;
    while let Some(chunk) = recv.read_chunk(CHUNK).await? {
        let end = offset + chunk.len() as u64;
        if end > bytes {
            return Err(format!("echo longer than the {bytes} bytes sent").into());
        }
        let start = (offset % PERIOD as u64) as usize;
        if chunk[..] != block[start..start + chunk.len()] {
            let at = chunk
                .iter()
                .zip(&block[start..])
                .position(|(a, b)| a != b)
                .unwrap_or(0);
            return Err(format!("echo differs at byte {}", offset + at as u64).into());
        }
        offset = end;
    }
    if offset != bytes {
        return Err(format!("echo ended after {offset} of {bytes} bytes").into());
    }
    Ok(())
}

/// The pattern of stream `index` from offset 0, one chunk plus one period
/// long, so that a chunk starting at any offset is a slice of it.
fn pattern_block(index: u64) -> Bytes {
    (0..CHUNK + PERIOD)
        .map(|i| (i as u64).wrapping_mul(31).wrapping_add(index) as u8)
        .collect::<Vec<u8>>()
        .into()
}
