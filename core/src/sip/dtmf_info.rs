//! DTMF in SIP INFO bodies, the fallback when RFC 4733 events were not negotiated. There is
//! no standard body; the two formats in use are `application/dtmf-relay` (Cisco, understood
//! by Asterisk, FreeSWITCH, Kamailio-based SBCs: `Signal=5\r\nDuration=160`) and
//! `application/dtmf` (a bare digit). RFC 6086 §9 lets each package define its body; these
//! are sent as legacy INFO usage without `Info-Package`.

use std::time::Duration;

/// The content type Parley sends.
pub const DTMF_RELAY: &str = "application/dtmf-relay";

/// Characters that are DTMF digits (RFC 4733 §3.2 events 0–15).
pub fn is_digit(c: char) -> bool {
    matches!(c, '0'..='9' | '*' | '#' | 'A'..='D' | 'a'..='d')
}

/// One digit from an INFO body, with its duration if the body gave one.
pub fn parse(content_type: &str, body: &[u8]) -> Option<(char, Option<Duration>)> {
    let text = std::str::from_utf8(body).ok()?;
    let media = content_type.split(';').next()?.trim();
    if media.eq_ignore_ascii_case(DTMF_RELAY) {
        let mut digit = None;
        let mut duration = None;
        for line in text.lines() {
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            match key.trim().to_ascii_lowercase().as_str() {
                "signal" => digit = value.trim().chars().next(),
                "duration" => duration = value.trim().parse().ok().map(Duration::from_millis),
                _ => {}
            }
        }
        digit
            .filter(|d| is_digit(*d))
            .map(|d| (d.to_ascii_uppercase(), duration))
    } else if media.eq_ignore_ascii_case("application/dtmf") {
        let trimmed = text.trim();
        let mut chars = trimmed.chars();
        match (chars.next(), chars.next()) {
            (Some(d), None) if is_digit(d) => Some((d.to_ascii_uppercase(), None)),
            _ => None,
        }
    } else {
        None
    }
}

/// The `application/dtmf-relay` body for one digit.
pub fn body(digit: char, duration: Duration) -> Vec<u8> {
    format!("Signal={}\r\nDuration={}\r\n", digit, duration.as_millis()).into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_formats() {
        assert_eq!(
            parse("application/dtmf-relay", b"Signal=5\r\nDuration=160\r\n"),
            Some(('5', Some(Duration::from_millis(160))))
        );
        assert_eq!(
            parse("Application/DTMF-Relay", b"Signal= #\nDuration=100"),
            Some(('#', Some(Duration::from_millis(100))))
        );
        assert_eq!(parse("application/dtmf", b"9\r\n"), Some(('9', None)));
        assert_eq!(parse("application/dtmf", b"99"), None);
        assert_eq!(parse("application/dtmf-relay", b"Signal=x"), None);
        assert_eq!(parse("text/plain", b"5"), None);
        assert_eq!(
            body('*', Duration::from_millis(160)),
            b"Signal=*\r\nDuration=160\r\n"
        );
    }
}
