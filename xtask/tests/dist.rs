//! `xtask dist` against havip's real command line: every command (found by walking
//! `Cli::command()`, so commands added later are covered without touching this file) gets a
//! man page that names it and renders cleanly, and every completion file offers every
//! subcommand; bash's completion function really completes them.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command as Process;

use clap::{Command, CommandFactory};
use havip::cli::Cli;

/// A page: its name, the command's about, and the parent's page name.
#[derive(Debug)]
struct Page {
    name: String,
    about: String,
    parent: Option<String>,
}

/// The root and each visible subcommand, recursively, from clap's definition alone (names
/// joined with `-`), not from xtask's own walk.
fn expected_pages() -> Vec<Page> {
    fn walk(cmd: &Command, name: String, parent: Option<String>, out: &mut Vec<Page>) {
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            let sub_name = format!("{name}-{}", sub.get_name());
            walk(sub, sub_name, Some(name.clone()), out);
        }
        let about = cmd.get_about().map(|a| a.to_string()).unwrap_or_default();
        out.push(Page {
            name,
            about,
            parent,
        });
    }
    let mut out = Vec::new();
    walk(&Cli::command(), "havip".to_owned(), None, &mut out);
    out
}

/// Every visible subcommand name, at every level.
fn subcommand_names() -> BTreeSet<String> {
    fn walk(cmd: &Command, out: &mut BTreeSet<String>) {
        for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
            out.insert(sub.get_name().to_owned());
            walk(sub, out);
        }
    }
    let mut out = BTreeSet::new();
    walk(&Cli::command(), &mut out);
    out
}

