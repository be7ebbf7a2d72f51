//! The checks of this node's own files: the state directory (events, locks, drain flags) and
//! the journal's directory must be writable by havip, or `havip notify` runs degraded (exit 3)
//! and leaves no record. The probe creates and removes one empty file; nothing else is written.

use std::path::Path;

use super::{Check, Report};
use crate::config::Config;

/// Runs both checks.
pub fn checks(cfg: &Config, report: &mut Report) {
    report.push(dir_check("local.state_dir", &cfg.state_dir));
    let journal_dir = cfg.journal.parent().unwrap_or(Path::new("."));
    let mut c = dir_check("local.journal", journal_dir);
    if c.status == super::Status::Pass && cfg.journal.exists() {
        if let Err(e) = std::fs::OpenOptions::new().append(true).open(&cfg.journal) {
            c = Check::fail(
                "local.journal",
                format!("{} cannot be appended to: {e}", cfg.journal.display()),
                "make the journal writable by the user keepalived runs scripts as (script_user)",
            );
        }
    }
    report.push(c);
}

/// Whether `dir` is writable (probed with a file created and removed), or, when it does not
/// exist yet, whether havip can create it (its nearest existing ancestor is writable).
pub fn dir_check(id: &'static str, dir: &Path) -> Check {
    let fix = "create it writable by the user keepalived runs scripts as (script_user), or set state_dir / HAVIP_STATE_DIR";
    if !dir.exists() {
        let ancestor = dir.ancestors().skip(1).find(|a| a.exists());
        return match ancestor {
            Some(a) if probe(a).is_ok() => Check::pass(
                id,
                format!(
                    "{} does not exist yet; havip will create it in {}",
                    dir.display(),
                    a.display()
                ),
            ),
            _ => Check::fail(
                id,
                format!("{} does not exist and cannot be created", dir.display()),
                fix,
            ),
        };
    }
    match probe(dir) {
        Ok(()) => Check::pass(id, format!("{} is writable", dir.display())),
        Err(e) => Check::fail(id, format!("{} is not writable: {e}", dir.display()), fix),
    }
}

/// Creates and removes an empty file in `dir`.
fn probe(dir: &Path) -> std::io::Result<()> {
    let path = dir.join(format!(".havip-doctor-{}", std::process::id()));
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)?;
    std::fs::remove_file(&path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Status;

    #[test]
    fn writable_missing_and_unwritable_directories() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(dir_check("x", dir.path()).status, Status::Pass);
        let later = dir.path().join("a/b");
        let c = dir_check("x", &later);
        assert_eq!(c.status, Status::Pass);
        assert!(c.message.contains("will create"), "{}", c.message);
        assert!(
            std::fs::read_dir(dir.path()).unwrap().next().is_none(),
            "the probe leaves nothing"
        );
        let file = dir.path().join("f");
        std::fs::write(&file, "").unwrap();
        let c = dir_check("x", &file.join("sub"));
        assert_eq!(c.status, Status::Fail, "{c:?}");
        assert!(c.fix.is_some());
    }
}
