//! The real desktop app (Tauri window under Xvfb, driven through tauri-driver and
//! WebKitWebDriver) in demo mode: registration shown, an offered call rings and is answered
//! by keyboard, the caller's name and context appear, hold and resume, hang up, the call in
//! the history; click-to-dial links handed over by a second start, and hostile links
//! refused.

use parley_e2e::desktop::{Desktop, DesktopOptions};
use parley_e2e::pulse::Pulse;
use parley_e2e::webdriver::keys;
use parley_e2e::{wait, TestDir};

fn css(testid: &str) -> String {
    format!("[data-testid={testid}]")
}

/// Starts the app in demo mode and waits until the agent is registered to the demo.
fn demo(dir: &TestDir, options: DesktopOptions) -> Desktop {
    let app = Desktop::start(dir, options);
    app.web
        .wait_attribute(&css("registration"), "data-state", "registered", wait::LONG);
    app.web.wait_for(&css("mode-badge"), wait::SHORT);
    app
}

/// Asks the demo contact center to call as `customer` and waits for the ring.
fn offer(app: &Desktop, customer: &str) -> String {
    let web = &app.web;
    let option = web
        .find(&format!(
            "{} option[value='{customer}']",
            css("demo-customer")
        ))
        .expect("the customer is offered");
    web.click(&option).expect("choose the customer");
    web.click(&web.wait_for(&css("demo-offer-button"), wait::SHORT))
        .expect("offer");
    let banner = web.wait_for(&css("incoming-banner"), wait::LONG);
    web.attribute(&banner, "data-call")
        .expect("attribute")
        .expect("the banner names its call")
}

/// Hangs up, sees the call ended (the panel stays for wrap-up), and puts it away.
fn hang_up(app: &Desktop, panel: &str) {
    let web = &app.web;
    web.click(&web.find(&css("hangup-button")).unwrap())
        .expect("hang up");
    web.wait_attribute(panel, "data-state", "ended", wait::MEDIUM);
    web.click(&web.wait_for(&css("done-button"), wait::SHORT))
        .expect("done");
    web.wait_gone(panel, wait::MEDIUM);
}

fn text_of(app: &Desktop, testid: &str) -> String {
    let el = app.web.wait_for(&css(testid), wait::MEDIUM);
    app.web.text(&el).expect("text")
}

#[test]
fn demo_call_rings_is_answered_by_keyboard_held_and_lands_in_the_history() {
    let dir = TestDir::new("desktop_demo_call");
    let app = demo(&dir, DesktopOptions::demo());
    let web = &app.web;
    assert_eq!(
        web.attribute(&web.find(&css("app")).unwrap(), "data-mode")
            .unwrap()
            .as_deref(),
        Some("demo")
    );

    let call = offer(&app, "C-1001");
    assert!(text_of(&app, "incoming-banner").contains("Maria Schmidt"));
    // The answer button has the focus: one key answers.
    let focused = web.active().expect("a focused element");
    assert_eq!(
        web.attribute(&focused, "data-testid").unwrap().as_deref(),
        Some("answer-button")
    );
    web.press(keys::ENTER).expect("Enter");
    let panel = format!("{}[data-call='{call}']", css("call-panel"));
    web.wait_attribute(&panel, "data-state", "connected", wait::LONG);
    web.wait_gone(&css("incoming-banner"), wait::MEDIUM);
    assert_eq!(text_of(&app, "caller-name"), "Maria Schmidt");
    let customer_id = web
        .find(&format!(
            "{}[data-header='X-Customer-Id']",
            css("context-row")
        ))
        .expect("context row");
    assert!(web.text(&customer_id).unwrap().contains("C-1001"));
    assert!(text_of(&app, "customer-company").contains("Schmidt Logistik GmbH"));

    web.click(&web.find(&css("hold-button")).unwrap())
        .expect("hold");
    web.wait_attribute(&panel, "data-state", "held", wait::MEDIUM);
    web.wait_attribute(&css("hold-button"), "data-held", "true", wait::SHORT);
    web.click(&web.find(&css("hold-button")).unwrap())
        .expect("resume");
    web.wait_attribute(&panel, "data-state", "connected", wait::MEDIUM);

    hang_up(&app, &panel);
    let entry = format!(
        "{}[data-remote='+4930123456'][data-outcome='answered']",
        css("history-item")
    );
    web.wait_for(&entry, wait::MEDIUM);
    let item = web.find(&entry).unwrap();
    assert_eq!(
        web.attribute(&item, "data-direction").unwrap().as_deref(),
        Some("inbound")
    );

    // Escape declines the next offer; it is in the history as declined.
    offer(&app, "C-1002");
    assert_eq!(
        web.attribute(&web.active().unwrap(), "data-testid")
            .unwrap()
            .as_deref(),
        Some("answer-button")
    );
    web.press(keys::ESCAPE).expect("Escape");
    web.wait_gone(&css("incoming-banner"), wait::MEDIUM);
    web.wait_for(
        &format!("{}[data-remote='+442071234567']", css("history-item")),
        wait::MEDIUM,
    );
}

