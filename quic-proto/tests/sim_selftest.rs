//! Self-tests of the simulated network (`tests/sim/`), driven by toy hosts:
//! every impairment does exactly what it claims, runs are deterministic, and
//! the driver can neither hang nor lose track of time.

mod sim;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use sim::toy::{Livelock, Scripted, ToyPeer};
use sim::{
    Datagram, EventKind, LinkBuilder, Network, Progress, SimError, SimRng, Switch, addr, ms,
    run_seeded, secs, seeds, us,
};

const A: u8 = 1;
const B: u8 = 2;

/// Two scripted hosts, A and B, with `link` from A to B (B to A is default).
fn pair(seed: u64, link: impl FnOnce(LinkBuilder) -> LinkBuilder) -> Network<Scripted> {
    let mut net = Network::new(seed);
    net.add_host(addr(A), Scripted::new());
    net.add_host(addr(B), Scripted::new());
    net.set_link(addr(A), addr(B), link);
    net
}

/// A datagram from A to B carrying `seq` and `len - 4` filler bytes.
fn numbered(seq: u32, len: usize) -> Datagram {
    let mut payload = seq.to_be_bytes().to_vec();
    payload.resize(len.max(4), 0xab);
    Datagram::new(addr(A), addr(B), payload)
}

fn seq_of(d: &Datagram) -> u32 {
    u32::from_be_bytes(d.payload[..4].try_into().unwrap())
}

/// Schedules `n` numbered datagrams of `len` bytes from A, one every `every`.
fn send_train(net: &mut Network<Scripted>, n: u32, every: Duration, len: usize) {
    let t0 = net.now();
    for i in 0..n {
        net.host_mut(addr(A))
            .send_at(t0 + every * i, numbered(i, len));
    }
}

fn received(net: &Network<Scripted>) -> &[(Instant, Datagram)] {
    &net.host(addr(B)).received
}

// ----- SimRng -----

#[test]
fn rng_matches_reference_vectors() {
    // splitmix64 from 0, and xoshiro256** from state {1, 2, 3, 4}.
    let mut state = 0;
    assert_eq!(sim::rng::splitmix64(&mut state), 0xe220_a839_7b1d_cdaf);
    let mut rng = SimRng::from_state([1, 2, 3, 4]);
    assert_eq!(
        [rng.next_u64(), rng.next_u64(), rng.next_u64()],
        [11520, 0, 1_509_978_240]
    );
}

#[test]
fn rng_forks_are_stable_and_independent_of_draws() {
    let mut a = SimRng::from_seed(9);
    let mut b = SimRng::from_seed(9);
    b.next_u64();
    let mut b_child = b.fork();
    assert_eq!(
        a.fork().next_u64(),
        b_child.next_u64(),
        "draws don't move forks"
    );
    assert_ne!(
        a.fork().next_u64(),
        a.fork().next_u64(),
        "successive forks differ"
    );
    assert_eq!(
        a.derive(5).next_u64(),
        b.derive(5).next_u64(),
        "derive ignores forks"
    );
    assert_ne!(a.derive(5).next_u64(), a.derive(6).next_u64());
    assert_ne!(
        SimRng::from_seed(1).next_u64(),
        SimRng::from_seed(2).next_u64()
    );
}

#[test]
fn rng_ranges_bools_and_bytes() {
    let mut rng = SimRng::from_seed(3);
    let mut counts = [0u32; 6];
    for _ in 0..60_000 {
        counts[rng.gen_range(10..16) as usize - 10] += 1;
    }
    // Each bucket expects 10,000 (sd ~91): 6 sd either side.
    assert!(
        counts.iter().all(|&c| (9_450..=10_550).contains(&c)),
        "{counts:?}"
    );
    assert_eq!(rng.gen_range(7..8), 7);
    assert!(rng.gen_range_inclusive(u64::MAX - 1..=u64::MAX) >= u64::MAX - 1);
    let d = rng.gen_duration(ms(1)..=ms(2));
    assert!((ms(1)..=ms(2)).contains(&d));
    let hits = (0..10_000).filter(|_| rng.gen_bool(0.25)).count();
    assert!((2_250..=2_750).contains(&hits), "{hits}");
    assert!(!rng.gen_bool(0.0) && rng.gen_bool(1.0));
    let (mut x, mut y) = ([0u8; 13], [0u8; 13]);
    SimRng::from_seed(4).fill_bytes(&mut x);
    SimRng::from_seed(4).fill_bytes(&mut y);
    assert_eq!(x, y);
    assert_ne!(x, [0; 13]);
}

