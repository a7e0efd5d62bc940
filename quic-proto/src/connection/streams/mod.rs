//! Streams (RFC 9000 §2, §3, §4): opening and accepting streams, sending and
//! receiving their data, flow control, stream limits, and the stream-related
//! frames.
//!
//! The connection owns one [`Streams`] and drives it with plain calls, like
//! the rest of quic-proto (no I/O, no clock):
//!
//! - **Setup.** [`Streams::new`] takes our limits ([`StreamsConfig`]);
//!   [`Streams::write_local_limits`] fills our transport parameters with them,
//!   and [`Streams::set_peer_limits`] applies the peer's (RFC 9000 §7.4,
//!   §18.2).
//! - **Application.** [`open`](Streams::open), [`accept`](Streams::accept),
//!   [`write`](Streams::write), [`finish`](Streams::finish),
//!   [`reset`](Streams::reset), [`read`](Streams::read),
//!   [`stop`](Streams::stop), [`set_priority`](Streams::set_priority), each
//!   with its own error type. Writes keep the application's `Bytes`; reads
//!   return slices of the received datagrams.
//! - **Frames received.** `received_*` take the decoded frames and return the
//!   RFC's [`TransportError`](crate::TransportError) when the peer broke a rule.
//!   [`received_stream`](Streams::received_stream) may also refuse a frame
//!   without changing anything (see [`StreamFrameOutcome::Refused`]).
//! - **Frames to send.** [`write_control_frames`](Streams::write_control_frames)
//!   and [`write_stream_frames`](Streams::write_stream_frames) append frames
//!   to a packet and record them in a [`StreamsSent`], which comes back
//!   through [`on_packet_acked`](Streams::on_packet_acked) or
//!   [`on_packet_lost`](Streams::on_packet_lost).
//! - **Events.** [`poll_event`](Streams::poll_event) drains what the
//!   application should hear about.
//!
//! # Memory bounds (DESIGN.md rule 5)
//!
//! - Received bytes are bounded by our flow control windows (per stream and
//!   per connection), which grow only up to the configured maxima.
//! - Received chunks (each holds its datagram alive) are bounded by
//!   [`StreamsConfig::max_out_of_order_chunks`]: a STREAM frame that would
//!   need more is refused before anything changes, and the connection drops
//!   its packet unacknowledged. A frame that fills the gap at a stream's read
//!   offset is let through up to twice the bound, so a connection full of
//!   out-of-order data can always make progress.
//! - Peer-initiated streams are bounded by our MAX_STREAMS, whose credit
//!   comes back only when a stream is closed and forgotten.
//! - Sent data is bounded by [`StreamsConfig::send_buffer_limit`] per stream
//!   and by the peer's credit.
//! - Events are deduplicated (see [`StreamEvent`]).

mod app;
pub mod assembler;
mod control;
mod error;
mod events;
mod flow;
mod incoming;
mod limits;
mod recv;
mod scheduler;
mod send;
mod sent;
mod state;
mod transmit;

use std::collections::BTreeMap;

pub use self::error::{ClosedStream, FinishError, ReadError, StreamFrameOutcome, WriteError};
pub use self::events::StreamEvent;
pub use self::sent::{SentFrame, StreamsSent};
pub use self::state::{IllegalTransition, RecvState, SendState};

use self::control::PendingControl;
use self::events::EventQueue;
use self::flow::{ConnectionReceive, ReceiveWindow, SendCredit};
use self::limits::StreamLimits;
use self::recv::RecvStream;
use self::scheduler::Scheduler;
use self::send::SendStream;
use crate::coding::VarInt;
use crate::shared::{Dir, Side, StreamId};
use crate::transport_params::TransportParameters;

/// Our stream limits: what we let the peer do, and how much we buffer.
///
/// Every value is in bytes or streams and is clamped to 2^62 - 1 (2^60 for
/// stream counts).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamsConfig {
    /// How many bidirectional streams the peer may have open at once
    /// (`initial_max_streams_bidi`, then MAX_STREAMS as streams close).
    pub max_concurrent_bidi_streams: u64,
    /// How many unidirectional streams the peer may have open at once.
    pub max_concurrent_uni_streams: u64,
    /// Our receive window on bidirectional streams we open
    /// (`initial_max_stream_data_bidi_local`).
    pub stream_receive_window_bidi_local: u64,
    /// Our receive window on bidirectional streams the peer opens
    /// (`initial_max_stream_data_bidi_remote`).
    pub stream_receive_window_bidi_remote: u64,
    /// Our receive window on unidirectional streams the peer opens
    /// (`initial_max_stream_data_uni`).
    pub stream_receive_window_uni: u64,
    /// Our connection receive window (`initial_max_data`).
    pub connection_receive_window: u64,
    /// Whether receive windows double when the peer reports being blocked
    /// by them (RFC 9000 §4.2, §19.12), up to the two maxima below.
    pub auto_grow_windows: bool,
    /// The largest a stream receive window may grow to.
    pub max_stream_receive_window: u64,
    /// The largest the connection receive window may grow to.
    pub max_connection_receive_window: u64,
    /// The most bytes a stream buffers for sending (written and not yet
    /// acknowledged).
    pub send_buffer_limit: u64,
    /// The most received chunks buffered across the connection (see the
    /// module documentation); at least 1.
    pub max_out_of_order_chunks: usize,
}

