//! Issue 7, defects 6 and 7 end to end: bounds on what comes in (the configuration file, `havip
//! api` parameters, values echoed in errors) and consistent errors (credentials visible before
//! any call, an open config file with a secret, the CA file, the journal path). Every case runs
//! the real binary against tcsim (or a canned server) on loopback and checks that nothing was
//! sent.

mod support;

use std::io::Write;

use support::bin::{Havip, Run};
use support::server::{Behaviour, Receiver};
use support::sim::{minimal_config, Ctl, Node, NODE21};
use support::{EXAMPLE_SECRET_ID, EXAMPLE_SECRET_KEY};
use tcsim::testing::SimHandle;

/// No line a failing run prints may be longer than this (a 100 KB value must not make a 100 KB
/// line); generous, because a message may name a file and echo a clipped value.
const MAX_LINE: usize = 2048;

#[track_caller]
fn assert_lines_bounded(text: &str) {
    for line in text.lines() {
        assert!(
            line.len() <= MAX_LINE,
            "a {}-byte line: {}…",
            line.len(),
            &line[..300.min(line.len())]
        );
    }
}

/// `havip --config CONFIG ARGS…` in `node`'s environment (instead of the node's own file).
fn with_config(node: &Node, config: &std::path::Path, args: &[&str]) -> Run {
    node.havip().arg("--config").arg(config).args(args).run()
}

/// Issue 7: `--config /dev/zero` read until out of memory. /dev/zero, a FIFO fed without end and
/// a huge file are each refused with exit 2, naming the file and the cap; nothing is sent.
#[test]
fn config_from_dev_zero_a_fifo_or_a_huge_file_is_refused_with_the_cap() {
    let sim = SimHandle::start("seed");
    let ctl = Ctl(&sim);
    let node = Node::minimal(&sim, NODE21, "");

    let huge = node.dir.path().join("huge.toml");
    let mut text = minimal_config(&sim.url(), NODE21, "");
    text.push_str(&"# padding\n".repeat(200_000)); // 2 MB
    std::fs::write(&huge, text).unwrap();

    let fifo = node.dir.path().join("fifo.toml");
    let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo on a NUL-terminated path we own.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
    let writer_path = fifo.clone();
    // Feeds the FIFO until havip closes it (EPIPE: the test harness ignores SIGPIPE).
    let writer = std::thread::spawn(move || {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(writer_path)
            .unwrap();
        let block = vec![b'#'; 64 * 1024];
        let mut written = 0usize;
        while f.write_all(&block).is_ok() {
            written += block.len();
            if written > 64 * 1024 * 1024 {
                break; // havip should have stopped long ago; the assertion below says so
            }
        }
        written
    });

    for path in [
        std::path::PathBuf::from("/dev/zero"),
        huge.clone(),
        fifo.clone(),
    ] {
        for args in [
            &["notify", "INSTANCE", "VI_1", "MASTER", "50"][..],
            &["config", "check"][..],
            &["journal"][..],
        ] {
            if path == fifo && args[0] != "notify" {
                continue; // one reader for the one writer
            }
            let out = with_config(&node, &path, args);
            let stderr = &out.stderr;
            assert_eq!(out.code, Some(2), "{path:?} {args:?}: {stderr}");
            assert!(
                stderr.contains(&path.display().to_string()) && stderr.contains("1 MiB"),
                "{path:?} {args:?}: {stderr}"
            );
        }
    }
    let written = writer.join().unwrap();
    assert!(
        written < 64 * 1024 * 1024,
        "havip kept reading the FIFO ({written} bytes)"
    );
    assert!(
        ctl.requests().is_empty(),
        "a refused config reached the cloud"
    );
}