// ----- links and nodes, through the network -----

#[test]
fn delay_is_exact_and_fifo() {
    let mut net = pair(1, |l| l.delay(ms(20)));
    send_train(&mut net, 5, us(300), 100);
    net.drive_idle(secs(1)).unwrap();
    let t0 = net.start();
    let got: Vec<_> = received(&net)
        .iter()
        .map(|(t, d)| (*t - t0, seq_of(d)))
        .collect();
    let want: Vec<_> = (0..5).map(|i| (ms(20) + us(300) * i, i)).collect();
    assert_eq!(got, want);
}

#[test]
fn unconfigured_links_use_the_default_delay() {
    let mut net = Network::new(1);
    net.add_host(addr(A), Scripted::new());
    net.add_host(addr(B), Scripted::echo());
    let t0 = net.now();
    net.host_mut(addr(A)).send_at(t0, numbered(0, 10));
    net.drive_idle(secs(1)).unwrap();
    let echo_back = net.host(addr(A)).arrival_times();
    assert_eq!(
        net.host(addr(B)).arrival_times(),
        [t0 + sim::network::DEFAULT_DELAY]
    );
    assert_eq!(echo_back, [t0 + sim::network::DEFAULT_DELAY * 2]);
}

#[test]
fn loss_rate_is_within_statistical_bounds() {
    run_seeded("loss_rate_is_within_statistical_bounds", seeds(3), |seed| {
        let mut net = pair(seed, |l| l.loss(0.1).delay(ms(5)));
        send_train(&mut net, 5_000, us(10), 20);
        net.drive_idle(secs(1))?;
        let lost = 5_000 - received(&net).len() as u64;
        let stats = net.link(addr(A), addr(B)).unwrap().stats();
        // Binomial(5,000, 0.1): mean 500, sd 21.2; allow 5 sd.
        if !(394..=606).contains(&lost) || stats.dropped != lost {
            return Err(format!("lost {lost}, node counted {}", stats.dropped));
        }
        Ok(())
    });
}

#[test]
fn loss_extremes_drop_nothing_or_everything() {
    for (p, want) in [(0.0, 100), (1.0, 0)] {
        let mut net = pair(2, |l| l.loss(p));
        send_train(&mut net, 100, ms(1), 20);
        net.drive_idle(secs(1)).unwrap();
        assert_eq!(received(&net).len(), want, "p = {p}");
    }
}

#[test]
fn reordering_happens_within_its_extra_delay() {
    let mut net = pair(3, |l| l.delay(ms(10)).reorder(0.2, ms(5)));
    send_train(&mut net, 1_000, ms(1), 20);
    net.drive_idle(secs(5)).unwrap();
    let t0 = net.start();
    let got = received(&net);
    assert_eq!(got.len(), 1_000, "reordering loses nothing");
    let late = got
        .windows(2)
        .filter(|w| seq_of(&w[0].1) > seq_of(&w[1].1))
        .count();
    assert!(late > 20, "only {late} inversions");
    for (t, d) in got {
        let flight = *t - (t0 + ms(1) * seq_of(d));
        assert!((ms(10)..=ms(15)).contains(&flight), "flight {flight:?}");
    }
    let reordered = net.link(addr(A), addr(B)).unwrap().stats().reordered;
    assert!((140..=260).contains(&reordered), "{reordered}");
}

#[test]
fn duplicates_occur_and_are_identical() {
    let mut net = pair(4, |l| l.duplicate(0.1).delay(ms(1)));
    send_train(&mut net, 1_000, ms(1), 50);
    net.drive_idle(secs(5)).unwrap();
    let dups = net.link(addr(A), addr(B)).unwrap().stats().duplicated;
    let got = received(&net);
    assert!((50..=150).contains(&dups), "{dups}");
    assert_eq!(got.len() as u64, 1_000 + dups);
    let twins = got.windows(2).filter(|w| w[0] == w[1]).count() as u64;
    assert_eq!(twins, dups, "each copy arrives with its original");
    let traffic = net.traffic().pair(addr(A), addr(B));
    assert_eq!(
        (traffic.sent_datagrams, traffic.delivered_datagrams),
        (1_000, 1_000 + dups)
    );
}