impl Default for StreamsConfig {
    /// 100 concurrent streams of each direction, 256 KiB stream windows and
    /// a 1 MiB connection window (growing to 4 MiB and 16 MiB), a 1 MiB
    /// send buffer per stream, and 4096 received chunks.
    fn default() -> Self {
        Self {
            max_concurrent_bidi_streams: 100,
            max_concurrent_uni_streams: 100,
            stream_receive_window_bidi_local: 256 * 1024,
            stream_receive_window_bidi_remote: 256 * 1024,
            stream_receive_window_uni: 256 * 1024,
            connection_receive_window: 1024 * 1024,
            auto_grow_windows: true,
            max_stream_receive_window: 4 * 1024 * 1024,
            max_connection_receive_window: 16 * 1024 * 1024,
            send_buffer_limit: 1024 * 1024,
            max_out_of_order_chunks: 4096,
        }
    }
}

/// The peer's initial per-stream credit for the streams we send on
/// (RFC 9000 §18.2, from the peer's point of view).
#[derive(Debug, Clone, Copy, Default)]
struct PeerStreamCredit {
    /// For bidirectional streams the peer opens (its `bidi_local`).
    remote_bidi: u64,
    /// For bidirectional streams we open (its `bidi_remote`).
    local_bidi: u64,
    /// For unidirectional streams we open (its `uni`).
    local_uni: u64,
}

/// All streams of one connection, with connection-level flow control and
/// stream limits (RFC 9000 §2 to §4).
#[derive(Debug)]
pub struct Streams {
    side: Side,
    config: StreamsConfig,
    /// Sending parts by stream ID. A `BTreeMap`: deterministic and free of
    /// hashing seeds (DESIGN.md rule 1).
    send: BTreeMap<StreamId, SendStream>,
    /// Receiving parts by stream ID.
    recv: BTreeMap<StreamId, RecvStream>,
    limits: StreamLimits,
    peer_credit: PeerStreamCredit,
    /// Connection-level credit the peer gave us.
    send_credit: SendCredit,
    /// Connection-level receive accounting and our MAX_DATA.
    receive: ConnectionReceive,
    pending: PendingControl,
    /// Streams with lost data or a lost FIN, sent before new data.
    retransmit_queue: Scheduler,
    /// Streams with new data (or a first FIN) to send.
    send_queue: Scheduler,
    /// Streams whose writes wait for MAX_DATA.
    conn_blocked: Vec<StreamId>,
    events: EventQueue,
    /// Chunks buffered in all assemblers.
    chunks: usize,
}

impl Streams {
    /// Streams for the `side` end of a connection, with our limits.
    pub fn new(side: Side, config: StreamsConfig) -> Self {
        let max = VarInt::MAX.into_inner();
        let mut config = config;
        config.max_out_of_order_chunks = config.max_out_of_order_chunks.max(1);
        for value in [
            &mut config.stream_receive_window_bidi_local,
            &mut config.stream_receive_window_bidi_remote,
            &mut config.stream_receive_window_uni,
            &mut config.connection_receive_window,
            &mut config.max_stream_receive_window,
            &mut config.max_connection_receive_window,
        ] {
            *value = (*value).min(max);
        }
        let connection_window = ReceiveWindow::new(
            config.connection_receive_window,
            Self::max_window(&config, config.max_connection_receive_window),
        );
        Self {
            side,
            limits: StreamLimits::new(
                side,
                [
                    config.max_concurrent_bidi_streams,
                    config.max_concurrent_uni_streams,
                ],
            ),
            config,
            send: BTreeMap::new(),
            recv: BTreeMap::new(),
            peer_credit: PeerStreamCredit::default(),
            send_credit: SendCredit::default(),
            receive: ConnectionReceive::new(connection_window),
            pending: PendingControl::default(),
            retransmit_queue: Scheduler::default(),
            send_queue: Scheduler::default(),
            conn_blocked: Vec::new(),
            events: EventQueue::default(),
            chunks: 0,
        }
    }

