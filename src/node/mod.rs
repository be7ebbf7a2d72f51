//! The local side of a node: interfaces, their MACs, whether a VIP is present, gratuitous ARP.
//!
//! Everything here reads the kernel directly (ioctls) rather than `/sys`, because
//! `/sys/class/net` shows the network namespace sysfs was mounted in, not the caller's; the
//! root-only tests run inside a namespace they create.

pub mod garp;

use std::ffi::CString;
use std::fmt;
use std::io;
use std::net::Ipv4Addr;
use std::str::FromStr;

/// An Ethernet MAC address, printed as keepalived, `ip link` and the metadata service print it:
/// lowercase, colon-separated.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MacAddr(pub [u8; 6]);

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            m[0], m[1], m[2], m[3], m[4], m[5]
        )
    }
}

impl fmt::Debug for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MacAddr({self})")
    }
}

/// A MAC address string that is not six hex octets separated by `:` or `-`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid MAC address {0:?}: expected six hex octets like 52:54:00:00:04:21")]
pub struct MacParseError(pub String);

impl FromStr for MacAddr {
    type Err = MacParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || MacParseError(s.to_owned());
        let t = s.trim();
        let sep = if t.contains('-') { '-' } else { ':' };
        let mut out = [0u8; 6];
        let mut n = 0;
        for part in t.split(sep) {
            if n == 6 || part.len() != 2 {
                return Err(err());
            }
            out[n] = u8::from_str_radix(part, 16).map_err(|_| err())?;
            n += 1;
        }
        if n != 6 {
            return Err(err());
        }
        Ok(MacAddr(out))
    }
}

impl serde::Serialize for MacAddr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for MacAddr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Whether `name` can be an interface name: 1–15 bytes (IFNAMSIZ less the NUL), no `/`, no
/// whitespace, no NUL, not `.` or `..` (the kernel's own `dev_valid_name`).
pub(crate) fn valid_ifname(name: &str) -> bool {
    !name.is_empty()
        && name.len() < libc::IFNAMSIZ
        && name != "."
        && name != ".."
        && !name
            .bytes()
            .any(|b| b == b'/' || b == b':' || b == 0 || b.is_ascii_whitespace())
}

fn invalid_name(name: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("invalid interface name {name:?}"),
    )
}

/// A datagram socket for interface ioctls, closed on drop.
struct IoctlSocket(libc::c_int);

impl IoctlSocket {
    fn open() -> io::Result<Self> {
        // SAFETY: plain syscall; the descriptor is owned by the returned value.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Self(fd))
    }
}

impl Drop for IoctlSocket {
    fn drop(&mut self) {
        // SAFETY: we own the descriptor.
        unsafe {
            libc::close(self.0);
        }
    }
}

fn ifreq_for(name: &str) -> io::Result<libc::ifreq> {
    if !valid_ifname(name) {
        return Err(invalid_name(name));
    }
    // SAFETY: ifreq is plain data; all-zero is valid.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(name.bytes()) {
        *dst = src as libc::c_char;
    }
    Ok(req)
}

/// The ARP hardware type (1 = Ethernet) and hardware address of `iface` (SIOCGIFHWADDR).
/// A missing interface is `ENODEV`.
pub(crate) fn interface_hw(iface: &str) -> io::Result<(u16, MacAddr)> {
    let mut req = ifreq_for(iface)?;
    let sock = IoctlSocket::open()?;
    // SAFETY: req is a valid ifreq with a NUL-terminated name; the kernel fills ifru_hwaddr.
    let rc = unsafe { libc::ioctl(sock.0, libc::SIOCGIFHWADDR as _, &mut req) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: SIOCGIFHWADDR fills the hwaddr member of the union.
    let sa = unsafe { req.ifr_ifru.ifru_hwaddr };
    let mut mac = [0u8; 6];
    for (dst, src) in mac.iter_mut().zip(sa.sa_data.iter()) {
        *dst = *src as u8;
    }
    Ok((sa.sa_family, MacAddr(mac)))
}

/// The kernel's index of `iface`.
pub(crate) fn interface_index(iface: &str) -> io::Result<i32> {
    if !valid_ifname(iface) {
        return Err(invalid_name(iface));
    }
    let c = CString::new(iface).map_err(|_| invalid_name(iface))?;
    // SAFETY: c is a valid NUL-terminated string.
    let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if idx == 0 {
        return Err(io::Error::last_os_error());
    }
    i32::try_from(idx).map_err(|_| io::Error::other("interface index out of range"))
}

/// The MAC address of `iface`, as the metadata service's `mac` would show it for an ENI.
/// Errors: `NotFound` when there is no such interface.
pub fn interface_mac(iface: &str) -> io::Result<MacAddr> {
    match interface_hw(iface) {
        Ok((_, mac)) => Ok(mac),
        Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("no such network interface: {iface}"),
        )),
        Err(e) => Err(e),
    }
}