#[test]
fn corruption_flips_exactly_one_bit() {
    let mut rng = SimRng::from_seed(5);
    let mut net = pair(5, |l| l.corrupt(1.0));
    let t0 = net.now();
    let mut sent = Vec::new();
    for i in 0..200u32 {
        let mut payload = vec![0; 1 + rng.gen_range(0..1200) as usize];
        rng.fill_bytes(&mut payload);
        sent.push(payload.clone());
        net.host_mut(addr(A))
            .send_at(t0 + ms(1) * i, Datagram::new(addr(A), addr(B), payload));
    }
    net.host_mut(addr(A))
        .send_at(t0 + secs(1), Datagram::new(addr(A), addr(B), [0u8; 0]));
    net.drive_idle(secs(2)).unwrap();
    let got = received(&net);
    for (original, (_, d)) in sent.iter().zip(got) {
        let flipped: u32 = original
            .iter()
            .zip(&d.payload)
            .map(|(a, b)| (a ^ b).count_ones())
            .sum();
        assert_eq!((flipped, d.len()), (1, original.len()));
    }
    assert!(got[200].1.is_empty(), "an empty payload passes untouched");
    assert_eq!(net.link(addr(A), addr(B)).unwrap().stats().corrupted, 200);
}

#[test]
fn mtu_drops_larger_datagrams() {
    let mut net = pair(6, |l| l.mtu(1200));
    let t0 = net.now();
    for (i, len) in [1199, 1200, 1201, 1500, 20].into_iter().enumerate() {
        net.host_mut(addr(A))
            .send_at(t0 + ms(i as u64), numbered(i as u32, len));
    }
    net.drive_idle(secs(1)).unwrap();
    let lens: Vec<_> = received(&net).iter().map(|(_, d)| d.len()).collect();
    assert_eq!(lens, [1199, 1200, 20]);
    assert_eq!(net.link(addr(A), addr(B)).unwrap().stats().dropped, 2);
}

#[test]
fn bandwidth_serialises_exactly() {
    // 1,000,000 bytes/s: a 1,000-byte datagram takes exactly 1 ms.
    let mut net = pair(7, |l| l.bandwidth(1_000_000, 100_000).delay(ms(10)));
    send_train(&mut net, 5, Duration::ZERO, 1_000);
    let t0 = net.now();
    net.host_mut(addr(A))
        .send_at(t0 + ms(100), numbered(5, 500));
    net.drive_idle(secs(1)).unwrap();
    let times: Vec<_> = received(&net).iter().map(|(t, _)| *t - t0).collect();
    assert_eq!(
        times,
        [ms(11), ms(12), ms(13), ms(14), ms(15), ms(110) + us(500)]
    );
}

#[test]
fn bandwidth_tail_drops_at_the_queue_limit() {
    // Room for three 1,000-byte datagrams, counting the one on the wire.
    let mut net = pair(8, |l| l.bandwidth(1_000_000, 3_000));
    send_train(&mut net, 5, Duration::ZERO, 1_000);
    let t0 = net.now();
    // At 1 ms the first has left, so one more fits; at 1.5 ms none does.
    net.host_mut(addr(A))
        .send_at(t0 + ms(1), numbered(5, 1_000));
    net.host_mut(addr(A))
        .send_at(t0 + us(1500), numbered(6, 1_000));
    net.drive_idle(secs(1)).unwrap();
    let got: Vec<_> = received(&net)
        .iter()
        .map(|(t, d)| (*t - t0, seq_of(d)))
        .collect();
    assert_eq!(got, [(ms(1), 0), (ms(2), 1), (ms(3), 2), (ms(4), 5)]);
    assert_eq!(net.link(addr(A), addr(B)).unwrap().stats().dropped, 3);
}

