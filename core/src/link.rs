//! Click-to-dial links (DESIGN §2): `tel:` (RFC 3966), `sip:`/`sips:` (RFC 3261 §19.1),
//! `callto:` (de-facto: Skype, Teams, CRMs) and `parley:` (our own, `parley:dial?to=...`).
//!
//! A link comes from a web page, so it is hostile until proven otherwise: it is parsed into
//! a dial target or refused with a reason, never passed on as text. What is refused: other
//! schemes, control characters and bidi overrides, anything but a phone number or a plain
//! SIP address (no URI headers, which could inject SIP headers, no parameters beyond the
//! few that are harmless), and oversized input.

use crate::sip::uri::{percent_decode, SipUri};
use std::fmt;

/// Longest link accepted: far above any phone number or SIP address.
const MAX_LINK: usize = 512;

/// Why a link is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("the link is too long")]
    TooLong,
    #[error("the link contains control or invisible formatting characters")]
    ControlCharacters,
    #[error("links of the kind {0:?} are not handled (tel:, sip:, sips:, callto:, parley:)")]
    Scheme(String),
    #[error("the link has no number or address")]
    Empty,
    #[error("{0:?} is not a phone number")]
    Number(String),
    #[error("the SIP address is not valid: {0}")]
    Sip(String),
    #[error("the SIP address carries headers or parameters that are not allowed ({0})")]
    Unsafe(String),
    #[error("the parley: link is not understood (expected parley:dial?to=...)")]
    Parley,
}

impl LinkError {
    /// A stable name for the reason, for translated messages.
    pub fn code(&self) -> &'static str {
        match self {
            LinkError::TooLong => "too_long",
            LinkError::ControlCharacters => "control_characters",
            LinkError::Scheme(_) => "scheme",
            LinkError::Empty => "empty",
            LinkError::Number(_) => "number",
            LinkError::Sip(_) => "sip",
            LinkError::Unsafe(_) => "unsafe",
            LinkError::Parley => "parley",
        }
    }
}

/// What a link asks to call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DialTarget {
    /// A phone number: `+` and digits for a global number (E.164), digits (and `*`, `#`)
    /// for a local one or an extension.
    Number(String),
    /// A SIP or SIPS address without headers.
    Sip(SipUri),
}

impl fmt::Display for DialTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DialTarget::Number(n) => f.write_str(n),
            DialTarget::Sip(u) => write!(f, "{u}"),
        }
    }
}

/// Parses a link the OS handed to Parley.
pub fn parse(link: &str) -> Result<DialTarget, LinkError> {
    let link = link.trim();
    if link.len() > MAX_LINK {
        return Err(LinkError::TooLong);
    }
    if link.chars().any(is_forbidden) {
        return Err(LinkError::ControlCharacters);
    }
    let (scheme, rest) = link
        .split_once(':')
        .ok_or_else(|| LinkError::Scheme(link.chars().take(16).collect()))?;
    match scheme.to_ascii_lowercase().as_str() {
        "tel" => tel(rest),
        "callto" => callto(rest),
        "sip" | "sips" => sip(link),
        "parley" => parley(rest),
        other => Err(LinkError::Scheme(other.chars().take(16).collect())),
    }
}

/// Parses what an agent typed or pasted into the number field: a number in any common
/// format, or a SIP address.
pub fn parse_typed(input: &str) -> Result<DialTarget, LinkError> {
    let input = input.trim();
    if input.contains(':') {
        return parse(input);
    }
    if input.contains('@') {
        return sip(&format!("sip:{input}"));
    }
    number(input)
}

