//! Property tests over havip's parsers of outside input (issue 7, "Keep proving it"): the
//! configuration file, keepalived's arguments to `havip notify`, and `havip api`'s parameters.
//! Arbitrary input gives `Ok` or a typed error that names where the problem is, never a panic;
//! what is accepted is what was given.
//!
//! Bounds: strings and files up to 4 KiB (the configuration soup stays under that too); case
//! counts keep the file to seconds of a loaded machine. Nothing here measures time.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser;
use havip::cli::Cli;
use havip::cmd::api::{self, default_version};
use havip::cmd::notify::{self, parse_event, Event};
use havip::cmd::{Command, UsageError};
use havip::config::{Config, ConfigError, StrategyKind, Target};
use havip::state::VrrpState;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use serde_json::Value;

// ---- The configuration --------------------------------------------------------------------

const MINIMAL: &str = include_str!("../deploy/havip.minimal.toml");
const EXAMPLE: &str = include_str!("../deploy/havip.toml.example");

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, Path::new("t.toml"), None)
}

/// The contract of every parse: `Ok` with the invariants the types cannot carry, or an error
/// that says where (a line, or a key or section in backquotes) and prints as `t.toml:…`.
fn check_config(text: &str, r: &Result<Config, ConfigError>) -> Result<(), TestCaseError> {
    match r {
        Ok(c) => {
            prop_assert_eq!(c.require_vips().is_ok(), !c.vips.is_empty());
            let mut names = std::collections::HashSet::new();
            for v in &c.vips {
                prop_assert!(names.insert(v.name.clone()), "duplicate VIP {}", v.name);
                prop_assert!(!v.name.is_empty() && v.name.len() <= 64 && !v.name.starts_with('.'));
                prop_assert!(!v.vrrp_instance.is_empty());
                prop_assert!(v.deadline >= Duration::from_secs(1));
                if let Target::Havip { havip_id, .. } = &v.target {
                    prop_assert!(havip_id.starts_with("havip-"));
                }
                if v.interface.is_some() {
                    prop_assert_eq!(v.target.kind(), StrategyKind::Havip);
                }
            }
        }
        Err(e) => {
            prop_assert!(!e.message.trim().is_empty(), "empty message");
            prop_assert!(
                e.line.is_some() || e.message.contains('`'),
                "names neither a line nor a key: {}",
                e
            );
            if let Some(line) = e.line {
                prop_assert!(
                    line >= 1 && line <= text.lines().count() + 1,
                    "line {} of {}",
                    line,
                    text.lines().count()
                );
                let prefix = format!("t.toml:{line}: ");
                prop_assert!(e.to_string().starts_with(&prefix), "{}", e);
            } else {
                prop_assert!(e.to_string().starts_with("t.toml: "), "{}", e);
            }
        }
    }
    Ok(())
}

/// The keys of each section, as the file documents them.
const TOP_KEYS: &[&str] = &["endpoint", "region", "ca_file", "state_dir", "journal"];
const CREDENTIAL_KEYS: &[&str] = &["secret_id", "secret_key", "token", "profile_file", "role"];
const NODE_KEYS: &[&str] = &["instance_id", "eni_id", "mac"];
const VIP_KEYS: &[&str] = &[
    "name",
    "vrrp_instance",
    "vrrp_group",
    "strategy",
    "havip_id",
    "eip",
    "eip_id",
    "private_ip",
    "interface",
    "vip",
    "fencing",
    "eip_takeover",
    "deadline",
];
const ALERT_KEYS: &[&str] = &[
    "type",
    "url",
    "timeout",
    "min_severity",
    "format",
    "mentioned_mobile_list",
    "command",
];
const CHECK_KEYS: &[&str] = &["http", "expect", "tcp", "timeout"];

fn any_key() -> impl Strategy<Value = String> {
    let all: Vec<&'static str> = [
        TOP_KEYS,
        CREDENTIAL_KEYS,
        NODE_KEYS,
        VIP_KEYS,
        ALERT_KEYS,
        CHECK_KEYS,
    ]
    .concat();
    prop_oneof![
        8 => prop::sample::select(all).prop_map(str::to_string),
        1 => "[a-z_]{1,12}",
        1 => prop::sample::select(vec!["vip.name", "node.mac", "\"name\"", "'deadline'", "check.http", ""])
            .prop_map(str::to_string),
    ]
}

