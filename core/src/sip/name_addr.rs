//! `name-addr` / `addr-spec` values with header parameters (RFC 3261 §20.10, §25.1): From,
//! To, Contact, Route, Record-Route, Refer-To, Referred-By.

use super::header::{self, Param};
use super::uri::{SipUri, UriError};
use std::fmt;

/// Why a name-addr could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameAddrError {
    #[error("unterminated '<' in address")]
    Unterminated,
    #[error("unterminated quoted display name")]
    UnterminatedQuote,
    #[error("empty address")]
    Empty,
    #[error("invalid SIP URI: {0}")]
    Uri(#[from] UriError),
}

/// A URI in a From/To header: SIP/SIPS is parsed; any other absolute URI (e.g. `tel:`,
/// RFC 3966, allowed in From/To by §20.20) is kept as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Uri {
    Sip(SipUri),
    Other(String),
}

impl Uri {
    pub fn as_sip(&self) -> Option<&SipUri> {
        match self {
            Uri::Sip(u) => Some(u),
            Uri::Other(_) => None,
        }
    }

    /// The user (or telephone number) this URI names, decoded, for display and matching.
    pub fn user(&self) -> Option<String> {
        match self {
            Uri::Sip(u) => u.user_decoded(),
            Uri::Other(s) => {
                let (scheme, rest) = s.split_once(':')?;
                scheme
                    .eq_ignore_ascii_case("tel")
                    .then(|| rest.split(';').next().unwrap_or(rest).to_owned())
            }
        }
    }
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Uri::Sip(u) => write!(f, "{u}"),
            Uri::Other(s) => f.write_str(s),
        }
    }
}

fn parse_uri(s: &str) -> Result<Uri, NameAddrError> {
    let s = s.trim();
    if s.is_empty() {
        return Err(NameAddrError::Empty);
    }
    let scheme = s.split(':').next().unwrap_or_default();
    if scheme.eq_ignore_ascii_case("sip") || scheme.eq_ignore_ascii_case("sips") {
        Ok(Uri::Sip(s.parse()?))
    } else if s.contains(':') && !s.chars().any(|c| c.is_whitespace()) {
        Ok(Uri::Other(s.to_owned()))
    } else {
        Err(NameAddrError::Uri(UriError::Scheme))
    }
}

/// `[display-name] <URI> *(;param)` or `URI *(;param)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameAddr {
    pub display: Option<String>,
    pub uri: Uri,
    pub params: Vec<Param>,
}

impl NameAddr {
    pub fn new(display: Option<&str>, uri: SipUri) -> Self {
        NameAddr {
            display: display.map(str::to_owned),
            uri: Uri::Sip(uri),
            params: Vec::new(),
        }
    }

    /// The value of a header parameter such as `tag` or `expires`.
    pub fn param(&self, name: &str) -> Option<&str> {
        header::find_param(&self.params, name).and_then(|p| p.value.as_deref())
    }

    pub fn has_param(&self, name: &str) -> bool {
        header::find_param(&self.params, name).is_some()
    }

    /// The `tag` parameter (§19.3).
    pub fn tag(&self) -> Option<&str> {
        self.param("tag")
    }

    pub fn set_param(&mut self, name: &str, value: Option<&str>) {
        self.params.retain(|p| !p.name.eq_ignore_ascii_case(name));
        self.params.push(Param {
            name: name.to_owned(),
            value: value.map(str::to_owned),
        });
    }

    pub fn with_tag(mut self, tag: &str) -> Self {
        self.set_param("tag", Some(tag));
        self
    }

    /// The SIP URI, or an error for other schemes where SIP is required (Contact, Route).
    pub fn sip_uri(&self) -> Result<&SipUri, NameAddrError> {
        self.uri
            .as_sip()
            .ok_or(NameAddrError::Uri(UriError::Scheme))
    }
}

