//! IPv4 CIDR blocks: parsing `a.b.c.d/len`, membership, and the network, gateway and broadcast
//! addresses that subnets reserve. Shared by the scenario loader, CreateHaVip and the metadata
//! service.

use std::net::Ipv4Addr;

/// Why a CIDR did not parse (the messages are the scenario loader's).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CidrError {
    #[error("{0:?} is not a CIDR")]
    NotCidr(String),
    #[error("{0:?} has a bad prefix length")]
    BadPrefix(String),
}

/// An IPv4 block as written: the address part as given (not masked) and the prefix length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    pub addr: Ipv4Addr,
    pub len: u8,
}

impl Cidr {
    pub fn parse(cidr: &str) -> Result<Cidr, CidrError> {
        let not_cidr = || CidrError::NotCidr(cidr.to_string());
        let (ip, len) = cidr.split_once('/').ok_or_else(not_cidr)?;
        let addr: Ipv4Addr = ip.parse().map_err(|_| not_cidr())?;
        let len: u8 = len
            .parse()
            .ok()
            .filter(|l| *l <= 32)
            .ok_or_else(|| CidrError::BadPrefix(cidr.to_string()))?;
        Ok(Cidr { addr, len })
    }

    /// The netmask as a number (`/24` is `0xffffff00`; `/0` is 0).
    pub fn mask(&self) -> u32 {
        u32::MAX.checked_shl(32 - u32::from(self.len)).unwrap_or(0)
    }

    /// The network address as a number.
    pub fn network(&self) -> u32 {
        u32::from(self.addr) & self.mask()
    }

    /// The first address after the network address, as TencentCloud subnets use it.
    pub fn gateway(&self) -> u32 {
        self.network().wrapping_add(1)
    }

    /// The broadcast address as a number.
    pub fn broadcast(&self) -> u32 {
        self.network() | !self.mask()
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == self.network()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn cidr_membership() {
        let net = Cidr::parse("10.0.4.0/24").unwrap();
        assert!(net.contains(ip("10.0.4.99")));
        assert!(!net.contains(ip("10.0.5.1")));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("1.2.3.4")));
        assert!(Cidr::parse("10.0.4.7/32").unwrap().contains(ip("10.0.4.7")));
    }

    #[test]
    fn reserved_addresses() {
        let net = Cidr::parse("10.0.4.9/24").unwrap();
        assert_eq!(Ipv4Addr::from(net.network()), ip("10.0.4.0"));
        assert_eq!(Ipv4Addr::from(net.gateway()), ip("10.0.4.1"));
        assert_eq!(Ipv4Addr::from(net.broadcast()), ip("10.0.4.255"));
        assert_eq!(Ipv4Addr::from(net.mask()), ip("255.255.255.0"));
    }

    #[test]
    fn malformed_cidrs() {
        for bad in ["10.0.4.0", "10.0.4/24", "x/24"] {
            assert_eq!(
                Cidr::parse(bad).unwrap_err().to_string(),
                format!("{bad:?} is not a CIDR")
            );
        }
        assert_eq!(
            Cidr::parse("10.0.0.0/33").unwrap_err().to_string(),
            "\"10.0.0.0/33\" has a bad prefix length"
        );
    }
}