fn generate() -> (tempfile::TempDir, xtask::dist::Written) {
    let dir = tempfile::tempdir().unwrap();
    let written = xtask::dist::write(Cli::command(), dir.path()).unwrap();
    (dir, written)
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

#[test]
fn every_command_gets_a_man_page_that_names_it() {
    let (dir, written) = generate();
    let expected = expected_pages();
    assert!(
        expected.len() > 5,
        "havip has more commands than {expected:?}"
    );
    let files: BTreeSet<String> = std::fs::read_dir(dir.path().join("man"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    let want: BTreeSet<String> = expected.iter().map(|p| format!("{}.1", p.name)).collect();
    assert_eq!(files, want, "one page per command, no more");
    assert_eq!(written.man_pages.len(), want.len());

    for Page {
        name,
        about,
        parent,
    } in &expected
    {
        let page = read(&dir.path().join("man").join(format!("{name}.1")));
        let version = Cli::command().get_version().map(str::to_owned).unwrap();
        let title = page.lines().find(|l| l.starts_with(".TH ")).unwrap_or("");
        assert_eq!(
            title,
            format!(".TH {name} 1  \"havip {version}\" \"havip manual\""),
            "{name}.1: title line"
        );
        let name_section = page
            .split(".SH NAME\n")
            .nth(1)
            .and_then(|s| s.split(".SH ").next())
            .unwrap_or_else(|| panic!("{name}.1 has no NAME section"));
        assert!(
            name_section.starts_with(&format!("{} \\- ", name.replace('-', "\\-"))),
            "{name}.1: NAME section: {name_section}"
        );
        // The about's first words, with roff's escapes for `-` and `'` undone.
        let head: String = about
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ");
        assert!(!head.is_empty(), "{name} has no about text");
        let plain = name_section.replace("\\-", "-").replace("\\*(Aq", "'");
        assert!(plain.contains(&head), "{name}.1: about {head:?} missing");
        assert!(page.contains(".SH \"SEE ALSO\""), "{name}.1: no SEE ALSO");
        let see_also = page.split(".SH \"SEE ALSO\"").nth(1).unwrap_or("");
        if let Some(parent) = parent {
            let parent_ref = format!("\\fB{}\\fR(1)", parent.replace('-', "\\-"));
            assert!(
                see_also.contains(&parent_ref),
                "{name}.1: SEE ALSO {parent}(1)"
            );
            assert!(
                see_also.contains("\\fBhavip\\fR(1)"),
                "{name}.1: SEE ALSO havip(1)"
            );
        }
    }
    // The root page lists the subcommands and the global options.
    let root = read(&dir.path().join("man/havip.1"));
    for sub in Cli::command()
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
    {
        assert!(
            root.contains(&format!("havip\\-{}(1)", sub.get_name())),
            "havip.1 does not list {}",
            sub.get_name()
        );
    }
    assert!(root.contains("\\-\\-config"), "havip.1: global options");
}

#[test]
fn man_pages_render_without_warnings() {
    if Process::new("groff").arg("--version").output().is_err() {
        eprintln!("skipped: groff is not installed (Debian: groff-base)");
        return;
    }
    let (_dir, written) = generate();
    for page in &written.man_pages {
        let out = Process::new("groff")
            .args(["-k", "-man", "-Tutf8", "-ww", "-z"])
            .arg(page)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && stderr.trim().is_empty(),
            "{}: {stderr}",
            page.display()
        );
    }
}

#[test]
fn every_completion_file_offers_every_subcommand() {
    let (dir, written) = generate();
    let names: Vec<String> = written
        .completions
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["havip.bash", "_havip", "havip.fish"]);
    let subs = subcommand_names();
    assert!(
        subs.contains("notify") && subs.contains("check"),
        "{subs:?}"
    );
    for path in &written.completions {
        let text = read(path);
        for sub in &subs {
            assert!(
                text.contains(sub.as_str()),
                "{} does not mention `{sub}`",
                path.display()
            );
        }
        // The global flags are offered too.
        assert!(text.contains("config"), "{}", path.display());
    }
    assert!(read(&dir.path().join("completions/_havip")).starts_with("#compdef havip"));
}

/// bash sources the file and its `_havip` function completes `havip <TAB>` to the top-level
/// subcommands and `havip con<TAB>` to `config`.
#[test]
fn bash_completion_completes_the_subcommands() {
    let (dir, _) = generate();
    let script = dir.path().join("completions/havip.bash");
    let complete = |line: &str| -> BTreeSet<String> {
        let out = Process::new("bash")
            .arg("-c")
            .arg(
                r#"source "$1"; read -ra COMP_WORDS <<< "$2"; [[ "$2" == *" " ]] && COMP_WORDS+=("");
                   COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); COMP_LINE="$2"; COMP_POINT=${#2};
                   _havip havip "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}";
                   printf '%s\n' "${COMPREPLY[@]}""#,
            )
            .arg("bash")
            .arg(&script)
            .arg(line)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "bash: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    };
    let top = complete("havip ");
    for sub in Cli::command()
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
    {
        assert!(
            top.contains(sub.get_name()),
            "havip <TAB> lacks {}: {top:?}",
            sub.get_name()
        );
    }
    assert!(top.contains("--config"), "{top:?}");
    assert_eq!(
        complete("havip conf"),
        BTreeSet::from(["config".to_owned()])
    );
}

#[test]
fn a_second_run_leaves_no_stale_page() {
    let dir = tempfile::tempdir().unwrap();
    let stale = dir.path().join("man/havip-gone.1");
    std::fs::create_dir_all(stale.parent().unwrap()).unwrap();
    std::fs::write(&stale, ".TH havip-gone 1\n").unwrap();
    let keep = dir.path().join("other.txt");
    std::fs::write(&keep, "not ours").unwrap();
    xtask::dist::write(Cli::command(), dir.path()).unwrap();
    assert!(!stale.exists(), "a removed command's page survived");
    assert!(dir.path().join("man/havip.1").exists());
    assert_eq!(
        read(&keep),
        "not ours",
        "only man/ and completions/ are replaced"
    );
}

#[test]
fn an_unwritable_directory_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let err = xtask::dist::write(Cli::command(), &file.join("out")).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("a-file/out/man"), "{msg}");
}
