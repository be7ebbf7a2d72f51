//! Alert delivery against loopback receivers: the webhook and WeCom shapes, failures reported
//! per target, a hanging receiver bounded by its timeout without holding up the others, and
//! exec hooks (stdin, environment, exit status, killed on timeout with their children).

mod support;

use std::time::{Duration, Instant};

use havip::alert::{AlertEvent, AlertKind, AlertTarget, Alerter, Outcome, Severity};
use support::server::{refused_port, Behaviour, Receiver};

fn targets(toml_text: &str) -> Vec<AlertTarget> {
    #[derive(serde::Deserialize)]
    struct F {
        alert: Vec<AlertTarget>,
    }
    toml::from_str::<F>(toml_text)
        .expect("valid [[alert]]")
        .alert
}

fn webhook(url: &str, timeout: &str) -> String {
    format!("[[alert]]\ntype = \"webhook\"\nurl = \"{url}\"\ntimeout = \"{timeout}\"\n")
}

fn switch_event() -> AlertEvent {
    AlertEvent::new(
        "iam",
        AlertKind::Switch,
        "ins-iam00021 now holds havip-iam00099; 106.52.252.139 bound",
    )
    .with_node("ins-iam00021")
    .with_details(serde_json::json!({"holder": "ins-iam00021", "eip": "106.52.252.139"}))
}

#[tokio::test]
async fn webhook_receives_the_event_as_json() {
    let rx = Receiver::start(Behaviour::ok("{}"));
    let alerter = Alerter::new(&targets(&webhook(&rx.url, "5s")));
    let ev = switch_event();
    let report = alerter.send(&ev).await;
    assert_eq!(report.len(), 1);
    assert_eq!(report[0].outcome, Outcome::Sent, "{report:?}");

    let reqs = rx.wait_for(1, Duration::from_secs(2));
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/hook");
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert!(r.header("user-agent").unwrap_or("").starts_with("havip/"));
    let body = r.json();
    assert_eq!(body["vip"], "iam");
    assert_eq!(body["kind"], "switch");
    assert_eq!(body["severity"], "info");
    assert_eq!(body["node"], "ins-iam00021");
    assert_eq!(body["details"]["holder"], "ins-iam00021");
    let back: AlertEvent = serde_json::from_value(body).expect("the body is an AlertEvent");
    assert_eq!(back, ev);
}