/// Issue 7: `havip api` sent 50 MB of valid JSON before the server refused it. From stdin the
/// parameters are read with the cap (the writer sees the pipe close early) and nothing is sent;
/// `--help` states the cap.
#[test]
fn api_parameters_larger_than_the_cap_are_refused_and_nothing_sent() {
    let sim = SimHandle::start("seed");
    let ctl = Ctl(&sim);
    let mut havip = Havip::new()
        .with_keys()
        .endpoint(&sim.url())
        .args(["api", "vpc", "DescribeHaVips", "-"])
        .stdin_pipe();
    let mut child = havip.spawn();
    let mut stdin = child.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        // 50 MB of one valid JSON object: {"Filters": "xxxx…"}.
        let mut sent = 0usize;
        let mut ok = stdin.write_all(b"{\"Filters\": \"").is_ok();
        let block = vec![b'x'; 1024 * 1024];
        while ok && sent < 50 * 1024 * 1024 {
            ok = stdin.write_all(&block).is_ok();
            sent += block.len();
        }
        let _ = stdin.write_all(b"\"}");
        (ok, sent)
    });
    let out = child.wait_with_output().expect("wait");
    let (all_written, _) = feeder.join().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("1 MiB") && stderr.contains("stdin") && stderr.contains("nothing was sent"),
        "{stderr}"
    );
    assert!(!all_written, "havip read all 50 MB before refusing them");
    assert!(ctl.requests().is_empty(), "the parameters were sent");

    let help = Havip::new().args(["api", "--help"]).run();
    help.assert_code(0);
    assert!(help.stdout.contains("1 MiB"), "{}", help.stdout);
}

/// Issue 7: a 502's 100 KB HTML page was printed whole in the error.
#[test]
fn a_long_502_body_is_truncated_in_the_error() {
    let page = format!(
        "<html><body>{}</body></html>",
        "Bad Gateway ".repeat(10_000)
    );
    let canned = Receiver::start(Behaviour::respond(502, &page));
    let run = Havip::new()
        .with_keys()
        .endpoint(&canned.base_url())
        .args(["--timeout", "2s", "api", "vpc", "DescribeHaVips"])
        .run();
    run.assert_code(1);
    assert!(run.stderr.contains("http status 502"), "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!("({} bytes)", page.len())),
        "no ellipsis and original length: {}",
        run.stderr
    );
    assert_lines_bounded(&run.all_output());
}

/// Issue 7: a 100 KB ID the API quotes back in its message was printed whole.
#[test]
fn a_long_id_echoed_by_the_api_is_truncated_in_the_error() {
    let sim = SimHandle::start("seed");
    let id = format!("eip-{}", "a".repeat(100_000));
    let params = serde_json::json!({ "AddressIds": [id] }).to_string();
    let run = Havip::new()
        .with_keys()
        .endpoint(&sim.url())
        .args(["api", "vpc", "DescribeAddresses", &params])
        .run();
    run.assert_code(1);
    assert!(run.stderr.contains("Malformed"), "{}", run.stderr);
    assert!(run.stderr.contains("bytes)"), "{}", run.stderr);
    assert_lines_bounded(&run.all_output());
}

