//! HTTP Digest authentication as SIP uses it (RFC 3261 §22): MD5 (RFC 2617, `qop=auth`,
//! and the RFC 2069 form without qop) and SHA-256 (RFC 7616, RFC 8760).
//!
//! This module works on header field values, not on messages: [`DigestChallenge::parse`]
//! reads a `WWW-Authenticate` or `Proxy-Authenticate` value, and [`DigestClient`] writes the
//! matching `Authorization` or `Proxy-Authorization` value. Answering a 401 or 407:
//!
//! 1. parse every challenge of the response, then [`choose_per_realm`] (or
//!    [`choose_challenge`] for the usual single realm);
//! 2. ask each chosen challenge for its [`DigestChallenge::verdict`], telling it whether
//!    the refused request already carried our credentials for that realm;
//! 3. for [`ChallengeVerdict::Answer`] and [`ChallengeVerdict::RetryStale`], put
//!    [`DigestClient::respond`]'s value on the retried request (with a new CSeq, §22.2);
//!    [`ChallengeVerdict::CredentialsRejected`] means the username or password is wrong,
//!    and retrying would only loop.
//!
//! Later requests to the same realm may carry credentials before being challenged
//! ([`DigestClient::reauthorize`], §22.3), reusing the nonce with an incremented nonce count.

use std::collections::HashMap;
use std::fmt::{self, Write as _};

use md5::Md5;
use rand::Rng;
use sha2::{Digest, Sha256};

/// Why a challenge could not be read or answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The challenge uses another scheme (Basic is forbidden in SIP, RFC 3261 §22.1).
    #[error("the challenge is not a Digest challenge")]
    NotDigest,
    #[error("malformed Digest challenge: {0}")]
    Malformed(&'static str),
    #[error("the Digest challenge has no {0} parameter")]
    MissingParameter(&'static str),
    #[error("unsupported Digest algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    /// The challenge offers only qop values we do not implement (`auth-int`), or a `-sess`
    /// algorithm without qop, which has no cnonce to bind the session key to.
    #[error("the Digest challenge offers no usable qop")]
    UnsupportedQop,
}

/// The hash algorithm of a challenge (RFC 7616 §3.3, `algorithm`; RFC 8760 §2.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DigestAlgorithm {
    Md5,
    Md5Sess,
    Sha256,
    Sha256Sess,
    /// Any other token, e.g. `SHA-512-256`: kept so that a server offering it beside one we
    /// support still parses, and skipped by [`choose_challenge`].
    Other(String),
}

impl DigestAlgorithm {
    /// Tokens compare case-insensitively (RFC 7616 §3.3).
    fn from_token(token: &str) -> Self {
        let known = [
            ("MD5", DigestAlgorithm::Md5),
            ("MD5-sess", DigestAlgorithm::Md5Sess),
            ("SHA-256", DigestAlgorithm::Sha256),
            ("SHA-256-sess", DigestAlgorithm::Sha256Sess),
        ];
        known
            .into_iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(token))
            .map_or_else(|| DigestAlgorithm::Other(token.to_owned()), |(_, a)| a)
    }

    /// The token as written in an Authorization header.
    pub fn as_str(&self) -> &str {
        match self {
            DigestAlgorithm::Md5 => "MD5",
            DigestAlgorithm::Md5Sess => "MD5-sess",
            DigestAlgorithm::Sha256 => "SHA-256",
            DigestAlgorithm::Sha256Sess => "SHA-256-sess",
            DigestAlgorithm::Other(token) => token,
        }
    }

    pub fn is_supported(&self) -> bool {
        !matches!(self, DigestAlgorithm::Other(_))
    }

    /// Our ranking, strongest first; `None` for algorithms we cannot compute.
    fn strength(&self) -> Option<u8> {
        match self {
            DigestAlgorithm::Sha256 => Some(3),
            DigestAlgorithm::Sha256Sess => Some(2),
            DigestAlgorithm::Md5 => Some(1),
            DigestAlgorithm::Md5Sess => Some(0),
            DigestAlgorithm::Other(_) => None,
        }
    }

    /// The `-sess` variants hash the nonces into A1 (RFC 7616 §3.4.2).
    fn is_session(&self) -> bool {
        matches!(self, DigestAlgorithm::Md5Sess | DigestAlgorithm::Sha256Sess)
    }

    /// `H(data)` as lowercase hex (RFC 7616 §3.4.1, RFC 8760 §2.2).
    fn hex_hash(&self, data: &str) -> String {
        match self {
            DigestAlgorithm::Sha256 | DigestAlgorithm::Sha256Sess => hex(&Sha256::digest(data)),
            // `respond` refuses `Other` before anything is hashed; MD5 is the default of
            // RFC 2617 §3.2.1 in any case.
            DigestAlgorithm::Md5 | DigestAlgorithm::Md5Sess | DigestAlgorithm::Other(_) => {
                hex(&Md5::digest(data))
            }
        }
    }
}

