//! Header access on rsip messages: lookup by name (case-insensitive, RFC 3261 §7.3.1),
//! comma-separated lists (§7.3.1: multiple values may share one line), and `;name=value`
//! parameters (§25.1 `generic-param`), quoting-aware.
//!
//! rsip stores headers it knows in typed variants and the rest as `Other`; the stack looks
//! every header up through [`name_value`], so both kinds are found the same way.

use rsip::headers::UntypedHeader;
use rsip::Header;

macro_rules! known_headers {
    ($($variant:ident => $name:literal),* $(,)?) => {
        /// The canonical name and the value of any header.
        pub fn name_value(header: &Header) -> (&str, &str) {
            match header {
                $(Header::$variant(h) => ($name, h.value()),)*
                Header::Other(name, value) => (name.as_str(), value.as_str()),
            }
        }

        /// Builds a header, using rsip's own variant where it has one so that the message is
        /// the same as one rsip parsed.
        pub fn make(name: &str, value: impl Into<String>) -> Header {
            $(if name.eq_ignore_ascii_case($name) {
                return Header::$variant(rsip::headers::$variant::new(value));
            })*
            Header::Other(name.to_owned(), value.into())
        }
    };
}

known_headers! {
    Accept => "Accept",
    AcceptEncoding => "Accept-Encoding",
    AcceptLanguage => "Accept-Language",
    AlertInfo => "Alert-Info",
    Allow => "Allow",
    AuthenticationInfo => "Authentication-Info",
    Authorization => "Authorization",
    CSeq => "CSeq",
    CallId => "Call-ID",
    CallInfo => "Call-Info",
    Contact => "Contact",
    ContentDisposition => "Content-Disposition",
    ContentEncoding => "Content-Encoding",
    ContentLanguage => "Content-Language",
    ContentLength => "Content-Length",
    ContentType => "Content-Type",
    Date => "Date",
    ErrorInfo => "Error-Info",
    Event => "Event",
    Expires => "Expires",
    From => "From",
    InReplyTo => "In-Reply-To",
    MaxForwards => "Max-Forwards",
    MimeVersion => "MIME-Version",
    MinExpires => "Min-Expires",
    Organization => "Organization",
    Priority => "Priority",
    ProxyAuthenticate => "Proxy-Authenticate",
    ProxyAuthorization => "Proxy-Authorization",
    ProxyRequire => "Proxy-Require",
    RecordRoute => "Record-Route",
    ReplyTo => "Reply-To",
    Require => "Require",
    RetryAfter => "Retry-After",
    Route => "Route",
    Server => "Server",
    Subject => "Subject",
    SubscriptionState => "Subscription-State",
    Supported => "Supported",
    Timestamp => "Timestamp",
    To => "To",
    Unsupported => "Unsupported",
    UserAgent => "User-Agent",
    Via => "Via",
    Warning => "Warning",
    WwwAuthenticate => "WWW-Authenticate",
}

/// Compact header names (RFC 3261 §7.3.3 and the RFCs that define them) and their long form.
pub fn expand_compact(name: &str) -> Option<&'static str> {
    let long = match name.to_ascii_lowercase().as_str() {
        "i" => "Call-ID",
        "m" => "Contact",
        "e" => "Content-Encoding",
        "l" => "Content-Length",
        "c" => "Content-Type",
        "f" => "From",
        "s" => "Subject",
        "k" => "Supported",
        "t" => "To",
        "v" => "Via",
        "o" => "Event",               // RFC 6665 §8.2.1
        "u" => "Allow-Events",        // RFC 6665 §8.2.2
        "r" => "Refer-To",            // RFC 3515 §2.1
        "b" => "Referred-By",         // RFC 3892 §3
        "x" => "Session-Expires",     // RFC 4028 §4
        "a" => "Accept-Contact",      // RFC 3841 §9.2
        "j" => "Reject-Contact",      // RFC 3841 §9.2
        "d" => "Request-Disposition", // RFC 3841 §9.1
        _ => return None,
    };
    Some(long)
}

/// Headers whose values may be combined into one line separated by commas (§7.3.1). Others
/// (Date, WWW-Authenticate, ...) contain commas inside one value and are never split.
const LIST_HEADERS: &[&str] = &[
    "Via",
    "Contact",
    "Route",
    "Record-Route",
    "Supported",
    "Require",
    "Proxy-Require",
    "Unsupported",
    "Allow",
    "Accept",
    "Allow-Events",
];

/// The values of every header called `name`, in order.
pub fn all<'a>(headers: &'a rsip::Headers, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    headers.iter().filter_map(move |h| {
        let (n, v) = name_value(h);
        n.eq_ignore_ascii_case(name).then_some(v.trim())
    })
}

/// The value of the first header called `name`.
pub fn first<'a>(headers: &'a rsip::Headers, name: &str) -> Option<&'a str> {
    headers.iter().find_map(|h| {
        let (n, v) = name_value(h);
        n.eq_ignore_ascii_case(name).then_some(v.trim())
    })
}

