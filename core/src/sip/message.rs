//! Validated SIP messages: an rsip message plus the fields every layer needs, extracted and
//! checked once on receipt ("parse, don't validate"). A [`Request`] or [`Response`] that
//! exists has a usable Via, From, To, Call-ID and CSeq (RFC 3261 §8.1.1, §8.2).

use super::header;
use super::name_addr::{NameAddr, Uri};
use super::via::Via;
pub use rsip::Method;
use std::fmt;

/// What makes a message unusable; the UAS answers requests with [`MessageError::status`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    #[error("missing {0} header")]
    Missing(&'static str),
    #[error("invalid {0} header: {1}")]
    Invalid(&'static str, String),
    #[error("CSeq method {cseq} does not match request method {method}")]
    CSeqMethod { method: String, cseq: String },
    #[error("Max-Forwards reached zero")]
    TooManyHops,
    #[error("unsupported URI scheme in Request-URI {0}")]
    UriScheme(String),
    #[error("more than one {0} header")]
    Duplicate(&'static str),
}

impl MessageError {
    /// The response status for a request with this defect (§8.2.2.1, §16.3 step 3, §21.4).
    pub fn status(&self) -> u16 {
        match self {
            MessageError::TooManyHops => 483,
            MessageError::UriScheme(_) => 416,
            _ => 400,
        }
    }
}

/// The CSeq header (§20.16): sequence number and method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CSeq {
    pub seq: u32,
    pub method: Method,
}

impl fmt::Display for CSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.seq, self.method)
    }
}

impl std::str::FromStr for CSeq {
    type Err = MessageError;

    fn from_str(s: &str) -> Result<Self, MessageError> {
        let invalid = || MessageError::Invalid("CSeq", s.to_owned());
        let mut parts = s.split_whitespace();
        let seq: u32 = parts.next().and_then(parse_digits).ok_or_else(invalid)?;
        // §8.1.1.5: the sequence number MUST be less than 2^31.
        if seq >= 1 << 31 {
            return Err(invalid());
        }
        let method = parts
            .next()
            .ok_or_else(invalid)?
            .parse()
            .map_err(|_| invalid())?;
        if parts.next().is_some() {
            return Err(invalid());
        }
        Ok(CSeq { seq, method })
    }
}

/// The fields shared by requests and responses.
#[derive(Debug, Clone)]
pub struct Common {
    pub call_id: String,
    pub cseq: CSeq,
    pub from: NameAddr,
    pub to: NameAddr,
    /// All Via values, topmost first.
    pub vias: Vec<Via>,
}

