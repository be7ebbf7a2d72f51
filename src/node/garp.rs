//! Gratuitous ARP: havip's own announcement of a VIP, as a second voice beside keepalived's.
//!
//! A HAVIP moves to the node whose MAC announces its address (ARCHITECTURE.md, "How a HAVIP really
//! moves"). keepalived announces on promotion and every `garp_master_refresh`; havip re-announces
//! while it waits for the cloud to confirm the new holder. The frame is the one keepalived sends
//! (`vrrp_arp.c`): an ARP *request* whose sender and target protocol addresses are both the VIP,
//! target hardware address all zeros, broadcast on the link from the interface's own MAC.
//!
//! The frame is built by a pure function ([`garp_frame`]) so its bytes are unit-tested; sending
//! needs an `AF_PACKET` raw socket, hence `CAP_NET_RAW`.

use std::fmt;
use std::io;
use std::net::Ipv4Addr;
use std::time::Duration;

use super::{interface_hw, MacAddr};

/// Ethernet frames shorter than 60 bytes (without FCS) are runts; NICs pad them, but a veth or a
/// capture would see the short frame, so the frame is padded here, as the wire would carry it.
pub(crate) const FRAME_LEN: usize = 60;

/// EtherType of ARP (RFC 826).
const ETH_P_ARP: u16 = 0x0806;
/// EtherType of IPv4, the protocol type inside the ARP payload.
const ETH_P_IP: u16 = 0x0800;
/// ARP hardware type for Ethernet.
const ARPHRD_ETHER: u16 = 1;
/// ARP opcode: request. keepalived's gratuitous ARP is a request, not a reply.
const ARPOP_REQUEST: u16 = 1;

/// Why an announcement could not be sent. Each message says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum GarpError {
    #[error("no such network interface: {0}")]
    NoSuchInterface(String),
    #[error("interface {iface} is not an Ethernet interface (ARP hardware type {hw_type}); gratuitous ARP needs one")]
    NotEthernet { iface: String, hw_type: u16 },
    #[error("interface name {0:?} is invalid")]
    InvalidName(String),
    #[error(
        "permission denied opening a raw packet socket: gratuitous ARP needs CAP_NET_RAW \
         (run as root, or grant it: setcap cap_net_raw+ep /usr/local/bin/havip)"
    )]
    Permission(#[source] io::Error),
    #[error("opening a raw packet socket: {0}")]
    Socket(#[source] io::Error),
    #[error("reading interface {iface}: {source}")]
    Interface {
        iface: String,
        #[source]
        source: io::Error,
    },
    #[error("sending gratuitous ARP for {ip} on {iface}: {source}")]
    Send {
        iface: String,
        ip: Ipv4Addr,
        #[source]
        source: io::Error,
    },
}

/// Builds the gratuitous ARP frame (request form) announcing `ip` from `mac`.
///
/// Layout (RFC 826, Ethernet II):
/// `dst ff:ff:ff:ff:ff:ff | src mac | 0x0806 | htype 1 | ptype 0x0800 | hlen 6 | plen 4 | op 1 |
///  sha mac | spa ip | tha 00:00:00:00:00:00 | tpa ip | zero padding to 60 bytes`.
pub fn garp_frame(mac: MacAddr, ip: Ipv4Addr) -> [u8; FRAME_LEN] {
    let mut f = [0u8; FRAME_LEN];
    f[0..6].copy_from_slice(&[0xff; 6]);
    f[6..12].copy_from_slice(&mac.0);
    f[12..14].copy_from_slice(&ETH_P_ARP.to_be_bytes());
    f[14..16].copy_from_slice(&ARPHRD_ETHER.to_be_bytes());
    f[16..18].copy_from_slice(&ETH_P_IP.to_be_bytes());
    f[18] = 6;
    f[19] = 4;
    f[20..22].copy_from_slice(&ARPOP_REQUEST.to_be_bytes());
    f[22..28].copy_from_slice(&mac.0);
    f[28..32].copy_from_slice(&ip.octets());
    // f[32..38]: target hardware address, zero: nobody in particular is asked.
    f[38..42].copy_from_slice(&ip.octets());
    f
}

/// A gratuitous ARP decoded from a received frame (used by tests and by anyone listening).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Garp {
    pub sender_mac: MacAddr,
    pub ip: Ipv4Addr,
}

