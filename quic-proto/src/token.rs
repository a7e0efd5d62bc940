//! Address validation tokens (RFC 9000 §8.1.1 to §8.1.4): the tokens a
//! server puts in Retry packets and NEW_TOKEN frames and checks when a client
//! returns them in an Initial packet.
//!
//! ```text
//! Token {
//!   Kind (8) = 0x01 (Retry) | 0x02 (NEW_TOKEN),
//!   Salt (128),
//!   Sealed Payload (..),
//!   AEAD Tag (128),
//! }
//!
//! Retry Payload {                 NEW_TOKEN Payload {
//!   Issued (64),                    Issued (64),
//!   Address Family (8) = 4 | 6,     Address Family (8) = 4 | 6,
//!   Client IP (32 | 128),           Client IP (32 | 128),
//!   Client Port (16),             }
//!   ODCID Length (8),
//!   Original Destination Connection ID (0..160),
//!   RSCID Length (8),
//!   Retry Source Connection ID (0..160),
//! }
//! ```
//!
//! `Issued` counts milliseconds since the Unix epoch. The payload is sealed
//! with AES-256-GCM under a key used for this one token: HKDF-Expand of the
//! server's token key with the kind and a random 128-bit salt as info, so
//! tokens are unforgeable without the key (§8.1.4), unique (§8.1.3), and no
//! nonce is ever reused however many tokens a key seals. The kind byte is in
//! the clear (§8.1.1 allows that) and bound to the payload through the key
//! derivation and the associated data.
//!
//! # Time
//!
//! Tokens must outlive a server restart, so they carry wall-clock time:
//! the driver reads `SystemTime` once per call and passes it in as `now`
//! (nothing here reads a clock).
//!
//! # Replay
//!
//! §8.1.4 asks servers to limit replay. The lifetimes do that for Retry
//! tokens; NEW_TOKEN tokens "SHOULD NOT be accepted multiple times", which
//! needs a record of used tokens that is the endpoint's to keep (the salt,
//! bytes 1 to 16 of a token, is a unique identifier for it).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::BufMut;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use ring::hkdf;

use crate::cid::ConnectionId;
use crate::coding::BufExt;
use crate::rand::Rng;

const LABEL: &[u8] = b"quic-proto address validation token";
const SALT_LEN: usize = 16;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = 1 + SALT_LEN;
/// Issued, IPv6 address, port and two IDs of 20 bytes with their lengths.
const MAX_PAYLOAD_LEN: usize = 8 + 1 + 16 + 2 + 2 * (1 + ConnectionId::MAX_LEN);

/// The longest token this module produces or accepts; anything longer is
/// rejected before any cryptography.
pub const MAX_TOKEN_LEN: usize = HEADER_LEN + MAX_PAYLOAD_LEN + TAG_LEN;

/// How a token was handed to the client (RFC 9000 §8.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// Sent in a Retry packet (§8.1.2).
    Retry,
    /// Sent in a NEW_TOKEN frame (§8.1.3).
    NewToken,
}

impl TokenKind {
    const fn byte(self) -> u8 {
        match self {
            Self::Retry => 0x01,
            Self::NewToken => 0x02,
        }
    }

    /// The kind a token claims to be, from its first byte, without checking
    /// anything else. `None` for an empty token or an unknown kind.
    pub fn of(token: &[u8]) -> Option<Self> {
        match token.first()? {
            0x01 => Some(Self::Retry),
            0x02 => Some(Self::NewToken),
            _ => None,
        }
    }
}

/// The contents of a token sent in a Retry packet (RFC 9000 §8.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryToken {
    /// The Destination Connection ID of the client's first Initial, for the
    /// `original_destination_connection_id` transport parameter (§7.3).
    pub original_dst_cid: ConnectionId,
    /// The Source Connection ID of the Retry packet: the client's next
    /// Initial must be sent to it (§17.2.5.3), and it goes into the
    /// `retry_source_connection_id` transport parameter.
    pub retry_src_cid: ConnectionId,
    /// The client's address, port included (§8.1.4).
    pub client_address: SocketAddr,
    /// When the token was issued (millisecond precision once opened).
    pub issued: SystemTime,
}