/// Issue 7: an empty `TENCENTCLOUD_SECRET_KEY` was exit 2 for `havip api` but an UNKNOWN with
/// an alert (exit 1) for `havip notify`. Credential problems visible before any call are
/// configuration errors for every command: exit 2, no call, no alert, no event recorded.
#[test]
fn an_empty_secret_key_is_exit_2_for_notify_and_takeover_too() {
    let sim = SimHandle::start("seed");
    let ctl = Ctl(&sim);
    let node = Node::with_alerts(&sim, NODE21, |c| c.to_string());
    let profile = node.dir.path().join("credentials");
    std::fs::write(
        &profile,
        format!("[default]\nsecret_id = {EXAMPLE_SECRET_ID}\nsecret_key = {EXAMPLE_SECRET_KEY}\n"),
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&profile, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    // (variables to set, words the message must hold)
    type Vars<'a> = &'a [(&'a str, &'a str)];
    let cases: &[(Vars, &[&str])] = &[
        (
            &[("TENCENTCLOUD_SECRET_KEY", "")],
            &["TENCENTCLOUD_SECRET_KEY"],
        ),
        (
            &[
                ("TENCENTCLOUD_SECRET_ID", ""),
                ("TENCENTCLOUD_SECRET_KEY", "k"),
            ],
            &["TENCENTCLOUD_SECRET_ID"],
        ),
        (
            &[
                ("TENCENTCLOUD_SECRET_ID", ""),
                ("TENCENTCLOUD_SECRET_KEY", ""),
                ("TENCENTCLOUD_CREDENTIALS_FILE", profile.to_str().unwrap()),
            ],
            &["too open", "credentials"],
        ),
    ];
    for (vars, words) in cases {
        for args in [
            &["notify", "INSTANCE", "VI_1", "MASTER", "50"][..],
            &["takeover", "--vip", "iam", "--yes"][..],
            &["api", "vpc", "DescribeHaVips"][..],
        ] {
            let mut cmd = node.command(args);
            for (k, v) in *vars {
                cmd = cmd.env(k, v);
            }
            let out = cmd.run();
            let stderr = &out.stderr;
            assert_eq!(out.code, Some(2), "{vars:?} {args:?}: {stderr}");
            for w in *words {
                assert!(
                    stderr.contains(w),
                    "{vars:?} {args:?}: wanted {w:?} in {stderr}"
                );
            }
            assert!(!stderr.contains(EXAMPLE_SECRET_KEY), "{stderr}");
        }
    }
    assert!(ctl.requests().is_empty(), "a call was attempted");
    assert!(node.alerts().is_empty(), "alerted: {:?}", node.alerts());
    assert!(
        !node.state_dir().join("journal.jsonl").exists(),
        "a configuration error was journaled as an event"
    );
}

fn with_credentials(sim: &SimHandle, creds: &str) -> String {
    minimal_config(&sim.url(), NODE21, "")
        .replace("[node]\n", &format!("[credentials]\n{creds}\n[node]\n"))
}

fn chmod(path: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Issue 7: a config file holding `secret_key` with mode 0644 was accepted while a profile file
/// with the same mode was refused. Now both are refused, in the same words.
#[test]
fn a_group_readable_config_with_a_secret_is_refused_like_a_profile() {
    let sim = SimHandle::start("seed");
    let ctl = Ctl(&sim);
    let text = with_credentials(
        &sim,
        &format!("secret_id = \"{EXAMPLE_SECRET_ID}\"\nsecret_key = \"{EXAMPLE_SECRET_KEY}\"\n"),
    );
    let node = Node::new(&sim, NODE21, &text);
    chmod(&node.config_path(), 0o644);
    let profile = node.dir.path().join("credentials");
    std::fs::write(
        &profile,
        format!("[default]\nsecret_id = {EXAMPLE_SECRET_ID}\nsecret_key = {EXAMPLE_SECRET_KEY}\n"),
    )
    .unwrap();
    chmod(&profile, 0o644);
    let from_profile = Havip::new()
        .env("TENCENTCLOUD_CREDENTIALS_FILE", &profile)
        .endpoint(&sim.url())
        .args(["api", "vpc", "DescribeHaVips"])
        .run();
    from_profile.assert_code(2);
    let wording = "has permissions 0644, which are too open";
    assert!(
        from_profile.stderr.contains(wording),
        "{}",
        from_profile.stderr
    );

    for args in [
        &["notify", "INSTANCE", "VI_1", "MASTER", "50"][..],
        &["config", "check"][..],
        &["api", "vpc", "DescribeHaVips"][..],
    ] {
        let r = node.run(args);
        r.assert_code(2);
        let path = node.config_path().display().to_string();
        assert!(r.stderr.contains(wording), "{args:?}: {}", r.stderr);
        assert_eq!(r.stderr.matches(&path).count(), 1, "{args:?}: {}", r.stderr);
        assert!(
            !r.all_output().contains(EXAMPLE_SECRET_KEY),
            "{}",
            r.all_output()
        );
    }
    // keepalived's health probe needs no credentials: a file mode must not fail it (and with
    // it the VIP) on upgrade.
    let addr = sim.url().trim_start_matches("http://").to_string();
    node.run(&["check", "--tcp", &addr]).assert_code(0);
    assert!(ctl.requests().is_empty());
    chmod(&node.config_path(), 0o600);
    node.run(&["config", "check"]).assert_code(0);
}

/// Issue 7: a malformed `[credentials]` entry printed the config path twice
/// (`havip.toml: havip.toml: [credentials]: …`) and only when a client was built. Now it is a
/// configuration error with its line, naming the file once.
#[test]
fn malformed_config_credentials_name_the_file_once() {
    let sim = SimHandle::start("seed");
    let ctl = Ctl(&sim);
    let text = with_credentials(
        &sim,
        &format!("secret_id = \"{EXAMPLE_SECRET_ID}\"\nsecret_key = \" {EXAMPLE_SECRET_KEY}\"\n"),
    );
    let node = Node::new(&sim, NODE21, &text);
    chmod(&node.config_path(), 0o600);
    let path = node.config_path().display().to_string();
    for args in [
        &["notify", "INSTANCE", "VI_1", "MASTER", "50"][..],
        &["config", "check"][..],
        &["api", "vpc", "DescribeHaVips"][..],
    ] {
        let r = node.run(args);
        r.assert_code(2);
        assert!(
            r.stderr
                .contains(&format!("{path}:4: section `[credentials]`"))
                && r.stderr.contains("whitespace"),
            "{args:?}: {}",
            r.stderr
        );
        assert_eq!(r.stderr.matches(&path).count(), 1, "{args:?}: {}", r.stderr);
        assert!(
            !r.all_output().contains(EXAMPLE_SECRET_KEY),
            "{}",
            r.all_output()
        );
    }
    // A profile file the configuration names must exist (no silent fall-through).
    let missing = node.dir.path().join("nope");
    node.write_config(&with_credentials(
        &sim,
        &format!("profile_file = \"{}\"\n", missing.display()),
    ));
    let out = node
        .command(&["notify", "INSTANCE", "VI_1", "MASTER", "50"])
        .env_remove("TENCENTCLOUD_SECRET_ID")
        .env_remove("TENCENTCLOUD_SECRET_KEY")
        .run();
    let stderr = &out.stderr;
    assert_eq!(out.code, Some(2), "{stderr}");
    assert_eq!(
        stderr.matches(&missing.display().to_string()).count(),
        1,
        "{stderr}"
    );
    assert!(ctl.requests().is_empty());
}

/// Issue 7: a bad `HAVIP_CA_FILE` (or `--ca-file`) was reported as a metadata-service error.
#[test]
fn a_bad_ca_file_is_reported_as_the_ca_files_problem() {
    let sim = SimHandle::start("seed");
    let ctl = Ctl(&sim);
    let node = Node::minimal(&sim, NODE21, "");
    let junk = node.dir.path().join("ca.pem");
    std::fs::write(&junk, "not a certificate\n").unwrap();
    let missing = node.dir.path().join("missing.pem");
    for ca in [&junk, &missing] {
        for how in ["env", "flag"] {
            let cmd = match how {
                "env" => node
                    .command(&["notify", "INSTANCE", "VI_1", "MASTER", "50"])
                    .env("HAVIP_CA_FILE", ca),
                _ => node.command(&[
                    "--ca-file",
                    ca.to_str().unwrap(),
                    "notify",
                    "INSTANCE",
                    "VI_1",
                    "MASTER",
                    "50",
                ]),
            };
            let out = cmd.run();
            let stderr = &out.stderr;
            assert_eq!(out.code, Some(2), "{how}: {stderr}");
            assert!(
                stderr.contains(&format!("CA file {}", ca.display())),
                "{how}: {stderr}"
            );
            assert!(!stderr.contains("metadata"), "{how}: {stderr}");
        }
    }
    assert!(ctl.requests().is_empty());
}

/// Issue 7: `havip journal` on a directory failed with "Is a directory" and no path.
#[test]
fn journal_on_a_directory_names_it() {
    let sim = SimHandle::start("seed");
    let node = Node::minimal(&sim, NODE21, "");
    let dir = node.state_dir().join("journal.jsonl");
    std::fs::create_dir_all(&dir).unwrap();
    let r = node.run(&["journal"]);
    assert_ne!(r.code, Some(0), "{}", r.all_output());
    assert!(
        r.stderr.contains(&dir.display().to_string()),
        "the journal path is not named: {}",
        r.stderr
    );
}

/// Issue 7: the per-VIP state file was read without a cap too. A huge one fails the event
/// (exit 1, nothing written to the cloud) with a message naming the file and the cap.
#[test]
fn a_state_file_larger_than_the_cap_is_refused() {
    let sim = SimHandle::start("seed");
    let ctl = Ctl(&sim);
    let node = Node::minimal(&sim, NODE21, "");
    std::fs::create_dir_all(node.state_dir()).unwrap();
    let state = node.state_dir().join("iam.event.json");
    std::fs::write(&state, vec![b' '; 2 * 1024 * 1024]).unwrap();
    let r = node.run(&["notify", "INSTANCE", "VI_1", "MASTER", "50"]);
    r.assert_code(1);
    assert!(
        r.stderr.contains(&state.display().to_string()) && r.stderr.contains("1 MiB"),
        "{}",
        r.stderr
    );
    assert_lines_bounded(&r.all_output());
    assert!(
        ctl.writes().is_empty(),
        "wrote to the cloud: {:?}",
        ctl.writes()
    );
}
