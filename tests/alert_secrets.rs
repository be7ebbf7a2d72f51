//! Alerts never contain secrets: not in webhook or WeCom bodies, not in an exec hook's stdin or
//! environment, not in the per-target failure reports — even when the event itself was built
//! carelessly with the credentials in it.
//!
//! One test in its own binary, because it sets the credential variables in the process
//! environment (captured by `EnvVars` and handed to the alerter, as the context does in
//! production; an exec hook must not inherit them).

mod support;

use std::time::Duration;

use havip::alert::{AlertEvent, AlertKind, AlertTarget, Alerter, Outcome};
use havip::cloud::EnvVars;
use support::server::{refused_port, Behaviour, Receiver};
use support::{EXAMPLE_SECRET_ID, EXAMPLE_SECRET_KEY};
const ROLE_TOKEN: &str = "role-session-token-0123456789";
const ROBOT_KEY: &str = "robot-key-0b5e7c";

#[tokio::test]
async fn no_secret_leaves_through_any_target() {
    std::env::set_var("TENCENTCLOUD_SECRET_ID", EXAMPLE_SECRET_ID);
    std::env::set_var("TENCENTCLOUD_SECRET_KEY", EXAMPLE_SECRET_KEY);

    let hook = Receiver::start(Behaviour::ok("{}"));
    let robot = Receiver::start(Behaviour::ok(r#"{"errcode":0,"errmsg":"ok"}"#));
    let dir = tempfile::tempdir().expect("tempdir");
    let dump = dir.path().join("dump");
    let cfg = format!(
        r#"
        [[alert]]
        type = "webhook"
        url = "{hook}"
        [[alert]]
        type = "wecom"
        url = "{robot}?key={ROBOT_KEY}"
        [[alert]]
        type = "exec"
        command = "cat > '{dump}.stdin'; env > '{dump}.env'"
        [[alert]]
        type = "wecom"
        url = "http://127.0.0.1:{refused}/send?key={ROBOT_KEY}"
        "#,
        hook = hook.url,
        robot = robot.url,
        dump = dump.display(),
        refused = refused_port(),
    );
    #[derive(serde::Deserialize)]
    struct F {
        alert: Vec<AlertTarget>,
    }
    let targets = toml::from_str::<F>(&cfg).expect("valid targets").alert;
    let env = EnvVars::from_process();
    let secrets = env.secrets().map(String::from).chain([ROLE_TOKEN.into()]);
    let alerter = Alerter::new(&targets).with_secrets(secrets);

    // Everything a careless caller could put in: the key in the message, an Authorization
    // header and the token in the details.
    let ev = AlertEvent::new(
        "iam",
        AlertKind::Failure,
        format!("AssociateHaVipInstance failed with SecretId {EXAMPLE_SECRET_ID} and key {EXAMPLE_SECRET_KEY}"),
    )
    .with_details(serde_json::json!({
        "request": {
            "headers": {
                "Authorization": format!("TC3-HMAC-SHA256 Credential={EXAMPLE_SECRET_ID}/2026-11-25/vpc/tc3_request, SignedHeaders=content-type;host, Signature=5da7a33f6993f0614b047e5df4582db9e9bf4672ba50567dba16c6ccf174c474"),
                "X-TC-Token": ROLE_TOKEN,
            },
        },
        "error": format!("token {ROLE_TOKEN} expired"),
        "holder": "ins-iam00020",
    }));
    let report = alerter.send(&ev).await;
    assert_eq!(report[0].outcome, Outcome::Sent, "{report:?}");
    assert_eq!(report[1].outcome, Outcome::Sent, "{report:?}");
    assert_eq!(report[2].outcome, Outcome::Sent, "{report:?}");
    assert!(
        matches!(report[3].outcome, Outcome::Failed(_)),
        "{report:?}"
    );

    let mut seen = Vec::new();
    seen.push(
        String::from_utf8_lossy(hook.wait_for(1, Duration::from_secs(2))[0].body()).into_owned(),
    );
    seen.push(
        String::from_utf8_lossy(robot.wait_for(1, Duration::from_secs(2))[0].body()).into_owned(),
    );
    seen.push(std::fs::read_to_string(dump.with_extension("stdin")).expect("hook stdin"));
    let env = std::fs::read_to_string(dump.with_extension("env")).expect("hook env");
    seen.push(env.clone());
    seen.push(format!("{report:?}"));
    seen.push(format!("{alerter:?}"));
    for s in &seen {
        for secret in [
            EXAMPLE_SECRET_KEY,
            EXAMPLE_SECRET_ID,
            ROLE_TOKEN,
            "5da7a33f6993f061",
            ROBOT_KEY,
        ] {
            assert!(!s.contains(secret), "{secret} leaked into:\n{s}");
        }
    }
    assert!(
        !env.contains("TENCENTCLOUD_"),
        "the hook inherited credentials:\n{env}"
    );
    // The useful parts survive.
    assert!(seen[0].contains("ins-iam00020") && seen[0].contains("AssociateHaVipInstance"));
}
