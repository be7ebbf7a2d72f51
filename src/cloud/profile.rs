//! The profile file (`~/.tencentcloud/credentials`, INI): reading it with its mode checked and
//! its size capped, parsing its `[default]` section, and the file-mode rule it shares with the
//! configuration file (a file holding a secret must not be readable by group or others).

use std::path::Path;

use super::credentials::Credentials;
use super::error::TooOpen;
use super::Error;

/// Refuses a file holding a secret that group or others may access (by its `st_mode`), as ssh
/// does with private keys: a world-readable SecretKey is a leaked SecretKey, and failing loudly
/// is how it gets fixed. The message continues the file's name ("profile file X …", "the
/// configuration file …"), so the profile file and the configuration file say it alike.
pub(crate) fn check_secret_file_mode(mode: u32) -> Result<(), TooOpen> {
    let mode = mode & 0o777;
    if mode & 0o077 != 0 {
        return Err(TooOpen(mode));
    }
    Ok(())
}

/// Reads the `[default]` profile from `path`. `Ok(None)` if the file does not exist.
///
/// Refuses a file that group or others may access ([`check_secret_file_mode`]), and one larger
/// than [`crate::bounds::MAX_CONFIG_BYTES`].
pub(crate) fn read_profile(path: &Path) -> Result<Option<Credentials>, Error> {
    use std::os::unix::fs::PermissionsExt;
    let cannot_read = |e: std::io::Error| Error::CredentialsFrom {
        place: format!("cannot read profile file {}", path.display()),
        source: Box::new(e),
    };
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(cannot_read(e)),
    };
    let meta = file.metadata().map_err(cannot_read)?;
    if meta.is_dir() {
        return Err(Error::Credentials(format!(
            "profile file {} is a directory",
            path.display()
        )));
    }
    check_secret_file_mode(meta.permissions().mode()).map_err(|source| Error::TooOpen {
        file: format!("profile file {}", path.display()),
        source,
    })?;
    let bytes =
        crate::bounds::read_capped(file, crate::bounds::MAX_CONFIG_BYTES).map_err(cannot_read)?;
    let text = String::from_utf8(bytes).map_err(|_| {
        Error::Credentials(format!("profile file {} is not UTF-8 text", path.display()))
    })?;
    parse_profile(&text, "default")
        .map(Some)
        .map_err(|e| Error::CredentialsFrom {
            place: format!("profile file {}", path.display()),
            source: Box::new(e),
        })
}

/// Why a profile file's text gives no credentials.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// A `[section` without its `]`.
    #[error("line {0}: unterminated section header")]
    UnterminatedSection(usize),
    /// A line that is neither a section, a comment nor `key = value`.
    #[error("line {0}: expected key = value")]
    NotKeyValue(usize),
    /// The section is not in the file.
    #[error("no [{0}] section")]
    NoSection(String),
    /// The section lacks a key.
    #[error("[{section}] has no {key}")]
    Missing {
        /// The section.
        section: String,
        /// `secret_id` or `secret_key`.
        key: &'static str,
    },
    /// The keys are there but unusable (empty, surrounding whitespace).
    #[error(transparent)]
    Refused(Box<Error>),
}

/// Parses the INI profile format (`[section]`, `key = value`, `#`/`;` comments) and returns the
/// credentials of `section` (`secret_id`, `secret_key`, optional `token`).
pub fn parse_profile(text: &str, section: &str) -> Result<Credentials, ProfileError> {
    let mut current: Option<&str> = None;
    let mut found_section = false;
    let (mut id, mut key, mut token) = (None, None, None);
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(rest) = line.strip_prefix('[') {
            let name = rest
                .strip_suffix(']')
                .ok_or(ProfileError::UnterminatedSection(n + 1))?
                .trim();
            current = Some(name);
            found_section |= name == section;
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            return Err(ProfileError::NotKeyValue(n + 1));
        };
        if current != Some(section) {
            continue;
        }
        let v = v.trim().to_string();
        match k.trim() {
            "secret_id" => id = Some(v),
            "secret_key" => key = Some(v),
            "token" => token = Some(v),
            _ => {}
        }
    }
    if !found_section {
        return Err(ProfileError::NoSection(section.to_owned()));
    }
    let missing = |key| ProfileError::Missing {
        section: section.to_owned(),
        key,
    };
    let id = id.ok_or_else(|| missing("secret_id"))?;
    let key = key.ok_or_else(|| missing("secret_key"))?;
    let creds = Credentials::new(id, key).map_err(|e| ProfileError::Refused(Box::new(e)))?;
    Ok(creds.with_token(token.unwrap_or_default()))
}