#[test]
fn a_tel_link_opened_while_running_is_confirmed_then_dialled_and_hostile_links_are_refused() {
    let dir = TestDir::new("desktop_links");
    let app = demo(&dir, DesktopOptions::demo());
    let web = &app.web;

    assert!(
        app.open_link("tel:+44-20-7123-4567").success(),
        "the second start hands over and exits"
    );
    web.wait_for(&css("link-confirm"), wait::MEDIUM);
    assert_eq!(text_of(&app, "link-target"), "+442071234567");
    web.click(&web.find(&css("link-call-button")).unwrap())
        .expect("call");
    let panel = web.wait_for(&css("call-panel"), wait::MEDIUM);
    let call = web
        .attribute(&panel, "data-call")
        .unwrap()
        .expect("call id");
    let panel = format!("{}[data-call='{call}']", css("call-panel"));
    // The demo contact center answers after two seconds of ringing.
    web.wait_attribute(&panel, "data-state", "connected", wait::LONG);
    assert!(text_of(&app, "caller-number").contains("+442071234567"));
    hang_up(&app, &panel);

    for (link, code) in [
        ("javascript:alert(1)", "link_scheme"),
        ("sip:bob@example.com?Replaces=abc%40host", "link_unsafe"),
        ("tel:+49 30 1234\u{202E}5678", "link_control_characters"),
        ("tel:call-me-maybe", "link_number"),
    ] {
        let status = app.open_link(link);
        assert!(status.success(), "the second start with {link:?}: {status}");
        web.wait_for(
            &format!("{}[data-code='{code}']", css("link-refused")),
            wait::MEDIUM,
        );
    }
    assert!(
        web.find_all(&css("call-panel")).unwrap().is_empty(),
        "a refused link never dials"
    );
    assert!(web.find_all(&css("link-confirm")).unwrap().is_empty());
}

#[test]
fn with_dial_at_once_a_link_dials_without_asking() {
    let dir = TestDir::new("desktop_link_dial");
    let app = demo(
        &dir,
        DesktopOptions::demo().with_preferences("link_action = \"dial\"\n"),
    );
    let web = &app.web;
    assert!(app.open_link("callto://+4930123456/").success());
    web.wait_for(&css("link-dialled"), wait::MEDIUM);
    web.wait_for(&css("call-panel"), wait::MEDIUM);
    let number = text_of(&app, "caller-number");
    assert!(number.contains("+4930123456"), "{number}");
    assert!(web.find_all(&css("link-confirm")).unwrap().is_empty());
}

#[test]
fn blind_and_attended_transfers_in_demo_mode() {
    let dir = TestDir::new("desktop_transfers");
    let app = demo(&dir, DesktopOptions::demo());
    let web = &app.web;

    // Blind: the demo's colleague takes the call, and it ends as transferred.
    let first = offer(&app, "C-1002");
    web.press(keys::ENTER).expect("answer");
    let panel = format!("{}[data-call='{first}']", css("call-panel"));
    web.wait_attribute(&panel, "data-state", "connected", wait::LONG);
    let target = web.find(&css("transfer-input")).unwrap();
    web.send_keys(&target, "2000").expect("type the target");
    web.click(&web.find(&css("transfer-button")).unwrap())
        .expect("transfer");
    web.wait_attribute(&panel, "data-state", "ended", wait::LONG);
    web.click(&web.wait_for(&css("done-button"), wait::SHORT))
        .expect("done");
    web.wait_for(
        &format!(
            "{}[data-remote='+442071234567'][data-outcome='transferred']",
            css("history-item")
        ),
        wait::MEDIUM,
    );

    // Attended: consult a colleague (the customer waits on hold), then join them.
    let second = offer(&app, "C-1003");
    web.press(keys::ENTER).expect("answer");
    let panel = format!("{}[data-call='{second}']", css("call-panel"));
    web.wait_attribute(&panel, "data-state", "connected", wait::LONG);
    let target = web.find(&css("transfer-input")).unwrap();
    web.send_keys(&target, "2001").expect("type the colleague");
    web.click(&web.find(&css("consult-button")).unwrap())
        .expect("consult");
    // The demo answers the consultation after two seconds of ringing.
    let complete = web.wait_for(&css("complete-transfer-button"), wait::LONG);
    assert!(wait::until_true(wait::LONG, || web
        .attribute(&complete, "disabled")
        .is_ok_and(|d| d.is_none())));
    web.click(&complete).expect("complete the transfer");
    web.wait_for(
        &format!(
            "{}[data-remote='+491701234567'][data-outcome='transferred']",
            css("history-item")
        ),
        wait::LONG,
    );
}

