//! SIP and SIPS URIs (RFC 3261 §19.1).
//!
//! rsip 0.4 parses request URIs, but its `Uri` cannot carry URI headers (`?Replaces=...`),
//! which RFC 3515 §2.1 and RFC 3891 §3 need in `Refer-To`, and it rejects some legal user
//! parts. This parser keeps every component as received (escaped), so that a URI printed back
//! is the URI that was read.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// Why a URI could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UriError {
    #[error("URI scheme is not sip: or sips:")]
    Scheme,
    #[error("URI has an empty host")]
    EmptyHost,
    #[error("URI host {0:?} is not a valid host name or address")]
    Host(String),
    #[error("URI port {0:?} is not a number from 1 to 65535")]
    Port(String),
    #[error("URI contains a space or control character")]
    Whitespace,
}

/// `sip:` or `sips:` (§19.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    Sip,
    Sips,
}

/// The host part of a URI: a name or a literal address (§19.1.1, §25.1 `host`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    Name(String),
    Ip(IpAddr),
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Name(name) => f.write_str(name),
            Host::Ip(IpAddr::V6(v6)) => write!(f, "[{v6}]"),
            Host::Ip(IpAddr::V4(v4)) => write!(f, "{v4}"),
        }
    }
}

impl FromStr for Host {
    type Err = UriError;

    fn from_str(s: &str) -> Result<Self, UriError> {
        if s.is_empty() {
            return Err(UriError::EmptyHost);
        }
        if let Some(inner) = s.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            return inner
                .parse()
                .map(|v6: std::net::Ipv6Addr| Host::Ip(IpAddr::V6(v6)))
                .map_err(|_| UriError::Host(s.to_owned()));
        }
        if let Ok(ip) = s.parse::<std::net::Ipv4Addr>() {
            return Ok(Host::Ip(IpAddr::V4(ip)));
        }
        let valid = s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
        if valid {
            Ok(Host::Name(s.to_owned()))
        } else {
            Err(UriError::Host(s.to_owned()))
        }
    }
}

/// A parsed SIP or SIPS URI. User, parameters and headers keep their escaped form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SipUri {
    pub scheme: Scheme,
    /// The user part with its `;user-params` (telephone-subscriber), escaped as received.
    pub user: Option<String>,
    pub password: Option<String>,
    pub host: Host,
    pub port: Option<u16>,
    /// URI parameters in order; names compare case-insensitively (§19.1.4).
    pub params: Vec<(String, Option<String>)>,
    /// URI headers (`?name=value&...`), used by Refer-To with Replaces (RFC 3891 §3).
    pub headers: Vec<(String, String)>,
}

impl SipUri {
    /// A plain `sip:user@host[:port]` URI.
    pub fn new(user: Option<&str>, host: Host, port: Option<u16>) -> Self {
        SipUri {
            scheme: Scheme::Sip,
            user: user.map(str::to_owned),
            password: None,
            host,
            port,
            params: Vec::new(),
            headers: Vec::new(),
        }
    }

    /// The value of a URI parameter (`None` if absent, `Some(None)` if it has no value).
    pub fn param(&self, name: &str) -> Option<Option<&str>> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_deref())
    }

    /// Sets (or replaces) a URI parameter.
    pub fn set_param(&mut self, name: &str, value: Option<&str>) {
        self.params.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.params
            .push((name.to_owned(), value.map(str::to_owned)));
    }

    pub fn remove_param(&mut self, name: &str) {
        self.params.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// The `lr` parameter marks a loose router (§16.12.1.1, §19.1.1).
    pub fn is_loose_router(&self) -> bool {
        self.param("lr").is_some()
    }

    /// The same URI without URI headers, which are not allowed in a Request-URI (§19.1.5).
    pub fn without_headers(&self) -> SipUri {
        SipUri {
            headers: Vec::new(),
            ..self.clone()
        }
    }

    /// The decoded value of a URI header (RFC 3986 percent-decoding), e.g. `Replaces`.
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| percent_decode(v))
    }

    /// The `user` part without telephone-subscriber parameters, percent-decoded.
    pub fn user_decoded(&self) -> Option<String> {
        self.user
            .as_deref()
            .map(|u| percent_decode(u.split(';').next().unwrap_or(u)))
    }
}

impl fmt::Display for SipUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.scheme {
            Scheme::Sip => "sip:",
            Scheme::Sips => "sips:",
        })?;
        if let Some(user) = &self.user {
            f.write_str(user)?;
            if let Some(password) = &self.password {
                write!(f, ":{password}")?;
            }
            f.write_str("@")?;
        }
        write!(f, "{}", self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        for (name, value) in &self.params {
            match value {
                Some(v) => write!(f, ";{name}={v}")?,
                None => write!(f, ";{name}")?,
            }
        }
        for (i, (name, value)) in self.headers.iter().enumerate() {
            let sep = if i == 0 { '?' } else { '&' };
            write!(f, "{sep}{name}={value}")?;
        }
        Ok(())
    }
}

impl FromStr for SipUri {
    type Err = UriError;

