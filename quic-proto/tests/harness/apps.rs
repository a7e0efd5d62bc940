//! Applications for test connections.

use std::any::Any;
use std::collections::{BTreeMap, VecDeque};
use std::time::Instant;

use bytes::Bytes;
use quic_proto::connection::{Connection, Event, ReadError};
use quic_proto::{Dir, StreamId};
use ring::digest::{Context, Digest, SHA256};

use super::App;

/// Does nothing.
pub struct Idle;

impl App for Idle {
    fn on_event(&mut self, _: &mut Connection, _: Instant, _: &Event) {}
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// An [`Idle`] app, boxed.
pub fn idle() -> Box<dyn App> {
    Box::new(Idle)
}

/// Deterministic stream contents: `len` bytes for stream number `index`.
pub fn stream_data(seed: u64, index: u64, len: usize) -> Bytes {
    let mut state = seed ^ index.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0x5555;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        out.extend_from_slice(&state.to_le_bytes());
    }
    out.truncate(len);
    Bytes::from(out)
}

/// A finished incoming stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub len: u64,
    pub sha256: Vec<u8>,
}

fn digest(data: &[u8]) -> Vec<u8> {
    ring::digest::digest(&SHA256, data).as_ref().to_vec()
}

/// Sends a list of streams and receives (and hashes) whatever the peer
/// sends; on bidirectional streams opened by the peer it echoes.
pub struct Transfer {
    /// Streams still to open: (direction, contents).
    to_open: VecDeque<(Dir, Bytes)>,
    /// Streams being written: what remains.
    writing: BTreeMap<StreamId, Bytes>,
    /// The SHA-256 of every stream we sent, by ID.
    pub sent: BTreeMap<StreamId, Received>,
    /// Incoming streams in progress.
    reading: BTreeMap<StreamId, (u64, Context)>,
    /// Finished streams the peer opened.
    pub received: BTreeMap<StreamId, Received>,
    /// What came back on the bidirectional streams we opened.
    pub echoed: BTreeMap<StreamId, Received>,
    /// Echo peer-opened bidirectional streams back.
    pub echo: bool,
    /// Echo data waiting for flow control.
    echoing: BTreeMap<StreamId, (VecDeque<Bytes>, bool)>,
    /// Streams of ours that the peer acknowledged completely.
    pub finished: usize,
    /// Streams the peer reset.
    pub resets: usize,
    /// Unexpected read errors.
    pub read_errors: Vec<(StreamId, ReadError)>,
}

impl Transfer {
    pub fn new(streams: Vec<(Dir, Bytes)>) -> Self {
        Self {
            to_open: streams.into(),
            writing: BTreeMap::new(),
            sent: BTreeMap::new(),
            reading: BTreeMap::new(),
            received: BTreeMap::new(),
            echoed: BTreeMap::new(),
            echo: false,
            echoing: BTreeMap::new(),
            finished: 0,
            resets: 0,
            read_errors: Vec::new(),
        }
    }

    /// A receiver that sends nothing.
    pub fn sink() -> Self {
        Self::new(Vec::new())
    }

    /// An echo server.
    pub fn echo() -> Self {
        let mut app = Self::sink();
        app.echo = true;
        app
    }

    /// Whether everything was opened and written.
    pub fn done_sending(&self) -> bool {
        self.to_open.is_empty() && self.writing.is_empty()
    }

    fn open_and_write(&mut self, conn: &mut Connection) {
        while let Some((dir, _)) = self.to_open.front() {
            let Some(id) = conn.open(*dir) else { break };
            let (_, data) = self.to_open.pop_front().expect("front");
            self.sent.insert(
                id,
                Received {
                    len: data.len() as u64,
                    sha256: digest(&data),
                },
            );
            self.writing.insert(id, data);
        }
        let ids: Vec<StreamId> = self.writing.keys().copied().collect();
        for id in ids {
            let data = self.writing.get_mut(&id).expect("writing");
            while !data.is_empty() {
                match conn.write(id, data.clone()) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        let _ = data.split_to(n);
                    }
                }
            }
            if data.is_empty() && conn.finish(id).is_ok() {
                self.writing.remove(&id);
            }
        }
    }

    fn read(&mut self, conn: &mut Connection, id: StreamId) {
        loop {
            match conn.read(id, usize::MAX) {
                Ok(Some(chunk)) => {
                    let entry = self
                        .reading
                        .entry(id)
                        .or_insert_with(|| (0, Context::new(&SHA256)));
                    entry.0 += chunk.len() as u64;
                    entry.1.update(&chunk);
                    if self.echo && id.dir() == Dir::Bi {
                        self.echoing.entry(id).or_default().0.push_back(chunk);
                    }
                }
                Ok(None) => {
                    let (len, ctx) = self
                        .reading
                        .remove(&id)
                        .unwrap_or((0, Context::new(&SHA256)));
                    let sha: Digest = ctx.finish();
                    let done = Received {
                        len,
                        sha256: sha.as_ref().to_vec(),
                    };
                    if self.sent.contains_key(&id) {
                        // The peer's half of a stream we opened: its echo.
                        self.echoed.insert(id, done);
                    } else {
                        self.received.insert(id, done);
                    }
                    if self.echo && id.dir() == Dir::Bi {
                        self.echoing.entry(id).or_default().1 = true;
                    }
                    return;
                }
                Err(ReadError::Blocked) => return,
                Err(ReadError::Reset(_)) => {
                    self.resets += 1;
                    return;
                }
                Err(ReadError::ClosedStream)
                    if self.received.contains_key(&id) || self.echoed.contains_key(&id) =>
                {
                    // A `StreamReadable` queued before an earlier read
                    // reached the end: nothing more to read.
                    return;
                }
                Err(e) => {
                    self.read_errors.push((id, e));
                    return;
                }
            }
        }
    }

    fn flush_echo(&mut self, conn: &mut Connection) {
        let ids: Vec<StreamId> = self.echoing.keys().copied().collect();
        for id in ids {
            let (chunks, fin) = self.echoing.get_mut(&id).expect("echoing");
            while let Some(chunk) = chunks.front_mut() {
                match conn.write(id, chunk.clone()) {
                    Ok(n) if n == chunk.len() => {
                        chunks.pop_front();
                    }
                    Ok(n) => {
                        let _ = chunk.split_to(n);
                        break;
                    }
                    Err(_) => break,
                }
            }
            if chunks.is_empty() && *fin && conn.finish(id).is_ok() {
                self.echoing.remove(&id);
            }
        }
    }
}

impl App for Transfer {
    fn on_event(&mut self, conn: &mut Connection, _: Instant, event: &Event) {
        match event {
            Event::StreamOpened { dir } => {
                while let Some(id) = conn.accept(*dir) {
                    if *dir == Dir::Bi && !self.echo {
                        // Nothing to say back: close our half so the stream
                        // can end and its credit return (RFC 9000 §4.6).
                        let _ = conn.finish(id);
                    }
                    self.read(conn, id);
                }
            }
            Event::StreamReadable { id } => self.read(conn, *id),
            Event::StreamFinished { .. } => self.finished += 1,
            _ => {}
        }
    }

    fn poll(&mut self, conn: &mut Connection, _: Instant) {
        if conn.is_handshaking() || conn.is_closed() {
            return;
        }
        self.open_and_write(conn);
        self.flush_echo(conn);
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
