//! Parley's registration against kamailio with digest auth: registering and refreshing,
//! a wrong password, the registrar going down and coming back (UDP and TCP), TLS with
//! certificate verification, DNS SRV with failover to the next target, and the password
//! from the OS keychain (gnome-keyring under a private D-Bus session).

use parley_e2e::kamailio::{Kamailio, KamailioOptions, Transport};
use parley_e2e::parley_cli::{ParleyCli, ParleyConfig, PasswordSource};
use parley_e2e::process::{RigProcess, SpawnOptions};
use parley_e2e::{ports, wait, TestDir};
use serde_json::Value;
use std::process::Command;

fn registration_event(agent: &ParleyCli, state: &str) -> Value {
    agent.wait_event(
        |e| e["event"] == "registration" && e["state"] == state,
        wait::LONG,
    )
}

fn count_registers(kamailio: &Kamailio, user: &str) -> usize {
    kamailio
        .log()
        .lines()
        .filter(|l| l.contains("REQ REGISTER") && l.contains(&format!("(sip:{user}@")))
        .count()
}

#[test]
fn registers_refreshes_and_unregisters_on_quit() {
    let dir = TestDir::new("register_refresh");
    let kamailio = Kamailio::start(&dir, KamailioOptions::default());
    let agent = ParleyCli::start(
        &dir,
        None,
        ParleyConfig::for_kamailio("1001", &kamailio).expires(10),
    );
    let registered = agent.wait_registered(wait::MEDIUM);
    assert_eq!(registered["expires"], 10);
    kamailio.wait_registered("1001", wait::SHORT);
    // A binding of 10 s survives only if it is refreshed (at 5 s, then every 5 s).
    let first = count_registers(&kamailio, "1001");
    assert!(wait::until_true(wait::LONG, || count_registers(
        &kamailio, "1001"
    ) >= first + 4));
    assert!(kamailio.is_registered("1001"));
    // The agent's own unregister and register commands.
    agent.command_ok(serde_json::json!({"cmd": "unregister"}));
    registration_event(&agent, "unregistered");
    kamailio.wait_unregistered("1001", wait::SHORT);
    agent.command_ok(serde_json::json!({"cmd": "register"}));
    kamailio.wait_registered("1001", wait::SHORT);
    assert_eq!(agent.quit(wait::MEDIUM).code(), Some(0));
    kamailio.wait_unregistered("1001", wait::SHORT);
}

