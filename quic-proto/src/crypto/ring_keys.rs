//! Packet protection keys derived on ring from a raw TLS traffic secret,
//! with the HKDF labels of a QUIC version chosen by the caller
//! (RFC 9001 §5.1, §5.3, §5.4, §6.1; RFC 9369 §3.3.2).
//!
//! rustls derives packet keys only inside its key schedule and only in the
//! QUIC version fixed when its session was created. With compatible version
//! negotiation (RFC 9368 §2.3) a client learns from the server's first
//! Initial that the connection continues in another version; the TLS secrets
//! stay the same and only the labels change (RFC 9369 §3.3.2, §4.1). This file
//! turns such a secret into keys itself. It names no rustls type: the session
//! adapter hands it secret bytes and a [`Suite`].

use std::fmt;

use ring::aead::quic::{self as header_protection, HeaderProtectionKey};
use ring::aead::{self, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::error::Unspecified;
use ring::hkdf;

use super::{CryptoError, DirectionalKeys, HeaderKey, KeyPair, Keys, PacketKey};
use super::{UnsupportedVersion, Version};
use crate::shared::Side;

/// The TLS 1.3 cipher suites QUIC protects packets with (RFC 9001 §5.3):
/// an AEAD, the header protection cipher that goes with it (RFC 9001
/// §5.4.3, §5.4.4) and the hash of the suite's HKDF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Suite {
    /// TLS_AES_128_GCM_SHA256.
    Aes128GcmSha256,
    /// TLS_AES_256_GCM_SHA384.
    Aes256GcmSha384,
    /// TLS_CHACHA20_POLY1305_SHA256.
    ChaCha20Poly1305Sha256,
}

impl Suite {
    fn hkdf(self) -> hkdf::Algorithm {
        match self {
            Self::Aes128GcmSha256 | Self::ChaCha20Poly1305Sha256 => hkdf::HKDF_SHA256,
            Self::Aes256GcmSha384 => hkdf::HKDF_SHA384,
        }
    }

    fn aead(self) -> &'static aead::Algorithm {
        match self {
            Self::Aes128GcmSha256 => &aead::AES_128_GCM,
            Self::Aes256GcmSha384 => &aead::AES_256_GCM,
            Self::ChaCha20Poly1305Sha256 => &aead::CHACHA20_POLY1305,
        }
    }

    fn header_protection(self) -> &'static header_protection::Algorithm {
        match self {
            Self::Aes128GcmSha256 => &header_protection::AES_128,
            Self::Aes256GcmSha384 => &header_protection::AES_256,
            Self::ChaCha20Poly1305Sha256 => &header_protection::CHACHA20,
        }
    }

    /// The length of a traffic secret: the output of the suite's hash.
    fn secret_len(self) -> usize {
        match self {
            Self::Aes128GcmSha256 | Self::ChaCha20Poly1305Sha256 => 32,
            Self::Aes256GcmSha384 => 48,
        }
    }

    /// RFC 9001 §6.6: 2^23 packets for AEAD_AES_128_GCM and
    /// AEAD_AES_256_GCM; for AEAD_CHACHA20_POLY1305 the limit exceeds the
    /// number of possible packets and is disregarded.
    fn confidentiality_limit(self) -> u64 {
        match self {
            Self::Aes128GcmSha256 | Self::Aes256GcmSha384 => 1 << 23,
            Self::ChaCha20Poly1305Sha256 => u64::MAX,
        }
    }

    /// RFC 9001 §6.6: 2^52 forgery attempts for the AES-GCM AEADs, 2^36 for
    /// AEAD_CHACHA20_POLY1305.
    fn integrity_limit(self) -> u64 {
        match self {
            Self::Aes128GcmSha256 | Self::Aes256GcmSha384 => 1 << 52,
            Self::ChaCha20Poly1305Sha256 => 1 << 36,
        }
    }
}

