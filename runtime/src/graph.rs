//! Microsoft Graph for presence sync (DESIGN §6): the requests [`PresenceSync`] asks for,
//! made over HTTPS with a delegated access token that a refresh token renews.
//!
//! - Tokens: `POST {login}/{tenant}/oauth2/v2.0/token` with `grant_type=refresh_token`.
//!   Refresh tokens rotate on every use (Microsoft identity platform: "refresh tokens
//!   replace themselves with a fresh token upon every use"), so the new one replaces the
//!   old at once and is handed to the owner to store (the OS keychain); the access token
//!   stays in memory and is renewed five minutes before it expires, or after a 401.
//! - `GET /me/presence`, `POST /users/{id}/presence/setPresence` with our client id as the
//!   `sessionId`, and `clearPresence`, where a 404 (no such session) is success.
//! - Outcomes are classified for the sync: 429 with `Retry-After` (seconds) is
//!   [`Failure::Throttled`], 5xx and the network [`Failure::Unavailable`], and what a person
//!   must fix (`invalid_grant`, `interaction_required`, `consent_required`, 403) is
//!   [`Failure::Denied`] with a message that says what to do.
//!
//! Base URLs are configurable for sovereign clouds and tests; plain `http:` is accepted
//! only for loopback addresses, so that a token never crosses a network unencrypted.
//!
//! [`PresenceSync`]: parley_core::presence::PresenceSync

use crate::protocol::Colleague;
use parley_core::presence::{Activity, Availability, Failure, Reading, SessionActivity};
use serde::Deserialize;
use std::time::{Duration, Instant};

/// The public Microsoft cloud.
pub const DEFAULT_GRAPH_URL: &str = "https://graph.microsoft.com/v1.0";
pub const DEFAULT_LOGIN_URL: &str = "https://login.microsoftonline.com";
/// What presence sync needs; `offline_access` for a refresh token.
pub const SCOPES: &str = "offline_access Presence.Read Presence.ReadWrite";
/// Presence sync and the colleagues directory: `User.ReadBasic.All` to search users (their
/// names, mail, job title and phone numbers), `Presence.Read.All` for their presence.
pub const SCOPES_WITH_DIRECTORY: &str =
    "offline_access Presence.Read Presence.ReadWrite User.ReadBasic.All Presence.Read.All";
/// The permissions each kind of request needs, for the message when Graph answers 403.
const PRESENCE_PERMISSIONS: &str = "Presence.Read and Presence.ReadWrite";
const DIRECTORY_PERMISSIONS: &str = "User.ReadBasic.All and Presence.Read.All";
/// `getPresencesByUserId` takes at most this many ids per request.
pub const PRESENCE_BATCH: usize = 650;
/// Directory matches shown for one search.
const SEARCH_TOP: usize = 25;

/// Renew the access token this long before it expires.
const RENEW_EARLY: Duration = Duration::from_secs(300);
/// No Graph request may take longer (a hung server must not stall the sync).
const TIMEOUT: Duration = Duration::from_secs(15);

/// Where and as whom to talk to Graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphSettings {
    pub graph_url: String,
    pub login_url: String,
    /// Directory (tenant) id or domain, or `organizations`.
    pub tenant: String,
    /// The application (client) id of Parley's app registration; also our presence
    /// `sessionId` (Graph: "provide the ID of the application as sessionId").
    pub client_id: String,
    /// The colleagues directory is offered (its permissions are asked for at sign-in).
    pub directory: bool,
}

impl GraphSettings {
    /// The scopes to ask for at sign-in and on every token renewal.
    pub fn scopes(&self) -> &'static str {
        if self.directory {
            SCOPES_WITH_DIRECTORY
        } else {
            SCOPES
        }
    }
}

/// Why settings are unusable.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GraphSettingsError {
    #[error("{url}: not a URL ({problem})")]
    Url { url: String, problem: String },
    #[error("{0}: only https is allowed (plain http only to a loopback address)")]
    Insecure(String),
    #[error("the TLS configuration: {0}")]
    Tls(String),
}

#[derive(Deserialize)]
pub(crate) struct TokenResponse {
    pub(crate) access_token: String,
    pub(crate) refresh_token: Option<String>,
    pub(crate) expires_in: u64,
}

