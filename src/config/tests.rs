//! The configuration's tests: the minimal file, errors naming file, line and key, resource
//! IDs, bounded messages, credentials, and the file's size and mode.

use super::*;
use crate::bounds::MAX_CONFIG_BYTES;
use std::path::Path;

/// The minimal file of issue 4, exactly as the README shows it (tcsim's port filled in).
fn minimal() -> String {
    include_str!("../../deploy/havip.minimal.toml").replace("PORT", "4000")
}

#[test]
fn the_readme_shows_the_minimal_file_exactly() {
    let file = include_str!("../../deploy/havip.minimal.toml");
    assert!(
        include_str!("../../README.md").contains(file),
        "README.md's minimal configuration differs from deploy/havip.minimal.toml"
    );
}

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(text, Path::new("t.toml"), None)
}

#[test]
fn minimal_file_from_issue_4_parses() {
    let c = parse(&minimal()).unwrap();
    assert_eq!(c.endpoint.as_deref(), Some("http://127.0.0.1:4000"));
    assert_eq!(c.node.instance_id.as_deref(), Some("ins-iam00021"));
    assert_eq!(c.state_dir, PathBuf::from(DEFAULT_STATE_DIR));
    assert_eq!(c.journal, PathBuf::from("/var/lib/havip/journal.jsonl"));
    let v = &c.vips[0];
    assert_eq!(v.name, "iam");
    assert_eq!(v.vrrp_instance, "VI_1");
    assert_eq!(v.deadline, Duration::from_secs(20));
    assert_eq!(
        v.target,
        Target::Havip {
            havip_id: "havip-iam00099".into(),
            eip: Some(EipRef {
                address: Some("106.52.252.139".parse().unwrap()),
                id: None
            }),
            fencing: false,
            eip_takeover: false,
        }
    );
    assert_eq!(c.vips_for_instance("VI_1").len(), 1);
    assert!(c.vips_for_instance("VI_2").is_empty());
}

#[test]
fn state_dir_env_wins_and_drain_flags_follow_it() {
    let c = Config::parse(&minimal(), Path::new("t.toml"), Some("/tmp/x".into())).unwrap();
    assert_eq!(c.journal, PathBuf::from("/tmp/x/journal.jsonl"));
    assert_eq!(
        c.drain_flags("iam"),
        [
            PathBuf::from("/tmp/x/drain"),
            PathBuf::from("/tmp/x/iam.drain")
        ]
    );
}