#[test]
fn auto_answer_answers_an_offered_call_after_a_tone() {
    let dir = TestDir::new("desktop_auto_answer");
    let app = demo(
        &dir,
        DesktopOptions::demo().with_preferences("auto_answer = true\n"),
    );
    let call = offer(&app, "C-1004");
    let panel = format!("{}[data-call='{call}']", css("call-panel"));
    app.web
        .wait_attribute(&panel, "data-state", "connected", wait::LONG);
}

#[test]
fn an_account_is_tested_saved_and_registers_with_its_password_in_the_keychain() {
    use parley_e2e::kamailio::{Kamailio, KamailioOptions};
    let dir = TestDir::new("desktop_account");
    let kamailio = Kamailio::start(&dir, KamailioOptions::default());
    let app = demo(
        &dir,
        DesktopOptions {
            keyring: true,
            ..DesktopOptions::demo()
        },
    );
    let web = &app.web;
    web.click(&web.find(&css("settings-button")).unwrap())
        .expect("settings");
    web.wait_for(&css("settings-dialog"), wait::MEDIUM);
    let fill = |testid: &str, text: &str| {
        let field = web.find(&css(testid)).unwrap();
        web.clear(&field).expect("clear");
        web.send_keys(&field, text).expect("type");
    };
    // A wrong password first: the test says why, nothing is saved.
    fill("account-username", "1001");
    fill("account-domain", kamailio.domain());
    fill(
        "account-registrar",
        &format!("sip:{}:{}", kamailio.domain(), kamailio.port()),
    );
    fill("account-password", "wrong");
    web.click(&web.find(&css("account-test")).unwrap())
        .expect("test");
    web.wait_attribute(
        &css("account-test-result"),
        "data-registered",
        "false",
        wait::LONG,
    );
    assert!(!app.env.config_dir().join("parley.toml").exists());

    fill("account-password", parley_e2e::PASSWORD);
    web.click(&web.find(&css("account-test")).unwrap())
        .expect("test");
    web.wait_attribute(
        &css("account-test-result"),
        "data-registered",
        "true",
        wait::LONG,
    );
    web.click(&web.find(&css("account-save")).unwrap())
        .expect("save");
    // The agent restarts on the account: out of demo mode, registered to Kamailio.
    web.wait_attribute(&css("app"), "data-mode", "account", wait::LONG);
    web.wait_attribute(&css("registration"), "data-state", "registered", wait::LONG);
    kamailio.wait_registered("1001", wait::MEDIUM);
    let saved = std::fs::read_to_string(app.env.config_dir().join("parley.toml")).unwrap();
    assert!(
        saved.contains("username = \"1001\"") && saved.contains("keyring = true"),
        "{saved}"
    );
    assert!(
        !saved.contains(parley_e2e::PASSWORD),
        "the password is only in the keychain"
    );
    assert!(web.find_all(&css("mode-badge")).unwrap().is_empty());
}

#[test]
fn a_link_that_starts_parley_waits_for_the_window() {
    let dir = TestDir::new("desktop_cold_link");
    let app = demo(
        &dir,
        DesktopOptions {
            args: vec!["tel:+49 (30) 123456".into()],
            ..DesktopOptions::demo()
        },
    );
    app.web.wait_for(&css("link-confirm"), wait::MEDIUM);
    assert_eq!(text_of(&app, "link-target"), "+4930123456");
}

