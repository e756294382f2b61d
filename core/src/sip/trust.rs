//! Who may send us requests (DESIGN §2, "no ghost calls"): the registrar and outbound proxy
//! we resolved, plus networks the administrator lists. SIP scanners that find an agent's
//! port and send INVITEs directly get 403 and never ring (answering them at all tells them
//! less than a crafted reply would, and 403 is what the issue asks for).

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// Why a trusted-source entry could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an IP address or a network in CIDR notation (e.g. 10.0.0.0/8)")]
pub struct NetworkError(String);

/// An IP network (`10.0.0.0/8`, `2001:db8::/32`) or a single address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    pub fn host(addr: IpAddr) -> Self {
        Network {
            addr,
            prefix: if addr.is_ipv4() { 32 } else { 128 },
        }
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// IPv4-mapped IPv6 addresses (from dual-stack sockets) compare as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

impl FromStr for Network {
    type Err = NetworkError;

    fn from_str(s: &str) -> Result<Self, NetworkError> {
        let err = || NetworkError(s.to_owned());
        match s.split_once('/') {
            None => s
                .trim()
                .parse()
                .map(|ip| Network::host(canonical(ip)))
                .map_err(|_| err()),
            Some((addr, prefix)) => {
                let addr = canonical(addr.trim().parse::<IpAddr>().map_err(|_| err())?);
                let prefix: u8 = prefix.trim().parse().map_err(|_| err())?;
                let max = if addr.is_ipv4() { 32 } else { 128 };
                if prefix > max {
                    return Err(err());
                }
                Ok(Network { addr, prefix })
            }
        }
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// The set of sources requests are accepted from.
#[derive(Debug, Clone, Default)]
pub struct TrustedSources {
    /// Addresses of the registrar/outbound proxy, as resolved (they change with DNS).
    proxies: Vec<IpAddr>,
    /// Networks from the configuration.
    configured: Vec<Network>,
}

impl TrustedSources {
    pub fn new(configured: Vec<Network>) -> Self {
        TrustedSources {
            proxies: Vec::new(),
            configured,
        }
    }

    /// Replaces the resolved proxy addresses (after each DNS resolution).
    pub fn set_proxies(&mut self, proxies: impl IntoIterator<Item = IpAddr>) {
        self.proxies = proxies.into_iter().map(canonical).collect();
    }

    pub fn is_trusted(&self, source: IpAddr) -> bool {
        let source = canonical(source);
        self.proxies.contains(&source) || self.configured.iter().any(|n| n.contains(source))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks() {
        let n: Network = "10.1.0.0/16".parse().unwrap();
        assert!(n.contains("10.1.200.3".parse().unwrap()));
        assert!(!n.contains("10.2.0.1".parse().unwrap()));
        assert!(n.contains("::ffff:10.1.0.9".parse().unwrap()));
        let all: Network = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("192.0.2.1".parse().unwrap()));
        let v6: Network = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains("2001:db8:1::1".parse().unwrap()));
        assert!(!v6.contains("192.0.2.1".parse().unwrap()));
        assert!("10.0.0.0/33".parse::<Network>().is_err());
        assert!("example.com".parse::<Network>().is_err());
    }

    #[test]
    fn trusted_sources() {
        let mut t = TrustedSources::new(vec!["192.0.2.0/24".parse().unwrap()]);
        t.set_proxies(["198.51.100.5".parse().unwrap()]);
        assert!(t.is_trusted("198.51.100.5".parse().unwrap()));
        assert!(t.is_trusted("192.0.2.77".parse().unwrap()));
        assert!(!t.is_trusted("203.0.113.1".parse().unwrap()));
    }
}
