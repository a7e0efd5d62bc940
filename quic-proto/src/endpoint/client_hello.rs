//! Reading a client's first flight before a connection exists: the server
//! opens the first Initial, reassembles the start of the ClientHello from
//! its CRYPTO frames and finds the QUIC transport parameters extension
//! (RFC 9001 §8.2), so it can pick the version before building the TLS
//! session (RFC 9368 §2.3).

use bytes::{Buf, BytesMut};

use crate::cid::ConnectionId;
use crate::crypto::initial_keys;
use crate::frame::{Frame, Iter};
use crate::packet::PartialDecode;
use crate::shared::Side;
use crate::transport_params::TransportParameters;
use crate::version::Version;

/// The TLS extension carrying QUIC transport parameters (RFC 9001 §8.2).
const QUIC_TRANSPORT_PARAMETERS: u16 = 0x39;
/// TLS handshake message type of a ClientHello (RFC 8446 §4).
const CLIENT_HELLO: u8 = 1;

/// The client's first Initial did not open: it is not a valid Initial.
#[derive(Debug)]
pub(super) struct InvalidInitial;

/// Opens the client's first Initial (in `datagram`) and returns its
/// transport parameters when the ClientHello's beginning up to that
/// extension is in this packet and parses (`Ok(None)` otherwise: a large
/// ClientHello may continue in the next packet). A packet that does not
/// open is an [`InvalidInitial`].
pub(super) fn client_transport_parameters(
    datagram: &BytesMut,
    version: Version,
    dst_cid: &ConnectionId,
) -> Result<Option<TransportParameters>, InvalidInitial> {
    let keys = initial_keys(version, dst_cid, Side::Server).map_err(|_| InvalidInitial)?;
    let (partial, _) = PartialDecode::new(datagram.clone(), 0, true).map_err(|_| InvalidInitial)?;
    let mut packet = partial
        .finish(Some(&*keys.header.remote))
        .map_err(|_| InvalidInitial)?;
    let pn = packet.header.number().ok_or(InvalidInitial)?.expand(None);
    keys.packet
        .remote
        .decrypt(pn, &packet.header_data, &mut packet.payload)
        .map_err(|_| InvalidInitial)?;
    let params = first_crypto_bytes(packet.payload.freeze())
        .and_then(|hello| quic_transport_parameters(&hello).map(<[u8]>::to_vec))
        .and_then(|raw| TransportParameters::decode(Side::Client, &raw).ok());
    Ok(params)
}

/// The CRYPTO data from offset 0 that is contiguous in this packet.
fn first_crypto_bytes(payload: bytes::Bytes) -> Option<Vec<u8>> {
    let mut pieces: Vec<(u64, bytes::Bytes)> = Iter::new(payload)
        .filter_map(|frame| match frame {
            Ok(Frame::Crypto(c)) => Some((c.offset, c.data)),
            _ => None,
        })
        .collect();
    pieces.sort_by_key(|(offset, _)| *offset);
    let mut hello = Vec::new();
    for (offset, data) in pieces {
        let offset = usize::try_from(offset).ok()?;
        if offset > hello.len() {
            break;
        }
        let skip = hello.len() - offset;
        if skip < data.len() {
            hello.extend_from_slice(&data[skip..]);
        }
    }
    (!hello.is_empty()).then_some(hello)
}

/// The value of the quic_transport_parameters extension of a ClientHello
/// (RFC 8446 §4.1.2 layout). Every length is checked.
fn quic_transport_parameters(message: &[u8]) -> Option<&[u8]> {
    let mut input = message;
    if take_u8(&mut input)? != CLIENT_HELLO {
        return None;
    }
    let len = take_uint(&mut input, 3)?;
    let mut body = take(&mut input, len)?;
    take(&mut body, 2 + 32)?; // legacy_version, random
    let session_id = take_uint(&mut body, 1)?;
    take(&mut body, session_id)?;
    let suites = take_uint(&mut body, 2)?;
    take(&mut body, suites)?;
    let compression = take_uint(&mut body, 1)?;
    take(&mut body, compression)?;
    let extensions_len = take_uint(&mut body, 2)?;
    let mut extensions = take(&mut body, extensions_len)?;
    while !extensions.is_empty() {
        let ty = take_uint(&mut extensions, 2)?;
        let len = take_uint(&mut extensions, 2)?;
        let data = take(&mut extensions, len)?;
        if ty == usize::from(QUIC_TRANSPORT_PARAMETERS) {
            return Some(data);
        }
    }
    None
}

fn take<'a>(input: &mut &'a [u8], len: usize) -> Option<&'a [u8]> {
    let (head, rest) = input.split_at_checked(len)?;
    *input = rest;
    Some(head)
}

fn take_u8(input: &mut &[u8]) -> Option<u8> {
    let byte = *input.first()?;
    input.advance(1);
    Some(byte)
}

fn take_uint(input: &mut &[u8], bytes: usize) -> Option<usize> {
    take(input, bytes).map(|b| b.iter().fold(0usize, |acc, &x| (acc << 8) | usize::from(x)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ClientHello with two extensions, the second the QUIC transport
    /// parameters; truncations never panic and give `None`.
    #[test]
    fn finds_the_extension_and_survives_truncation() {
        let mut body = vec![3, 3];
        body.extend([0u8; 32]);
        body.extend([0]); // session id
        body.extend([0, 2, 0x13, 0x01]); // one suite
        body.extend([1, 0]); // compression
        let mut extensions = vec![0, 10, 0, 2, 0xaa, 0xbb];
        extensions.extend([0, 0x39, 0, 3, 1, 2, 3]);
        body.extend((extensions.len() as u16).to_be_bytes());
        body.extend(extensions);
        let mut message = vec![CLIENT_HELLO];
        message.extend(&(body.len() as u32).to_be_bytes()[1..]);
        message.extend(body);
        assert_eq!(quic_transport_parameters(&message), Some(&[1u8, 2, 3][..]));
        for cut in 0..message.len() {
            assert_eq!(quic_transport_parameters(&message[..cut]), None);
        }
    }
}
