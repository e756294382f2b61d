//! Bytes ⇄ messages. Parsing is done by rsip after a tolerant normalisation of what real
//! peers send (RFC 3261 §7.3.1 line folding and spacing, §7.3.3 compact forms, §7.5 leading
//! CRLFs, §18.3 Content-Length); whatever is still malformed becomes a [`Malformed`] that
//! knows how to answer it (400, 501 or 505, §8.2.2, §21.4) when enough of it is readable.
//!
//! Nothing here may panic on input: this is the boundary with the network.

use super::header;
use super::message::{parse_digits, Message, MessageError, Request, Response, PLACEHOLDER_URI};
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
    #[error("the headers are cut off (no empty line after them)")]
    HeadersCut,
    #[error("more than one Content-Length header")]
    DuplicateContentLength,
    #[error("control character in the {0} header")]
    ControlCharacter(String),
    #[error("message larger than {MAX_MESSAGE_SIZE} bytes")]
    TooLarge,
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
            DecodeError::TooLarge => 513,
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
    if bytes.len() > MAX_MESSAGE_SIZE {
        return Err(Malformed::new(DecodeError::TooLarge, false, Vec::new()));
    }
    let normal = Normalised::new(bytes)?;
    let is_request = normal.is_request;
    let salvage = normal.salvage();
    let fail = |e: DecodeError| Malformed::new(e, is_request, salvage.clone());
    let text = normal.reassemble();
    let parsed = rsip::SipMessage::try_from(text.as_slice())
        .map_err(|e| fail(DecodeError::Syntax(first_line(&e.to_string()))))?;
    match parsed {
        rsip::SipMessage::Request(raw) => Request::from_raw(raw, normal.uri)
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
    /// The Request-URI as received (rsip gets a placeholder, see [`PLACEHOLDER_URI`]).
    uri: &'a str,
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
        let (head, body, cut) = match split_head(bytes) {
            Some((head, body)) => (head, body, false),
            None => (bytes, &bytes[bytes.len()..], true),
        };
        let head = std::str::from_utf8(head)
            .map_err(|_| Malformed::new(DecodeError::NotText, false, Vec::new()))?;
        let mut lines = head.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l));
        let start_line = lines.next().unwrap_or_default();
        let is_request = !start_line.starts_with("SIP/");

        let mut headers: Vec<(Cow<'a, str>, String)> = Vec::new();
        let mut bad_line = None;
        let mut control = None;
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
                    // §25.1: header values are TEXT-UTF8 and LWS; no control characters.
                    if value.chars().any(|c| c.is_control() && c != '\t') {
                        control = control.or(Some(name.to_string()));
                    }
                    headers.push((name, value.trim().to_owned()));
                }
                _ => bad_line = bad_line.or(Some(line)),
            }
        }

        let mut normal = Normalised {
            is_request,
            start: String::new(),
            uri: "",
            reason: "",
            headers,
            body,
        };
        let salvage = normal.salvage();
        let fail = |e| Malformed::new(e, is_request, salvage.clone());
        if let Some(line) = bad_line {
            return Err(fail(DecodeError::HeaderLine(sanitize_reason(line))));
        }
        if let Some(name) = control {
            return Err(fail(DecodeError::ControlCharacter(name)));
        }
        if cut {
            return Err(fail(DecodeError::HeadersCut));
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
            self.uri = uri;
            Ok(format!("{method} {PLACEHOLDER_URI} SIP/2.0"))
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
        let mut declared = self
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("Content-Length"))
            .map(|(_, v)| v.trim());
        let Some(first) = declared.next() else {
            return Ok(self.body);
        };
        if declared.next().is_some() {
            return Err(DecodeError::DuplicateContentLength);
        }
        let declared: usize = parse_digits(first)
            .ok_or_else(|| DecodeError::ContentLength(sanitize_reason(first)))?;
        if declared > self.body.len() {
            return Err(DecodeError::Truncated {
                declared,
                available: self.body.len(),
            });
        }
        Ok(&self.body[..declared])
    }

    /// Every Via, and the first From, To, Call-ID and CSeq (a repeated one is itself a
    /// defect the response should not copy).
    fn salvage(&self) -> Vec<(String, String)> {
        const ONCE: &[&str] = &["From", "To", "Call-ID", "CSeq"];
        let mut kept: Vec<(String, String)> = Vec::new();
        for (name, value) in &self.headers {
            let once = ONCE.iter().any(|k| k.eq_ignore_ascii_case(name));
            let repeat = kept.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
            if name.eq_ignore_ascii_case("Via") || (once && !repeat) {
                kept.push((name.to_string(), sanitize_reason(value)));
            }
        }
        kept
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
/// Without one, a datagram whose last header line is complete is taken as having no body
/// (peers that forget the empty line); one that stops mid-line was cut off.
fn split_head(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let crlf = find(bytes, b"\r\n\r\n").map(|i| (i, 4));
    let lf = find(bytes, b"\n\n").map(|i| (i, 2));
    let cut = match (crlf, lf) {
        (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
        (a, b) => a.or(b),
    };
    match cut {
        Some((i, len)) => Some((&bytes[..i], &bytes[i + len..])),
        None if bytes.ends_with(b"\n") => Some((bytes.strip_suffix(b"\n").unwrap_or(bytes), &[])),
        None => None,
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Prints a response: rsip prints the status line and headers; the body is appended as
/// bytes (requests print themselves, [`Request::encode`]).
pub fn encode_response(resp: &rsip::Response) -> Vec<u8> {
    let mut out = format!(
        "{} {}\r\n{}\r\n",
        resp.version, resp.status_code, resp.headers
    )
    .into_bytes();
    out.extend_from_slice(&resp.body);
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
    let lengths: Vec<&str> = head
        .split("\r\n")
        .skip(1)
        .filter_map(|line| {
            let (name, value) = line.split_once(':')?;
            let name = name.trim();
            (name.eq_ignore_ascii_case("Content-Length") || name.eq_ignore_ascii_case("l"))
                .then_some(value.trim())
        })
        .collect();
    let length = match lengths[..] {
        [one] => one,
        [] => return Frame::Invalid("Content-Length is required on stream transports".into()),
        _ => return Frame::Invalid("more than one Content-Length".into()),
    };
    let Some(length) = parse_digits::<usize>(length) else {
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
