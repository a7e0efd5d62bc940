//! The perf protocol, one request per bidirectional stream: the client
//! sends the size of the response it wants as an 8-byte big-endian integer,
//! then its upload, and finishes; the server reads the stream to its end,
//! then sends that many bytes and finishes.

use bytes::Bytes;
use quic::{RecvStream, SendStream};

use super::tls::Error;

/// The ALPN protocol of `perf_server` and `perf_client`.
pub const ALPN: &[u8] = b"perf";

/// The most bytes read or written at once.
const CHUNK: usize = 64 * 1024;

/// What is sent: zeroes, from one static buffer, never copied.
static ZEROS: [u8; CHUNK] = [0; CHUNK];

/// Writes `count` bytes (zeroes) to `send`.
pub async fn send_bytes(send: &mut SendStream, count: u64) -> Result<(), Error> {
    let mut left = count;
    while left > 0 {
        let len = left.min(CHUNK as u64) as usize;
        send.write_chunk(Bytes::from_static(&ZEROS[..len])).await?;
        left -= len as u64;
    }
    Ok(())
}

/// Reads `recv` to its end, keeping nothing; returns how many bytes came.
pub async fn drain(recv: &mut RecvStream) -> Result<u64, Error> {
    let mut total = 0u64;
    while let Some(chunk) = recv.read_chunk(CHUNK).await? {
        total += chunk.len() as u64;
    }
    Ok(total)
}

/// Sends one request: the response size wanted, then `upload` bytes, then
/// the end of the stream.
pub async fn send_request(send: &mut SendStream, response: u64, upload: u64) -> Result<(), Error> {
    send.write_all(&response.to_be_bytes()).await?;
    send_bytes(send, upload).await?;
    send.finish()?;
    Ok(())
}