    /// Parses `sip:`/`sips:` URIs per the §25.1 grammar, tolerant of case in the scheme and of
    /// escaped characters anywhere they are legal.
    fn from_str(s: &str) -> Result<Self, UriError> {
        if s.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(UriError::Whitespace);
        }
        let (scheme, rest) = match s.split_once(':') {
            Some((sch, rest)) if sch.eq_ignore_ascii_case("sip") => (Scheme::Sip, rest),
            Some((sch, rest)) if sch.eq_ignore_ascii_case("sips") => (Scheme::Sips, rest),
            _ => return Err(UriError::Scheme),
        };
        let (main, headers) = match rest.split_once('?') {
            Some((m, h)) => (m, parse_uri_headers(h)),
            None => (rest, Vec::new()),
        };
        // The user part may itself contain ';' (telephone-subscriber parameters, §19.1.1), so
        // the userinfo ends at the last '@' of the part before any URI headers.
        let (userinfo, hostpart) = match main.rfind('@') {
            Some(at) => (Some(&main[..at]), &main[at + 1..]),
            None => (None, main),
        };
        let (user, password) = match userinfo {
            Some(ui) => match ui.split_once(':') {
                // A ':' inside telephone-subscriber params is not a password separator.
                Some((u, p)) if !u.contains(';') => (Some(u.to_owned()), Some(p.to_owned())),
                _ => (Some(ui.to_owned()), None),
            },
            None => (None, None),
        };
        let mut parts = hostpart.split(';');
        let hostport = parts.next().unwrap_or_default();
        let (host, port) = split_host_port(hostport)?;
        let params = parts
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((n, v)) => (n.to_owned(), Some(v.to_owned())),
                None => (p.to_owned(), None),
            })
            .collect();
        Ok(SipUri {
            scheme,
            user,
            password,
            host,
            port,
            params,
            headers,
        })
    }
}

/// Splits `host[:port]`, where host may be a bracketed IPv6 reference (§25.1 `hostport`).
pub fn split_host_port(s: &str) -> Result<(Host, Option<u16>), UriError> {
    let (host, port) = if s.starts_with('[') {
        match s.find(']') {
            Some(end) => {
                let rest = &s[end + 1..];
                let port = match rest.strip_prefix(':') {
                    Some(p) => Some(p),
                    None if rest.is_empty() => None,
                    None => return Err(UriError::Host(s.to_owned())),
                };
                (&s[..=end], port)
            }
            None => return Err(UriError::Host(s.to_owned())),
        }
    } else {
        match s.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (s, None),
        }
    };
    let port = port
        .map(|p| match p.parse::<u16>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(UriError::Port(p.to_owned())),
        })
        .transpose()?;
    Ok((host.parse()?, port))
}

fn parse_uri_headers(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|h| !h.is_empty())
        .map(|h| match h.split_once('=') {
            Some((n, v)) => (n.to_owned(), v.to_owned()),
            None => (h.to_owned(), String::new()),
        })
        .collect()
}

/// RFC 3986 §2.1 percent-decoding; invalid escapes are kept literally.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// RFC 3986 §2.1 percent-encoding of everything outside `unreserved`, for values put into a
/// URI header such as `Replaces` (RFC 3891 §3 examples escape `@`, `;` and `=`).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_full_uri() {
        let u: SipUri = "sips:alice:pw@[2001:db8::10]:5061;transport=tls;lr?Subject=hi&X=1"
            .parse()
            .unwrap();
        assert_eq!(u.scheme, Scheme::Sips);
        assert_eq!(u.user.as_deref(), Some("alice"));
        assert_eq!(u.password.as_deref(), Some("pw"));
        assert_eq!(u.host, Host::Ip("2001:db8::10".parse().unwrap()));
        assert_eq!(u.port, Some(5061));
        assert_eq!(u.param("transport"), Some(Some("tls")));
        assert!(u.is_loose_router());
        assert_eq!(u.header("subject").as_deref(), Some("hi"));
        assert_eq!(
            u.to_string(),
            "sips:alice:pw@[2001:db8::10]:5061;transport=tls;lr?Subject=hi&X=1"
        );
    }

    #[test]
    fn user_with_telephone_params_and_escaped_at() {
        // From RFC 4475 §3.1.1.1 (escnull-style user part with ';' and an escaped '@').
        let u: SipUri = "sip:user;par=u%40example.net@example.com".parse().unwrap();
        assert_eq!(u.user.as_deref(), Some("user;par=u%40example.net"));
        assert_eq!(u.host, Host::Name("example.com".into()));
        assert_eq!(u.user_decoded().as_deref(), Some("user"));
    }

    #[test]
    fn replaces_header_round_trip() {
        let replaces = "12345@192.168.118.3;to-tag=12345;from-tag=5FFE-3994";
        let uri = format!("sip:bob@example.org?Replaces={}", percent_encode(replaces));
        let u: SipUri = uri.parse().unwrap();
        assert_eq!(u.header("Replaces").as_deref(), Some(replaces));
        assert_eq!(u.to_string(), uri);
        assert!(u.without_headers().headers.is_empty());
    }

    #[test]
    fn rejects_bad_uris() {
        assert_eq!("tel:+4930123".parse::<SipUri>(), Err(UriError::Scheme));
        assert_eq!("sip:".parse::<SipUri>(), Err(UriError::EmptyHost));
        assert!(matches!(
            "sip:a@b:99999".parse::<SipUri>(),
            Err(UriError::Port(_))
        ));
        assert!(matches!(
            "sip:a@[::1".parse::<SipUri>(),
            Err(UriError::Host(_))
        ));
        assert_eq!("sip:a b@c".parse::<SipUri>(), Err(UriError::Whitespace));
    }

    #[test]
    fn percent_decoding_keeps_invalid_escapes() {
        assert_eq!(percent_decode("a%40b%zz%4"), "a@b%zz%4");
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "\\PC*") {
            let _ = s.parse::<SipUri>();
            let _ = percent_decode(&s);
        }

        #[test]
        fn printed_uris_parse_back(user in "[a-z0-9]{1,8}", host in "[a-z]{1,8}(\\.[a-z]{2,3})?",
                                   port in proptest::option::of(1u16..), lr in proptest::bool::ANY) {
            let mut u = SipUri::new(Some(&user), Host::Name(host), port);
            if lr { u.set_param("lr", None); }
            let printed = u.to_string();
            proptest::prop_assert_eq!(printed.parse::<SipUri>().unwrap(), u);
        }
    }
}