/// A number made of digits only (§25.1 `1*DIGIT`): Rust's parser would also take `+5`.
pub fn parse_digits<T: std::str::FromStr>(s: &str) -> Option<T> {
    let s = s.trim();
    (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// Headers that may appear once only: their grammar is not a comma list, so a repeat is a
/// malformed message (§7.3.1, RFC 4475 §3.3.8 and §3.3.9).
const SINGLETONS: &[&str] = &[
    "Call-ID",
    "CSeq",
    "From",
    "To",
    "Max-Forwards",
    "Content-Length",
    "Content-Type",
];

impl Common {
    fn extract(headers: &rsip::Headers) -> Result<Self, MessageError> {
        for name in SINGLETONS {
            if header::all(headers, name).nth(1).is_some() {
                return Err(MessageError::Duplicate(name));
            }
        }
        let vias = header::list(headers, "Via")
            .into_iter()
            .map(|v| {
                v.parse::<Via>()
                    .map_err(|e| MessageError::Invalid("Via", e.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if vias.is_empty() {
            return Err(MessageError::Missing("Via"));
        }
        let call_id = header::first(headers, "Call-ID").ok_or(MessageError::Missing("Call-ID"))?;
        // §25.1: `word ["@" word]`, printable characters without spaces.
        if call_id.is_empty() || !call_id.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(MessageError::Invalid("Call-ID", call_id.to_owned()));
        }
        let cseq = header::first(headers, "CSeq")
            .ok_or(MessageError::Missing("CSeq"))?
            .parse()?;
        let name_addr = |name: &'static str| -> Result<NameAddr, MessageError> {
            header::first(headers, name)
                .ok_or(MessageError::Missing(name))?
                .parse()
                .map_err(|e: super::name_addr::NameAddrError| {
                    MessageError::Invalid(name, e.to_string())
                })
        };
        Ok(Common {
            call_id: call_id.to_owned(),
            cseq,
            from: name_addr("From")?,
            to: name_addr("To")?,
            vias,
        })
    }

    pub fn top_via(&self) -> &Via {
        // Invariant: `extract` rejects messages without Via, and nothing removes them.
        &self.vias[0]
    }
}

/// What rsip is given as the Request-URI: rsip 0.4 cannot represent IPv6 hosts, `tel:`
/// or `urn:` URIs or URI headers after parameters, so the start line's URI is parsed by
/// [`parse_request_uri`] and kept in [`Request::uri`]; `raw.uri` holds this placeholder
/// and is never printed.
pub const PLACEHOLDER_URI: &str = "sip:request-uri.invalid";

/// Parses a Request-URI (§25.1 `Request-URI = SIP-URI / SIPS-URI / absoluteURI`).
pub fn parse_request_uri(text: &str) -> Result<Uri, MessageError> {
    let invalid = |why: String| MessageError::Invalid("Request-URI", why);
    let (scheme, _) = text
        .split_once(':')
        .ok_or_else(|| invalid(format!("{text:?} has no scheme")))?;
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    if !scheme_ok {
        return Err(invalid(format!("{text:?} has no valid scheme")));
    }
    if scheme.eq_ignore_ascii_case("sip") || scheme.eq_ignore_ascii_case("sips") {
        return text
            .parse()
            .map(Uri::Sip)
            .map_err(|e: super::uri::UriError| invalid(e.to_string()));
    }
    // absoluteURI (RFC 2396): no spaces, brackets of name-addr or quotes.
    if text
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || "<>\"".contains(c))
    {
        return Err(invalid(format!("{text:?} is not a URI")));
    }
    Ok(Uri::Other(text.to_owned()))
}

/// A request with its essential fields validated.
#[derive(Debug, Clone)]
pub struct Request {
    /// Method, headers and body; its `uri` is [`PLACEHOLDER_URI`].
    pub raw: rsip::Request,
    /// The Request-URI, exactly as sent or received.
    pub uri: Uri,
    pub common: Common,
}

impl Request {
    /// Validates a parsed request (§8.2.1–§8.2.2) whose start line carried `uri`.
    pub fn from_raw(raw: rsip::Request, uri: &str) -> Result<Self, MessageError> {
        let common = Common::extract(&raw.headers)?;
        let method = raw.method;
        if common.cseq.method != method {
            return Err(MessageError::CSeqMethod {
                method: method.to_string(),
                cseq: common.cseq.method.to_string(),
            });
        }
        if let Some(mf) = header::first(&raw.headers, "Max-Forwards") {
            match parse_digits::<u32>(mf) {
                Some(0) if method != Method::Options => return Err(MessageError::TooManyHops),
                Some(_) => {}
                None => return Err(MessageError::Invalid("Max-Forwards", mf.to_owned())),
            }
        }
        if let Some(cl) = header::first(&raw.headers, "Content-Length") {
            if parse_digits::<usize>(cl).is_none() {
                return Err(MessageError::Invalid("Content-Length", cl.to_owned()));
            }
        }
        let uri = parse_request_uri(uri)?;
        Ok(Request { raw, uri, common })
    }

    pub fn method(&self) -> Method {
        self.raw.method
    }

    /// The bytes to send: the start line with [`Request::uri`], then rsip prints the
    /// headers, then the body as bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = format!(
            "{} {} SIP/2.0\r\n{}\r\n",
            self.raw.method, self.uri, self.raw.headers
        )
        .into_bytes();
        out.extend_from_slice(&self.raw.body);
        out
    }
}

/// A response with its essential fields validated.
#[derive(Debug, Clone)]
pub struct Response {
    pub raw: rsip::Response,
    pub code: u16,
    /// The reason phrase as received (rsip replaces it by the standard one).
    pub reason: String,
    pub common: Common,
}

impl Response {
    pub fn from_raw(raw: rsip::Response, reason: String) -> Result<Self, MessageError> {
        let common = Common::extract(&raw.headers)?;
        let code = raw.status_code.code();
        if !(100..=699).contains(&code) {
            return Err(MessageError::Invalid("status", code.to_string()));
        }
        Ok(Response {
            raw,
            code,
            reason,
            common,
        })
    }

    pub fn is_provisional(&self) -> bool {
        self.code < 200
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.code)
    }

    pub fn encode(&self) -> Vec<u8> {
        super::codec::encode_response(&self.raw)
    }
}

/// The accessors requests and responses share: the validated fields and header lookup.
macro_rules! common_accessors {
    ($ty:ident) => {
        impl $ty {
            pub fn call_id(&self) -> &str {
                &self.common.call_id
            }

            pub fn cseq(&self) -> CSeq {
                self.common.cseq
            }

            pub fn from(&self) -> &NameAddr {
                &self.common.from
            }

            pub fn to(&self) -> &NameAddr {
                &self.common.to
            }

            pub fn top_via(&self) -> &Via {
                self.common.top_via()
            }

            pub fn header(&self, name: &str) -> Option<&str> {
                header::first(&self.raw.headers, name)
            }

            pub fn headers(&self) -> &rsip::Headers {
                &self.raw.headers
            }

            pub fn body(&self) -> &[u8] {
                &self.raw.body
            }

            /// The first Contact as a name-addr, if present and parseable.
            pub fn contact(&self) -> Option<NameAddr> {
                header::list(&self.raw.headers, "Contact")
                    .first()
                    .and_then(|c| c.parse().ok())
            }
        }
    };
}

common_accessors!(Request);
common_accessors!(Response);

/// A received message (boxed: it is moved from layer to layer).
#[derive(Debug, Clone)]
pub enum Message {
    Request(Box<Request>),
    Response(Box<Response>),
}