/// Control characters, and the Unicode formatting characters used to disguise text
/// (bidi overrides, zero-width joiners).
pub fn is_forbidden(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

/// RFC 3966: `tel:+49-30-1234;phone-context=...`. A local number whose phone-context is a
/// global prefix is completed (§5.1.5); other parameters, `ext` included (an extension is
/// keyed as DTMF once connected), are dropped.
fn tel(rest: &str) -> Result<DialTarget, LinkError> {
    let decoded = percent_decode(rest);
    let mut parts = decoded.split(';');
    let number_part = parts.next().unwrap_or_default();
    let context = parts.find_map(|p| {
        p.split_once('=')
            .filter(|(k, _)| k.eq_ignore_ascii_case("phone-context"))
            .map(|(_, v)| v.to_owned())
    });
    let target = number(number_part)?;
    match (target, context) {
        (DialTarget::Number(n), Some(ctx)) if !n.starts_with('+') && ctx.starts_with('+') => {
            let prefix: String = ctx
                .chars()
                .filter(|c| c.is_ascii_digit() || *c == '+')
                .collect();
            // The context comes from the link too: the whole number is checked again.
            number(&format!("{prefix}{n}"))
        }
        (target, _) => Ok(target),
    }
}

/// `callto:+4930123` or `callto://+4930123/` (Skype's form), or a SIP-like `user@host`.
fn callto(rest: &str) -> Result<DialTarget, LinkError> {
    let rest = rest.trim_start_matches("//").trim_end_matches('/');
    let decoded = percent_decode(rest);
    if decoded.contains('@') {
        return sip(&format!("sip:{decoded}"));
    }
    number(&decoded)
}

/// `parley:dial?to=<percent-encoded number or SIP address>`.
fn parley(rest: &str) -> Result<DialTarget, LinkError> {
    let rest = rest.trim_start_matches("//");
    let (action, query) = rest.split_once('?').ok_or(LinkError::Parley)?;
    if !action.trim_end_matches('/').eq_ignore_ascii_case("dial") {
        return Err(LinkError::Parley);
    }
    let to = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("to="))
        .ok_or(LinkError::Parley)?;
    parse_typed(&percent_decode(to))
}

/// URI parameters harmless to keep in a SIP address from a link (RFC 3261 §19.1.1).
const SAFE_SIP_PARAMS: &[&str] = &["user", "transport"];

/// Characters a user part from a link may hold: RFC 3261 §25.1 `unreserved` and the
/// harmless `user-unreserved`; not `;`, `?` or `/`, nor anything that would need escaping
/// (a `>` would end the name-addr it is printed in).
fn is_link_user_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-_.!~*'()+&=$,".contains(c)
}

/// A SIP address from a link, often percent-decoded on the way here: checked again for
/// disguising characters, and its user part limited to [`is_link_user_char`].
fn sip(text: &str) -> Result<DialTarget, LinkError> {
    if text.chars().any(is_forbidden) {
        return Err(LinkError::ControlCharacters);
    }
    let uri: SipUri = text
        .parse()
        .map_err(|e: crate::sip::uri::UriError| LinkError::Sip(e.to_string()))?;
    if !uri.headers.is_empty() {
        // `?Subject=...&Replaces=...` in a link could make us send headers of the page's
        // choosing (RFC 3261 §19.1.5 warns about this).
        return Err(LinkError::Unsafe("URI headers".into()));
    }
    if let Some((name, _)) = uri
        .params
        .iter()
        .find(|(n, _)| !SAFE_SIP_PARAMS.iter().any(|s| s.eq_ignore_ascii_case(n)))
    {
        return Err(LinkError::Unsafe(format!("parameter {name}")));
    }
    if uri.password.is_some() {
        return Err(LinkError::Unsafe("a password".into()));
    }
    match uri.user.as_deref() {
        None | Some("") => Err(LinkError::Empty),
        Some(user) if !user.chars().all(is_link_user_char) => Err(LinkError::Unsafe(format!(
            "the characters of the user {user:?}"
        ))),
        Some(_) => Ok(DialTarget::Sip(uri)),
    }
}

