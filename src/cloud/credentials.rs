//! Where the API keys come from: explicit configuration, the environment, the profile file, or
//! the CVM's CAM role (`shared/tencent/API.md` §4.2), in that order.
//!
//! Every type holding a secret has a hand-written `Debug` that prints `** redacted **`
//! (STYLE.md §12).

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::Mutex;

use super::clock::Clock;
use super::metadata::Metadata;
use super::Error;

/// A boxed future, so credential providers can sit behind `Arc<dyn CredentialProvider>`.
pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Refresh temporary credentials this long before they expire: the SDKs do, because a request
/// signed just before expiry may arrive just after (API.md §4.1).
pub(crate) const REFRESH_MARGIN_SECS: i64 = 300;

const REDACTED: &str = "** redacted **";

/// A SecretId, its SecretKey, and for temporary credentials a token (sent as `X-TC-Token`).
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    secret_id: String,
    secret_key: String,
    token: Option<String>,
    /// Unix seconds; `None` for long-term keys.
    expires_at: Option<i64>,
}

impl Credentials {
    /// Long-term keys. Rejects empty values and surrounding whitespace (a pasted newline would
    /// otherwise become a baffling `SignatureFailure`).
    pub fn new(secret_id: impl Into<String>, secret_key: impl Into<String>) -> Result<Self, Error> {
        let secret_id = secret_id.into();
        let secret_key = secret_key.into();
        for (name, value) in [("SecretId", &secret_id), ("SecretKey", &secret_key)] {
            if value.is_empty() {
                return Err(Error::Credentials(format!("{name} is empty")));
            }
            if value.trim() != value || value.chars().any(char::is_control) {
                return Err(Error::Credentials(format!(
                    "{name} has surrounding whitespace or control characters"
                )));
            }
        }
        Ok(Credentials {
            secret_id,
            secret_key,
            token: None,
            expires_at: None,
        })
    }

    /// Adds a session token (temporary credentials); an empty token means none.
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        let token = token.into();
        self.token = (!token.is_empty()).then_some(token);
        self
    }

    /// Sets the expiry, Unix seconds.
    pub(crate) fn with_expiry(mut self, unix: i64) -> Self {
        self.expires_at = Some(unix);
        self
    }

    pub fn secret_id(&self) -> &str {
        &self.secret_id
    }

    pub fn secret_key(&self) -> &str {
        &self.secret_key
    }

    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    pub fn expires_at(&self) -> Option<i64> {
        self.expires_at
    }

    /// Whether these credentials should be replaced at `now` (Unix seconds).
    pub(crate) fn needs_refresh(&self, now: i64) -> bool {
        matches!(self.expires_at, Some(exp) if exp - now <= REFRESH_MARGIN_SECS)
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("secret_id", &self.secret_id)
            .field("secret_key", &REDACTED)
            .field("token", &self.token.as_ref().map(|_| REDACTED))
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// A source of credentials. Implementations cache what they can.
pub trait CredentialProvider: Send + Sync + fmt::Debug {
    /// Credentials valid now (refreshing temporary ones when close to expiry).
    fn credentials(&self) -> BoxFuture<'_, Result<Credentials, Error>>;

    /// Forget cached credentials, because the server rejected them (`AuthFailure.TokenFailure`).
    fn invalidate(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }

    /// Where the credentials come from, for logs (`environment`, a file path, `cvm-role:NAME`).
    fn source(&self) -> String;
}

/// Fixed credentials.
#[derive(Clone, Debug)]
pub struct StaticProvider {
    creds: Credentials,
    source: String,
}

impl StaticProvider {
    pub fn new(creds: Credentials, source: impl Into<String>) -> Self {
        StaticProvider {
            creds,
            source: source.into(),
        }
    }
}

impl CredentialProvider for StaticProvider {
    fn credentials(&self) -> BoxFuture<'_, Result<Credentials, Error>> {
        let creds = self.creds.clone();
        Box::pin(async move { Ok(creds) })
    }

    fn source(&self) -> String {
        self.source.clone()
    }
}

/// The environment variables the chain reads, captured once so resolution is testable and a
/// test never depends on the process environment.
#[derive(Clone, Default)]
pub struct EnvVars(HashMap<String, String>);

