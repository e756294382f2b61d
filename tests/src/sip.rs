//! A tiny SIP client over UDP for the rig itself: readiness probes (OPTIONS) and
//! registering contacts on the proxy (REGISTER with digest auth, RFC 3261 §22 / RFC 2617,
//! MD5, with or without qop=auth). Not a user agent: one transaction at a time, blocking.
//!
//! (sipsak 0.9.8 truncates 5-digit ports in its Request-URI, so the rig does not use it.)

use std::fmt::Write as _;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use md5::{Digest, Md5};

/// RFC 3261 T1.
const T1: Duration = Duration::from_millis(500);
/// RFC 3261 T2.
const T2: Duration = Duration::from_secs(4);

/// A SIP response as received.
#[derive(Debug, Clone)]
pub struct SipResponse {
    /// Status code.
    pub code: u16,
    /// Reason phrase.
    pub reason: String,
    /// Header fields in order, names as received.
    pub headers: Vec<(String, String)>,
    /// The whole message.
    pub raw: String,
}

impl SipResponse {
    /// The first header field called `name` (case-insensitive; compact forms not handled).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn parse(raw: &str) -> Option<SipResponse> {
        let mut lines = raw.split("\r\n");
        let status = lines.next()?;
        let mut parts = status.splitn(3, ' ');
        if parts.next()? != "SIP/2.0" {
            return None;
        }
        let code = parts.next()?.parse().ok()?;
        let reason = parts.next().unwrap_or("").to_owned();
        let headers = lines
            .take_while(|l| !l.is_empty())
            .filter_map(|l| {
                let (name, value) = l.split_once(':')?;
                Some((name.trim().to_owned(), value.trim().to_owned()))
            })
            .collect();
        Some(SipResponse {
            code,
            reason,
            headers,
            raw: raw.to_owned(),
        })
    }
}

/// Sends `OPTIONS <request_uri>` to `to` and returns the first final response. Times out
/// (as an `io::Error` of kind `TimedOut`) after `timeout`, retransmitting meanwhile.
pub fn options(to: SocketAddr, request_uri: &str, timeout: Duration) -> io::Result<SipResponse> {
    let socket = bind()?;
    let local = socket.local_addr()?;
    let request = format!(
        "OPTIONS {request_uri} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {local};branch=z9hG4bK{branch};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:rig-probe@{ip}>;tag={tag}\r\n\
         To: <{request_uri}>\r\n\
         Call-ID: {call_id}@{ip}\r\n\
         CSeq: 1 OPTIONS\r\n\
         Contact: <sip:rig-probe@{local}>\r\n\
         Accept: application/sdp\r\n\
         User-Agent: parley-e2e\r\n\
         Content-Length: 0\r\n\r\n",
        ip = local.ip(),
        branch = token(),
        tag = token(),
        call_id = token(),
    );
    transaction(&socket, to, &request, timeout)
}

/// Registers `contact` for `user@domain` at `registrar` (REGISTER over UDP), answering one
/// digest challenge with `password` if given. `domain` may carry a port
/// (`127.0.0.1:25060`); the realm is whatever the challenge says. Returns the final
/// response (a 200 on success).
pub fn register(
    registrar: SocketAddr,
    user: &str,
    domain: &str,
    contact: &str,
    expires: u32,
    password: Option<&str>,
    timeout: Duration,
) -> io::Result<SipResponse> {
    let socket = bind()?;
    let local = socket.local_addr()?;
    let request_uri = format!("sip:{domain}");
    let call_id = format!("{}@{}", token(), local.ip());
    let from_tag = token();
    let build = |cseq: u32, authorization: Option<String>| {
        let mut request = format!(
            "REGISTER {request_uri} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {local};branch=z9hG4bK{branch};rport\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:{user}@{domain}>;tag={from_tag}\r\n\
             To: <sip:{user}@{domain}>\r\n\
             Call-ID: {call_id}\r\n\
             CSeq: {cseq} REGISTER\r\n\
             Contact: <{contact}>\r\n\
             Expires: {expires}\r\n\
             User-Agent: parley-e2e\r\n",
            branch = token(),
        );
        if let Some(authorization) = authorization {
            request.push_str(&authorization);
        }
        request.push_str("Content-Length: 0\r\n\r\n");
        request
    };
    let deadline = Instant::now() + timeout;
    let first = transaction(&socket, registrar, &build(1, None), timeout)?;
    let (header, challenge) = match first.code {
        401 => ("Authorization", first.header("WWW-Authenticate")),
        407 => ("Proxy-Authorization", first.header("Proxy-Authenticate")),
        _ => return Ok(first),
    };
    let (Some(password), Some(challenge)) = (password, challenge) else {
        return Ok(first);
    };
    let credentials = digest_credentials(challenge, user, password, "REGISTER", &request_uri)
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("unsupported challenge: {challenge}"),
            )
        })?;
    let remaining = deadline.saturating_duration_since(Instant::now());
    transaction(
        &socket,
        registrar,
        &build(2, Some(format!("{header}: {credentials}\r\n"))),
        remaining.max(T1),
    )
}