#[test]
fn blackhole_window_drops_inside_and_nothing_outside() {
    let mut net = pair(9, |l| l);
    let t0 = net.start();
    net.set_link(addr(A), addr(B), |l| {
        l.blackhole(t0 + ms(100)..t0 + ms(200)).delay(ms(5))
    });
    send_train(&mut net, 300, ms(1), 20);
    net.drive_idle(secs(1)).unwrap();
    let seqs: Vec<_> = received(&net).iter().map(|(_, d)| seq_of(d)).collect();
    let want: Vec<_> = (0..100).chain(200..300).collect();
    assert_eq!(seqs, want);
}

#[test]
fn blackhole_switch_toggles_at_run_time() {
    let switch = Switch::new();
    let mut net = pair(10, |l| l.switch(&switch).delay(ms(1)));
    send_train(&mut net, 300, ms(1), 20);
    net.run_for(ms(100) - us(1)).unwrap();
    switch.set(true);
    net.run_for(ms(100)).unwrap();
    switch.set(false);
    net.drive_idle(secs(1)).unwrap();
    let seqs: Vec<_> = received(&net).iter().map(|(_, d)| seq_of(d)).collect();
    assert_eq!(seqs, (0..100).chain(200..300).collect::<Vec<_>>());
}

#[test]
fn ecn_is_carried_marked_and_bleached() {
    let ect0 = |i| numbered(i, 20).with_ecn(0b10);
    let mut net = pair(11, |l| l.ecn_mark(1.0));
    let t0 = net.now();
    net.host_mut(addr(A)).send_at(t0, ect0(0));
    net.host_mut(addr(A)).send_at(t0, numbered(1, 20));
    net.set_link(addr(B), addr(A), |l| l.ecn_bleach());
    net.host_mut(addr(B))
        .send_at(t0, Datagram::new(addr(B), addr(A), [1]).with_ecn(0b01));
    net.drive_idle(secs(1)).unwrap();
    let ecns: Vec<_> = received(&net).iter().map(|(_, d)| d.ecn).collect();
    assert_eq!(ecns, [Some(sim::ECN_CE), None]);
    assert_eq!(net.host(addr(A)).received[0].1.ecn, None);
    let mut plain = pair(11, |l| l.delay(ms(1)));
    let t0 = plain.now();
    plain.host_mut(addr(A)).send_at(t0, ect0(0));
    plain.drive_idle(secs(1)).unwrap();
    assert_eq!(
        received(&plain)[0].1.ecn,
        Some(0b10),
        "links carry ECN untouched"
    );
}

// ----- determinism -----

/// A toy transfer through every random impairment; returns the delivery
/// digest and the event log.
fn chaotic_run(seed: u64) -> (u64, Vec<sim::LogEntry>) {
    let (a, b) = (addr(A), addr(B));
    let mut net = Network::new(seed);
    let data: Vec<u8> = (0..20_000u32).map(|i| i as u8).collect();
    net.add_host(a, ToyPeer::sender(a, b, &data, 1000));
    net.add_host(b, ToyPeer::receiver(b, a));
    net.set_links(a, b, |l| {
        l.delay(ms(10))
            .loss(0.1)
            .reorder(0.2, ms(8))
            .duplicate(0.05)
            .ecn_mark(0.1)
    });
    net.record_log();
    net.drive_until(|n| n.host(a).all_acked(), secs(30))
        .unwrap();
    (net.delivery_digest(), net.log().to_vec())
}

#[test]
fn same_seed_same_deliveries_different_seed_different() {
    let (d1, log1) = chaotic_run(42);
    let (d2, log2) = chaotic_run(42);
    let (d3, log3) = chaotic_run(43);
    assert_eq!(d1, d2);
    assert_eq!(log1, log2);
    assert_ne!(d1, d3);
    assert_ne!(log1, log3);
    assert!(log1.iter().any(|e| e.kind == EventKind::Delivered));
}