impl fmt::Debug for EnvVars {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&String> = self.0.keys().collect();
        names.sort();
        f.debug_tuple("EnvVars").field(&names).finish()
    }
}

impl EnvVars {
    /// [`EnvVars::from_process`], plus the variables `extra` names (the layers above the
    /// client read theirs through the same capture).
    pub(crate) fn from_process_with(extra: &[&str]) -> Self {
        let mut env = EnvVars::from_process();
        for n in extra {
            if let Ok(v) = std::env::var(n) {
                env.0.insert(n.to_string(), v);
            }
        }
        env
    }

    /// The variables that matter here, read from the process environment (the only place
    /// havip reads it, but for logging's `HAVIP_LOG`).
    pub fn from_process() -> Self {
        const NAMES: &[&str] = &[
            ENV_SECRET_ID,
            ENV_SECRET_KEY,
            ENV_TOKEN,
            ENV_CREDENTIALS_FILE,
            ENV_REGION,
            "HOME",
            super::metadata::ENDPOINT_ENV,
        ];
        EnvVars(
            NAMES
                .iter()
                .filter_map(|n| std::env::var(n).ok().map(|v| (n.to_string(), v)))
                .collect(),
        )
    }

    #[cfg(test)]
    pub(crate) fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        EnvVars(
            pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }

    /// The values of the [`SECRET_ENV`] variables that are set, to be kept out of every alert.
    pub fn secrets(&self) -> impl Iterator<Item = &str> {
        SECRET_ENV.iter().filter_map(|k| self.get(k))
    }

    /// The value of `name` if set and not blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }
}

pub(crate) const ENV_SECRET_ID: &str = "TENCENTCLOUD_SECRET_ID";
pub(crate) const ENV_SECRET_KEY: &str = "TENCENTCLOUD_SECRET_KEY";
pub(crate) const ENV_TOKEN: &str = "TENCENTCLOUD_TOKEN";
pub(crate) const ENV_CREDENTIALS_FILE: &str = "TENCENTCLOUD_CREDENTIALS_FILE";
pub(crate) const ENV_REGION: &str = "TENCENTCLOUD_REGION";
/// The variables whose values are secrets: never logged, scrubbed from alerts, and removed from
/// an alert hook's environment.
pub(crate) const SECRET_ENV: [&str; 3] = [ENV_SECRET_ID, ENV_SECRET_KEY, ENV_TOKEN];

/// Credentials from `TENCENTCLOUD_SECRET_ID` + `TENCENTCLOUD_SECRET_KEY` (+ `TENCENTCLOUD_TOKEN`);
/// `Ok(None)` when neither is set. One without the other is an error: silently falling through
/// to another source would sign with keys the operator did not mean.
pub fn from_env(env: &EnvVars) -> Result<Option<Credentials>, Error> {
    match (env.get(ENV_SECRET_ID), env.get(ENV_SECRET_KEY)) {
        (None, None) => Ok(None),
        (Some(id), Some(key)) => {
            let creds = Credentials::new(id, key).map_err(|e| Error::CredentialsFrom {
                place: "from the environment".into(),
                source: Box::new(e),
            })?;
            Ok(Some(creds.with_token(env.get(ENV_TOKEN).unwrap_or(""))))
        }
        (Some(_), None) => Err(Error::Credentials(format!(
            "{ENV_SECRET_ID} is set but {ENV_SECRET_KEY} is not"
        ))),
        (None, Some(_)) => Err(Error::Credentials(format!(
            "{ENV_SECRET_KEY} is set but {ENV_SECRET_ID} is not"
        ))),
    }
}

/// The profile files to try, in order: `TENCENTCLOUD_CREDENTIALS_FILE` if set (then only it),
/// else `~/.tencentcloud/credentials` and `/etc/tencentcloud/credentials`.
pub(crate) fn profile_paths(env: &EnvVars) -> Vec<PathBuf> {
    if let Some(p) = env.get(ENV_CREDENTIALS_FILE) {
        return vec![PathBuf::from(p)];
    }
    let mut paths = Vec::new();
    if let Some(home) = env.get("HOME") {
        paths.push(Path::new(home).join(".tencentcloud/credentials"));
    }
    paths.push(PathBuf::from("/etc/tencentcloud/credentials"));
    paths
}

pub(crate) use super::profile::{check_secret_file_mode, read_profile};
pub use super::profile::{parse_profile, ProfileError};