/// Durations as an operator might (mis)type them.
const DURATIONS: &[&str] = &[
    "20s",
    "1e99s",
    "1e9s",
    "18446744073709551616s",
    "18446744073709551615s",
    "584942417355y",
    "584942417356y",
    "99999999999999999999h",
    "9999999999999999999999999999ns",
    "-1s",
    "0s",
    "0.5s",
    "999ms",
    "1ns",
    "1.5s",
    "1 m 30 s",
    "1m30s",
    "1s 1s",
    "",
    " ",
    "∞s",
    "soon",
    "60",
    "1h1h1h1h1h1h1h1h1h1h",
    "2562047788015215h",
    "2562047788015216h",
];

/// Strings that mean something to some key, and some that mean nothing.
const MEANINGFUL: &[&str] = &[
    "havip-iam00099",
    "havip-",
    "vip-1",
    "ins-iam00021",
    "i-1",
    "eni-iam00021",
    "eip-idle0001",
    "10.0.4.99",
    "106.52.252.139",
    "256.1.1.1",
    "1.2.3",
    "::1",
    "eth0",
    "a/b",
    "verylonginterfacename",
    "havip",
    "private-ip",
    "eip",
    "magic",
    "HAVIP",
    "webhook",
    "wecom",
    "exec",
    "info",
    "critical",
    "markdown",
    "http://127.0.0.1:1/healthz",
    "https://",
    "ftp://x",
    "http://[::1",
    "127.0.0.1:0",
    "127.0.0.1:65536",
    "[::1]:80",
    "::1:80",
    "VI_1",
    "iam",
    ".hidden",
    "../x",
    "AKIDx",
    "52:54:00:00:04:20",
];

/// A TOML value in source form: well-typed or not, huge, odd, or broken.
fn toml_value() -> impl Strategy<Value = String> {
    let quoted = |s: String| toml::Value::String(s).to_string();
    prop_oneof![
        4 => prop::sample::select(DURATIONS).prop_map(move |s| quoted(s.to_string())),
        4 => prop::sample::select(MEANINGFUL).prop_map(move |s| quoted(s.to_string())),
        3 => "\\PC{0,40}".prop_map(quoted),
        1 => "[ -~]{0,20}".prop_map(|s| format!("'{}'", s.replace('\'', ""))),
        1 => "\\PC{0,20}".prop_map(|s| format!("\"\"\"{}\"\"\"", s.replace('"', ""))),
        2 => any::<i64>().prop_map(|n| n.to_string()),
        1 => prop::sample::select(vec![
            "0", "-1", "99", "100", "599", "600", "65535", "65536", "99999999999999999999",
            "-9223372036854775809", "0x10", "0o7", "1_000", "1e99", "-0.0", "nan", "inf", "-inf",
            "3.14", "1979-05-27T07:32:00Z", "07:32:00", "1979-05-27",
        ])
        .prop_map(str::to_string),
        2 => any::<bool>().prop_map(|b| b.to_string()),
        1 => prop::sample::select(vec![
            "[]", "[\"a\"]", "[\"\"]", "[1, \"a\"]", "[[1], [\"x\"]]", "[\"mail\", \"-s\", \"x\"]",
            "{}", "{ a = 1 }", "{ url = \"http://x\" }",
        ])
        .prop_map(str::to_string),
        // Broken tokens: unterminated strings and arrays, nothing at all, bare words.
        1 => prop::sample::select(vec!["\"", "\"abc", "'", "[", "[1,", "{", "=", "", "yes", "20s"])
            .prop_map(str::to_string),
    ]
}

/// Section headers, right, duplicated (by repetition) and wrong.
fn header() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "[[vip]]",
        "[[vip]]",
        "[[vip]]",
        "[node]",
        "[credentials]",
        "[check]",
        "[[alert]]",
        "[vip]",
        "[[node]]",
        "[[check]]",
        "[alert]",
        "[check.x]",
        "[[vip.alert]]",
        "[bogus]",
        "[ node ]",
        "[[vip]",
        "[",
        "[]",
    ])
    .prop_map(str::to_string)
}

/// One line of TOML-shaped soup.
fn soup_line() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => header(),
        8 => (any_key(), toml_value()).prop_map(|(k, v)| format!("{k} = {v}")),
        1 => (any_key(), toml_value()).prop_map(|(k, v)| format!("  {k}={v}   # comment")),
        1 => "# \\PC{0,30}",
        1 => Just(String::new()),
        1 => "\\PC{0,30}",
    ]
}

