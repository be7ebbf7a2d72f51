//! Gratuitous ARP on a real link: a veth pair inside a network namespace this test creates
//! (for one thread, with no route anywhere), `announce` on one end, capture on the other.
//! Also `vip_present` and the interface errors, seen from inside that namespace.
//!
//! Needs root (CAP_SYS_ADMIN for the namespace, CAP_NET_RAW for the packet sockets) and `ip`
//! from iproute2; otherwise it says why and skips. Nothing is sent outside the namespace.

mod support;

use std::io;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use havip::node::garp::{announce, announce_repeated, garp_frame, parse_garp, GarpError};
use havip::node::{interface_mac, vip_present};
use support::netns::ip;

const VIP: Ipv4Addr = Ipv4Addr::new(10, 0, 4, 99);
const ETH_P_ARP: u16 = 0x0806;

/// A packet socket receiving ARP frames on one interface.
struct Capture(libc::c_int);

impl Capture {
    fn open(iface: &str) -> io::Result<Capture> {
        let c = std::ffi::CString::new(iface).expect("no NUL");
        // SAFETY: plain syscalls on a descriptor owned by the returned value.
        unsafe {
            let idx = libc::if_nametoindex(c.as_ptr());
            if idx == 0 {
                return Err(io::Error::last_os_error());
            }
            let fd = libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                i32::from(ETH_P_ARP.to_be()),
            );
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            let cap = Capture(fd);
            let mut sll: libc::sockaddr_ll = std::mem::zeroed();
            sll.sll_family = libc::AF_PACKET as u16;
            sll.sll_protocol = ETH_P_ARP.to_be();
            sll.sll_ifindex = idx as i32;
            if libc::bind(
                fd,
                (&sll as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            ) != 0
            {
                return Err(io::Error::last_os_error());
            }
            let tv = libc::timeval {
                tv_sec: 0,
                tv_usec: 200_000,
            };
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&tv as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as u32,
            );
            Ok(cap)
        }
    }

    /// The gratuitous ARP frames received within `limit`, stopping at `want`.
    fn frames(&self, want: usize, limit: Duration) -> Vec<Vec<u8>> {
        let end = Instant::now() + limit;
        let mut out = Vec::new();
        while out.len() < want && Instant::now() < end {
            let mut buf = [0u8; 2048];
            // SAFETY: buf is writable for its length.
            let n = unsafe { libc::recv(self.0, buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n > 0 {
                let f = buf[..n as usize].to_vec();
                if parse_garp(&f).is_some() {
                    out.push(f);
                }
            }
        }
        out
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        // SAFETY: we own the descriptor.
        unsafe {
            libc::close(self.0);
        }
    }
}

/// Runs `body` in a namespace holding the veth pair hv0–hv1, both up; skips without root.
fn run_or_skip(name: &str, body: fn() -> Result<(), String>) {
    support::netns::run_or_skip(
        name,
        &[
            &["link", "add", "hv0", "type", "veth", "peer", "name", "hv1"],
            &["link", "set", "hv0", "up"],
            &["link", "set", "hv1", "up"],
        ],
        body,
    );
}

#[test]
fn announce_sends_keepalived_s_frame_to_the_peer() {
    run_or_skip("announce_sends_keepalived_s_frame_to_the_peer", || {
        let cap = Capture::open("hv1").map_err(|e| format!("capture on hv1: {e}"))?;
        let mac = interface_mac("hv0").map_err(|e| format!("mac of hv0: {e}"))?;
        announce("hv0", VIP).map_err(|e| format!("announce: {e}"))?;
        let frames = cap.frames(1, Duration::from_secs(3));
        assert_eq!(frames.len(), 1, "no gratuitous ARP arrived on hv1");
        assert_eq!(frames[0], garp_frame(mac, VIP).to_vec(), "frame bytes");
        let g = parse_garp(&frames[0]).expect("gratuitous");
        assert_eq!((g.sender_mac, g.ip), (mac, VIP));

        announce_repeated("hv0", VIP, 3, Duration::from_millis(20))
            .map_err(|e| format!("announce_repeated: {e}"))?;
        assert_eq!(
            cap.frames(3, Duration::from_secs(3)).len(),
            3,
            "three announcements"
        );
        Ok(())
    })
}

#[test]
fn interface_errors_are_clear() {
    run_or_skip("interface_errors_are_clear", || {
        match announce("hv-nosuch", VIP) {
            Err(GarpError::NoSuchInterface(n)) => assert_eq!(n, "hv-nosuch"),
            other => panic!("expected NoSuchInterface, got {other:?}"),
        }
        match announce("lo", VIP) {
            Err(GarpError::NotEthernet { .. }) => {}
            other => panic!("expected NotEthernet, got {other:?}"),
        }
        ip(&["link", "set", "hv0", "down"])?;
        match announce("hv0", VIP) {
            Err(e @ GarpError::Send { .. }) => {
                assert!(e.to_string().contains("hv0"), "{e}");
            }
            other => panic!("expected a send failure on a down link, got {other:?}"),
        }
        Ok(())
    })
}

#[test]
fn vip_presence_is_seen_per_interface() {
    run_or_skip("vip_presence_is_seen_per_interface", || {
        let present = |i: Option<&str>| vip_present(i, VIP).map_err(|e| e.to_string());
        assert!(!present(None)?);
        ip(&[
            "addr",
            "add",
            "10.0.4.99/24",
            "dev",
            "hv0",
            "label",
            "hv0:vip",
        ])?;
        assert!(present(None)?);
        assert!(present(Some("hv0"))?);
        assert!(present(Some("hv0:vip"))?);
        assert!(!present(Some("hv1"))?);
        ip(&["addr", "del", "10.0.4.99/24", "dev", "hv0"])?;
        assert!(!present(Some("hv0"))?);
        Ok(())
    })
}

/// The capability header and data of capget/capset (linux/capability.h, version 3).
#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

#[test]
fn without_cap_net_raw_the_error_says_so() {
    // Capabilities are per thread: drop CAP_NET_RAW from this thread's effective set only, so
    // root runs exercise the same path as an unprivileged keepalived script would.
    let res = std::thread::spawn(|| {
        const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
        const CAP_NET_RAW: u32 = 13;
        let mut hdr = CapHeader {
            version: LINUX_CAPABILITY_VERSION_3,
            pid: 0,
        };
        let mut data = [CapData::default(); 2];
        // SAFETY: capget/capset with a v3 header and two data structs, as the ABI requires.
        unsafe {
            if libc::syscall(
                libc::SYS_capget,
                &mut hdr as *mut CapHeader,
                data.as_mut_ptr(),
            ) != 0
            {
                return Err(format!("capget: {}", io::Error::last_os_error()));
            }
            data[0].effective &= !(1 << CAP_NET_RAW);
            if libc::syscall(libc::SYS_capset, &mut hdr as *mut CapHeader, data.as_ptr()) != 0 {
                return Err(format!("capset: {}", io::Error::last_os_error()));
            }
        }
        // Nothing is sent: opening the socket is what fails.
        Ok(announce("lo", VIP))
    })
    .join()
    .expect("thread");
    match res {
        Ok(Err(e @ GarpError::Permission(_))) => {
            let msg = e.to_string();
            assert!(
                msg.contains("CAP_NET_RAW") && msg.contains("setcap"),
                "{msg}"
            );
        }
        Ok(other) => panic!("expected a permission error, got {other:?}"),
        Err(e) => panic!("{e}"),
    }
}
