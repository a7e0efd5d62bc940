//! Switching a client session's packet keys to another QUIC version
//! mid-handshake (compatible version negotiation, RFC 9368 §2.3,
//! RFC 9369 §4.1).
//!
//! rustls fixes the version when the session is created and offers no way to
//! change it: `quic::ClientConnection::new` takes it, its key schedule keeps
//! it in private state, and the keys it hands out (`quic::KeyChange`,
//! `quic::Secrets::next_packet_keys`) always use its labels. The TLS secrets
//! do not depend on the version, and rustls shows them to a [`KeyLog`]. So
//! each client session runs on its own copy of the user's config whose
//! `key_log` is a [`CapturingKeyLog`]: it forwards everything to the user's
//! key log and keeps this connection's handshake and application traffic
//! secrets, from which `ring_keys` derives the keys in the new version.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use ::rustls::{CipherSuite, ClientConfig, KeyLog, SupportedCipherSuite};

use super::super::ring_keys::{self, Labels, Secret, SecretBytes, Secrets, Suite};
use super::super::{Keys, SetVersionError};
use crate::shared::Side;
use crate::version::Version;

/// The NSS key log labels of the secrets QUIC packet keys come from
/// (RFC 8446 §7.1).
const CLIENT_HANDSHAKE: &str = "CLIENT_HANDSHAKE_TRAFFIC_SECRET";
const SERVER_HANDSHAKE: &str = "SERVER_HANDSHAKE_TRAFFIC_SECRET";
const CLIENT_TRAFFIC: &str = "CLIENT_TRAFFIC_SECRET_0";
const SERVER_TRAFFIC: &str = "SERVER_TRAFFIC_SECRET_0";

/// The secrets one connection's key log has seen: one slot per label, so at
/// most four secrets of at most 48 bytes each. A secret logged twice
/// replaces the first; [`VersionSwitch`] empties the slots of a level as soon
/// as that level's keys exist.
#[derive(Default)]
struct Slots {
    client_handshake: Option<SecretBytes>,
    server_handshake: Option<SecretBytes>,
    client_traffic: Option<SecretBytes>,
    server_traffic: Option<SecretBytes>,
}

impl Slots {
    fn slot(&mut self, label: &str) -> Option<&mut Option<SecretBytes>> {
        match label {
            CLIENT_HANDSHAKE => Some(&mut self.client_handshake),
            SERVER_HANDSHAKE => Some(&mut self.server_handshake),
            CLIENT_TRAFFIC => Some(&mut self.client_traffic),
            SERVER_TRAFFIC => Some(&mut self.server_traffic),
            _ => None,
        }
    }
}

type SharedSlots = Arc<Mutex<Slots>>;

fn lock(slots: &SharedSlots) -> MutexGuard<'_, Slots> {
    // A panic elsewhere while holding the lock leaves the slots usable.
    slots
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The key log of one client connection: forwards every call to the user's
/// key log (so SSLKEYLOGFILE keeps working) and keeps the four traffic
/// secrets of [`Slots`].
struct CapturingKeyLog {
    user: Arc<dyn KeyLog>,
    slots: SharedSlots,
}

impl KeyLog for CapturingKeyLog {
    fn log(&self, label: &str, client_random: &[u8], secret: &[u8]) {
        if let Some(slot) = lock(&self.slots).slot(label) {
            *slot = SecretBytes::new(secret);
        }
        if self.user.will_log(label) {
            self.user.log(label, client_random, secret);
        }
    }

    fn will_log(&self, label: &str) -> bool {
        lock(&self.slots).slot(label).is_some() || self.user.will_log(label)
    }
}

impl fmt::Debug for CapturingKeyLog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CapturingKeyLog")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// The encryption levels whose keys come from captured secrets.
#[derive(Debug, Clone, Copy)]
pub(super) enum Level {
    Handshake,
    OneRtt,
}

/// The suite `ring_keys` derives keys with for a negotiated rustls suite.
fn ring_suite(suite: SupportedCipherSuite) -> Option<Suite> {
    match suite.suite() {
        CipherSuite::TLS13_AES_128_GCM_SHA256 => Some(Suite::Aes128GcmSha256),
        CipherSuite::TLS13_AES_256_GCM_SHA384 => Some(Suite::Aes256GcmSha384),
        CipherSuite::TLS13_CHACHA20_POLY1305_SHA256 => Some(Suite::ChaCha20Poly1305Sha256),
        _ => None,
    }
}

