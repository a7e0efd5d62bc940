//! STREAM frames for the packet builder: retransmissions first, then new
//! data, by priority and round-robin (RFC 9000 §2.3, §13.3); and what
//! happens when the packets carrying them are acknowledged or lost.

use std::ops::Range;

use super::sent::{SentFrame, StreamsSent};
use super::{StreamEvent, Streams};
use crate::shared::StreamId;

impl Streams {
    /// Whether there is anything to send: control frames, lost data, or new
    /// data (always within the peer's credit, which writes reserve).
    ///
    /// May be `true` once spuriously after a stream was reset or stopped
    /// while queued; the writers then produce nothing for it.
    pub fn wants_to_send(&self) -> bool {
        self.has_pending_control()
            || !self.retransmit_queue.is_empty()
            || !self.send_queue.is_empty()
    }

    /// Appends STREAM frames to `out`, at most `budget` bytes in all, and
    /// records them in `sent`. Returns the number of bytes written.
    ///
    /// Lost ranges (and lost FINs) go first, then new data. Within each, the
    /// highest priority goes first, and streams of equal priority take turns:
    /// each gets one frame (as large as fits) before going to the back of
    /// the line, and a stream whose frame did not fit keeps its turn for the
    /// next packet. Every frame has a Length field, so more frames may follow
    /// in the packet. New data never goes beyond the peer's MAX_STREAM_DATA or
    /// MAX_DATA (RFC 9000 §4.1), and nothing is sent on a reset stream.
    pub fn write_stream_frames(
        &mut self,
        out: &mut Vec<u8>,
        budget: usize,
        sent: &mut StreamsSent,
    ) -> usize {
        let start = out.len();
        let limit = start.saturating_add(budget);
        self.write_pass(true, out, limit, sent);
        self.write_pass(false, out, limit, sent);
        out.len() - start
    }

    fn write_pass(
        &mut self,
        retransmit: bool,
        out: &mut Vec<u8>,
        limit: usize,
        sent: &mut StreamsSent,
    ) {
        while let Some(space) = limit.checked_sub(out.len()) {
            let queue = if retransmit {
                &mut self.retransmit_queue
            } else {
                &mut self.send_queue
            };
            let Some(id) = queue.pop() else {
                return;
            };
            let Some(stream) = self.send.get_mut(&id) else {
                continue;
            };
            let sent_before = stream.buffer.sent();
            let frame = stream.write_frame(id, retransmit, space, out);
            let more = stream.next_range(retransmit).is_some();
            let priority = stream.priority;
            let flag = if retransmit {
                &mut stream.in_retransmit_queue
            } else {
                &mut stream.in_send_queue
            };
            *flag = more;
            let growth = stream.buffer.sent() - sent_before;
            self.send_credit.sent += growth;
            debug_assert!(self.send_credit.sent <= self.send_credit.max_data);
            let queue = if retransmit {
                &mut self.retransmit_queue
            } else {
                &mut self.send_queue
            };
            match frame {
                Some(frame) => {
                    sent.push(frame);
                    if more {
                        queue.push_back(id, priority);
                    }
                }
                None if more => {
                    // Not even one byte fits: keep the turn, stop the pass.
                    queue.push_front(id, priority);
                    return;
                }
                None => {}
            }
        }
    }

    /// Puts `id` in the queues it has work for.
    pub(super) fn schedule(&mut self, id: StreamId) {
        let Some(stream) = self.send.get_mut(&id) else {
            return;
        };
        if !stream.in_retransmit_queue && stream.next_range(true).is_some() {
            stream.in_retransmit_queue = true;
            self.retransmit_queue.push_back(id, stream.priority);
        }
        if !stream.in_send_queue && stream.next_range(false).is_some() {
            stream.in_send_queue = true;
            self.send_queue.push_back(id, stream.priority);
        }
    }

    /// Removes `id` from both send queues (after a reset, or to requeue it
    /// at a new priority).
    pub(super) fn unschedule(&mut self, id: StreamId) {
        if let Some(stream) = self.send.get_mut(&id) {
            if std::mem::take(&mut stream.in_retransmit_queue) {
                self.retransmit_queue.remove(id);
            }
            if std::mem::take(&mut stream.in_send_queue) {
                self.send_queue.remove(id);
            }
        }
    }

    /// The packet that carried `sent` was acknowledged.
    ///
    /// Acknowledged data is freed from the send buffers; a stream whose data
    /// and FIN are all acknowledged reaches Data Recvd (RFC 9000 §3.1) and
    /// reports [`StreamEvent::Finished`]; an acknowledged RESET_STREAM
    /// reaches Reset Recvd. Streams in a terminal state are forgotten.
    pub fn on_packet_acked(&mut self, sent: StreamsSent) {
        for &frame in sent.iter() {
            match frame {
                SentFrame::Stream {
                    id,
                    offset,
                    len,
                    fin,
                } => {
                    self.on_stream_acked(id, range(offset, len), fin);
                }
                SentFrame::ResetStream { id } => {
                    if let Some(send) = self.send.get_mut(&id) {
                        if send.state.on_reset_acked().is_ok() {
                            self.maybe_free(id);
                        }
                    }
                }
                _ => {}
            }
        }
    }

    fn on_stream_acked(&mut self, id: StreamId, range: Range<u64>, fin: bool) {
        let Some(send) = self.send.get_mut(&id) else {
            return;
        };
        if send.on_frame_acked(range, fin) {
            self.events.push(StreamEvent::Finished { id });
            self.maybe_free(id);
            return;
        }
        // A late acknowledgment may cancel the retransmission of a range
        // declared lost: keep `wants_to_send` exact.
        if send.in_retransmit_queue && send.next_range(true).is_none() {
            send.in_retransmit_queue = false;
            self.retransmit_queue.remove(id);
        }
        self.notify_writable(id);
    }

    /// The packet that carried `sent` was declared lost.
    ///
    /// Its STREAM ranges are queued for retransmission, less what was
    /// acknowledged since and nothing on a reset stream; its control frames
    /// are queued again if their value is still current (RFC 9000 §13.3).
    pub fn on_packet_lost(&mut self, sent: StreamsSent) {
        self.retransmit(&sent);
    }

    /// Queues what `sent` carried for sending again, exactly as if its packet
    /// were lost, but keeps nothing of `sent`: for a PTO probe that resends
    /// unacknowledged data (RFC 9002 §6.2.4). The packet's record still gets
    /// its [`on_packet_acked`](Self::on_packet_acked) or
    /// [`on_packet_lost`](Self::on_packet_lost) later; repeating is
    /// harmless, as acknowledged data is never sent again.
    pub fn retransmit(&mut self, sent: &StreamsSent) {
        for &frame in sent.iter() {
            match frame {
                SentFrame::Stream {
                    id,
                    offset,
                    len,
                    fin,
                } => {
                    if let Some(send) = self.send.get_mut(&id) {
                        send.on_frame_lost(range(offset, len), fin);
                        self.schedule(id);
                    }
                }
                control => self.on_control_lost(control),
            }
        }
    }
}

fn range(offset: u64, len: u32) -> Range<u64> {
    offset..offset.saturating_add(u64::from(len))
}
