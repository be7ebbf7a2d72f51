//! The keepalived parser's tests: the deployed configurations, syntax errors with their lines,
//! includes (globs, relative paths, bounds), and property tests (render → parse round trips,
//! comments, arbitrary text, includes spliced in place).

use std::path::Path;

use proptest::prelude::*;

use super::*;

/// A statement without its location, for comparisons.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Shape {
    keyword: String,
    args: Vec<String>,
    block: Option<Vec<Shape>>,
}

fn shape(s: &[Statement]) -> Vec<Shape> {
    s.iter()
        .map(|s| Shape {
            keyword: s.keyword.clone(),
            args: s.args.clone(),
            block: s.block.as_deref().map(shape),
        })
        .collect()
}

fn render(s: &[Shape], indent: usize, out: &mut String) {
    for st in s {
        out.push_str(&" ".repeat(indent));
        out.push_str(&st.keyword);
        for a in &st.args {
            if a.contains(' ') || a.is_empty() {
                out.push_str(&format!(" \"{a}\""));
            } else {
                out.push(' ');
                out.push_str(a);
            }
        }
        match &st.block {
            None => out.push('\n'),
            Some(children) => {
                out.push_str(" {\n");
                render(children, indent + 4, out);
                out.push_str(&" ".repeat(indent));
                out.push_str("}\n");
            }
        }
    }
}

const NODE1: &str = include_str!("../../deploy/keepalived/keepalived-node1.conf");

#[test]
fn the_deployed_configs_parse() {
    for path in [
        "deploy/keepalived/keepalived-node1.conf",
        "deploy/keepalived/keepalived-node2.conf",
    ] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
        let conf = KeepalivedConf::load(&path).unwrap();
        let vi = conf.named("vrrp_instance", "VI_1").expect("VI_1");
        assert_eq!(vi.child("state").and_then(|s| s.arg()), Some("BACKUP"));
        assert!(vi.has("nopreempt"));
        let vips = vi.block_items("virtual_ipaddress");
        assert_eq!(vips[0].keyword, "10.0.4.99/24");
        assert_eq!(vips[0].args, ["dev", "eth0"]);
        assert_eq!(vi.block_items("unicast_peer").len(), 1);
        let notify = vi.child("notify").unwrap();
        assert!(runs_havip(&script_words(notify), "notify"));
        let chk = conf.named("vrrp_script", "chk_havip").unwrap();
        let words = script_words(chk.child("script").unwrap());
        assert!(runs_havip(&words, "check") && fails_open(&words).is_none());
        assert_eq!(conf.files, [path]);
        assert!(conf.global("vrrp_strict").is_none());
        assert!(conf.global("script_user").is_some());
    }
}

#[test]
fn blocks_nest_and_carry_their_lines() {
    let conf = KeepalivedConf::parse(NODE1, "node1.conf").unwrap();
    let vi = conf.named("vrrp_instance", "VI_1").unwrap();
    assert_eq!(
        vi.at.line,
        NODE1
            .lines()
            .position(|l| l.starts_with("vrrp_instance"))
            .unwrap()
            + 1
    );
    assert_eq!(&*vi.at.file, "node1.conf");
    let auth = vi.child("authentication").unwrap();
    assert_eq!(
        auth.child("auth_pass").and_then(|s| s.arg()),
        Some("CHANGEME")
    );
    let one_line = KeepalivedConf::parse("track_script { a b }\nx {}\n", "t").unwrap();
    assert_eq!(one_line.statements[0].block_items("track_script").len(), 0);
    assert_eq!(one_line.statements[0].children()[0].keyword, "a");
    assert_eq!(one_line.statements[0].children()[0].args, ["b"]);
    assert_eq!(one_line.statements[1].block.as_deref(), Some(&[][..]));
}

