//! A local stand-in for Microsoft Entra ID's token endpoint and Microsoft Graph's presence
//! API, following their documented contract (shared/reference/teams-graph-presence.md), so
//! that presence sync is tested against the behaviour it must handle, errors included:
//!
//! - `POST /{tenant}/oauth2/v2.0/token`, `grant_type=refresh_token`: the client id must be
//!   the app's; a refresh token works once and is replaced by a new one in the answer
//!   (rotation; stricter than Entra, which leaves old ones valid for a while, so that a
//!   client that keeps the old one fails here); an unknown or used one gets
//!   `400 invalid_grant` with an `AADSTS70008` description.
//! - Every Graph call needs `Authorization: Bearer <access token>`; an unknown or expired
//!   one gets `401` with `WWW-Authenticate`.
//! - `GET /v1.0/me/presence`: the aggregate of the user's presence: a manual (preferred)
//!   status beats every session; among sessions DoNotDisturb > Busy > Available > Away;
//!   no session: Offline/Offline. Each change bumps `sequenceNumber`.
//! - `POST /v1.0/users/{id}/presence/setPresence`: `sessionId` must be the app's client id,
//!   the availability/activity pair one of the five Graph accepts, `expirationDuration`
//!   within PT5M..PT4H; `400` otherwise. The session expires after that duration.
//! - `POST /v1.0/users/{id}/presence/clearPresence`: `sessionId` required (`400`), `404`
//!   when there is no such session.
//! - Injected failures for the next requests: `429` with `Retry-After`, `503`.
//! - Access tokens carry the scopes asked for; a Graph call whose permission is not among
//!   them gets `403 Authorization_RequestDenied`.
//! - The directory: `GET /v1.0/users` with `$search="displayName:x" OR "mail:x"` (words
//!   matched by prefix), `$select`, `$top` (1..=999); `$search` without the header
//!   `ConsistencyLevel: eventual` gets `400 Request_UnsupportedQuery`; needs
//!   `User.ReadBasic.All`. `POST /v1.0/communications/getPresencesByUserId` with at most
//!   650 ids (`400` beyond, or none); needs `Presence.Read.All`.
//! - Sign-in: `GET /{tenant}/oauth2/v2.0/authorize` (the browser's side: the user consents
//!   at once, or declines when told to) redirects to a loopback `redirect_uri` with a code;
//!   `grant_type=authorization_code` needs the same `redirect_uri` and the PKCE verifier
//!   whose S256 is the challenge (RFC 7636 §4.6), once. `POST .../devicecode` hands out a
//!   device code; `grant_type=urn:ietf:params:oauth:grant-type:device_code` answers
//!   `authorization_pending` until the user approves, `slow_down` when polled sooner than
//!   the interval, `authorization_declined`, `expired_token` (RFC 8628 §3.5).
//!
//! The server runs on its own thread with its own tokio runtime, so that tests stay plain
//! blocking code like the rest of the rig.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::extract::{Form, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

/// The five pairs `setPresence` accepts.
const SETTABLE: [(&str, &str); 5] = [
    ("Available", "Available"),
    ("Busy", "InACall"),
    ("Busy", "InAConferenceCall"),
    ("Away", "Away"),
    ("DoNotDisturb", "Presenting"),
];

/// A failure the next request gets instead of its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Injected {
    /// `429 Too Many Requests` with `Retry-After: <seconds>`.
    Throttled { retry_after: u64 },
    /// `503 Service Unavailable`.
    Unavailable,
}

/// A presence as availability and activity.
pub type Pair = (String, String);

#[derive(Debug)]
struct Session {
    pair: Pair,
    expires: Instant,
}

#[derive(Debug)]
struct Graph {
    client_id: String,
    user_id: String,
    refresh_tokens: Vec<String>,
    access_tokens: HashMap<String, AccessToken>,
    /// Refresh tokens are padded to this many characters (Entra's are long).
    refresh_length: usize,
    /// Other users of the tenant, for the directory.
    people: Vec<Person>,
    access_lifetime: Duration,
    issued: u64,
    /// The Teams client's own session (the user's desktop app).
    teams_client: Option<Pair>,
    /// A status the user picked by hand.
    preferred: Option<Pair>,
    sessions: HashMap<String, Session>,
    sequence: u64,
    last_aggregate: Option<Pair>,
    injected: VecDeque<Injected>,
    /// Method and path of every request, in order.
    log: Vec<String>,
    /// The user consents in the browser.
    consent: bool,
    /// Authorization codes: their PKCE challenge and redirect URI.
    codes: HashMap<String, (String, String)>,
    devices: HashMap<String, Device>,
    device_lifetime: Duration,
    slow_down_next: bool,
}