/// A client session's version switch: the captured secrets, the version its
/// rustls session derives keys for, and the version its keys must use.
pub(super) struct VersionSwitch {
    slots: SharedSlots,
    /// The version rustls was created with.
    session_version: Version,
    /// The version the keys use: `session_version` until `set` changes it.
    version: Version,
    /// Whether `ring_keys` can derive keys for every QUIC cipher suite the
    /// config offers, so for whichever the server picks.
    suites_supported: bool,
    /// Whether Handshake keys were produced: too late to switch.
    keys_produced: bool,
}

impl VersionSwitch {
    /// Copies `config` with a capturing key log around its own, for one
    /// connection in `version`. The copy costs a few small allocations (the
    /// config's `Vec`s, such as its ALPN protocols, and three `Arc`s); every
    /// shared part of the config, session store and verifier included, is
    /// shared by reference, so resumption works as with the original.
    pub(super) fn client(config: &ClientConfig, version: Version) -> (Arc<ClientConfig>, Self) {
        let slots = SharedSlots::default();
        let mut config = config.clone();
        config.key_log = Arc::new(CapturingKeyLog {
            user: config.key_log.clone(),
            slots: slots.clone(),
        });
        let suites_supported = config
            .crypto_provider()
            .cipher_suites
            .iter()
            .filter(|suite| suite.tls13().is_some_and(|suite| suite.quic.is_some()))
            .all(|suite| ring_suite(*suite).is_some());
        let switch = Self {
            slots,
            session_version: version,
            version,
            suites_supported,
            keys_produced: false,
        };
        (Arc::new(config), switch)
    }

    /// The version the keys use.
    pub(super) fn version(&self) -> Version {
        self.version
    }

    /// [`Session::set_version`](super::Session::set_version).
    pub(super) fn set(&mut self, version: Version) -> Result<(), SetVersionError> {
        ring_keys::labels(version).map_err(|err| SetVersionError::UnsupportedVersion(err.0))?;
        if version == self.version {
            return Ok(());
        }
        if self.keys_produced {
            return Err(SetVersionError::TooLate);
        }
        if version != self.session_version && !self.suites_supported {
            return Err(SetVersionError::NotSupported);
        }
        self.version = version;
        Ok(())
    }

    /// Called when rustls produced the keys of `level`. Empties that level's
    /// slots, and if the keys must use another version than rustls', derives
    /// them from the captured secrets: the keys, the secrets of the next key
    /// phase (RFC 9001 §6.1; only 1-RTT keeps them) and the labels. `None`
    /// means rustls' keys stand.
    pub(super) fn keys(
        &mut self,
        level: Level,
        suite: Option<SupportedCipherSuite>,
        side: Side,
    ) -> Option<(Keys, Secrets, &'static Labels)> {
        self.keys_produced = true;
        let (client, server) = {
            let mut slots = lock(&self.slots);
            match level {
                Level::Handshake => (slots.client_handshake.take(), slots.server_handshake.take()),
                Level::OneRtt => (slots.client_traffic.take(), slots.server_traffic.take()),
            }
        };
        if self.version == self.session_version {
            return None;
        }
        let derived = (|| {
            let suite = ring_suite(suite?)?;
            let secrets = Secrets {
                client: Secret::new(suite, client?)?,
                server: Secret::new(suite, server?)?,
            };
            let labels = ring_keys::labels(self.version).ok()?;
            let keys = secrets.keys(side, labels).ok()?;
            let next = secrets.next(labels).ok()?;
            Some((keys, next, labels))
        })();
        if derived.is_none() {
            // Unreachable while rustls logs every traffic secret and `set`
            // checks the suites. rustls' keys, in the old version, then
            // fail to open the peer's packets: the handshake fails closed.
            tracing::error!(?level, version = ?self.version, "no keys for the negotiated version");
        }
        derived
    }
}

impl fmt::Debug for VersionSwitch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VersionSwitch")
            .field("session_version", &self.session_version)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}
