//! The `tcsim` binary.

fn main() {}
