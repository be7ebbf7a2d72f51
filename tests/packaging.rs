//! What an operator installs: `make install` (into a DESTDIR: every file where deploy/README.md
//! says, /etc files never overwritten, paths following PREFIX, `make uninstall` keeping the
//! operator's files), the logrotate entry (accepted by logrotate, rotation by rename loses no
//! record), and `make deb` (opt-in with `HAVIP_DEB=1`, root: the package's contents, installed
//! with dpkg into a throwaway root where `havip --version` runs, purged again; the real
//! system's dpkg database is never touched).
//!
//! The lists of expected files come from the tree and the generated man pages, so units,
//! examples and commands added later are covered without editing this file.

mod support;

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

fn have(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[track_caller]
fn ok(what: &str, out: Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what}: {}\n--- stdout ---\n{stdout}\n--- stderr ---\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// `make TARGET VARS...` in the repository, with the cargo that runs this test and without the
/// variables cargo set for this test (so nested builds reuse the artifacts).
fn make(target: &str, vars: &[(&str, &Path)]) -> String {
    let mut cmd = Command::new("make");
    support::without_test_env(&mut cmd)
        .arg("--no-print-directory")
        .arg("-C")
        .arg(root())
        .arg(target)
        .env("CARGO", env!("CARGO"));
    for (k, v) in vars {
        cmd.arg(format!("{k}={}", v.display()));
    }
    ok(&format!("make {target}"), cmd.output().unwrap())
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o7777
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Files under `dir` (relative paths), recursively; none when `dir` does not exist.
fn files_under(dir: &Path) -> BTreeSet<PathBuf> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeSet<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                out.insert(p.strip_prefix(base).unwrap().to_path_buf());
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(dir, dir, &mut out);
    out
}

/// The units and drop-ins under deploy/systemd, as the Makefile selects them.
fn units() -> BTreeSet<PathBuf> {
    let units: BTreeSet<PathBuf> = files_under(&root().join("deploy/systemd"))
        .into_iter()
        .filter(|p| {
            let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
            ["service", "timer", "socket", "path", "conf"].contains(&ext)
        })
        .collect();
    assert!(units.contains(Path::new("keepalived.service.d/havip.conf")));
    units
}

/// The /etc files: (source in deploy/, path under /etc, mode).
const ETC: [(&str, &str, u32); 3] = [
    ("havip.toml.example", "havip/havip.toml", 0o600),
    ("logrotate/havip", "logrotate.d/havip", 0o644),
    ("cron/havip-audit", "cron.d/havip-audit", 0o644),
];

/// Example files: deploy/'s configurations for keepalived, nginx, prometheus, logrotate and
/// cron (whichever exist), and the two havip.toml examples.
fn examples() -> BTreeSet<PathBuf> {
    let mut out: BTreeSet<PathBuf> = ["havip.toml.example", "havip.minimal.toml"]
        .into_iter()
        .map(PathBuf::from)
        .collect();
    for d in ["keepalived", "nginx", "prometheus", "logrotate", "cron"] {
        let dir = root().join("deploy").join(d);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries {
            let e = e.unwrap();
            if e.file_type().unwrap().is_file() {
                out.insert(Path::new(d).join(e.file_name()));
            }
        }
    }
    out
}

/// One `make install` into a fresh DESTDIR, the man pages generated into `dist`.
struct Installed {
    _tmp: tempfile::TempDir,
    dest: PathBuf,
    dist: PathBuf,
    output: String,
}

fn install(prefix: &str) -> Installed {
    let tmp = tempfile::tempdir().unwrap();
    let dest = tmp.path().join("root");
    let dist = tmp.path().join("dist");
    let output = make(
        "install",
        &[
            ("DESTDIR", &dest),
            ("PREFIX", Path::new(prefix)),
            ("BIN", Path::new(env!("CARGO_BIN_EXE_havip"))),
            ("DIST", &dist),
            ("DIST_PROFILE", Path::new("dev")),
        ],
    );
    Installed {
        _tmp: tmp,
        dest,
        dist,
        output,
    }
}

impl Installed {
    fn at(&self, abs: &str) -> PathBuf {
        self.dest.join(abs.trim_start_matches('/'))
    }

    fn man_pages(&self) -> BTreeSet<PathBuf> {
        let pages = files_under(&self.dist.join("man"));
        assert!(pages.contains(Path::new("havip.1")), "{pages:?}");
        assert!(pages.contains(Path::new("havip-notify.1")), "{pages:?}");
        pages
    }
}

#[test]
fn make_install_puts_every_file_in_place() {
    let i = install("/usr/local");
    let bin = i.at("/usr/local/bin/havip");
    assert_eq!(mode(&bin), 0o755);
    let version = ok(
        "havip --version",
        Command::new(&bin)
            .arg("--version")
            .env_clear()
            .output()
            .unwrap(),
    );
    assert_eq!(
        version.trim(),
        format!("havip {}", env!("CARGO_PKG_VERSION"))
    );

    let man1 = i.at("/usr/local/share/man/man1");
    assert_eq!(files_under(&man1), i.man_pages(), "every generated page");
    for (dir, name) in [
        ("bash-completion/completions", "havip"),
        ("zsh/site-functions", "_havip"),
        ("fish/vendor_completions.d", "havip.fish"),
    ] {
        let p = i.at("/usr/local/share").join(dir).join(name);
        assert!(read(&p).contains("notify"), "{}", p.display());
    }
    for unit in units() {
        let p = i.at("/usr/local/lib/systemd/system").join(&unit);
        assert_eq!(read(&p), read(&root().join("deploy/systemd").join(&unit)));
    }
    let docs = i.at("/usr/local/share/doc/havip");
    assert_eq!(
        read(&docs.join("README.md")),
        read(&root().join("deploy/README.md"))
    );
    for ex in examples() {
        assert!(
            docs.join("examples").join(&ex).is_file(),
            "{}",
            ex.display()
        );
    }

    for (src, etc, want_mode) in ETC {
        let p = i.at("/etc").join(etc);
        if root().join("deploy").join(src).exists() {
            assert_eq!(read(&p), read(&root().join("deploy").join(src)), "{etc}");
            assert_eq!(mode(&p), want_mode, "{etc}");
        } else {
            assert!(!p.exists(), "{etc} without a source");
            assert!(i
                .output
                .contains(&format!("deploy/{src} is not in this tree yet")));
        }
    }
    assert_eq!(mode(&i.at("/etc/havip")), 0o750);
    assert_eq!(mode(&i.at("/var/lib/havip")), 0o750);
}

#[test]
fn make_install_never_overwrites_an_operators_file_and_uninstall_keeps_them() {
    let i = install("/usr/local");
    let conf = i.at("/etc/havip/havip.toml");
    let logrotate = i.at("/etc/logrotate.d/havip");
    std::fs::write(&conf, "# the operator's\n").unwrap();
    std::fs::write(&logrotate, "# tuned by the operator\n").unwrap();
    std::fs::set_permissions(&conf, std::fs::Permissions::from_mode(0o640)).unwrap();
    std::fs::write(i.at("/var/lib/havip/journal.jsonl"), "{}\n").unwrap();

    let again = make(
        "install",
        &[
            ("DESTDIR", &i.dest),
            ("BIN", Path::new(env!("CARGO_BIN_EXE_havip"))),
            ("DIST", &i.dist),
            ("DIST_PROFILE", Path::new("dev")),
        ],
    );
    assert_eq!(read(&conf), "# the operator's\n");
    assert_eq!(mode(&conf), 0o640);
    assert_eq!(read(&logrotate), "# tuned by the operator\n");
    assert!(again.contains("kept"), "{again}");
    assert!(
        again.contains("/usr/local/share/doc/havip/examples/havip.toml.example"),
        "says where the shipped file is: {again}"
    );

    let out = make("uninstall", &[("DESTDIR", &i.dest)]);
    assert!(!i.at("/usr/local/bin/havip").exists());
    assert!(files_under(&i.at("/usr/local/share/man/man1")).is_empty());
    assert!(files_under(&i.at("/usr/local/lib/systemd/system")).is_empty());
    assert!(!i.at("/usr/local/share/doc/havip").exists());
    assert!(!i.at("/usr/local/share/zsh/site-functions/_havip").exists());
    // The operator's: configuration, a modified logrotate entry, the journal.
    assert_eq!(read(&conf), "# the operator's\n");
    assert!(logrotate.exists(), "a modified /etc file stays");
    assert!(out.contains("kept"), "{out}");
    assert_eq!(read(&i.at("/var/lib/havip/journal.jsonl")), "{}\n");
}

#[test]
fn make_install_with_prefix_usr_names_usr_bin_everywhere() {
    let i = install("/usr");
    assert!(i.at("/usr/bin/havip").is_file());
    assert!(i.at("/usr/share/man/man1/havip.1").is_file());
    let units = i.at("/usr/lib/systemd/system");
    assert!(units.join("keepalived.service.d/havip.conf").is_file());
    // Every installed text file that runs havip names the installed binary.
    let mut named = 0;
    for rel in files_under(&i.dest) {
        let Ok(text) = std::fs::read_to_string(i.dest.join(&rel)) else {
            continue; // the binary
        };
        if rel.ends_with("README.md") {
            continue; // documents both layouts
        }
        assert!(
            !text.contains("/usr/local/bin/havip"),
            "{} still names /usr/local/bin/havip",
            rel.display()
        );
        named += usize::from(text.contains("/usr/bin/havip"));
    }
    assert!(named >= 2, "the keepalived examples run /usr/bin/havip");
}

/// logrotate accepts the entry (`-d`), and a forced rotation renames the journal: the records
/// written before are in journal.jsonl.1, the next record havip appends starts the new file.
#[test]
fn logrotate_accepts_the_entry_and_rotation_loses_no_record() {
    if !have("logrotate") {
        eprintln!("skipped: logrotate is not installed (Debian: logrotate)");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let journal_path = tmp.path().join("journal.jsonl");
    let entry = read(&root().join("deploy/logrotate/havip"));
    assert!(entry.contains("/var/lib/havip/journal.jsonl {"), "{entry}");
    let directives: Vec<&str> = entry
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .collect();
    assert!(!directives.iter().any(|l| l.contains("copytruncate")));
    let mut conf = entry.replace(
        "/var/lib/havip/journal.jsonl",
        journal_path.to_str().unwrap(),
    );
    if !is_root() {
        // Only root can give the new file to root.
        conf = conf.replace("create 0640 root root", "create 0640");
    }
    let conf_path = tmp.path().join("havip.logrotate");
    std::fs::write(&conf_path, conf).unwrap();
    let state = tmp.path().join("state");
    let journal = havip::journal::Journal::new(&journal_path);
    journal.append_line(&serde_json::json!({"n": 1})).unwrap();

    let logrotate = |flag: &str| {
        let out = Command::new("logrotate")
            .arg(flag)
            .arg("-s")
            .arg(&state)
            .arg(&conf_path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            out.status.success() && !stderr.contains("error"),
            "logrotate {flag}: {stderr}"
        );
        stderr
    };
    let debug = logrotate("-d");
    assert!(debug.contains("journal.jsonl"), "{debug}");
    logrotate("-f");

    let rotated = tmp.path().join("journal.jsonl.1");
    assert_eq!(read(&rotated), "{\"n\":1}\n", "delaycompress");
    assert_eq!(read(&journal_path), "", "a fresh journal");
    assert_eq!(mode(&journal_path), 0o640);
    journal.append_line(&serde_json::json!({"n": 2})).unwrap();
    assert_eq!(read(&journal_path), "{\"n\":2}\n");
    assert_eq!(read(&rotated), "{\"n\":1}\n");
}

/// `make deb`: the package holds what `make install PREFIX=/usr` installs, with the /etc files
/// as conffiles; dpkg installs it into a throwaway root (its maintainer scripts honour
/// DPKG_ROOT), `havip --version` runs from there, an operator's edit survives a reinstall, and
/// purge removes the state directory. Slow (a release build, cargo-deb), so opt-in.
#[test]
fn make_deb_builds_a_package_dpkg_installs() {
    if std::env::var_os("HAVIP_DEB").is_none_or(|v| v.is_empty()) {
        eprintln!("skipped: the package test runs only with HAVIP_DEB=1 (and as root): `make deb`");
        return;
    }
    if !is_root() {
        eprintln!("skipped: the package test needs root (dpkg into a throwaway root)");
        return;
    }
    let host_before = host_havip_stanza();
    let tmp = tempfile::tempdir().unwrap();
    let dist = root().join("target/dist");
    make("deb", &[]);
    let version = env!("CARGO_PKG_VERSION");
    let arch = ok(
        "dpkg --print-architecture",
        Command::new("dpkg")
            .arg("--print-architecture")
            .output()
            .unwrap(),
    );
    let deb = root().join(format!(
        "target/debian/havip_{version}-1_{}.deb",
        arch.trim()
    ));

    // Contents: path and mode of every file.
    let listing = ok(
        "dpkg-deb -c",
        Command::new("dpkg-deb")
            .arg("-c")
            .arg(&deb)
            .output()
            .unwrap(),
    );
    let files: Vec<(String, String)> = listing
        .lines()
        .filter(|l| l.starts_with('-'))
        .map(|l| {
            let mode = l.split_whitespace().next().unwrap().to_owned();
            let path = l
                .rsplit(' ')
                .next()
                .unwrap()
                .trim_start_matches('.')
                .to_owned();
            (path, mode)
        })
        .collect();
    let has = |path: &str| {
        files
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, m)| m.as_str())
    };
    assert_eq!(has("/usr/bin/havip"), Some("-rwxr-xr-x"), "{listing}");
    assert_eq!(
        has("/etc/havip/havip.toml"),
        Some("-rw-------"),
        "{listing}"
    );
    assert!(has("/etc/logrotate.d/havip").is_some(), "{listing}");
    for page in files_under(&dist.join("man")) {
        let p = format!("/usr/share/man/man1/{}.gz", page.display());
        assert!(has(&p).is_some(), "{p} missing:\n{listing}");
    }
    for p in [
        "/usr/share/bash-completion/completions/havip",
        "/usr/share/zsh/site-functions/_havip",
        "/usr/share/fish/vendor_completions.d/havip.fish",
        "/usr/share/doc/havip/README.md",
        "/usr/share/doc/havip/copyright",
    ] {
        assert!(has(p).is_some(), "{p} missing:\n{listing}");
    }
    for unit in units() {
        let p = format!("/usr/lib/systemd/system/{}", unit.display());
        assert!(has(&p).is_some(), "{p} missing:\n{listing}");
    }
    for ex in examples() {
        let p = format!("/usr/share/doc/havip/examples/{}", ex.display());
        assert!(has(&p).is_some(), "{p} missing:\n{listing}");
    }
    assert!(
        !files.iter().any(|(p, _)| p.contains("/usr/local/")),
        "nothing in /usr/local:\n{listing}"
    );
    let control = tmp.path().join("control");
    ok(
        "dpkg-deb -e",
        Command::new("dpkg-deb")
            .arg("-e")
            .arg(&deb)
            .arg(&control)
            .output()
            .unwrap(),
    );
    let conffiles = read(&control.join("conffiles"));
    for (src, etc, _) in ETC {
        let listed = conffiles.lines().any(|l| l == format!("/etc/{etc}"));
        assert_eq!(
            listed,
            root().join("deploy").join(src).exists(),
            "{conffiles}"
        );
    }

    // Install into a throwaway root: its own dpkg database, scripts run outside a chroot with
    // DPKG_ROOT set, dependencies (libc6) not in that database.
    let droot = tmp.path().join("root");
    for d in ["info", "updates", "triggers"] {
        std::fs::create_dir_all(droot.join("var/lib/dpkg").join(d)).unwrap();
    }
    std::fs::write(droot.join("var/lib/dpkg/status"), "").unwrap();
    let dpkg = |args: &[&str]| {
        let out = Command::new("dpkg")
            .arg(format!("--root={}", droot.display()))
            .args([
                "--force-script-chrootless",
                "--force-depends",
                "--log=/dev/null",
            ])
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        ok(&format!("dpkg {args:?}"), out)
    };
    dpkg(&["-i", deb.to_str().unwrap()]);
    let version_out = ok(
        "havip --version from the package",
        Command::new(droot.join("usr/bin/havip"))
            .arg("--version")
            .env_clear()
            .output()
            .unwrap(),
    );
    assert_eq!(version_out.trim(), format!("havip {version}"));
    assert_eq!(mode(&droot.join("var/lib/havip")), 0o750, "postinst");
    assert_eq!(mode(&droot.join("etc/havip/havip.toml")), 0o600);
    assert!(
        read(&droot.join("usr/share/doc/havip/examples/keepalived/keepalived-node1.conf"))
            .contains("\"/usr/bin/havip notify\"")
    );

    // An operator's edit survives a reinstall (an unchanged conffile is never replaced).
    std::fs::write(droot.join("etc/havip/havip.toml"), "# the operator's\n").unwrap();
    dpkg(&["-i", deb.to_str().unwrap()]);
    assert_eq!(
        read(&droot.join("etc/havip/havip.toml")),
        "# the operator's\n"
    );

    dpkg(&["--purge", "havip"]);
    assert!(!droot.join("usr/bin/havip").exists());
    assert!(
        !droot.join("var/lib/havip").exists(),
        "purge removes the state"
    );
    assert!(!droot.join("etc/havip/havip.toml").exists());

    assert_eq!(
        host_havip_stanza(),
        host_before,
        "the host's dpkg database changed"
    );
}

/// The real system's dpkg record of havip, if any (other packages may come and go meanwhile).
fn host_havip_stanza() -> Option<String> {
    let status = std::fs::read_to_string("/var/lib/dpkg/status").unwrap_or_default();
    status
        .split("\n\n")
        .find(|s| s.lines().next() == Some("Package: havip"))
        .map(str::to_owned)
}
