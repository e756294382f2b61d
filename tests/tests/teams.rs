//! Teams presence sync through the headless agent, against the fake Entra/Graph
//! (src/graph.rs) and sipp as the contact center (DESIGN §6): Teams busy → the next offer
//! gets 486 and is counted; Teams free again → Ready after two clean readings; a
//! contact-center call → Busy/InACall in Teams within a second, cleared at hang-up;
//! throttling → Retry-After honoured, shown, recovered; quit → our session cleared.

use parley_e2e::graph::{FakeGraph, Injected, CLIENT_ID};
use parley_e2e::parley_cli::{ParleyCli, ParleyConfig};
use parley_e2e::sipp::Sipp;
use parley_e2e::{ports, wait, TestDir};
use serde_json::Value;
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

    // Throttled: the sync shows it, waits as told, and recovers by itself.
    graph.inject(&[Injected::Throttled { retry_after: 3 }]);
    agent.wait_event(
        |e| e["event"] == "teams" && e["sync"] == "unavailable",
        wait::MEDIUM,
    );
    let throttled = Instant::now();
    agent.wait_event(
        |e| e["event"] == "teams" && e["sync"] == "active",
        wait::MEDIUM,
    );
    assert!(
        throttled.elapsed() >= Duration::from_millis(2_500),
        "{:?}",
        throttled.elapsed()
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

#[test]
fn parley_cli_signs_in_with_a_device_code_and_keeps_the_token_in_its_file() {
    use std::io::{BufRead, BufReader};
    use std::os::unix::fs::PermissionsExt;
    let dir = TestDir::new("teams_cli_sign_in");
    let graph = FakeGraph::start();
    let token_file = dir.path().join("teams-token");
    let mut config = ParleyConfig::standalone(AGENT).teams(&graph, 10);
    let table = config.teams.take().expect("a [teams] table");
    config.teams = Some(table.replace(
        "refresh_token = { env = \"PARLEY_TEAMS_TOKEN\" }",
        &format!("refresh_token = {{ file = \"{}\" }}", token_file.display()),
    ));
    let config_file = dir.path().join("agent.toml");
    std::fs::write(&config_file, config.to_toml()).unwrap();
    let mut child = std::process::Command::new(ParleyCli::binary())
        .args(["teams-sign-in", "--device-code", "--config"])
        .arg(&config_file)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("parley-cli runs");
    // The user reads the code and enters it on another device.
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
    let stored = std::fs::read_to_string(&token_file).expect("the token file");
    assert!(graph.valid_refresh_tokens().contains(&stored));
    let mode = std::fs::metadata(&token_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(
        !String::from_utf8_lossy(&output.stdout).contains(&stored),
        "the token is never shown"
    );
}