/// An error answer of the Microsoft identity platform (RFC 6749 §5.2).
#[derive(Deserialize)]
pub(crate) struct OAuthError {
    pub(crate) error: String,
    #[serde(default)]
    pub(crate) error_description: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PresenceBody {
    id: String,
    availability: String,
    activity: String,
    sequence_number: Option<String>,
}

/// A user as `GET /users` lists them (the properties `User.ReadBasic.All` may read).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserBody {
    id: String,
    display_name: Option<String>,
    mail: Option<String>,
    job_title: Option<String>,
    #[serde(default)]
    business_phones: Vec<String>,
    mobile_phone: Option<String>,
}

#[derive(Deserialize)]
struct Page<T> {
    value: Vec<T>,
}

/// A Graph client of one signed-in user.
pub struct GraphClient {
    http: reqwest::Client,
    settings: GraphSettings,
    refresh_token: String,
    /// A refresh token issued since the owner last took one.
    rotated: Option<String>,
    access: Option<(String, Instant)>,
    /// The user's object id, from the first presence reading (setPresence needs it).
    user_id: Option<String>,
}

impl GraphClient {
    /// A client that signs in with `refresh_token`; `extra_ca` is trusted besides the
    /// system's and Mozilla's roots.
    pub fn new(
        settings: GraphSettings,
        refresh_token: String,
        extra_ca: Option<&std::path::Path>,
    ) -> Result<Self, GraphSettingsError> {
        let http = http_client(&settings, extra_ca)?;
        Ok(GraphClient {
            http,
            settings,
            refresh_token,
            rotated: None,
            access: None,
            user_id: None,
        })
    }

    /// The refresh token issued by the last renewal, once: the owner stores it in place
    /// of the old one.
    pub fn take_rotated_refresh_token(&mut self) -> Option<String> {
        self.rotated.take()
    }

    /// `GET /me/presence`.
    pub async fn read_presence(&mut self) -> Result<Reading, Failure> {
        self.read().await.map_err(Failure::from)
    }

    async fn read(&mut self) -> Result<Reading, Refused> {
        let url = format!("{}/me/presence", self.settings.graph_url);
        let response = self
            .send(PRESENCE_PERMISSIONS, |http, token| {
                http.get(&url).bearer_auth(token)
            })
            .await?;
        let body: PresenceBody = response
            .json()
            .await
            .map_err(|e| unavailable(format!("Graph sent an unreadable presence: {e}")))?;
        self.user_id = Some(body.id);
        Ok(Reading {
            availability: Availability::parse(&body.availability),
            activity: Activity::parse(&body.activity),
            sequence: body.sequence_number,
        })
    }

    /// `setPresence` `Busy/<activity>` for `expiration` (rounded to whole minutes).
    pub async fn set_presence(
        &mut self,
        activity: SessionActivity,
        expiration: Duration,
    ) -> Result<(), Failure> {
        let body = serde_json::json!({
            "sessionId": self.settings.client_id,
            "availability": "Busy",
            "activity": activity.as_str(),
            "expirationDuration": format!("PT{}M", expiration.as_secs() / 60),
        });
        let url = self.presence_url("setPresence").await?;
        self.send(PRESENCE_PERMISSIONS, |http, token| {
            http.post(&url).bearer_auth(token).json(&body)
        })
        .await
        .map(drop)
        .map_err(Failure::from)
    }

    /// `clearPresence`; a session that is already gone (404) is success.
    pub async fn clear_presence(&mut self) -> Result<(), Failure> {
        let body = serde_json::json!({ "sessionId": self.settings.client_id });
        let url = self.presence_url("clearPresence").await?;
        match self
            .send(PRESENCE_PERMISSIONS, |http, token| {
                http.post(&url).bearer_auth(token).json(&body)
            })
            .await
        {
            Ok(_) | Err(Refused::NotFound) => Ok(()),
            Err(Refused::Failed(failure)) => Err(failure),
        }
    }

    async fn presence_url(&mut self, action: &str) -> Result<String, Refused> {
        if self.user_id.is_none() {
            self.read().await?;
        }
        let id = self.user_id.as_deref().unwrap_or_default();
        Ok(format!(
            "{}/users/{}/presence/{action}",
            self.settings.graph_url,
            encode_path_segment(id)
        ))
    }