/// Temporary credentials of the CVM's CAM role, from the metadata service; cached and refreshed
/// [`REFRESH_MARGIN_SECS`] before `ExpiredTime`.
#[derive(Debug)]
pub struct CvmRoleProvider {
    metadata: Metadata,
    role: String,
    clock: Arc<dyn Clock>,
    cache: Mutex<Option<Credentials>>,
}

impl CvmRoleProvider {
    pub fn new(metadata: Metadata, role: impl Into<String>, clock: Arc<dyn Clock>) -> Self {
        CvmRoleProvider {
            metadata,
            role: role.into(),
            clock,
            cache: Mutex::new(None),
        }
    }

    /// Looks the role up on the metadata service; `Ok(None)` when the instance has none.
    pub async fn discover(
        metadata: Metadata,
        clock: Arc<dyn Clock>,
    ) -> Result<Option<Self>, Error> {
        Ok(metadata
            .role_name()
            .await?
            .map(|role| CvmRoleProvider::new(metadata, role, clock)))
    }

    pub fn role(&self) -> &str {
        &self.role
    }

    async fn fetch(&self) -> Result<Credentials, Error> {
        let rc = self.metadata.role_credentials(&self.role).await?;
        let creds = Credentials::new(rc.tmp_secret_id.clone(), rc.tmp_secret_key.clone())
            .map_err(|e| Error::CredentialsFrom {
                place: format!("CAM role {:?}", self.role),
                source: Box::new(e),
            })?
            .with_token(rc.token.clone())
            .with_expiry(rc.expired_time);
        tracing::debug!(role = %self.role, expires_at = rc.expired_time, "fetched CAM role credentials");
        Ok(creds)
    }
}

impl CredentialProvider for CvmRoleProvider {
    fn credentials(&self) -> BoxFuture<'_, Result<Credentials, Error>> {
        Box::pin(async move {
            let mut cache = self.cache.lock().await;
            let now = self.clock.now_unix();
            if let Some(c) = cache.as_ref() {
                if !c.needs_refresh(now) {
                    return Ok(c.clone());
                }
            }
            let fresh = self.fetch().await?;
            *cache = Some(fresh.clone());
            Ok(fresh)
        })
    }

    fn invalidate(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            *self.cache.lock().await = None;
        })
    }

    fn source(&self) -> String {
        format!("cvm-role:{}", self.role)
    }
}

/// The default chain: explicit → environment → profile file → CVM role. Resolved on first use
/// (parse first, resolve second: building a chain does no I/O) and then fixed.
#[derive(Debug)]
pub(crate) struct Chain {
    explicit: Option<Credentials>,
    env: EnvVars,
    profiles: Vec<PathBuf>,
    /// Who named the profile file on purpose (then it must exist): the environment variable
    /// or the configuration.
    profile_named_by: Option<&'static str>,
    metadata: Option<Metadata>,
    clock: Arc<dyn Clock>,
    resolved: Mutex<Option<Arc<dyn CredentialProvider>>>,
}

impl Chain {
    /// `metadata: None` skips the CVM role (e.g. when the operator knows this is no CVM).
    pub(crate) fn default_chain(
        explicit: Option<Credentials>,
        env: &EnvVars,
        metadata: Option<Metadata>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Chain {
            explicit,
            env: env.clone(),
            profiles: profile_paths(env),
            profile_named_by: env.get(ENV_CREDENTIALS_FILE).map(|_| ENV_CREDENTIALS_FILE),
            metadata,
            clock,
            resolved: Mutex::new(None),
        }
    }

    #[cfg(test)]
    /// Replaces the profile file list (tests, or a config file naming one).
    pub(crate) fn with_profile_paths(mut self, paths: Vec<PathBuf>) -> Self {
        self.profiles = paths;
        self
    }

    /// Reads credentials from the profile file `path` only, which must exist (a configuration
    /// file naming it: a typo must not fall through to another source).
    pub(crate) fn with_profile_file(mut self, path: PathBuf) -> Self {
        self.profiles = vec![path];
        self.profile_named_by = Some("the configuration");
        self
    }