#[test]
fn quitting_unregisters_from_the_registrar() {
    use parley_e2e::kamailio::{Auth, Kamailio, KamailioOptions};
    let dir = TestDir::new("desktop_quit");
    let kamailio = Kamailio::start(
        &dir,
        KamailioOptions {
            auth: Auth::Off,
            ..KamailioOptions::default()
        },
    );
    let account = format!(
        "[account]\nusername = \"1002\"\ndomain = \"{}\"\nregistrar = \"sip:{}:{}\"\n\
         [agent]\ninitial_state = \"ready\"\n",
        kamailio.domain(),
        kamailio.domain(),
        kamailio.port()
    );
    let app = Desktop::start(
        &dir,
        DesktopOptions {
            account: Some(account),
            ..DesktopOptions::demo()
        },
    );
    app.web
        .wait_attribute(&css("registration"), "data-state", "registered", wait::LONG);
    assert_eq!(
        app.web
            .attribute(&app.web.find(&css("app")).unwrap(), "data-mode")
            .unwrap()
            .as_deref(),
        Some("account")
    );
    kamailio.wait_registered("1002", wait::MEDIUM);
    // The session ends (logout, shutdown): Parley unregisters before it goes.
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(app.app_pid() as i32, libc::SIGTERM) };
    kamailio.wait_unregistered("1002", wait::MEDIUM);
}