#[test]
fn syntax_errors_name_file_and_line() {
    let cases = [
        ("a {\n b\n", 1, "never closed"),
        ("a\n}\n", 2, "closes no block"),
        ("a\n{\n}\n", 2, "without a keyword"),
        ("a\nb \"open\n", 2, "unterminated"),
        ("x\ninclude foo.conf\n", 2, "include is not allowed"),
    ];
    for (text, line, what) in cases {
        let e = KeepalivedConf::parse(text, "k.conf").unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.starts_with(&format!("k.conf:{line}: ")),
            "{text:?}: {msg}"
        );
        assert!(msg.contains(what), "{text:?}: {msg}");
    }
    let deep = "a {\n".repeat(parse::MAX_NESTING + 1);
    assert!(KeepalivedConf::parse(&deep, "d")
        .unwrap_err()
        .to_string()
        .contains("nest deeper"));
}

#[test]
fn includes_follow_globs_relative_to_the_including_file() {
    let dir = tempfile::tempdir().unwrap();
    let conf_d = dir.path().join("conf.d");
    std::fs::create_dir(&conf_d).unwrap();
    std::fs::write(
        dir.path().join("keepalived.conf"),
        "global_defs {\n  include defs.inc\n}\ninclude conf.d/*.conf\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("defs.inc"), "router_id r1\n").unwrap();
    std::fs::write(conf_d.join("b.conf"), "vrrp_instance VI_2 {\n}\n").unwrap();
    std::fs::write(
        conf_d.join("a.conf"),
        "vrrp_instance VI_1 {\n  include ../inner.inc\n}\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("inner.inc"), "state BACKUP\n").unwrap();
    std::fs::write(conf_d.join("ignored.txt"), "}").unwrap();
    let conf = KeepalivedConf::load(&dir.path().join("keepalived.conf")).unwrap();
    assert_eq!(conf.global("router_id").and_then(|s| s.arg()), Some("r1"));
    let names: Vec<_> = conf
        .all("vrrp_instance")
        .into_iter()
        .filter_map(|s| s.arg())
        .collect();
    assert_eq!(names, ["VI_1", "VI_2"], "sorted glob order");
    let vi1 = conf.named("vrrp_instance", "VI_1").unwrap();
    let state = vi1.child("state").unwrap();
    assert_eq!(state.arg(), Some("BACKUP"));
    assert!(
        state.at.file.ends_with("inner.inc") && state.at.line == 1,
        "{}",
        state.at
    );
    assert_eq!(conf.files.len(), 5);
    // An error inside an included file names that file and line.
    std::fs::write(conf_d.join("c.conf"), "x\n\n}\n").unwrap();
    let e = KeepalivedConf::load(&dir.path().join("keepalived.conf")).unwrap_err();
    assert!(
        e.to_string().ends_with("c.conf:3: `}` closes no block"),
        "{e}"
    );
}

#[test]
fn includes_are_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let main = dir.path().join("k.conf");
    std::fs::write(&main, "include k.conf\n").unwrap();
    let e = KeepalivedConf::load(&main).unwrap_err().to_string();
    assert!(e.contains("includes itself"), "{e}");
    std::fs::write(&main, "include missing.conf\n").unwrap();
    let e = KeepalivedConf::load(&main).unwrap_err().to_string();
    assert!(
        e.contains("k.conf:1: include") && e.contains("no such file"),
        "{e}"
    );
    std::fs::write(&main, "include nothing/*.conf\n").unwrap();
    assert!(
        KeepalivedConf::load(&main).unwrap().statements.is_empty(),
        "an empty glob is fine"
    );
    for i in 0..=parse::MAX_INCLUDE_DEPTH + 1 {
        std::fs::write(
            dir.path().join(format!("d{i}.conf")),
            format!("include d{}.conf\n", i + 1),
        )
        .unwrap();
    }
    let e = KeepalivedConf::load(&dir.path().join("d0.conf"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("nest deeper"), "{e}");
    let e = KeepalivedConf::load(&dir.path().join("absent.conf")).unwrap_err();
    assert!(matches!(e, Error::Read { .. }), "{e}");
}

#[test]
fn havip_commands_and_fail_open_scripts() {
    let w = |s: &str| s.split_whitespace().map(str::to_string).collect::<Vec<_>>();
    let yes = [
        ("/usr/local/bin/havip notify", "notify"),
        ("havip --config /etc/havip/havip.toml notify", "notify"),
        ("/bin/sh -c '/usr/bin/havip check --vip iam'", "check"),
    ];
    for (line, sub) in yes {
        let words = w(line);
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        assert!(runs_havip(&words, sub), "{line}");
    }
    for (line, sub) in [
        ("/usr/local/bin/notify.sh", "notify"),
        ("/usr/bin/havip check", "notify"),
        ("/usr/bin/havipx notify", "notify"),
    ] {
        let words = w(line);
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        assert!(!runs_havip(&words, sub), "{line}");
    }
    for line in [
        "/bin/sh -c 'havip check || true'",
        "havip check ; exit 0",
        "sh -c \"havip check||:\"",
    ] {
        let words = w(line);
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        assert!(fails_open(&words).is_some(), "{line}");
    }
    assert!(fails_open(&["havip", "check", "--quiet"]).is_none());
}

fn word() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_./:-]{1,12}"
}

