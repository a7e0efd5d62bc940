//! Version negotiation (RFC 9000 §6, RFC 9368, RFC 9369 §4): the client's
//! restart after a Version Negotiation packet, its switch to the version a
//! server chose by compatible negotiation, and the Version Information checks
//! that keep an attacker from forcing a downgrade.

use std::time::Instant;

use super::Connection;
use super::handshake::Discard;
use crate::crypto::initial_keys;
use crate::crypto::rustls::TlsSession;
use crate::error::TransportError;
use crate::shared::{Side, SpaceId};
use crate::transport_params::TransportParameters;
use crate::version::Version;

impl Connection {
    /// RFC 9368 §4: the peer's Version Information must agree with the
    /// version in use, and after a Version Negotiation round the server's
    /// list must show that the client would have picked the same version.
    pub(super) fn check_version_information(
        &self,
        params: &TransportParameters,
    ) -> Result<(), TransportError> {
        let error = |reason| Err(TransportError::VERSION_NEGOTIATION_ERROR(reason));
        let info = params.version_information.as_ref();
        match (self.side, info) {
            (Side::Server, Some(info)) if info.chosen_version != self.handshake.initial_version => {
                error("the client's Chosen Version is not the version of its Initials")
            }
            (Side::Server, _) => Ok(()),
            (Side::Client, None) if self.handshake.vn_reacted => {
                error("no Version Information after Version Negotiation")
            }
            (Side::Client, None) => Ok(()),
            (Side::Client, Some(info)) => {
                if info.chosen_version != self.version
                    || !self
                        .handshake
                        .available_versions
                        .contains(&info.chosen_version)
                {
                    return error("the server's Chosen Version is not the negotiated version");
                }
                if self.handshake.vn_reacted {
                    let server: Vec<Version> =
                        info.available_versions().chain([self.version]).collect();
                    let would_pick = self
                        .handshake
                        .available_versions
                        .iter()
                        .find(|v| server.contains(v));
                    if would_pick != Some(&self.version) {
                        return error(
                            "Version Negotiation was forged: a preferred version is available",
                        );
                    }
                }
                Ok(())
            }
        }
    }

    /// Client: starts over in `version` after a Version Negotiation packet
    /// (RFC 9000 §6.2, RFC 9368 §2.1): a new TLS session and ClientHello,
    /// new Initial keys, the same connection IDs.
    pub(super) fn restart_with_version(
        &mut self,
        now: Instant,
        version: Version,
    ) -> Result<(), TransportError> {
        let (tls, server_name) = self
            .handshake
            .client_tls
            .clone()
            .ok_or_else(|| TransportError::INTERNAL_ERROR("not a client"))?;
        self.version = version;
        self.handshake.vn_reacted = true;
        let mut encoded = Vec::new();
        self.local_transport_parameters().encode(&mut encoded);
        let session = TlsSession::client(tls, version, &server_name, encoded)
            .map_err(|_| TransportError::INTERNAL_ERROR("TLS session"))?;
        self.session = Box::new(session);
        let keys = initial_keys(version, &self.handshake.initial_keys_cid, self.side)
            .map_err(|_| TransportError::INTERNAL_ERROR("no Initial keys"))?;
        self.recovery
            .discard_space(now, SpaceId::Initial, &mut Discard);
        let initial = self.space_mut(SpaceId::Initial);
        initial.keys = Some(keys);
        initial.crypto = super::crypto_stream::CryptoStream::default();
        self.handshake.write_space = SpaceId::Initial;
        self.write_tls(now)
    }

    /// Client: the server's first Initial came in another version we
    /// offered (RFC 9368 §2.3): from now on everything is in that version.
    pub(super) fn switch_version(&mut self, version: Version) -> bool {
        let Ok(keys) = initial_keys(version, &self.handshake.initial_keys_cid, self.side) else {
            return false;
        };
        if self.session.set_version(version).is_err() {
            return false;
        }
        tracing::debug!(from = ?self.version, to = ?version, "compatible version negotiation");
        self.version = version;
        self.space_mut(SpaceId::Initial).keys = Some(keys);
        true
    }
}
