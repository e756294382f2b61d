//! The runtime's Microsoft Graph client against the fake Entra/Graph (src/graph.rs):
//! refresh-token rotation, presence reads, our presence session set and cleared, Graph's
//! aggregation, and every failure the sync must tell apart.

use std::time::Duration;

use parley_core::presence::{Activity, Availability, Failure, SessionActivity};
use parley_e2e::graph::{FakeGraph, Injected, Person, CLIENT_ID, TENANT, USER_ID};
use parley_runtime::graph::{GraphClient, GraphSettings};
use parley_runtime::signin::{self, SignInError};
use std::io::{Read, Write};
use std::time::Instant;

fn settings(fake: &FakeGraph) -> GraphSettings {
    GraphSettings {
        graph_url: fake.graph_url(),
        login_url: fake.login_url(),
        tenant: TENANT.into(),
        client_id: CLIENT_ID.into(),
        directory: true,
    }
}

fn client(fake: &FakeGraph) -> GraphClient {
    GraphClient::new(settings(fake), fake.first_refresh_token(), None).expect("valid settings")
}

/// One HTTP/1.1 request on a fresh connection: the status and the `Location` header.
fn http(method: &str, url: &str, form: &str) -> (u16, Option<String>) {
    let rest = url.strip_prefix("http://").expect("an http URL");
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let mut stream = std::net::TcpStream::connect(host).expect("connect");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{form}",
        form.len()
    );
    stream.write_all(request.as_bytes()).expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("receive");
    let status = answer[9..12].parse().expect("a status");
    let location = answer
        .lines()
        .find_map(|l| {
            l.strip_prefix("location: ")
                .or_else(|| l.strip_prefix("Location: "))
        })
        .map(str::to_owned);
    (status, location)
}