    /// Colleagues whose name or mail starts with `query` (each word of it), with their
    /// presence: `GET /users?$search=...` (an advanced query: `ConsistencyLevel: eventual`
    /// is required) then `getPresencesByUserId` in batches of at most 650 ids.
    pub async fn colleagues(&mut self, query: &str) -> Result<Vec<Colleague>, Failure> {
        let users = self.search_users(query).await.map_err(Failure::from)?;
        let ids: Vec<&str> = users.iter().map(|u| u.id.as_str()).collect();
        let presence = self.presences(&ids).await?;
        Ok(users
            .into_iter()
            .map(|user| {
                let (availability, activity) = presence.get(&user.id).cloned().unzip();
                colleague(user, availability, activity)
            })
            .collect())
    }

    async fn search_users(&mut self, query: &str) -> Result<Vec<UserBody>, Refused> {
        let term = search_term(query);
        if term.is_empty() {
            return Ok(Vec::new());
        }
        let url = reqwest::Url::parse_with_params(
            &format!("{}/users", self.settings.graph_url),
            &[
                (
                    "$search",
                    format!("\"displayName:{term}\" OR \"mail:{term}\""),
                ),
                (
                    "$select",
                    "id,displayName,mail,jobTitle,businessPhones,mobilePhone".into(),
                ),
                ("$top", SEARCH_TOP.to_string()),
            ],
        )
        .map_err(|e| Refused::from(unavailable(e.to_string())))?;
        let response = self
            .send(DIRECTORY_PERMISSIONS, |http, token| {
                http.get(url.clone())
                    .bearer_auth(token)
                    .header("ConsistencyLevel", "eventual")
            })
            .await?;
        let page: Page<UserBody> = response.json().await.map_err(|e| {
            Refused::from(unavailable(format!(
                "Microsoft Graph sent an unreadable user list: {e}"
            )))
        })?;
        Ok(page.value)
    }

    /// The presence of each id Graph knows, by id.
    pub async fn presences(
        &mut self,
        ids: &[&str],
    ) -> Result<std::collections::HashMap<String, (String, String)>, Failure> {
        let url = format!(
            "{}/communications/getPresencesByUserId",
            self.settings.graph_url
        );
        let mut found = std::collections::HashMap::new();
        for batch in ids.chunks(PRESENCE_BATCH) {
            let body = serde_json::json!({ "ids": batch });
            let response = self
                .send(DIRECTORY_PERMISSIONS, |http, token| {
                    http.post(&url).bearer_auth(token).json(&body)
                })
                .await?;
            let page: Page<PresenceBody> = response.json().await.map_err(|e| {
                unavailable(format!("Microsoft Graph sent unreadable presences: {e}"))
            })?;
            for p in page.value {
                found.insert(p.id, (p.availability, p.activity));
            }
        }
        Ok(found)
    }

