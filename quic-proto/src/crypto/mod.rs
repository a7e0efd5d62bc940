//! Packet protection and the TLS handshake (RFC 9001, RFC 9369 §3).
//!
//! The rest of the crate talks to the small traits in this file:
//! [`HeaderKey`] and [`PacketKey`] protect packets, and [`Session`] runs the
//! TLS handshake. The one adapter that implements them with rustls' QUIC API
//! and the ring provider lives in [`rustls`], so that a change in rustls' API
//! touches one file. Retry integrity (RFC 9001 §5.8) needs only a fixed
//! AES-128-GCM key and lives in `retry.rs`. `ring_keys.rs` derives packet
//! keys on ring from a raw traffic secret in a version of our choosing, for a
//! client whose connection changes version mid-handshake
//! ([`Session::set_version`], RFC 9368 §2.3).
//!
//! Key material by encryption level (RFC 9001 §4.1.4):
//!
//! - Initial: [`initial_keys`], from the client's first Destination
//!   Connection ID (RFC 9001 §5.2, RFC 9369 §3.3.1).
//! - 0-RTT: [`Session::early_keys`].
//! - Handshake and 1-RTT: [`KeyChange`]s from [`Session::write_handshake`].
//! - Later 1-RTT key phases: [`Session::next_1rtt_keys`] (RFC 9001 §6).

use std::fmt;

use crate::error::TransportError;
use crate::version::Version;

pub mod rustls;

mod retry;
mod ring_keys;

#[cfg(test)]
mod handshake_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
pub(crate) mod vectors;
#[cfg(test)]
mod version_switch_tests;

pub use self::retry::{RETRY_INTEGRITY_TAG_LEN, is_valid_retry, retry_integrity_tag};
pub use self::rustls::{TlsSession, initial_keys};

/// Packet protection failed: the AEAD tag did not verify, or the input was too
/// short to hold one. The packet is dropped (RFC 9001 §5.5), never answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CryptoError;

impl fmt::Display for CryptoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("packet protection failed")
    }
}

impl std::error::Error for CryptoError {}

/// The shared part of every [`PacketKey::encrypt`]: splits `buf` into
/// header, plaintext and tag room, seals with `seal`, and writes the tag.
/// Should the AEAD refuse (only payloads far beyond any datagram), the
/// plaintext never leaves: payload and tag are zeroed, and the peer drops
/// the packet.
///
/// # Panics
///
/// If `buf` is shorter than `header_len + tag_len`: a caller bug.
pub(crate) fn seal_in_place<T: AsRef<[u8]>, E>(
    buf: &mut [u8],
    header_len: usize,
    tag_len: usize,
    seal: impl FnOnce(&[u8], &mut [u8]) -> Result<T, E>,
) {
    assert!(
        header_len
            .checked_add(tag_len)
            .is_some_and(|min| min <= buf.len()),
        "no room for the header and the AEAD tag"
    );
    let (header, rest) = buf.split_at_mut(header_len);
    let (payload, tag_out) = rest.split_at_mut(rest.len() - tag_len);
    match seal(header, payload) {
        Ok(tag) => tag_out.copy_from_slice(tag.as_ref()),
        Err(_) => {
            tracing::error!("AEAD refused to seal a packet");
            payload.fill(0);
            tag_out.fill(0);
        }
    }
}

/// Header protection for one direction of one encryption level
/// (RFC 9001 §5.4).
pub trait HeaderKey: Send + Sync + 'static {
    /// Removes header protection in place. `packet` starts at the first byte
    /// of the packet; the packet number starts at `pn_offset`. The sample is
    /// taken at `pn_offset + 4`, so `packet` must hold at least
    /// `pn_offset + 4 + self.sample_size()` bytes (RFC 9001 §5.4.2); callers
    /// check that and drop shorter packets. Unmasks the low bits of the first
    /// byte and then exactly as many packet number bytes as they announce.
    fn decrypt(&self, pn_offset: usize, packet: &mut [u8]);

    /// Applies header protection in place to a packet whose payload is
    /// already sealed; the packet number length is read from the unprotected
    /// first byte.
    fn encrypt(&self, pn_offset: usize, packet: &mut [u8]);

    /// The number of bytes sampled from the ciphertext (16 for every cipher
    /// suite QUIC uses today).
    fn sample_size(&self) -> usize;
}

