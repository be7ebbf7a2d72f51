//! Gratuitous ARP from a real interface: a veth pair inside a network namespace that the test
//! creates for one thread (no route out, gone when the test ends), tcsim's packet socket on one
//! end, a raw gratuitous ARP sent from the other. Needs root (CAP_NET_ADMIN/CAP_SYS_ADMIN) and
//! `ip`; otherwise the tests say why and skip.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tcsim::arp::{gratuitous_frame, ArpListener, PacketSocket};
use tcsim::testing::SimHandle;

const NODE2_MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x00, 0x04, 0x21];
const STRANGER_MAC: [u8; 6] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x99];

/// Moves the calling thread into a fresh network namespace with a veth pair `tva`/`tvb` and
/// loopback up. `Err` is the reason to skip.
fn enter_private_netns() -> Result<(), String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err("not root".into());
    }
    // SAFETY: unshare affects only the calling thread's network namespace.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        return Err(format!(
            "unshare(CLONE_NEWNET) failed: {}",
            std::io::Error::last_os_error()
        ));
    }
    for args in [
        &["link", "add", "tva", "type", "veth", "peer", "name", "tvb"][..],
        &["link", "set", "tva", "up"],
        &["link", "set", "tvb", "up"],
        &["link", "set", "lo", "up"],
    ] {
        let out = Command::new("ip")
            .args(args)
            .output()
            .map_err(|e| format!("cannot run ip: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "ip {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    Ok(())
}

/// Runs `f` on a thread inside a private network namespace, or explains the skip.
fn in_netns(name: &str, f: impl FnOnce() + Send + 'static) {
    let result = std::thread::spawn(move || match enter_private_netns() {
        Ok(()) => {
            f();
            true
        }
        Err(why) => {
            eprintln!("SKIPPED: {why}; this test needs root and network namespaces");
            false
        }
    })
    .join();
    match result {
        Ok(ran) => eprintln!("{name}: {}", if ran { "ran" } else { "skipped" }),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

#[test]
fn packet_socket_arp_moves_the_havip() {
    in_netns("packet_socket_arp_moves_the_havip", || {
        let sim = SimHandle::start("seed");
        // Opened on this thread, so inside the namespace.
        let _listener = ArpListener::start("tva", sim.sim().clone()).expect("listen on tva");
        let sender = PacketSocket::open("tvb").expect("packet socket on tvb");
        let holder = || {
            sim.sim()
                .world()
                .havip("havip-iam00099")
                .and_then(|h| h.instance_id.clone())
        };
        assert_eq!(holder().as_deref(), Some("ins-iam00020"));

        // A stranger's announcement moves nothing.
        sender
            .send(&gratuitous_frame(STRANGER_MAC, Ipv4Addr::new(10, 0, 4, 99)))
            .unwrap();
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(holder().as_deref(), Some("ins-iam00020"));

        let deadline = Instant::now() + Duration::from_secs(10);
        while holder().as_deref() != Some("ins-iam00021") {
            assert!(Instant::now() < deadline, "HAVIP did not move within 10 s");
            sender
                .send(&gratuitous_frame(NODE2_MAC, Ipv4Addr::new(10, 0, 4, 99)))
                .unwrap();
            std::thread::sleep(Duration::from_millis(100));
        }
        let w = sim.sim().world();
        let h = w.havip("havip-iam00099").unwrap();
        assert_eq!(h.eni_id.as_deref(), Some("eni-iam00021"));
        assert!(h.flushed_time.is_some());
    });
}

/// One HTTP/1.0 GET over a socket created on this thread (so inside the namespace).
fn http_get(port: u16, path: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn binary_with_arp_iface_learns_from_the_wire() {
    in_netns("binary_with_arp_iface_learns_from_the_wire", || {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tcsim"))
            .args([
                "--listen",
                "127.0.0.1:0",
                "--scenario",
                "seed",
                "--arp-iface",
                "tva",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn tcsim");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port: u16 = line
            .trim()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("bad first line {line:?}"));
        let sender = PacketSocket::open("tvb").expect("packet socket on tvb");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            sender
                .send(&gratuitous_frame(NODE2_MAC, Ipv4Addr::new(10, 0, 4, 99)))
                .unwrap();
            std::thread::sleep(Duration::from_millis(100));
            let state = http_get(port, "/_sim/state");
            let body = state.split("\r\n\r\n").nth(1).unwrap_or("");
            let v: serde_json::Value = serde_json::from_str(body).expect("state JSON");
            if v["havips"][0]["instance_id"] == "ins-iam00021" {
                break;
            }
            assert!(Instant::now() < deadline, "HAVIP did not move within 10 s");
        }
        // SAFETY: plain kill(2) on our child.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let status = child.wait().unwrap();
        assert!(status.success(), "clean exit on SIGTERM: {status}");
    });
}