/// A phone number in any of the forms people write them: visual separators (space, `-`,
/// `.`, `/`, parentheses, RFC 3966 §5.1.1) are dropped, `00` international prefix becomes
/// `+`, and a `+` is kept only in front.
pub fn number(text: &str) -> Result<DialTarget, LinkError> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(LinkError::Empty);
    }
    let mut out = String::new();
    for (i, c) in trimmed.chars().enumerate() {
        match c {
            '0'..='9' | '*' | '#' => out.push(c),
            '+' if i == 0 => out.push('+'),
            ' ' | '-' | '.' | '/' | '(' | ')' | '\u{00A0}' => {}
            _ => return Err(LinkError::Number(trimmed.chars().take(40).collect())),
        }
    }
    if let Some(international) = out.strip_prefix("00") {
        out = format!("+{international}");
    }
    let digits = out.chars().filter(char::is_ascii_digit).count();
    if digits == 0 || out.len() > 32 || (out.starts_with('+') && !(4..=15).contains(&digits)) {
        return Err(LinkError::Number(trimmed.chars().take(40).collect()));
    }
    Ok(DialTarget::Number(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn num(s: &str) -> DialTarget {
        DialTarget::Number(s.into())
    }

    #[test]
    fn tel_links() {
        assert_eq!(parse("tel:+49-30-123456"), Ok(num("+4930123456")));
        assert_eq!(parse("TEL:+1 (555) 010-9999"), Ok(num("+15550109999")));
        assert_eq!(parse("tel:%2B4930123"), Ok(num("+4930123")));
        assert_eq!(parse("tel:7042;phone-context=+1-555"), Ok(num("+15557042")));
        assert_eq!(parse("tel:7042;phone-context=example.com"), Ok(num("7042")));
        assert_eq!(parse("tel:+4930123;ext=22"), Ok(num("+4930123")));
    }

    #[test]
    fn other_link_forms() {
        assert_eq!(parse("callto:+4930123456"), Ok(num("+4930123456")));
        assert_eq!(parse("callto://+4930123456/"), Ok(num("+4930123456")));
        assert_eq!(
            parse("sip:bob@example.com").map(|t| t.to_string()),
            Ok("sip:bob@example.com".into())
        );
        assert_eq!(
            parse("sips:bob@example.com;transport=tls").map(|t| t.to_string()),
            Ok("sips:bob@example.com;transport=tls".into())
        );
        assert_eq!(parse("parley:dial?to=%2B4930123"), Ok(num("+4930123")));
        assert_eq!(
            parse("parley://dial?to=sip%3Aalice%40example.org").map(|t| t.to_string()),
            Ok("sip:alice@example.org".into())
        );
    }

    #[test]
    fn typed_numbers() {
        assert_eq!(parse_typed("0049 30 123456"), Ok(num("+4930123456")));
        assert_eq!(parse_typed(" 030/123 45-6 "), Ok(num("030123456")));
        assert_eq!(parse_typed("2000"), Ok(num("2000")));
        assert_eq!(parse_typed("*21#"), Ok(num("*21#")));
        assert_eq!(
            parse_typed("alice@example.org").map(|t| t.to_string()),
            Ok("sip:alice@example.org".into())
        );
        assert!(parse_typed("").is_err());
        assert!(parse_typed("call me").is_err());
        assert!(parse_typed("+12").is_err(), "too short for E.164");
        assert!(
            parse_typed("+1234567890123456").is_err(),
            "too long for E.164"
        );
    }

    #[test]
    fn hostile_links_are_refused() {
        let refused = [
            "javascript:alert(1)",
            "http://example.com",
            "file:///etc/passwd",
            "tel:+49;<script>",
            "tel:+4930\u{202E}123",
            "tel:+4930\n123",
            "sip:bob@example.com?Subject=hi",
            "sip:bob@example.com?Replaces=abc%3Bto-tag%3D1",
            "sip:bob@example.com;maddr=203.0.113.9",
            "sip:bob:pw@example.com",
            "sip:@example.com",
            "sip:bob@exa mple.com",
            "tel:",
            "parley:hangup?call=c1",
            "parley:dial",
            "callto:rm -rf",
            // Percent-encoded disguises and injections, decoded on the way.
            "callto:%E2%80%AE1234@example.com",
            "callto:bob%3E%3Bx%3Dy@example.com",
            "callto:bob%0D%0AVia:%20x@example.com",
            "parley:dial?to=bob%3E@example.com",
            "parley:dial?to=%E2%80%AE%2B4930123",
            // A phone-context that makes the number invalid.
            "tel:1;phone-context=+1+2",
        ];
        for link in refused {
            assert!(parse(link).is_err(), "{link:?} must be refused");
        }
        assert_eq!(
            parse(&format!("tel:+{}", "1".repeat(600))),
            Err(LinkError::TooLong)
        );
        let long_context = format!("tel:1234;phone-context=+{}", "5".repeat(400));
        assert!(matches!(parse(&long_context), Err(LinkError::Number(_))));
    }

    proptest::proptest! {
        #[test]
        fn never_panics(s in "\\PC*") {
            let _ = parse(&s);
            let _ = parse_typed(&s);
        }

        /// Whatever is accepted prints as text without control characters.
        #[test]
        fn accepted_targets_are_clean(s in "(tel|sip|callto|parley):\\PC{0,40}") {
            if let Ok(t) = parse(&s) {
                proptest::prop_assert!(!t.to_string().chars().any(is_forbidden));
            }
        }

        /// Percent-encoded bytes in the address are decoded, then checked: nothing that
        /// could break out of a header or disguise the number gets through.
        #[test]
        fn decoded_addresses_stay_clean(
            bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..24),
            scheme in "(callto:|parley:dial\\?to=)",
        ) {
            let encoded: String = bytes.iter().map(|b| format!("%{b:02X}")).collect();
            if let Ok(t) = parse(&format!("{scheme}{encoded}%40example.com")) {
                let shown = t.to_string();
                proptest::prop_assert!(
                    !shown.chars().any(|c| is_forbidden(c) || "<>\"\r\n ".contains(c)),
                    "{shown:?}"
                );
            }
        }
    }
}