impl fmt::Display for NameAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(d) = &self.display {
            write!(f, "{} ", header::quote(d))?;
        }
        write!(f, "<{}>{}", self.uri, header::format_params(&self.params))
    }
}

impl std::str::FromStr for NameAddr {
    type Err = NameAddrError;

    fn from_str(s: &str) -> Result<Self, NameAddrError> {
        let s = s.trim();
        let (display, rest) = if let Some(after_quote) = s.strip_prefix('"') {
            let end = closing_quote(after_quote).ok_or(NameAddrError::UnterminatedQuote)?;
            let display = header::unquote(&s[..end + 2]);
            (Some(display), after_quote[end + 1..].trim_start())
        } else {
            match s.find('<') {
                Some(lt) => {
                    let d = s[..lt].trim();
                    ((!d.is_empty()).then(|| d.to_owned()), &s[lt..])
                }
                None => (None, s),
            }
        };
        if let Some(inner) = rest.strip_prefix('<') {
            let gt = inner.find('>').ok_or(NameAddrError::Unterminated)?;
            Ok(NameAddr {
                display,
                uri: parse_uri(&inner[..gt])?,
                params: header::parse_params(&inner[gt + 1..]),
            })
        } else if display.is_some() {
            // A quoted display name must be followed by <URI> (§25.1 name-addr).
            Err(NameAddrError::Unterminated)
        } else {
            // addr-spec: parameters after the URI are header parameters (§20).
            let (uri, params) = match rest.split_once(';') {
                Some((u, p)) => (u, header::parse_params(p)),
                None => (rest, Vec::new()),
            };
            Ok(NameAddr {
                display: None,
                uri: parse_uri(uri)?,
                params,
            })
        }
    }
}

/// Index (within `s`, which starts after the opening quote) of the closing quote.
fn closing_quote(s: &str) -> Option<usize> {
    let mut escaped = false;
    for (i, c) in s.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return Some(i),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_addr_forms() {
        let a: NameAddr = "\"Alice \\\"A\\\" <x>\" <sip:alice@atlanta.com>;tag=1928301774"
            .parse()
            .unwrap();
        assert_eq!(a.display.as_deref(), Some("Alice \"A\" <x>"));
        assert_eq!(a.tag(), Some("1928301774"));

        let b: NameAddr = "Bob <sip:bob@biloxi.com;transport=tcp>;expires=60"
            .parse()
            .unwrap();
        assert_eq!(b.display.as_deref(), Some("Bob"));
        assert_eq!(b.param("expires"), Some("60"));
        assert_eq!(b.sip_uri().unwrap().param("transport"), Some(Some("tcp")));

        // addr-spec: the params are header params, not URI params.
        let c: NameAddr = "sip:carol@chicago.com;tag=887s".parse().unwrap();
        assert_eq!(c.tag(), Some("887s"));
        assert!(c.sip_uri().unwrap().params.is_empty());

        let t: NameAddr = "<tel:+4930123456;phone-context=x>;tag=9".parse().unwrap();
        assert_eq!(t.uri.user().as_deref(), Some("+4930123456"));
    }

    #[test]
    fn round_trip() {
        let a = NameAddr::new(Some("Agent 1001"), "sip:1001@pbx.example".parse().unwrap())
            .with_tag("abc");
        assert_eq!(
            a.to_string(),
            "\"Agent 1001\" <sip:1001@pbx.example>;tag=abc"
        );
        assert_eq!(a.to_string().parse::<NameAddr>().unwrap(), a);
    }

    #[test]
    fn errors() {
        assert_eq!(
            "\"unterminated <sip:a@b>".parse::<NameAddr>(),
            Err(NameAddrError::UnterminatedQuote)
        );
        assert_eq!(
            "<sip:a@b".parse::<NameAddr>(),
            Err(NameAddrError::Unterminated)
        );
        assert!("".parse::<NameAddr>().is_err());
        assert!("just words".parse::<NameAddr>().is_err());
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "\\PC*") {
            let _ = s.parse::<NameAddr>();
        }
    }
}
