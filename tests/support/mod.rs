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
