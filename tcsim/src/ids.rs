//! Resource IDs: the `<prefix>-xxxxxxxx` format the API's `Malformed` checks and the scenario
//! loader both enforce, and fresh random IDs as the real API makes them.

use rand::Rng;

/// `<prefix>-` followed by exactly 8 lowercase ASCII letters or digits.
///
/// havip's `config::is_resource_id` checks the same shape, on purpose separately: tcsim is the
/// client's independent oracle (a rule shared by both sides would let one mistake pass both),
/// and it does not depend on havip (havip's tests depend on it).
pub fn valid_id(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|tail| {
            tail.len() == 8
                && tail
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

/// A random ID as the real API makes them.
pub fn new_id(prefix: &str) -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::thread_rng();
    let tail: String = (0..8)
        .map(|_| CHARS[rng.gen_range(0..CHARS.len())] as char)
        .collect();
    format!("{prefix}-{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_format() {
        assert!(valid_id("havip-iam00099", "havip"));
        assert!(!valid_id("havip-IAM00099", "havip"));
        assert!(!valid_id("havip-iam0009", "havip"));
        assert!(!valid_id("havipiam000999", "havip"));
        assert!(!valid_id("eip-iam00139", "havip"));
        assert!(valid_id(&new_id("eni"), "eni"));
    }
}