#[derive(Debug)]
struct AccessToken {
    expires: Instant,
    scopes: Vec<String>,
}

/// A colleague in the tenant's directory.
#[derive(Debug, Clone)]
pub struct Person {
    pub id: String,
    pub name: String,
    pub mail: String,
    pub job_title: Option<String>,
    pub business_phones: Vec<String>,
    pub mobile_phone: Option<String>,
    pub presence: Pair,
}

impl Person {
    /// Someone with a business number, Available in Teams.
    pub fn new(id: &str, name: &str, mail: &str, phone: &str) -> Person {
        Person {
            id: id.into(),
            name: name.into(),
            mail: mail.into(),
            job_title: None,
            business_phones: vec![phone.into()],
            mobile_phone: None,
            presence: ("Available".into(), "Available".into()),
        }
    }

    /// The properties `GET /users` may return, as Graph names them.
    fn property(&self, name: &str) -> Option<Value> {
        Some(match name {
            "id" => json!(self.id),
            "displayName" => json!(self.name),
            "mail" | "userPrincipalName" => json!(self.mail),
            "jobTitle" => json!(self.job_title),
            "businessPhones" => json!(self.business_phones),
            "mobilePhone" => json!(self.mobile_phone),
            _ => return None,
        })
    }
}

/// A device code and what its user did.
#[derive(Debug)]
struct Device {
    user_code: String,
    state: DeviceState,
    last_poll: Option<Instant>,
    expires: Instant,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DeviceState {
    Pending,
    Approved,
    Declined,
}

/// The polling interval the fake's device codes ask for.
pub const DEVICE_INTERVAL: Duration = Duration::from_secs(1);

/// The running fake.
pub struct FakeGraph {
    address: SocketAddr,
    state: Arc<Mutex<Graph>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// The app's client id in the fake tenant.
pub const CLIENT_ID: &str = "7b1c3f5e-2d4a-4c6b-9e8f-0a1b2c3d4e5f";
/// The signed-in user's object id.
pub const USER_ID: &str = "fa8bf3dc-eca7-46b7-bad1-db199b62afc3";
/// The tenant in the token endpoint's path.
pub const TENANT: &str = "contoso.onmicrosoft.com";

impl FakeGraph {
    /// Starts the fake on a free loopback port; the user is signed in to Teams (its client
    /// shows Available) and holds the refresh token [`FakeGraph::first_refresh_token`].
    pub fn start() -> FakeGraph {
        let state = Arc::new(Mutex::new(Graph {
            client_id: CLIENT_ID.into(),
            user_id: USER_ID.into(),
            refresh_tokens: vec!["refresh-0".into()],
            access_tokens: HashMap::new(),
            refresh_length: 0,
            people: Vec::new(),
            access_lifetime: Duration::from_secs(3600),
            issued: 0,
            teams_client: Some(("Available".into(), "Available".into())),
            preferred: None,
            sessions: HashMap::new(),
            sequence: 0,
            last_aggregate: None,
            injected: VecDeque::new(),
            log: Vec::new(),
            consent: true,
            codes: HashMap::new(),
            devices: HashMap::new(),
            device_lifetime: Duration::from_secs(900),
            slow_down_next: false,
        }));
        let app = Router::new()
            .route("/{tenant}/oauth2/v2.0/token", post(token))
            .route("/{tenant}/oauth2/v2.0/authorize", get(authorize))
            .route("/{tenant}/oauth2/v2.0/devicecode", post(device_code))
            .route("/v1.0/me/presence", get(my_presence))
            .route("/v1.0/users/{id}/presence/{action}", post(presence_action))
            .route("/v1.0/users", get(users))
            .route(
                "/v1.0/communications/getPresencesByUserId",
                post(presences_by_user_id),
            )
            .with_state(Arc::clone(&state));
        let (address_tx, address_rx) = std::sync::mpsc::channel();
        let (shutdown, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a tokio runtime for the fake Graph");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("a loopback port for the fake Graph");
                let _ = address_tx.send(listener.local_addr().expect("bound"));
                let _ = axum::serve(listener, app)
                    .with_graceful_shutdown(async {
                        let _ = shutdown_rx.await;
                    })
                    .await;
            });
        });
        let address = address_rx.recv().expect("the fake Graph started");
        FakeGraph {
            address,
            state,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:<port>/v1.0`.
    pub fn graph_url(&self) -> String {
        format!("http://{}/v1.0", self.address)
    }

    /// `http://127.0.0.1:<port>`: the login base (the tenant and `/oauth2/v2.0/token` follow).
    pub fn login_url(&self) -> String {
        format!("http://{}", self.address)
    }

    pub fn first_refresh_token(&self) -> String {
        "refresh-0".into()
    }

    fn graph(&self) -> MutexGuard<'_, Graph> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The refresh tokens that work now (one, after rotation).
    pub fn valid_refresh_tokens(&self) -> Vec<String> {
        self.graph().refresh_tokens.clone()
    }

    /// Revokes every refresh token (a password change, an admin's "revoke sessions").
    pub fn revoke_refresh_tokens(&self) {
        self.graph().refresh_tokens.clear();
    }

    /// Lets every access token issued so far expire.
    pub fn expire_access_tokens(&self) {
        let past = Instant::now() - Duration::from_secs(1);
        for token in self.graph().access_tokens.values_mut() {
            token.expires = past;
        }
    }

    /// Issues refresh tokens of `length` characters from now on.
    pub fn set_refresh_token_length(&self, length: usize) {
        self.graph().refresh_length = length;
    }

    /// Adds a colleague to the directory.
    pub fn add_person(&self, person: Person) {
        self.graph().people.push(person);
    }

    /// What a colleague's Teams shows.
    pub fn set_person_presence(&self, id: &str, availability: &str, activity: &str) {
        for person in self.graph().people.iter_mut().filter(|p| p.id == id) {
            person.presence = (availability.into(), activity.into());
        }
    }

    /// What the user's Teams client shows (`None`: signed out of Teams).
    pub fn set_teams_client(&self, availability: &str, activity: &str) {
        self.graph().teams_client = Some((availability.into(), activity.into()));
    }

    /// A status the user picks by hand (`None` clears it).
    pub fn set_preferred(&self, pair: Option<(&str, &str)>) {
        self.graph().preferred = pair.map(|(a, b)| (a.into(), b.into()));
    }

    /// The presence Graph reports now.
    pub fn aggregate(&self) -> Pair {
        let mut graph = self.graph();
        graph.aggregate()
    }

    /// The app sessions set now (by session id).
    pub fn sessions(&self) -> Vec<(String, Pair)> {
        let mut graph = self.graph();
        graph.expire_sessions();
        graph
            .sessions
            .iter()
            .map(|(id, s)| (id.clone(), s.pair.clone()))
            .collect()
    }

    /// The next requests get these failures, in order.
    pub fn inject(&self, failures: &[Injected]) {
        self.graph().injected.extend(failures.iter().copied());
    }

    /// Whether the user consents when the browser asks.
    pub fn set_consent(&self, consent: bool) {
        self.graph().consent = consent;
    }

    /// Device codes expire this long after they are issued.
    pub fn set_device_lifetime(&self, lifetime: Duration) {
        self.graph().device_lifetime = lifetime;
    }

    /// The next device-code poll is told to slow down (RFC 8628 §3.5).
    pub fn demand_slower_polling(&self) {
        self.graph().slow_down_next = true;
    }

    /// The user enters `user_code` and approves (`true`) or declines.
    pub fn answer_device(&self, user_code: &str, approve: bool) {
        for device in self.graph().devices.values_mut() {
            if device.user_code == user_code {
                device.state = if approve {
                    DeviceState::Approved
                } else {
                    DeviceState::Declined
                };
            }
        }
    }

    /// `METHOD /path` of every request so far.
    pub fn requests(&self) -> Vec<String> {
        self.graph().log.clone()
    }
}

impl Drop for FakeGraph {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Graph {
    fn expire_sessions(&mut self) {
        let now = Instant::now();
        self.sessions.retain(|_, s| s.expires > now);
    }