/// A quality-of-protection option (RFC 2617 §3.2.1, `qop-options`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Qop {
    Auth,
    /// Integrity protection of the body; not implemented, as we hash header values only.
    AuthInt,
    Other(String),
}

/// One `Digest` challenge from a `WWW-Authenticate` or `Proxy-Authenticate` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DigestChallenge {
    pub realm: String,
    pub nonce: String,
    pub opaque: Option<String>,
    /// MD5 when the challenge names none (RFC 2617 §3.2.1).
    pub algorithm: DigestAlgorithm,
    /// Empty when the challenge has no `qop`: the RFC 2069 form, without cnonce and nc.
    pub qop: Vec<Qop>,
    pub stale: bool,
}

impl DigestChallenge {
    /// Parses a challenge value such as
    /// `Digest realm="atlanta.com", nonce="84a4cc6f", qop="auth", algorithm=SHA-256`.
    ///
    /// The scheme and parameter names are case-insensitive; quoted strings may contain
    /// `\`-escapes (RFC 3261 §25.1 `quoted-pair`); unknown parameters are ignored (RFC 2617
    /// `auth-param`); spacing around `=` and `,` is free. A parameter given twice is an error,
    /// since either reading could be the wrong one (RFC 7616 §3.3).
    pub fn parse(value: &str) -> Result<DigestChallenge, AuthError> {
        let value = value.trim_start();
        let scheme_end = value
            .find(|c: char| c.is_ascii_whitespace())
            .unwrap_or(value.len());
        let (scheme, params) = value.split_at(scheme_end);
        if !scheme.eq_ignore_ascii_case("Digest") {
            return Err(AuthError::NotDigest);
        }

        let mut realm = None;
        let mut nonce = None;
        let mut opaque = None;
        let mut algorithm = None;
        let mut qop = None;
        let mut stale = None;
        for param in AuthParams::new(params) {
            let (name, value) = param?;
            let slot = match name.to_ascii_lowercase().as_str() {
                "realm" => &mut realm,
                "nonce" => &mut nonce,
                "opaque" => &mut opaque,
                "algorithm" => &mut algorithm,
                "qop" => &mut qop,
                "stale" => &mut stale,
                _ => continue,
            };
            if slot.replace(value).is_some() {
                return Err(AuthError::Malformed("a parameter appears twice"));
            }
        }

        let qop = qop.map_or_else(Vec::new, |list: String| {
            list.split(',')
                .map(str::trim)
                .filter(|token| !token.is_empty())
                .map(|token| {
                    if token.eq_ignore_ascii_case("auth") {
                        Qop::Auth
                    } else if token.eq_ignore_ascii_case("auth-int") {
                        Qop::AuthInt
                    } else {
                        Qop::Other(token.to_owned())
                    }
                })
                .collect()
        });
        Ok(DigestChallenge {
            realm: realm.ok_or(AuthError::MissingParameter("realm"))?,
            nonce: nonce.ok_or(AuthError::MissingParameter("nonce"))?,
            opaque,
            algorithm: algorithm.map_or(DigestAlgorithm::Md5, |a| DigestAlgorithm::from_token(&a)),
            qop,
            stale: stale.is_some_and(|s| s.eq_ignore_ascii_case("true")),
        })
    }

    /// `stale=TRUE`: the server refused the nonce, not the credentials, and "the client may
    /// wish to simply retry the request with a new encrypted response, without reprompting
    /// the user for a new username and password" (RFC 2617 §3.2.1, RFC 7616 §3.3).
    pub fn is_stale(&self) -> bool {
        self.stale
    }