    fn max_window(config: &StreamsConfig, max: u64) -> u64 {
        if config.auto_grow_windows { max } else { 0 }
    }

    /// Our limits, as given to [`Streams::new`] (clamped).
    pub fn config(&self) -> &StreamsConfig {
        &self.config
    }

    /// Which end of the connection we are.
    pub fn side(&self) -> Side {
        self.side
    }

    /// Writes our limits into our transport parameters (RFC 9000 §18.2):
    /// `initial_max_data`, the three `initial_max_stream_data_*` and the two
    /// `initial_max_streams_*`. Call before the first stream is opened.
    pub fn write_local_limits(&self, params: &mut TransportParameters) {
        let var = VarInt::saturating_from_u64;
        let c = &self.config;
        params.initial_max_data = var(c.connection_receive_window);
        params.initial_max_stream_data_bidi_local = var(c.stream_receive_window_bidi_local);
        params.initial_max_stream_data_bidi_remote = var(c.stream_receive_window_bidi_remote);
        params.initial_max_stream_data_uni = var(c.stream_receive_window_uni);
        params.initial_max_streams_bidi = var(self.limits.local_max(Dir::Bi));
        params.initial_max_streams_uni = var(self.limits.local_max(Dir::Uni));
    }

    /// Applies the peer's transport parameters (RFC 9000 §7.4, §18.2).
    ///
    /// The peer's `initial_max_stream_data_bidi_local` is its window on the
    /// bidirectional streams *it* opens, `..._bidi_remote` on those *we* open.
    /// Limits only grow: streams opened earlier (0-RTT with remembered
    /// parameters) keep the larger credit. An `open` refused before may now
    /// succeed, reported as [`StreamEvent::Available`].
    pub fn set_peer_limits(&mut self, params: &TransportParameters) {
        self.peer_credit = PeerStreamCredit {
            remote_bidi: params.initial_max_stream_data_bidi_local.into_inner(),
            local_bidi: params.initial_max_stream_data_bidi_remote.into_inner(),
            local_uni: params.initial_max_stream_data_uni.into_inner(),
        };
        self.on_max_data(params.initial_max_data.into_inner());
        for (dir, count) in [
            (Dir::Bi, params.initial_max_streams_bidi),
            (Dir::Uni, params.initial_max_streams_uni),
        ] {
            self.on_max_streams(dir, count.into_inner());
        }
        let ids: Vec<StreamId> = self.send.keys().copied().collect();
        for id in ids {
            let credit = self.peer_initial_credit(id);
            self.on_max_stream_data(id, credit);
        }
    }

    /// The peer's initial credit for our sending part of `id`.
    fn peer_initial_credit(&self, id: StreamId) -> u64 {
        match (id.dir(), self.limits.is_local(id)) {
            (Dir::Bi, true) => self.peer_credit.local_bidi,
            (Dir::Bi, false) => self.peer_credit.remote_bidi,
            (Dir::Uni, _) => self.peer_credit.local_uni,
        }
    }

    /// A fresh receiving part for `id` with our window for its kind.
    fn new_recv_stream(&self, id: StreamId) -> RecvStream {
        let c = &self.config;
        let window = match (id.dir(), self.limits.is_local(id)) {
            (Dir::Bi, true) => c.stream_receive_window_bidi_local,
            (Dir::Bi, false) => c.stream_receive_window_bidi_remote,
            (Dir::Uni, _) => c.stream_receive_window_uni,
        };
        let max = Self::max_window(c, c.max_stream_receive_window);
        RecvStream::new(ReceiveWindow::new(window, max))
    }

    /// Creates the parts of a newly opened stream: a sending part unless it
    /// is the peer's unidirectional stream, a receiving part unless it is
    /// ours.
    fn create_stream(&mut self, id: StreamId) {
        let local = self.limits.is_local(id);
        if id.dir() == Dir::Bi || local {
            let credit = self.peer_initial_credit(id);
            self.send.insert(id, SendStream::new(credit));
        }
        if id.dir() == Dir::Bi || !local {
            let recv = self.new_recv_stream(id);
            self.recv.insert(id, recv);
        }
    }

    /// Opens the peer's streams up to `id` (RFC 9000 §3.2: lower-numbered
    /// streams of the same type open first) and reports them.
    fn open_remote(&mut self, id: StreamId) {
        let opened = self.limits.open_remote(id);
        if opened.is_empty() {
            return;
        }
        for index in opened {
            self.create_stream(StreamId::new(id.initiator(), id.dir(), index));
        }
        self.events.push(StreamEvent::Opened { dir: id.dir() });
    }