    /// Graph's aggregation: the preferred status first, then the highest-ranked session.
    fn aggregate(&mut self) -> Pair {
        self.expire_sessions();
        let rank = |pair: &Pair| match pair.0.as_str() {
            "DoNotDisturb" => 4,
            "Busy" => 3,
            "Available" => 2,
            "Away" => 1,
            _ => 0,
        };
        let aggregate = self.preferred.clone().unwrap_or_else(|| {
            self.sessions
                .values()
                .map(|s| &s.pair)
                .chain(self.teams_client.as_ref())
                .max_by_key(|p| rank(p))
                .cloned()
                .unwrap_or_else(|| ("Offline".into(), "Offline".into()))
        });
        if self.last_aggregate.as_ref() != Some(&aggregate) {
            self.sequence += 1;
            self.last_aggregate = Some(aggregate.clone());
        }
        aggregate
    }

    /// Logs the request and returns an injected failure, if one is due.
    fn begin(&mut self, request: String) -> Option<Response> {
        self.log.push(request);
        self.injected.pop_front().map(|failure| match failure {
            Injected::Throttled { retry_after } => (
                StatusCode::TOO_MANY_REQUESTS,
                [("Retry-After", retry_after.to_string())],
                Json(graph_error("TooManyRequests", "Too many requests")),
            )
                .into_response(),
            Injected::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(graph_error("serviceNotAvailable", "Service unavailable")),
            )
                .into_response(),
        })
    }

