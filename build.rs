//! Asks the linker to lay out, side by side, the functions an idle `havip watch` runs at every
//! look (src/hot-symbols.txt, written by scripts/hot-symbols.sh). Spread over the binary they
//! touch some four hundred 4 KiB pages of code per look; together, well under two hundred. Read
//! from disk (after a reboot), a look then costs the watcher about half the CPU time
//! (ARCHITECTURE.md, "The idle cost").
//!
//! Only where the linker is known to be LLD, which takes `--symbol-ordering-file`: Rust 1.90 and
//! later link x86_64-unknown-linux-gnu with it unless told otherwise. Anywhere else, or with
//! `HAVIP_NO_SYMBOL_ORDER=1`, the binary is linked as usual; it behaves the same either way.
//! A listed function the binary no longer has is skipped without a warning.

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src/hot-symbols.txt");
    println!("cargo:rerun-if-env-changed=HAVIP_NO_SYMBOL_ORDER");
    println!("cargo:rerun-if-env-changed=CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER");
    let order = Path::new(&std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default())
        .join("src/hot-symbols.txt");
    if !linker_is_lld() || !order.is_file() {
        return;
    }
    println!(
        "cargo:rustc-link-arg-bin=havip=-Wl,--symbol-ordering-file={}",
        order.display()
    );
    println!("cargo:rustc-link-arg-bin=havip=-Wl,--no-warn-symbol-ordering");
}

/// Whether this build links with rustc's default LLD: x86_64 Linux, Rust 1.90 or later, no
/// linker of its own configured, and not turned off with `HAVIP_NO_SYMBOL_ORDER`.
fn linker_is_lld() -> bool {
    let var = |k: &str| std::env::var(k).unwrap_or_default();
    if !var("HAVIP_NO_SYMBOL_ORDER").is_empty()
        || var("TARGET") != "x86_64-unknown-linux-gnu"
        || !var("CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_LINKER").is_empty()
        || var("CARGO_ENCODED_RUSTFLAGS").contains("link")
    {
        return false;
    }
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let Ok(out) = Command::new(rustc).arg("-vV").output() else {
        return false;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let Some(release) = text.lines().find_map(|l| l.strip_prefix("release: ")) else {
        return false;
    };
    let mut parts = release
        .split(['.', '-'])
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major, minor) >= (1, 90)
}