fn arg() -> impl Strategy<Value = String> {
    prop_oneof!["[a-zA-Z0-9_./:-]{1,12}", "[a-z0-9 _/.-]{1,20}"]
        .prop_filter("a quoted arg needs a non-blank", |s| !s.trim().is_empty())
        .prop_filter("no comment starts", |s| {
            !s.starts_with(['#', '!']) && !s.split(' ').any(|w| w.starts_with(['#', '!']))
        })
}

fn tree() -> impl Strategy<Value = Vec<Shape>> {
    let leaf = (word(), prop::collection::vec(arg(), 0..3)).prop_map(|(keyword, args)| Shape {
        keyword,
        args,
        block: None,
    });
    let node = leaf.prop_recursive(3, 24, 4, |inner| {
        (
            word(),
            prop::collection::vec(arg(), 0..2),
            prop::collection::vec(inner, 0..4),
        )
            .prop_map(|(keyword, args, children)| Shape {
                keyword,
                args,
                block: Some(children),
            })
    });
    prop::collection::vec(node, 0..6)
        .prop_map(|v| v.into_iter().filter(|s| s.keyword != "include").collect())
}

proptest! {
    #[test]
    fn rendered_trees_parse_back(t in tree()) {
        let mut text = String::new();
        render(&t, 0, &mut text);
        let conf = KeepalivedConf::parse(&text, "p.conf").unwrap();
        prop_assert_eq!(shape(&conf.statements), t);
    }

    #[test]
    fn comments_and_blank_lines_change_nothing(t in tree(), c in "[ -~]{0,20}") {
        let mut text = String::new();
        render(&t, 0, &mut text);
        let commented: String = text
            .lines()
            .map(|l| format!("{l} # {c}\n! {c}\n\n"))
            .collect();
        let a = KeepalivedConf::parse(&text, "p").unwrap();
        let b = KeepalivedConf::parse(&commented, "p").unwrap();
        prop_assert_eq!(shape(&a.statements), shape(&b.statements));
    }

    #[test]
    fn any_text_parses_or_names_a_line(text in "[ -~\\n{}\"#!]{0,200}") {
        let lines = text.lines().count().max(1);
        match KeepalivedConf::parse(&text, "x") {
            Ok(_) => {}
            Err(Error::Syntax { at, .. }) => prop_assert!(at.line >= 1 && at.line <= lines + 1),
            Err(e) => prop_assert!(false, "unexpected error {}", e),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Moving any run of top-level statements into an included file changes nothing but the
    /// locations.
    #[test]
    fn an_include_splices_in_place(t in tree(), a in 0usize..8, b in 0usize..8) {
        let (a, b) = (a.min(t.len()), b.min(t.len()));
        let (from, to) = (a.min(b), a.max(b));
        let mut head = String::new();
        render(&t[..from], 0, &mut head);
        let mut part = String::new();
        render(&t[from..to], 0, &mut part);
        let mut tail = String::new();
        render(&t[to..], 0, &mut tail);
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("parts")).unwrap();
        std::fs::write(dir.path().join("parts/p.conf"), part).unwrap();
        let main = dir.path().join("main.conf");
        std::fs::write(&main, format!("{head}include parts/*.conf\n{tail}")).unwrap();
        let conf = KeepalivedConf::load(&main).unwrap();
        prop_assert_eq!(shape(&conf.statements), t);
        prop_assert_eq!(conf.files.len(), 2);
    }
}
