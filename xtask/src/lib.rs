//! Build chores for havip that need its command line but are no part of the `havip` binary.
//!
//! [`dist`] writes the man pages and shell completions that `make install` and `make deb`
//! ship, generated from the real `havip::cli::Cli`, so they cannot drift from `--help`. Like
//! `src/main.rs`, this crate is a front end: it may use `havip::cli`; nothing in havip uses it.

pub mod dist;