    /// Sends a request with a valid access token; after a 401 renews the token once and
    /// sends again. `permissions` names what the request needs, for a 403's message.
    async fn send(
        &mut self,
        permissions: &str,
        request: impl Fn(&reqwest::Client, &str) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, Refused> {
        for attempt in 0..2 {
            let token = self.access_token().await?;
            let response = request(&self.http, &token).send().await.map_err(|e| {
                Refused::from(unavailable(format!(
                    "Microsoft Graph cannot be reached: {e}"
                )))
            })?;
            match response.status().as_u16() {
                200..=299 => return Ok(response),
                401 if attempt == 0 => self.access = None,
                status => return Err(classify(status, response, permissions).await),
            }
        }
        Err(Refused::Failed(Failure::Denied {
            reason: "Microsoft Graph refuses the sign-in; sign in to Teams again".into(),
        }))
    }

    async fn access_token(&mut self) -> Result<String, Refused> {
        if let Some((token, expires)) = &self.access {
            if Instant::now() + RENEW_EARLY < *expires {
                return Ok(token.clone());
            }
        }
        let url = token_url(&self.settings);
        let form = [
            ("client_id", self.settings.client_id.as_str()),
            ("grant_type", "refresh_token"),
            ("refresh_token", self.refresh_token.as_str()),
            ("scope", self.settings.scopes()),
        ];
        let response = self.http.post(&url).form(&form).send().await.map_err(|e| {
            Refused::from(unavailable(format!(
                "the Microsoft sign-in cannot be reached: {e}"
            )))
        })?;
        let status = response.status().as_u16();
        if !(200..=299).contains(&status) {
            return Err(classify(status, response, PRESENCE_PERMISSIONS).await);
        }
        let tokens: TokenResponse = response.json().await.map_err(|e| {
            Refused::from(unavailable(format!(
                "the Microsoft sign-in sent an unreadable answer: {e}"
            )))
        })?;
        if let Some(rotated) = tokens.refresh_token {
            self.refresh_token.clone_from(&rotated);
            self.rotated = Some(rotated);
        }
        let expires = Instant::now() + Duration::from_secs(tokens.expires_in);
        self.access = Some((tokens.access_token.clone(), expires));
        Ok(tokens.access_token)
    }
}

/// Why a request did not succeed.
enum Refused {
    /// 404: for `clearPresence`, the session is already gone.
    NotFound,
    Failed(Failure),
}

impl From<Refused> for Failure {
    fn from(refused: Refused) -> Failure {
        match refused {
            Refused::NotFound => unavailable("Microsoft Graph answered HTTP 404".into()),
            Refused::Failed(failure) => failure,
        }
    }
}

impl From<Failure> for Refused {
    fn from(failure: Failure) -> Refused {
        Refused::Failed(failure)
    }
}

fn unavailable(reason: String) -> Failure {
    Failure::Unavailable { reason }
}

/// What an error response means for the sync, with a message a person can act on.
async fn classify(status: u16, response: reqwest::Response, permissions: &str) -> Refused {
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let body = response.text().await.unwrap_or_default();
    let oauth = serde_json::from_str::<OAuthError>(&body).ok();
    Refused::Failed(match (status, oauth) {
        (404, _) => return Refused::NotFound,
        (429, _) => Failure::Throttled { retry_after },
        (_, Some(e)) if e.error == "invalid_grant" => Failure::Denied {
            reason: format!(
                "the Teams sign-in has expired or was revoked; sign in to Teams again ({})",
                first_line(&e.error_description)
            ),
        },
        (_, Some(e)) if e.error == "interaction_required" => Failure::Denied {
            reason: "Microsoft asks for a new sign-in (multi-factor authentication or a policy); sign in to Teams again".into(),
        },
        (_, Some(e)) if e.error == "consent_required" => Failure::Denied {
            reason: format!("Parley lacks consent for {permissions}; ask your administrator to grant it"),
        },
        (403, _) => Failure::Denied {
            reason: format!("Microsoft Graph denies access (HTTP 403): Parley needs {permissions}, with consent"),
        },
        (500..=599, _) => unavailable(format!("Microsoft Graph is unavailable (HTTP {status})")),
        (_, Some(e)) => Failure::Denied {
            reason: format!("Microsoft refused the request: {} ({})", e.error, first_line(&e.error_description)),
        },
        _ => unavailable(format!("Microsoft Graph answered HTTP {status}")),
    })
}

/// A search term for `$search`: words only. Double quotes and backslashes would end or
/// escape the quoted clause, so they go; what is left is at most 100 characters.
fn search_term(query: &str) -> String {
    let cleaned: String = query
        .chars()
        .filter(|c| !matches!(c, '"' | '\\') && !c.is_control())
        .take(100)
        .collect();
    cleaned.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A directory user as the agent sees them: the first business number, else the mobile,
/// normalised so that it can be dialled ([`parley_core::link::number`]); a number that is
/// not one is left out rather than dialled wrongly.
fn colleague(user: UserBody, availability: Option<String>, activity: Option<String>) -> Colleague {
    let phone = user
        .business_phones
        .iter()
        .chain(user.mobile_phone.as_ref())
        .find_map(|p| parley_core::link::number(p).ok())
        .map(|n| n.to_string());
    Colleague {
        name: user.display_name.unwrap_or_else(|| user.id.clone()),
        id: user.id,
        mail: user.mail,
        job_title: user.job_title,
        phone,
        availability,
        activity,
    }
}

/// The first line of an Entra error description (the rest is trace and correlation ids).
pub(crate) fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default().trim()
}

/// The HTTPS client for Graph and the sign-in, after checking their URLs: the runtime's
/// verifying TLS configuration, a timeout on every request.
pub(crate) fn http_client(
    settings: &GraphSettings,
    extra_ca: Option<&std::path::Path>,
) -> Result<reqwest::Client, GraphSettingsError> {
    for url in [&settings.graph_url, &settings.login_url] {
        check_url(url)?;
    }
    let tls = crate::transport::tls_client_config(extra_ca).map_err(GraphSettingsError::Tls)?;
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .timeout(TIMEOUT)
        .user_agent(concat!("Parley/", env!("CARGO_PKG_VERSION")))
        // The sign-in's redirect to the loopback is for the browser, never followed here.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| GraphSettingsError::Tls(e.to_string()))
}

/// The token endpoint of the tenant.
pub(crate) fn token_url(settings: &GraphSettings) -> String {
    format!(
        "{}/{}/oauth2/v2.0/token",
        settings.login_url,
        encode_path_segment(&settings.tenant)
    )
}

/// Checks a base URL: https, or http to this machine only.
pub fn check_url(url: &str) -> Result<(), GraphSettingsError> {
    let parsed = reqwest::Url::parse(url).map_err(|e| GraphSettingsError::Url {
        url: url.to_owned(),
        problem: e.to_string(),
    })?;
    let host = parsed.host_str().unwrap_or_default();
    let loopback = host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    match parsed.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(GraphSettingsError::Insecure(url.to_owned())),
    }
}

