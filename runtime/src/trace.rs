//! SIP message tracing for the logs: one line per message at debug level, the whole message
//! at trace level. Authorization headers carry digest responses, which could be attacked
//! offline, so their values are replaced (DESIGN: secrets never logged).

use std::net::SocketAddr;

/// The log filter of Parley's programs: `RUST_LOG`, else `default`. The PulseAudio client
/// logs every protocol message (hundreds a second during a call) at debug level, which
/// would drown Parley's own debug log, so it is capped at info unless `RUST_LOG` names it.
pub fn filter(default: &str) -> tracing_subscriber::EnvFilter {
    let wanted = std::env::var("RUST_LOG").unwrap_or_else(|_| default.to_owned());
    let quiet_pulse = if wanted.contains("pulseaudio") {
        ""
    } else {
        ",pulseaudio=info"
    };
    tracing_subscriber::EnvFilter::try_new(format!("{wanted}{quiet_pulse}"))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default))
}

/// Headers whose values are never logged.
const REDACTED: &[&str] = &["authorization", "proxy-authorization"];

/// Logs a message sent to or received from `peer`.
pub fn message(direction: &'static str, peer: SocketAddr, bytes: &[u8]) {
    if !tracing::enabled!(tracing::Level::DEBUG) {
        return;
    }
    let text = String::from_utf8_lossy(bytes);
    let mut lines = text.lines();
    let first = lines.next().unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .take_while(|l| !l.is_empty())
            .find_map(|l| {
                let (n, v) = l.split_once(':')?;
                n.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| v.trim().to_owned())
            })
            .unwrap_or_default()
    };
    tracing::debug!(%direction, %peer, call_id = %field("Call-ID"), cseq = %field("CSeq"), "{first}");
    if tracing::enabled!(tracing::Level::TRACE) {
        tracing::trace!(%direction, %peer, "\n{}", redact(&text));
    }
}

/// The message with the values of credential headers replaced.
pub fn redact(text: &str) -> String {
    text.split("\r\n")
        .map(|line| match line.split_once(':') {
            Some((name, _)) if REDACTED.contains(&name.trim().to_ascii_lowercase().as_str()) => {
                format!("{name}: <redacted>")
            }
            _ => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\r\n")
}

#[cfg(test)]
mod tests {
    #[test]
    fn credentials_are_redacted() {
        let text = "REGISTER sip:a SIP/2.0\r\nAuthorization: Digest username=\"u\", response=\"abc\"\r\nproxy-authorization : x\r\nVia: v\r\n\r\n";
        let out = super::redact(text);
        assert!(!out.contains("abc"));
        assert!(out.contains("Authorization: <redacted>"));
        assert!(out.contains("proxy-authorization : <redacted>"));
        assert!(out.contains("Via: v"));
    }
}