/// A value `key` accepts (in TOML source form), so that structured documents get past the
/// types and into the validation of combinations.
fn good_value(key: &str) -> &'static str {
    match key {
        "endpoint" => "\"http://127.0.0.1:4000\"",
        "region" => "\"ap-guangzhou\"",
        "ca_file" | "profile_file" => "\"/etc/havip/ca.pem\"",
        "state_dir" => "\"/tmp/havip\"",
        "journal" => "\"/tmp/havip/journal.jsonl\"",
        "secret_id" => "\"AKIDx\"",
        "secret_key" | "token" | "role" => "\"k\"",
        "instance_id" => "\"ins-iam00021\"",
        "eni_id" => "\"eni-iam00021\"",
        "mac" => "\"52:54:00:00:04:21\"",
        "vrrp_instance" => "\"VI_1\"",
        "vrrp_group" => "\"G_1\"",
        "havip_id" => "\"havip-iam00099\"",
        "eip" => "\"106.52.252.139\"",
        "eip_id" => "\"eip-idle0001\"",
        "private_ip" => "\"10.0.4.98\"",
        "interface" => "\"eth0\"",
        "vip" => "\"10.0.4.99\"",
        "fencing" | "eip_takeover" => "true",
        "deadline" => "\"20s\"",
        "http" | "url" => "\"http://127.0.0.1/healthz\"",
        "expect" => "200",
        "tcp" => "\"127.0.0.1:443\"",
        "timeout" => "\"2s\"",
        "type" => "\"webhook\"",
        "min_severity" => "\"warning\"",
        "format" => "\"text\"",
        "mentioned_mobile_list" => "[\"13800000000\"]",
        "command" => "[\"true\"]",
        _ => "\"x\"",
    }
}

/// One `key = value` line: the key's good value, or (with weight `noise` against 6) any value.
fn key_line(key: &'static str, noise: u32) -> BoxedStrategy<String> {
    let good = Just(good_value(key).to_string());
    let value = if noise == 0 {
        good.boxed()
    } else {
        prop_oneof![6 => good, noise => toml_value()].boxed()
    };
    value.prop_map(move |v| format!("{key} = {v}\n")).boxed()
}

/// `required` keys, then any subset of `optional` ones, each at most once.
fn section_body(
    required: Vec<&'static str>,
    optional: Vec<&'static str>,
    noise: u32,
) -> impl Strategy<Value = String> {
    let n = optional.len();
    prop::sample::subsequence(optional, 0..=n)
        .prop_flat_map(move |ks| {
            required
                .iter()
                .chain(&ks)
                .map(|k| key_line(k, noise))
                .collect::<Vec<_>>()
        })
        .prop_map(|lines| lines.concat())
}

/// One `[[vip]]` table: a name, a strategy (or none: havip), the keys that strategy requires,
/// and any subset of the others.
fn vip_table(noise: u32) -> impl Strategy<Value = String> {
    (
        prop_oneof![
            8 => prop::sample::select(vec!["iam", "web", "a"]),
            1 => prop::sample::select(vec!["../x", "", ".a", "名"]),
        ],
        prop_oneof![
            3 => Just(None),
            3 => Just(Some("havip")),
            2 => Just(Some("private-ip")),
            2 => Just(Some("eip")),
            1 => Just(Some("magic")),
        ],
    )
        .prop_flat_map(move |(name, strategy)| {
            let required: Vec<&'static str> = match strategy {
                None | Some("havip") => vec!["havip_id"],
                Some("private-ip") => vec!["private_ip"],
                Some("eip") => vec!["eip_id", "private_ip"],
                _ => vec![],
            };
            let optional: Vec<&'static str> = VIP_KEYS
                .iter()
                .copied()
                .filter(|k| !["name", "strategy"].contains(k) && !required.contains(k))
                .collect();
            section_body(required, optional, noise).prop_map(move |body| {
                let strategy = strategy.map_or(String::new(), |s| format!("strategy = \"{s}\"\n"));
                format!("[[vip]]\nname = \"{name}\"\n{strategy}{body}")
            })
        })
}

/// One `[[alert]]` table of one type, with that type's keys.
fn alert_table(noise: u32) -> impl Strategy<Value = String> {
    prop::sample::select(vec!["webhook", "wecom", "exec"]).prop_flat_map(move |t| {
        let (required, optional) = match t {
            "webhook" => (vec!["url"], vec!["timeout", "min_severity"]),
            "wecom" => (
                vec!["url"],
                vec!["timeout", "min_severity", "format", "mentioned_mobile_list"],
            ),
            _ => (vec!["command"], vec!["timeout", "min_severity"]),
        };
        section_body(required, optional, noise)
            .prop_map(move |b| format!("[[alert]]\ntype = \"{t}\"\n{b}"))
    })
}