/// One IPv4 address configured on the node. `label` is the interface name or its alias label
/// (`eth0:vip`), the way keepalived's `label` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalAddr {
    pub label: String,
    pub ip: Ipv4Addr,
}

/// The most addresses [`local_ipv4_addrs`] reads (a node with more is not a keepalived node).
const MAX_LOCAL_ADDRS: usize = 4096;

/// Every IPv4 address configured on this node (in the caller's network namespace), with its
/// label: one `SIOCGIFCONF`. The watcher asks at every look, so this is the kernel's IPv4
/// address list alone, not `getifaddrs`' dump of every link and its statistics.
pub(crate) fn local_ipv4_addrs() -> io::Result<Vec<LocalAddr>> {
    let sock = IoctlSocket::open()?;
    let mut room = 16;
    loop {
        // SAFETY: ifreq is plain data; all-zero is valid.
        let mut reqs: Vec<libc::ifreq> = vec![unsafe { std::mem::zeroed() }; room];
        let mut conf = libc::ifconf {
            ifc_len: libc::c_int::try_from(room * std::mem::size_of::<libc::ifreq>())
                .map_err(io::Error::other)?,
            ifc_ifcu: libc::__c_anonymous_ifc_ifcu {
                ifcu_req: reqs.as_mut_ptr(),
            },
        };
        // SAFETY: conf describes `reqs`, `ifc_len` bytes the kernel may fill with ifreqs.
        if unsafe { libc::ioctl(sock.0, libc::SIOCGIFCONF as _, &mut conf) } < 0 {
            return Err(io::Error::last_os_error());
        }
        let filled =
            usize::try_from(conf.ifc_len).unwrap_or(0) / std::mem::size_of::<libc::ifreq>();
        // A full buffer may have cut the list short: ask again with more room.
        if filled == room && room < MAX_LOCAL_ADDRS {
            room *= 4;
            continue;
        }
        return Ok(reqs[..filled.min(room)]
            .iter()
            .filter_map(local_addr)
            .collect());
    }
}

/// An IPv4 entry of `SIOCGIFCONF`'s answer.
fn local_addr(req: &libc::ifreq) -> Option<LocalAddr> {
    // SAFETY: SIOCGIFCONF fills the addr member of each entry's union.
    let sa = unsafe { req.ifr_ifru.ifru_addr };
    if libc::c_int::from(sa.sa_family) != libc::AF_INET {
        return None;
    }
    // SAFETY: family is AF_INET, so the sockaddr is a sockaddr_in (same size as sockaddr).
    let sin: libc::sockaddr_in = unsafe { std::mem::transmute(sa) };
    let name: Vec<u8> = req
        .ifr_name
        .iter()
        .take_while(|c| **c != 0)
        .map(|c| *c as u8)
        .collect();
    Some(LocalAddr {
        label: String::from_utf8_lossy(&name).into_owned(),
        ip: Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)),
    })
}

/// Whether `ip` is configured on this node: on `iface` (or one of its alias labels such as
/// `eth0:vip`) when given, on any interface otherwise. This is keepalived's local view of who
/// is MASTER; the cloud's view (DescribeHaVips) can differ, which is what `havip status` shows.
pub fn vip_present(iface: Option<&str>, ip: Ipv4Addr) -> io::Result<bool> {
    Ok(vip_in(&local_ipv4_addrs()?, iface, ip))
}

/// The pure part of [`vip_present`].
pub fn vip_in(addrs: &[LocalAddr], iface: Option<&str>, ip: Ipv4Addr) -> bool {
    vip_label(addrs, iface, ip).is_some()
}

