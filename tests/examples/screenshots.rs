//! Screenshots of the desktop app's main states for the README, written to
//! `docs/screenshots/` (or the folder given as the first argument): the app in demo mode
//! under Xvfb, driven through tauri-driver like the end-to-end tests.
//!
//! ```sh
//! scripts/screenshots.sh            # builds what is needed, then runs this
//! ```

use parley_e2e::desktop::{Desktop, DesktopOptions};
use parley_e2e::pulse::Pulse;
use parley_e2e::webdriver::keys;
use parley_e2e::{wait, TestDir};
use std::path::PathBuf;

fn css(testid: &str) -> String {
    format!("[data-testid={testid}]")
}

fn main() {
    let out = std::env::args().nth(1).map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/screenshots"),
        PathBuf::from,
    );
    std::fs::create_dir_all(&out).unwrap_or_else(|e| panic!("{}: {e}", out.display()));
    for (language, suffix) in [("en", ""), ("de", "-de")] {
        let dir = TestDir::new(&format!("screenshots_{language}"));
        // A headset whose microphone hears a voice, so that the level meter moves.
        let headset = Pulse::ensure().null_sink("Headset");
        let mut voice = vec![0i16; 8_000 * 120];
        audio_engine::source::AudioSource::fill(
            &mut audio_engine::source::Tone::new(220.0, 6_000).expect("in band"),
            &mut voice,
        );
        let mut speaking = headset.play(&voice);
        let options = DesktopOptions {
            preferences: format!(
                "language = \"{language}\"\ndemo_offer_seconds = 0\nnotifications = false\nringtone = false\n\
                 [audio]\ninput = \"{}\"\n",
                headset.monitor()
            ),
            ..DesktopOptions::demo()
        };
        let app = Desktop::start(&dir, options);
        let web = &app.web;
        web.set_window_size(1280, 800).expect("window size");
        let shot = |name: &str| {
            let path = out.join(format!("{name}{suffix}.png"));
            app.screenshot(&path);
            println!("{}", path.display());
        };
        web.wait_attribute(&css("registration"), "data-state", "registered", wait::LONG);
        shot("ready");

        let choose = web
            .find(&format!("{} option[value='C-1001']", css("demo-customer")))
            .expect("demo customer");
        web.click(&choose).expect("choose");
        web.click(&web.find(&css("demo-offer-button")).unwrap())
            .expect("offer");
        web.wait_for(&css("incoming-banner"), wait::LONG);
        shot("incoming-call");

        web.press(keys::ENTER).expect("answer");
        web.wait_attribute(&css("call-panel"), "data-state", "connected", wait::LONG);
        // Let the call timer move off zero.
        std::thread::sleep(std::time::Duration::from_secs(3));
        shot("in-call");

        web.click(&web.find(&css("hold-button")).unwrap())
            .expect("hold");
        web.wait_attribute(&css("call-panel"), "data-state", "held", wait::MEDIUM);
        shot("on-hold");

        web.click(&web.find(&css("hangup-button")).unwrap())
            .expect("hang up");
        web.wait_for(&css("history-item"), wait::MEDIUM);
        shot("history");

        web.click(&web.find(&css("settings-button")).unwrap())
            .expect("settings");
        web.wait_for(&css("settings-dialog"), wait::MEDIUM);
        shot("settings");
        web.execute(
            &format!(
                "document.querySelector('{}').scrollIntoView({{block: 'center'}});",
                css("audio-level")
            ),
            serde_json::json!([]),
        )
        .expect("scroll to the audio settings");
        std::thread::sleep(std::time::Duration::from_millis(500));
        shot("settings-audio");
        web.click(&web.find(&css("settings-close")).unwrap())
            .expect("close settings");

        assert!(app.open_link("tel:+44 20 7123 4567").success());
        web.wait_for(&css("link-confirm"), wait::MEDIUM);
        shot("link-confirm");
        let _ = speaking.kill();
        let _ = speaking.wait();
    }
    teams(&out);
}

/// An account with Teams presence sync signed in: the chip, the colleagues panel with
/// their presence, and the Teams settings.
fn teams(out: &std::path::Path) {
    use parley_e2e::graph::{FakeGraph, Person, CLIENT_ID, TENANT};
    use parley_e2e::kamailio::{Auth, Kamailio, KamailioOptions};
    let dir = TestDir::new("screenshots_teams");
    let graph = FakeGraph::start();
    for (id, name, mail, phone, job, presence) in [
        (
            "1",
            "Ada Lovelace",
            "ada@contoso.com",
            "+44 20 7946 0018",
            "Billing",
            ("Available", "Available"),
        ),
        (
            "2",
            "Adam Smith",
            "adam.smith@contoso.com",
            "+44 20 7946 0021",
            "Contracts",
            ("Busy", "InACall"),
        ),
        (
            "3",
            "Adele Goldberg",
            "adele@contoso.com",
            "+1 425 555 0100",
            "Technical support",
            ("Away", "Away"),
        ),
    ] {
        let mut person = Person::new(id, name, mail, phone);
        person.job_title = Some(job.into());
        person.presence = (presence.0.into(), presence.1.into());
        graph.add_person(person);
    }
    let token = dir.path().join("teams-token");
    parley_e2e::parley_cli::write_secret_file(&token, &graph.first_refresh_token());
    let kamailio = Kamailio::start(
        &dir,
        KamailioOptions {
            auth: Auth::Off,
            ..KamailioOptions::default()
        },
    );
    let account = format!(
        "[account]\nusername = \"1001\"\ndomain = \"{domain}\"\ndisplay_name = \"Sam Agent\"\n\
         registrar = \"sip:{domain}:{port}\"\n[agent]\ninitial_state = \"ready\"\n\
         [teams]\nenabled = true\ntenant = \"{TENANT}\"\nclient_id = \"{CLIENT_ID}\"\n\
         graph_url = \"{graph}\"\nlogin_url = \"{login}\"\n\
         refresh_token = {{ file = \"{token}\" }}\n",
        domain = kamailio.domain(),
        port = kamailio.port(),
        graph = graph.graph_url(),
        login = graph.login_url(),
        token = token.display(),
    );
    let app = Desktop::start(
        &dir,
        DesktopOptions {
            account: Some(account),
            ..DesktopOptions::demo()
        },
    );
    let web = &app.web;
    web.set_window_size(1280, 800).expect("window size");
    let shot = |name: &str| {
        let path = out.join(format!("{name}.png"));
        app.screenshot(&path);
        println!("{}", path.display());
    };
    web.wait_attribute(&css("teams-chip"), "data-sync", "active", wait::LONG);
    let search = web.wait_for(&css("colleague-search"), wait::MEDIUM);
    web.send_keys(&search, &format!("ad{}", keys::ENTER))
        .expect("search");
    wait::until_true(wait::MEDIUM, || {
        web.find_all(&css("colleague"))
            .is_ok_and(|found| found.len() == 3)
    });
    shot("teams-colleagues");
    web.click_on(&css("teams-chip"), wait::SHORT);
    web.wait_attribute(&css("teams-signed-in"), "data-state", "yes", wait::MEDIUM);
    std::thread::sleep(std::time::Duration::from_millis(500));
    shot("settings-teams");
}
