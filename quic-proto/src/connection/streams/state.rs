//! The sending and receiving state machines of a stream, exactly as drawn in
//! RFC 9000 §3.1 and §3.2.
//!
//! Each transition is a method named after the event of the RFC's diagram.
//! An event the diagram does not allow in the current state returns
//! [`IllegalTransition`] and leaves the state unchanged; the stream code
//! checks what the peer sent before it drives these machines, so an illegal
//! transition there is a bug of ours, never of the peer's.

use std::fmt;

/// An event that the state diagram does not allow in the current state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IllegalTransition {
    /// The state the machine was in (its `Debug` name).
    pub state: &'static str,
    /// The event that was refused.
    pub event: &'static str,
}

impl fmt::Display for IllegalTransition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "event {} is not allowed in state {}",
            self.event, self.state
        )
    }
}

impl std::error::Error for IllegalTransition {}

/// The sending part of a stream (RFC 9000 §3.1, Figure 2).
///
/// ```text
///        o
///        | Create Stream (Sending)
///        | Peer Creates Bidirectional Stream
///        v
///    +-------+
///    | Ready | Send RESET_STREAM
///    |       |-----------------------.
///    +-------+                       |
///        |                           |
///        | Send STREAM /             |
///        |      STREAM_DATA_BLOCKED  |
///        v                           |
///    +-------+                       |
///    | Send  | Send RESET_STREAM     |
///    |       |---------------------->|
///    +-------+                       |
///        |                           |
///        | Send STREAM + FIN         |
///        v                           v
///    +-------+                   +-------+
///    | Data  | Send RESET_STREAM | Reset |
///    | Sent  |------------------>| Sent  |
///    +-------+                   +-------+
///        |                           |
///        | Recv All ACKs             | Recv ACK
///        v                           v
///    +-------+                   +-------+
///    | Data  |                   | Reset |
///    | Recvd |                   | Recvd |
///    +-------+                   +-------+
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendState {
    /// Created; data may be buffered but nothing has been sent.
    Ready,
    /// Sending (and retransmitting) data.
    Send,
    /// The FIN has been sent; only retransmissions remain.
    DataSent,
    /// Every byte and the FIN were acknowledged. Terminal.
    DataRecvd,
    /// RESET_STREAM was sent (or queued); no more data is sent.
    ResetSent,
    /// The RESET_STREAM was acknowledged. Terminal.
    ResetRecvd,
}

impl SendState {
    /// The name used in [`IllegalTransition`].
    fn name(self) -> &'static str {
        match self {
            Self::Ready => "Ready",
            Self::Send => "Send",
            Self::DataSent => "DataSent",
            Self::DataRecvd => "DataRecvd",
            Self::ResetSent => "ResetSent",
            Self::ResetRecvd => "ResetRecvd",
        }
    }

    fn go(
        &mut self,
        allowed: bool,
        next: Self,
        event: &'static str,
    ) -> Result<(), IllegalTransition> {
        if !allowed {
            return Err(IllegalTransition {
                state: self.name(),
                event,
            });
        }
        *self = next;
        Ok(())
    }

    /// "Send STREAM / STREAM_DATA_BLOCKED": Ready and Send go to Send; in
    /// Data Sent this is a retransmission and the state stays. Not allowed
    /// after a reset or in a terminal state (RFC 9000 §3.3).
    pub fn on_send_stream(&mut self) -> Result<(), IllegalTransition> {
        let next = if *self == Self::DataSent {
            Self::DataSent
        } else {
            Self::Send
        };
        let allowed = matches!(self, Self::Ready | Self::Send | Self::DataSent);
        self.go(allowed, next, "send STREAM")
    }

    /// "Send STREAM + FIN": from Ready (through Send, RFC 9000 §3 note) or
    /// Send to Data Sent.
    pub fn on_send_fin(&mut self) -> Result<(), IllegalTransition> {
        let allowed = matches!(self, Self::Ready | Self::Send);
        self.go(allowed, Self::DataSent, "send STREAM + FIN")
    }

    /// "Recv All ACKs": Data Sent to Data Recvd.
    pub fn on_all_acked(&mut self) -> Result<(), IllegalTransition> {
        let allowed = *self == Self::DataSent;
        self.go(allowed, Self::DataRecvd, "recv all ACKs")
    }

    /// "Send RESET_STREAM": from Ready, Send or Data Sent to Reset Sent.
    pub fn on_reset_sent(&mut self) -> Result<(), IllegalTransition> {
        let allowed = matches!(self, Self::Ready | Self::Send | Self::DataSent);
        self.go(allowed, Self::ResetSent, "send RESET_STREAM")
    }

    /// "Recv ACK" of the RESET_STREAM: Reset Sent to Reset Recvd.
    pub fn on_reset_acked(&mut self) -> Result<(), IllegalTransition> {
        let allowed = *self == Self::ResetSent;
        self.go(allowed, Self::ResetRecvd, "recv ACK of RESET_STREAM")
    }

    /// Whether this is a terminal state (Data Recvd or Reset Recvd).
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::DataRecvd | Self::ResetRecvd)
    }

    /// Whether a reset was sent (Reset Sent or Reset Recvd).
    pub fn is_reset(self) -> bool {
        matches!(self, Self::ResetSent | Self::ResetRecvd)
    }
}