#[test]
fn wrong_password_is_a_clear_error_without_retry_loop() {
    let dir = TestDir::new("wrong_password");
    let kamailio = Kamailio::start(&dir, KamailioOptions::default());
    let mut config = ParleyConfig::for_kamailio("1001", &kamailio);
    config.account.password = PasswordSource::Env {
        name: "PARLEY_PASSWORD".into(),
        value: "not-the-password".into(),
    };
    let agent = ParleyCli::start(&dir, None, config);
    let failed = registration_event(&agent, "failed");
    assert_eq!(failed["code"], 401);
    assert!(
        failed["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("rejected the user name or password"),
        "{failed}"
    );
    assert!(
        failed.get("retry_in").is_none(),
        "no automatic retry with wrong credentials: {failed}"
    );
    agent.assert_no_event(
        |e| e["event"] == "registration" && e["state"] == "registering",
        wait::scaled(std::time::Duration::from_secs(3)),
    );
    assert_eq!(
        count_registers(&kamailio, "1001"),
        2,
        "one challenge, one answer, then nothing"
    );
    assert!(!kamailio.is_registered("1001"));
    // The agent logs at debug level in tests: the password is still nowhere.
    let log = std::fs::read_to_string(agent.stderr_path()).unwrap_or_default();
    assert!(
        !log.contains("not-the-password"),
        "the password appears in the log"
    );
    assert!(!std::fs::read_to_string(agent.config_path())
        .unwrap_or_default()
        .contains("not-the-password"));
}

/// The registrar dies and comes back; Parley notices, reports it, and registers again
/// by itself. Over UDP the loss shows as a timeout (T1 lowered to make it 6.4 s).
#[test]
fn registrar_down_then_back_over_udp() {
    let dir = TestDir::new("registrar_down_udp");
    let mut kamailio = Kamailio::start(&dir, KamailioOptions::default());
    let mut config = ParleyConfig::for_kamailio("1001", &kamailio).expires(10);
    config.sip.t1_ms = Some(100);
    config.sip.register_retry_max_seconds = Some(2);
    let agent = ParleyCli::start(&dir, None, config);
    agent.wait_registered(wait::MEDIUM);
    kamailio.stop();
    let failed = registration_event(&agent, "failed");
    assert!(
        failed["retry_in"].as_f64().is_some_and(|r| r <= 2.0),
        "{failed}"
    );
    kamailio.start_again();
    agent.wait_registered(wait::LONG);
    kamailio.wait_registered("1001", wait::SHORT);
}

/// Over TCP the closed connection is noticed at once.
#[test]
fn registrar_down_then_back_over_tcp() {
    let dir = TestDir::new("registrar_down_tcp");
    let mut kamailio = Kamailio::start(&dir, KamailioOptions::default());
    let mut config =
        ParleyConfig::for_kamailio("1001", &kamailio).transport(Transport::Tcp, &kamailio);
    config.sip.register_retry_max_seconds = Some(2);
    let agent = ParleyCli::start(&dir, None, config);
    agent.wait_registered(wait::MEDIUM);
    kamailio.wait_registered("1001", wait::SHORT);
    kamailio.stop();
    registration_event(&agent, "failed");
    kamailio.start_again();
    agent.wait_registered(wait::LONG);
    kamailio.wait_registered("1001", wait::SHORT);
}

#[test]
fn tls_verifies_the_server_certificate() {
    let dir = TestDir::new("tls_register");
    let kamailio = Kamailio::start(
        &dir,
        KamailioOptions {
            tls: true,
            ..KamailioOptions::default()
        },
    );
    let agent = ParleyCli::start(
        &dir,
        None,
        ParleyConfig::for_kamailio("1001", &kamailio).transport(Transport::Tls, &kamailio),
    );
    agent.wait_registered(wait::MEDIUM);
    kamailio.wait_registered("1001", wait::SHORT);

    // Without the test CA the certificate is not trusted: no registration, and the
    // reason says why.
    let mut untrusting =
        ParleyConfig::for_kamailio("1002", &kamailio).transport(Transport::Tls, &kamailio);
    untrusting.tls.ca_file = None;
    let stranger = ParleyCli::start(&dir, None, untrusting);
    let failed = registration_event(&stranger, "failed");
    assert!(
        failed["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("certificate"),
        "{failed}"
    );
    assert!(!kamailio.is_registered("1002"));
}

/// A local DNS server with two SRV records for `_sip._tcp.pbx.test`: the preferred one
/// points at a port nobody listens on, the other at kamailio (RFC 3263 §4.3 failover).
#[test]
fn dns_srv_failover_to_the_next_target() {
    let dir = TestDir::new("dns_srv_failover");
    let kamailio = Kamailio::start(&dir, KamailioOptions::default());
    let dead = ports::port();
    let dns_port = ports::port();
    let mut dnsmasq = Command::new("dnsmasq");
    dnsmasq.args([
        "--no-daemon",
        "--no-resolv",
        "--no-hosts",
        "--bind-interfaces",
        "--listen-address=127.0.0.1",
        "--user=root",
        "--pid-file=",
        "--log-queries",
        &format!("--port={dns_port}"),
        &format!("--srv-host=_sip._tcp.pbx.test,dead.pbx.test,{dead},10,100"),
        &format!(
            "--srv-host=_sip._tcp.pbx.test,live.pbx.test,{},20,100",
            kamailio.port()
        ),
        "--host-record=dead.pbx.test,127.0.0.1",
        "--host-record=live.pbx.test,127.0.0.1",
    ]);
    let _dns = RigProcess::spawn(
        "dnsmasq",
        dnsmasq,
        &dir.subdir("dnsmasq"),
        SpawnOptions::default(),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let mut config = ParleyConfig::standalone("1001");
    config.account.domain = "pbx.test".into();
    config.account.transport = Some("tcp".into());
    config.account.register_on_start = Some(true);
    config.sip.dns_servers = Some(vec![format!("127.0.0.1:{dns_port}")]);
    let agent = ParleyCli::start(&dir, None, config);
    agent.wait_registered(wait::LONG);
    kamailio.wait_registered("1001", wait::SHORT);
    let log = std::fs::read_to_string(agent.stderr_path()).unwrap_or_default();
    assert!(
        log.contains(&format!("127.0.0.1:{dead}")),
        "the preferred target was tried first:\n{log}"
    );
}

/// The password comes from the OS keychain: Secret Service (gnome-keyring) in a private
/// D-Bus session, stored there first with `parley-cli store-password`.
#[test]
fn password_from_the_os_keychain() {
    let dir = TestDir::new("keyring_password");
    let kamailio = Kamailio::start(&dir, KamailioOptions::default());
    let wrapper = dir.file("with-keyring.sh");
    std::fs::write(
        &wrapper,
        "#!/bin/bash\n\
         # A private session bus and an unlocked keyring; store the password, then run the agent.\n\
         exec dbus-run-session -- bash -c '\n\
           echo -n rig | gnome-keyring-daemon --unlock --components=secrets >/dev/null\n\
           printf \"%s\\n\" \"$PARLEY_STORE\" | \"$PARLEY_BIN\" store-password --config \"$3\" >&2 || exit 3\n\
           exec \"$PARLEY_BIN\" \"$@\"' bash \"$@\"\n",
    )
    .expect("writing the wrapper");
    std::fs::set_permissions(
        &wrapper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod");
    let mut config = ParleyConfig::for_kamailio("1001", &kamailio)
        .env("PARLEY_BIN", &ParleyCli::binary().display().to_string())
        .env("PARLEY_STORE", parley_e2e::PASSWORD);
    config.account.password = PasswordSource::Keyring;
    let agent = ParleyCli::start_binary(&wrapper, &dir, None, config);
    agent.wait_registered(wait::MEDIUM);
    kamailio.wait_registered("1001", wait::SHORT);
}