/// Percent-encodes a path segment (an object id, a tenant name) so that it cannot change
/// the path (RFC 3986 §3.3: only unreserved characters stay).
fn encode_path_segment(segment: &str) -> String {
    parley_core::sip::uri::percent_encode(segment)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_go_only_over_https_or_to_this_machine() {
        assert!(check_url("https://graph.microsoft.us/v1.0").is_ok());
        assert!(check_url("http://127.0.0.1:8080/v1.0").is_ok());
        assert!(check_url("http://[::1]:8080").is_ok());
        assert!(check_url("http://localhost:1/x").is_ok());
        assert_eq!(
            check_url("http://graph.example.com/v1.0"),
            Err(GraphSettingsError::Insecure(
                "http://graph.example.com/v1.0".into()
            ))
        );
        assert!(matches!(
            check_url("graph"),
            Err(GraphSettingsError::Url { .. })
        ));
        assert!(check_url("ftp://127.0.0.1/").is_err());
    }

    #[test]
    fn search_terms_cannot_break_out_of_their_clause() {
        assert_eq!(search_term("  Ada   Love "), "Ada Love");
        assert_eq!(search_term("a\" OR \"mail:x\\"), "a OR mail:x");
        assert_eq!(search_term(&"x".repeat(300)).len(), 100);
    }

    #[test]
    fn a_colleague_gets_a_dialable_number_or_none() {
        let user = |business: &[&str], mobile: Option<&str>| UserBody {
            id: "u1".into(),
            display_name: None,
            mail: None,
            job_title: None,
            business_phones: business.iter().map(|s| s.to_string()).collect(),
            mobile_phone: mobile.map(str::to_owned),
        };
        let c = colleague(user(&["+1 (425) 555-0109"], None), None, None);
        assert_eq!(c.phone.as_deref(), Some("+14255550109"));
        assert_eq!(c.name, "u1");
        let c = colleague(
            user(&["ext. 12; ask Bob"], Some("0049 171 1234567")),
            None,
            None,
        );
        assert_eq!(c.phone.as_deref(), Some("+491711234567"));
        assert_eq!(colleague(user(&[], None), None, None).phone, None);
    }

    #[test]
    fn path_segments_cannot_escape() {
        assert_eq!(
            encode_path_segment("fa8bf3dc-eca7-46b7-bad1-db199b62afc3"),
            "fa8bf3dc-eca7-46b7-bad1-db199b62afc3"
        );
        assert_eq!(encode_path_segment("../x?y#z"), "..%2Fx%3Fy%23z");
        assert_eq!(
            encode_path_segment("contoso.onmicrosoft.com"),
            "contoso.onmicrosoft.com"
        );
    }
}
