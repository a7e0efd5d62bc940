use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use proptest::prelude::*;

use super::*;
use crate::rand::Rng;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000 + secs)
}

fn client() -> SocketAddr {
    "192.0.2.7:4433".parse().unwrap()
}

fn cid(bytes: &[u8]) -> ConnectionId {
    ConnectionId::new(bytes).unwrap()
}

fn retry(issued: SystemTime) -> RetryToken {
    RetryToken {
        original_dst_cid: cid(&[1; 8]),
        retry_src_cid: cid(&[2; 20]),
        client_address: client(),
        issued,
    }
}

fn setup() -> (TokenKey, Rng) {
    let mut rng = Rng::seed_from_u64(1);
    (TokenKey::from_rng(&mut rng), rng)
}

/// RFC 9000 §8.1.2: a Retry token comes back with what the server needs.
#[test]
fn retry_round_trip() {
    let (key, mut rng) = setup();
    let token = key.seal_retry(&mut rng, &retry(at(0)));
    assert_eq!(TokenKind::of(&token), Some(TokenKind::Retry));
    assert!(token.len() <= MAX_TOKEN_LEN);
    assert_eq!(key.open_retry(&token, client(), at(1)), Ok(retry(at(0))));
    assert_eq!(
        key.open(&token, client(), at(1)),
        Ok(Token::Retry(retry(at(0))))
    );
}

/// RFC 9000 §8.1.3: a NEW_TOKEN token binds the IP only.
#[test]
fn new_token_round_trip() {
    let (key, mut rng) = setup();
    let new = NewToken {
        client_ip: client().ip(),
        issued: at(0),
    };
    let token = key.seal_new_token(&mut rng, &new);
    assert_eq!(TokenKind::of(&token), Some(TokenKind::NewToken));
    // The client comes back from another port hours later.
    let later_port: SocketAddr = "192.0.2.7:50000".parse().unwrap();
    assert_eq!(key.open_new_token(&token, later_port, at(3600)), Ok(new));
}

/// RFC 9000 §8.1.3: every NEW_TOKEN token is unique, even for the same
/// client at the same time.
#[test]
fn tokens_are_unique() {
    let (key, mut rng) = setup();
    let new = NewToken {
        client_ip: client().ip(),
        issued: at(0),
    };
    let a = key.seal_new_token(&mut rng, &new);
    let b = key.seal_new_token(&mut rng, &new);
    assert_ne!(a, b);
    assert_ne!(a[1..17], b[1..17]);
}

/// RFC 9000 §8.1.4: tokens are integrity protected; any change is refused.
#[test]
fn tampering_is_detected() {
    let (key, mut rng) = setup();
    let token = key.seal_retry(&mut rng, &retry(at(0)));
    for index in 0..token.len() {
        for bit in [0x01, 0x80] {
            let mut bad = token.clone();
            bad[index] ^= bit;
            assert_eq!(
                key.open(&bad, client(), at(1)),
                Err(TokenError::Malformed),
                "byte {index}"
            );
        }
    }
    assert_eq!(
        key.open(&token[..token.len() - 1], client(), at(1)),
        Err(TokenError::Malformed)
    );
    let mut longer = token.clone();
    longer.push(0);
    assert_eq!(
        key.open(&longer, client(), at(1)),
        Err(TokenError::Malformed)
    );
    // Changing the kind byte to the other valid kind is caught too.
    let mut swapped = token.clone();
    swapped[0] = 0x02;
    assert_eq!(
        key.open(&swapped, client(), at(1)),
        Err(TokenError::Malformed)
    );
}

/// RFC 9000 §8.1.4: only the server's key opens its tokens.
#[test]
fn another_key_cannot_open() {
    let (key, mut rng) = setup();
    let other = TokenKey::new(&[0x42; 32]);
    let token = key.seal_retry(&mut rng, &retry(at(0)));
    assert_eq!(
        other.open(&token, client(), at(1)),
        Err(TokenError::Malformed)
    );
    // The same key bytes after a restart open it.
    let (restarted, _) = setup();
    assert!(restarted.open(&token, client(), at(1)).is_ok());
}

