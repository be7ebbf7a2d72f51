//! The deploy/ files say what the reference deployment needs: keepalived on both nodes as
//! Tencent recommends (unicast, BACKUP + nopreempt, garp_master_delay 1 / refresh 5, havip as
//! check and notify, the drain flags as weight-0 track files), mirror images of each other, accepted by keepalived itself when it is
//! installed; and havip.toml.example is a valid configuration.

use std::path::{Path, PathBuf};
use std::process::Command;

fn deploy(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy")
        .join(rel)
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(deploy(rel)).unwrap_or_else(|e| panic!("deploy/{rel}: {e}"))
}

/// The configuration's directives, comments and blank lines dropped, whitespace collapsed.
fn directives(conf: &str) -> Vec<String> {
    conf.lines()
        .map(|l| l.split(['!', '#']).next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

fn has(d: &[String], line: &str) -> bool {
    d.iter().any(|l| l == line)
}

#[test]
fn keepalived_configs_follow_the_reference_deployment() {
    for (n, me, peer) in [(1, "10.0.4.20", "10.0.4.21"), (2, "10.0.4.21", "10.0.4.20")] {
        let d = directives(&read(&format!("keepalived/keepalived-node{n}.conf")));
        for want in [
            "state BACKUP",
            "nopreempt",
            "priority 200",
            &format!("unicast_src_ip {me}"),
            "unicast_peer {",
            peer,
            "10.0.4.99/24 dev eth0",
            "garp_master_delay 1",
            "garp_master_refresh 5",
            "notify \"/usr/local/bin/havip notify\"",
            "script \"/usr/local/bin/havip check --quiet --vip iam\"",
            "chk_havip",
            "vrrp_instance VI_1 {",
            // havip failover's drain flag (and the operator's) fault the instance at once.
            "vrrp_track_file drain_iam {",
            "file /var/lib/havip/iam.drain",
            "vrrp_track_file drain_all {",
            "file /var/lib/havip/drain",
            "track_file {",
            "drain_iam weight 0",
            "drain_all weight 0",
        ] {
            assert!(has(&d, want), "node{n}: missing `{want}`");
        }
        assert!(
            !d.iter().any(|l| l.starts_with("vrrp_strict")),
            "node{n}: vrrp_strict"
        );
        assert!(
            !d.iter().any(|l| l.starts_with("preempt_delay")),
            "node{n}: preemption"
        );
        // The check's own timeout (2s) must fit inside vrrp_script's.
        assert!(has(&d, "timeout 5"), "node{n}: vrrp_script timeout");
        // No sample mail settings (havip sends the alerts).
        assert!(
            !d.iter()
                .any(|l| l.starts_with("smtp_") || l.starts_with("notification_email")),
            "node{n}: SMTP settings"
        );
    }
}

#[test]
fn the_two_nodes_differ_only_in_identity_and_addresses() {
    let a = directives(&read("keepalived/keepalived-node1.conf"));
    let b = directives(&read("keepalived/keepalived-node2.conf"));
    assert_eq!(a.len(), b.len());
    let swapped: Vec<String> = b
        .iter()
        .map(|l| {
            l.replace("10.0.4.21", "@")
                .replace("10.0.4.20", "10.0.4.21")
                .replace('@', "10.0.4.20")
                .replace("havip_node2", "havip_node1")
        })
        .collect();
    assert_eq!(a, swapped);
}

#[test]
fn keepalived_accepts_both_configs() {
    let Ok(out) = Command::new("keepalived").arg("--version").output() else {
        eprintln!("skipped: keepalived is not installed (apt-get install keepalived)");
        return;
    };
    assert!(out.status.success() || !out.stderr.is_empty());
    let dir = tempfile::tempdir().unwrap();
    for n in [1, 2] {
        // keepalived -t also checks that scripts exist and are safe; point them at the binary
        // this test built instead of /usr/local/bin/havip.
        let conf = read(&format!("keepalived/keepalived-node{n}.conf"))
            .replace("/usr/local/bin/havip", env!("CARGO_BIN_EXE_havip"));
        let path = dir.path().join(format!("node{n}.conf"));
        std::fs::write(&path, conf).unwrap();
        let out = Command::new("keepalived")
            .args(["--config-test", "-f"])
            .arg(&path)
            .output()
            .expect("run keepalived");
        assert!(
            out.status.success(),
            "keepalived rejects node{n}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[test]
fn the_example_configuration_is_valid() {
    let path = deploy("havip.toml.example");
    let text = read("havip.toml.example");
    let cfg = havip::config::Config::parse(&text, &path, None)
        .unwrap_or_else(|e| panic!("havip.toml.example: {e}"));
    assert_eq!(cfg.vips.len(), 1);
    assert_eq!(cfg.vips[0].name, "iam");
    assert_eq!(cfg.vips[0].vrrp_instance, "VI_1");
    let check = cfg.check.as_ref().expect("[check] in the example");
    check.validate().expect("a complete [check]");
    assert_eq!(
        check.http.as_deref(),
        Some("http://127.0.0.1/nginx-healthz")
    );

    // Every commented alternative is valid too once uncommented: the [[alert]] examples and
    // the other strategies (each block uncommented on its own).
    let alerts: String = text
        .lines()
        .skip_while(|l| !l.starts_with("# [[alert]]"))
        .take_while(|l| !l.starts_with("# What `havip check`"))
        .filter_map(|l| l.strip_prefix("# "))
        .filter(|l| l.starts_with('[') || l.contains(" = "))
        .map(|l| format!("{l}\n"))
        .collect();
    #[derive(serde::Deserialize)]
    struct Alerts {
        alert: Vec<havip::alert::AlertTarget>,
    }
    let parsed: Alerts = toml::from_str(&alerts).unwrap_or_else(|e| panic!("{e}\n{alerts}"));
    assert_eq!(parsed.alert.len(), 3);
}

#[test]
fn the_systemd_drop_in_creates_the_state_directory() {
    let d = directives(&read("systemd/keepalived.service.d/havip.conf"));
    assert!(has(&d, "[Service]"));
    assert!(has(&d, "StateDirectory=havip"));
    assert!(has(&d, "EnvironmentFile=-/etc/havip/credentials.env"));
}

#[test]
fn logrotate_rotates_the_journal_by_rename() {
    let d = directives(&read("logrotate/havip"));
    assert!(has(&d, "/var/lib/havip/journal.jsonl {"));
    assert!(has(&d, "create 0640 root root"));
    // copytruncate can drop records appended between the copy and the truncation.
    assert!(!d.iter().any(|l| l == "copytruncate"));
}

#[test]
fn the_nginx_config_balances_over_both_nodes() {
    let d = directives(&read("nginx/iam.conf"));
    for want in [
        "upstream iam.api.marmotedu.com {",
        "server 10.0.4.20:8080 max_fails=2 fail_timeout=10s;",
        "server 10.0.4.21:8080 max_fails=2 fail_timeout=10s;",
        "upstream iam.authz.marmotedu.com {",
        "server 10.0.4.20:9090 max_fails=2 fail_timeout=10s;",
        "server 10.0.4.21:9090 max_fails=2 fail_timeout=10s;",
        "client_max_body_size 5m;",
        "location = /nginx-healthz {",
    ] {
        assert!(has(&d, want), "iam.conf: missing `{want}`");
    }
    // Shared round-robin state, so every worker takes its turn in the same rotation.
    assert_eq!(d.iter().filter(|l| l.starts_with("zone ")).count(), 2);

    let Ok(out) = Command::new("nginx").arg("-v").output() else {
        eprintln!("skipped nginx -t: nginx is not installed (apt-get install nginx-light)");
        return;
    };
    assert!(out.status.success());
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().display();
    let main = format!(
        "pid {p}/nginx.pid;\nerror_log {p}/error.log;\nevents {{ worker_connections 64; }}\n\
         http {{\n client_body_temp_path {p}/body;\n proxy_temp_path {p}/proxy;\n\
         fastcgi_temp_path {p}/fastcgi;\n uwsgi_temp_path {p}/uwsgi;\n scgi_temp_path {p}/scgi;\n\
         include {};\n}}\n",
        deploy("nginx/iam.conf").display()
    );
    std::fs::write(dir.path().join("nginx.conf"), main).unwrap();
    let out = Command::new("nginx")
        .args(["-t", "-q", "-p"])
        .arg(dir.path())
        .arg("-c")
        .arg(dir.path().join("nginx.conf"))
        .arg("-e")
        .arg(dir.path().join("error.log"))
        .output()
        .expect("run nginx -t");
    assert!(
        out.status.success(),
        "nginx rejects iam.conf: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_watch_unit_is_a_hardened_notify_service() {
    let d = directives(&read("systemd/havip-watch.service"));
    for want in [
        "Type=notify",
        "ExecStart=/usr/local/bin/havip watch --log-format json",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "WatchdogSec=30",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/havip /run/havip",
        "CapabilityBoundingSet=CAP_NET_RAW",
        "AmbientCapabilities=CAP_NET_RAW",
        "StateDirectory=havip",
        "ProtectHome=yes",
        "PrivateTmp=yes",
    ] {
        assert!(has(&d, want), "havip-watch.service lacks {want:?}");
    }
    // SIGTERM drains within 5 s: systemd must wait longer than that before SIGKILL.
    let stop = d
        .iter()
        .find_map(|l| l.strip_prefix("TimeoutStopSec="))
        .and_then(|v| v.parse::<u64>().ok())
        .expect("TimeoutStopSec in seconds");
    assert!(
        stop > 5,
        "TimeoutStopSec={stop} does not cover the 5 s drain"
    );
    if Command::new("systemd-analyze")
        .arg("--version")
        .output()
        .is_ok()
    {
        let out = Command::new("systemd-analyze")
            .args(["verify", "--man=no"])
            .arg(deploy("systemd/havip-watch.service"))
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stderr);
        // The binary path does not exist on a build machine; anything else is a unit error.
        let problems: Vec<&str> = text
            .lines()
            .filter(|l| !l.contains("/usr/local/bin/havip") && !l.trim().is_empty())
            .filter(|l| {
                !l.contains("Failed to prepare filename") && !l.contains("is not executable")
            })
            .collect();
        assert!(problems.is_empty(), "systemd-analyze verify:\n{text}");
    } else {
        eprintln!("the_watch_unit_is_a_hardened_notify_service: systemd-analyze not installed; unit syntax not verified");
    }
}

#[test]
fn promtool_accepts_the_alert_rules() {
    let rules = deploy("prometheus/havip-rules.yml");
    let text = read("prometheus/havip-rules.yml");
    // Every rule uses only the documented metric names (docs/metrics.md).
    let documented =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/metrics.md"))
            .unwrap();
    for name in text
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|w| w.starts_with("havip_"))
    {
        assert!(
            documented.contains(name),
            "{name} is not in docs/metrics.md"
        );
    }
    for alert in [
        "HavipVipNotConfirmed",
        "HavipSplit",
        "HavipIdleEipBilled",
        "HavipApiErrors",
    ] {
        assert!(text.contains(&format!("alert: {alert}")), "no {alert} rule");
    }
    match Command::new("promtool")
        .args(["check", "rules"])
        .arg(&rules)
        .output()
    {
        Ok(out) => assert!(
            out.status.success(),
            "promtool check rules:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(_) => eprintln!(
            "promtool_accepts_the_alert_rules: skipped the promtool check: promtool is not \
             installed (Debian package `prometheus`; .ci/run installs it)"
        ),
    }
}