    /// Resolves what can be resolved without the network: explicit credentials, the
    /// environment, the profile files. A problem there (half the environment pair, an empty
    /// key, a profile file that is too open, malformed or missing when named) is an error now,
    /// before any call, so that every command reports it as the configuration error it is.
    /// When none of them has credentials, the CVM role is left for the first call.
    pub(crate) async fn resolve_local(&self) -> Result<(), Error> {
        let mut slot = self.resolved.lock().await;
        if slot.is_none() {
            if let Some(p) = self.find_local()? {
                tracing::debug!(source = %p.source(), "using credentials");
                *slot = Some(p);
            }
        }
        Ok(())
    }

    /// Finds the first source that has credentials.
    pub(crate) async fn resolve(&self) -> Result<Arc<dyn CredentialProvider>, Error> {
        let mut slot = self.resolved.lock().await;
        if let Some(p) = slot.as_ref() {
            return Ok(p.clone());
        }
        let provider = self.find().await?;
        tracing::debug!(source = %provider.source(), "using credentials");
        *slot = Some(provider.clone());
        Ok(provider)
    }

    /// The sources that need no network: explicit, environment, profile files.
    fn find_local(&self) -> Result<Option<Arc<dyn CredentialProvider>>, Error> {
        if let Some(c) = &self.explicit {
            return Ok(Some(Arc::new(StaticProvider::new(
                c.clone(),
                "configuration",
            ))));
        }
        if let Some(c) = from_env(&self.env)? {
            return Ok(Some(Arc::new(StaticProvider::new(c, "environment"))));
        }
        for path in &self.profiles {
            match read_profile(path)? {
                Some(c) => {
                    return Ok(Some(Arc::new(StaticProvider::new(
                        c,
                        path.display().to_string(),
                    ))))
                }
                None => {
                    if let Some(by) = self.profile_named_by {
                        return Err(Error::Credentials(format!(
                            "profile file {} (named by {by}) does not exist",
                            path.display()
                        )));
                    }
                }
            }
        }
        Ok(None)
    }

    async fn find(&self) -> Result<Arc<dyn CredentialProvider>, Error> {
        if let Some(p) = self.find_local()? {
            return Ok(p);
        }
        let tried_files = self
            .profiles
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let role_note = match &self.metadata {
            None => "CVM role lookup disabled".to_string(),
            Some(md) => match CvmRoleProvider::discover(md.clone(), self.clock.clone()).await {
                Ok(Some(p)) => return Ok(Arc::new(p)),
                Ok(None) => format!("no CAM role bound (metadata {})", md.base_url()),
                Err(e) => format!("metadata {} unavailable: {e}", md.base_url()),
            },
        };
        Err(Error::Credentials(format!(
            "no credentials found: set {ENV_SECRET_ID} and {ENV_SECRET_KEY}, or write a profile \
             file ({tried_files}), or bind a CAM role to the instance ({role_note})"
        )))
    }
}

