//! Signing in to Microsoft Entra ID for Teams presence: a delegated public client, no
//! secret (DESIGN §6).
//!
//! - [`with_browser`]: the authorization code flow with PKCE (RFC 7636, `S256`) in the
//!   system browser, redirected to a one-shot listener on `http://localhost:<port>/`
//!   (RFC 8252 §7.3: loopback redirect for native apps). A random `state` ties the answer
//!   to this request (RFC 6749 §10.12).
//! - [`with_device_code`]: the device authorization grant (RFC 8628) for desktops where no
//!   browser can be opened: the user enters a code on another device; the token endpoint
//!   is polled at the interval Entra gives, 5 s slower after each `slow_down` (§3.5).
//!
//! Both end with a refresh token (`offline_access`), which the caller keeps in the OS
//! keychain; the access token is not kept at all (the sync renews one when it needs it).

use crate::graph::{self, GraphSettings, GraphSettingsError, OAuthError, TokenResponse};
use crate::secrets::Secret;
use base64::Engine as _;
use serde::Deserialize;
use sha2::Digest;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Why signing in did not work, said so that the user knows what to do.
#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error(transparent)]
    Settings(#[from] GraphSettingsError),
    #[error("the sign-in was cancelled or declined")]
    Declined,
    #[error("the code has expired before it was entered; start the sign-in again")]
    Expired,
    #[error("no answer from the browser within {0:?}; start the sign-in again")]
    Timeout(Duration),
    #[error("the browser's answer does not belong to this sign-in (state mismatch)")]
    StateMismatch,
    #[error("Microsoft refused the sign-in: {0}")]
    Refused(String),
    #[error("the Microsoft sign-in cannot be reached: {0}")]
    Network(String),
    #[error("the loopback listener for the browser's answer: {0}")]
    Listener(std::io::Error),
}

/// What the user must do for the device code flow.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct DeviceCode {
    pub user_code: String,
    pub verification_uri: String,
    /// Entra's own sentence with the address and the code, in the user's language.
    #[serde(default)]
    pub message: String,
    device_code: String,
    expires_in: u64,
    #[serde(default = "default_interval")]
    interval: u64,
}

fn default_interval() -> u64 {
    5
}

/// A PKCE pair: the verifier stays here, its S256 challenge goes to the browser.
struct Pkce {
    verifier: String,
    challenge: String,
}

impl Pkce {
    fn new() -> Self {
        // 32 random bytes: a 43-character verifier (RFC 7636 §4.1 asks for 43 to 128).
        let bytes: [u8; 32] = rand::random();
        let verifier = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sha2::Sha256::digest(verifier.as_bytes()));
        Pkce {
            verifier,
            challenge,
        }
    }
}

/// Signs in through the browser: `open` is given the address to open (the desktop opens
/// the system browser, the headless agent prints it). Waits up to `timeout` for the answer.
pub async fn with_browser(
    settings: &GraphSettings,
    extra_ca: Option<&std::path::Path>,
    open: impl FnOnce(&str),
    timeout: Duration,
) -> Result<Secret, SignInError> {
    let http = graph::http_client(settings, extra_ca)?;
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .await
        .map_err(SignInError::Listener)?;
    let port = listener.local_addr().map_err(SignInError::Listener)?.port();
    let redirect_uri = format!("http://localhost:{port}/");
    let pkce = Pkce::new();
    let state: u128 = rand::random();
    let state = format!("{state:032x}");
    let authorize = reqwest::Url::parse_with_params(
        &format!(
            "{}/{}/oauth2/v2.0/authorize",
            settings.login_url,
            parley_core::sip::uri::percent_encode(&settings.tenant)
        ),
        &[
            ("client_id", settings.client_id.as_str()),
            ("response_type", "code"),
            ("redirect_uri", &redirect_uri),
            ("response_mode", "query"),
            ("scope", settings.scopes()),
            ("state", &state),
            ("code_challenge", &pkce.challenge),
            ("code_challenge_method", "S256"),
            ("prompt", "select_account"),
        ],
    )
    .map_err(|e| SignInError::Refused(e.to_string()))?;
    open(authorize.as_str());
    let answer = tokio::time::timeout(timeout, redirect(&listener))
        .await
        .map_err(|_| SignInError::Timeout(timeout))??;
    if answer.get("state") != Some(&state) {
        return Err(SignInError::StateMismatch);
    }
    if let Some(error) = answer.get("error") {
        return Err(match error.as_str() {
            "access_denied" => SignInError::Declined,
            _ => SignInError::Refused(format!(
                "{error} ({})",
                graph::first_line(answer.get("error_description").map_or("", String::as_str))
            )),
        });
    }
    let code = answer
        .get("code")
        .ok_or_else(|| SignInError::Refused("no authorization code in the answer".into()))?;
    let form = [
        ("client_id", settings.client_id.as_str()),
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", &redirect_uri),
        ("code_verifier", &pkce.verifier),
        ("scope", settings.scopes()),
    ];
    match token(&http, settings, &form).await? {
        Ok(tokens) => refresh_token_of(tokens),
        Err(e) => Err(SignInError::Refused(describe(&e))),
    }
}

/// Opens `url` in the desktop's browser (`xdg-open`, `open`, the URL protocol handler),
/// never through a shell, which would read `&` in the query as its own.
pub fn open_in_browser(url: &str) -> std::io::Result<()> {
    let mut command = if cfg!(target_os = "macos") {
        std::process::Command::new("open")
    } else if cfg!(windows) {
        let mut c = std::process::Command::new("rundll32");
        c.arg("url.dll,FileProtocolHandler");
        c
    } else {
        std::process::Command::new("xdg-open")
    };
    command
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map(drop)
}

