//! Bytes ⇄ messages. Parsing is done by rsip after a tolerant normalisation of what real
//! peers send (RFC 3261 §7.3.1 line folding and spacing, §7.3.3 compact forms, §7.5 leading
//! CRLFs, §18.3 Content-Length); whatever is still malformed becomes a [`Malformed`] that
//! knows how to answer it (400, 501 or 505, §8.2.2, §21.4) when enough of it is readable.
//!
//! Nothing here may panic on input: this is the boundary with the network.

use super::header;
use super::message::{Message, MessageError, Request, Response};
use std::borrow::Cow;

/// Largest message accepted on a stream before the connection is considered hostile.
pub const MAX_MESSAGE_SIZE: usize = 256 * 1024;

/// Why a message could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("message is not UTF-8 text")]
    NotText,
    #[error("no start line")]
    Empty,
    #[error("malformed start line")]
    StartLine,
    #[error("unsupported SIP version {0}")]
    Version(String),
    #[error("unknown method {0}")]
    UnknownMethod(String),
    #[error("malformed header line {0:?}")]
    HeaderLine(String),
    #[error("invalid Content-Length {0:?}")]
    ContentLength(String),
    #[error("body shorter ({available} bytes) than Content-Length {declared}")]
    Truncated { declared: usize, available: usize },
    #[error("{0}")]
    Message(#[from] MessageError),
    #[error("unparseable message: {0}")]
    Syntax(String),
}

impl DecodeError {
    /// The status a UAS answers a request with this defect (§8.2.1, §8.2.2, §18.3, §21.4).
    fn status(&self) -> u16 {
        match self {
            DecodeError::Version(_) => 505,
            DecodeError::UnknownMethod(_) => 501,
            DecodeError::Message(e) => e.status(),
            _ => 400,
        }
    }
}

/// A message that could not be decoded, with what is needed to answer it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Malformed {
    pub error: DecodeError,
    /// Whether it looked like a request (only requests are answered, §8.2).
    pub is_request: bool,
    /// Via, From, To, Call-ID and CSeq lines as found, for the error response (§8.2.6.2).
    salvage: Vec<(String, String)>,
}

impl Malformed {
    fn new(error: DecodeError, is_request: bool, salvage: Vec<(String, String)>) -> Self {
        Malformed {
            error,
            is_request,
            salvage,
        }
    }

    /// The error response for a malformed request, when it has at least a Via, Call-ID and
    /// CSeq (without them the sender could not match a response anyway).
    pub fn error_response(&self, to_tag: &str) -> Option<Vec<u8>> {
        if !self.is_request {
            return None;
        }
        let has = |n: &str| self.salvage.iter().any(|(k, _)| k.eq_ignore_ascii_case(n));
        if !(has("Via") && has("Call-ID") && has("CSeq")) {
            return None;
        }
        let status = self.error.status();
        let reason = match status {
            // The reason phrase says what is wrong, like kamailio's sanity module does.
            400 => format!("Bad Request ({})", sanitize_reason(&self.error.to_string())),
            _ => super::status::reason_phrase(status).to_owned(),
        };
        let mut out = format!("SIP/2.0 {status} {reason}\r\n");
        for (name, value) in &self.salvage {
            if name.eq_ignore_ascii_case("To") && !value.to_ascii_lowercase().contains(";tag=") {
                out.push_str(&format!("To: {value};tag={to_tag}\r\n"));
            } else {
                out.push_str(&format!("{name}: {value}\r\n"));
            }
        }
        if status == 501 {
            out.push_str(&format!("Allow: {}\r\n", super::ALLOW));
        }
        out.push_str("Content-Length: 0\r\n\r\n");
        Some(out.into_bytes())
    }
}

/// Keeps a reason phrase on one line of printable text.
fn sanitize_reason(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(120)
        .collect()
}

/// Decodes one complete message (a UDP datagram or a frame cut by [`next_frame`]).
pub fn decode(bytes: &[u8]) -> Result<Message, Malformed> {
    let normal = Normalised::new(bytes)?;
    let is_request = normal.is_request;
    let salvage = normal.salvage();
    let fail = |e: DecodeError| Malformed::new(e, is_request, salvage.clone());
    let text = normal.reassemble();
    let parsed = rsip::SipMessage::try_from(text.as_slice())
        .map_err(|e| fail(DecodeError::Syntax(first_line(&e.to_string()))))?;
    match parsed {
        rsip::SipMessage::Request(raw) => Request::from_raw(raw)
            .map(|r| Message::Request(Box::new(r)))
            .map_err(|e| fail(e.into())),
        rsip::SipMessage::Response(raw) => Response::from_raw(raw, normal.reason.to_owned())
            .map(|r| Message::Response(Box::new(r)))
            .map_err(|e| fail(e.into())),
    }
}

fn first_line(s: &str) -> String {
    sanitize_reason(s.lines().next().unwrap_or(s))
}