    /// Whether [`DigestClient::respond`] can answer this challenge.
    pub fn is_supported(&self) -> bool {
        self.check_supported().is_ok()
    }

    fn check_supported(&self) -> Result<(), AuthError> {
        if !self.algorithm.is_supported() {
            return Err(AuthError::UnsupportedAlgorithm(
                self.algorithm.as_str().to_owned(),
            ));
        }
        let usable_qop = if self.qop.is_empty() {
            !self.algorithm.is_session()
        } else {
            self.qop.contains(&Qop::Auth)
        };
        if usable_qop {
            Ok(())
        } else {
            Err(AuthError::UnsupportedQop)
        }
    }

    /// What to do with this challenge, given whether the request it refused already carried
    /// credentials for its realm (which the caller knows: it put them there).
    ///
    /// A challenge to a request without our credentials is simply answered. A challenge to a
    /// request with them means the credentials were refused (RFC 3261 §22.2, §22.3), unless it
    /// is marked stale: then only the nonce had expired. A server that keeps answering
    /// `stale=true` is broken; callers allow one stale retry per request.
    pub fn verdict(&self, request_carried_credentials: bool) -> ChallengeVerdict {
        match (request_carried_credentials, self.stale) {
            (false, _) => ChallengeVerdict::Answer,
            (true, true) => ChallengeVerdict::RetryStale,
            (true, false) => ChallengeVerdict::CredentialsRejected,
        }
    }
}

/// See [`DigestChallenge::verdict`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChallengeVerdict {
    /// First challenge for this realm: answer it.
    Answer,
    /// The nonce expired: answer the new one; the credentials are fine.
    RetryStale,
    /// The username or password is wrong: stop and tell the user.
    CredentialsRejected,
}

/// The challenge to answer among those of one response, for the first realm that has a
/// usable one. See [`choose_per_realm`].
pub fn choose_challenge(challenges: &[DigestChallenge]) -> Option<&DigestChallenge> {
    choose_per_realm(challenges).into_iter().next()
}

/// One challenge per realm, realms in order of first appearance, skipping what we cannot
/// answer (unknown algorithms, `auth-int` only).
///
/// Requests forked or relayed through several proxies collect one challenge per realm and
/// must answer each (RFC 3261 §22.3). Within a realm the strongest algorithm wins (SHA-256
/// over MD5), ties going to the topmost. RFC 8760 §2.4 says to use "the topmost header field
/// that it supports, unless a local policy dictates otherwise"; this is such a policy, for
/// the reason in its §3: challenges are not integrity-protected, so an on-path attacker could
/// move MD5 to the top and downgrade a client that follows the order.
pub fn choose_per_realm(challenges: &[DigestChallenge]) -> Vec<&DigestChallenge> {
    let mut chosen: Vec<&DigestChallenge> = Vec::new();
    for challenge in challenges.iter().filter(|c| c.is_supported()) {
        match chosen.iter_mut().find(|c| c.realm == challenge.realm) {
            Some(best) if challenge.algorithm.strength() > best.algorithm.strength() => {
                *best = challenge;
            }
            Some(_) => {}
            None => chosen.push(challenge),
        }
    }
    chosen
}

/// A SIP account's digest credentials. `Debug` never shows the password (DESIGN §10).
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Answers digest challenges for one account and remembers, per realm, the nonce to reuse.
///
/// `Debug` shows realms and nonce counts only, never a password or a hash derived from it.
pub struct DigestClient {
    credentials: Credentials,
    realms: HashMap<String, RealmState>,
}

/// What a realm's last challenge left us: enough to answer again with the same nonce.
struct RealmState {
    challenge: DigestChallenge,
    /// `nc`, the number of requests sent with this nonce (RFC 2617 §3.2.2).
    nonce_count: u32,
    /// H(A1). For `-sess` it binds the cnonce of the first response, so it is computed once
    /// per nonce and that cnonce is sent again (RFC 2617 §3.2.2.2).
    ha1: String,
    session_cnonce: Option<String>,
}

impl fmt::Debug for DigestClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let realms: Vec<(&str, u32)> = self
            .realms
            .iter()
            .map(|(realm, state)| (realm.as_str(), state.nonce_count))
            .collect();
        f.debug_struct("DigestClient")
            .field("credentials", &self.credentials)
            .field("realms", &realms)
            .finish()
    }
}

