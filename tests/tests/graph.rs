//! The runtime's Microsoft Graph client against the fake Entra/Graph (src/graph.rs):
//! refresh-token rotation, presence reads, our presence session set and cleared, Graph's
//! aggregation, and every failure the sync must tell apart.

use std::time::Duration;

use parley_core::presence::{Activity, Availability, Failure, SessionActivity};
use parley_e2e::graph::{FakeGraph, Injected, CLIENT_ID, TENANT, USER_ID};
use parley_runtime::graph::{GraphClient, GraphSettings};

fn client(fake: &FakeGraph) -> GraphClient {
    GraphClient::new(
        GraphSettings {
            graph_url: fake.graph_url(),
            login_url: fake.login_url(),
            tenant: TENANT.into(),
            client_id: CLIENT_ID.into(),
        },
        fake.first_refresh_token(),
        None,
    )
    .expect("valid settings")
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
        graph_url: fake.graph_url(),
        login_url: "http://127.0.0.1:9".into(),
        tenant: TENANT.into(),
        client_id: CLIENT_ID.into(),
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
            graph_url: fake.graph_url(),
            login_url: fake.login_url(),
            tenant: TENANT.into(),
            client_id: "another-app".into(),
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
