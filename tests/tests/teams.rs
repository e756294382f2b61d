//! Teams presence sync through the headless agent, against the fake Entra/Graph
//! (src/graph.rs) and sipp as the contact center (DESIGN §6): Teams busy → the next offer
//! gets 486 and is counted; Teams free again → Ready after two clean readings; a
//! contact-center call → Busy/InACall in Teams within a second, cleared at hang-up;
//! throttling → Retry-After honoured, shown, recovered, calls unaffected; quit → our
//! session cleared.

use parley_e2e::graph::{FakeGraph, Injected, Person, CLIENT_ID, TENANT};
use parley_e2e::kamailio::{Kamailio, KamailioOptions};
use parley_e2e::parley_cli::{write_secret_file, ParleyCli, ParleyConfig};
use parley_e2e::sipp::Sipp;
use parley_e2e::{ports, wait, TestDir};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const AGENT: &str = "agent";

/// An agent behind sipp (its registrar and proxy on `sipp_port`, not registering), ready,
/// with presence sync against `graph` every second.
fn agent(dir: &TestDir, sipp_port: u16, graph: &FakeGraph) -> ParleyCli {
    let config = ParleyConfig::standalone(AGENT)
        .codecs(&["PCMU"])
        .ready()
        .teams(graph, 1)
        .via_proxy_port(sipp_port);
    ParleyCli::start(dir, None, config)
}

fn is_state(e: &Value, state: &str, reason: Option<&str>) -> bool {
    e["event"] == "agent_state" && e["state"] == state && reason.is_none_or(|r| e["reason"] == r)
}

fn offer(scenario: &str, agent: &ParleyCli, sipp_port: u16) -> Sipp {
    Sipp::uac(scenario, agent.sip_addr())
        .local_port(sipp_port)
        .service(AGENT)
        .key("customer_id", "C-1001")
        .key("uui", "0123456789abcdef")
}

#[test]
fn teams_keeps_offers_away_and_the_contact_center_call_shows_in_teams() {
    let dir = TestDir::new("teams_sync");
    let graph = FakeGraph::start();
    let sipp_port = ports::port();
    let agent = agent(&dir, sipp_port, &graph);
    agent.wait_event(
        |e| e["event"] == "teams" && e["sync"] == "active",
        wait::MEDIUM,
    );

    // The agent takes a Teams call: blocked within about one poll interval.
    graph.set_teams_client("Busy", "InACall");
    let teams_call = Instant::now();
    agent.wait_event(
        |e| is_state(e, "not_ready", Some("teams_busy")),
        wait::MEDIUM,
    );
    let blocked_after = teams_call.elapsed();
    // One interval (1 s ± 20 %) and the request itself; generous for a loaded machine.
    assert!(
        blocked_after < wait::scaled(Duration::from_secs(4)),
        "{blocked_after:?}"
    );
    // The teams event that says why came just before the state change.
    let teams = agent
        .events()
        .into_iter()
        .find(|e| e["event"] == "teams" && e["busy"] == true)
        .expect("a teams event with busy");
    assert_eq!(teams["activity"], "InACall", "{teams}");

    // A contact-center offer meanwhile: 486, counted, never rings.
    offer("uac_busy_here", &agent, sipp_port)
        .spawn(&dir)
        .wait(wait::MEDIUM)
        .assert_success();
    let deflected = agent.wait_event(|e| e["event"] == "call_deflected", wait::SHORT);
    assert_eq!(
        (&deflected["reason"], &deflected["code"]),
        (&"teams_busy".into(), &486.into())
    );
    agent.wait_event(
        |e| e["event"] == "teams" && e["deflected"] == 1,
        wait::SHORT,
    );
    assert!(!agent.events().iter().any(|e| e["event"] == "incoming_call"));

    // The Teams call ends: Ready again after two clean readings.
    let readings = |graph: &FakeGraph| {
        graph
            .requests()
            .iter()
            .filter(|r| *r == "GET /v1.0/me/presence")
            .count()
    };
    graph.set_teams_client("Available", "Available");
    let before = readings(&graph);
    agent.wait_event(|e| is_state(e, "ready", None), wait::MEDIUM);
    assert!(
        readings(&graph) - before >= 2,
        "released after fewer than two clean readings"
    );

    // A contact-center call: Busy/InACall in Teams within a second of connecting.
    let call = offer("uac_basic", &agent, sipp_port)
        .pause(Duration::from_secs(4))
        .spawn(&dir);
    let incoming = agent.wait_event(|e| e["event"] == "incoming_call", wait::MEDIUM);
    let id = incoming["call"].clone();
    agent.answer(&id);
    agent.wait_call_state(&id, "connected", wait::MEDIUM);
    let connected = Instant::now();
    let shown = wait::until_true(wait::SHORT, || {
        graph.sessions() == [(CLIENT_ID.to_owned(), ("Busy".into(), "InACall".into()))]
    });
    assert!(shown, "{:?}", graph.sessions());
    let shown_after = connected.elapsed();
    assert!(
        shown_after < wait::scaled(Duration::from_secs(1)),
        "{shown_after:?}"
    );
    // Teams shows our own session back meanwhile; that must not block the agent (checked
    // below: one teams_busy only, the real Teams call's).
    // Hang-up (sipp's BYE): cleared.
    call.wait(wait::LONG).assert_success();
    agent.wait_call_state(&id, "ended", wait::MEDIUM);
    assert!(wait::until_true(wait::SHORT, || graph
        .sessions()
        .is_empty()));
    let after_call: Vec<Value> = agent
        .events()
        .into_iter()
        .filter(|e| is_state(e, "not_ready", Some("teams_busy")))
        .collect();
    assert_eq!(
        after_call.len(),
        1,
        "only the real Teams call blocked: {after_call:?}"
    );

    // Throttled: the sync shows it, waits as told, and recovers by itself; a call offered
    // meanwhile rings and is answered as ever.
    graph.inject(&[Injected::Throttled { retry_after: 8 }]);
    agent.wait_event(
        |e| e["event"] == "teams" && e["sync"] == "unavailable",
        wait::MEDIUM,
    );
    let throttled = Instant::now();
    let call = offer("uac_basic", &agent, sipp_port)
        .pause(Duration::from_millis(500))
        .spawn(&dir);
    let incoming = agent.wait_event(|e| e["event"] == "incoming_call", wait::MEDIUM);
    agent.answer(&incoming["call"]);
    call.wait(wait::LONG).assert_success();
    agent.wait_event(
        |e| e["event"] == "teams" && e["sync"] == "active",
        wait::MEDIUM,
    );
    assert!(
        throttled.elapsed() >= Duration::from_millis(7_500),
        "Retry-After not honoured: {:?}",
        throttled.elapsed()
    );
    let events = agent.events();
    let offered = events
        .iter()
        .rposition(|e| e["event"] == "incoming_call")
        .unwrap();
    let recovered = events
        .iter()
        .rposition(|e| e["event"] == "teams" && e["sync"] == "active")
        .unwrap();
    assert!(
        offered < recovered,
        "the call came while Teams sync was unavailable"
    );

    // Quit: nothing of ours is left in Teams.
    let status = agent.quit(wait::MEDIUM);
    assert!(status.success(), "{status}");
    assert!(graph.sessions().is_empty());
}