#[tokio::test]
async fn wecom_gets_the_robot_markdown_shape_and_errcode_is_checked() {
    let ok = Receiver::start(Behaviour::ok(r#"{"errcode":0,"errmsg":"ok"}"#));
    let bad = Receiver::start(Behaviour::ok(
        r#"{"errcode":93000,"errmsg":"invalid webhook url"}"#,
    ));
    let text = Receiver::start(Behaviour::ok(r#"{"errcode":0,"errmsg":"ok"}"#));
    let cfg = format!(
        "[[alert]]\ntype = \"wecom\"\nurl = \"{}?key=robot-key-1\"\n\
         [[alert]]\ntype = \"wecom\"\nurl = \"{}?key=robot-key-2\"\n\
         [[alert]]\ntype = \"wecom\"\nurl = \"{}?key=robot-key-3\"\nformat = \"text\"\nmentioned_mobile_list = [\"13800000000\"]\n",
        ok.url, bad.url, text.url
    );
    let alerter = Alerter::new(&targets(&cfg));
    let ev = AlertEvent::new(
        "iam",
        AlertKind::Failure,
        "the cloud did not confirm ins-iam00021",
    )
    .with_node("ins-iam00021");
    let report = alerter.send(&ev).await;
    assert_eq!(report[0].outcome, Outcome::Sent, "{report:?}");
    match &report[1].outcome {
        Outcome::Failed(why) => assert!(why.contains("93000"), "{why}"),
        o => panic!("errcode 93000 must be a failure, got {o:?}"),
    }
    assert_eq!(report[2].outcome, Outcome::Sent, "{report:?}");
    // The report names targets without their keys.
    for d in &report {
        assert!(!d.target.contains("robot-key"), "{}", d.target);
    }

    let md = ok.wait_for(1, Duration::from_secs(2))[0].json();
    assert_eq!(md["msgtype"], "markdown");
    let content = md["markdown"]["content"]
        .as_str()
        .expect("markdown.content");
    assert!(content.contains("havip iam: failure"), "{content}");
    assert!(content.contains("critical"), "{content}");
    assert!(
        content.contains("the cloud did not confirm ins-iam00021"),
        "{content}"
    );
    assert_eq!(ok.requests()[0].path, "/hook?key=robot-key-1");

    let t = text.wait_for(1, Duration::from_secs(2))[0].json();
    assert_eq!(t["msgtype"], "text");
    assert!(t["text"]["content"]
        .as_str()
        .unwrap_or("")
        .contains("havip iam"));
    assert_eq!(t["text"]["mentioned_mobile_list"][0], "13800000000");
}

#[tokio::test]
async fn failures_are_reported_per_target_not_raised() {
    let err500 = Receiver::start(Behaviour::status(500));
    let good = Receiver::start(Behaviour::ok("{}"));
    let refused = format!("http://127.0.0.1:{}/hook", refused_port());
    let cfg = webhook(&err500.url, "5s") + &webhook(&refused, "5s") + &webhook(&good.url, "5s");
    let report = Alerter::new(&targets(&cfg)).send(&switch_event()).await;
    assert_eq!(report.len(), 3);
    match &report[0].outcome {
        Outcome::Failed(why) => assert!(why.contains("500"), "{why}"),
        o => panic!("HTTP 500 must fail, got {o:?}"),
    }
    match &report[1].outcome {
        Outcome::Failed(why) => assert!(why.contains("connection failed"), "{why}"),
        o => panic!("a refused connection must fail, got {o:?}"),
    }
    assert_eq!(report[2].outcome, Outcome::Sent);
}

#[tokio::test]
async fn a_hanging_receiver_is_bounded_by_its_timeout_and_blocks_nobody() {
    let hang = Receiver::start(Behaviour::Hang);
    let good = Receiver::start(Behaviour::ok("{}"));
    let cfg = webhook(&hang.url, "300ms") + &webhook(&good.url, "5s");
    let alerter = Alerter::new(&targets(&cfg));
    let start = Instant::now();
    let report = alerter.send(&switch_event()).await;
    let took = start.elapsed();
    match &report[0].outcome {
        Outcome::Failed(why) => assert!(why.contains("timed out"), "{why}"),
        o => panic!("a hang must time out, got {o:?}"),
    }
    assert_eq!(report[1].outcome, Outcome::Sent);
    // The bound is 300 ms; the generous margin only absorbs a loaded machine.
    assert!(took >= Duration::from_millis(300), "{took:?}");
    assert!(took < Duration::from_secs(4), "send took {took:?}");
    assert_eq!(
        hang.requests().len(),
        1,
        "the hanging receiver did get the request"
    );
}

#[tokio::test]
async fn min_severity_skips_lesser_events() {
    let rx = Receiver::start(Behaviour::ok("{}"));
    let cfg = format!(
        "[[alert]]\ntype = \"webhook\"\nurl = \"{}\"\nmin_severity = \"critical\"\n",
        rx.url
    );
    let alerter = Alerter::new(&targets(&cfg));
    let report = alerter.send(&switch_event()).await;
    assert_eq!(report[0].outcome, Outcome::Skipped);
    let report = alerter
        .send(&switch_event().with_severity(Severity::Critical))
        .await;
    assert_eq!(report[0].outcome, Outcome::Sent);
    assert_eq!(rx.wait_for(1, Duration::from_secs(2)).len(), 1);
}

#[tokio::test]
async fn no_targets_means_nothing_to_do() {
    assert!(Alerter::new(&[]).send(&switch_event()).await.is_empty());
}

#[tokio::test]
async fn exec_hook_gets_json_on_stdin_and_the_environment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("out");
    let cfg = format!(
        "[[alert]]\ntype = \"exec\"\ncommand = [\"/bin/sh\", \"-c\", \"cat > '{0}.json'; env | grep '^HAVIP_ALERT_' | sort > '{0}.env'\"]\n",
        out.display()
    );
    let report = Alerter::new(&targets(&cfg)).send(&switch_event()).await;
    assert_eq!(report[0].outcome, Outcome::Sent, "{report:?}");

    let json: serde_json::Value = serde_json::from_slice(
        &std::fs::read(out.with_extension("json")).expect("hook wrote stdin"),
    )
    .expect("stdin is JSON");
    assert_eq!(json["kind"], "switch");
    assert_eq!(json["vip"], "iam");
    let env = std::fs::read_to_string(out.with_extension("env")).expect("hook wrote env");
    for want in [
        "HAVIP_ALERT_KIND=switch",
        "HAVIP_ALERT_VIP=iam",
        "HAVIP_ALERT_SEVERITY=info",
        "HAVIP_ALERT_NODE=ins-iam00021",
        "HAVIP_ALERT_MESSAGE=ins-iam00021 now holds havip-iam00099; 106.52.252.139 bound",
    ] {
        assert!(
            env.lines().any(|l| l == want),
            "{want} missing from:\n{env}"
        );
    }
    assert!(
        env.lines().any(|l| l.starts_with("HAVIP_ALERT_TIME=20")),
        "{env}"
    );
}

#[tokio::test]
async fn exec_hook_shell_string_and_failure_status_with_stderr() {
    let cfg =
        "[[alert]]\ntype = \"exec\"\ncommand = \"echo mail server unreachable >&2; exit 3\"\n";
    let report = Alerter::new(&targets(cfg)).send(&switch_event()).await;
    match &report[0].outcome {
        Outcome::Failed(why) => {
            assert!(why.contains("exit status: 3"), "{why}");
            assert!(why.contains("mail server unreachable"), "{why}");
        }
        o => panic!("exit 3 must fail, got {o:?}"),
    }
    let missing = "[[alert]]\ntype = \"exec\"\ncommand = [\"/nonexistent/havip-hook\"]\n";
    let report = Alerter::new(&targets(missing)).send(&switch_event()).await;
    match &report[0].outcome {
        Outcome::Failed(why) => assert!(why.contains("starting /nonexistent/havip-hook"), "{why}"),
        o => panic!("a missing program must fail, got {o:?}"),
    }
}

/// Reads a process's state letter from /proc; `None` when it no longer exists.
fn proc_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The state follows the parenthesised command name, which may itself contain spaces.
    stat.rsplit_once(')')?.1.trim_start().chars().next()
}

#[tokio::test]
async fn exec_hook_that_hangs_is_killed_with_its_children() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pids = dir.path().join("pids");
    let cfg = format!(
        "[[alert]]\ntype = \"exec\"\ntimeout = \"1s\"\ncommand = \"sleep 60 & echo $! > '{0}'; echo $$ >> '{0}'; wait\"\n",
        pids.display()
    );
    let start = Instant::now();
    let report = Alerter::new(&targets(&cfg)).send(&switch_event()).await;
    let took = start.elapsed();
    match &report[0].outcome {
        Outcome::Failed(why) => assert!(why.contains("timed out"), "{why}"),
        o => panic!("a hanging hook must time out, got {o:?}"),
    }
    assert!(took < Duration::from_secs(4), "send took {took:?}");

    let pids: Vec<u32> = std::fs::read_to_string(&pids)
        .expect("hook wrote its pids")
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    assert_eq!(pids.len(), 2, "background sleep and the shell");
    // SIGKILL is immediate, but reaping by init takes a moment: gone or a zombie is dead.
    let end = Instant::now() + Duration::from_secs(5);
    for pid in pids {
        loop {
            match proc_state(pid) {
                None | Some('Z') | Some('X') => break,
                Some(s) if Instant::now() > end => panic!("pid {pid} still alive (state {s})"),
                Some(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
    }
}

/// Issue 7: a WeCom answer was read whole and its `errmsg` echoed whole in the failure report.
#[tokio::test]
async fn a_long_wecom_errmsg_is_truncated_and_a_huge_answer_refused() {
    let long = Receiver::start(Behaviour::ok(&format!(
        r#"{{"errcode":93000,"errmsg":"{}"}}"#,
        "e".repeat(30_000)
    )));
    let huge = Receiver::start(Behaviour::ok(&format!(
        r#"{{"errcode":0,"errmsg":"ok","pad":"{}"}}"#,
        "p".repeat(1024 * 1024)
    )));
    let cfg = format!(
        "[[alert]]\ntype = \"wecom\"\nurl = \"{}?key=k1\"\n\
         [[alert]]\ntype = \"wecom\"\nurl = \"{}?key=k2\"\n",
        long.url, huge.url
    );
    let report = Alerter::new(&targets(&cfg))
        .send(&AlertEvent::new("iam", AlertKind::Failure, "x"))
        .await;
    for d in &report {
        match &d.outcome {
            Outcome::Failed(why) => {
                assert!(why.len() < 400, "{} bytes: {}", why.len(), &why[..200])
            }
            o => panic!("{}: want a failure, got {o:?}", d.target),
        }
    }
    let Outcome::Failed(why) = &report[0].outcome else {
        unreachable!()
    };
    assert!(
        why.contains("93000") && why.contains("(30000 bytes)"),
        "{why}"
    );
    let Outcome::Failed(why) = &report[1].outcome else {
        unreachable!()
    };
    assert!(why.contains("64 KiB"), "{why}");
}