impl DigestClient {
    pub fn new(credentials: Credentials) -> Self {
        DigestClient {
            credentials,
            realms: HashMap::new(),
        }
    }

    /// The `Authorization`/`Proxy-Authorization` value answering `challenge` for a request
    /// with `method` and Request-URI `uri`, with a fresh random cnonce.
    pub fn respond(
        &mut self,
        method: &str,
        uri: &str,
        challenge: &DigestChallenge,
        rng: &mut impl Rng,
    ) -> Result<String, AuthError> {
        let cnonce = random_cnonce(rng);
        self.respond_with_cnonce(method, uri, challenge, &cnonce)
    }

    /// As [`DigestClient::respond`], with the cnonce given: for deterministic tests, or a
    /// caller with its own random source.
    ///
    /// A new nonce for the realm starts the nonce count at 1; the same nonce again (a server
    /// that re-challenges without changing it) counts on.
    pub fn respond_with_cnonce(
        &mut self,
        method: &str,
        uri: &str,
        challenge: &DigestChallenge,
        cnonce: &str,
    ) -> Result<String, AuthError> {
        challenge.check_supported()?;
        let reusable = self.realms.get(&challenge.realm).is_some_and(|state| {
            state.challenge.nonce == challenge.nonce
                && state.challenge.algorithm == challenge.algorithm
        });
        if !reusable {
            let state = RealmState::new(&self.credentials, challenge, cnonce);
            self.realms.insert(challenge.realm.clone(), state);
        }
        let state = self
            .realms
            .get_mut(&challenge.realm)
            .expect("the realm's state was found or inserted just above");
        state.challenge.opaque.clone_from(&challenge.opaque);
        Ok(state.next_response(&self.credentials.username, method, uri, cnonce))
    }

    /// Credentials for a new request to `realm` before any challenge, reusing the last nonce
    /// with the next nonce count (RFC 3261 §22.3, RFC 2617 §3.2.2). `None` when the realm has
    /// not challenged us yet. If the nonce has expired, the server challenges with
    /// `stale=true` and [`ChallengeVerdict::RetryStale`] applies.
    pub fn reauthorize(
        &mut self,
        realm: &str,
        method: &str,
        uri: &str,
        rng: &mut impl Rng,
    ) -> Option<String> {
        let cnonce = random_cnonce(rng);
        let state = self.realms.get_mut(realm)?;
        Some(state.next_response(&self.credentials.username, method, uri, &cnonce))
    }
}

impl RealmState {
    fn new(credentials: &Credentials, challenge: &DigestChallenge, cnonce: &str) -> Self {
        let algorithm = &challenge.algorithm;
        let secret = format!(
            "{}:{}:{}",
            credentials.username, challenge.realm, credentials.password
        );
        let mut ha1 = algorithm.hex_hash(&secret);
        let mut session_cnonce = None;
        if algorithm.is_session() {
            ha1 = algorithm.hex_hash(&format!("{ha1}:{}:{cnonce}", challenge.nonce));
            session_cnonce = Some(cnonce.to_owned());
        }
        RealmState {
            challenge: challenge.clone(),
            nonce_count: 0,
            ha1,
            session_cnonce,
        }
    }

    /// Computes the next response with this nonce (RFC 7616 §3.4.1, RFC 2617 §3.2.2.1).
    fn next_response(&mut self, username: &str, method: &str, uri: &str, cnonce: &str) -> String {
        self.nonce_count = self.nonce_count.saturating_add(1);
        let challenge = &self.challenge;
        let algorithm = &challenge.algorithm;
        let cnonce = self.session_cnonce.as_deref().unwrap_or(cnonce);
        let nc = format!("{:08x}", self.nonce_count);
        let ha2 = algorithm.hex_hash(&format!("{method}:{uri}"));
        let with_qop = !challenge.qop.is_empty();
        let response = if with_qop {
            algorithm.hex_hash(&format!(
                "{}:{}:{nc}:{cnonce}:auth:{ha2}",
                self.ha1, challenge.nonce
            ))
        } else {
            algorithm.hex_hash(&format!("{}:{}:{ha2}", self.ha1, challenge.nonce))
        };

        // The parameter order of RFC 3261 §22.4's examples; `fmt::Write` on a String cannot
        // fail.
        let mut value = String::from("Digest");
        let _ = write!(
            value,
            " username=\"{}\", realm=\"{}\", nonce=\"{}\", uri=\"{}\"",
            quote(username),
            quote(&challenge.realm),
            quote(&challenge.nonce),
            quote(uri)
        );
        if with_qop {
            let _ = write!(value, ", qop=auth, nc={nc}, cnonce=\"{}\"", quote(cnonce));
        }
        let _ = write!(
            value,
            ", response=\"{response}\", algorithm={}",
            algorithm.as_str()
        );
        if let Some(opaque) = &challenge.opaque {
            let _ = write!(value, ", opaque=\"{}\"", quote(opaque));
        }
        value
    }
}