/// Waits for the browser's one request to the loopback redirect, answers it with a page
/// that says what happened, and returns its query parameters.
async fn redirect(
    listener: &TcpListener,
) -> Result<std::collections::HashMap<String, String>, SignInError> {
    loop {
        let (mut stream, _) = listener.accept().await.map_err(SignInError::Listener)?;
        let Some(head) = read_head(&mut stream).await else {
            continue;
        };
        let request = String::from_utf8_lossy(&head);
        let Some(target) = request
            .lines()
            .next()
            .and_then(|l| l.strip_prefix("GET "))
            .and_then(|l| l.split(' ').next())
        else {
            continue;
        };
        // Browsers also ask for /favicon.ico; only the redirect carries the answer.
        let Some((_, query)) = target.split_once('?') else {
            let _ = stream
                .write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                )
                .await;
            continue;
        };
        let params: std::collections::HashMap<String, String> =
            reqwest::Url::parse(&format!("http://localhost/?{query}"))
                .map(|u| u.query_pairs().into_owned().collect())
                .unwrap_or_default();
        let page = if params.contains_key("code") {
            "Parley is signed in to Microsoft Teams. You can close this window."
        } else {
            "The sign-in did not complete. Return to Parley for details."
        };
        let body = format!("<!doctype html><meta charset=utf-8><title>Parley</title><p>{page}</p>");
        let response = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Security-Policy: default-src 'none'\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = stream.write_all(response.as_bytes()).await;
        return Ok(params);
    }
}

/// Reads a request's head (up to the blank line), however it is split into segments;
/// `None` for a connection that closes, stalls for 10 s or sends more than 16 kB first.
async fn read_head(stream: &mut tokio::net::TcpStream) -> Option<Vec<u8>> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 2048];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
            .await
            .ok()?
            .ok()?;
        if n == 0 || head.len() + n > 16 * 1024 {
            return None;
        }
        head.extend_from_slice(&buf[..n]);
    }
    Some(head)
}

/// Signs in with a device code: `show` tells the user where to go and what to enter.
pub async fn with_device_code(
    settings: &GraphSettings,
    extra_ca: Option<&std::path::Path>,
    show: impl FnOnce(&DeviceCode),
) -> Result<Secret, SignInError> {
    let http = graph::http_client(settings, extra_ca)?;
    let url = format!(
        "{}/{}/oauth2/v2.0/devicecode",
        settings.login_url,
        parley_core::sip::uri::percent_encode(&settings.tenant)
    );
    let response = http
        .post(&url)
        .form(&[
            ("client_id", settings.client_id.as_str()),
            ("scope", settings.scopes()),
        ])
        .send()
        .await
        .map_err(|e| SignInError::Network(e.to_string()))?;
    if !response.status().is_success() {
        let error: OAuthError = response
            .json()
            .await
            .map_err(|e| SignInError::Network(e.to_string()))?;
        return Err(SignInError::Refused(describe(&error)));
    }
    let code: DeviceCode = response
        .json()
        .await
        .map_err(|e| SignInError::Network(e.to_string()))?;
    show(&code);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(code.expires_in);
    let mut interval = Duration::from_secs(code.interval.max(1));
    let form = [
        ("client_id", settings.client_id.as_str()),
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("device_code", code.device_code.as_str()),
    ];
    loop {
        tokio::time::sleep(interval).await;
        if tokio::time::Instant::now() >= deadline {
            return Err(SignInError::Expired);
        }
        match token(&http, settings, &form).await? {
            Ok(tokens) => return refresh_token_of(tokens),
            Err(e) => match e.error.as_str() {
                "authorization_pending" => {}
                "slow_down" => interval += Duration::from_secs(5),
                "authorization_declined" | "access_denied" => return Err(SignInError::Declined),
                "expired_token" => return Err(SignInError::Expired),
                _ => return Err(SignInError::Refused(describe(&e))),
            },
        }
    }
}

/// Posts to the token endpoint: the tokens, or the identity platform's error.
async fn token(
    http: &reqwest::Client,
    settings: &GraphSettings,
    form: &[(&str, &str)],
) -> Result<Result<TokenResponse, OAuthError>, SignInError> {
    let response = http
        .post(graph::token_url(settings))
        .form(form)
        .send()
        .await
        .map_err(|e| SignInError::Network(e.to_string()))?;
    let ok = response.status().is_success();
    let body = response
        .text()
        .await
        .map_err(|e| SignInError::Network(e.to_string()))?;
    let unreadable = |e: serde_json::Error| SignInError::Network(format!("unreadable answer: {e}"));
    Ok(if ok {
        Ok(serde_json::from_str(&body).map_err(unreadable)?)
    } else {
        Err(serde_json::from_str(&body).map_err(unreadable)?)
    })
}

fn refresh_token_of(tokens: TokenResponse) -> Result<Secret, SignInError> {
    tokens.refresh_token.map(Secret::new).ok_or_else(|| {
        SignInError::Refused("no refresh token was issued (is offline_access granted?)".into())
    })
}

fn describe(e: &OAuthError) -> String {
    format!("{} ({})", e.error, graph::first_line(&e.error_description))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_challenge_is_the_s256_of_the_verifier() {
        // RFC 7636 Appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(sha2::Sha256::digest(verifier.as_bytes()));
        assert_eq!(challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        let pkce = Pkce::new();
        assert_eq!(pkce.verifier.len(), 43);
        assert_ne!(pkce.verifier, Pkce::new().verifier);
    }
}