/// RFC 9000 §8.1.3, §8.1.4: tokens expire; Retry tokens quickly.
#[test]
fn expiry() {
    let (key, mut rng) = setup();
    let token = key.seal_retry(&mut rng, &retry(at(0)));
    assert!(key.open(&token, client(), at(15)).is_ok());
    assert_eq!(key.open(&token, client(), at(16)), Err(TokenError::Expired));
    let new = key.seal_new_token(
        &mut rng,
        &NewToken {
            client_ip: client().ip(),
            issued: at(0),
        },
    );
    assert!(key.open(&new, client(), at(24 * 3600)).is_ok());
    assert_eq!(
        key.open(&new, client(), at(24 * 3600 + 1)),
        Err(TokenError::Expired)
    );
    // Lifetimes are configurable.
    let (key, _) = setup();
    let key = key
        .with_retry_lifetime(Duration::from_secs(2))
        .with_new_token_lifetime(Duration::from_secs(60));
    assert_eq!(key.open(&token, client(), at(3)), Err(TokenError::Expired));
    assert_eq!(key.open(&new, client(), at(61)), Err(TokenError::Expired));
}

#[test]
fn future_tokens_beyond_skew_are_refused() {
    let (key, mut rng) = setup();
    let token = key.seal_retry(&mut rng, &retry(at(100)));
    assert!(key.open(&token, client(), at(95)).is_ok());
    assert_eq!(
        key.open(&token, client(), at(94)),
        Err(TokenError::NotYetValid)
    );
    let (strict, _) = setup();
    let strict = strict.with_max_clock_skew(Duration::ZERO);
    assert_eq!(
        strict.open(&token, client(), at(99)),
        Err(TokenError::NotYetValid)
    );
    assert!(strict.open(&token, client(), at(100)).is_ok());
}

/// RFC 9000 §8.1.4: Retry tokens bind IP and port, NEW_TOKEN tokens the IP.
#[test]
fn address_binding() {
    let (key, mut rng) = setup();
    let token = key.seal_retry(&mut rng, &retry(at(0)));
    let other_port: SocketAddr = "192.0.2.7:4434".parse().unwrap();
    let other_ip: SocketAddr = "192.0.2.8:4433".parse().unwrap();
    assert_eq!(
        key.open(&token, other_port, at(1)),
        Err(TokenError::AddressMismatch)
    );
    assert_eq!(
        key.open(&token, other_ip, at(1)),
        Err(TokenError::AddressMismatch)
    );
    let new = key.seal_new_token(
        &mut rng,
        &NewToken {
            client_ip: client().ip(),
            issued: at(0),
        },
    );
    assert!(key.open(&new, other_port, at(1)).is_ok());
    assert_eq!(
        key.open(&new, other_ip, at(1)),
        Err(TokenError::AddressMismatch)
    );
}

/// A dual-stack socket reports IPv4 clients as IPv4-mapped IPv6 addresses;
/// they match the plain IPv4 form.
#[test]
fn ipv4_mapped_addresses_match() {
    let (key, mut rng) = setup();
    let mapped = SocketAddr::new(
        IpAddr::V6(Ipv4Addr::new(192, 0, 2, 7).to_ipv6_mapped()),
        4433,
    );
    let token = key.seal_retry(&mut rng, &retry(at(0)));
    assert!(key.open(&token, mapped, at(1)).is_ok());
    let mut from_mapped = retry(at(0));
    from_mapped.client_address = mapped;
    let token = key.seal_retry(&mut rng, &from_mapped);
    assert!(key.open(&token, client(), at(1)).is_ok());
    let v6: SocketAddr = SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 9);
    let mut six = retry(at(0));
    six.client_address = v6;
    let token = key.seal_retry(&mut rng, &six);
    assert_eq!(key.open_retry(&token, v6, at(1)), Ok(six));
    assert_eq!(
        key.open(&token, client(), at(1)),
        Err(TokenError::AddressMismatch)
    );
}

