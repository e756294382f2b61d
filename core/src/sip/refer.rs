//! Call transfer pieces: `Replaces` (RFC 3891), `Refer-To` with embedded Replaces
//! (RFC 3515 §2.1, RFC 5589 §7), and the `message/sipfrag` bodies of the implicit `refer`
//! subscription's NOTIFYs (RFC 3515 §2.4.5, RFC 3420).

use super::dialog::Dialog;
use super::header;
use super::name_addr::NameAddr;
use super::uri::{percent_encode, SipUri};

/// A Replaces header (RFC 3891 §6.1). The tags are seen from the recipient: `to_tag` is
/// its local tag, `from_tag` its remote tag (RFC 3891 §3, RFC 5589 §7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replaces {
    pub call_id: String,
    pub to_tag: String,
    pub from_tag: String,
    pub early_only: bool,
}

impl Replaces {
    pub fn parse(value: &str) -> Option<Replaces> {
        let (call_id, params) = value.split_once(';')?;
        let params = header::parse_params(params);
        let get = |n: &str| header::find_param(&params, n).and_then(|p| p.value.clone());
        Some(Replaces {
            call_id: call_id.trim().to_owned(),
            to_tag: get("to-tag")?,
            from_tag: get("from-tag")?,
            early_only: header::find_param(&params, "early-only").is_some(),
        })
    }

    /// The Replaces naming `dialog` for its remote party's benefit: their local tag is our
    /// remote tag.
    pub fn for_dialog(dialog: &Dialog) -> Replaces {
        Replaces {
            call_id: dialog.id.call_id.clone(),
            to_tag: dialog.id.remote_tag.clone(),
            from_tag: dialog.id.local_tag.clone(),
            early_only: false,
        }
    }

    /// Whether this names `dialog` as seen by us, the recipient.
    pub fn matches(&self, dialog: &Dialog) -> bool {
        self.call_id == dialog.id.call_id
            && self.to_tag == dialog.id.local_tag
            && self.from_tag == dialog.id.remote_tag
    }
}

impl std::fmt::Display for Replaces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{};to-tag={};from-tag={}",
            self.call_id, self.to_tag, self.from_tag
        )?;
        if self.early_only {
            f.write_str(";early-only")?;
        }
        Ok(())
    }
}

/// The Refer-To for an attended transfer: the consultation peer's contact with the
/// consultation dialog in an escaped Replaces URI header (RFC 5589 §7.1).
pub fn attended_refer_to(consult: &Dialog) -> NameAddr {
    let mut uri: SipUri = consult.remote_target.without_headers();
    uri.headers.push((
        "Replaces".into(),
        percent_encode(&Replaces::for_dialog(consult).to_string()),
    ));
    NameAddr::new(None, uri)
}

/// The status line of a `message/sipfrag` body: `SIP/2.0 180 Ringing`.
pub fn parse_sipfrag(body: &[u8]) -> Option<(u16, String)> {
    let text = std::str::from_utf8(body).ok()?;
    let line = text.lines().next()?.trim();
    let rest = line.strip_prefix("SIP/2.0 ")?;
    let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
    let code: u16 = code.parse().ok().filter(|c| (100..700).contains(c))?;
    Some((code, reason.trim().to_owned()))
}

pub fn sipfrag(code: u16, reason: &str) -> Vec<u8> {
    format!("SIP/2.0 {code} {reason}\r\n").into_bytes()
}

/// `Subscription-State` (RFC 6665 §8.2.3): whether the subscription has ended.
pub fn is_terminated(subscription_state: Option<&str>) -> bool {
    subscription_state
        .and_then(|s| s.split(';').next())
        .is_some_and(|s| s.trim().eq_ignore_ascii_case("terminated"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_round_trip_and_matching() {
        let r = Replaces::parse("425928@bobster.example.org;to-tag=7743;from-tag=6472").unwrap();
        assert_eq!(r.call_id, "425928@bobster.example.org");
        assert_eq!(r.to_tag, "7743");
        assert_eq!(r.from_tag, "6472");
        assert!(!r.early_only);
        assert_eq!(
            r.to_string(),
            "425928@bobster.example.org;to-tag=7743;from-tag=6472"
        );
        assert!(Replaces::parse("only-a-call-id").is_none());
        assert!(Replaces::parse("x;to-tag=1").is_none());
    }

    #[test]
    fn sipfrag_status() {
        assert_eq!(
            parse_sipfrag(b"SIP/2.0 100 Trying\r\n"),
            Some((100, "Trying".into()))
        );
        assert_eq!(parse_sipfrag(b"SIP/2.0 200 OK"), Some((200, "OK".into())));
        assert_eq!(parse_sipfrag(b"SIP/2.0 999 Nope"), None);
        assert_eq!(parse_sipfrag(b"garbage"), None);
        assert_eq!(
            sipfrag(503, "Service Unavailable"),
            b"SIP/2.0 503 Service Unavailable\r\n"
        );
    }

    #[test]
    fn subscription_state() {
        assert!(is_terminated(Some("terminated;reason=noresource")));
        assert!(!is_terminated(Some("active;expires=60")));
        assert!(!is_terminated(None));
    }
}
