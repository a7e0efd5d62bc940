//! The value rules of RFC 9000 §18.2 (and RFC 9368 §4), and the connection ID
//! checks of RFC 9000 §7.3.

use super::{TransportParameterError, TransportParameterId, TransportParameters};
use crate::cid::ConnectionId;
use crate::coding::VarInt;
use crate::shared::Side;

type Id = TransportParameterId;

impl TransportParameters {
    /// Checks the rules a parameter set must meet on its own when `sender`
    /// sends it. [`decode`](Self::decode) runs this on the peer's parameters;
    /// run it on our own before [`encode`](Self::encode) to catch a bad
    /// configuration.
    ///
    /// - A client sends no server-only parameter (RFC 9000 §18.2).
    /// - `max_udp_payload_size` is at least 1200, `ack_delay_exponent` at most
    ///   20, `max_ack_delay` below 2^14 ms and `active_connection_id_limit`
    ///   at least 2 (RFC 9000 §18.2).
    /// - `initial_max_streams_bidi` and `_uni` are at most 2^60 (RFC 9000
    ///   §4.6: "the connection MUST be closed immediately with a connection
    ///   error of type TRANSPORT_PARAMETER_ERROR if the offending value was
    ///   received in a transport parameter").
    /// - `preferred_address` carries a non-empty connection ID, and is absent
    ///   if the server chose a zero-length connection ID (RFC 9000 §18.2).
    /// - `version_information` follows RFC 9368 §4's parsing rules.
    /// - `max_idle_timeout` fits a varint of milliseconds (only a local
    ///   configuration can break this).
    pub fn validate(&self, sender: Side) -> Result<(), TransportParameterError> {
        if sender.is_client() {
            self.check_no_server_only()?;
        }
        self.check_ranges()?;
        if let Some(address) = &self.preferred_address {
            // RFC 9000 §18.2: "A server that chooses a zero-length connection
            // ID MUST NOT provide a preferred address. Similarly, a server
            // MUST NOT include a zero-length connection ID in this transport
            // parameter."
            let zero_length_scid = self
                .initial_source_connection_id
                .is_some_and(|cid| cid.is_empty());
            invalid_if(
                Id::PREFERRED_ADDRESS,
                address.connection_id.is_empty() || zero_length_scid,
            )?;
        }
        if let Some(info) = &self.version_information {
            if !info.is_valid(sender) {
                return Err(TransportParameterError::Malformed(Id::VERSION_INFORMATION));
            }
        }
        Ok(())
    }

    /// The numeric bounds of RFC 9000 §18.2 and §4.6.
    fn check_ranges(&self) -> Result<(), TransportParameterError> {
        invalid_if(
            Id::MAX_UDP_PAYLOAD_SIZE,
            self.max_udp_payload_size < Self::MIN_MAX_UDP_PAYLOAD_SIZE,
        )?;
        invalid_if(
            Id::ACK_DELAY_EXPONENT,
            self.ack_delay_exponent > Self::MAX_ACK_DELAY_EXPONENT,
        )?;
        invalid_if(
            Id::MAX_ACK_DELAY,
            self.max_ack_delay.as_millis() >= u128::from(Self::MAX_ACK_DELAY_LIMIT_MS),
        )?;
        invalid_if(
            Id::ACTIVE_CONNECTION_ID_LIMIT,
            self.active_connection_id_limit < Self::MIN_ACTIVE_CONNECTION_ID_LIMIT,
        )?;
        invalid_if(
            Id::INITIAL_MAX_STREAMS_BIDI,
            self.initial_max_streams_bidi.into_inner() > Self::MAX_STREAMS_LIMIT,
        )?;
        invalid_if(
            Id::INITIAL_MAX_STREAMS_UNI,
            self.initial_max_streams_uni.into_inner() > Self::MAX_STREAMS_LIMIT,
        )?;
        invalid_if(
            Id::MAX_IDLE_TIMEOUT,
            self.max_idle_timeout.as_millis() > u128::from(VarInt::MAX.into_inner()),
        )
    }

