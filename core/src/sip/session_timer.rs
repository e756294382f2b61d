//! Session timers (RFC 4028): both ends agree on an interval and on who refreshes the
//! session (re-INVITE or UPDATE at half the interval, §10); the other end sends BYE if no
//! refresh came shortly before the interval ends.

use super::header;
use super::message::{Request, Response};
use std::time::Duration;

/// Who sends the refreshes (§4, `refresher` parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresher {
    Uac,
    Uas,
}

/// An agreed session timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTimer {
    pub interval: u32,
    pub refresher: Refresher,
}

/// A parsed `Session-Expires` value (§4: `delta-seconds *(;se-params)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionExpires {
    pub interval: u32,
    pub refresher: Option<Refresher>,
}

impl SessionExpires {
    pub fn parse(value: &str) -> Option<SessionExpires> {
        let (delta, params) = value.split_once(';').unwrap_or((value, ""));
        let interval = delta.trim().parse().ok()?;
        let params = header::parse_params(params);
        let refresher = header::find_param(&params, "refresher")
            .and_then(|p| p.value.as_deref())
            .and_then(|v| match v.to_ascii_lowercase().as_str() {
                "uac" => Some(Refresher::Uac),
                "uas" => Some(Refresher::Uas),
                _ => None,
            });
        Some(SessionExpires {
            interval,
            refresher,
        })
    }

    pub fn from_headers(headers: &rsip::Headers) -> Option<SessionExpires> {
        header::first(headers, "Session-Expires").and_then(Self::parse)
    }
}

impl SessionTimer {
    pub fn header_value(&self) -> String {
        let who = match self.refresher {
            Refresher::Uac => "uac",
            Refresher::Uas => "uas",
        };
        format!("{};refresher={who}", self.interval)
    }

    /// When the refresher sends its refresh: half the interval (§10).
    pub fn refresh_after(&self) -> Duration {
        Duration::from_secs(u64::from(self.interval) / 2)
    }

    /// When the other side gives up: the interval minus the lesser of 32 s and a third of
    /// it (§10).
    pub fn expire_after(&self) -> Duration {
        let i = u64::from(self.interval);
        Duration::from_secs(i - (i / 3).min(32))
    }

    /// Whether we refresh, given whether we are the UAC of the INVITE that set it up.
    pub fn we_refresh(&self, we_are_uac: bool) -> bool {
        (self.refresher == Refresher::Uac) == we_are_uac
    }
}

/// What a UAS decides for an incoming INVITE (§9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UasDecision {
    /// No session timer: the UAC did not ask and we do not want one.
    None,
    /// Answer 422 with our Min-SE (§9: the interval is below what we accept).
    TooSmall { min_se: u32 },
    /// Use this timer; put it in the 2xx with `Require: timer` if the UAC supports it.
    Use(SessionTimer),
}

/// §9: a UAS accepts the UAC's interval unless below our Min-SE; if the UAC named no
/// refresher, the UAS picks: the UAC when it supports timers, else itself. If the UAC did
/// not ask but supports timers and we want one, we may insert it (§9 last paragraphs).
pub fn uas_decide(request: &Request, want: Option<u32>, min_se: u32) -> UasDecision {
    let supported = header::has_token(request.headers(), "Supported", "timer");
    match SessionExpires::from_headers(request.headers()) {
        Some(se) if se.interval < min_se => UasDecision::TooSmall { min_se },
        Some(se) => UasDecision::Use(SessionTimer {
            interval: se.interval,
            refresher: se.refresher.unwrap_or(if supported {
                Refresher::Uac
            } else {
                Refresher::Uas
            }),
        }),
        None => match want {
            Some(interval) if supported => UasDecision::Use(SessionTimer {
                interval: interval.max(min_se),
                refresher: Refresher::Uac,
            }),
            Some(interval) => UasDecision::Use(SessionTimer {
                interval: interval.max(min_se),
                refresher: Refresher::Uas,
            }),
            None => UasDecision::None,
        },
    }
}

/// §7.2: what the UAC takes from the 2xx. A 2xx without Session-Expires means the UAS does
/// not do session timers; if we asked for one, we refresh ourselves (§7.2 last paragraph)
/// so that a proxy that inserted one is served.
pub fn uac_accept(response: &Response, asked: Option<u32>) -> Option<SessionTimer> {
    match SessionExpires::from_headers(response.headers()) {
        Some(se) => Some(SessionTimer {
            interval: se.interval,
            refresher: se.refresher.unwrap_or(Refresher::Uac),
        }),
        None => asked.map(|interval| SessionTimer {
            interval,
            refresher: Refresher::Uac,
        }),
    }
}

/// The headers of our 2xx to a request that negotiated `timer` (RFC 4028 §9): Supported
/// (`supported`), Session-Expires, and `Require: timer` when the peer supports timers.
pub fn response_headers(
    supported: String,
    timer: Option<SessionTimer>,
    request: &Request,
) -> Vec<rsip::Header> {
    let mut headers = vec![header::make("Supported", supported)];
    if let Some(t) = timer {
        headers.push(header::make("Session-Expires", t.header_value()));
        if header::has_token(request.headers(), "Supported", "timer") {
            headers.push(header::make("Require", "timer"));
        }
    }
    headers
}

/// The Min-SE of a 422 response (§7.4: retry with at least this interval).
pub fn min_se(response: &Response) -> Option<u32> {
    response
        .header("Min-SE")
        .and_then(|v| v.split(';').next())
        .and_then(|v| v.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_session_expires() {
        assert_eq!(
            SessionExpires::parse("1800;refresher=UAS"),
            Some(SessionExpires {
                interval: 1800,
                refresher: Some(Refresher::Uas)
            })
        );
        assert_eq!(
            SessionExpires::parse(" 90 ").map(|s| s.refresher),
            Some(None)
        );
        assert_eq!(SessionExpires::parse("soon"), None);
    }

    #[test]
    fn timing() {
        let t = SessionTimer {
            interval: 90,
            refresher: Refresher::Uac,
        };
        assert_eq!(t.refresh_after(), Duration::from_secs(45));
        assert_eq!(t.expire_after(), Duration::from_secs(60));
        let long = SessionTimer {
            interval: 1800,
            refresher: Refresher::Uas,
        };
        assert_eq!(long.expire_after(), Duration::from_secs(1768));
        assert!(long.we_refresh(false));
        assert!(!long.we_refresh(true));
        assert_eq!(long.header_value(), "1800;refresher=uas");
    }
}