/// A document shaped like the real file: optional top-level keys and sections, then 1-3
/// `[[vip]]` tables. Its noise level says how often a value is not the key's good one, so some
/// documents are valid and the others fail in the validation of every section and strategy.
fn structured_doc() -> impl Strategy<Value = String> {
    prop::sample::select(vec![0u32, 0, 1, 2, 6]).prop_flat_map(|noise| {
        let section = move |header: &'static str, keys: &'static [&'static str]| {
            section_body(vec![], keys.to_vec(), noise).prop_map(move |b| format!("{header}{b}"))
        };
        (
            section("", TOP_KEYS),
            proptest::option::of(section("[credentials]\n", CREDENTIAL_KEYS)),
            proptest::option::of(section("[node]\n", NODE_KEYS)),
            prop::collection::vec(vip_table(noise), 1..4),
            proptest::option::of(section("[check]\n", CHECK_KEYS)),
            prop::collection::vec(alert_table(noise), 0..2),
        )
            .prop_map(|(top, creds, node, vips, check, alerts)| {
                [top]
                    .into_iter()
                    .chain(creds)
                    .chain(node)
                    .chain(vips)
                    .chain(check)
                    .chain(alerts)
                    .collect::<String>()
            })
    })
}

/// One edit to a file's lines.
#[derive(Clone, Debug)]
enum Mutation {
    Delete(prop::sample::Index),
    Duplicate(prop::sample::Index),
    Swap(prop::sample::Index, prop::sample::Index),
    /// Replace what follows the `=` of a line.
    Revalue(prop::sample::Index, String),
    Insert(prop::sample::Index, String),
    /// Uncomment a line (the example's commented keys and sections come alive).
    Uncomment(prop::sample::Index),
    /// Cut the file at a byte (rounded down to a character boundary).
    Truncate(prop::sample::Index),
    /// Put one character anywhere.
    Splice(prop::sample::Index, char),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let i = any::<prop::sample::Index>;
    prop_oneof![
        2 => i().prop_map(Mutation::Delete),
        2 => i().prop_map(Mutation::Duplicate),
        1 => (i(), i()).prop_map(|(a, b)| Mutation::Swap(a, b)),
        4 => (i(), toml_value()).prop_map(|(a, v)| Mutation::Revalue(a, v)),
        2 => (i(), soup_line()).prop_map(|(a, l)| Mutation::Insert(a, l)),
        4 => i().prop_map(Mutation::Uncomment),
        1 => i().prop_map(Mutation::Truncate),
        1 => (i(), any::<char>()).prop_map(|(a, c)| Mutation::Splice(a, c)),
    ]
}

fn apply(text: &str, m: &Mutation) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    if lines.is_empty() {
        lines.push(String::new());
    }
    let n = lines.len();
    match m {
        Mutation::Delete(i) => {
            lines.remove(i.index(n));
        }
        Mutation::Duplicate(i) => {
            let l = lines[i.index(n)].clone();
            lines.insert(i.index(n), l);
        }
        Mutation::Swap(a, b) => lines.swap(a.index(n), b.index(n)),
        Mutation::Revalue(i, v) => {
            // The nearest line with an `=` at or after the index.
            let start = i.index(n);
            if let Some(j) = (start..n).chain(0..start).find(|&j| lines[j].contains('=')) {
                let key = lines[j].split('=').next().unwrap_or_default().to_string();
                lines[j] = format!("{key}= {v}");
            }
        }
        Mutation::Insert(i, l) => lines.insert(i.index(n + 1), l.clone()),
        Mutation::Uncomment(i) => {
            let start = i.index(n);
            if let Some(j) = (start..n)
                .chain(0..start)
                .find(|&j| lines[j].starts_with("# "))
            {
                lines[j] = lines[j][2..].to_string();
            }
        }
        Mutation::Truncate(i) => {
            let joined = lines.join("\n");
            let mut at = i.index(joined.len() + 1);
            while !joined.is_char_boundary(at) {
                at -= 1;
            }
            return joined[..at].to_string();
        }
        Mutation::Splice(i, c) => {
            let mut joined = lines.join("\n");
            let mut at = i.index(joined.len() + 1);
            while !joined.is_char_boundary(at) {
                at -= 1;
            }
            joined.insert(at, *c);
            return joined;
        }
    }
    lines.join("\n") + "\n"
}