    /// The 403 for a valid token without `scope` (a request that passed [`Self::unauthorized`]).
    fn lacks_scope(&self, headers: &HeaderMap, scope: &str) -> Option<Response> {
        let granted = bearer(headers)
            .and_then(|t| self.access_tokens.get(t))
            .is_some_and(|t| t.scopes.iter().any(|s| s == scope));
        (!granted).then(|| {
            (
                StatusCode::FORBIDDEN,
                Json(graph_error(
                    "Authorization_RequestDenied",
                    "Insufficient privileges to complete the operation.",
                )),
            )
                .into_response()
        })
    }

    /// The 401 for a request without a valid bearer token.
    fn unauthorized(&self, headers: &HeaderMap) -> Option<Response> {
        match bearer(headers).and_then(|t| self.access_tokens.get(t)) {
            Some(token) if token.expires > Instant::now() => None,
            _ => Some((
                StatusCode::UNAUTHORIZED,
                [(
                    "WWW-Authenticate",
                    "Bearer error=\"invalid_token\", error_description=\"The access token is missing, invalid or expired\"",
                )],
                Json(graph_error("InvalidAuthenticationToken", "Access token is empty or invalid.")),
            )
                .into_response()),
        }
    }
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
}

fn graph_error(code: &str, message: &str) -> Value {
    json!({"error": {"code": code, "message": message}})
}

fn bad_request(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(graph_error("InvalidArgument", message)),
    )
        .into_response()
}