/// The AEAD that protects packet payloads for one direction of one key phase
/// (RFC 9001 §5.3).
pub trait PacketKey: Send + Sync + 'static {
    /// Seals in place. `buf[..header_len]` is the unprotected header (the
    /// associated data); `buf[header_len..]` is the plaintext followed by
    /// `self.tag_len()` bytes of room, which receive the tag.
    ///
    /// # Panics
    ///
    /// If `buf` is shorter than `header_len + self.tag_len()`: the caller
    /// sized the buffer wrongly, which no peer can cause.
    fn encrypt(&self, packet_number: u64, buf: &mut [u8], header_len: usize);

    /// Opens `payload` (ciphertext and tag) in place with `header` as
    /// associated data, and truncates it to the plaintext.
    fn decrypt(
        &self,
        packet_number: u64,
        header: &[u8],
        payload: &mut bytes::BytesMut,
    ) -> Result<(), CryptoError>;

    /// The length of the AEAD tag.
    fn tag_len(&self) -> usize;

    /// How many packets may be sealed with this key before it must be
    /// updated (RFC 9001 §6.6).
    fn confidentiality_limit(&self) -> u64;

    /// How many packets may fail to open under this key before the
    /// connection must close with AEAD_LIMIT_REACHED (RFC 9001 §6.6).
    fn integrity_limit(&self) -> u64;
}

/// A value for each direction: `local` protects what we send, `remote` opens
/// what the peer sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyPair<T> {
    /// For packets we send.
    pub local: T,
    /// For packets the peer sends.
    pub remote: T,
}

/// Header and packet keys for both directions of one encryption level
/// (RFC 9001 §5).
pub struct Keys {
    /// Header protection keys (RFC 9001 §5.4). They stay the same across key
    /// updates (RFC 9001 §6).
    pub header: KeyPair<Box<dyn HeaderKey>>,
    /// Packet protection keys (RFC 9001 §5.3).
    pub packet: KeyPair<Box<dyn PacketKey>>,
}

impl fmt::Debug for Keys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keys").finish_non_exhaustive()
    }
}

/// Header and packet keys for one direction, as 0-RTT has
/// (RFC 9001 §4.6.1): the client seals with them, the server opens.
pub struct DirectionalKeys {
    /// Header protection (RFC 9001 §5.4).
    pub header: Box<dyn HeaderKey>,
    /// Packet protection (RFC 9001 §5.3).
    pub packet: Box<dyn PacketKey>,
}

impl fmt::Debug for DirectionalKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DirectionalKeys").finish_non_exhaustive()
    }
}

/// The handshake reached a new encryption level (RFC 9001 §4.1.4). Handshake
/// bytes written after this change are sent at the new level.
#[derive(Debug)]
pub enum KeyChange {
    /// Keys for the Handshake packet number space.
    Handshake {
        /// Header and packet keys for Handshake packets.
        keys: Keys,
    },
    /// Keys for 1-RTT packets. The session keeps the 1-RTT secrets to derive
    /// the keys of later key phases ([`Session::next_1rtt_keys`]).
    OneRtt {
        /// Header and packet keys for key phase 0.
        keys: Keys,
    },
}

/// The version is not one this implementation has keys for (v1 and v2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnsupportedVersion(pub Version);

impl fmt::Display for UnsupportedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unsupported QUIC version {:?}", self.0)
    }
}

impl std::error::Error for UnsupportedVersion {}

/// Why [`Session::set_version`] refused to change the version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetVersionError {
    /// There are no keys for this version (only v1 and v2 have them).
    UnsupportedVersion(Version),
    /// This session cannot derive keys for another version than the one it
    /// was created with: a server session (a server creates its session in
    /// the negotiated version), a client whose TLS config offers a cipher
    /// suite we cannot derive keys for, or a `Session` that does not
    /// implement the change.
    NotSupported,
    /// Handshake keys were already produced in the previous version; the
    /// switch must happen before (RFC 9369 §4.1).
    TooLate,
}

impl fmt::Display for SetVersionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnsupportedVersion(version) => write!(f, "unsupported QUIC version {version:?}"),
            Self::NotSupported => f.write_str("this session cannot change its QUIC version"),
            Self::TooLate => f.write_str("handshake keys already exist in the previous version"),
        }
    }
}

impl std::error::Error for SetVersionError {}

/// Keying material could not be exported: the handshake has not finished,
/// or the output length is zero or too large.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportKeyingMaterialError;

impl fmt::Display for ExportKeyingMaterialError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("cannot export keying material")
    }
}

impl std::error::Error for ExportKeyingMaterialError {}