/// Every element of a list header, across all lines, split at top-level commas.
pub fn list<'a>(headers: &'a rsip::Headers, name: &'a str) -> Vec<&'a str> {
    let splittable = LIST_HEADERS.iter().any(|l| l.eq_ignore_ascii_case(name));
    all(headers, name)
        .flat_map(|v| {
            if splittable {
                split_top_level(v, ',')
            } else {
                vec![v]
            }
        })
        .filter(|v| !v.is_empty())
        .collect()
}

/// Whether an option-tag list header (Supported, Require, ...) contains `token`.
pub fn has_token(headers: &rsip::Headers, name: &str, token: &str) -> bool {
    list(headers, name)
        .iter()
        .any(|t| t.eq_ignore_ascii_case(token))
}

/// Removes every header called `name`.
pub fn remove(headers: &mut rsip::Headers, name: &str) {
    headers.retain(|h| !name_value(h).0.eq_ignore_ascii_case(name));
}

/// Splits at `sep` outside quoted strings and angle brackets, trimming each part.
pub fn split_top_level(s: &str, sep: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0u32;
    let mut quoted = false;
    let mut escaped = false;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '<' if !quoted => depth += 1,
            '>' if !quoted => depth = depth.saturating_sub(1),
            c if c == sep && !quoted && depth == 0 => {
                parts.push(s[start..i].trim());
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(s[start..].trim());
    parts
}

/// One `;name[=value]` parameter; quoted values are unquoted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    pub name: String,
    pub value: Option<String>,
}

/// Parses `;a=1;b;c="x y"` (leading `;` optional) into parameters.
pub fn parse_params(s: &str) -> Vec<Param> {
    split_top_level(s, ';')
        .into_iter()
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((n, v)) => Param {
                name: n.trim().to_owned(),
                value: Some(unquote(v.trim())),
            },
            None => Param {
                name: p.trim().to_owned(),
                value: None,
            },
        })
        .collect()
}

/// Finds a parameter by name (case-insensitive).
pub fn find_param<'a>(params: &'a [Param], name: &str) -> Option<&'a Param> {
    params.iter().find(|p| p.name.eq_ignore_ascii_case(name))
}

/// Removes the quotes and `\` escapes of a quoted-string (§25.1); other text is returned as is.
pub fn unquote(s: &str) -> String {
    match s.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        Some(inner) => {
            let mut out = String::with_capacity(inner.len());
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                if c == '\\' {
                    if let Some(n) = chars.next() {
                        out.push(n);
                    }
                } else {
                    out.push(c);
                }
            }
            out
        }
        None => s.to_owned(),
    }
}

/// Quotes a string for use as a quoted-string (§25.1), escaping `"` and `\`.
pub fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Formats parameters back as `;a=1;b`.
pub fn format_params(params: &[Param]) -> String {
    let mut out = String::new();
    for p in params {
        out.push(';');
        out.push_str(&p.name);
        if let Some(v) = &p.value {
            out.push('=');
            if v.is_empty() || v.chars().any(|c| !is_token_char(c)) {
                out.push_str(&quote(v));
            } else {
                out.push_str(v);
            }
        }
    }
    out
}

/// `token` characters of §25.1.
pub fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-.!%*_+`'~".contains(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(lines: &[(&str, &str)]) -> rsip::Headers {
        lines
            .iter()
            .map(|(n, v)| make(n, *v))
            .collect::<Vec<_>>()
            .into()
    }

    #[test]
    fn lookup_is_case_insensitive_for_typed_and_other_headers() {
        let h = headers(&[("call-id", "abc"), ("X-Customer-Id", "42")]);
        assert!(matches!(h.iter().next(), Some(Header::CallId(_))));
        assert_eq!(first(&h, "Call-ID"), Some("abc"));
        assert_eq!(first(&h, "x-customer-id"), Some("42"));
    }

    #[test]
    fn list_splits_only_list_headers() {
        let h = headers(&[
            ("Supported", "timer, 100rel"),
            ("Supported", "replaces"),
            ("Date", "Sat, 13 Nov 2010 23:29:00 GMT"),
            ("Contact", "\"A, B\" <sip:a@b>;q=0.5, <sip:c@d>"),
        ]);
        assert_eq!(list(&h, "supported"), vec!["timer", "100rel", "replaces"]);
        assert_eq!(list(&h, "Date").len(), 1);
        assert_eq!(
            list(&h, "Contact"),
            vec!["\"A, B\" <sip:a@b>;q=0.5", "<sip:c@d>"]
        );
        assert!(has_token(&h, "Supported", "100REL"));
    }

    #[test]
    fn params_with_quotes() {
        let p = parse_params(";tag=1 ; foo=\"a;b\\\"c\";lr");
        assert_eq!(find_param(&p, "TAG").unwrap().value.as_deref(), Some("1"));
        assert_eq!(
            find_param(&p, "foo").unwrap().value.as_deref(),
            Some("a;b\"c")
        );
        assert_eq!(find_param(&p, "lr").unwrap().value, None);
        assert_eq!(format_params(&p), ";tag=1;foo=\"a;b\\\"c\";lr");
    }

    #[test]
    fn compact_forms() {
        assert_eq!(expand_compact("V"), Some("Via"));
        assert_eq!(expand_compact("x"), Some("Session-Expires"));
        assert_eq!(expand_compact("Via"), None);
    }
}