/// The browser: opens the sign-in page (the fake consents or declines at once) and
/// follows its redirect to Parley's loopback listener.
fn browser(url: &str) {
    let url = url.to_owned();
    std::thread::spawn(move || {
        let (status, location) = http("GET", &url, "");
        assert_eq!(status, 302, "{url}");
        let location = location.expect("a redirect");
        assert!(location.starts_with("http://localhost:"), "{location}");
        let to_loopback = location.replacen("localhost", "127.0.0.1", 1);
        let (status, _) = http("GET", &to_loopback, "");
        assert_eq!(status, 200);
    });
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

fn pair(a: &str, b: &str) -> (String, String) {
    (a.into(), b.into())
}

#[test]
fn presence_is_read_with_a_refresh_token_that_rotates() {
    let fake = FakeGraph::start();
    let mut graph = client(&fake);
    runtime().block_on(async {
        let reading = graph.read_presence().await.expect("read");
        assert_eq!(reading.availability, Availability::Available);
        assert_eq!(reading.activity, Activity::Available);
        assert!(reading.sequence.is_some());
    });
    // The old refresh token is spent; the new one was handed over to be stored.
    let rotated = graph
        .take_rotated_refresh_token()
        .expect("a new refresh token");
    assert_eq!(fake.valid_refresh_tokens(), [rotated]);
    assert_eq!(graph.take_rotated_refresh_token(), None, "handed over once");
    // The access token is reused while it is valid: one sign-in for many reads.
    runtime().block_on(async {
        for _ in 0..3 {
            graph.read_presence().await.expect("read");
        }
    });
    let sign_ins = fake
        .requests()
        .iter()
        .filter(|r| r.contains("/oauth2/v2.0/token"))
        .count();
    assert_eq!(sign_ins, 1);
    assert!(fake
        .requests()
        .contains(&format!("POST /{TENANT}/oauth2/v2.0/token")));
}

#[test]
fn our_session_shows_busy_in_a_call_and_clearing_it_twice_is_harmless() {
    let fake = FakeGraph::start();
    let mut graph = client(&fake);
    runtime().block_on(async {
        graph
            .set_presence(SessionActivity::InACall, Duration::from_secs(3600))
            .await
            .expect("setPresence");
        assert_eq!(
            fake.sessions(),
            [(CLIENT_ID.to_owned(), pair("Busy", "InACall"))]
        );
        assert_eq!(
            fake.aggregate(),
            pair("Busy", "InACall"),
            "Busy beats the client's Available"
        );
        graph
            .set_presence(
                SessionActivity::InAConferenceCall,
                Duration::from_secs(3600),
            )
            .await
            .expect("setPresence");
        assert_eq!(fake.aggregate(), pair("Busy", "InAConferenceCall"));
        // A status the user picked beats every session.
        fake.set_preferred(Some(("DoNotDisturb", "DoNotDisturb")));
        let reading = graph.read_presence().await.expect("read");
        assert_eq!(reading.activity, Activity::DoNotDisturb);
        fake.set_preferred(None);

        graph.clear_presence().await.expect("clearPresence");
        assert!(fake.sessions().is_empty());
        assert_eq!(fake.aggregate(), pair("Available", "Available"));
        // Already gone (404): success.
        graph.clear_presence().await.expect("clearPresence again");
    });
    assert!(fake
        .requests()
        .contains(&format!("POST /v1.0/users/{USER_ID}/presence/setPresence")));
}

#[test]
fn an_expired_access_token_is_renewed_once_and_the_request_repeated() {
    let fake = FakeGraph::start();
    let mut graph = client(&fake);
    runtime().block_on(async {
        graph.read_presence().await.expect("read");
        fake.expire_access_tokens();
        graph.read_presence().await.expect("read after a renewal");
    });
    let log = fake.requests();
    let tail: Vec<&str> = log.iter().rev().take(3).rev().map(String::as_str).collect();
    assert_eq!(
        tail,
        [
            "GET /v1.0/me/presence",
            &format!("POST /{TENANT}/oauth2/v2.0/token"),
            "GET /v1.0/me/presence"
        ],
        "{log:?}"
    );
}

#[test]
fn failures_are_told_apart_for_the_sync() {
    let fake = FakeGraph::start();
    let mut graph = client(&fake);
    runtime().block_on(async {
        graph.read_presence().await.expect("read");
        fake.inject(&[
            Injected::Throttled { retry_after: 7 },
            Injected::Unavailable,
        ]);
        assert_eq!(
            graph.read_presence().await,
            Err(Failure::Throttled {
                retry_after: Some(Duration::from_secs(7))
            })
        );
        assert!(matches!(
            graph.read_presence().await,
            Err(Failure::Unavailable { reason }) if reason.contains("503")
        ));
        // A revoked sign-in: a person must sign in again, and the message says so.
        fake.revoke_refresh_tokens();
        fake.expire_access_tokens();
        match graph.read_presence().await {
            Err(Failure::Denied { reason }) => {
                assert!(reason.contains("sign in to Teams again"), "{reason}");
                assert!(reason.contains("AADSTS70008"), "{reason}");
                assert!(!reason.contains("Trace ID"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
    });
}

#[test]
fn graph_cannot_be_reached_is_unavailable_not_denied() {
    let fake = FakeGraph::start();
    let settings = GraphSettings {
        login_url: "http://127.0.0.1:9".into(),
        ..settings(&fake)
    };
    let mut graph = GraphClient::new(settings, "refresh-0".into(), None).unwrap();
    let result = runtime().block_on(graph.read_presence());
    assert!(
        matches!(&result, Err(Failure::Unavailable { reason }) if reason.contains("cannot be reached")),
        "{result:?}"
    );
}

/// The fake holds the client to Graph's contract: what a careless client sends is refused.
#[test]
fn the_fake_refuses_what_graph_refuses() {
    let fake = FakeGraph::start();
    let mut graph = GraphClient::new(
        GraphSettings {
            client_id: "another-app".into(),
            ..settings(&fake)
        },
        fake.first_refresh_token(),
        None,
    )
    .unwrap();
    let result = runtime().block_on(graph.read_presence());
    assert!(
        matches!(&result, Err(Failure::Denied { reason }) if reason.contains("unauthorized_client")),
        "{result:?}"
    );
    // Graph's limits on setPresence, checked on the wire with a token a proper client got.
    runtime()
        .block_on(client(&fake).read_presence())
        .expect("read");
    let post = |path: &str, token: &str, body: &str| -> u16 {
        use std::io::{Read, Write};
        let address = fake
            .graph_url()
            .trim_start_matches("http://")
            .replace("/v1.0", "");
        let mut stream = std::net::TcpStream::connect(&address).unwrap();
        write!(
            stream,
            "POST /v1.0/users/{USER_ID}/presence/{path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer[9..12].parse().unwrap()
    };
    assert_eq!(post("setPresence", "none", "{}"), 401, "no valid token");
    let set = |session: &str, availability: &str, activity: &str, duration: &str| {
        let body = format!(
            r#"{{"sessionId":"{session}","availability":"{availability}","activity":"{activity}","expirationDuration":"{duration}"}}"#
        );
        post("setPresence", "access-1", &body)
    };
    assert_eq!(set(CLIENT_ID, "Busy", "InACall", "PT1H"), 200);
    assert_eq!(
        set("a-random-uuid", "Busy", "InACall", "PT1H"),
        400,
        "sessionId must be the app"
    );
    assert_eq!(
        set(CLIENT_ID, "Busy", "Busy", "PT1H"),
        400,
        "not a settable pair"
    );
    assert_eq!(
        set(CLIENT_ID, "Busy", "InAMeeting", "PT1H"),
        400,
        "meetings come from the calendar"
    );
    assert_eq!(set(CLIENT_ID, "Busy", "InACall", "PT4M"), 400, "under PT5M");
    assert_eq!(
        set(CLIENT_ID, "Busy", "InACall", "PT241M"),
        400,
        "over PT4H"
    );
    assert_eq!(set(CLIENT_ID, "DoNotDisturb", "Presenting", "PT4H"), 200);
    assert_eq!(
        post("clearPresence", "access-1", "{}"),
        400,
        "sessionId is required"
    );
    assert_eq!(
        post("clearPresence", "access-1", r#"{"sessionId":"other"}"#),
        404
    );
    let clear = format!(r#"{{"sessionId":"{CLIENT_ID}"}}"#);
    assert_eq!(post("clearPresence", "access-1", &clear), 200);
    assert_eq!(
        post("clearPresence", "access-1", &clear),
        404,
        "already cleared"
    );
}

#[test]
fn signing_in_in_the_browser_uses_pkce_and_yields_a_working_refresh_token() {
    let fake = FakeGraph::start();
    let rt = runtime();
    let token = rt
        .block_on(signin::with_browser(
            &settings(&fake),
            None,
            browser,
            Duration::from_secs(30),
        ))
        .expect("signed in");
    assert!(fake
        .valid_refresh_tokens()
        .contains(&token.expose().to_owned()));
    let mut graph = GraphClient::new(settings(&fake), token.expose().to_owned(), None).unwrap();
    rt.block_on(graph.read_presence())
        .expect("the new sign-in reads presence");

    // The user declines consent: said so, nothing issued.
    fake.set_consent(false);
    let declined = rt.block_on(signin::with_browser(
        &settings(&fake),
        None,
        browser,
        Duration::from_secs(30),
    ));
    assert!(
        matches!(declined, Err(SignInError::Declined)),
        "{declined:?}"
    );
    // Nobody answers in the browser: a timeout, not a hang.
    let ignored = rt.block_on(signin::with_browser(
        &settings(&fake),
        None,
        |_| {},
        Duration::from_millis(300),
    ));
    assert!(
        matches!(ignored, Err(SignInError::Timeout(_))),
        "{ignored:?}"
    );
}

#[test]
fn the_token_endpoint_checks_the_pkce_verifier_and_the_redirect() {
    let fake = FakeGraph::start();
    // A code issued for a challenge (the S256 of RFC 7636 Appendix B's verifier).
    let authorize = format!(
        "{}/{TENANT}/oauth2/v2.0/authorize?client_id={CLIENT_ID}&response_type=code&redirect_uri=http%3A%2F%2Flocalhost%3A1%2F&scope=offline_access&state=s&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256",
        fake.login_url()
    );
    let code = || {
        let (_, location) = http("GET", &authorize, "");
        let location = location.expect("redirect");
        location
            .split("code=")
            .nth(1)
            .unwrap()
            .split('&')
            .next()
            .unwrap()
            .to_owned()
    };
    let token_url = format!("{}/{TENANT}/oauth2/v2.0/token", fake.login_url());
    let exchange = |code: &str, verifier: &str, redirect: &str| {
        http(
            "POST",
            &token_url,
            &format!("client_id={CLIENT_ID}&grant_type=authorization_code&code={code}&redirect_uri={redirect}&code_verifier={verifier}"),
        )
        .0
    };
    let right = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    let redirect = "http%3A%2F%2Flocalhost%3A1%2F";
    assert_eq!(
        exchange(
            &code(),
            "not-the-verifier-of-this-challenge-at-all-x",
            redirect
        ),
        400
    );
    assert_eq!(
        exchange(&code(), right, "http%3A%2F%2Flocalhost%3A2%2F"),
        400
    );
    let good = code();
    assert_eq!(exchange(&good, right, redirect), 200);
    assert_eq!(exchange(&good, right, redirect), 400, "a code works once");
}

#[test]
fn signing_in_with_a_device_code_waits_slows_down_and_reports_every_ending() {
    let fake = FakeGraph::start();
    let rt = runtime();
    // Approved after a few polls, one of them told to slow down.
    let started = Instant::now();
    let token = std::thread::scope(|scope| {
        let (code_tx, code_rx) = std::sync::mpsc::channel::<String>();
        let fake = &fake;
        scope.spawn(move || {
            let user_code = code_rx.recv().expect("the code was shown");
            std::thread::sleep(Duration::from_millis(1_500));
            fake.demand_slower_polling();
            std::thread::sleep(Duration::from_millis(1_000));
            fake.answer_device(&user_code, true);
        });
        rt.block_on(signin::with_device_code(&settings(fake), None, |code| {
            assert!(code.message.contains(&code.user_code), "{code:?}");
            assert_eq!(code.verification_uri, "https://microsoft.com/devicelogin");
            code_tx.send(code.user_code.clone()).unwrap();
        }))
    })
    .expect("signed in");
    assert!(fake
        .valid_refresh_tokens()
        .contains(&token.expose().to_owned()));
    // The slow_down added 5 s to the interval.
    assert!(
        started.elapsed() >= Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );

    // Declined on the other device.
    let declined = std::thread::scope(|scope| {
        let (code_tx, code_rx) = std::sync::mpsc::channel::<String>();
        let fake = &fake;
        scope.spawn(move || fake.answer_device(&code_rx.recv().unwrap(), false));
        rt.block_on(signin::with_device_code(&settings(fake), None, |code| {
            code_tx.send(code.user_code.clone()).unwrap();
        }))
    });
    assert!(
        matches!(declined, Err(SignInError::Declined)),
        "{declined:?}"
    );
    // Never entered: expired.
    fake.set_device_lifetime(Duration::from_secs(2));
    let expired = rt.block_on(signin::with_device_code(&settings(&fake), None, |_| {}));
    assert!(matches!(expired, Err(SignInError::Expired)), "{expired:?}");
}

/// The directory: a search by name or mail gives colleagues with a dialable number and
/// their live presence; presences go in batches of at most 650 ids.
#[test]
fn colleagues_are_found_with_their_presence() {
    let fake = FakeGraph::start();
    let mut ada = Person::new(
        "id-ada",
        "Ada Lovelace",
        "ada@contoso.com",
        "+44 (20) 7946-0018",
    );
    ada.job_title = Some("Billing expert".into());
    fake.add_person(ada);
    fake.add_person(Person::new(
        "id-alan",
        "Alan Turing",
        "alan@contoso.com",
        "ext. 12",
    ));
    fake.add_person(Person::new(
        "id-grace",
        "Grace Hopper",
        "grace@contoso.com",
        "+1 425 555 0100",
    ));
    fake.set_person_presence("id-ada", "Busy", "InACall");
    let mut graph = client(&fake);
    let rt = runtime();

    let found = rt.block_on(graph.colleagues("ada")).expect("a search");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].name, "Ada Lovelace");
    assert_eq!(found[0].phone.as_deref(), Some("+442079460018"));
    assert_eq!(found[0].job_title.as_deref(), Some("Billing expert"));
    assert_eq!(found[0].availability.as_deref(), Some("Busy"));
    assert_eq!(found[0].activity.as_deref(), Some("InACall"));

    // By mail, by the start of the last name; a number that is none is left out.
    let found = rt.block_on(graph.colleagues("tur")).unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].phone, None);
    assert_eq!(rt.block_on(graph.colleagues("grace@")).unwrap().len(), 1);
    // A query that tries to break out of its $search clause finds nothing, and no error.
    assert!(rt
        .block_on(graph.colleagues("x\" OR \"mail:a"))
        .unwrap()
        .is_empty());
    assert!(rt.block_on(graph.colleagues("  ")).unwrap().is_empty());

    let ids: Vec<String> = (0..700).map(|i| format!("id-{i}")).collect();
    let ids: Vec<&str> = ids.iter().map(String::as_str).chain(["id-ada"]).collect();
    let presences = rt.block_on(graph.presences(&ids)).unwrap();
    assert_eq!(presences.len(), 1, "only known ids have a presence");
    let batches = fake
        .requests()
        .iter()
        .filter(|r| r.ends_with("getPresencesByUserId"))
        .count();
    // One per search with matches (3), then 701 ids in two batches.
    assert_eq!(batches, 3 + 2);
}

/// Without the directory's permissions in the sign-in, Graph answers 403 and the
/// message names what the administrator must grant.
#[test]
fn the_directory_without_its_permissions_says_which_are_missing() {
    let fake = FakeGraph::start();
    fake.add_person(Person::new(
        "id-ada",
        "Ada Lovelace",
        "ada@contoso.com",
        "+442079460018",
    ));
    let mut graph = GraphClient::new(
        GraphSettings {
            directory: false,
            ..settings(&fake)
        },
        fake.first_refresh_token(),
        None,
    )
    .unwrap();
    let result = runtime().block_on(graph.colleagues("ada"));
    assert!(
        matches!(&result, Err(Failure::Denied { reason }) if reason.contains("User.ReadBasic.All")),
        "{result:?}"
    );
}