fn shipped_file() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(MINIMAL.replace("PORT", "4000")),
        Just(EXAMPLE.to_string()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Any text, up to 4 KiB: `Ok` or an error naming a line or key.
    #[test]
    fn config_arbitrary_text_never_panics(
        text in prop_oneof!["\\PC{0,4096}", "[\\[\\]=\"'#.\\n a-z0-9_{},-]{0,1024}"],
        state_dir in proptest::option::of("\\PC{0,40}"),
    ) {
        let r = Config::parse(&text, Path::new("t.toml"), state_dir.map(PathBuf::from));
        check_config(&text, &r)?;
    }

    /// Lines built from the real keys, the real and wrong headers (repeated, so tables are
    /// duplicated) and values of every type: wrong types, huge numbers, odd durations such as
    /// `"1e99s"`, unicode, empty strings.
    #[test]
    fn config_toml_soup_from_the_real_keys(lines in prop::collection::vec(soup_line(), 0..40)) {
        let text = lines.join("\n");
        check_config(&text, &parse(&text))?;
    }

    /// Documents shaped like the real file with random values reach the validation of every
    /// section and strategy.
    #[test]
    fn config_structured_documents_with_random_values(text in structured_doc()) {
        check_config(&text, &parse(&text))?;
    }

    /// One to four edits of `deploy/havip.minimal.toml` or `deploy/havip.toml.example`:
    /// deleted, duplicated, swapped, re-valued, inserted, uncommented lines, truncation, a
    /// stray character.
    #[test]
    fn config_mutations_of_the_shipped_files(
        base in shipped_file(),
        edits in prop::collection::vec(mutation(), 1..5),
    ) {
        let mut text = base;
        for m in &edits {
            text = apply(&text, m);
        }
        check_config(&text, &parse(&text))?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// `Config::load` on a file of any bytes (invalid UTF-8 included): `Ok`, a located error,
    /// or "cannot read" / "not UTF-8" naming the file.
    #[test]
    fn config_load_any_bytes(bytes in prop_oneof![
        prop::collection::vec(any::<u8>(), 0..4096),
        shipped_file().prop_map(String::into_bytes),
    ]) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("havip.toml");
        std::fs::write(&path, &bytes).unwrap();
        match Config::load(&path, None) {
            Ok(c) => prop_assert_eq!(c.require_vips().is_ok(), !c.vips.is_empty()),
            Err(e) => {
                prop_assert_eq!(&e.path, &path);
                match std::str::from_utf8(&bytes) {
                    // The same text parsed as `t.toml`, the name the contract checks.
                    Ok(text) => check_config(text, &parse(text))?,
                    Err(_) => prop_assert!(
                        e.message.starts_with("cannot read") || e.message.contains("not UTF-8"),
                        "{}",
                        e
                    ),
                }
            }
        }
    }
}

#[test]
fn the_shipped_files_parse() {
    for (what, text) in [
        ("minimal", MINIMAL.replace("PORT", "4000")),
        ("example", EXAMPLE.to_string()),
    ] {
        parse(&text).unwrap_or_else(|e| panic!("{what}: {e}"));
    }
}

#[test]
fn config_load_of_a_missing_file_names_it() {
    let e = Config::load(Path::new("/nonexistent/havip.toml"), None).unwrap_err();
    assert!(e.message.starts_with("cannot read"), "{e}");
    assert!(
        e.to_string().starts_with("/nonexistent/havip.toml: "),
        "{e}"
    );
}

/// Each odd duration in `deadline` is an error at its line, or (when humantime reads it and
/// it is at least 1s) accepted as that many seconds.
#[test]
fn config_odd_deadlines_are_located_errors() {
    for d in DURATIONS {
        let text = format!(
            "[[vip]]\nname = \"a\"\nhavip_id = \"havip-0000000a\"\ndeadline = {}\n",
            toml::Value::String(d.to_string())
        );
        match parse(&text) {
            Ok(c) => assert_eq!(
                Some(c.vips[0].deadline),
                humantime::parse_duration(d).ok(),
                "{d}"
            ),
            Err(e) => {
                let line = e.line.unwrap_or_else(|| panic!("{d}: no line: {e}"));
                assert!(line == 4 || line == 1, "{d}: {e}");
            }
        }
    }
}

/// Found by `config_mutations_of_the_shipped_files`: a control character in a comment gave
/// `t.toml:1: ` and nothing else (toml has no message for it).
#[test]
fn config_with_a_control_character_in_a_comment_names_it() {
    for (text, line) in [
        ("# \0\n", 1),
        (
            "region = \"x\"\n# a\u{7}b\n[[vip]]\nname = \"a\"\nhavip_id = \"havip-0000000a\"\n",
            2,
        ),
    ] {
        let e = parse(text).unwrap_err();
        assert_eq!(e.line, Some(line), "{e}");
        assert!(e.message.contains("not allowed"), "{e}");
    }
}

// ---- keepalived's arguments to `havip notify` ----------------------------------------------

