//! The integration tests' one support module (`mod support;` in each `tests/*.rs` that needs
//! it): the real binary in a clean environment ([`bin`]), tcsim in process and a node of its
//! seed deployment ([`sim`]), a running `havip watch` ([`daemon`]), one loopback HTTP client ([`http`]) and server ([`server`]), and
//! network namespaces for the tests on real links ([`netns`]).
//!
//! Generic where it can be: nothing here knows about one test's scenario.

#![allow(dead_code)] // each test binary uses a different subset

pub mod bin;
pub mod daemon;
pub mod http;
pub mod netns;
pub mod server;
pub mod sim;

/// The documentation's example key pair, which tcsim's seed scenario accepts.
pub use tcsim::testing::{EXAMPLE_SECRET_ID, EXAMPLE_SECRET_KEY};

/// Clears, for a cargo (or make) run from inside a test, the variables cargo sets for the test
/// process itself (`CARGO_PKG_*`, `CARGO_MANIFEST_*`, `CARGO_BIN_*`, …). Some build scripts
/// (ring's) rerun when `CARGO_PKG_NAME` changes, so a nested build with them set rebuilds half the
/// dependency tree, and the next build from a shell rebuilds it again.
pub fn without_test_env(cmd: &mut std::process::Command) -> &mut std::process::Command {
    const SET_FOR_TESTS: [&str; 7] = [
        "CARGO_PKG_",
        "CARGO_MANIFEST_",
        "CARGO_BIN_",
        "CARGO_CRATE_",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_TARGET_TMPDIR",
        "OUT_DIR",
    ];
    for (key, _) in std::env::vars_os() {
        let k = key.to_string_lossy();
        if SET_FOR_TESTS.iter().any(|p| k.starts_with(p)) {
            cmd.env_remove(&key);
        }
    }
    cmd
}