fn oauth_error(error: &str, description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

type Shared = State<Arc<Mutex<Graph>>>;

fn lock(state: &Arc<Mutex<Graph>>) -> MutexGuard<'_, Graph> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

async fn token(
    State(state): Shared,
    Path(tenant): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let mut graph = lock(&state);
    if let Some(failure) = graph.begin(format!("POST /{tenant}/oauth2/v2.0/token")) {
        return failure;
    }
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    if field("client_id") != graph.client_id {
        return oauth_error(
            "unauthorized_client",
            "AADSTS700016: Application with identifier was not found in the directory.",
        );
    }
    match field("grant_type") {
        "refresh_token" => {
            let presented = field("refresh_token").to_owned();
            let Some(position) = graph.refresh_tokens.iter().position(|t| *t == presented) else {
                return expired_grant();
            };
            graph.refresh_tokens.remove(position);
        }
        "authorization_code" => {
            // One use; the same redirect URI; the verifier whose S256 is the challenge.
            let Some((challenge, redirect_uri)) = graph.codes.remove(field("code")) else {
                return expired_grant();
            };
            if redirect_uri != field("redirect_uri") {
                return oauth_error(
                    "invalid_grant",
                    "AADSTS50148: The redirect_uri does not match.",
                );
            }
            if s256(field("code_verifier")) != challenge {
                return oauth_error(
                    "invalid_grant",
                    "AADSTS501481: The Code_Verifier does not match the code_challenge supplied in the authorization request.",
                );
            }
        }
        "urn:ietf:params:oauth:grant-type:device_code" => {
            let now = Instant::now();
            let demanded = std::mem::take(&mut graph.slow_down_next);
            let Some(device) = graph.devices.get_mut(field("device_code")) else {
                return oauth_error("bad_verification_code", "AADSTS70019: unknown device code.");
            };
            let too_soon = device
                .last_poll
                .is_some_and(|last| now < last + DEVICE_INTERVAL - Duration::from_millis(100));
            device.last_poll = Some(now);
            if now >= device.expires {
                return oauth_error("expired_token", "AADSTS70020: The provided value for the input parameter 'device_code' is not valid. This device code has expired.");
            }
            if too_soon || demanded {
                return oauth_error("slow_down", "Polling too fast.");
            }
            match device.state {
                DeviceState::Pending => {
                    return oauth_error(
                        "authorization_pending",
                        "AADSTS70016: OAuth 2.0 device flow error. Authorization is pending.",
                    );
                }
                DeviceState::Declined => {
                    return oauth_error(
                        "authorization_declined",
                        "AADSTS70000: The user declined.",
                    );
                }
                DeviceState::Approved => {
                    let code = field("device_code").to_owned();
                    graph.devices.remove(&code);
                }
            }
        }
        _ => {
            return oauth_error(
                "unsupported_grant_type",
                "AADSTS70003: unsupported grant type.",
            )
        }
    }
    graph.issued += 1;
    let mut refresh = format!("refresh-{}-", graph.issued);
    while refresh.len() < graph.refresh_length {
        refresh.push(char::from(b'a' + (refresh.len() % 26) as u8));
    }
    let access = format!("access-{}", graph.issued);
    graph.refresh_tokens.push(refresh.clone());
    let lifetime = graph.access_lifetime;
    // The Graph permissions asked for (offline_access and OpenID scopes are not Graph's).
    let scopes: Vec<String> = field("scope")
        .split(' ')
        .filter(|s| s.contains('.'))
        .map(str::to_owned)
        .collect();
    graph.access_tokens.insert(
        access.clone(),
        AccessToken {
            expires: Instant::now() + lifetime,
            scopes: scopes.clone(),
        },
    );
    Json(json!({
        "token_type": "Bearer",
        "scope": scopes.join(" "),
        "expires_in": lifetime.as_secs(),
        "access_token": access,
        "refresh_token": refresh,
    }))
    .into_response()
}

async fn my_presence(State(state): Shared, headers: HeaderMap) -> Response {
    let mut graph = lock(&state);
    if let Some(failure) = graph.begin("GET /v1.0/me/presence".into()) {
        return failure;
    }
    if let Some(denied) = graph.unauthorized(&headers) {
        return denied;
    }
    let (availability, activity) = graph.aggregate();
    Json(json!({
        "id": graph.user_id,
        "availability": availability,
        "activity": activity,
        "sequenceNumber": format!("C{:016}", graph.sequence),
    }))
    .into_response()
}

/// `PT<n>M` or `PT<n>H` as minutes.
fn minutes(duration: &str) -> Option<u64> {
    let rest = duration.strip_prefix("PT")?;
    if let Some(m) = rest.strip_suffix('M') {
        m.parse().ok()
    } else {
        rest.strip_suffix('H')?.parse::<u64>().ok().map(|h| h * 60)
    }
}

async fn presence_action(
    State(state): Shared,
    Path((id, action)): Path<(String, String)>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let mut graph = lock(&state);
    if let Some(failure) = graph.begin(format!("POST /v1.0/users/{id}/presence/{action}")) {
        return failure;
    }
    if let Some(denied) = graph.unauthorized(&headers) {
        return denied;
    }
    if id != graph.user_id {
        return (
            StatusCode::FORBIDDEN,
            Json(graph_error(
                "Forbidden",
                "A delegated app may set only its user's presence.",
            )),
        )
            .into_response();
    }
    // An empty or broken body is a missing sessionId, as Graph reports it.
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let text = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_owned);
    let Some(session_id) = text("sessionId") else {
        return bad_request("[SessionId]: The SessionId field is required.");
    };
    match action.as_str() {
        "setPresence" => {
            if session_id != graph.client_id {
                return bad_request("The sessionId must be the application (client) id.");
            }
            let pair = (
                text("availability").unwrap_or_default(),
                text("activity").unwrap_or_default(),
            );
            if !SETTABLE.contains(&(pair.0.as_str(), pair.1.as_str())) {
                return bad_request("The availability and activity combination is not supported.");
            }
            let expiration = match text("expirationDuration") {
                None => 5,
                Some(d) => match minutes(&d) {
                    Some(m) if (5..=240).contains(&m) => m,
                    _ => return bad_request("expirationDuration must be between PT5M and PT4H."),
                },
            };
            graph.sessions.insert(
                session_id,
                Session {
                    pair,
                    expires: Instant::now() + Duration::from_secs(expiration * 60),
                },
            );
            StatusCode::OK.into_response()
        }
        "clearPresence" => {
            graph.expire_sessions();
            if graph.sessions.remove(&session_id).is_some() {
                StatusCode::OK.into_response()
            } else {
                (
                    StatusCode::NOT_FOUND,
                    Json(graph_error(
                        "NotFound",
                        "The presence session does not exist.",
                    )),
                )
                    .into_response()
            }
        }
        _ => (
            StatusCode::NOT_FOUND,
            Json(graph_error("BadRequest", "Unknown action.")),
        )
            .into_response(),
    }
}

