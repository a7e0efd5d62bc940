//! Retry packet integrity (RFC 9001 §5.8, RFC 9369 §3.3.3).
//!
//! The tag is AES-128-GCM with a fixed key and nonce per version over an
//! empty plaintext; the Retry pseudo-packet is the associated data:
//!
//! ```text
//! Retry Pseudo-Packet {
//!   ODCID Length (8),
//!   Original Destination Connection ID (0..160),
//!   Header Form (1) = 1,
//!   Fixed Bit (1) = 1,
//!   Long Packet Type (2) = 3,
//!   Unused (4),
//!   Version (32),
//!   DCID Len (8),
//!   Destination Connection ID (0..160),
//!   SCID Len (8),
//!   Source Connection ID (0..160),
//!   Retry Token (..),
//! }
//! ```
//!
//! That is the Retry packet as sent, without its tag, after the Original
//! Destination Connection ID with a one-byte length.

use ring::aead::{AES_128_GCM, Aad, LessSafeKey, Nonce, UnboundKey};

use super::UnsupportedVersion;
use crate::cid::ConnectionId;
use crate::version::Version;

/// The length of the Retry Integrity Tag (RFC 9000 §17.2.5).
pub const RETRY_INTEGRITY_TAG_LEN: usize = 16;

/// The fixed AES-128-GCM key and nonce of one version.
struct RetryKey {
    key: [u8; 16],
    nonce: [u8; 12],
}

/// RFC 9001 §5.8.
const V1_RETRY_KEY: RetryKey = RetryKey {
    key: [
        0xbe, 0x0c, 0x69, 0x0b, 0x9f, 0x66, 0x57, 0x5a, 0x1d, 0x76, 0x6b, 0x54, 0xe3, 0x68, 0xc8,
        0x4e,
    ],
    nonce: [
        0x46, 0x15, 0x99, 0xd3, 0x5d, 0x63, 0x2b, 0xf2, 0x23, 0x98, 0x25, 0xbb,
    ],
};

/// RFC 9369 §3.3.3.
const V2_RETRY_KEY: RetryKey = RetryKey {
    key: [
        0x8f, 0xb4, 0xb0, 0x1b, 0x56, 0xac, 0x48, 0xe2, 0x60, 0xfb, 0xcb, 0xce, 0xad, 0x7c, 0xcc,
        0x92,
    ],
    nonce: [
        0xd8, 0x69, 0x69, 0xbc, 0x2d, 0x7c, 0x6d, 0x99, 0x90, 0xef, 0xb0, 0x4a,
    ],
};

impl RetryKey {
    fn for_version(version: Version) -> Result<&'static Self, UnsupportedVersion> {
        match version {
            Version::V1 => Ok(&V1_RETRY_KEY),
            Version::V2 => Ok(&V2_RETRY_KEY),
            other => Err(UnsupportedVersion(other)),
        }
    }

    fn aead(&self) -> (LessSafeKey, Nonce) {
        // A 16-byte key is what AES-128-GCM takes, so this cannot fail.
        let key = UnboundKey::new(&AES_128_GCM, &self.key).expect("AES-128 key is 16 bytes");
        (
            LessSafeKey::new(key),
            Nonce::assume_unique_for_key(self.nonce),
        )
    }
}

/// The Retry pseudo-packet (RFC 9001 §5.8, Figure 8).
fn pseudo_packet(original_dst_cid: &ConnectionId, retry_without_tag: &[u8]) -> Vec<u8> {
    let mut pseudo = Vec::with_capacity(1 + original_dst_cid.len() + retry_without_tag.len());
    original_dst_cid.encode_with_len(&mut pseudo);
    pseudo.extend_from_slice(retry_without_tag);
    pseudo
}

/// The Retry Integrity Tag a server appends to a Retry packet
/// (RFC 9001 §5.8, RFC 9369 §3.3.3). `retry_packet_without_tag` is the Retry
/// packet from its first byte to the end of the token.
pub fn retry_integrity_tag(
    version: Version,
    original_dst_cid: &ConnectionId,
    retry_packet_without_tag: &[u8],
) -> Result<[u8; RETRY_INTEGRITY_TAG_LEN], UnsupportedVersion> {
    let (key, nonce) = RetryKey::for_version(version)?.aead();
    let pseudo = pseudo_packet(original_dst_cid, retry_packet_without_tag);
    // Sealing fails only for plaintexts longer than GCM allows; ours is empty.
    let tag = key
        .seal_in_place_separate_tag(nonce, Aad::from(&pseudo), &mut [])
        .expect("empty plaintext always seals");
    let mut out = [0; RETRY_INTEGRITY_TAG_LEN];
    out.copy_from_slice(tag.as_ref());
    Ok(out)
}

/// Whether a received Retry packet (with its tag) carries a valid Retry
/// Integrity Tag for the Destination Connection ID the client chose
/// (RFC 9001 §5.8). The check is an AEAD open, so the tag comparison takes
/// constant time. False for versions without Retry keys and for packets
/// shorter than a tag.
pub fn is_valid_retry(
    version: Version,
    original_dst_cid: &ConnectionId,
    retry_packet_with_tag: &[u8],
) -> bool {
    let Ok(retry_key) = RetryKey::for_version(version) else {
        return false;
    };
    let Some(body_len) = retry_packet_with_tag
        .len()
        .checked_sub(RETRY_INTEGRITY_TAG_LEN)
    else {
        return false;
    };
    let (body, tag) = retry_packet_with_tag.split_at(body_len);
    let (key, nonce) = retry_key.aead();
    let pseudo = pseudo_packet(original_dst_cid, body);
    let mut tag_only = [0; RETRY_INTEGRITY_TAG_LEN];
    tag_only.copy_from_slice(tag);
    key.open_in_place(nonce, Aad::from(&pseudo), &mut tag_only)
        .is_ok()
}
