//! Bounds on what comes in from outside (issue 7): files read with a size cap, so `/dev/zero`
//! or an endless FIFO is a clear error instead of an out-of-memory kill; and long values cut
//! before they are echoed in an error, so no error line is unbounded.
//!
//! Both are used at every layer (configuration, the cloud client, the commands), so they live
//! here, below all of them, and depend on nothing.

use std::io::{self, Read};
use std::path::Path;

/// The largest configuration or profile file havip reads. Real ones are a few KiB.
pub(crate) const MAX_CONFIG_BYTES: u64 = 1024 * 1024;
/// The largest CA file: a full system bundle is about 200 KiB.
pub(crate) const MAX_CA_FILE_BYTES: u64 = 4 * 1024 * 1024;
/// How much of a value (a server's body, a name, an ID) an error message repeats.
pub(crate) const MAX_ECHO_BYTES: usize = 200;
/// The backstop for a whole message built from several parts.
pub(crate) const MAX_MESSAGE_BYTES: usize = 1024;

/// `n` bytes as people say it: `1 MiB`, `512 KiB`, `300 bytes`.
pub(crate) fn human_bytes(n: u64) -> String {
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * KIB;
    if n >= MIB && n % MIB == 0 {
        format!("{} MiB", n / MIB)
    } else if n >= KIB && n % KIB == 0 {
        format!("{} KiB", n / KIB)
    } else {
        format!("{n} bytes")
    }
}

/// The error [`read_capped`] returns for input beyond its cap; it names the cap, the caller
/// names the file.
pub(crate) fn too_large(cap: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::FileTooLarge,
        format!("larger than the {} limit", human_bytes(cap)),
    )
}

/// Reads all of `r`, but never more than `cap` bytes: one byte more is [`too_large`]. Only
/// `cap + 1` bytes are ever read, so an endless source (`/dev/zero`, a FIFO) ends quickly.
pub(crate) fn read_capped(r: impl Read, cap: u64) -> io::Result<Vec<u8>> {
    read_capped_into(r, cap, Vec::new())
}

/// [`read_capped`] into `buf`, whose capacity is the expected size: with room for the whole
/// input and one byte more, a small file takes two reads (its bytes, then end of file)
/// instead of `read_to_end`'s growing probes from an empty buffer.
fn read_capped_into(r: impl Read, cap: u64, mut buf: Vec<u8>) -> io::Result<Vec<u8>> {
    r.take(cap.saturating_add(1)).read_to_end(&mut buf)?;
    if buf.len() as u64 > cap {
        return Err(too_large(cap));
    }
    Ok(buf)
}

/// Reads the file at `path` with [`read_capped`]. Errors do not repeat the path: the caller's
/// message names the file once.
pub(crate) fn read_file_capped(path: &Path, cap: u64) -> io::Result<Vec<u8>> {
    let f = std::fs::File::open(path)?;
    // A regular file's length (other files say nothing useful): one already too big is refused
    // without reading it.
    let expected = f
        .metadata()
        .ok()
        .filter(|m| m.is_file())
        .map_or(0, |m| m.len());
    if expected > cap {
        return Err(too_large(cap));
    }
    // `expected <= cap` here, so the room asked for is bounded by the cap too.
    let room = usize::try_from(expected.saturating_add(1)).unwrap_or(0);
    read_capped_into(f, cap, Vec::with_capacity(room))
}

/// `s` if it is at most `max` bytes; else its start, cut at a character boundary, an ellipsis
/// and the original length: `"abc… (102400 bytes)"`. The one helper every error message that
/// repeats outside input uses.
pub(crate) fn clip_to(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &s[..end], s.len())
}

/// [`clip_to`] at [`MAX_ECHO_BYTES`]: for one value echoed in a message.
pub(crate) fn clip(s: &str) -> String {
    clip_to(s, MAX_ECHO_BYTES)
}

/// [`clip`] of the value's `Debug` form (quoted and escaped), as messages show names and IDs.
pub(crate) fn clip_quoted(s: &str) -> String {
    if s.len() > MAX_ECHO_BYTES {
        // Quote only the part that is kept, so the cut never lands inside an escape.
        let kept = clip_to(s, MAX_ECHO_BYTES);
        let (head, tail) = kept.rsplit_once('…').unwrap_or((&kept, ""));
        format!("{head:?}…{tail}")
    } else {
        format!("{s:?}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clip_keeps_short_values_and_cuts_long_ones_at_a_char_boundary() {
        assert_eq!(clip_to("abc", 5), "abc");
        assert_eq!(clip_to("abcdef", 3), "abc… (6 bytes)");
        assert_eq!(clip_to("未命名", 4), "未… (9 bytes)");
        assert_eq!(clip_to("未命名", 0), "… (9 bytes)");
        let long = "x".repeat(100_000);
        let c = clip(&long);
        assert!(c.len() < MAX_ECHO_BYTES + 30, "{}", c.len());
        assert!(c.ends_with("… (100000 bytes)"), "{c}");
        assert_eq!(clip_quoted("a\"b"), "\"a\\\"b\"");
        let q = clip_quoted(&format!("{}\"", "y".repeat(300)));
        assert!(
            q.starts_with("\"yyy") && q.ends_with("\"… (301 bytes)"),
            "{q}"
        );
    }

    #[test]
    fn reads_stop_one_byte_past_the_cap() {
        assert_eq!(read_capped(&b"hello"[..], 5).unwrap(), b"hello");
        let e = read_capped(io::repeat(0), 1024).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::FileTooLarge);
        assert_eq!(e.to_string(), "larger than the 1 KiB limit");
        assert_eq!(human_bytes(MAX_CONFIG_BYTES), "1 MiB");
        assert_eq!(human_bytes(300), "300 bytes");
    }

    #[test]
    fn a_large_file_is_refused_and_dev_zero_ends() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big");
        std::fs::write(&p, vec![b'a'; 2048]).unwrap();
        assert!(read_file_capped(&p, 2047).is_err());
        assert_eq!(read_file_capped(&p, 2048).unwrap().len(), 2048);
        let small = dir.path().join("small");
        std::fs::write(&small, b"{\"seq\":1}").unwrap();
        assert_eq!(read_file_capped(&small, 2048).unwrap(), b"{\"seq\":1}");
        std::fs::write(&small, b"").unwrap();
        assert_eq!(read_file_capped(&small, 2048).unwrap(), b"");
        let e = read_file_capped(Path::new("/dev/zero"), 4096).unwrap_err();
        assert!(e.to_string().contains("4 KiB"), "{e}");
    }
}