/// The contents of a token sent in a NEW_TOKEN frame (RFC 9000 §8.1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewToken {
    /// The client's IP address; the port is not bound, as it rarely survives
    /// to the next connection (§8.1.3).
    pub client_ip: IpAddr,
    /// When the token was issued (millisecond precision once opened).
    pub issued: SystemTime,
}

/// An opened, valid token of either kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Token {
    /// A token from a Retry packet.
    Retry(RetryToken),
    /// A token from a NEW_TOKEN frame.
    NewToken(NewToken),
}

/// Why a token was refused. A server that refuses a Retry token closes with
/// INVALID_TOKEN (§8.1.2); one that refuses a NEW_TOKEN token carries on as
/// if there were none (§8.1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// Not a token of ours: wrong size, unknown kind, failed authentication
    /// (forged, tampered with, or sealed under another key), bad payload.
    Malformed,
    /// Older than the kind's lifetime.
    Expired,
    /// Issued further in the future than the allowed clock skew.
    NotYetValid,
    /// Issued to another address (Retry: IP and port; NEW_TOKEN: IP).
    AddressMismatch,
    /// A valid token of the other kind.
    WrongKind,
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Malformed => "malformed or forged token",
            Self::Expired => "expired token",
            Self::NotYetValid => "token issued in the future",
            Self::AddressMismatch => "token issued to another address",
            Self::WrongKind => "token of the wrong kind",
        })
    }
}

impl std::error::Error for TokenError {}

/// The server's secret for sealing and opening tokens, with the lifetimes it
/// enforces. Servers of a cluster that share the key accept each other's
/// tokens; a key from configuration keeps tokens valid across restarts.
#[derive(Clone)]
pub struct TokenKey {
    prk: hkdf::Prk,
    retry_lifetime: Duration,
    new_token_lifetime: Duration,
    max_clock_skew: Duration,
}