const STATES: &[&str] = &["MASTER", "BACKUP", "FAULT", "STOP", "DELETED"];

/// `s` with each ASCII letter's case chosen by `mask`.
fn recase(s: &str, mask: u64) -> String {
    s.chars()
        .enumerate()
        .map(|(i, c)| {
            if (mask >> (i % 64)) & 1 == 1 {
                c.to_ascii_lowercase()
            } else {
                c.to_ascii_uppercase()
            }
        })
        .collect()
}

/// One argument as keepalived, a script or a fuzzer might pass it.
fn notify_arg() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => (prop::sample::select(vec!["INSTANCE", "GROUP", "VRRP"]), any::<u64>())
            .prop_map(|(s, m)| recase(s, m)),
        3 => (prop::sample::select(STATES), any::<u64>()).prop_map(|(s, m)| recase(s, m)),
        2 => prop::sample::select(vec!["VI_1", "G1", "iam", "", " ", "VI_1\n", "名前"]).prop_map(str::to_string),
        2 => prop::sample::select(vec![
            "0", "50", "255", "256", "-1", "+5", "05", " 5", "1e2", "99999999999999999999", "",
        ])
        .prop_map(str::to_string),
        2 => prop::sample::select(vec![
            "--state", "--vip", "--dry-run", "--state=MASTER", "--vip=iam", "--", "-x", "--timeout",
            "--timeout=0", "--timeout=1e99", "--region", "-v", "--help",
        ])
        .prop_map(str::to_string),
        3 => "\\PC{0,24}",
        1 => any::<String>(),
    ]
}