/// Where `ip` is configured among `addrs`: the label of the first match (on `iface` or one of
/// its alias labels when given), the way `havip status` names it.
pub fn vip_label<'a>(addrs: &'a [LocalAddr], iface: Option<&str>, ip: Ipv4Addr) -> Option<&'a str> {
    addrs
        .iter()
        .find(|a| {
            a.ip == ip
                && iface.is_none_or(|want| {
                    a.label == want
                        || a.label
                            .strip_prefix(want)
                            .is_some_and(|rest| rest.starts_with(':'))
                })
        })
        .map(|a| a.label.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_parses_and_prints() {
        let m: MacAddr = "52:54:00:00:04:21".parse().unwrap();
        assert_eq!(m.0, [0x52, 0x54, 0, 0, 4, 0x21]);
        assert_eq!(m.to_string(), "52:54:00:00:04:21");
        assert_eq!(
            "52-54-00-AA-04-21".parse::<MacAddr>().unwrap().to_string(),
            "52:54:00:aa:04:21"
        );
        for bad in [
            "",
            "52:54:00:00:04",
            "52:54:00:00:04:21:00",
            "zz:54:00:00:04:21",
            "5:54:00:00:04:21:1",
            "525400000421",
        ] {
            assert!(bad.parse::<MacAddr>().is_err(), "{bad:?} should not parse");
        }
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(json, "\"52:54:00:00:04:21\"");
        assert_eq!(serde_json::from_str::<MacAddr>(&json).unwrap(), m);
    }

    #[test]
    fn interface_names_are_validated() {
        assert!(valid_ifname("eth0"));
        assert!(valid_ifname("veth-havip0"));
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "eth0:1",
            "has space",
            "0123456789abcdef",
        ] {
            assert!(!valid_ifname(bad), "{bad:?}");
        }
        assert_eq!(
            interface_mac("a/b").unwrap_err().kind(),
            io::ErrorKind::InvalidInput
        );
    }

    #[test]
    fn loopback_is_found_and_missing_interface_is_not_found() {
        assert_eq!(interface_mac("lo").unwrap(), MacAddr([0; 6]));
        assert_eq!(
            interface_mac("havip-nosuch0").unwrap_err().kind(),
            io::ErrorKind::NotFound
        );
    }

    #[test]
    fn vip_matching_respects_interface_and_alias_labels() {
        let addrs = vec![
            LocalAddr {
                label: "eth0".into(),
                ip: Ipv4Addr::new(10, 0, 4, 21),
            },
            LocalAddr {
                label: "eth0:vip".into(),
                ip: Ipv4Addr::new(10, 0, 4, 99),
            },
            LocalAddr {
                label: "eth10".into(),
                ip: Ipv4Addr::new(10, 0, 5, 99),
            },
        ];
        let vip = Ipv4Addr::new(10, 0, 4, 99);
        assert!(vip_in(&addrs, None, vip));
        assert!(vip_in(&addrs, Some("eth0"), vip));
        assert!(vip_in(&addrs, Some("eth0:vip"), vip));
        assert_eq!(vip_label(&addrs, Some("eth0"), vip), Some("eth0:vip"));
        assert_eq!(vip_label(&addrs, Some("eth1"), vip), None);
        assert!(!vip_in(&addrs, Some("eth1"), vip));
        // eth1 is not a prefix match for eth10's addresses.
        assert!(!vip_in(&addrs, Some("eth1"), Ipv4Addr::new(10, 0, 5, 99)));
        assert!(!vip_in(&addrs, None, Ipv4Addr::new(10, 0, 4, 20)));
    }

    /// `getifaddrs`' IPv4 addresses and labels, for comparison.
    fn ipv4_by_getifaddrs() -> Vec<LocalAddr> {
        let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
        // SAFETY: getifaddrs allocates a list freed below.
        assert_eq!(unsafe { libc::getifaddrs(&mut head) }, 0);
        let mut out = Vec::new();
        let mut cur = head;
        while !cur.is_null() {
            // SAFETY: cur walks the list, valid until freeifaddrs.
            let ifa = unsafe { &*cur };
            // SAFETY: a non-null ifa_addr's family tells its type; AF_INET is a sockaddr_in.
            if !ifa.ifa_addr.is_null()
                && i32::from(unsafe { (*ifa.ifa_addr).sa_family }) == libc::AF_INET
            {
                let sin = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in) };
                // SAFETY: ifa_name is NUL-terminated, owned by the list.
                let label = unsafe { std::ffi::CStr::from_ptr(ifa.ifa_name) };
                out.push(LocalAddr {
                    label: label.to_string_lossy().into_owned(),
                    ip: Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)),
                });
            }
            cur = ifa.ifa_next;
        }
        // SAFETY: head came from getifaddrs and is freed once.
        unsafe { libc::freeifaddrs(head) };
        out
    }

    #[test]
    fn the_address_list_is_the_one_getifaddrs_gives() {
        let mut ours = local_ipv4_addrs().unwrap();
        let mut theirs = ipv4_by_getifaddrs();
        ours.sort_by(|a, b| (&a.label, a.ip).cmp(&(&b.label, b.ip)));
        theirs.sort_by(|a, b| (&a.label, a.ip).cmp(&(&b.label, b.ip)));
        assert!(ours.iter().any(|a| a.ip == Ipv4Addr::LOCALHOST), "{ours:?}");
        assert_eq!(ours, theirs);
    }

    #[test]
    fn loopback_address_is_present_on_this_node() {
        assert!(vip_present(Some("lo"), Ipv4Addr::LOCALHOST).unwrap());
        assert!(vip_present(None, Ipv4Addr::LOCALHOST).unwrap());
        assert!(!vip_present(Some("havip-nosuch0"), Ipv4Addr::LOCALHOST).unwrap());
    }
}