/// The HKDF labels a QUIC version derives packet protection keys with.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Labels {
    /// The AEAD key (RFC 9001 §5.1).
    key: &'static [u8],
    /// The AEAD IV (RFC 9001 §5.1).
    iv: &'static [u8],
    /// The header protection key (RFC 9001 §5.1).
    hp: &'static [u8],
    /// The next key phase's secret (RFC 9001 §6.1).
    ku: &'static [u8],
}

/// RFC 9001 §5.1, §6.1.
const V1_LABELS: Labels = Labels {
    key: b"quic key",
    iv: b"quic iv",
    hp: b"quic hp",
    ku: b"quic ku",
};

/// RFC 9369 §3.3.2.
const V2_LABELS: Labels = Labels {
    key: b"quicv2 key",
    iv: b"quicv2 iv",
    hp: b"quicv2 hp",
    ku: b"quicv2 ku",
};

/// The labels of `version`: v1 (RFC 9001) or v2 (RFC 9369).
pub(crate) fn labels(version: Version) -> Result<&'static Labels, UnsupportedVersion> {
    match version {
        Version::V1 => Ok(&V1_LABELS),
        Version::V2 => Ok(&V2_LABELS),
        other => Err(UnsupportedVersion(other)),
    }
}

/// The longest traffic secret: SHA-384's output.
const MAX_SECRET_LEN: usize = 48;

/// The bytes of a traffic secret, held inline (at most 48 bytes) and
/// overwritten when dropped. The overwrite is best effort: without unsafe
/// code nothing stops the compiler from having left copies elsewhere.
#[derive(Clone)]
pub(crate) struct SecretBytes {
    len: usize,
    bytes: [u8; MAX_SECRET_LEN],
}

impl SecretBytes {
    /// `None` if `secret` is longer than any suite's hash output.
    pub(crate) fn new(secret: &[u8]) -> Option<Self> {
        let mut bytes = [0; MAX_SECRET_LEN];
        bytes.get_mut(..secret.len())?.copy_from_slice(secret);
        Some(Self {
            len: secret.len(),
            bytes,
        })
    }

    fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl Drop for SecretBytes {
    fn drop(&mut self) {
        self.bytes.fill(0);
        std::hint::black_box(&mut self.bytes);
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretBytes({} bytes)", self.len)
    }
}

/// One direction's traffic secret of one encryption level, with the suite
/// that expands it.
#[derive(Debug, Clone)]
pub(crate) struct Secret {
    suite: Suite,
    bytes: SecretBytes,
}

impl Secret {
    /// `None` unless `bytes` is as long as the suite's hash output, as every
    /// TLS 1.3 traffic secret is (RFC 8446 §7.1).
    pub(crate) fn new(suite: Suite, bytes: SecretBytes) -> Option<Self> {
        (bytes.len == suite.secret_len()).then_some(Self { suite, bytes })
    }

    /// HKDF-Expand-Label(Secret, Label, "", out.len()) (RFC 8446 §7.1):
    ///
    /// ```text
    /// struct {
    ///     uint16 length = Length;
    ///     opaque label<7..255> = "tls13 " + Label;
    ///     opaque context<0..255> = Context;
    /// } HkdfLabel;
    /// ```
    fn expand_label(&self, label: &[u8], out: &mut [u8]) -> Result<(), Unspecified> {
        const PREFIX: &[u8] = b"tls13 ";
        let length = u16::try_from(out.len())
            .map_err(|_| Unspecified)?
            .to_be_bytes();
        let label_len = [u8::try_from(PREFIX.len() + label.len()).map_err(|_| Unspecified)?];
        let info: [&[u8]; 5] = [&length, &label_len, PREFIX, label, &[0]];
        let prk = hkdf::Prk::new_less_safe(self.suite.hkdf(), self.bytes.as_slice());
        prk.expand(&info, OutputLen(out.len()))?.fill(out)
    }

    /// The AEAD key and IV (RFC 9001 §5.1, §5.3).
    fn packet_key(&self, labels: &Labels) -> Result<Box<dyn PacketKey>, Unspecified> {
        let aead = self.suite.aead();
        let mut key = [0; 32];
        let key = key.get_mut(..aead.key_len()).ok_or(Unspecified)?;
        self.expand_label(labels.key, key)?;
        let mut iv = [0; NONCE_LEN];
        self.expand_label(labels.iv, &mut iv)?;
        Ok(Box::new(RingPacketKey {
            key: LessSafeKey::new(UnboundKey::new(aead, key)?),
            iv,
            suite: self.suite,
        }))
    }

