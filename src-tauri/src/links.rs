//! Click-to-dial links (DESIGN §2). The OS starts Parley with the link as an argument; a
//! second start hands its arguments to the running instance (single-instance plugin), so
//! every link arrives here. A link is parsed as hostile input ([`parley_core::link`]):
//! refused with a reason, or, as the agent chose, dialled at once or shown for
//! confirmation. Nothing of a refused link is dialled.

use crate::preferences::LinkAction;
use crate::session::Shell;
use crate::tray;
use parley_core::link::{self, LinkError};
use parley_runtime::protocol::{Command, Outcome};
use serde::Serialize;
use tauri::{AppHandle, Emitter, Manager};

/// Longest part of a link shown back to the agent.
const SHOWN: usize = 120;

/// A link waiting for the agent's confirmation (`link-opened`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct LinkOffer {
    /// The link as received, made safe to show.
    pub link: String,
    /// What would be dialled: a normalised number or a SIP address.
    pub target: String,
}

/// A link that was dialled at once (`link-dialled`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct LinkDialled {
    pub link: String,
    pub target: String,
    pub call: String,
}

/// A link that was refused (`link-refused`): `code` is `link_<reason>` (translated by the
/// window), or the dial error's code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ts_rs::TS)]
pub struct LinkRefused {
    pub link: String,
    pub code: String,
    pub message: String,
}

/// The arguments that are links: anything with a scheme, that is, not an option.
pub fn in_arguments(args: impl IntoIterator<Item = String>) -> Vec<String> {
    args.into_iter()
        .skip(1)
        .filter(|a| {
            !a.starts_with('-')
                && a.split_once(':')
                    .is_some_and(|(s, _)| !s.is_empty() && !s.contains('/'))
        })
        .collect()
}

/// The link made safe to show and log: a password in it hidden, control and invisible
/// formatting characters replaced, and cut to a readable length.
fn shown(link: &str) -> String {
    let mut out: String = redact_password(link)
        .chars()
        .take(SHOWN)
        .map(|c| if link::is_forbidden(c) { '\u{FFFD}' } else { c })
        .collect();
    if link.chars().count() > SHOWN {
        out.push('…');
    }
    out
}

/// Handles a link the OS handed to Parley; one that comes before the window listens is
/// held until it does.
pub fn opened(app: &AppHandle, raw: String) {
    tray::show_window(app);
    if app.state::<Shell>().hold_link(&raw) {
        return;
    }
    let link = shown(&raw);
    let target = match link::parse(&raw) {
        Ok(t) => t,
        Err(e) => return refuse(app, &link, &e),
    };
    tracing::info!(%target, "click-to-dial link");
    let target = target.to_string();
    let action = app.state::<Shell>().preferences().link_action;
    match action {
        LinkAction::Confirm => {
            let _ = app.emit("link-opened", LinkOffer { link, target });
        }
        LinkAction::Dial => {
            let app = app.clone();
            tauri::async_runtime::spawn(async move {
                let shell = app.state::<Shell>();
                match shell
                    .request(Command::Dial {
                        to: target.clone(),
                        headers: Default::default(),
                    })
                    .await
                {
                    Ok(Outcome::Call(call)) => {
                        let _ = app.emit("link-dialled", LinkDialled { link, target, call });
                    }
                    Ok(_) => {}
                    Err(e) => {
                        let _ = app.emit(
                            "link-refused",
                            LinkRefused {
                                link,
                                code: e.code,
                                message: e.message,
                            },
                        );
                    }
                }
            });
        }
    }
}

fn refuse(app: &AppHandle, link: &str, error: &LinkError) {
    tracing::warn!(link, reason = %error, "refused a link");
    let _ = app.emit(
        "link-refused",
        LinkRefused {
            link: link.to_owned(),
            code: format!("link_{}", error.code()),
            message: error.to_string(),
        },
    );
}

/// `scheme:user:password@host...` with the password replaced (RFC 3261 §19.1.1 allows one
/// in a SIP URI, RFC 3986 §3.2.1 deprecates it).
fn redact_password(link: &str) -> String {
    let Some((scheme, rest)) = link.split_once(':') else {
        return link.to_owned();
    };
    let rest_start = rest.trim_start_matches('/');
    let slashes = &rest[..rest.len() - rest_start.len()];
    match rest_start.split_once('@') {
        Some((userinfo, host)) if userinfo.contains(':') => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{scheme}:{slashes}{user}:***@{host}")
        }
        _ => link.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_found_among_the_arguments() {
        let args = [
            "parley",
            "--verbose",
            "tel:+4930123",
            "/tmp/file",
            "notes",
            "sip:a@b",
        ]
        .map(String::from);
        assert_eq!(in_arguments(args), ["tel:+4930123", "sip:a@b"]);
    }

    #[test]
    fn hostile_text_is_shown_defused() {
        assert_eq!(shown("tel:1\u{202E}2\n3"), "tel:1\u{FFFD}2\u{FFFD}3");
        let long = format!("tel:{}", "9".repeat(500));
        assert_eq!(shown(&long).chars().count(), SHOWN + 1);
        assert_eq!(
            shown("sip:bob:s3cret@example.com"),
            "sip:bob:***@example.com"
        );
        assert_eq!(shown("callto://bob:pw@x/"), "callto://bob:***@x/");
        assert_eq!(shown("tel:+4930"), "tel:+4930");
    }
}