/// 128 random bits as hex: RFC 7616 §3.4 asks for a cnonce with enough entropy that the
/// server cannot predict it.
fn random_cnonce(rng: &mut impl Rng) -> String {
    let mut bytes = [0u8; 16];
    rng.fill_bytes(&mut bytes);
    hex(&bytes)
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// Escapes `"` and `\` for a quoted string (RFC 3261 §25.1 `quoted-pair`), so that a value
/// cannot end the string early and change what follows.
fn quote(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Iterates over `name=value` pairs of a challenge, unquoting quoted values.
struct AuthParams<'a> {
    rest: &'a str,
}

impl<'a> AuthParams<'a> {
    fn new(params: &'a str) -> Self {
        AuthParams { rest: params }
    }

    fn next_param(&mut self) -> Result<(String, String), AuthError> {
        let rest = self.rest;
        let name_end = rest.find(|c: char| !is_tchar(c)).unwrap_or(rest.len());
        if name_end == 0 {
            return Err(AuthError::Malformed("expected a parameter name"));
        }
        let name = &rest[..name_end];
        let after_name = rest[name_end..].trim_start();
        let Some(after_eq) = after_name.strip_prefix('=') else {
            return Err(AuthError::Malformed("parameter without '='"));
        };
        let after_eq = after_eq.trim_start();
        let (value, rest) = if let Some(quoted) = after_eq.strip_prefix('"') {
            unquote(quoted)?
        } else {
            // A token; tolerate any run of characters up to the next separator, since some
            // servers send unquoted base64 nonces.
            let end = after_eq
                .find(|c: char| c == ',' || c.is_ascii_whitespace())
                .unwrap_or(after_eq.len());
            (after_eq[..end].to_owned(), &after_eq[end..])
        };
        let rest = rest.trim_start();
        if !(rest.is_empty() || rest.starts_with(',')) {
            return Err(AuthError::Malformed("expected ',' between parameters"));
        }
        self.rest = rest;
        Ok((name.to_owned(), value))
    }
}

impl Iterator for AuthParams<'_> {
    type Item = Result<(String, String), AuthError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.rest = self
            .rest
            .trim_start_matches(|c: char| c == ',' || c.is_ascii_whitespace());
        if self.rest.is_empty() {
            return None;
        }
        let item = self.next_param();
        if item.is_err() {
            // Stop after the first error rather than resynchronising on garbage.
            self.rest = "";
        }
        Some(item)
    }
}

/// Reads a quoted string whose opening quote is already consumed; returns the unescaped
/// value and what follows the closing quote.
fn unquote(input: &str) -> Result<(String, &str), AuthError> {
    let mut value = String::new();
    let mut chars = input.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((value, &input[i + 1..])),
            '\\' => match chars.next() {
                Some((_, escaped)) => value.push(escaped),
                None => break,
            },
            _ => value.push(c),
        }
    }
    Err(AuthError::Malformed("unterminated quoted string"))
}