#[test]
fn adding_a_link_elsewhere_leaves_a_links_randomness_alone() {
    let run = |extra: bool| {
        let mut net = pair(12, |l| l.loss(0.3).reorder(0.3, ms(5)));
        if extra {
            net.add_host(addr(3), Scripted::new());
            net.add_host(addr(4), Scripted::new());
            net.set_link(addr(3), addr(4), |l| l.loss(0.5));
            let t0 = net.now();
            for i in 0..50 {
                net.host_mut(addr(3))
                    .send_at(t0 + us(700) * i, Datagram::new(addr(3), addr(4), [0]));
            }
        }
        send_train(&mut net, 200, ms(1), 20);
        net.drive_idle(secs(1)).unwrap();
        received(&net).to_vec()
    };
    assert_eq!(run(false), run(true));
}

// ----- driving -----

#[test]
fn step_moves_exactly_to_each_event() {
    let mut net = pair(13, |l| l.delay(ms(3)));
    let t0 = net.now();
    net.host_mut(addr(A)).send_at(t0 + ms(5), numbered(0, 8));
    assert_eq!(net.step(), Ok(Progress::Advanced(t0 + ms(5))));
    assert_eq!(net.step(), Ok(Progress::Advanced(t0 + ms(8))));
    assert_eq!(received(&net).len(), 1);
    assert_eq!(net.step(), Ok(Progress::Idle));
    net.run_for(ms(2)).unwrap();
    assert_eq!(net.elapsed(), ms(10));
}

#[test]
fn step_cap_stops_a_livelocked_host() {
    for host in [
        Livelock::Timer(sim::epoch()),
        Livelock::Flood(numbered(0, 10)),
    ] {
        let mut net = Network::new(14);
        net.add_host(addr(A), host);
        net.set_step_limit(1_000);
        let err = net.drive_until(|_| false, secs(1)).unwrap_err();
        assert_eq!(
            err,
            SimError::StepLimit {
                steps: 1_000,
                at: Duration::ZERO
            }
        );
        assert!(net.run_for(ms(1)).is_err(), "the cap stays hit");
    }
}

#[test]
fn drive_reports_stalls_and_timeouts() {
    let mut net = pair(15, |l| l);
    assert_eq!(
        net.drive_until(|_| false, secs(1)),
        Err(SimError::Stalled { at: Duration::ZERO })
    );
    let (a, b) = (addr(A), addr(B));
    let mut net = Network::new(15);
    net.add_host(a, ToyPeer::sender(a, b, &[7; 5000], 1000));
    net.add_host(b, ToyPeer::receiver(b, a));
    net.set_links(a, b, |l| l.loss(1.0));
    let err = net
        .drive_until(|n| n.host(a).all_acked(), secs(3))
        .unwrap_err();
    assert_eq!(err, SimError::TimedOut { at: secs(3) });
    assert_eq!(net.elapsed(), secs(3));
}

#[test]
fn unroutable_datagrams_are_counted_not_delivered() {
    let mut net = pair(16, |l| l);
    let nowhere: SocketAddr = addr(99);
    let seen = std::rc::Rc::new(std::cell::Cell::new(0));
    let counter = seen.clone();
    net.observe(move |e, _| {
        counter.set(counter.get() + u32::from(e.kind == EventKind::Unroutable));
        Ok(())
    });
    net.inject(Datagram::new(addr(A), nowhere, [1, 2, 3]))
        .unwrap();
    net.drive_idle(secs(1)).unwrap();
    assert_eq!(seen.get(), 1);
    assert_eq!(net.traffic().pair(addr(A), nowhere).delivered_bytes, 3);
    assert!(received(&net).is_empty());
}

#[test]
fn extra_addresses_route_to_their_host() {
    let mut net = pair(17, |l| l);
    net.add_address(addr(B), addr(22));
    net.inject(Datagram::new(addr(A), addr(22), [9])).unwrap();
    net.drive_idle(secs(1)).unwrap();
    assert_eq!(received(&net)[0].1.dst, addr(22));
}

/// A toy transfer from A to B whose observer enforces RFC 9000 §8.1's
/// anti-amplification limit (3x) on what `server` sends to the other host.
fn amplification_run(server: SocketAddr) -> Result<(), SimError> {
    let (a, b) = (addr(A), addr(B));
    let client = if server == a { b } else { a };
    let mut net = Network::new(18);
    net.add_host(a, ToyPeer::sender(a, b, &[1; 8000], 1000));
    net.add_host(b, ToyPeer::receiver(b, a));
    net.observe(move |e, traffic| {
        let over = e.kind == EventKind::Sent && !traffic.within_amplification(server, client, 3);
        if over {
            Err(format!("{server} sent more than 3x what it received"))
        } else {
            Ok(())
        }
    });
    net.drive_until(|n| n.host(a).all_acked(), secs(5))
}