    /// The header protection key (RFC 9001 §5.1, §5.4).
    fn header_key(&self, labels: &Labels) -> Result<Box<dyn HeaderKey>, Unspecified> {
        let algorithm = self.suite.header_protection();
        let mut key = [0; 32];
        let key = key.get_mut(..algorithm.key_len()).ok_or(Unspecified)?;
        self.expand_label(labels.hp, key)?;
        Ok(Box::new(RingHeaderKey(HeaderProtectionKey::new(
            algorithm, key,
        )?)))
    }

    /// Header and packet keys for this direction.
    pub(crate) fn keys(&self, labels: &Labels) -> Result<DirectionalKeys, Unspecified> {
        Ok(DirectionalKeys {
            header: self.header_key(labels)?,
            packet: self.packet_key(labels)?,
        })
    }

    /// The secret of the next key phase (RFC 9001 §6.1):
    /// `HKDF-Expand-Label(secret, "quic ku", "", Hash.length)`, "quicv2 ku"
    /// in v2.
    pub(crate) fn next(&self, labels: &Labels) -> Result<Self, Unspecified> {
        let mut bytes = SecretBytes {
            len: self.bytes.len,
            bytes: [0; MAX_SECRET_LEN],
        };
        let out = bytes.bytes.get_mut(..bytes.len).ok_or(Unspecified)?;
        self.expand_label(labels.ku, out)?;
        Ok(Self {
            suite: self.suite,
            bytes,
        })
    }
}

/// The output length of an HKDF expansion, as ring wants it.
struct OutputLen(usize);

impl hkdf::KeyType for OutputLen {
    fn len(&self) -> usize {
        self.0
    }
}

/// The client's and the server's traffic secrets of one encryption level.
#[derive(Debug, Clone)]
pub(crate) struct Secrets {
    /// Protects what the client sends.
    pub(crate) client: Secret,
    /// Protects what the server sends.
    pub(crate) server: Secret,
}

impl Secrets {
    fn local_remote(&self, side: Side) -> (&Secret, &Secret) {
        match side {
            Side::Client => (&self.client, &self.server),
            Side::Server => (&self.server, &self.client),
        }
    }

    /// Header and packet keys for both directions, as `side` uses them.
    pub(crate) fn keys(&self, side: Side, labels: &Labels) -> Result<Keys, Unspecified> {
        let (local, remote) = self.local_remote(side);
        let (local, remote) = (local.keys(labels)?, remote.keys(labels)?);
        Ok(Keys {
            header: KeyPair {
                local: local.header,
                remote: remote.header,
            },
            packet: KeyPair {
                local: local.packet,
                remote: remote.packet,
            },
        })
    }

    /// The packet keys of these secrets, as `side` uses them. Key updates
    /// change only packet keys (RFC 9001 §6).
    pub(crate) fn packet_keys(
        &self,
        side: Side,
        labels: &Labels,
    ) -> Result<KeyPair<Box<dyn PacketKey>>, Unspecified> {
        let (local, remote) = self.local_remote(side);
        Ok(KeyPair {
            local: local.packet_key(labels)?,
            remote: remote.packet_key(labels)?,
        })
    }

