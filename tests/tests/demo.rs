//! The demo contact center (`parley-cli demo-peer`) with the headless agent: registration,
//! an offered call with caller data and speech, the agent's own call, and a transfer.

use parley_e2e::audio::read_wav_mono;
use parley_e2e::parley_cli::{ParleyCli, ParleyConfig};
use parley_e2e::process::{RigProcess, SpawnOptions};
use parley_e2e::{ports, wait, TestDir, LOOPBACK};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{ChildStdin, Command};
use std::sync::{Arc, Mutex};

/// A running demo-peer: commands to its stdin, its JSON events collected from stdout.
struct DemoPeer {
    _process: RigProcess,
    stdin: ChildStdin,
    events: Arc<Mutex<Vec<Value>>>,
    address: String,
}

impl DemoPeer {
    fn start(dir: &TestDir) -> DemoPeer {
        let port = ports::port();
        let address = format!("{LOOPBACK}:{port}");
        let assets = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../assets");
        let mut command = Command::new(ParleyCli::binary());
        command.args([
            "demo-peer",
            "--listen",
            &address,
            "--interval",
            "0",
            "--talk-time",
            "60",
            "--answer-delay",
            "1",
        ]);
        command.arg("--assets").arg(&assets);
        let mut process = RigProcess::spawn(
            "demo-peer",
            command,
            &dir.subdir("demo-peer"),
            SpawnOptions {
                piped_stdin: true,
                piped_stdout: true,
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let stdin = process.take_stdin().expect("piped stdin");
        let stdout = process.take_stdout().expect("piped stdout");
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&events);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    sink.lock()
                        .expect("no panics while holding the lock")
                        .push(v);
                }
            }
        });
        let demo = DemoPeer {
            _process: process,
            stdin,
            events,
            address,
        };
        demo.wait(|e| e["event"] == "listening");
        demo
    }

    fn send(&mut self, command: Value) {
        writeln!(self.stdin, "{command}").expect("demo-peer stdin");
    }

    fn wait(&self, predicate: impl Fn(&Value) -> bool) -> Value {
        wait::until(wait::MEDIUM, || {
            self.events
                .lock()
                .expect("lock")
                .iter()
                .find(|e| predicate(e))
                .cloned()
        })
        .unwrap_or_else(|| {
            panic!(
                "demo-peer: no such event; events: {:?}",
                self.events.lock().expect("lock")
            )
        })
    }
}

fn seen(agent: &ParleyCli, predicate: impl Fn(&Value) -> bool) -> Value {
    wait::until(wait::MEDIUM, || {
        agent.events().into_iter().find(|e| predicate(e))
    })
    .unwrap_or_else(|| panic!("no such event; events: {:#?}", agent.events()))
}

fn agent_for(dir: &TestDir, demo: &DemoPeer) -> ParleyCli {
    let mut config = ParleyConfig::standalone("agent").ready();
    config.account.registrar = Some(format!("sip:{}", demo.address));
    config.account.register_on_start = Some(true);
    let agent = ParleyCli::start(dir, None, config);
    agent.wait_registered(wait::MEDIUM);
    demo.wait(|e| e["event"] == "registered");
    agent
}

#[test]
fn demo_offers_a_customer_call_with_context_and_speech() {
    let dir = TestDir::new("demo_offer");
    let mut demo = DemoPeer::start(&dir);
    let agent = agent_for(&dir, &demo);
    demo.send(json!({"cmd": "offer", "customer": "C-1001"}));
    let offered = seen(&agent, |e| e["event"] == "incoming_call");
    assert_eq!(offered["from_name"], "Maria Schmidt");
    assert_eq!(offered["from_user"], "+4930123456");
    assert_eq!(offered["headers"]["X-Customer-Id"], "C-1001");
    assert_eq!(offered["headers"]["X-Queue"], "Support DE");
    assert!(offered["headers"]["User-to-User"]
        .as_str()
        .is_some_and(|u| u.ends_with(";encoding=hex")));
    let call = offered["call"].clone();
    agent.answer(&call);
    agent.wait_call_state(&call, "connected", wait::MEDIUM);
    // A window that opens now learns all of it from `status`.
    agent.command_ok(json!({"cmd": "status"}));
    let status = seen(&agent, |e| e["event"] == "status");
    assert_eq!(
        (
            &status["registration"],
            &status["agent_state"],
            &status["connection"]
        ),
        (&json!("registered"), &json!("on_call"), &json!("up"))
    );
    let view = &status["calls"][0];
    assert_eq!(
        (
            &view["call"],
            &view["direction"],
            &view["state"],
            &view["remote_name"]
        ),
        (
            &call,
            &json!("inbound"),
            &json!("connected"),
            &json!("Maria Schmidt")
        )
    );
    assert_eq!(view["headers"]["X-Customer-Id"], "C-1001");
    assert!(view["connected_at"].as_i64() >= view["started_at"].as_i64());
    let recording = PathBuf::from(
        seen(&agent, |e| {
            e["event"] == "media" && e["recording"].is_string()
        })["recording"]
            .as_str()
            .expect("checked"),
    );
    // Two seconds of the caller's speech (8 kHz, 16-bit).
    assert!(wait::until_true(wait::MEDIUM, || std::fs::metadata(
        &recording
    )
    .is_ok_and(|m| m.len() > 44 + 2 * 16_000)));
    agent.hangup(&call);
    agent.wait_call_state(&call, "ended", wait::MEDIUM);
    demo.wait(|e| e["event"] == "call_state" && e["state"] == "ended");
    let audio = read_wav_mono(&recording).unwrap_or_else(|e| panic!("{e}"));
    let loud = audio
        .samples
        .iter()
        .filter(|s| s.unsigned_abs() > 1000)
        .count();
    assert!(
        loud > 2000,
        "the recording holds the caller's speech ({loud} loud samples)"
    );
}

#[test]
fn demo_answers_the_agents_call_and_completes_a_transfer() {
    let dir = TestDir::new("demo_dial_transfer");
    let demo = DemoPeer::start(&dir);
    let agent = agent_for(&dir, &demo);
    let call = agent.dial("+442071234567");
    seen(&agent, |e| {
        e["event"] == "call_state" && e["call"] == call && e["state"] == "ringing"
    });
    agent.wait_call_state(&call, "connected", wait::MEDIUM);
    agent.command_ok(json!({"cmd": "transfer", "call": call, "to": "2000"}));
    demo.wait(|e| e["event"] == "transfer");
    seen(&agent, |e| {
        e["event"] == "transfer" && e["state"] == "succeeded"
    });
    let ended = seen(&agent, |e| {
        e["event"] == "call_state" && e["call"] == call && e["state"] == "ended"
    });
    assert_eq!(ended["reason"], "transferred");
}