fn expired_grant() -> Response {
    oauth_error(
        "invalid_grant",
        "AADSTS70008: The provided authorization code or refresh token has expired due to inactivity. Send a new interactive authorization request for this user and resource.\r\nTrace ID: 0000\r\nCorrelation ID: 0000",
    )
}

/// BASE64URL(SHA-256(verifier)), the PKCE `S256` challenge (RFC 7636 §4.2).
fn s256(verifier: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()))
}

/// The browser's side of the sign-in: checks the request, then (the user consenting at
/// once) redirects to the app's loopback address with a code, or with `access_denied`.
async fn authorize(
    State(state): Shared,
    Path(tenant): Path<String>,
    axum::extract::Query(query): axum::extract::Query<HashMap<String, String>>,
) -> Response {
    let mut graph = lock(&state);
    graph
        .log
        .push(format!("GET /{tenant}/oauth2/v2.0/authorize"));
    let field = |name: &str| query.get(name).map(String::as_str).unwrap_or_default();
    let redirect_uri = field("redirect_uri").to_owned();
    let loopback = redirect_uri.starts_with("http://localhost:")
        || redirect_uri.starts_with("http://127.0.0.1:");
    if field("client_id") != graph.client_id || !loopback {
        // Entra shows an error page and does not redirect to an unknown address.
        return (
            StatusCode::BAD_REQUEST,
            "AADSTS50011: The redirect URI does not match.",
        )
            .into_response();
    }
    let problem = if field("response_type") != "code" {
        Some("unsupported_response_type")
    } else if field("code_challenge_method") != "S256" || field("code_challenge").len() < 43 {
        Some("invalid_request")
    } else if !field("scope").split(' ').any(|s| s == "offline_access") {
        Some("invalid_scope")
    } else {
        None
    };
    let state_param = field("state").to_owned();
    let target = match (problem, graph.consent) {
        (Some(error), _) => format!("{redirect_uri}?error={error}&state={state_param}"),
        (None, false) => format!(
            "{redirect_uri}?error=access_denied&error_description=AADSTS65004%3A+User+declined+to+consent&state={state_param}"
        ),
        (None, true) => {
            graph.issued += 1;
            let code = format!("code-{}", graph.issued);
            let challenge = field("code_challenge").to_owned();
            graph.codes.insert(code.clone(), (challenge, redirect_uri.clone()));
            format!("{redirect_uri}?code={code}&state={state_param}")
        }
    };
    (StatusCode::FOUND, [("Location", target)]).into_response()
}

async fn device_code(
    State(state): Shared,
    Path(tenant): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let mut graph = lock(&state);
    graph
        .log
        .push(format!("POST /{tenant}/oauth2/v2.0/devicecode"));
    if form.get("client_id").map(String::as_str) != Some(graph.client_id.as_str()) {
        return oauth_error(
            "unauthorized_client",
            "AADSTS700016: Application not found.",
        );
    }
    graph.issued += 1;
    let user_code = format!("PRLY{:04}", graph.issued);
    let device_code = format!("device-{}", graph.issued);
    let lifetime = graph.device_lifetime;
    graph.devices.insert(
        device_code.clone(),
        Device {
            user_code: user_code.clone(),
            state: DeviceState::Pending,
            last_poll: None,
            expires: Instant::now() + lifetime,
        },
    );
    Json(json!({
        "device_code": device_code,
        "user_code": user_code,
        "verification_uri": "https://microsoft.com/devicelogin",
        "expires_in": lifetime.as_secs(),
        "interval": DEVICE_INTERVAL.as_secs(),
        "message": format!("To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code {user_code} to authenticate."),
    }))
    .into_response()
}