/// Methods rsip can represent (RFC 3261 and extensions: RFC 3262 PRACK, RFC 3311 UPDATE,
/// RFC 3515 REFER, RFC 6086 INFO, RFC 6665 SUBSCRIBE/NOTIFY, RFC 3428 MESSAGE, RFC 3903
/// PUBLISH).
const KNOWN_METHODS: &[&str] = &[
    "INVITE",
    "ACK",
    "BYE",
    "CANCEL",
    "OPTIONS",
    "REGISTER",
    "PRACK",
    "UPDATE",
    "REFER",
    "INFO",
    "SUBSCRIBE",
    "NOTIFY",
    "MESSAGE",
    "PUBLISH",
];

/// A message rewritten into the canonical form rsip parses.
struct Normalised<'a> {
    is_request: bool,
    start: String,
    reason: &'a str,
    headers: Vec<(Cow<'a, str>, String)>,
    body: &'a [u8],
}

impl<'a> Normalised<'a> {
    fn new(bytes: &'a [u8]) -> Result<Self, Malformed> {
        // §7.5: ignore CRLFs before the start line.
        let start_at = bytes
            .iter()
            .position(|b| *b != b'\r' && *b != b'\n')
            .ok_or_else(|| Malformed::new(DecodeError::Empty, false, Vec::new()))?;
        let bytes = &bytes[start_at..];
        let (head, body) = split_head(bytes);
        let head = std::str::from_utf8(head)
            .map_err(|_| Malformed::new(DecodeError::NotText, false, Vec::new()))?;
        let mut lines = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
        let start_line = lines.next().unwrap_or_default();
        let is_request = !start_line.starts_with("SIP/");

        let mut headers: Vec<(Cow<'a, str>, String)> = Vec::new();
        let mut bad_line = None;
        for line in lines {
            if line.starts_with([' ', '\t']) {
                // §7.3.1: a line starting with whitespace continues the previous header.
                match headers.last_mut() {
                    Some((_, value)) => {
                        value.push(' ');
                        value.push_str(line.trim());
                    }
                    None => bad_line = bad_line.or(Some(line)),
                }
                continue;
            }
            match line.split_once(':') {
                Some((name, value))
                    if !name.trim_end().is_empty()
                        && name.trim_end().chars().all(header::is_token_char) =>
                {
                    let name = name.trim_end();
                    let name =
                        header::expand_compact(name).map_or(Cow::Borrowed(name), Cow::Borrowed);
                    headers.push((name, value.trim().to_owned()));
                }
                _ => bad_line = bad_line.or(Some(line)),
            }
        }

        let mut normal = Normalised {
            is_request,
            start: String::new(),
            reason: "",
            headers,
            body,
        };
        let salvage = normal.salvage();
        let fail = |e| Malformed::new(e, is_request, salvage.clone());
        if let Some(line) = bad_line {
            return Err(fail(DecodeError::HeaderLine(sanitize_reason(line))));
        }
        normal.start = normal.parse_start_line(start_line).map_err(fail)?;
        normal.body = normal.apply_content_length().map_err(fail)?;
        Ok(normal)
    }

    /// Checks the start line and rewrites it with single spaces (§7.1, §7.2).
    fn parse_start_line(&mut self, line: &'a str) -> Result<String, DecodeError> {
        if self.is_request {
            let mut parts = line.split_whitespace();
            let (method, uri, version) =
                match (parts.next(), parts.next(), parts.next(), parts.next()) {
                    (Some(m), Some(u), Some(v), None) => (m, u, v),
                    _ => return Err(DecodeError::StartLine),
                };
            if !version.eq_ignore_ascii_case("SIP/2.0") {
                return Err(if version.to_ascii_uppercase().starts_with("SIP/") {
                    DecodeError::Version(sanitize_reason(version))
                } else {
                    DecodeError::StartLine
                });
            }
            if !method.chars().all(header::is_token_char) {
                return Err(DecodeError::StartLine);
            }
            // Method names are case-sensitive (§7.1); rsip is not, so check here.
            if !KNOWN_METHODS.contains(&method) {
                return Err(DecodeError::UnknownMethod(sanitize_reason(method)));
            }
            Ok(format!("{method} {uri} SIP/2.0"))
        } else {
            let (version, rest) = line.split_once(' ').ok_or(DecodeError::StartLine)?;
            if !version.eq_ignore_ascii_case("SIP/2.0") {
                return Err(DecodeError::Version(sanitize_reason(version)));
            }
            let rest = rest.trim_start();
            let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
            if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
                return Err(DecodeError::StartLine);
            }
            self.reason = reason.trim();
            // rsip needs a reason phrase; an empty one is legal (§25.1 *(...)).
            let phrase = if self.reason.is_empty() {
                "-"
            } else {
                self.reason
            };
            Ok(format!("SIP/2.0 {code} {phrase}"))
        }
    }