/// The TLS 1.3 handshake as QUIC carries it (RFC 9001 §4): handshake bytes in,
/// handshake bytes and new keys out. No records, no alerts on the wire: a TLS
/// alert becomes a CRYPTO_ERROR transport error (RFC 9001 §4.8).
///
/// Transport parameters travel as opaque bytes (RFC 9001 §8.2); encoding and
/// validating them is the connection's job.
pub trait Session: Send + fmt::Debug {
    /// Consumes handshake bytes the peer sent in CRYPTO frames, in order,
    /// one encryption level per call (RFC 9001 §4.1.3).
    ///
    /// A TLS failure gives `CRYPTO_ERROR` (0x0100 + the alert, RFC 9001 §4.8);
    /// the connection closes with it.
    fn read_handshake(&mut self, data: &[u8]) -> Result<(), TransportError>;

    /// Appends handshake bytes to send to `buf`, all at the current sending
    /// level. `Some` means the level changed: bytes appended by later calls
    /// go out at the new level, with the returned keys.
    fn write_handshake(&mut self, buf: &mut Vec<u8>) -> Option<KeyChange>;

    /// Whether the TLS handshake is still running (RFC 9001 §4.1.1).
    fn is_handshaking(&self) -> bool;

    /// The peer's encoded transport parameters, once received (RFC 9001
    /// §8.2). They are authenticated only when the handshake completes.
    fn peer_transport_parameters(&self) -> Option<&[u8]>;

    /// The negotiated application protocol (RFC 9001 §8.1), once chosen.
    fn alpn_protocol(&self) -> Option<&[u8]>;

    /// The server name: on a server, the one the client indicated (SNI), once
    /// received; on a client, the one it connects to.
    fn server_name(&self) -> Option<&str>;

    /// The peer's certificate chain, end-entity first, as DER, once received.
    fn peer_certificates(&self) -> Option<Vec<&[u8]>>;

    /// The 0-RTT keys (RFC 9001 §4.6), if the client offered early data and
    /// the keys are known: on a client after the ClientHello is written, on
    /// a server that accepts early data after the ClientHello is read.
    fn early_keys(&self) -> Option<DirectionalKeys>;

    /// On a client, whether the server accepted 0-RTT data, once the
    /// handshake is done; `None` before that and on a server.
    fn early_data_accepted(&self) -> Option<bool>;

    /// The packet keys of the next 1-RTT key phase (RFC 9001 §6). Each call
    /// steps the 1-RTT secrets once more ("quic ku", "quicv2 ku" in v2).
    /// `None` before the 1-RTT keys exist.
    fn next_1rtt_keys(&mut self) -> Option<KeyPair<Box<dyn PacketKey>>>;

    /// Switches the version whose HKDF labels the packet keys use
    /// (RFC 9001 §5.1, RFC 9369 §3.3.2): from now on, keys produced by
    /// [`write_handshake`](Self::write_handshake) ([`KeyChange`]) and by
    /// [`next_1rtt_keys`](Self::next_1rtt_keys) use `version`'s labels; the
    /// TLS handshake itself is the same in every version.
    ///
    /// Call it before the Handshake keys are produced: a client calls it
    /// when the server's first Initial arrives in another version than the
    /// one the session was created with (compatible version negotiation,
    /// RFC 9368 §2.3, RFC 9369 §4.1), before feeding that packet's CRYPTO
    /// data to [`read_handshake`](Self::read_handshake). Setting the version
    /// the keys already use succeeds and changes nothing, even late.
    ///
    /// 0-RTT keys ([`early_keys`](Self::early_keys)) keep the original
    /// version: a client never sends 0-RTT in the negotiated version
    /// (RFC 9369 §4.1). Initial keys are not the session's:
    /// [`initial_keys`] takes the version.
    ///
    /// The default implementation, for sessions that cannot re-derive their
    /// keys, refuses with [`SetVersionError::NotSupported`] (it does not
    /// know the session's version, so it refuses even a no-op).
    fn set_version(&mut self, version: Version) -> Result<(), SetVersionError> {
        let _ = version;
        Err(SetVersionError::NotSupported)
    }

    /// Fills `output` with keying material exported from the TLS session
    /// (RFC 8446 §7.5), once the handshake is done.
    fn export_keying_material(
        &self,
        output: &mut [u8],
        label: &[u8],
        context: &[u8],
    ) -> Result<(), ExportKeyingMaterialError>;
}
