//! The `version_information` transport parameter (RFC 9368 §3).
//!
//! ```text
//! Version Information {
//!   Chosen Version (32),
//!   Available Versions (32) ...,
//! }
//! ```
//! RFC 9368 §3, Figure 2.

use std::fmt;

use bytes::{BufMut, Bytes};

use super::Malformed;
use crate::coding::BufExt;
use crate::shared::Side;
use crate::version::Version;

/// Version Information (RFC 9368 §3): the version the sender chose and the
/// versions it offers.
///
/// The available versions are kept as their wire bytes (a multiple of four),
/// so decoding copies at most the parameter's own length and never allocates
/// per version.
#[derive(Clone, PartialEq, Eq)]
pub struct VersionInformation {
    /// The version the sender has chosen for this connection.
    pub chosen_version: Version,
    /// Available Versions as big-endian `u32`s; the length is a multiple of 4.
    available_versions: Bytes,
}

impl VersionInformation {
    /// Version Information choosing `chosen_version` and offering
    /// `available_versions`, in the sender's order.
    ///
    /// RFC 9368 §3: a client MUST list its chosen version among the available
    /// ones; a server's list holds its fully deployed versions and MAY be
    /// empty.
    pub fn new(chosen_version: Version, available_versions: &[Version]) -> Self {
        let mut bytes = Vec::with_capacity(available_versions.len().saturating_mul(4));
        for version in available_versions {
            bytes.put_u32(version.0);
        }
        Self {
            chosen_version,
            available_versions: bytes.into(),
        }
    }

    /// The Available Versions field, in wire order.
    pub fn available_versions(&self) -> impl ExactSizeIterator<Item = Version> + '_ {
        self.available_versions
            .chunks_exact(4)
            .map(|c| Version(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
    }

    /// Reads the parameter's value: a Chosen Version and a whole number of
    /// Available Versions (RFC 9368 §4: a parsing failure includes a value
    /// "too short or if its length is not divisible by four"). The other
    /// parsing rules of §4 are in [`is_valid`](Self::is_valid).
    pub(super) fn decode(value: &[u8]) -> Result<Self, Malformed> {
        let mut input = value;
        let chosen_version = Version(input.read_u32()?);
        if input.len() % 4 != 0 {
            return Err(Malformed);
        }
        Ok(Self {
            chosen_version,
            available_versions: Bytes::copy_from_slice(input),
        })
    }

    /// Whether Version Information that `sender` sent passes RFC 9368 §4's
    /// remaining parsing rules: "If an endpoint receives a Chosen Version
    /// equal to zero, or any Available Version equal to zero, it MUST treat
    /// it as a parsing failure. If a server receives Version Information
    /// where the Chosen Version is not included in Available Versions, it
    /// MUST treat it as a parsing failure."
    pub fn is_valid(&self, sender: Side) -> bool {
        let chosen = self.chosen_version;
        let mut chosen_listed = false;
        for version in self.available_versions() {
            if version.0 == 0 {
                return false;
            }
            chosen_listed |= version == chosen;
        }
        chosen.0 != 0 && (sender.is_server() || chosen_listed)
    }

    /// Appends the parameter's value (not its identifier or length).
    pub fn encode<B: BufMut>(&self, out: &mut B) {
        out.put_u32(self.chosen_version.0);
        out.put_slice(&self.available_versions);
    }

    /// The size of the value [`encode`](Self::encode) writes.
    pub fn encoded_len(&self) -> usize {
        4 + self.available_versions.len()
    }
}

impl fmt::Debug for VersionInformation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Available<'a>(&'a VersionInformation);
        impl fmt::Debug for Available<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_list().entries(self.0.available_versions()).finish()
            }
        }
        f.debug_struct("VersionInformation")
            .field("chosen_version", &self.chosen_version)
            .field("available_versions", &Available(self))
            .finish()
    }
}