/// RFC 9000 §8.1.1, §8.1.3: the two kinds are told apart and handled
/// differently.
#[test]
fn wrong_kind() {
    let (key, mut rng) = setup();
    let retry_token = key.seal_retry(&mut rng, &retry(at(0)));
    let new_token = key.seal_new_token(
        &mut rng,
        &NewToken {
            client_ip: client().ip(),
            issued: at(0),
        },
    );
    assert_eq!(
        key.open_new_token(&retry_token, client(), at(1)),
        Err(TokenError::WrongKind)
    );
    assert_eq!(
        key.open_retry(&new_token, client(), at(1)),
        Err(TokenError::WrongKind)
    );
    assert_eq!(TokenKind::of(&[]), None);
    assert_eq!(TokenKind::of(&[0x03]), None);
}

#[test]
fn max_token_len_is_reached_by_the_largest_retry_token() {
    let (key, mut rng) = setup();
    let mut largest = retry(at(0));
    largest.original_dst_cid = cid(&[3; 20]);
    largest.client_address = SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 1);
    let token = key.seal_retry(&mut rng, &largest);
    assert_eq!(token.len(), MAX_TOKEN_LEN);
    assert_eq!(
        key.open_retry(&token, largest.client_address, at(0)),
        Ok(largest)
    );
}

#[test]
fn debug_hides_the_key() {
    let (key, _) = setup();
    let shown = format!("{key:?}");
    assert!(shown.contains("retry_lifetime"));
    assert!(!shown.contains("prk"));
    assert_eq!(TokenError::Expired.to_string(), "expired token");
}

fn any_socket_addr() -> impl Strategy<Value = SocketAddr> {
    prop_oneof![
        (any::<[u8; 4]>(), any::<u16>()).prop_map(|(ip, port)| SocketAddr::from((ip, port))),
        (any::<[u8; 16]>(), any::<u16>()).prop_map(|(ip, port)| SocketAddr::from((ip, port))),
    ]
}

fn any_cid() -> impl Strategy<Value = ConnectionId> {
    proptest::collection::vec(any::<u8>(), 0..=20).prop_map(|bytes| cid(&bytes))
}

proptest! {
    #[test]
    fn retry_round_trips(
        seed: u64,
        original_dst_cid in any_cid(),
        retry_src_cid in any_cid(),
        addr in any_socket_addr(),
        millis in 0u64..4_000_000_000_000,
    ) {
        let mut rng = Rng::seed_from_u64(seed);
        let key = TokenKey::from_rng(&mut rng);
        let issued = UNIX_EPOCH + Duration::from_millis(millis);
        let token = RetryToken {
            original_dst_cid,
            retry_src_cid,
            client_address: SocketAddr::new(addr.ip().to_canonical(), addr.port()),
            issued,
        };
        let sealed = key.seal_retry(&mut rng, &token);
        prop_assert!(sealed.len() <= MAX_TOKEN_LEN);
        prop_assert_eq!(key.open_retry(&sealed, addr, issued), Ok(token));
    }

    #[test]
    fn new_token_round_trips(seed: u64, addr in any_socket_addr(), millis in 0u64..4_000_000_000_000) {
        let mut rng = Rng::seed_from_u64(seed);
        let key = TokenKey::from_rng(&mut rng);
        let issued = UNIX_EPOCH + Duration::from_millis(millis);
        let token = NewToken { client_ip: addr.ip().to_canonical(), issued };
        let sealed = key.seal_new_token(&mut rng, &token);
        prop_assert_eq!(key.open_new_token(&sealed, addr, issued), Ok(token));
    }

    /// Opening arbitrary bytes never panics and never succeeds.
    #[test]
    fn arbitrary_bytes_are_refused(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let key = TokenKey::new(&[7; 32]);
        prop_assert_eq!(key.open(&bytes, client(), at(0)), Err(TokenError::Malformed));
    }
}
