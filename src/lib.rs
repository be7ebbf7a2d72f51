//! havip: keeps a Tencent Cloud HAVIP (and its EIP) where keepalived says it should be, and proves it.
//!
//! The binary (`src/main.rs`) is a thin clap layer; everything lives here. What is `pub` is
//! what the binary and the integration tests (`tests/`, `benches/`) use; the rest is
//! `pub(crate)`, so an item nothing outside uses is found by the compiler's dead-code warning.

pub mod alert;
pub mod audit;
pub mod backoff;
pub mod bounds;
pub mod cli;
pub mod cloud;
pub mod cmd;
pub mod config;
pub mod context;
pub mod doctor;
pub mod error_chain;
pub mod failover;
pub mod journal;
pub mod keepalived;
pub mod node;
pub mod state;
pub mod status;
pub mod watch;