    /// §18.3: the body is exactly Content-Length bytes; extra bytes are discarded, missing
    /// bytes make the message malformed. Without Content-Length (legal on UDP only) the body
    /// is the rest of the datagram.
    fn apply_content_length(&mut self) -> Result<&'a [u8], DecodeError> {
        let declared = self
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("Content-Length"))
            .map(|(_, v)| v.trim());
        let Some(declared) = declared else {
            return Ok(self.body);
        };
        let declared: usize = declared
            .parse()
            .map_err(|_| DecodeError::ContentLength(sanitize_reason(declared)))?;
        if declared > self.body.len() {
            return Err(DecodeError::Truncated {
                declared,
                available: self.body.len(),
            });
        }
        Ok(&self.body[..declared])
    }

    fn salvage(&self) -> Vec<(String, String)> {
        const KEEP: &[&str] = &["Via", "From", "To", "Call-ID", "CSeq"];
        self.headers
            .iter()
            .filter(|(n, _)| KEEP.iter().any(|k| k.eq_ignore_ascii_case(n)))
            .map(|(n, v)| (n.to_string(), sanitize_reason(v)))
            .collect()
    }

    fn reassemble(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.start.len() + self.body.len() + 512);
        out.extend_from_slice(self.start.as_bytes());
        out.extend_from_slice(b"\r\n");
        for (name, value) in &self.headers {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(self.body);
        out
    }
}

/// Splits at the empty line ending the headers (CRLFCRLF, or LFLF from sloppy peers).
fn split_head(bytes: &[u8]) -> (&[u8], &[u8]) {
    let crlf = find(bytes, b"\r\n\r\n").map(|i| (i, 4));
    let lf = find(bytes, b"\n\n").map(|i| (i, 2));
    let cut = match (crlf, lf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    };
    match cut {
        Some((i, len)) => (&bytes[..i], &bytes[i + len..]),
        None => (bytes, &[]),
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Prints a request: rsip prints the start line and headers; the body is appended as bytes.
pub fn encode_request(req: &rsip::Request) -> Vec<u8> {
    encode(
        format!(
            "{} {} {}\r\n{}\r\n",
            req.method, req.uri, req.version, req.headers
        ),
        &req.body,
    )
}

/// Prints a response (see [`encode_request`]).
pub fn encode_response(resp: &rsip::Response) -> Vec<u8> {
    encode(
        format!(
            "{} {}\r\n{}\r\n",
            resp.version, resp.status_code, resp.headers
        ),
        &resp.body,
    )
}

fn encode(head: String, body: &[u8]) -> Vec<u8> {
    let mut out = head.into_bytes();
    out.extend_from_slice(body);
    out
}

/// One unit cut from a stream transport (TCP/TLS, §18.3, RFC 5626 §3.5.1).
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    /// Not enough bytes yet.
    Incomplete,
    /// A keep-alive ping (CRLFCRLF); the answer is a pong (CRLF).
    Ping,
    /// A keep-alive pong (CRLF).
    Pong,
    /// A whole message of this many bytes at the start of the buffer.
    Message(usize),
    /// The stream cannot be framed (no or bad Content-Length, too large); close it.
    Invalid(String),
}

/// Finds the next frame at the start of `buf`; the caller removes the bytes it covers
/// (`Ping` covers 4 bytes, `Pong` 2, `Message(n)` n).
pub fn next_frame(buf: &[u8]) -> Frame {
    if buf.starts_with(b"\r\n\r\n") {
        return Frame::Ping;
    }
    if buf.starts_with(b"\r\n") {
        // A lone CRLF, or the first three bytes of a ping. A client only ever receives
        // pongs, so anything but a possible ping prefix is taken as one.
        return if buf.len() == 3 && buf[2] == b'\r' {
            Frame::Incomplete
        } else {
            Frame::Pong
        };
    }
    let Some(head_end) = find(buf, b"\r\n\r\n") else {
        return if buf.len() > MAX_MESSAGE_SIZE {
            Frame::Invalid("headers too large".into())
        } else {
            Frame::Incomplete
        };
    };
    let head = String::from_utf8_lossy(&buf[..head_end]);
    let length = head.split("\r\n").skip(1).find_map(|line| {
        let (name, value) = line.split_once(':')?;
        let name = name.trim();
        (name.eq_ignore_ascii_case("Content-Length") || name.eq_ignore_ascii_case("l"))
            .then(|| value.trim().to_owned())
    });
    let Some(length) = length else {
        return Frame::Invalid("Content-Length is required on stream transports".into());
    };
    let Ok(length) = length.parse::<usize>() else {
        return Frame::Invalid(format!("invalid Content-Length {length:?}"));
    };
    let total = head_end + 4 + length;
    if total > MAX_MESSAGE_SIZE {
        Frame::Invalid("message too large".into())
    } else if buf.len() < total {
        Frame::Incomplete
    } else {
        Frame::Message(total)
    }
}

#[cfg(test)]
mod tests;