/// The value of a form control (a property, which WebDriver's attribute call does not read).
fn value_of(app: &Desktop, testid: &str) -> String {
    app.web
        .execute(
            &format!("return document.querySelector('{}').value;", css(testid)),
            serde_json::json!([]),
        )
        .expect("script")
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Samples louder than −30 dBFS.
fn loud(samples: &[i16]) -> usize {
    samples.iter().filter(|s| s.unsigned_abs() > 1_000).count()
}

#[test]
fn calls_ring_and_talk_on_the_devices_chosen_in_the_settings() {
    let dir = TestDir::new("desktop_audio");
    let pulse = Pulse::ensure();
    let microphone = pulse.null_sink("desk_mic");
    let speaker = pulse.null_sink("desk_speaker");
    let ring = pulse.null_sink("desk_ring");
    let app = demo(
        &dir,
        DesktopOptions::demo().with_preferences(&format!(
            "[audio]\ninput = \"{}\"\noutput = \"{}\"\nring = \"{}\"\n",
            microphone.monitor(),
            speaker.name(),
            ring.name()
        )),
    );
    let web = &app.web;

    // The settings list the devices, with the chosen ones selected.
    web.click(&web.find(&css("settings-button")).unwrap())
        .expect("settings");
    web.wait_for(&css("settings-dialog"), wait::MEDIUM);
    web.wait_for(&css("audio-input"), wait::MEDIUM);
    assert!(wait::until_true(wait::MEDIUM, || value_of(
        &app,
        "audio-input"
    ) == microphone.monitor()));
    assert_eq!(value_of(&app, "audio-output"), speaker.name());
    assert_eq!(value_of(&app, "audio-ring"), ring.name());
    // The meter follows the microphone: silent, then the agent speaks.
    let level = || {
        web.attribute(&web.find(&css("audio-level")).unwrap(), "data-level")
            .unwrap()
            .and_then(|l| l.parse::<f32>().ok())
            .unwrap_or(-90.0)
    };
    assert!(wait::until_true(wait::MEDIUM, || level() < -60.0));
    let mut voice = vec![0i16; 8_000 * 6];
    audio_engine::source::AudioSource::fill(
        &mut audio_engine::source::Tone::new(440.0, 16_000).expect("in band"),
        &mut voice,
    );
    let mut speaking = microphone.play(&voice);
    assert!(
        wait::until_true(wait::MEDIUM, || level() > -20.0),
        "the meter stayed at {} dBFS",
        level()
    );
    let _ = speaking.kill();
    let _ = speaking.wait();
    // The speaker test is heard on the speaker, not on the ring device.
    let (heard, rang) = std::thread::scope(|scope| {
        let heard = scope.spawn(|| speaker.record(2.0));
        let rang = scope.spawn(|| ring.record(2.0));
        web.click(&web.find(&css("audio-test-speaker")).unwrap())
            .expect("test speaker");
        (heard.join().unwrap(), rang.join().unwrap())
    });
    // A second of decaying notes, about a quarter of it above −30 dBFS (2 400 samples seen
    // here); a tenth of a second of it is proof enough on a loaded machine.
    assert!(loud(&heard) > 800, "the speaker test was not heard");
    assert_eq!(loud(&rang), 0, "the speaker test rang on the ring device");
    web.press(keys::ESCAPE).expect("close the settings");
    web.wait_gone(&css("settings-dialog"), wait::MEDIUM);

    // An offered call rings on the ring device, and stops when answered.
    let call = offer(&app, "C-1001");
    let rang = ring.record(2.0);
    assert!(loud(&rang) > 1_000, "no ringtone on the ring device");
    web.press(keys::ENTER).expect("answer");
    let panel = format!("{}[data-call='{call}']", css("call-panel"));
    web.wait_attribute(&panel, "data-state", "connected", wait::LONG);
    // The customer is heard on the speaker; the ringtone is over.
    let (heard, rang) = std::thread::scope(|scope| {
        let heard = scope.spawn(|| speaker.record(3.0));
        let rang = scope.spawn(|| ring.record(3.0));
        (heard.join().unwrap(), rang.join().unwrap())
    });
    assert!(loud(&heard) > 2_000, "the caller's speech was not heard");
    // A moment for the ringing stream to close.
    assert_eq!(
        loud(&rang[2_400..]),
        0,
        "the ringtone went on after the answer"
    );
    assert!(web
        .find_all(&css("audio-device-notice"))
        .unwrap()
        .is_empty());
    hang_up(&app, &panel);
}

/// Makes a script the desktop's browser (through xdg-open's own lookup: the
/// `x-scheme-handler/http` default in the user's mimeapps.list): it opens the page it is
/// given and follows the redirects, as a browser whose user consents at once would.
fn install_rig_browser(app: &Desktop, dir: &TestDir) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let log = dir.path().join("browser.log");
    let script = dir.path().join("rig-browser.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$1\" >> '{log}'\nexec curl -sS -L --max-redirs 3 -o /dev/null \"$1\" >> '{log}' 2>&1\n",
            log = log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let var = |name: &str| {
        app.env
            .vars()
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| std::path::PathBuf::from(v))
            .expect("set by the desktop environment")
    };
    let applications = var("XDG_DATA_HOME").join("applications");
    std::fs::create_dir_all(&applications).unwrap();
    std::fs::write(
        applications.join("rig-browser.desktop"),
        format!(
            "[Desktop Entry]\nType=Application\nName=Rig browser\nExec={} %u\nMimeType=x-scheme-handler/http;x-scheme-handler/https;\n",
            script.display()
        ),
    )
    .unwrap();
    std::fs::write(
        var("XDG_CONFIG_HOME").join("mimeapps.list"),
        "[Default Applications]\nx-scheme-handler/http=rig-browser.desktop\nx-scheme-handler/https=rig-browser.desktop\n",
    )
    .unwrap();
    log
}