impl fmt::Display for Garp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "gratuitous ARP {} is-at {}", self.ip, self.sender_mac)
    }
}

/// Parses an Ethernet frame and returns the announcement if it is a gratuitous ARP (request or
/// reply whose sender and target protocol addresses are equal); `None` for anything else.
pub fn parse_garp(frame: &[u8]) -> Option<Garp> {
    if frame.len() < 42 || frame[12..14] != ETH_P_ARP.to_be_bytes() {
        return None;
    }
    let arp = &frame[14..42];
    if arp[0..2] != ARPHRD_ETHER.to_be_bytes()
        || arp[2..4] != ETH_P_IP.to_be_bytes()
        || arp[4] != 6
        || arp[5] != 4
    {
        return None;
    }
    let op = u16::from_be_bytes([arp[6], arp[7]]);
    if op != 1 && op != 2 {
        return None;
    }
    let sha: [u8; 6] = arp[8..14].try_into().ok()?;
    let spa = Ipv4Addr::new(arp[14], arp[15], arp[16], arp[17]);
    let tpa = Ipv4Addr::new(arp[24], arp[25], arp[26], arp[27]);
    (spa == tpa).then_some(Garp {
        sender_mac: MacAddr(sha),
        ip: spa,
    })
}

/// Sends one gratuitous ARP for `ip` on `iface`, from the interface's own MAC.
pub fn announce(iface: &str, ip: Ipv4Addr) -> Result<(), GarpError> {
    announce_repeated(iface, ip, 1, Duration::ZERO)
}

/// Sends `count` gratuitous ARPs for `ip` on `iface`, `interval` apart (blocking; call it from
/// `spawn_blocking` in async code). One socket serves all of them. `count == 0` sends nothing but
/// still checks the interface and the capability, so a misconfiguration shows early.
pub fn announce_repeated(
    iface: &str,
    ip: Ipv4Addr,
    count: u32,
    interval: Duration,
) -> Result<(), GarpError> {
    let sock = PacketSocket::open()?;
    let (ifindex, mac) = resolve(iface)?;
    let frame = garp_frame(mac, ip);
    for i in 0..count {
        if i > 0 && !interval.is_zero() {
            std::thread::sleep(interval);
        }
        sock.send_to(ifindex, &frame)
            .map_err(|source| GarpError::Send {
                iface: iface.to_owned(),
                ip,
                source,
            })?;
    }
    Ok(())
}

/// Resolves an interface to its index and MAC, refusing non-Ethernet links (loopback, tun).
fn resolve(iface: &str) -> Result<(i32, MacAddr), GarpError> {
    if !super::valid_ifname(iface) {
        return Err(GarpError::InvalidName(iface.to_owned()));
    }
    let (hw_type, mac) = interface_hw(iface).map_err(|e| match e.raw_os_error() {
        Some(libc::ENODEV) | Some(libc::ENXIO) => GarpError::NoSuchInterface(iface.to_owned()),
        _ => GarpError::Interface {
            iface: iface.to_owned(),
            source: e,
        },
    })?;
    if hw_type != ARPHRD_ETHER {
        return Err(GarpError::NotEthernet {
            iface: iface.to_owned(),
            hw_type,
        });
    }
    let ifindex = super::interface_index(iface).map_err(|e| match e.raw_os_error() {
        Some(libc::ENODEV) | Some(libc::ENXIO) => GarpError::NoSuchInterface(iface.to_owned()),
        _ => GarpError::Interface {
            iface: iface.to_owned(),
            source: e,
        },
    })?;
    Ok((ifindex, mac))
}

/// An `AF_PACKET`/`SOCK_RAW` socket, closed on drop.
struct PacketSocket(libc::c_int);

