//! Reading the configuration file: capped in size, UTF-8, and, when it holds a secret, its mode
//! checked as the profile file's is.

use std::path::{Path, PathBuf};

use super::{Config, ConfigError};
use crate::bounds::{self, MAX_CONFIG_BYTES};

impl Config {
    /// Reads and validates the file at `path`; `state_dir_env` is `HAVIP_STATE_DIR` (read by
    /// the caller: the environment is read in one place), which wins over the file.
    ///
    /// The file is read with a cap ([`MAX_CONFIG_BYTES`]): `/dev/zero`, an endless FIFO or a
    /// huge file is an error naming the file and the cap, not an out-of-memory kill. A file that
    /// holds a secret (`secret_key`, `token`) has its credentials refused where they would be
    /// used when group or others may read it, as the profile file is.
    pub fn load(path: &Path, state_dir_env: Option<PathBuf>) -> Result<Config, ConfigError> {
        let fail = |message: String| ConfigError {
            path: path.to_path_buf(),
            line: None,
            message,
            source: None,
        };
        let cannot_read = |e: std::io::Error| ConfigError {
            message: format!("cannot read the configuration file: {e}"),
            source: Some(std::sync::Arc::new(e)),
            ..fail(String::new())
        };
        let file = std::fs::File::open(path).map_err(cannot_read)?;
        let meta = file.metadata().map_err(cannot_read)?;
        if meta.is_dir() {
            return Err(fail(
                "cannot read the configuration file: it is a directory".into(),
            ));
        }
        if meta.is_file() && meta.len() > MAX_CONFIG_BYTES {
            return Err(fail(format!(
                "cannot read the configuration file: {}",
                bounds::too_large(MAX_CONFIG_BYTES)
            )));
        }
        let bytes = bounds::read_capped(file, MAX_CONFIG_BYTES).map_err(cannot_read)?;
        let text = String::from_utf8(bytes).map_err(|e| {
            fail(format!(
                "the configuration file is not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ))
        })?;
        let cfg = Config::parse(&text, path, state_dir_env)?;
        let mut cfg = cfg;
        if let Some(c) = cfg
            .credentials
            .as_mut()
            .filter(|c| c.secret_key.is_some() || c.token.is_some())
        {
            use std::os::unix::fs::PermissionsExt;
            c.too_open =
                crate::cloud::credentials::check_secret_file_mode(meta.permissions().mode()).err();
        }
        Ok(cfg)
    }
}