/// The receiving part of a stream (RFC 9000 §3.2, Figure 3).
///
/// ```text
///        o
///        | Recv STREAM / STREAM_DATA_BLOCKED / RESET_STREAM
///        | Create Bidirectional Stream (Sending)
///        | Recv MAX_STREAM_DATA / STOP_SENDING (Bidirectional)
///        | Create Higher-Numbered Stream
///        v
///    +-------+
///    | Recv  | Recv RESET_STREAM
///    |       |-----------------------.
///    +-------+                       |
///        |                           |
///        | Recv STREAM + FIN         |
///        v                           |
///    +-------+                       |
///    | Size  | Recv RESET_STREAM     |
///    | Known |---------------------->|
///    +-------+                       |
///        |                           |
///        | Recv All Data             |
///        v                           v
///    +-------+ Recv RESET_STREAM +-------+
///    | Data  |--- (optional) --->| Reset |
///    | Recvd |  Recv All Data    | Recvd |
///    +-------+<-- (optional) ----+-------+
///        |                           |
///        | App Read All Data         | App Read Reset
///        v                           v
///    +-------+                   +-------+
///    | Data  |                   | Reset |
///    | Read  |                   | Read  |
///    +-------+                   +-------+
/// ```
///
/// Both optional transitions are legal here. The stream code takes neither:
/// a RESET_STREAM that arrives when all data is in is suppressed (the
/// application reads the data), and data arriving after a reset is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecvState {
    /// Receiving data; the final size is not known.
    Recv,
    /// The FIN arrived; the final size is known.
    SizeKnown,
    /// Every byte up to the final size arrived.
    DataRecvd,
    /// RESET_STREAM arrived.
    ResetRecvd,
    /// The application read everything, including the end. Terminal.
    DataRead,
    /// The application learned of the reset. Terminal.
    ResetRead,
}

impl RecvState {
    fn name(self) -> &'static str {
        match self {
            Self::Recv => "Recv",
            Self::SizeKnown => "SizeKnown",
            Self::DataRecvd => "DataRecvd",
            Self::ResetRecvd => "ResetRecvd",
            Self::DataRead => "DataRead",
            Self::ResetRead => "ResetRead",
        }
    }

    fn go(
        &mut self,
        allowed: bool,
        next: Self,
        event: &'static str,
    ) -> Result<(), IllegalTransition> {
        if !allowed {
            return Err(IllegalTransition {
                state: self.name(),
                event,
            });
        }
        *self = next;
        Ok(())
    }

    /// "Recv STREAM + FIN": Recv to Size Known.
    pub fn on_recv_fin(&mut self) -> Result<(), IllegalTransition> {
        let allowed = *self == Self::Recv;
        self.go(allowed, Self::SizeKnown, "recv STREAM + FIN")
    }

    /// "Recv All Data": Size Known to Data Recvd, or (optionally) Reset
    /// Recvd to Data Recvd.
    pub fn on_all_received(&mut self) -> Result<(), IllegalTransition> {
        let allowed = matches!(self, Self::SizeKnown | Self::ResetRecvd);
        self.go(allowed, Self::DataRecvd, "recv all data")
    }

    /// "Recv RESET_STREAM": Recv or Size Known to Reset Recvd, or
    /// (optionally) Data Recvd to Reset Recvd.
    pub fn on_reset_recvd(&mut self) -> Result<(), IllegalTransition> {
        let allowed = matches!(self, Self::Recv | Self::SizeKnown | Self::DataRecvd);
        self.go(allowed, Self::ResetRecvd, "recv RESET_STREAM")
    }

    /// "App Read All Data": Data Recvd to Data Read.
    pub fn on_app_read_all(&mut self) -> Result<(), IllegalTransition> {
        let allowed = *self == Self::DataRecvd;
        self.go(allowed, Self::DataRead, "app read all data")
    }

    /// "App Read Reset": Reset Recvd to Reset Read.
    pub fn on_app_read_reset(&mut self) -> Result<(), IllegalTransition> {
        let allowed = *self == Self::ResetRecvd;
        self.go(allowed, Self::ResetRead, "app read reset")
    }

    /// Whether this is a terminal state (Data Read or Reset Read).
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::DataRead | Self::ResetRead)
    }

    /// Whether the final size is known (every state but Recv).
    pub fn final_size_known(self) -> bool {
        self != Self::Recv
    }
}

#[cfg(test)]
mod tests;