/// The value of an Authorization header answering the digest `challenge`
/// (`Digest realm="...", nonce="...", ...`), or `None` for non-MD5 challenges.
pub fn digest_credentials(
    challenge: &str,
    user: &str,
    password: &str,
    method: &str,
    uri: &str,
) -> Option<String> {
    let params = challenge.trim().strip_prefix("Digest")?;
    let param = |name: &str| -> Option<String> {
        params.split(',').find_map(|p| {
            let (k, v) = p.trim().split_once('=')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().trim_matches('"').to_owned())
        })
    };
    let realm = param("realm")?;
    let nonce = param("nonce")?;
    if param("algorithm").is_some_and(|a| !a.eq_ignore_ascii_case("MD5")) {
        return None;
    }
    let ha1 = md5_hex(&format!("{user}:{realm}:{password}"));
    let ha2 = md5_hex(&format!("{method}:{uri}"));
    let mut value = format!(
        "Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", algorithm=MD5"
    );
    let qop_auth = param("qop").is_some_and(|q| q.split(',').any(|q| q.trim() == "auth"));
    let response = if qop_auth {
        let cnonce = token();
        let nc = "00000001";
        let _ = write!(value, ", qop=auth, nc={nc}, cnonce=\"{cnonce}\"");
        md5_hex(&format!("{ha1}:{nonce}:{nc}:{cnonce}:auth:{ha2}"))
    } else {
        md5_hex(&format!("{ha1}:{nonce}:{ha2}"))
    };
    let _ = write!(value, ", response=\"{response}\"");
    if let Some(opaque) = param("opaque") {
        let _ = write!(value, ", opaque=\"{opaque}\"");
    }
    Some(value)
}

fn md5_hex(text: &str) -> String {
    Md5::digest(text.as_bytes())
        .iter()
        .fold(String::with_capacity(32), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        })
}

fn bind() -> io::Result<UdpSocket> {
    UdpSocket::bind((crate::LOOPBACK, 0))
}

/// Sends `request` (retransmitting per RFC 3261 §17.1.2.2 timer E) until a final response
/// arrives or `timeout` passes.
fn transaction(
    socket: &UdpSocket,
    to: SocketAddr,
    request: &str,
    timeout: Duration,
) -> io::Result<SipResponse> {
    let deadline = Instant::now() + timeout;
    let mut interval = T1;
    let mut buf = vec![0u8; 65_536];
    loop {
        socket.send_to(request.as_bytes(), to)?;
        let resend_at = (Instant::now() + interval).min(deadline);
        loop {
            let now = Instant::now();
            if now >= resend_at {
                break;
            }
            socket.set_read_timeout(Some(resend_at - now))?;
            match socket.recv_from(&mut buf) {
                Ok((n, _)) => {
                    let text = String::from_utf8_lossy(&buf[..n]);
                    if let Some(response) = SipResponse::parse(&text) {
                        if response.code >= 200 {
                            return Ok(response);
                        }
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            // ICMP port unreachable from an earlier send: nobody listens yet.
                            | io::ErrorKind::ConnectionRefused
                    ) => {}
                Err(e) => return Err(e),
            }
        }
        if Instant::now() >= deadline {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no final response from {to} within {timeout:?}"),
            ));
        }
        interval = (interval * 2).min(T2);
    }
}

/// A unique-enough token for tags, branches and Call-IDs (no crypto needed here).
fn token() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    md5_hex(&format!("{nanos}-{}-{n}", std::process::id()))[..16].to_owned()
}