/// Teams in the window: the chip asks to sign in; signing in through the system browser
/// (PKCE, loopback redirect) starts the sync and keeps the sign-in in the keychain; a
/// Teams call shows on the chip and makes the agent not ready; the colleagues panel finds
/// a colleague with her presence; signing out clears it all; the device code flow signs in
/// again.
#[test]
fn teams_sign_in_presence_and_colleagues_in_the_window() {
    use parley_e2e::graph::{FakeGraph, Person, CLIENT_ID, TENANT};
    use parley_e2e::kamailio::{Auth, Kamailio, KamailioOptions};
    let dir = TestDir::new("desktop_teams");
    let graph = FakeGraph::start();
    let mut ada = Person::new(
        "id-ada",
        "Ada Lovelace",
        "ada@contoso.com",
        "+44 20 7946 0018",
    );
    ada.job_title = Some("Billing expert".into());
    ada.presence = ("Busy".into(), "InAMeeting".into());
    graph.add_person(ada);
    let kamailio = Kamailio::start(
        &dir,
        KamailioOptions {
            auth: Auth::Off,
            ..KamailioOptions::default()
        },
    );
    let account = format!(
        "[account]\nusername = \"1001\"\ndomain = \"{domain}\"\nregistrar = \"sip:{domain}:{port}\"\n\
         [agent]\ninitial_state = \"ready\"\n\
         [teams]\nenabled = true\ntenant = \"{TENANT}\"\nclient_id = \"{CLIENT_ID}\"\n\
         graph_url = \"{graph}\"\nlogin_url = \"{login}\"\npoll_seconds = 1\n",
        domain = kamailio.domain(),
        port = kamailio.port(),
        graph = graph.graph_url(),
        login = graph.login_url(),
    );
    let app = Desktop::start(
        &dir,
        DesktopOptions {
            account: Some(account),
            keyring: true,
            ..DesktopOptions::demo()
        },
    );
    let browser_log = install_rig_browser(&app, &dir);
    let web = &app.web;
    web.wait_attribute(&css("registration"), "data-state", "registered", wait::LONG);
    let chip = css("teams-chip");
    web.wait_attribute(&chip, "data-sync", "signed_out", wait::MEDIUM);

    // The chip leads to the Teams settings; sign in in the browser.
    web.click_on(&chip, wait::SHORT);
    web.wait_for(&css("settings-teams"), wait::MEDIUM);
    web.wait_attribute(&css("teams-signed-in"), "data-state", "no", wait::MEDIUM);
    web.click_on(&css("teams-sign-in"), wait::SHORT);
    web.wait_attribute(&chip, "data-sync", "active", wait::LONG);
    web.wait_attribute(&css("teams-signed-in"), "data-state", "yes", wait::MEDIUM);
    let opened = std::fs::read_to_string(&browser_log).unwrap_or_default();
    assert!(
        opened.contains("/oauth2/v2.0/authorize?") && opened.contains("code_challenge_method=S256"),
        "{opened}"
    );
    let user = format!("teams:{CLIENT_ID}@{TENANT}");
    let kept = app.env.secret(&user).expect("the sign-in in the keychain");
    assert!(
        wait::until_true(wait::SHORT, || app
            .env
            .secret(&user)
            .is_some_and(|t| graph.valid_refresh_tokens().contains(&t))),
        "the kept token ({kept}) is a valid one"
    );

    // A Teams call: the chip says so and the agent is not ready for contact-center calls.
    graph.set_teams_client("Busy", "InACall");
    web.wait_attribute(&chip, "data-busy", "true", wait::MEDIUM);
    web.wait_attribute(&css("agent-state"), "data-state", "not_ready", wait::SHORT);
    graph.set_teams_client("Available", "Available");
    web.wait_attribute(&chip, "data-busy", "false", wait::MEDIUM);
    web.wait_attribute(&css("agent-state"), "data-state", "ready", wait::SHORT);
    web.click_on(&css("settings-close"), wait::SHORT);
    web.wait_gone(&css("settings-dialog"), wait::SHORT);

    // The colleagues panel: Ada, in a meeting, with a number to call.
    let search = web.wait_for(&css("colleague-search"), wait::MEDIUM);
    web.send_keys(&search, &format!("ada{}", keys::ENTER))
        .expect("search");
    let found = web.wait_for(&css("colleague"), wait::MEDIUM);
    assert_eq!(
        web.attribute(&found, "data-id").unwrap().as_deref(),
        Some("id-ada")
    );
    web.wait_attribute(
        &css("colleague-presence"),
        "data-availability",
        "busy",
        wait::SHORT,
    );
    assert_eq!(text_of(&app, "colleague-phone").trim_end(), "+442079460018");
    web.wait_for(&css("colleague-call"), wait::SHORT);

    // Sign out: the sign-in leaves the keychain, the directory goes.
    web.click_on(&chip, wait::SHORT);
    web.click_on(&css("teams-sign-out"), wait::MEDIUM);
    web.wait_attribute(&chip, "data-sync", "signed_out", wait::MEDIUM);
    web.wait_attribute(&css("teams-signed-in"), "data-state", "no", wait::MEDIUM);
    assert_eq!(app.env.secret(&user), None);
    assert!(web.find_all(&css("colleagues")).unwrap().is_empty());

    // The device code: shown in the window, entered on another device.
    web.click_on(&css("teams-sign-in-code"), wait::SHORT);
    let code = text_of(&app, "teams-user-code");
    assert!(code.starts_with("PRLY"), "{code}");
    graph.answer_device(code.trim(), true);
    web.wait_attribute(&chip, "data-sync", "active", wait::LONG);
    assert!(app.env.secret(&user).is_some());
}