/// The contract of `parse_event`: `Ok` only for what was given (the name and state round-trip),
/// else a `UsageError` saying so.
fn check_event(a: &notify::Args, r: &Result<Event, UsageError>) -> Result<(), TestCaseError> {
    match r {
        Ok(Event::Instance(name, st)) | Ok(Event::Group(name, st)) => {
            prop_assert!(a.state.is_none() && a.vip.is_none());
            let k = &a.keepalived;
            prop_assert!(k.len() == 3 || k.len() == 4, "{:?}", k);
            let want_kind = if matches!(r, Ok(Event::Instance(..))) {
                "INSTANCE"
            } else {
                "GROUP"
            };
            prop_assert!(k[0].eq_ignore_ascii_case(want_kind));
            prop_assert_eq!(name, &k[1]);
            prop_assert!(!name.is_empty());
            prop_assert_eq!(Some(*st), VrrpState::parse(&k[2]));
            if let Some(p) = k.get(3) {
                prop_assert!(p.parse::<u8>().is_ok(), "priority {:?}", p);
            }
        }
        Ok(Event::Explicit(vip, st)) => {
            prop_assert!(a.keepalived.is_empty());
            prop_assert_eq!(vip, &a.vip);
            prop_assert_eq!(Some(*st), a.state.map(notify::StateArg::state));
        }
        Err(e) => prop_assert!(e.0.starts_with("notify: "), "{}", e),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// 0-6 arguments of any kind through the real command line: clap's own typed error, or
    /// `notify`'s `Args`, which `parse_event` turns into an `Event` or a `UsageError`.
    #[test]
    fn notify_argv_through_clap(args in prop::collection::vec(notify_arg(), 0..=6)) {
        let argv = ["havip", "notify"].into_iter().map(String::from).chain(args.iter().cloned());
        match Cli::try_parse_from(argv) {
            Err(e) => {
                // Help and version are "errors" too; the rest must say something.
                prop_assert!(!e.to_string().trim().is_empty());
            }
            Ok(cli) => {
                let Command::Notify(a) = &cli.command else {
                    return Err(TestCaseError::fail("notify parsed as another command"));
                };
                // clap passes through only what was given.
                for k in &a.keepalived {
                    prop_assert!(args.contains(k), "{:?} not in {:?}", k, args);
                }
                check_event(a, &parse_event(a))?;
            }
        }
    }

    /// `parse_event` on `Args` built directly, beyond what clap would pass (more than four
    /// arguments, empty strings, `--state` with them).
    #[test]
    fn notify_parse_event_on_any_args(
        keepalived in prop::collection::vec(notify_arg(), 0..=6),
        state in proptest::option::of(prop::sample::select(STATES)),
        vip in proptest::option::of(notify_arg()),
        dry_run in any::<bool>(),
    ) {
        let state = state.and_then(VrrpState::parse).map(notify::StateArg::Vrrp);
        let a = notify::Args { keepalived, state, vip, dry_run };
        check_event(&a, &parse_event(&a))?;
    }

    /// Everything keepalived actually sends is accepted, through clap, as what it says.
    #[test]
    fn notify_accepts_every_keepalived_form(
        group in any::<bool>(),
        kind_case in any::<u64>(),
        name in "[A-Za-z0-9_.][A-Za-z0-9_.-]{0,30}",
        state in prop::sample::select(STATES),
        state_case in any::<u64>(),
        priority in proptest::option::of(any::<u8>()),
    ) {
        let kind = recase(if group { "GROUP" } else { "INSTANCE" }, kind_case);
        let st = recase(state, state_case);
        let mut argv = vec!["havip".to_string(), "notify".into(), kind, name.clone(), st];
        argv.extend(priority.map(|p| p.to_string()));
        let cli = Cli::try_parse_from(&argv).map_err(|e| TestCaseError::fail(format!("{argv:?}: {e}")))?;
        let Command::Notify(a) = &cli.command else { unreachable!() };
        let want_state = VrrpState::parse(state).unwrap();
        let want = if group { Event::Group(name, want_state) } else { Event::Instance(name, want_state) };
        prop_assert_eq!(parse_event(a).map_err(|e| TestCaseError::fail(e.0))?, want);
    }

    /// `--state S [--vip NAME]` round-trips for every state spelling and any VIP name.
    #[test]
    fn notify_explicit_state_round_trips(
        state in prop::sample::select(STATES),
        case in any::<u64>(),
        vip in proptest::option::of("[A-Za-z0-9_.][A-Za-z0-9_.-]{0,30}"),
    ) {
        let st = recase(state, case);
        let mut argv = vec!["havip".to_string(), "notify".into(), "--state".into(), st];
        if let Some(v) = &vip {
            argv.extend(["--vip".to_string(), v.clone()]);
        }
        let cli = Cli::try_parse_from(&argv).map_err(|e| TestCaseError::fail(format!("{argv:?}: {e}")))?;
        let Command::Notify(a) = &cli.command else { unreachable!() };
        prop_assert_eq!(
            parse_event(a).map_err(|e| TestCaseError::fail(e.0))?,
            Event::Explicit(vip, VrrpState::parse(state).unwrap())
        );
    }

    /// `VrrpState::parse` is total, case-insensitive over exactly the five names, and reads
    /// back what `Display` writes.
    #[test]
    fn vrrp_state_parse_is_total_and_round_trips(s in prop_oneof![
        "\\PC{0,16}",
        (prop::sample::select(STATES), any::<u64>()).prop_map(|(s, m)| recase(s, m)),
        (prop::sample::select(STATES), "\\PC{0,2}").prop_map(|(s, x)| format!("{s}{x}")),
    ]) {
        let r = VrrpState::parse(&s);
        prop_assert_eq!(r.is_some(), STATES.contains(&s.to_ascii_uppercase().as_str()), "{:?}", s);
        if let Some(st) = r {
            prop_assert_eq!(VrrpState::parse(&st.to_string()), Some(st));
        }
    }
}

/// Found by `notify_parse_event_on_any_args`: five or more arguments were accepted and the
/// extras ignored (clap stops a fifth on the command line; the function now agrees).
#[test]
fn notify_with_five_keepalived_arguments_is_a_usage_error() {
    let a = notify::Args {
        keepalived: ["INSTANCE", "VI_1", "MASTER", "100", "extra"]
            .map(String::from)
            .to_vec(),
        state: None,
        vip: None,
        dry_run: false,
    };
    let e = parse_event(&a).unwrap_err();
    assert!(e.0.contains("got 5 argument(s)"), "{e}");
}

// ---- `havip api` parameters ----------------------------------------------------------------

fn api_args(
    service: &str,
    action: &str,
    params: Option<String>,
    version: Option<String>,
) -> api::Args {
    api::Args {
        service: service.to_string(),
        action: action.to_string(),
        params,
        api_version: version,
    }
}

/// Any JSON value, shaped like API parameters more often than not.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f)
            .map(Value::Number)),
        "\\PC{0,40}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    prop::sample::select(vec!["HaVipIds", "Filters", "Limit", "Name", "Values"])
                        .prop_map(str::to_string),
                    "\\PC{0,12}",
                ],
                inner,
                0..6,
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Parameter text: JSON of any shape, near-JSON, numbers out of range, deep nesting, or
/// anything at all.
fn params_text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => json_value().prop_map(|v| v.to_string()),
        2 => (json_value(), any::<prop::sample::Index>(), "\\PC{0,3}").prop_map(|(v, i, junk)| {
            // A JSON text with a few characters spliced in.
            let mut t = v.to_string();
            let mut at = i.index(t.len() + 1);
            while !t.is_char_boundary(at) {
                at -= 1;
            }
            t.insert_str(at, &junk);
            t
        }),
        1 => prop::sample::select(vec![
            "{\"Limit\": 1e999}", "{\"Limit\": -1e999}", "{\"Limit\": 18446744073709551616}",
            "{\"a\": 1,}", "{'a': 1}", "{\"a\"}", "{\"a\": NaN}", "\u{feff}{}", "{} {}", "{}garbage",
            "", " ", "\n", "-", "--", "null", "[]", "\"\"", "{\"\\ud800\": 1}",
        ])
        .prop_map(str::to_string),
        1 => (1usize..2048).prop_map(|d| format!("{{\"a\":{}{}}}", "[".repeat(d), "]".repeat(d))),
        2 => "\\PC{0,4096}",
    ]
}

