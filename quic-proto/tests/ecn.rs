//! ECN (RFC 9000 §13.4): packets go out marked ECT(0), the peer echoes the
//! counts in its ACK frames, and a path that erases the marks fails
//! validation so that marking stops.
#![allow(missing_debug_implementations)]

mod harness;
mod sim;

use harness::apps::{Transfer, stream_data};
use harness::pair::PairBuilder;
use quic_proto::Dir;
use sim::{ms, run_seeded, secs, seeds};

fn upload() -> Transfer {
    Transfer::new(
        (0..4)
            .map(|i| (Dir::Uni, stream_data(3, i, 100_000)))
            .collect(),
    )
}

/// On a path that carries ECN marks, validation succeeds: both sides still
/// mark after a transfer (RFC 9000 §13.4.2).
#[test]
fn ecn_validates_on_a_clean_path() {
    run_seeded("ecn_validates_on_a_clean_path", seeds(2), |seed| {
        let mut pair = PairBuilder::new(seed)
            .client_app(upload())
            .link(|l| l.delay(ms(10)))
            .build();
        pair.drive_until_connected(secs(5))?;
        pair.net.run_for(secs(2))?;
        assert!(
            pair.client_mut().conn.stats().ecn_marking,
            "client still marks"
        );
        assert!(
            pair.server_mut().conn.stats().ecn_marking,
            "server still marks"
        );
        Ok(())
    });
}

/// A path that clears the ECN bits makes the peer's ACKs carry no counts
/// for packets we marked: validation fails and marking stops
/// (RFC 9000 §13.4.2.1), and the transfer is unaffected.
#[test]
fn ecn_bleaching_path_fails_validation() {
    run_seeded("ecn_bleaching_path_fails_validation", seeds(2), |seed| {
        let mut pair = PairBuilder::new(seed)
            .client_app(upload())
            .link(|l| l.delay(ms(10)).ecn_bleach())
            .build();
        pair.drive_until_connected(secs(5))?;
        pair.net.run_for(secs(2))?;
        assert!(!pair.client_mut().conn.stats().ecn_marking);
        assert!(!pair.server_mut().conn.stats().ecn_marking);
        Ok(())
    });
}
