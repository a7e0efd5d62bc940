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
use crate::transport_params::{TransportParameters, VersionInformation};
use crate::version::Version;

impl Connection {
    /// RFC 9368 §4: the peer's Version Information must agree with the
    /// version in use, and after a Version Negotiation round the server's
    /// list must show that the client would have picked the same version.
    pub(super) fn check_version_information(
        &self,
        params: &TransportParameters,
    ) -> Result<(), TransportError> {
        let info = params.version_information.as_ref();
        match self.side {
            Side::Server => match info {
                Some(info) if info.chosen_version != self.handshake.initial_version => {
                    Err(TransportError::VERSION_NEGOTIATION_ERROR(
                        "the client's Chosen Version is not the version of its Initials",
                    ))
                }
                _ => Ok(()),
            },
            Side::Client => check_server_version_information(
                self.version,
                &self.handshake.available_versions,
                self.handshake.vn_reacted,
                info,
            ),
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

/// RFC 9368 §4, the client's checks of the server's Version Information:
/// `version` is the connection's version, `offered` the versions the client
/// offered (preferred first), and `vn_reacted` whether it started over after
/// a Version Negotiation packet.
fn check_server_version_information(
    version: Version,
    offered: &[Version],
    vn_reacted: bool,
    info: Option<&VersionInformation>,
) -> Result<(), TransportError> {
    let error = |reason| Err(TransportError::VERSION_NEGOTIATION_ERROR(reason));
    let v1_only;
    let info = match info {
        Some(info) => info,
        None if !vn_reacted => return Ok(()),
        // RFC 9368 §8: a v1 server may know nothing of version negotiation;
        // the client proceeds as if it had chosen v1 and listed only v1.
        None if version == Version::V1 => {
            v1_only = VersionInformation::new(Version::V1, &[Version::V1]);
            &v1_only
        }
        None => return error("no Version Information after Version Negotiation"),
    };
    if info.chosen_version != version || !offered.contains(&info.chosen_version) {
        return error("the server's Chosen Version is not the negotiated version");
    }
    if vn_reacted {
        let server: Vec<Version> = info.available_versions().chain([version]).collect();
        let would_pick = offered.iter().find(|v| server.contains(v));
        if would_pick != Some(&version) {
            return error("Version Negotiation was forged: a preferred version is available");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::TransportErrorCode;

    const OFFERED: &[Version] = &[Version::V2, Version::V1];

    fn code(result: Result<(), TransportError>) -> Option<TransportErrorCode> {
        result.err().map(|e| e.code)
    }

    /// RFC 9368 §8: after Version Negotiation to v1, a server without
    /// Version Information (a v1-only implementation) is accepted.
    #[test]
    fn v1_server_without_version_information_after_negotiation() {
        assert_eq!(
            check_server_version_information(Version::V1, OFFERED, true, None),
            Ok(())
        );
    }

    /// RFC 9368 §4: outside v1, Version Information is required after
    /// Version Negotiation.
    #[test]
    fn missing_version_information_after_negotiation_to_v2() {
        assert_eq!(
            code(check_server_version_information(
                Version::V2,
                &[Version::V1, Version::V2],
                true,
                None
            )),
            Some(TransportErrorCode::VERSION_NEGOTIATION_ERROR)
        );
    }

    /// RFC 9368 §4: without Version Negotiation, the parameter is optional.
    #[test]
    fn missing_version_information_without_negotiation() {
        assert_eq!(
            check_server_version_information(Version::V1, OFFERED, false, None),
            Ok(())
        );
    }

    /// RFC 9368 §4: after Version Negotiation, a server listing a version
    /// the client prefers shows the Version Negotiation packet was forged.
    #[test]
    fn downgrade_is_detected() {
        let info = VersionInformation::new(Version::V1, &[Version::V1, Version::V2]);
        assert_eq!(
            code(check_server_version_information(
                Version::V1,
                OFFERED,
                true,
                Some(&info)
            )),
            Some(TransportErrorCode::VERSION_NEGOTIATION_ERROR)
        );
        let info = VersionInformation::new(Version::V1, &[Version::V1]);
        assert_eq!(
            check_server_version_information(Version::V1, OFFERED, true, Some(&info)),
            Ok(())
        );
    }

    /// RFC 9368 §4: the server's Chosen Version must be the version in use.
    #[test]
    fn chosen_version_must_match() {
        let info = VersionInformation::new(Version::V2, &[Version::V2, Version::V1]);
        assert_eq!(
            code(check_server_version_information(
                Version::V1,
                OFFERED,
                false,
                Some(&info)
            )),
            Some(TransportErrorCode::VERSION_NEGOTIATION_ERROR)
        );
    }
}