/// RFC 9000 §8.1, as an observer checks it at every step: the receiver, which
/// only answers, stays within 3x; the toy sender ignores the limit, and the
/// observer stops the run on its very first datagram.
#[test]
fn observer_checks_the_amplification_ledger_at_every_step() {
    assert_eq!(amplification_run(addr(B)), Ok(()));
    let err = amplification_run(addr(A)).unwrap_err();
    assert!(
        matches!(&err, SimError::Invariant { at, message }
        if *at == Duration::ZERO && message.contains("more than 3x")),
        "{err}"
    );
}

#[test]
fn reliable_transfer_survives_loss_and_reordering() {
    run_seeded(
        "reliable_transfer_survives_loss_and_reordering",
        seeds(20),
        |seed| {
            let (a, b) = (addr(A), addr(B));
            let mut data = vec![0; 64 * 1024];
            SimRng::from_seed(seed).fill_bytes(&mut data);
            let mut net = Network::new(seed);
            net.add_host(a, ToyPeer::sender(a, b, &data, 1200).tuned(16, ms(100)));
            net.add_host(b, ToyPeer::receiver(b, a));
            net.set_links(a, b, |l| l.delay(ms(20)).loss(0.2).reorder(0.2, ms(10)));
            net.drive_until(|n| n.host(a).all_acked(), secs(60))?;
            if net.host(b).received_data().as_deref() != Some(&data[..]) {
                return Err("received data differs".into());
            }
            if net.host(a).retransmits == 0 {
                return Err("20% loss but no retransmission".into());
            }
            Ok(())
        },
    );
}

// ----- seeds -----

#[test]
#[should_panic(expected = "seed = 3")]
fn run_seeded_reports_the_failing_seed() {
    run_seeded("run_seeded_reports_the_failing_seed", 0..10, |seed| {
        if seed == 3 {
            Err("boom".into())
        } else {
            Ok(())
        }
    });
}

#[test]
fn sim_seed_selects_one_seed() {
    use sim::seeds::{failure, select_seeds};
    assert_eq!(select_seeds(None, 0..3), [0, 1, 2]);
    assert_eq!(select_seeds(Some("42"), 0..3), [42]);
    assert_eq!(select_seeds(Some(" 0x10 "), 0..3), [16]);
    let report = failure("t", 5, "boom");
    assert!(report.contains("SIM_SEED=5 cargo test -p quic-proto --test sim_selftest -- t"));
    assert!(std::panic::catch_unwind(|| select_seeds(Some("x"), 0..1)).is_err());
}

// ----- properties -----

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Whatever the impairments, a link conserves datagrams (delivered =
    /// sent - dropped + duplicated) and never beats its fixed delay.
    #[test]
    fn links_conserve_datagrams(
        seed: u64,
        loss in 0.0..0.5f64,
        dup in 0.0..0.5f64,
        reorder in 0.0..1.0f64,
        mtu in 50usize..1500,
    ) {
        let mut net = pair(seed, |l| {
            l.mtu(mtu).loss(loss).duplicate(dup).reorder(reorder, ms(7)).delay(ms(3))
        });
        let mut rng = SimRng::from_seed(seed);
        let t0 = net.now();
        for i in 0..200 {
            let len = rng.gen_range(4..1500) as usize;
            net.host_mut(addr(A)).send_at(t0 + us(250) * i, numbered(i, len));
        }
        net.drive_idle(secs(1)).unwrap();
        let stats = net.link(addr(A), addr(B)).unwrap().stats();
        prop_assert_eq!(received(&net).len() as u64, 200 - stats.dropped + stats.duplicated);
        for (t, d) in received(&net) {
            let flight = *t - (t0 + us(250) * seq_of(d));
            prop_assert!((ms(3)..=ms(10)).contains(&flight));
            prop_assert!(d.len() <= mtu);
        }
    }
}
