//! Packet protection (RFC 9001 §5, RFC 9369 §3).
//!
//! The rest of the crate talks to the small traits in this file; the one
//! adapter that implements them with rustls' QUIC API and the ring provider
//! lives in `rustls.rs`, so that a change in rustls' API touches one file.

use std::fmt;

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
