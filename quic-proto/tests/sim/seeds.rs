//! Running a simulation over many seeds, and replaying the one that failed.

use std::panic::{self, AssertUnwindSafe};

/// Environment variable naming the single seed to run (decimal or `0x` hex).
pub const SIM_SEED: &str = "SIM_SEED";
/// Environment variable overriding how many seeds [`seeds`] yields (a soak run).
pub const SIM_SEEDS: &str = "SIM_SEEDS";

/// Seeds `0..n`, or `0..$SIM_SEEDS` when that is set.
pub fn seeds(n: u64) -> std::ops::Range<u64> {
    let n = std::env::var(SIM_SEEDS)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(n);
    0..n
}

/// Runs `test` once per seed; on the first failure (an `Err` or a panic)
/// prints `seed = N` and the command that replays just that seed, then fails
/// the test. With `SIM_SEED=N` in the environment only seed `N` runs.
///
/// `name` should be the test function's name: it is the filter in the
/// printed replay command.
pub fn run_seeded(
    name: &str,
    seeds: impl IntoIterator<Item = u64>,
    mut test: impl FnMut(u64) -> Result<(), String>,
) {
    let env = std::env::var(SIM_SEED).ok();
    for seed in select_seeds(env.as_deref(), seeds) {
        match panic::catch_unwind(AssertUnwindSafe(|| test(seed))) {
            Ok(Ok(())) => {}
            Ok(Err(message)) => panic!("{}", failure(name, seed, &message)),
            Err(payload) => {
                eprintln!("{}", failure(name, seed, "panicked (message above)"));
                panic::resume_unwind(payload);
            }
        }
    }
}

/// The seeds to run: the one in `env` (the value of `SIM_SEED`) if given,
/// else `default`.
///
/// # Panics
/// If `env` is not a number: a typo must not silently run other seeds.
pub fn select_seeds(env: Option<&str>, default: impl IntoIterator<Item = u64>) -> Vec<u64> {
    match env.map(str::trim) {
        Some(v) => vec![parse_seed(v).unwrap_or_else(|| panic!("{SIM_SEED}={v:?} is not a u64"))],
        None => default.into_iter().collect(),
    }
}

fn parse_seed(v: &str) -> Option<u64> {
    match v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => v.parse().ok(),
    }
}

/// The failure report: the seed and the replay command.
pub fn failure(name: &str, seed: u64, what: &str) -> String {
    // The test binary this module is compiled into (`tests/<name>.rs`).
    let binary = env!("CARGO_CRATE_NAME");
    format!(
        "simulation `{name}` failed: {what}\n    seed = {seed}\n    replay: \
         {SIM_SEED}={seed} cargo test -p quic-proto --test {binary} -- {name}"
    )
}
