//! The Via header (RFC 3261 §20.42, §18.2.1) with `branch` (§8.1.1.7), `received` and
//! `rport` (RFC 3581 §4).

use super::header::{self, Param};
use super::uri::{split_host_port, Host, UriError};
use std::fmt;
use std::net::SocketAddr;

/// The magic cookie that marks an RFC 3261 branch (§8.1.1.7).
pub const BRANCH_COOKIE: &str = "z9hG4bK";

/// Why a Via value could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ViaError {
    #[error("Via protocol is not SIP/2.0/<transport>")]
    Protocol,
    #[error("Via sent-by: {0}")]
    SentBy(#[from] UriError),
}

/// One Via value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Via {
    /// Transport token as sent (`UDP`, `TCP`, `TLS`, `SCTP`, `WS`...), upper-cased.
    pub transport: String,
    pub host: Host,
    pub port: Option<u16>,
    pub params: Vec<Param>,
}

impl Via {
    pub fn new(transport: &str, sent_by: SocketAddr, branch: &str) -> Self {
        Via {
            transport: transport.to_ascii_uppercase(),
            host: Host::Ip(sent_by.ip()),
            port: Some(sent_by.port()),
            params: vec![
                Param {
                    name: "branch".into(),
                    value: Some(branch.to_owned()),
                },
                // RFC 3581 §3: ask the server to send responses to the source port.
                Param {
                    name: "rport".into(),
                    value: None,
                },
            ],
        }
    }

    pub fn branch(&self) -> Option<&str> {
        self.param("branch")
    }

    /// Whether the branch carries the RFC 3261 magic cookie (§17.2.3).
    pub fn has_rfc3261_branch(&self) -> bool {
        self.branch().is_some_and(|b| b.starts_with(BRANCH_COOKIE))
    }

    pub fn param(&self, name: &str) -> Option<&str> {
        header::find_param(&self.params, name).and_then(|p| p.value.as_deref())
    }

    /// `rport` as received: `None` absent, `Some(None)` requested, `Some(Some(port))` filled in.
    pub fn rport(&self) -> Option<Option<u16>> {
        header::find_param(&self.params, "rport")
            .map(|p| p.value.as_deref().and_then(|v| v.parse().ok()))
    }

    pub fn received(&self) -> Option<std::net::IpAddr> {
        self.param("received").and_then(|r| r.parse().ok())
    }

    fn set_param(&mut self, name: &str, value: Option<String>) {
        match self
            .params
            .iter_mut()
            .find(|p| p.name.eq_ignore_ascii_case(name))
        {
            Some(p) => p.value = value,
            None => self.params.push(Param {
                name: name.to_owned(),
                value,
            }),
        }
    }

    /// What a server does on receipt (§18.2.1, RFC 3581 §4): records the source address in
    /// `received` when it differs from sent-by, and the source port in `rport` if asked.
    pub fn stamp_source(&mut self, source: SocketAddr) {
        if self.host != Host::Ip(source.ip()) || self.rport().is_some() {
            self.set_param("received", Some(source.ip().to_string()));
        }
        if self.rport().is_some() {
            self.set_param("rport", Some(source.port().to_string()));
        }
    }

    /// Where a UAS sends responses over an unreliable transport (§18.2.2, RFC 3581 §4):
    /// the source of the request when rport was used, else `received`/sent-by and the
    /// sent-by port.
    pub fn response_address(&self, source: SocketAddr) -> SocketAddr {
        if let Some(Some(port)) = self.rport() {
            return SocketAddr::new(self.received().unwrap_or(source.ip()), port);
        }
        let ip = self.received().unwrap_or(source.ip());
        SocketAddr::new(ip, self.port.unwrap_or(5060))
    }

    /// The sent-by `host[:port]` as text, used in server transaction matching (§17.2.3).
    pub fn sent_by(&self) -> String {
        match self.port {
            Some(p) => format!("{}:{}", self.host, p),
            None => self.host.to_string(),
        }
    }
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "SIP/2.0/{} {}{}",
            self.transport,
            self.sent_by(),
            header::format_params(&self.params)
        )
    }
}

impl std::str::FromStr for Via {
    type Err = ViaError;

    /// Parses one Via value; LWS around `/` is allowed (§25.1 `sent-protocol`).
    fn from_str(s: &str) -> Result<Self, ViaError> {
        let mut proto = s.trim().splitn(3, '/');
        let name = proto.next().ok_or(ViaError::Protocol)?.trim();
        let version = proto.next().ok_or(ViaError::Protocol)?.trim();
        let rest = proto.next().ok_or(ViaError::Protocol)?.trim_start();
        if !name.eq_ignore_ascii_case("SIP") || version != "2.0" {
            return Err(ViaError::Protocol);
        }
        let transport_end = rest
            .find(|c: char| c.is_whitespace())
            .ok_or(ViaError::Protocol)?;
        let transport = rest[..transport_end].to_ascii_uppercase();
        let rest = rest[transport_end..].trim_start();
        let (sent_by, params) = match rest.find(';') {
            Some(i) => (rest[..i].trim(), header::parse_params(&rest[i..])),
            None => (rest.trim(), Vec::new()),
        };
        // LWS is allowed around the ':' of sent-by (§25.1 uses HCOLON-free "host [COLON port]").
        let sent_by: String = sent_by.chars().filter(|c| !c.is_whitespace()).collect();
        let (host, port) = split_host_port(&sent_by)?;
        Ok(Via {
            transport,
            host,
            port,
            params,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        let v: Via = "SIP / 2.0 / udp 192.0.2.4:5060 ;branch=z9hG4bK776asdhds ;rport"
            .parse()
            .unwrap();
        assert_eq!(v.transport, "UDP");
        assert_eq!(v.branch(), Some("z9hG4bK776asdhds"));
        assert_eq!(v.rport(), Some(None));
        assert!(v.has_rfc3261_branch());
        assert_eq!(
            v.to_string(),
            "SIP/2.0/UDP 192.0.2.4:5060;branch=z9hG4bK776asdhds;rport"
        );
        let v6: Via = "SIP/2.0/TCP [2001:db8::9]:5070;branch=z9hG4bKx"
            .parse()
            .unwrap();
        assert_eq!(v6.port, Some(5070));
    }

    #[test]
    fn rport_and_received() {
        let mut v: Via = "SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1;rport"
            .parse()
            .unwrap();
        let src: SocketAddr = "203.0.113.7:40000".parse().unwrap();
        v.stamp_source(src);
        assert_eq!(v.received(), Some(src.ip()));
        assert_eq!(v.rport(), Some(Some(40000)));
        assert_eq!(v.response_address(src), src);

        let mut plain: Via = "SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bK1".parse().unwrap();
        plain.stamp_source(src);
        assert_eq!(
            plain.response_address(src),
            "203.0.113.7:5070".parse().unwrap()
        );
    }

    #[test]
    fn rejects_garbage() {
        assert!("SIP/3.0/UDP a".parse::<Via>().is_err());
        assert!("HTTP/1.1".parse::<Via>().is_err());
        assert!("SIP/2.0/UDP".parse::<Via>().is_err());
        assert!("SIP/2.0/UDP host:notaport".parse::<Via>().is_err());
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "\\PC*") {
            let _ = s.parse::<Via>();
        }
    }
}