/// `tchar` of RFC 7230 §3.2.6, which RFC 3261's `token` matches but for `^`, `|` and `` ` ``.
fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    /// The parameters of a produced Authorization value, unquoted, by name.
    fn params(value: &str) -> HashMap<String, String> {
        let rest = value.strip_prefix("Digest ").expect("starts with Digest");
        AuthParams::new(rest)
            .map(|p| p.expect("our own output parses"))
            .collect()
    }

    fn mufasa(password: &str) -> DigestClient {
        DigestClient::new(Credentials {
            username: "Mufasa".into(),
            password: password.into(),
        })
    }

    #[test]
    fn rfc2617_section_3_5_example() {
        let challenge = DigestChallenge::parse(
            r#"Digest
                 realm="testrealm@host.com",
                 qop="auth,auth-int",
                 nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
                 opaque="5ccc069c403ebaf9f0171e9517f40e41""#,
        )
        .expect("the RFC's challenge parses");
        assert_eq!(challenge.qop, [Qop::Auth, Qop::AuthInt]);
        assert_eq!(challenge.algorithm, DigestAlgorithm::Md5);
        let value = mufasa("Circle Of Life")
            .respond_with_cnonce("GET", "/dir/index.html", &challenge, "0a4f113b")
            .expect("MD5 with qop=auth is supported");
        let p = params(&value);
        assert_eq!(p["response"], "6629fae49393a05397450978507c4ef1");
        assert_eq!(p["username"], "Mufasa");
        assert_eq!(p["uri"], "/dir/index.html");
        assert_eq!(p["nc"], "00000001");
        assert_eq!(p["cnonce"], "0a4f113b");
        assert_eq!(p["opaque"], "5ccc069c403ebaf9f0171e9517f40e41");
        assert_eq!(p["algorithm"], "MD5");
        assert!(value.contains(", qop=auth, nc=00000001,"), "{value}");
    }

    /// RFC 7616 §3.9.1: the same inputs with SHA-256 and with MD5.
    #[test]
    fn rfc7616_section_3_9_1_examples() {
        let nonce = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v";
        let opaque = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS";
        let cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
        for (algorithm, expected) in [
            (
                "SHA-256",
                "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
            ),
            ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
        ] {
            let challenge = DigestChallenge::parse(&format!(
                r#"Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm={algorithm}, nonce="{nonce}", opaque="{opaque}""#
            ))
            .expect("the RFC's challenge parses");
            let value = mufasa("Circle of Life")
                .respond_with_cnonce("GET", "/dir/index.html", &challenge, cnonce)
                .expect("supported");
            let p = params(&value);
            assert_eq!(p["response"], expected, "{algorithm}");
            assert_eq!(p["algorithm"], algorithm);
            assert_eq!(p["opaque"], opaque);
        }
    }

    /// RFC 2069 form: no qop, so no cnonce or nc. (RFC 2069's own example value is a known
    /// erratum; this is H(H(A1):nonce:H(A2)) computed independently.)
    #[test]
    fn md5_without_qop() {
        let challenge = DigestChallenge::parse(
            r#"Digest realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093""#,
        )
        .expect("parses");
        assert!(challenge.qop.is_empty());
        let value = mufasa("CircleOfLife")
            .respond_with_cnonce("GET", "/dir/index.html", &challenge, "unused")
            .expect("supported");
        let p = params(&value);
        assert_eq!(p["response"], "1949323746fe6a43ef61f9606e7febea");
        assert!(!p.contains_key("cnonce") && !p.contains_key("nc") && !p.contains_key("qop"));
        assert!(!p.contains_key("opaque"));
    }

    #[test]
    fn sess_variants_bind_the_first_cnonce() {
        let challenge = DigestChallenge::parse(
            r#"Digest realm="r", nonce="n", qop="auth", algorithm=MD5-sess"#,
        )
        .expect("parses");
        let mut client = mufasa("pw");
        let first = params(
            &client
                .respond_with_cnonce("REGISTER", "sip:r", &challenge, "c1")
                .expect("supported"),
        );
        // HA1 = MD5(MD5("Mufasa:r:pw"):n:c1); response = MD5(HA1:n:00000001:c1:auth:HA2).
        let ha1 = DigestAlgorithm::Md5.hex_hash(&format!(
            "{}:n:c1",
            DigestAlgorithm::Md5.hex_hash("Mufasa:r:pw")
        ));
        let ha2 = DigestAlgorithm::Md5.hex_hash("REGISTER:sip:r");
        let expected = DigestAlgorithm::Md5.hex_hash(&format!("{ha1}:n:00000001:c1:auth:{ha2}"));
        assert_eq!(first["response"], expected);
        let mut rng = StdRng::seed_from_u64(3);
        let again = params(
            &client
                .reauthorize("r", "REGISTER", "sip:r", &mut rng)
                .expect("realm known"),
        );
        assert_eq!(again["cnonce"], "c1");
        assert_eq!(again["nc"], "00000002");

        let no_qop =
            DigestChallenge::parse(r#"Digest realm="r", nonce="n", algorithm=SHA-256-sess"#)
                .expect("parses");
        assert!(!no_qop.is_supported());
        assert_eq!(
            client.respond_with_cnonce("REGISTER", "sip:r", &no_qop, "c"),
            Err(AuthError::UnsupportedQop)
        );
    }

    #[test]
    fn nonce_count_increments_on_reuse_and_resets_on_new_nonce() {
        let mut client = mufasa("pw");
        let mut rng = StdRng::seed_from_u64(42);
        assert_eq!(
            client.reauthorize("atlanta.com", "INVITE", "sip:a", &mut rng),
            None
        );
        let first = DigestChallenge::parse(
            r#"Digest realm="atlanta.com", nonce="n1", qop=auth, algorithm=SHA-256"#,
        )
        .expect("parses");
        let v1 = params(
            &client
                .respond("REGISTER", "sip:atlanta.com", &first, &mut rng)
                .expect("ok"),
        );
        assert_eq!(v1["nc"], "00000001");
        assert_eq!(v1["cnonce"].len(), 32);
        let v2 = params(
            &client
                .reauthorize("atlanta.com", "REGISTER", "sip:atlanta.com", &mut rng)
                .expect("realm known"),
        );
        assert_eq!(v2["nc"], "00000002");
        assert_ne!(v1["cnonce"], v2["cnonce"]);
        // The same nonce challenged again keeps counting.
        let v3 = params(
            &client
                .respond("REGISTER", "sip:atlanta.com", &first, &mut rng)
                .expect("ok"),
        );
        assert_eq!(v3["nc"], "00000003");
        let stale = DigestChallenge::parse(
            r#"Digest realm="atlanta.com", nonce="n2", qop="auth", algorithm=SHA-256, stale=TRUE"#,
        )
        .expect("parses");
        assert!(stale.is_stale());
        let v4 = params(
            &client
                .respond("REGISTER", "sip:atlanta.com", &stale, &mut rng)
                .expect("ok"),
        );
        assert_eq!(v4["nc"], "00000001");
        assert_eq!(v4["nonce"], "n2");
    }

    #[test]
    fn parsing_is_tolerant() {
        let c = DigestChallenge::parse(
            "digest REALM = \"a \\\"quoted\\\" realm\" ,, Nonce=abc/def==,qop=AUTH,\tSTALE=true, \
             algorithm=sha-256, domain=\"sip:ss1.carrier.com\", opaque=\"\"",
        )
        .expect("tolerant parse");
        assert_eq!(c.realm, "a \"quoted\" realm");
        assert_eq!(c.nonce, "abc/def==");
        assert_eq!(c.qop, [Qop::Auth]);
        assert!(c.stale);
        assert_eq!(c.algorithm, DigestAlgorithm::Sha256);
        assert_eq!(c.opaque.as_deref(), Some(""));
        let value = mufasa("pw")
            .respond_with_cnonce("INVITE", "sip:x", &c, "c")
            .expect("ok");
        assert_eq!(params(&value)["realm"], "a \"quoted\" realm");
        assert_eq!(params(&value)["algorithm"], "SHA-256");
    }

    #[test]
    fn parse_errors() {
        assert_eq!(
            DigestChallenge::parse("Basic realm=\"x\""),
            Err(AuthError::NotDigest)
        );
        assert_eq!(DigestChallenge::parse(""), Err(AuthError::NotDigest));
        assert_eq!(
            DigestChallenge::parse("Digest nonce=\"n\""),
            Err(AuthError::MissingParameter("realm"))
        );
        assert!(matches!(
            DigestChallenge::parse("Digest realm=\"r, nonce=\"n\""),
            Err(AuthError::Malformed(_))
        ));
        assert!(matches!(
            DigestChallenge::parse("Digest realm=\"r\" nonce=\"n\""),
            Err(AuthError::Malformed(_))
        ));
        assert!(matches!(
            DigestChallenge::parse("Digest realm=\"r\", realm=\"s\", nonce=\"n\""),
            Err(AuthError::Malformed(_))
        ));
        let unknown =
            DigestChallenge::parse("Digest realm=\"r\", nonce=\"n\", algorithm=SHA-512-256")
                .expect("unknown algorithms still parse");
        assert_eq!(
            unknown.algorithm,
            DigestAlgorithm::Other("SHA-512-256".into())
        );
        assert_eq!(
            mufasa("pw").respond_with_cnonce("INVITE", "sip:x", &unknown, "c"),
            Err(AuthError::UnsupportedAlgorithm("SHA-512-256".into()))
        );
        let auth_int = DigestChallenge::parse("Digest realm=\"r\", nonce=\"n\", qop=\"auth-int\"")
            .expect("parses");
        assert_eq!(
            mufasa("pw").respond_with_cnonce("INVITE", "sip:x", &auth_int, "c"),
            Err(AuthError::UnsupportedQop)
        );
    }

    #[test]
    fn choose_prefers_sha256_per_realm_and_skips_unsupported() {
        let parse = |s: &str| DigestChallenge::parse(s).expect("parses");
        let challenges = [
            parse(r#"Digest realm="a", nonce="1", algorithm=SHA-512-256, qop="auth""#),
            parse(r#"Digest realm="a", nonce="2", algorithm=MD5, qop="auth""#),
            parse(r#"Digest realm="b", nonce="3", qop="auth-int""#),
            parse(r#"Digest realm="a", nonce="4", algorithm=SHA-256, qop="auth""#),
            parse(r#"Digest realm="c", nonce="5", algorithm=MD5"#),
            parse(r#"Digest realm="a", nonce="6", algorithm=SHA-256, qop="auth""#),
        ];
        let chosen: Vec<&str> = choose_per_realm(&challenges)
            .iter()
            .map(|c| c.nonce.as_str())
            .collect();
        assert_eq!(chosen, ["4", "5"]);
        assert_eq!(
            choose_challenge(&challenges).map(|c| c.nonce.as_str()),
            Some("4")
        );
        assert_eq!(choose_challenge(&challenges[2..3]), None);
    }

    #[test]
    fn verdicts() {
        let fresh = DigestChallenge::parse(r#"Digest realm="r", nonce="n""#).expect("parses");
        let stale =
            DigestChallenge::parse(r#"Digest realm="r", nonce="m", stale=true"#).expect("parses");
        assert_eq!(fresh.verdict(false), ChallengeVerdict::Answer);
        assert_eq!(stale.verdict(false), ChallengeVerdict::Answer);
        assert_eq!(stale.verdict(true), ChallengeVerdict::RetryStale);
        assert_eq!(fresh.verdict(true), ChallengeVerdict::CredentialsRejected);
    }

    #[test]
    fn debug_output_hides_the_password() {
        let mut client = mufasa("s3cret-Passw0rd");
        let challenge = DigestChallenge::parse(r#"Digest realm="r", nonce="n""#).expect("parses");
        client
            .respond_with_cnonce("REGISTER", "sip:r", &challenge, "c")
            .expect("ok");
        let debug = format!("{client:?} {:?}", client.credentials);
        assert!(!debug.contains("s3cret"), "{debug}");
        assert!(debug.contains("Mufasa") && debug.contains("<redacted>"));
    }

    #[test]
    fn values_are_escaped_in_the_answer() {
        let client_value = DigestClient::new(Credentials {
            username: "a\"b\\c".into(),
            password: "pw".into(),
        })
        .respond_with_cnonce(
            "INVITE",
            "sip:x",
            &DigestChallenge::parse(r#"Digest realm="r", nonce="n""#).expect("parses"),
            "c",
        )
        .expect("ok");
        assert!(
            client_value.contains(r#"username="a\"b\\c""#),
            "{client_value}"
        );
        assert_eq!(params(&client_value)["username"], "a\"b\\c");
    }

    proptest! {
        #[test]
        fn parse_never_panics(value in ".*") {
            let _ = DigestChallenge::parse(&value);
        }

        #[test]
        fn parse_never_panics_on_digest_like_input(
            value in r#"Digest ( |,|=|"|\\|realm|nonce|qop|auth|stale|true|[a-z0-9/+]{0,4}){0,30}"#
        ) {
            if let Ok(challenge) = DigestChallenge::parse(&value) {
                let _ = mufasa("pw").respond_with_cnonce("INVITE", "sip:x", &challenge, "c");
            }
        }
    }
}