impl CredentialProvider for Chain {
    fn credentials(&self) -> BoxFuture<'_, Result<Credentials, Error>> {
        Box::pin(async move { self.resolve().await?.credentials().await })
    }

    fn invalidate(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let resolved = self.resolved.lock().await.clone();
            if let Some(p) = resolved {
                p.invalidate().await;
            }
        })
    }

    fn source(&self) -> String {
        match self.resolved.try_lock() {
            Ok(slot) => slot
                .as_ref()
                .map(|p| p.source())
                .unwrap_or_else(|| "default chain (unresolved)".to_string()),
            Err(_) => "default chain".to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::clock::FixedClock;
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::time::Duration;

    const KEY: &str = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE";

    fn clock() -> Arc<dyn Clock> {
        Arc::new(FixedClock::new(1_700_000_000))
    }

    #[test]
    fn debug_redacts_key_and_token() {
        let c = Credentials::new("AKIDexample", KEY)
            .unwrap()
            .with_token("tok-very-secret");
        let text = format!("{c:?} {c:#?}");
        assert!(!text.contains(KEY), "{text}");
        assert!(!text.contains("tok-very-secret"), "{text}");
        assert!(text.contains("AKIDexample"));
        assert!(text.contains("redacted"));
    }

    #[test]
    fn rejects_empty_and_padded_values() {
        assert!(Credentials::new("", KEY).is_err());
        assert!(Credentials::new("AKID", "").is_err());
        assert!(Credentials::new("AKID ", KEY).is_err());
        assert!(Credentials::new("AKID", format!("{KEY}\n")).is_err());
    }

    #[test]
    fn refresh_margin() {
        let c = Credentials::new("a", "b").unwrap().with_expiry(1000);
        assert!(!c.needs_refresh(699));
        assert!(c.needs_refresh(700));
        assert!(!Credentials::new("a", "b").unwrap().needs_refresh(i64::MAX));
    }

    #[test]
    fn env_needs_both_halves() {
        let both = EnvVars::from_pairs([
            (ENV_SECRET_ID, "AKID1"),
            (ENV_SECRET_KEY, "k1"),
            (ENV_TOKEN, "t"),
        ]);
        let c = from_env(&both).unwrap().unwrap();
        assert_eq!(
            (c.secret_id(), c.secret_key(), c.token()),
            ("AKID1", "k1", Some("t"))
        );
        assert!(from_env(&EnvVars::default()).unwrap().is_none());
        let half = EnvVars::from_pairs([(ENV_SECRET_ID, "AKID1")]);
        let err = from_env(&half).unwrap_err().to_string();
        assert!(err.contains(ENV_SECRET_KEY), "{err}");
        let blank = EnvVars::from_pairs([(ENV_SECRET_ID, " "), (ENV_SECRET_KEY, "")]);
        assert!(from_env(&blank).unwrap().is_none());
    }

    #[test]
    fn profile_parsing() {
        let text = "# comment\n[other]\nsecret_id = X\n\n[default]\n secret_id = AKIDp \nsecret_key=kp\n; trailing\n";
        let c = parse_profile(text, "default").unwrap();
        assert_eq!(
            (c.secret_id(), c.secret_key(), c.token()),
            ("AKIDp", "kp", None)
        );
        assert!(
            parse_profile("[other]\nsecret_id=a\nsecret_key=b\n", "default")
                .unwrap_err()
                .to_string()
                .contains("no [default]")
        );
        assert!(parse_profile("[default]\nsecret_id=a\n", "default")
            .unwrap_err()
            .to_string()
            .contains("secret_key"));
        assert!(parse_profile("[default\n", "default").is_err());
        assert!(parse_profile("[default]\ngarbage\n", "default").is_err());
    }

    #[test]
    fn profile_paths_order() {
        let env = EnvVars::from_pairs([("HOME", "/home/u")]);
        assert_eq!(
            profile_paths(&env),
            vec![
                PathBuf::from("/home/u/.tencentcloud/credentials"),
                PathBuf::from("/etc/tencentcloud/credentials")
            ]
        );
        let env = EnvVars::from_pairs([("HOME", "/home/u"), (ENV_CREDENTIALS_FILE, "/x/c")]);
        assert_eq!(profile_paths(&env), vec![PathBuf::from("/x/c")]);
    }

    fn write_profile(dir: &Path, mode: u32) -> PathBuf {
        let path = dir.join("credentials");
        std::fs::write(
            &path,
            format!("[default]\nsecret_id = AKIDfile\nsecret_key = {KEY}\n"),
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    #[test]
    fn profile_permissions_are_enforced() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_profile(dir.path(), 0o600);
        assert_eq!(
            read_profile(&path).unwrap().unwrap().secret_id(),
            "AKIDfile"
        );
        for mode in [0o644, 0o640, 0o604, 0o660] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let err = read_profile(&path).unwrap_err().to_string();
            assert!(err.contains(&path.display().to_string()), "{err}");
            assert!(err.contains("too open"), "{err}");
            assert!(!err.contains(KEY), "{err}");
        }
        assert!(read_profile(&dir.path().join("missing")).unwrap().is_none());
    }

    #[tokio::test]
    async fn chain_order_explicit_env_profile() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_profile(dir.path(), 0o600);
        let env = EnvVars::from_pairs([(ENV_SECRET_ID, "AKIDenv"), (ENV_SECRET_KEY, "kenv")]);
        let explicit = Credentials::new("AKIDexp", "kexp").unwrap();

        let chain = Chain::default_chain(Some(explicit), &env, None, clock())
            .with_profile_paths(vec![path.clone()]);
        assert_eq!(chain.credentials().await.unwrap().secret_id(), "AKIDexp");
        assert_eq!(chain.source(), "configuration");

        let chain =
            Chain::default_chain(None, &env, None, clock()).with_profile_paths(vec![path.clone()]);
        assert_eq!(chain.credentials().await.unwrap().secret_id(), "AKIDenv");

        let chain = Chain::default_chain(None, &EnvVars::default(), None, clock())
            .with_profile_paths(vec![dir.path().join("nope"), path.clone()]);
        assert_eq!(chain.credentials().await.unwrap().secret_id(), "AKIDfile");
        assert_eq!(chain.source(), path.display().to_string());
    }

    #[tokio::test]
    async fn chain_refuses_open_profile_instead_of_falling_through() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_profile(dir.path(), 0o644);
        let chain = Chain::default_chain(None, &EnvVars::default(), None, clock())
            .with_profile_paths(vec![path.clone()]);
        let err = chain.credentials().await.unwrap_err().to_string();
        assert!(err.contains(&path.display().to_string()), "{err}");
    }

    #[tokio::test]
    async fn chain_reports_every_source_when_nothing_found() {
        let dir = tempfile::tempdir().unwrap();
        // Port 9 (discard) on loopback: connection refused, quickly, and never off this host.
        let md = Metadata::new("http://127.0.0.1:9", Duration::from_secs(1)).unwrap();
        let chain = Chain::default_chain(None, &EnvVars::default(), Some(md), clock())
            .with_profile_paths(vec![dir.path().join("none")]);
        let err = chain.credentials().await.unwrap_err();
        assert!(matches!(err, Error::Credentials(_)));
        let text = err.to_string();
        assert!(
            text.contains(ENV_SECRET_ID) && text.contains("none") && text.contains("metadata"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn explicit_credentials_file_must_exist() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing");
        let env = EnvVars::from_pairs([(ENV_CREDENTIALS_FILE, missing.display().to_string())]);
        let chain = Chain::default_chain(None, &env, None, clock());
        let err = chain.credentials().await.unwrap_err().to_string();
        assert!(err.contains(&missing.display().to_string()), "{err}");
    }

    /// Issue 7: the profile file was read without a cap.
    #[test]
    fn a_profile_file_larger_than_the_cap_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = write_profile(dir.path(), 0o600);
        let mut text = std::fs::read_to_string(&path).unwrap();
        text.push_str(&"#".repeat(crate::bounds::MAX_CONFIG_BYTES as usize));
        std::fs::write(&path, text).unwrap();
        let err = read_profile(&path).unwrap_err().to_string();
        assert!(err.contains("1 MiB"), "{err}");
        assert_eq!(err.matches(&path.display().to_string()).count(), 1, "{err}");
        let err = read_profile(dir.path()).unwrap_err().to_string();
        assert!(err.contains("directory"), "{err}");
    }

    /// Issue 7: an empty `TENCENTCLOUD_SECRET_KEY` surfaced only at the first call. Everything
    /// local resolves at setup; with nothing local the chain still waits for the CVM role.
    #[tokio::test]
    async fn local_credential_problems_are_found_before_any_call() {
        let dir = tempfile::tempdir().unwrap();
        let env = EnvVars::from_pairs([(ENV_SECRET_ID, "AKIDx"), (ENV_SECRET_KEY, "")]);
        let chain = Chain::default_chain(None, &env, None, clock())
            .with_profile_paths(vec![dir.path().join("none")]);
        let err = chain.resolve_local().await.unwrap_err();
        assert!(matches!(err, Error::Credentials(_)), "{err}");
        assert!(err.to_string().contains(ENV_SECRET_KEY), "{err}");

        let open = write_profile(dir.path(), 0o644);
        let chain = Chain::default_chain(None, &EnvVars::default(), None, clock())
            .with_profile_paths(vec![open]);
        assert!(chain.resolve_local().await.is_err());

        let missing = dir.path().join("typo");
        let chain = Chain::default_chain(None, &EnvVars::default(), None, clock())
            .with_profile_file(missing.clone());
        let err = chain.resolve_local().await.unwrap_err().to_string();
        assert!(
            err.contains(&missing.display().to_string()) && err.contains("configuration"),
            "{err}"
        );

        let chain = Chain::default_chain(None, &EnvVars::default(), None, clock())
            .with_profile_paths(vec![dir.path().join("none")]);
        chain.resolve_local().await.unwrap();
        assert_eq!(chain.source(), "default chain (unresolved)");
    }
}