/// Each malformed file gives an error naming the key and the line it is on.
#[test]
fn errors_name_key_and_line() {
    let cases: &[(&str, &str, usize, &str)] = &[
        (
            "unknown top-level key",
            "region = \"x\"\nbogus = 1\n[[vip]]\nname=\"a\"\nhavip_id=\"havip-aaaa0001\"\n",
            2,
            "bogus",
        ),
        (
            "unknown vip key",
            "[[vip]]\nname = \"a\"\nhavip_id = \"havip-aaaa0001\"\nfencng = true\n",
            4,
            "fencng",
        ),
        (
            "wrong type",
            "[[vip]]\nname = \"a\"\nhavip_id = \"havip-aaaa0001\"\nfencing = \"yes\"\n",
            4,
            "bool",
        ),
        (
            "wrong type names the key",
            "[[vip]]\nname = \"a\"\nhavip_id = \"havip-aaaa0001\"\ndeadline = 20\n",
            4,
            "key `vip.deadline`",
        ),
        (
            "bad duration",
            "[[vip]]\nname = \"a\"\nhavip_id = \"havip-aaaa0001\"\ndeadline = \"soon\"\n",
            4,
            "",
        ),
        (
            "unknown strategy",
            "[[vip]]\nname = \"a\"\nstrategy = \"magic\"\n",
            3,
            "magic",
        ),
        (
            "havip without havip_id",
            "region = \"r\"\n\n[[vip]]\nname = \"a\"\nstrategy = \"havip\"\n",
            5,
            "havip_id",
        ),
        (
            "private-ip without private_ip",
            "[[vip]]\nname = \"a\"\nstrategy = \"private-ip\"\n",
            3,
            "private_ip",
        ),
        (
            "eip without eip",
            "[[vip]]\nname = \"a\"\nstrategy = \"eip\"\nprivate_ip = \"10.0.4.50\"\n",
            3,
            "eip",
        ),
        (
            "duplicate names",
            "[[vip]]\nname = \"a\"\nhavip_id = \"havip-aaaa0001\"\n\n[[vip]]\nname = \"a\"\nhavip_id = \"havip-aaaa0002\"\n",
            6,
            "duplicate",
        ),
        (
            "havip_id on private-ip",
            "[[vip]]\nname = \"a\"\nstrategy = \"private-ip\"\nprivate_ip = \"10.0.4.50\"\nhavip_id = \"havip-aaaa0001\"\n",
            5,
            "havip_id",
        ),
        (
            "bad ip",
            "[[vip]]\nname = \"a\"\nhavip_id = \"havip-aaaa0001\"\neip = \"1.2.3\"\n",
            4,
            "",
        ),
        (
            "bad havip id",
            "[[vip]]\nname = \"a\"\nhavip_id = \"vip-1\"\n",
            3,
            "havip_id",
        ),
        (
            "bad name",
            "[[vip]]\nname = \"../x\"\nhavip_id = \"havip-aaaa0001\"\n",
            2,
            "vip.name",
        ),
        (
            "takeover without eip",
            "[[vip]]\nname = \"a\"\nhavip_id = \"havip-aaaa0001\"\neip_takeover = true\n",
            4,
            "eip_takeover",
        ),
        (
            "bad instance id",
            "[node]\ninstance_id = \"i-1\"\n[[vip]]\nname = \"a\"\nhavip_id = \"havip-aaaa0001\"\n",
            2,
            "instance_id",
        ),
        (
            "syntax error",
            "[[vip]\nname = \"a\"\n",
            1,
            "",
        ),
    ];
    let mut wrong = Vec::new();
    for (what, text, line, needle) in cases {
        let e = parse(text).expect_err(what);
        if e.line != Some(*line)
            || !e.message.contains(needle)
            || !e.to_string().starts_with(&format!("t.toml:{line}: "))
        {
            wrong.push(format!("{what}: want line {line} and {needle:?}, got {e}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

proptest::proptest! {
    /// No input makes the parser panic: bytes, and key/value soup shaped like our files.
    #[test]
    fn parsing_never_panics(text in "\\PC{0,200}") {
        let _ = parse(&text);
    }

    #[test]
    fn tomlish_input_never_panics(
        lines in proptest::collection::vec(
            "(\\[\\[vip\\]\\]|\\[node\\]|[a-z_]{1,12} = (\"[a-z0-9.:-]{0,20}\"|[0-9]{1,4}|true))",
            0..12,
        )
    ) {
        let _ = parse(&lines.join("\n"));
    }
}

#[test]
fn no_vip_is_an_error_only_where_vips_are_managed() {
    let c = parse("region = \"ap-guangzhou\"\n").unwrap();
    let e = c.require_vips().unwrap_err();
    assert!(e.message.contains("[[vip]]"), "{e}");
    assert!(parse(&minimal()).unwrap().require_vips().is_ok());
}

#[test]
fn credentials_debug_is_redacted() {
    let c = parse(
        "[credentials]\nsecret_id = \"AKIDx\"\nsecret_key = \"topsecret\"\ntoken = \"tok\"\n[[vip]]\nname=\"a\"\nhavip_id=\"havip-aaaa0001\"\n",
    )
    .unwrap();
    let dbg = format!("{:?}", c.credentials);
    assert!(
        !dbg.contains("topsecret") && !dbg.contains("tok\""),
        "{dbg}"
    );
    assert!(dbg.contains("AKIDx"));
    let e = parse(
        "[credentials]\nsecret_id = \"AKIDx\"\n[[vip]]\nname=\"a\"\nhavip_id=\"havip-aaaa0001\"\n",
    )
    .unwrap_err();
    assert!(e.message.contains("secret_key"), "{e}");
}

#[test]
fn strategies_and_selection() {
    let c = parse(
        "[[vip]]\nname = \"p\"\nstrategy = \"private-ip\"\nprivate_ip = \"10.0.4.50\"\nvrrp_group = \"G\"\n\
         [[vip]]\nname = \"e\"\nstrategy = \"eip\"\neip_id = \"eip-idle0001\"\nprivate_ip = \"10.0.4.21\"\n",
    )
    .unwrap();
    assert_eq!(c.vips[0].vrrp_instance, "p");
    assert_eq!(c.vips[0].target.kind(), StrategyKind::PrivateIp);
    assert_eq!(c.vips_for_group("G").len(), 1);
    assert_eq!(c.vips[1].target.kind(), StrategyKind::Eip);
    assert_eq!(c.select(None).unwrap().len(), 2);
    assert!(c
        .select(Some("zzz"))
        .unwrap_err()
        .to_string()
        .contains("p, e"));
    assert_eq!(c.vips[0].deadline, DEFAULT_DEADLINE);
}

/// Issue 7: `havip-../../etc` passed `config check` and failed only at the API.
#[test]
fn malformed_resource_ids_are_refused_with_key_and_line() {
    let cases: &[(&str, &str, usize, &str)] = &[
        (
            "path in havip_id",
            "[[vip]]\nname = \"a\"\nhavip_id = \"havip-../../etc\"\n",
            3,
            "key `havip_id`",
        ),
        (
            "short havip_id",
            "[[vip]]\nname = \"a\"\nhavip_id = \"havip-1\"\n",
            3,
            "key `havip_id`",
        ),
        (
            "uppercase havip_id",
            "[[vip]]\nname = \"a\"\nhavip_id = \"havip-IAM00099\"\n",
            3,
            "key `havip_id`",
        ),
        (
            "long havip_id",
            "[[vip]]\nname = \"a\"\nhavip_id = \"havip-iam000999\"\n",
            3,
            "key `havip_id`",
        ),
        (
            "eip_id",
            "[[vip]]\nname = \"a\"\nhavip_id = \"havip-iam00099\"\neip_id = \"eip-x y\"\n",
            4,
            "key `eip_id`",
        ),
        (
            "instance_id",
            "[node]\ninstance_id = \"ins-iam0002\"\n[[vip]]\nname = \"a\"\nhavip_id = \"havip-iam00099\"\n",
            2,
            "key `node.instance_id`",
        ),
        (
            "eni_id",
            "[node]\neni_id = \"eni-../x/yz\"\n[[vip]]\nname = \"a\"\nhavip_id = \"havip-iam00099\"\n",
            2,
            "key `node.eni_id`",
        ),
    ];
    for (what, text, line, needle) in cases {
        let e = parse(text).expect_err(what);
        assert_eq!(e.line, Some(*line), "{what}: {e}");
        assert!(
            e.message.contains(needle) && e.message.contains("8 lowercase"),
            "{what}: {e}"
        );
    }
    // The seed scenario's IDs and the documentation's are accepted.
    let c = parse(
        "[node]\ninstance_id = \"ins-3g445roi\"\neni_id = \"eni-olifj433\"\n\
         [[vip]]\nname = \"a\"\nhavip_id = \"havip-iam00099\"\neip_id = \"eip-idle0001\"\n",
    )
    .unwrap();
    assert_eq!(c.node.eni_id.as_deref(), Some("eni-olifj433"));
}

/// Issue 7: a 100 KB ID or name was repeated whole in the error.
#[test]
fn long_values_are_truncated_in_config_errors() {
    let long = "z".repeat(100_000);
    for text in [
        format!("[[vip]]\nname = \"a\"\nhavip_id = \"havip-{long}\"\n"),
        format!("[[vip]]\nname = \"{long}\"\nhavip_id = \"havip-iam00099\"\n"),
        format!(
            "endpoint = \"ftp://{long}\"\n[[vip]]\nname = \"a\"\nhavip_id = \"havip-iam00099\"\n"
        ),
        format!("{long} = 1\n"),
        format!("[[vip]]\nname = \"a\"\nhavip_id = \"havip-iam00099\"\nfencing = \"{long}\"\n"),
    ] {
        let e = parse(&text).unwrap_err().to_string();
        assert!(e.len() < 1200, "{} bytes: {}", e.len(), &e[..300]);
    }
    let e = parse(&format!(
        "[[vip]]\nname = \"a\"\nhavip_id = \"havip-{long}\"\n"
    ))
    .unwrap_err()
    .to_string();
    assert!(e.contains("… (100006 bytes)"), "{e}");
}

/// Issue 7: a pasted newline in `secret_key` was found only at the first call (exit 1,
/// UNKNOWN) instead of as a configuration error with its line.
#[test]
fn malformed_config_credentials_are_a_config_error() {
    let vip = "[[vip]]\nname = \"a\"\nhavip_id = \"havip-iam00099\"\n";
    for (creds, needle) in [
        (
            "secret_id = \"AKIDx\"\nsecret_key = \"k\\n\"\n",
            "SecretKey has surrounding whitespace",
        ),
        (
            "secret_id = \"\"\nsecret_key = \"k\"\n",
            "SecretId is empty",
        ),
        ("token = \"t\"\n", "`token` needs"),
        (
            "secret_id = \"AKIDx\"\nsecret_key = \"k\"\ntoken = \" t\"\n",
            "token has surrounding",
        ),
    ] {
        let e = parse(&format!("\n[credentials]\n{creds}{vip}")).unwrap_err();
        assert_eq!(e.line, Some(2), "{e}");
        assert!(e.message.contains(needle), "{e}");
    }
}

fn write(dir: &Path, text: &str, mode: u32) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join("havip.toml");
    std::fs::write(&p, text).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
    p
}

/// Issue 7: `--config /dev/zero` read until out of memory.
#[test]
fn config_larger_than_the_cap_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = minimal();
    text.push_str(&"#".repeat(MAX_CONFIG_BYTES as usize));
    let p = write(dir.path(), &text, 0o600);
    for path in [p.as_path(), Path::new("/dev/zero")] {
        let e = Config::load(path, None).unwrap_err().to_string();
        assert!(
            e.starts_with(&format!("{}: ", path.display())) && e.contains("1 MiB"),
            "{e}"
        );
    }
    let e = Config::load(dir.path(), None).unwrap_err().to_string();
    assert!(e.contains("directory"), "{e}");
}

/// Issue 7: a config file holding `secret_key` with mode 0644 was accepted while a profile
/// file with the same mode was refused.
#[test]
fn a_group_readable_config_file_with_a_secret_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE";
    let text = format!(
        "{}\n[credentials]\nsecret_id = \"AKIDx\"\nsecret_key = \"{secret}\"\n",
        minimal()
    );
    for mode in [0o644, 0o640, 0o604] {
        let p = write(dir.path(), &text, mode);
        // It loads (a health probe needs no credentials), with its credentials refused.
        let cfg = Config::load(&p, None).unwrap();
        let e = cfg.credentials.unwrap().too_open.unwrap().to_string();
        let profile_wording = crate::cloud::credentials::check_secret_file_mode(mode)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(&profile_wording) && e.contains("too open"),
            "{e}"
        );
        assert!(
            !e.contains(&p.display().to_string()),
            "the caller names the file: {e}"
        );
        assert!(!e.contains(secret), "{e}");
    }
    let p = write(dir.path(), &text, 0o600);
    assert_eq!(
        Config::load(&p, None)
            .unwrap()
            .credentials
            .unwrap()
            .too_open,
        None
    );
    // Without a secret in it the file may be world-readable, as /etc files are.
    let p = write(dir.path(), &minimal(), 0o644);
    assert!(Config::load(&p, None).is_ok());
}

/// Found by `config_toml_soup_from_the_real_keys`: toml gives no message for a file that ends
/// inside an array after a comment, and the error line said nothing after the line number.
#[test]
fn a_file_ending_inside_a_value_says_so() {
    let e = Config::parse("endpoint = [\n# ", Path::new("t.toml"), None).unwrap_err();
    assert!(e.message.contains("ends before this value"), "{e}");
}