    /// The secrets of the next key phase, both directions (RFC 9001 §6.1).
    pub(crate) fn next(&self, labels: &Labels) -> Result<Self, Unspecified> {
        Ok(Self {
            client: self.client.next(labels)?,
            server: self.server.next(labels)?,
        })
    }
}

/// Payload protection (RFC 9001 §5.3) with a ring AEAD.
struct RingPacketKey {
    key: LessSafeKey,
    iv: [u8; NONCE_LEN],
    suite: Suite,
}

impl RingPacketKey {
    /// RFC 9001 §5.3: the packet number, left-padded with zeros to the size
    /// of the IV, exclusive-ORed with the IV.
    fn nonce(&self, packet_number: u64) -> Nonce {
        let mut nonce = self.iv;
        let (_, low) = nonce.split_at_mut(NONCE_LEN - 8);
        for (byte, pn_byte) in low.iter_mut().zip(packet_number.to_be_bytes()) {
            *byte ^= pn_byte;
        }
        Nonce::assume_unique_for_key(nonce)
    }
}

impl PacketKey for RingPacketKey {
    fn encrypt(&self, packet_number: u64, buf: &mut [u8], header_len: usize) {
        let nonce = self.nonce(packet_number);
        super::seal_in_place(buf, header_len, self.tag_len(), |header, payload| {
            self.key
                .seal_in_place_separate_tag(nonce, Aad::from(header), payload)
        });
    }

    fn decrypt(
        &self,
        packet_number: u64,
        header: &[u8],
        payload: &mut bytes::BytesMut,
    ) -> Result<(), CryptoError> {
        let nonce = self.nonce(packet_number);
        let plain_len = self
            .key
            .open_in_place(nonce, Aad::from(header), payload.as_mut())
            .map_err(|_| CryptoError)?
            .len();
        payload.truncate(plain_len);
        Ok(())
    }

    fn tag_len(&self) -> usize {
        self.key.algorithm().tag_len()
    }

    fn confidentiality_limit(&self) -> u64 {
        self.suite.confidentiality_limit()
    }

    fn integrity_limit(&self) -> u64 {
        self.suite.integrity_limit()
    }
}

/// Header protection (RFC 9001 §5.4) with a ring key.
struct RingHeaderKey(HeaderProtectionKey);

impl RingHeaderKey {
    /// RFC 9001 §5.4.1: masks (or unmasks) the low 4 bits of a long header's
    /// first byte or the low 5 bits of a short header's, then as many packet
    /// number bytes as the unprotected first byte announces. The sample
    /// starts 4 bytes after `pn_offset` whatever the packet number length
    /// (RFC 9001 §5.4.2).
    fn apply(&self, pn_offset: usize, packet: &mut [u8], remove: bool) -> Result<(), CryptoError> {
        let sample_start = pn_offset.checked_add(4).ok_or(CryptoError)?;
        let sample_end = sample_start
            .checked_add(self.sample_size())
            .ok_or(CryptoError)?;
        if pn_offset == 0 {
            return Err(CryptoError);
        }
        let sample = packet.get(sample_start..sample_end).ok_or(CryptoError)?;
        let mask = self.0.new_mask(sample).map_err(|_| CryptoError)?;
        let (first_mask, pn_mask) = mask.split_first().ok_or(CryptoError)?;
        let (first, rest) = packet.split_first_mut().ok_or(CryptoError)?;
        let low_bits = if *first & 0x80 != 0 { 0x0f } else { 0x1f };
        let unprotected_first = if remove {
            *first ^ (first_mask & low_bits)
        } else {
            *first
        };
        *first ^= first_mask & low_bits;
        let pn_len = usize::from(unprotected_first & 0x03) + 1;
        let pn_start = pn_offset - 1; // `rest` starts at byte 1
        let packet_number = rest
            .get_mut(pn_start..pn_start + pn_len)
            .ok_or(CryptoError)?;
        for (byte, mask_byte) in packet_number.iter_mut().zip(pn_mask) {
            *byte ^= mask_byte;
        }
        Ok(())
    }
}

impl HeaderKey for RingHeaderKey {
    /// A packet too short to hold the sample is left as it is; it then fails
    /// to open, so it is dropped either way.
    fn decrypt(&self, pn_offset: usize, packet: &mut [u8]) {
        let _ = self.apply(pn_offset, packet, true);
    }

    fn encrypt(&self, pn_offset: usize, packet: &mut [u8]) {
        let result = self.apply(pn_offset, packet, false);
        debug_assert!(result.is_ok(), "packet too short for header protection");
    }

    fn sample_size(&self) -> usize {
        self.0.algorithm().sample_len()
    }
}