#[test]
fn a_missing_sign_in_is_reported_and_calls_go_on() {
    let dir = TestDir::new("teams_no_sign_in");
    let graph = FakeGraph::start();
    graph.revoke_refresh_tokens();
    let sipp_port = ports::port();
    let agent = agent(&dir, sipp_port, &graph);
    let teams = agent.wait_event(
        |e| e["event"] == "teams" && e["sync"] == "unavailable",
        wait::MEDIUM,
    );
    let reason = teams["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("sign in to Teams again"), "{teams}");
    // The agent still takes calls.
    let call = offer("uac_basic", &agent, sipp_port)
        .pause(Duration::from_millis(500))
        .spawn(&dir);
    let incoming = agent.wait_event(|e| e["event"] == "incoming_call", wait::MEDIUM);
    agent.answer(&incoming["call"]);
    call.wait(wait::LONG).assert_success();
    let status = agent.quit(wait::MEDIUM);
    assert!(status.success(), "{status}");
}

/// `parley-cli teams-sign-in --device-code` with `command`: the user reads the code and
/// enters it on another device (the fake approves it).
fn device_code_sign_in(
    mut command: std::process::Command,
    config_file: &std::path::Path,
    graph: &FakeGraph,
) -> std::process::Output {
    use std::io::{BufRead, BufReader};
    let mut child = command
        .args(["teams-sign-in", "--device-code", "--config"])
        .arg(config_file)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("parley-cli runs");
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let message = stderr
        .lines()
        .map_while(Result::ok)
        .find(|l| l.contains("devicelogin"))
        .expect("the sign-in instructions");
    let user_code = message
        .split_whitespace()
        .find(|w| w.starts_with("PRLY"))
        .expect("the code in the instructions");
    graph.answer_device(user_code, true);
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{output:?}");
    output
}

#[test]
fn parley_cli_signs_in_with_a_device_code_and_keeps_the_token_in_its_file() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TestDir::new("teams_cli_sign_in");
    let graph = FakeGraph::start();
    let token_file = dir.path().join("teams-token");
    let config = ParleyConfig::standalone(AGENT)
        .teams(&graph, 10)
        .teams_token_file(&token_file, None);
    let config_file = dir.path().join("agent.toml");
    std::fs::write(&config_file, config.to_toml()).unwrap();
    let output = device_code_sign_in(
        std::process::Command::new(ParleyCli::binary()),
        &config_file,
        &graph,
    );
    let stored = std::fs::read_to_string(&token_file).expect("the token file");
    assert!(graph.valid_refresh_tokens().contains(&stored));
    let mode = std::fs::metadata(&token_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(
        !String::from_utf8_lossy(&output.stdout).contains(&stored),
        "the token is never shown"
    );
}

/// Our presence session in Teams, as Graph holds it.
fn session(graph: &FakeGraph, activity: &str) -> bool {
    graph.sessions() == [(CLIENT_ID.to_owned(), ("Busy".into(), activity.into()))]
}

/// The Connect model's "find the expert in Teams": the agent searches the directory,
/// sees the colleague's presence, consults them on their number while the customer
/// holds (Teams shows InAConferenceCall), then signs out of Teams (our session cleared,
/// the sign-in forgotten) and signs in again with `teams_start`.
#[test]
fn the_agent_consults_a_colleague_found_in_the_teams_directory() {
    let dir = TestDir::new("teams_directory");
    let graph = FakeGraph::start();
    let mut ada = Person::new("id-ada", "Ada Lovelace", "ada@contoso.com", "1003");
    ada.job_title = Some("Billing expert".into());
    graph.add_person(ada);
    graph.set_person_presence("id-ada", "Available", "Available");
    let kamailio = Kamailio::start(&dir, KamailioOptions::default());
    let token_file = dir.path().join("teams-token");
    let start = |user: &str, config: ParleyConfig| {
        let agent = ParleyCli::start(&dir, None, config);
        agent.wait_registered(wait::MEDIUM);
        kamailio.wait_registered(user, wait::SHORT);
        agent
    };
    let agent = start(
        "1001",
        ParleyConfig::for_kamailio("1001", &kamailio)
            .ready()
            .teams(&graph, 1)
            .teams_token_file(&token_file, Some(&graph.first_refresh_token())),
    );
    let customer = start("1002", ParleyConfig::for_kamailio("1002", &kamailio));
    let colleague = start(
        "1003",
        ParleyConfig::for_kamailio("1003", &kamailio).ready(),
    );
    agent
        .find_event(
            |e| e["event"] == "teams" && e["sync"] == "active" && e["directory"] == true,
            wait::MEDIUM,
        )
        .expect("Teams sync active with the directory");

    // A customer's call: Busy/InACall in Teams.
    let customer_leg = customer.dial(&kamailio.aor("1001"));
    let offered = agent.wait_event(|e| e["event"] == "incoming_call", wait::MEDIUM)["call"].clone();
    agent.answer(&offered);
    agent.wait_call_state(&offered, "connected", wait::MEDIUM);
    assert!(wait::until_true(wait::SHORT, || session(&graph, "InACall")));

    // The agent looks for the billing expert: found, with her presence and number.
    let found = agent.command_ok(json!({"cmd": "colleagues", "query": "ada"}));
    let ada = &found["colleagues"][0];
    assert_eq!(
        (&ada["name"], &ada["phone"], &ada["availability"]),
        (&"Ada Lovelace".into(), &"1003".into(), &"Available".into()),
        "{found}"
    );

    // Consult her on that number while the customer holds: Teams shows a conference.
    agent.command_ok(json!({"cmd": "hold", "call": offered}));
    agent.wait_call_state(&offered, "held", wait::MEDIUM);
    let consult = agent.dial(ada["phone"].as_str().unwrap());
    let colleague_leg =
        colleague.wait_event(|e| e["event"] == "incoming_call", wait::MEDIUM)["call"].clone();
    colleague.answer(&colleague_leg);
    agent.wait_call_state(&consult, "connected", wait::MEDIUM);
    assert!(
        wait::until_true(wait::SHORT, || session(&graph, "InAConferenceCall")),
        "{:?}",
        graph.sessions()
    );
    // Her Teams now says she is in a call, and a new search shows it.
    graph.set_person_presence("id-ada", "Busy", "InACall");
    let found = agent.command_ok(json!({"cmd": "colleagues", "query": "lovelace"}));
    assert_eq!(found["colleagues"][0]["activity"], "InACall", "{found}");

    // The consultation ends: back to one call.
    agent.hangup(&consult);
    agent.wait_call_state(&consult, "ended", wait::MEDIUM);
    assert!(wait::until_true(wait::SHORT, || session(&graph, "InACall")));

    // Sign-out during the call: our session is cleared and the sign-in forgotten.
    agent.command_ok(json!({"cmd": "teams_sign_out"}));
    agent.wait_event(
        |e| e["event"] == "teams" && e["sync"] == "signed_out" && e["directory"] == false,
        wait::SHORT,
    );
    assert!(wait::until_true(wait::SHORT, || graph
        .sessions()
        .is_empty()));
    assert!(!token_file.exists(), "the stored sign-in is removed");
    let refused = agent.command(json!({"cmd": "colleagues", "query": "ada"}));
    assert_eq!(refused["error"], "teams_directory", "{refused}");
    // Nothing writes the token back afterwards (the sync held a rotating one).
    std::thread::sleep(Duration::from_secs(2));
    assert!(!token_file.exists());

    // Signed in again (as parley-cli teams-sign-in would leave it): the sync resumes and
    // shows the call that is still going on.
    let token = graph.valid_refresh_tokens().pop().expect("a valid token");
    write_secret_file(&token_file, &token);
    agent.command_ok(json!({"cmd": "teams_start"}));
    assert!(wait::until_true(wait::MEDIUM, || session(
        &graph, "InACall"
    )));
    agent.command_ok(json!({"cmd": "status"}));
    let status = agent
        .events()
        .into_iter()
        .rev()
        .find(|e| e["event"] == "status")
        .expect("a status event");
    assert_eq!(status["teams"]["sync"], "active", "{status}");

    customer.hangup(&customer_leg);
    agent.wait_call_state(&offered, "ended", wait::MEDIUM);
    assert!(wait::until_true(wait::SHORT, || graph
        .sessions()
        .is_empty()));
    let status = agent.quit(wait::MEDIUM);
    assert!(status.success(), "{status}");
}

/// Entra refresh tokens can outgrow one Windows Credential Manager entry (2,560 bytes):
/// the keychain keeps them in chunks. Signed in with a 3,000-character token through
/// gnome-keyring, the agent reads it back whole, stores each rotated successor the same
/// way, and sign-out leaves nothing of it in the keychain.
#[test]
fn a_long_refresh_token_is_kept_in_keychain_chunks_and_removed_at_sign_out() {
    use parley_e2e::desktop::{DesktopEnv, DesktopOptions};
    let dir = TestDir::new("teams_keychain");
    let graph = FakeGraph::start();
    graph.set_refresh_token_length(3000);
    let env = DesktopEnv::new(
        &dir,
        &DesktopOptions {
            keyring: true,
            ..DesktopOptions::demo()
        },
    );
    let sipp_port = ports::port();
    let mut config = ParleyConfig::standalone(AGENT)
        .teams(&graph, 1)
        .teams_token_source("{ keyring = true }")
        .via_proxy_port(sipp_port);
    for (name, value) in env.vars() {
        config = config.env(name, value);
    }
    let config_file = dir.path().join("agent.toml");
    std::fs::write(&config_file, config.to_toml()).unwrap();
    device_code_sign_in(env.command(ParleyCli::binary()), &config_file, &graph);

    let user = format!("teams:{CLIENT_ID}@{TENANT}");
    let stored = |env: &DesktopEnv| -> Option<String> {
        let head = env.secret(&user)?;
        let count: usize = head.strip_prefix("parley-chunks:")?.parse().ok()?;
        (1..=count)
            .map(|i| env.secret(&format!("{user}#{i}")))
            .collect()
    };
    assert_eq!(env.secret(&user).as_deref(), Some("parley-chunks:3"));
    let first = stored(&env).expect("the token in three chunks");
    assert_eq!(first.len(), 3000);
    assert!(graph.valid_refresh_tokens().contains(&first));

    // The agent signs in with it; the rotated successor replaces it, chunked again.
    let agent = ParleyCli::start(&dir, None, config);
    agent.wait_event(
        |e| e["event"] == "teams" && e["sync"] == "active",
        wait::MEDIUM,
    );
    assert!(wait::until_true(wait::SHORT, || {
        stored(&env).is_some_and(|t| t != first && graph.valid_refresh_tokens().contains(&t))
    }));

    agent.command_ok(json!({"cmd": "teams_sign_out"}));
    assert_eq!(env.secret(&user), None);
    assert!((1..=3).all(|i| env.secret(&format!("{user}#{i}")).is_none()));
    let status = agent.quit(wait::MEDIUM);
    assert!(status.success(), "{status}");
    assert_eq!(
        env.secret(&user),
        None,
        "nothing stored back while quitting"
    );
}