impl TokenKey {
    /// Retry tokens come straight back (§8.1.4: "only accepted for a short
    /// time"): 15 seconds.
    pub const DEFAULT_RETRY_LIFETIME: Duration = Duration::from_secs(15);
    /// NEW_TOKEN tokens are kept for later connections: 24 hours.
    pub const DEFAULT_NEW_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);
    /// How far in the future a token's issue time may lie (clocks of servers
    /// sharing a key differ a little): 5 seconds.
    pub const DEFAULT_MAX_CLOCK_SKEW: Duration = Duration::from_secs(5);

    /// A key from 32 secret bytes.
    pub fn new(key: &[u8; 32]) -> Self {
        Self {
            prk: hkdf::Prk::new_less_safe(hkdf::HKDF_SHA256, key),
            retry_lifetime: Self::DEFAULT_RETRY_LIFETIME,
            new_token_lifetime: Self::DEFAULT_NEW_TOKEN_LIFETIME,
            max_clock_skew: Self::DEFAULT_MAX_CLOCK_SKEW,
        }
    }

    /// A fresh key from `rng`: tokens then die with the process.
    pub fn from_rng(rng: &mut Rng) -> Self {
        Self::new(&rng.gen_bytes())
    }

    /// Sets how long Retry tokens stay valid.
    pub fn with_retry_lifetime(mut self, lifetime: Duration) -> Self {
        self.retry_lifetime = lifetime;
        self
    }

    /// Sets how long NEW_TOKEN tokens stay valid.
    pub fn with_new_token_lifetime(mut self, lifetime: Duration) -> Self {
        self.new_token_lifetime = lifetime;
        self
    }

    /// Sets how far in the future an issue time may lie.
    pub fn with_max_clock_skew(mut self, skew: Duration) -> Self {
        self.max_clock_skew = skew;
        self
    }

    /// Seals a token for a Retry packet.
    pub fn seal_retry(&self, rng: &mut Rng, token: &RetryToken) -> Vec<u8> {
        let mut payload = Vec::with_capacity(MAX_TOKEN_LEN);
        put_issued(&mut payload, token.issued);
        put_ip(&mut payload, token.client_address.ip());
        payload.put_u16(token.client_address.port());
        token.original_dst_cid.encode_with_len(&mut payload);
        token.retry_src_cid.encode_with_len(&mut payload);
        self.seal(rng, TokenKind::Retry, payload)
    }

    /// Seals a token for a NEW_TOKEN frame.
    pub fn seal_new_token(&self, rng: &mut Rng, token: &NewToken) -> Vec<u8> {
        let mut payload = Vec::with_capacity(MAX_TOKEN_LEN);
        put_issued(&mut payload, token.issued);
        put_ip(&mut payload, token.client_ip);
        self.seal(rng, TokenKind::NewToken, payload)
    }

    /// Opens a token of either kind from a client at `remote`, checking its
    /// integrity, its address binding and its age at `now`.
    pub fn open(
        &self,
        token: &[u8],
        remote: SocketAddr,
        now: SystemTime,
    ) -> Result<Token, TokenError> {
        let mut buf = [0; MAX_TOKEN_LEN];
        let (kind, payload) = self.unseal(token, &mut buf)?;
        let opened = match kind {
            TokenKind::Retry => Token::Retry(decode_retry(payload)?),
            TokenKind::NewToken => Token::NewToken(decode_new_token(payload)?),
        };
        match &opened {
            Token::Retry(retry) => {
                let bound = retry.client_address;
                if bound.ip() != remote.ip().to_canonical() || bound.port() != remote.port() {
                    return Err(TokenError::AddressMismatch);
                }
                self.check_age(retry.issued, now, self.retry_lifetime)?;
            }
            Token::NewToken(new) => {
                if new.client_ip != remote.ip().to_canonical() {
                    return Err(TokenError::AddressMismatch);
                }
                self.check_age(new.issued, now, self.new_token_lifetime)?;
            }
        }
        Ok(opened)
    }

    /// Opens a token that must come from a Retry packet.
    pub fn open_retry(
        &self,
        token: &[u8],
        remote: SocketAddr,
        now: SystemTime,
    ) -> Result<RetryToken, TokenError> {
        match self.open(token, remote, now)? {
            Token::Retry(retry) => Ok(retry),
            Token::NewToken(_) => Err(TokenError::WrongKind),
        }
    }

    /// Opens a token that must come from a NEW_TOKEN frame.
    pub fn open_new_token(
        &self,
        token: &[u8],
        remote: SocketAddr,
        now: SystemTime,
    ) -> Result<NewToken, TokenError> {
        match self.open(token, remote, now)? {
            Token::NewToken(new) => Ok(new),
            Token::Retry(_) => Err(TokenError::WrongKind),
        }
    }

    /// The single-use AEAD key for one token.
    fn token_key(&self, kind: TokenKind, salt: &[u8]) -> Result<LessSafeKey, TokenError> {
        let kind = [kind.byte()];
        let info = [LABEL, &kind[..], salt];
        let okm = self
            .prk
            .expand(&info, &AES_256_GCM)
            .map_err(|_| TokenError::Malformed)?;
        Ok(LessSafeKey::new(UnboundKey::from(okm)))
    }

    fn seal(&self, rng: &mut Rng, kind: TokenKind, mut payload: Vec<u8>) -> Vec<u8> {
        let mut header = [0; HEADER_LEN];
        header[0] = kind.byte();
        rng.fill(&mut header[1..]);
        // Expanding 32 bytes from HKDF-SHA256 and sealing a short payload
        // cannot fail; an empty token (refused by every opener) is the
        // fallback that keeps this function total.
        let sealed = self.token_key(kind, &header[1..]).and_then(|key| {
            key.seal_in_place_append_tag(zero_nonce(), Aad::from(&header[..1]), &mut payload)
                .map_err(|_| TokenError::Malformed)
        });
        if sealed.is_err() {
            return Vec::new();
        }
        let mut token = Vec::with_capacity(HEADER_LEN + payload.len());
        token.extend_from_slice(&header);
        token.extend_from_slice(&payload);
        token
    }

    /// Checks size and authenticity; returns the kind and the plaintext.
    fn unseal<'a>(
        &self,
        token: &[u8],
        buf: &'a mut [u8; MAX_TOKEN_LEN],
    ) -> Result<(TokenKind, &'a [u8]), TokenError> {
        if token.len() < HEADER_LEN + TAG_LEN || token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed);
        }
        let kind = TokenKind::of(token).ok_or(TokenError::Malformed)?;
        let (header, sealed) = token.split_at(HEADER_LEN);
        let key = self.token_key(kind, &header[1..])?;
        let in_out = &mut buf[..sealed.len()];
        in_out.copy_from_slice(sealed);
        let plain = key
            .open_in_place(zero_nonce(), Aad::from(&header[..1]), in_out)
            .map_err(|_| TokenError::Malformed)?;
        Ok((kind, plain))
    }

    fn check_age(
        &self,
        issued: SystemTime,
        now: SystemTime,
        lifetime: Duration,
    ) -> Result<(), TokenError> {
        match now.duration_since(issued) {
            Ok(age) if age > lifetime => Err(TokenError::Expired),
            Ok(_) => Ok(()),
            Err(ahead) if ahead.duration() > self.max_clock_skew => Err(TokenError::NotYetValid),
            Err(_) => Ok(()),
        }
    }
}

impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenKey")
            .field("retry_lifetime", &self.retry_lifetime)
            .field("new_token_lifetime", &self.new_token_lifetime)
            .field("max_clock_skew", &self.max_clock_skew)
            .finish_non_exhaustive()
    }
}

/// Each key seals exactly one payload, so a fixed nonce is safe.
fn zero_nonce() -> Nonce {
    Nonce::assume_unique_for_key([0; 12])
}

fn put_issued(out: &mut Vec<u8>, issued: SystemTime) {
    let millis = issued.duration_since(UNIX_EPOCH).map_or(0, |since| {
        u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
    });
    out.put_u64(millis);
}

/// Stores IPv4-mapped IPv6 addresses as IPv4, so a dual-stack socket and an
/// IPv4 socket agree on a client's address.
fn put_ip(out: &mut Vec<u8>, ip: IpAddr) {
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            out.put_u8(4);
            out.put_slice(&v4.octets());
        }
        IpAddr::V6(v6) => {
            out.put_u8(6);
            out.put_slice(&v6.octets());
        }
    }
}

fn get_issued(input: &mut &[u8]) -> Result<SystemTime, TokenError> {
    let mut millis = [0; 8];
    input
        .read_to_slice(&mut millis)
        .map_err(|_| TokenError::Malformed)?;
    UNIX_EPOCH
        .checked_add(Duration::from_millis(u64::from_be_bytes(millis)))
        .ok_or(TokenError::Malformed)
}

fn get_ip(input: &mut &[u8]) -> Result<IpAddr, TokenError> {
    match input.read_u8().map_err(|_| TokenError::Malformed)? {
        4 => {
            let mut octets = [0; 4];
            input
                .read_to_slice(&mut octets)
                .map_err(|_| TokenError::Malformed)?;
            Ok(IpAddr::V4(Ipv4Addr::from(octets)))
        }
        6 => {
            let mut octets = [0; 16];
            input
                .read_to_slice(&mut octets)
                .map_err(|_| TokenError::Malformed)?;
            Ok(IpAddr::V6(Ipv6Addr::from(octets)))
        }
        _ => Err(TokenError::Malformed),
    }
}

fn decode_retry(mut input: &[u8]) -> Result<RetryToken, TokenError> {
    let input = &mut input;
    let issued = get_issued(input)?;
    let ip = get_ip(input)?;
    let port = input.read_u16().map_err(|_| TokenError::Malformed)?;
    let original_dst_cid =
        ConnectionId::decode_with_len(input).map_err(|_| TokenError::Malformed)?;
    let retry_src_cid = ConnectionId::decode_with_len(input).map_err(|_| TokenError::Malformed)?;
    if !input.is_empty() {
        return Err(TokenError::Malformed);
    }
    Ok(RetryToken {
        original_dst_cid,
        retry_src_cid,
        client_address: SocketAddr::new(ip, port),
        issued,
    })
}

fn decode_new_token(mut input: &[u8]) -> Result<NewToken, TokenError> {
    let input = &mut input;
    let issued = get_issued(input)?;
    let client_ip = get_ip(input)?;
    if !input.is_empty() {
        return Err(TokenError::Malformed);
    }
    Ok(NewToken { client_ip, issued })
}

#[cfg(test)]
mod tests;