fn service_text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec!["vpc", "cvm", "cam", "sts", "tag", "clb", "foo", "VPC", " vpc ", "", "v p c", "vpc1"])
            .prop_map(str::to_string),
        1 => "\\PC{0,16}",
    ]
}

fn action_text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(vec!["DescribeHaVips", "X", " DescribeHaVips\n", "Describe HaVips", "", "Describe-HaVips", "Ｄescribe"])
            .prop_map(str::to_string),
        1 => "\\PC{0,16}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// Any service, action, parameters (inline or on stdin) and `--api-version`: a `Request`
    /// that holds exactly what was given, or a `UsageError`. stdin is read only for `-`.
    #[test]
    fn api_prepare_on_any_arguments(
        service in service_text(),
        action in action_text(),
        params in proptest::option::of(prop_oneof![4 => params_text(), 1 => Just("-".to_string())]),
        version in proptest::option::of(prop_oneof![Just("2017-03-12".to_string()), "[0-9-]{0,12}", "\\PC{0,12}"]),
        stdin in prop_oneof![4 => params_text().prop_map(Ok), 1 => Just(Err(()))],
    ) {
        let args = api_args(&service, &action, params.clone(), version.clone());
        let read = std::cell::Cell::new(false);
        let r = api::prepare(&args, |_cap| {
            read.set(true);
            stdin
                .clone()
                .map(String::into_bytes)
                .map_err(|()| std::io::Error::other("closed"))
        });
        if read.get() {
            prop_assert_eq!(params.as_deref(), Some("-"));
        }
        match r {
            Ok(req) => {
                prop_assert_eq!(req.service.as_str(), service.trim());
                prop_assert!(req.service.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
                prop_assert_eq!(req.action.as_str(), action.trim());
                prop_assert!(!req.action.is_empty() && req.action.chars().all(|c| c.is_ascii_alphanumeric()));
                match &version {
                    Some(v) => prop_assert_eq!(req.version.as_str(), v.trim()),
                    None => prop_assert_eq!(Some(req.version.as_str()), default_version(&req.service)),
                }
                prop_assert!(req.params.is_object());
                // The parameters are the text given (or read), as JSON.
                let text = match params.as_deref() {
                    None => "{}".to_string(),
                    Some("-") => stdin.clone().unwrap(),
                    Some(t) => t.to_string(),
                };
                let want: Value = if text.trim().is_empty() { serde_json::json!({}) } else { serde_json::from_str(&text).unwrap() };
                prop_assert_eq!(req.params, want);
            }
            Err(e) => prop_assert!(!e.to_string().trim().is_empty()),
        }
    }

    /// A serialized JSON value is accepted exactly when it is an object, and unchanged.
    #[test]
    fn api_params_accept_exactly_objects(v in json_value()) {
        let text = v.to_string();
        let read: Value = serde_json::from_str(&text).unwrap();
        match api::prepare(&api_args("vpc", "DescribeHaVips", Some(text), None), |_| unreachable!()) {
            Ok(req) => {
                prop_assert!(v.is_object());
                prop_assert_eq!(req.params, read);
            }
            Err(e) => {
                prop_assert!(!v.is_object());
                prop_assert!(e.to_string().contains("JSON object"), "{}", e);
            }
        }
    }
}

/// Nesting far beyond serde_json's recursion limit is a usage error, not a stack overflow.
#[test]
fn api_params_nested_deeper_than_the_recursion_limit_are_a_usage_error() {
    let text = format!("{{\"a\":{}{}}}", "[".repeat(100_000), "]".repeat(100_000));
    let e = api::prepare(
        &api_args("vpc", "DescribeHaVips", Some(text), None),
        |_| unreachable!(),
    )
    .unwrap_err();
    assert!(e.to_string().contains("not valid JSON"), "{e}");
}