    /// Forgets the parts of `id` that are done; gives MAX_STREAMS credit
    /// back when a peer stream is fully closed (RFC 9000 §4.6).
    fn maybe_free(&mut self, id: StreamId) {
        let mut removed = false;
        if self.send.get(&id).is_some_and(|s| s.state.is_terminal()) {
            self.send.remove(&id);
            removed = true;
        }
        if self.recv.get(&id).is_some_and(RecvStream::is_done) {
            if let Some(recv) = self.recv.remove(&id) {
                self.chunks = self.chunks.saturating_sub(recv.assembler.chunk_count());
            }
            removed = true;
        }
        let gone = !self.send.contains_key(&id) && !self.recv.contains_key(&id);
        if removed && gone && !self.limits.is_local(id) && self.limits.on_remote_closed(id.dir()) {
            self.pending.max_streams[id.dir() as usize] = true;
        }
    }

    /// The next event for the application, oldest first.
    pub fn poll_event(&mut self) -> Option<StreamEvent> {
        let event = self.events.pop()?;
        if let StreamEvent::Readable { id } = event {
            if let Some(recv) = self.recv.get_mut(&id) {
                recv.readable_queued = false;
            }
        }
        Some(event)
    }

    /// Queues `Readable` for `id` unless already queued.
    fn notify_readable(&mut self, id: StreamId) {
        if let Some(recv) = self.recv.get_mut(&id) {
            if !recv.readable_queued && recv.is_readable() {
                recv.readable_queued = true;
                self.events.push(StreamEvent::Readable { id });
            }
        }
    }

    /// Queues `Writable` for `id` if a write was waiting and room appeared.
    /// A stream with room of its own but no connection credit waits for
    /// MAX_DATA instead.
    fn notify_writable(&mut self, id: StreamId) {
        let limit = self.config.send_buffer_limit;
        let Some(send) = self.send.get_mut(&id) else {
            return;
        };
        if !send.writable_wanted || send.room(limit) == 0 {
            return;
        }
        if self.send_credit.available() == 0 {
            if !send.conn_blocked {
                send.conn_blocked = true;
                self.conn_blocked.push(id);
            }
            return;
        }
        send.writable_wanted = false;
        self.events.push(StreamEvent::Writable { id });
    }

    /// The number of events waiting.
    pub fn pending_events(&self) -> usize {
        self.events.len()
    }

    /// The state of the sending part of `id`, if it has one still tracked.
    pub fn send_state(&self, id: StreamId) -> Option<SendState> {
        self.send.get(&id).map(|s| s.state)
    }

    /// The state of the receiving part of `id`, if it has one still tracked.
    pub fn recv_state(&self, id: StreamId) -> Option<RecvState> {
        self.recv.get(&id).map(|r| r.state)
    }

    /// Whether the sending part of `id` is done: every byte and the FIN
    /// acknowledged (Data Recvd), or closed and forgotten after Data Recvd
    /// or Reset Recvd.
    pub fn is_finished(&self, id: StreamId) -> bool {
        match self.send.get(&id) {
            Some(send) => send.state == SendState::DataRecvd,
            None => {
                let has_send_part = id.dir() == Dir::Bi || self.limits.is_local(id);
                has_send_part && self.limits.was_opened(id)
            }
        }
    }

    /// Bytes written to `id` and not yet acknowledged.
    pub fn send_buffered(&self, id: StreamId) -> Option<u64> {
        self.send.get(&id).map(|s| s.buffer.unacked())
    }

    /// Bytes received on `id` and not yet read.
    pub fn recv_buffered(&self, id: StreamId) -> Option<u64> {
        self.recv.get(&id).map(|r| r.assembler.buffered())
    }

    /// The number of received chunks buffered across all streams (bounded by
    /// [`StreamsConfig::max_out_of_order_chunks`]).
    pub fn buffered_chunks(&self) -> usize {
        self.chunks
    }

    /// The number of streams with a part still tracked.
    pub fn stream_count(&self) -> usize {
        let only_recv = self.recv.keys().filter(|id| !self.send.contains_key(id));
        self.send.len() + only_recv.count()
    }

    /// Our current MAX_DATA (what the peer may send on the connection).
    pub fn local_max_data(&self) -> u64 {
        self.receive.window.limit()
    }

    /// The peer's MAX_DATA (what we may send on the connection).
    pub fn peer_max_data(&self) -> u64 {
        self.send_credit.max_data
    }

    /// The stream data we have sent, summed over streams as the peer counts
    /// it against our MAX_DATA (RFC 9000 §4.1).
    pub fn data_sent(&self) -> u64 {
        self.send_credit.sent
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod transfer_tests;