impl PacketSocket {
    fn open() -> Result<Self, GarpError> {
        // SAFETY: plain syscall; the descriptor is owned by the returned value.
        let fd = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                // Protocol 0: this socket only sends, it should not receive a copy of every frame.
                0,
            )
        };
        if fd < 0 {
            let e = io::Error::last_os_error();
            return Err(match e.raw_os_error() {
                Some(libc::EPERM) | Some(libc::EACCES) => GarpError::Permission(e),
                _ => GarpError::Socket(e),
            });
        }
        Ok(Self(fd))
    }

    fn send_to(&self, ifindex: i32, frame: &[u8]) -> io::Result<()> {
        // SAFETY: sockaddr_ll is plain data; all-zero is a valid starting value.
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_protocol = ETH_P_ARP.to_be();
        addr.sll_ifindex = ifindex;
        addr.sll_halen = 6;
        addr.sll_addr[..6].copy_from_slice(&[0xff; 6]);
        // SAFETY: frame and addr outlive the call; lengths are theirs.
        let n = unsafe {
            libc::sendto(
                self.0,
                frame.as_ptr().cast(),
                frame.len(),
                0,
                (&addr as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        if n as usize != frame.len() {
            return Err(io::Error::other(format!(
                "short send: {n} of {} bytes",
                frame.len()
            )));
        }
        Ok(())
    }
}

impl Drop for PacketSocket {
    fn drop(&mut self) {
        // SAFETY: we own the descriptor.
        unsafe {
            libc::close(self.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC21: MacAddr = MacAddr([0x52, 0x54, 0x00, 0x00, 0x04, 0x21]);

    #[test]
    fn frame_bytes_match_keepalived_request_form() {
        let f = garp_frame(MAC21, Ipv4Addr::new(10, 0, 4, 99));
        #[rustfmt::skip]
        let want: [u8; 42] = [
            0xff, 0xff, 0xff, 0xff, 0xff, 0xff,             // dst: broadcast
            0x52, 0x54, 0x00, 0x00, 0x04, 0x21,             // src: interface MAC
            0x08, 0x06,                                     // EtherType ARP
            0x00, 0x01, 0x08, 0x00, 6, 4,                   // Ethernet/IPv4, hlen 6, plen 4
            0x00, 0x01,                                     // op: request
            0x52, 0x54, 0x00, 0x00, 0x04, 0x21, 10, 0, 4, 99, // sender: MAC, VIP
            0, 0, 0, 0, 0, 0, 10, 0, 4, 99,                 // target: zero MAC, VIP
        ];
        assert_eq!(&f[..42], &want[..]);
        assert!(f[42..].iter().all(|&b| b == 0), "padding must be zero");
        assert_eq!(f.len(), 60);
    }

    #[test]
    fn parse_round_trips_and_rejects_non_gratuitous() {
        let ip = Ipv4Addr::new(10, 0, 4, 99);
        let f = garp_frame(MAC21, ip);
        assert_eq!(
            parse_garp(&f),
            Some(Garp {
                sender_mac: MAC21,
                ip
            })
        );
        // Without padding too (what keepalived hands to the kernel).
        assert!(parse_garp(&f[..42]).is_some());

        let mut ordinary = f;
        ordinary[38..42].copy_from_slice(&[10, 0, 4, 1]); // who-has 10.0.4.1: not gratuitous
        assert_eq!(parse_garp(&ordinary), None);

        let mut ipv6 = f;
        ipv6[12..14].copy_from_slice(&[0x86, 0xdd]);
        assert_eq!(parse_garp(&ipv6), None);

        let mut bad_op = f;
        bad_op[21] = 9;
        assert_eq!(parse_garp(&bad_op), None);

        assert_eq!(parse_garp(&f[..41]), None);
        assert_eq!(parse_garp(&[]), None);
    }

    #[test]
    fn unknown_interface_is_a_clear_error() {
        // Resolution happens after opening the socket, so without CAP_NET_RAW the permission
        // error wins; both are clear. Neither sends anything.
        match announce("havip-nosuch0", Ipv4Addr::new(10, 0, 4, 99)) {
            Err(GarpError::NoSuchInterface(name)) => assert_eq!(name, "havip-nosuch0"),
            Err(GarpError::Permission(_)) => {}
            other => panic!("expected NoSuchInterface or Permission, got {other:?}"),
        }
    }

    #[test]
    fn loopback_is_refused_as_not_ethernet() {
        match announce("lo", Ipv4Addr::new(127, 0, 0, 1)) {
            Err(GarpError::NotEthernet { iface, hw_type }) => {
                assert_eq!(iface, "lo");
                assert_eq!(hw_type, 772); // ARPHRD_LOOPBACK
            }
            Err(GarpError::Permission(_)) => {}
            other => panic!("expected NotEthernet or Permission, got {other:?}"),
        }
    }

    #[test]
    fn permission_message_names_the_capability() {
        let e = GarpError::Permission(io::Error::from_raw_os_error(libc::EPERM));
        assert!(e.to_string().contains("CAP_NET_RAW"), "{e}");
    }
}