/// The `"property:term"` clauses of a `$search` joined by `OR`; `None` when malformed.
fn search_clauses(search: &str) -> Option<Vec<(String, String)>> {
    let mut clauses = Vec::new();
    let mut rest = search.trim();
    loop {
        rest = rest.strip_prefix('"')?;
        let end = rest.find('"')?;
        let (property, term) = rest[..end].split_once(':')?;
        clauses.push((property.to_owned(), term.to_lowercase()));
        rest = rest[end + 1..].trim_start();
        if rest.is_empty() {
            return Some(clauses);
        }
        rest = rest.strip_prefix("OR")?.trim_start();
    }
}

fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Directory search tokenizes both sides and matches by prefix: every word of the term
/// starts a word of the value.
fn matches(value: &str, term: &str) -> bool {
    let value = words(value);
    let term = words(term);
    !term.is_empty()
        && term
            .iter()
            .all(|t| value.iter().any(|w| w.starts_with(t.as_str())))
}

async fn users(
    State(state): Shared,
    headers: HeaderMap,
    axum::extract::Query(query): axum::extract::Query<HashMap<String, String>>,
) -> Response {
    let mut graph = lock(&state);
    if let Some(failure) = graph.begin("GET /v1.0/users".into()) {
        return failure;
    }
    if let Some(denied) = graph.unauthorized(&headers) {
        return denied;
    }
    if let Some(denied) = graph.lacks_scope(&headers, "User.ReadBasic.All") {
        return denied;
    }
    let eventual = headers
        .get("consistencylevel")
        .is_some_and(|v| v.as_bytes() == b"eventual");
    let unsupported = |message: &str| {
        (
            StatusCode::BAD_REQUEST,
            Json(graph_error("Request_UnsupportedQuery", message)),
        )
            .into_response()
    };
    let clauses = match query.get("$search") {
        None => Vec::new(),
        Some(_) if !eventual => {
            return unsupported("Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'");
        }
        Some(search) => match search_clauses(search) {
            Some(c) => c,
            None => return unsupported("Syntax error: the $search clause is not valid."),
        },
    };
    let top = match query.get("$top").map(|t| t.parse::<usize>()) {
        None => 100,
        Some(Ok(t)) if (1..=999).contains(&t) => t,
        Some(_) => return bad_request("Invalid page size specified."),
    };
    let select: Vec<&str> = query.get("$select").map_or_else(
        || {
            vec![
                "id",
                "displayName",
                "mail",
                "jobTitle",
                "businessPhones",
                "mobilePhone",
            ]
        },
        |s| s.split(',').collect(),
    );
    let mut value = Vec::new();
    for person in &graph.people {
        let hit = clauses.is_empty()
            || clauses.iter().any(|(property, term)| {
                person
                    .property(property)
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .is_some_and(|v| matches(&v, term))
            });
        if !hit {
            continue;
        }
        let mut item = serde_json::Map::new();
        for name in &select {
            match person.property(name) {
                Some(v) => item.insert((*name).to_owned(), v),
                None => {
                    return bad_request(&format!(
                        "Could not find a property named '{name}' on type 'microsoft.graph.user'."
                    ))
                }
            };
        }
        value.push(Value::Object(item));
    }
    value.truncate(top);
    Json(json!({ "value": value })).into_response()
}

async fn presences_by_user_id(
    State(state): Shared,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let mut graph = lock(&state);
    if let Some(failure) = graph.begin("POST /v1.0/communications/getPresencesByUserId".into()) {
        return failure;
    }
    if let Some(denied) = graph.unauthorized(&headers) {
        return denied;
    }
    if let Some(denied) = graph.lacks_scope(&headers, "Presence.Read.All") {
        return denied;
    }
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let Some(ids) = body.get("ids").and_then(Value::as_array) else {
        return bad_request("The ids field is required.");
    };
    if ids.is_empty() || ids.len() > 650 {
        return bad_request("The number of ids must be between 1 and 650.");
    }
    let own = graph.aggregate();
    let value: Vec<Value> = ids
        .iter()
        .filter_map(Value::as_str)
        .filter_map(|id| {
            let pair = if id == graph.user_id {
                own.clone()
            } else {
                graph.people.iter().find(|p| p.id == id)?.presence.clone()
            };
            Some(json!({"id": id, "availability": pair.0, "activity": pair.1}))
        })
        .collect();
    Json(json!({ "value": value })).into_response()
}
