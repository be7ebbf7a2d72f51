//! The checks of values the file names things with: VIP names (they become file names, and
//! `havip check --vip` uses the same rule), interface names, and Tencent Cloud resource IDs.

use crate::bounds;

/// Whether `name` may name a VIP: 1-64 characters of `A-Z a-z 0-9 . _ -`, not starting with a
/// dot. VIP names become file names (state, lock, drain flag), so this is the one rule for the
/// configuration and for every command that takes a VIP name.
pub(crate) fn valid_vip_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// Whether `s` can be a Linux interface name (at most 15 bytes, no `/`, no white space).
pub(super) fn valid_interface(s: &str) -> bool {
    !(s.is_empty() || s.len() > 15 || s.contains('/') || s.contains(char::is_whitespace))
}

/// Whether `id` has the shape of a Tencent Cloud resource ID: `<prefix>-` and exactly 8
/// lowercase letters or digits (`havip-iam00099`, `ins-3g445roi`; tcsim checks the same).
pub(crate) fn is_resource_id(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|tail| {
            tail.len() == 8
                && tail
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

/// A value that does not have the shape of a Tencent Cloud resource ID.
#[derive(Debug, thiserror::Error)]
#[error(
    "{} is not {what} ({prefix}- and 8 lowercase letters or digits, e.g. {prefix}-1a2b3c4d)",
    bounds::clip_quoted(id)
)]
pub(super) struct BadResourceId {
    id: String,
    prefix: &'static str,
    what: &'static str,
}

/// [`is_resource_id`], with the message for the configuration: `"x" is not a HAVIP ID (…)`.
pub(super) fn check_resource_id(
    id: &str,
    prefix: &'static str,
    what: &'static str,
) -> Result<(), BadResourceId> {
    if is_resource_id(id, prefix) {
        return Ok(());
    }
    Err(BadResourceId {
        id: id.to_owned(),
        prefix,
        what,
    })
}