    /// RFC 9000 §18.2: "A client MUST NOT include any server-only transport
    /// parameter: original_destination_connection_id, preferred_address,
    /// retry_source_connection_id, or stateless_reset_token."
    fn check_no_server_only(&self) -> Result<(), TransportParameterError> {
        let present = [
            (
                Id::ORIGINAL_DESTINATION_CONNECTION_ID,
                self.original_destination_connection_id.is_some(),
            ),
            (
                Id::STATELESS_RESET_TOKEN,
                self.stateless_reset_token.is_some(),
            ),
            (Id::PREFERRED_ADDRESS, self.preferred_address.is_some()),
            (
                Id::RETRY_SOURCE_CONNECTION_ID,
                self.retry_source_connection_id.is_some(),
            ),
        ];
        match present.into_iter().find(|&(_, present)| present) {
            Some((id, _)) => Err(TransportParameterError::ServerOnly(id)),
            None => Ok(()),
        }
    }

    /// Checks the connection ID parameters against the IDs in the handshake's
    /// packets (RFC 9000 §7.3), once the peer's parameters are known.
    ///
    /// RFC 9000 §7.3: "An endpoint MUST treat the absence of the
    /// initial_source_connection_id transport parameter from either endpoint
    /// or the absence of the original_destination_connection_id transport
    /// parameter from the server as a connection error of type
    /// TRANSPORT_PARAMETER_ERROR", and likewise the absence of
    /// `retry_source_connection_id` after a Retry, its presence without one,
    /// or any mismatch. (§7.3 allows PROTOCOL_VIOLATION for the latter; we
    /// use TRANSPORT_PARAMETER_ERROR throughout.)
    pub fn validate_connection_ids(
        &self,
        expected: &ExpectedConnectionIds,
    ) -> Result<(), TransportParameterError> {
        let (initial_source, server) = match expected {
            ExpectedConnectionIds::Client { initial_source } => (initial_source, None),
            ExpectedConnectionIds::Server {
                initial_source,
                original_destination,
                retry_source,
            } => (initial_source, Some((original_destination, retry_source))),
        };
        check_cid(
            Id::INITIAL_SOURCE_CONNECTION_ID,
            self.initial_source_connection_id.as_ref(),
            Some(initial_source),
        )?;
        if let Some((original_destination, retry_source)) = server {
            check_cid(
                Id::ORIGINAL_DESTINATION_CONNECTION_ID,
                self.original_destination_connection_id.as_ref(),
                Some(original_destination),
            )?;
            check_cid(
                Id::RETRY_SOURCE_CONNECTION_ID,
                self.retry_source_connection_id.as_ref(),
                retry_source.as_ref(),
            )?;
        }
        Ok(())
    }
}

/// An invalid-value error for `id` if `bad`.
fn invalid_if(id: TransportParameterId, bad: bool) -> Result<(), TransportParameterError> {
    if bad {
        Err(TransportParameterError::InvalidValue(id))
    } else {
        Ok(())
    }
}

/// `received` must equal `expected`, where `None` means absent.
fn check_cid(
    id: TransportParameterId,
    received: Option<&ConnectionId>,
    expected: Option<&ConnectionId>,
) -> Result<(), TransportParameterError> {
    match (received, expected) {
        (None, Some(_)) => Err(TransportParameterError::Missing(id)),
        (received, expected) if received != expected => Err(TransportParameterError::Mismatch(id)),
        _ => Ok(()),
    }
}

/// The connection IDs a peer's parameters must repeat (RFC 9000 §7.3), taken
/// from the handshake's packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectedConnectionIds {
    /// For a client's parameters, checked by the server.
    Client {
        /// The Source Connection ID of the client's first Initial.
        initial_source: ConnectionId,
    },
    /// For a server's parameters, checked by the client.
    Server {
        /// The Source Connection ID of the server's first Initial.
        initial_source: ConnectionId,
        /// The Destination Connection ID of the client's first Initial,
        /// before any Retry.
        original_destination: ConnectionId,
        /// The Source Connection ID of the Retry the client acted on, if any.
        retry_source: Option<ConnectionId>,
    },
}
