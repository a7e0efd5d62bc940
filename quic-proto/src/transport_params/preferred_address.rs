//! The `preferred_address` transport parameter (RFC 9000 §18.2, §9.6).
//!
//! ```text
//! Preferred Address {
//!   IPv4 Address (32),
//!   IPv4 Port (16),
//!   IPv6 Address (128),
//!   IPv6 Port (16),
//!   Connection ID Length (8),
//!   Connection ID (..),
//!   Stateless Reset Token (128),
//! }
//! ```
//! RFC 9000 §18.2, Figure 22.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};

use bytes::BufMut;

use super::{Malformed, RESET_TOKEN_LEN};
use crate::cid::ConnectionId;
use crate::coding::BufExt;

/// A server's preferred address (RFC 9000 §18.2, §9.6), with the connection
/// ID of sequence number 1 and its stateless reset token (RFC 9000 §5.1.1).
///
/// RFC 9000 §18.2: "Servers MAY choose to only send a preferred address of one
/// address family by sending an all-zero address and port (`0.0.0.0:0` or
/// `[::]:0`) for the other family." Such an all-zero family decodes as `None`,
/// and `None` encodes as all zeros (so `Some(0.0.0.0:0)` is sent as, and
/// comes back as, `None`). A value with neither family decodes as it stands;
/// the connection then has no address to migrate to. The IPv6 flow label and
/// scope ID are not carried on the wire: they decode as 0 and are ignored
/// when encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PreferredAddress {
    /// The IPv4 address and port, if the server offers one.
    pub ipv4: Option<SocketAddrV4>,
    /// The IPv6 address and port, if the server offers one.
    pub ipv6: Option<SocketAddrV6>,
    /// The connection ID to use at the preferred address (sequence number
    /// 1). RFC 9000 §18.2: it MUST NOT be zero-length.
    pub connection_id: ConnectionId,
    /// The stateless reset token for `connection_id`.
    pub stateless_reset_token: [u8; RESET_TOKEN_LEN],
}

impl PreferredAddress {
    /// The encoded size without the connection ID: addresses, ports, the
    /// Connection ID Length byte and the token.
    const FIXED_LEN: usize = 4 + 2 + 16 + 2 + 1 + RESET_TOKEN_LEN;

    /// Reads the parameter's value, which must be consumed exactly.
    pub(super) fn decode(value: &[u8]) -> Result<Self, Malformed> {
        let mut input = value;
        let ipv4 = Ipv4Addr::from(input.read_u32()?);
        let ipv4_port = input.read_u16()?;
        let mut ipv6 = [0; 16];
        input.read_to_slice(&mut ipv6)?;
        let ipv6 = Ipv6Addr::from(ipv6);
        let ipv6_port = input.read_u16()?;
        let connection_id = ConnectionId::decode_with_len(&mut input)?;
        let mut stateless_reset_token = [0; RESET_TOKEN_LEN];
        input.read_to_slice(&mut stateless_reset_token)?;
        if !input.is_empty() {
            return Err(Malformed);
        }
        Ok(Self {
            ipv4: (!ipv4.is_unspecified() || ipv4_port != 0)
                .then(|| SocketAddrV4::new(ipv4, ipv4_port)),
            ipv6: (!ipv6.is_unspecified() || ipv6_port != 0)
                .then(|| SocketAddrV6::new(ipv6, ipv6_port, 0, 0)),
            connection_id,
            stateless_reset_token,
        })
    }

    /// Appends the parameter's value (not its identifier or length).
    pub fn encode<B: BufMut>(&self, out: &mut B) {
        let (ipv4, ipv4_port) = self
            .ipv4
            .map_or((Ipv4Addr::UNSPECIFIED, 0), |a| (*a.ip(), a.port()));
        let (ipv6, ipv6_port) = self
            .ipv6
            .map_or((Ipv6Addr::UNSPECIFIED, 0), |a| (*a.ip(), a.port()));
        out.put_slice(&ipv4.octets());
        out.put_u16(ipv4_port);
        out.put_slice(&ipv6.octets());
        out.put_u16(ipv6_port);
        self.connection_id.encode_with_len(out);
        out.put_slice(&self.stateless_reset_token);
    }

    /// The size of the value [`encode`](Self::encode) writes.
    pub fn encoded_len(&self) -> usize {
        Self::FIXED_LEN + self.connection_id.len()
    }
}
