//! Learning HAVIP holders from gratuitous ARP on a real interface (`--arp-iface`): an AF_PACKET
//! socket bound to `ETH_P_ARP` on one interface, read by a plain thread (the socket is blocking,
//! with a short receive timeout so the thread notices when it should stop).
//!
//! A frame counts when it is an ARP request or reply whose sender IP equals its target IP
//! (gratuitous, as keepalived sends), or any ARP whose sender IP is some HAVIP's Vip. Its
//! sender MAC then goes through the same rule as `POST /_sim/arp`.

use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::Sim;

const ETH_P_ARP: u16 = 0x0806;
const ETH_P_8021Q: u16 = 0x8100;

/// A parsed ARP packet (Ethernet/IPv4 only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArpPacket {
    /// 1 = request, 2 = reply.
    pub op: u16,
    pub sender_mac: [u8; 6],
    pub sender_ip: Ipv4Addr,
    pub target_ip: Ipv4Addr,
}

impl ArpPacket {
    pub fn sender_mac_string(&self) -> String {
        self.sender_mac
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":")
    }

    /// Sender IP equals target IP.
    pub fn is_gratuitous(&self) -> bool {
        self.sender_ip == self.target_ip
    }
}

/// Parses an Ethernet frame carrying ARP (one 802.1Q tag allowed). `None` for anything else.
pub fn parse_frame(frame: &[u8]) -> Option<ArpPacket> {
    let mut ethertype = u16::from_be_bytes([*frame.get(12)?, *frame.get(13)?]);
    let mut off = 14;
    if ethertype == ETH_P_8021Q {
        ethertype = u16::from_be_bytes([*frame.get(16)?, *frame.get(17)?]);
        off = 18;
    }
    if ethertype != ETH_P_ARP {
        return None;
    }
    let arp = frame.get(off..off + 28)?;
    let htype = u16::from_be_bytes([arp[0], arp[1]]);
    let ptype = u16::from_be_bytes([arp[2], arp[3]]);
    let (hlen, plen) = (arp[4], arp[5]);
    let op = u16::from_be_bytes([arp[6], arp[7]]);
    if htype != 1 || ptype != 0x0800 || hlen != 6 || plen != 4 || !(op == 1 || op == 2) {
        return None;
    }
    let mut sender_mac = [0u8; 6];
    sender_mac.copy_from_slice(&arp[8..14]);
    let sender_ip = Ipv4Addr::new(arp[14], arp[15], arp[16], arp[17]);
    let target_ip = Ipv4Addr::new(arp[24], arp[25], arp[26], arp[27]);
    Some(ArpPacket {
        op,
        sender_mac,
        sender_ip,
        target_ip,
    })
}

/// Builds a gratuitous ARP frame (broadcast request, sender IP = target IP), as keepalived
/// sends; used by tests and handy for scripting.
pub fn gratuitous_frame(mac: [u8; 6], ip: Ipv4Addr) -> Vec<u8> {
    let mut f = Vec::with_capacity(42);
    f.extend_from_slice(&[0xff; 6]);
    f.extend_from_slice(&mac);
    f.extend_from_slice(&ETH_P_ARP.to_be_bytes());
    f.extend_from_slice(&1u16.to_be_bytes()); // Ethernet
    f.extend_from_slice(&0x0800u16.to_be_bytes()); // IPv4
    f.push(6);
    f.push(4);
    f.extend_from_slice(&1u16.to_be_bytes()); // request
    f.extend_from_slice(&mac);
    f.extend_from_slice(&ip.octets());
    f.extend_from_slice(&[0xff; 6]);
    f.extend_from_slice(&ip.octets());
    f
}

/// An AF_PACKET socket receiving ARP on one interface. Opened in the calling thread's network
/// namespace.
pub struct PacketSocket {
    fd: OwnedFd,
    ifindex: i32,
}

