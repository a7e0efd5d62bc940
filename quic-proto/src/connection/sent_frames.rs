//! What one sent packet carried, recorded compactly so that its loss can be
//! repaired and its acknowledgment can free buffers (RFC 9000 §13.3), and the
//! sink through which loss recovery reports those outcomes.

use super::cids::RemoteCids;
use super::key_update::OneRttKeys;
use super::recovery::AckSink;
use super::spaces::PacketSpace;
use super::streams::{Streams, StreamsSent};
use crate::shared::SpaceId;

/// The retransmittable content of one packet.
#[derive(Debug, Default)]
pub(crate) struct SentFrames {
    /// The largest packet number our ACK frame in this packet acknowledged:
    /// once this packet is acknowledged, the peer has seen that ACK
    /// (RFC 9000 §13.2.4).
    pub(crate) largest_acked_in_ack: Option<u64>,
    /// The CRYPTO data range sent.
    pub(crate) crypto: Option<(u64, u64)>,
    /// HANDSHAKE_DONE (RFC 9000 §19.20).
    pub(crate) handshake_done: bool,
    /// NEW_CONNECTION_ID sequence numbers.
    pub(crate) new_cids: Vec<u64>,
    /// RETIRE_CONNECTION_ID sequence numbers.
    pub(crate) retire_cids: Vec<u64>,
    /// Stream frames and stream-related control frames.
    pub(crate) streams: StreamsSent,
}

/// Routes acknowledgments and losses to the components that sent the frames.
pub(super) struct Sink<'a> {
    pub(super) spaces: &'a mut [PacketSpace; 3],
    pub(super) streams: &'a mut Streams,
    pub(super) remote_cids: &'a mut RemoteCids,
    pub(super) one_rtt: Option<&'a mut OneRttKeys>,
    pub(super) handshake_done_pending: &'a mut bool,
    pub(super) new_cids_pending: &'a mut Vec<u64>,
    pub(super) packets_lost: &'a mut u64,
}

impl AckSink<SentFrames> for Sink<'_> {
    fn on_acked(&mut self, space: SpaceId, pn: u64, info: SentFrames) {
        let state = &mut self.spaces[space as usize];
        if let Some(largest) = info.largest_acked_in_ack {
            state.received.on_ack_of_ack(largest);
        }
        if let Some((offset, len)) = info.crypto {
            state.crypto.on_acked(offset, len);
        }
        if space == SpaceId::Data {
            if let Some(keys) = self.one_rtt.as_deref_mut() {
                keys.on_ack(pn);
            }
        }
        for seq in info.retire_cids {
            self.remote_cids.on_retire_acked(seq);
        }
        self.streams.on_packet_acked(info.streams);
    }

    fn on_lost(&mut self, space: SpaceId, _pn: u64, info: SentFrames) {
        *self.packets_lost += 1;
        if let Some((offset, len)) = info.crypto {
            self.spaces[space as usize].crypto.on_lost(offset, len);
        }
        if info.handshake_done {
            *self.handshake_done_pending = true;
        }
        // A lost NEW_CONNECTION_ID is sent again unless that CID was retired
        // meanwhile (the send path asks `LocalCids` for the frame).
        self.new_cids_pending.extend(info.new_cids);
        for seq in info.retire_cids {
            self.remote_cids.on_retire_lost(seq);
        }
        self.streams.on_packet_lost(info.streams);
    }
}

impl super::Connection {
    /// Loss recovery beside the sink that routes its findings to the other
    /// components: two disjoint borrows of the connection.
    pub(super) fn recovery_and_sink(
        &mut self,
    ) -> (&mut super::recovery::Recovery<SentFrames>, Sink<'_>) {
        let sink = Sink {
            spaces: &mut self.spaces,
            streams: &mut self.streams,
            remote_cids: &mut self.remote_cids,
            one_rtt: self.one_rtt.as_mut(),
            handshake_done_pending: &mut self.handshake.done_pending,
            new_cids_pending: &mut self.new_cids_pending,
            packets_lost: &mut self.stats.packets_lost,
        };
        (&mut self.recovery, sink)
    }
}
