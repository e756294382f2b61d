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
        assert!(app.open_link(link).success());
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