impl PacketSocket {
    pub fn open(iface: &str) -> io::Result<PacketSocket> {
        let name = std::ffi::CString::new(iface)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "interface name has a NUL"))?;
        // SAFETY: `name` is a valid NUL-terminated string.
        let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
        if ifindex == 0 {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("no interface {iface}"),
            ));
        }
        let proto = ETH_P_ARP.to_be();
        // SAFETY: plain socket(2) call; the result is checked.
        let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, i32::from(proto)) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        // SAFETY: sockaddr_ll is plain data; zeroed is a valid starting value.
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_protocol = proto;
        addr.sll_ifindex = ifindex as i32;
        // SAFETY: `addr` is a valid sockaddr_ll and the length matches.
        let rc = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                &addr as *const libc::sockaddr_ll as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        let tv = libc::timeval {
            tv_sec: 0,
            tv_usec: 200_000,
        };
        // SAFETY: `tv` is a valid timeval and the length matches.
        let rc = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                &tv as *const libc::timeval as *const libc::c_void,
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(PacketSocket {
            fd,
            ifindex: ifindex as i32,
        })
    }

    /// One frame, or `Ok(None)` on timeout/interrupt.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        // SAFETY: `buf` is valid for `buf.len()` bytes.
        let n = unsafe {
            libc::recv(
                self.fd.as_raw_fd(),
                buf.as_mut_ptr() as *mut libc::c_void,
                buf.len(),
                0,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock
                | io::ErrorKind::TimedOut
                | io::ErrorKind::Interrupted => Ok(None),
                _ => Err(e),
            };
        }
        Ok(Some(n as usize))
    }

    /// Sends a whole Ethernet frame out of the bound interface.
    pub fn send(&self, frame: &[u8]) -> io::Result<()> {
        // SAFETY: sockaddr_ll is plain data; zeroed is a valid starting value.
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_protocol = ETH_P_ARP.to_be();
        addr.sll_ifindex = self.ifindex;
        addr.sll_halen = 6;
        addr.sll_addr[..6].copy_from_slice(frame.get(..6).unwrap_or(&[0xff; 6]));
        // SAFETY: `frame` and `addr` are valid for the lengths given.
        let n = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                frame.as_ptr() as *const libc::c_void,
                frame.len(),
                0,
                &addr as *const libc::sockaddr_ll as *const libc::sockaddr,
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

/// The background reader feeding ARP into the simulator. Stops when dropped.
pub struct ArpListener {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ArpListener {
    /// Opens the socket on the calling thread (so in its network namespace) and starts reading.
    pub fn start(iface: &str, sim: Arc<Sim>) -> io::Result<ArpListener> {
        let sock = PacketSocket::open(iface)?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let name = iface.to_string();
        let thread = std::thread::Builder::new()
            .name(format!("tcsim-arp-{iface}"))
            .spawn(move || run(sock, &name, &sim, &flag))?;
        tracing::info!(iface, "learning gratuitous ARP");
        Ok(ArpListener {
            stop,
            thread: Some(thread),
        })
    }

    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for ArpListener {
    fn drop(&mut self) {
        self.halt();
    }
}

fn run(sock: PacketSocket, iface: &str, sim: &Sim, stop: &AtomicBool) {
    let mut buf = [0u8; 2048];
    while !stop.load(Ordering::Relaxed) {
        let n = match sock.recv(&mut buf) {
            Ok(Some(n)) => n,
            Ok(None) => continue,
            Err(e) => {
                tracing::error!(iface, "ARP socket failed: {e}; no longer learning ARP");
                return;
            }
        };
        let Some(pkt) = parse_frame(&buf[..n]) else {
            continue;
        };
        let ip = pkt.sender_ip.to_string();
        let now = sim.clock.now();
        let mut w = sim.world();
        let is_vip = w.havips.iter().any(|h| h.vip == ip);
        // A gratuitous ARP for a non-Vip address moves nothing, so only Vips matter.
        if !is_vip {
            continue;
        }
        let mac = pkt.sender_mac_string();
        let outcome = w.apply_arp(&ip, &mac, now);
        drop(w);
        crate::control::log_arp(iface, &ip, &mac, &outcome);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_gratuitous_frame() {
        let mac = [0x52, 0x54, 0, 0, 4, 0x21];
        let f = gratuitous_frame(mac, Ipv4Addr::new(10, 0, 4, 99));
        let p = parse_frame(&f).unwrap();
        assert!(p.is_gratuitous());
        assert_eq!(p.op, 1);
        assert_eq!(p.sender_mac_string(), "52:54:00:00:04:21");
        assert_eq!(p.sender_ip, Ipv4Addr::new(10, 0, 4, 99));
    }

    #[test]
    fn rejects_non_arp_and_truncated() {
        let mut f = gratuitous_frame([1; 6], Ipv4Addr::new(1, 2, 3, 4));
        assert!(parse_frame(&f[..30]).is_none());
        f[12] = 0x08;
        f[13] = 0x00;
        assert!(parse_frame(&f).is_none());
        assert!(parse_frame(&[]).is_none());
    }

    #[test]
    fn vlan_tagged() {
        let f = gratuitous_frame([2; 6], Ipv4Addr::new(10, 0, 4, 99));
        let mut tagged = f[..12].to_vec();
        tagged.extend_from_slice(&[0x81, 0x00, 0x00, 0x05]);
        tagged.extend_from_slice(&f[12..]);
        assert_eq!(
            parse_frame(&tagged).unwrap().sender_ip,
            Ipv4Addr::new(10, 0, 4, 99)
        );
    }
}
