//! baresip 1.0 as a peer softphone, driven over its `ctrl_tcp` module.
//!
//! Each instance gets a config dir from `tests/rig/baresip/config.tmpl` with its own SIP
//! port (+1 for TLS), RTP range and control port; it plays a tone (`ausine`) or a 48 kHz
//! stereo WAV (`aufile`) and the `sndfile` module dumps what it sends and receives as WAV
//! files into [`Baresip::snd_dir`].
//!
//! Control: JSON over netstrings on TCP, `{"command":"dial","params":"sip:...","token":"t1"}`
//! answered by `{"response":true,"ok":true,"data":"...","token":"t1"}`; events arrive on the
//! same connection as `{"event":true,"type":"CALL_ESTABLISHED","id":"<Call-ID>",...}`.
//! What baresip 1.0 can and cannot do (hold, transfer, DTMF, no 100rel/timers/Replaces) is
//! written down in `tests/rig/README.md`.

use std::collections::HashMap;
use std::fmt;
use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::kamailio::{Kamailio, Transport};
use crate::process::{RigProcess, SpawnOptions};
use crate::pulse::Pulse;
use crate::{ports, wait, TestDir, LOOPBACK};

/// How baresip treats incoming calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AnswerMode {
    /// Answers at once (no `CALL_INCOMING` event is emitted then).
    #[default]
    Auto,
    /// Rings (`CALL_INCOMING`) until [`Baresip::answer`] or [`Baresip::hangup`].
    Manual,
}

/// What baresip sends as audio.
#[derive(Debug, Clone, PartialEq)]
pub enum AudioSource {
    /// A sine tone of this many Hz (the `ausine` module).
    Sine(u32),
    /// A 48 kHz stereo 16-bit WAV file, played once (the `aufile` module); see
    /// [`crate::audio::write_tone_wav`].
    Wav(PathBuf),
}

/// How to configure one baresip instance. Start from [`BaresipConfig::new`].
#[derive(Debug, Clone)]
pub struct BaresipConfig {
    /// User part of the address of record.
    pub user: String,
    /// Audio sent in calls (default: a 440 Hz sine).
    pub source: AudioSource,
    /// Answer mode (default: auto).
    pub answer_mode: AnswerMode,
    /// `audio_codecs` of the account (default `PCMU,PCMA`; `opus/48000/2` for Opus).
    /// telephone-event is always offered in addition.
    pub codecs: String,
    /// Whether to register with the registrar (when one is given). Default true.
    pub register: bool,
    /// Registration interval asked for (seconds).
    pub regint: u32,
    /// Digest password (default [`crate::PASSWORD`]).
    pub password: Option<String>,
    /// SIP transport towards the registrar/proxy.
    pub transport: Transport,
    /// Whether REFER is accepted (the account's `call_transfer`). Default true.
    pub call_transfer: bool,
    /// Extra account parameters, each `name=value`.
    pub account_params: Vec<String>,
    /// Extra config lines (`name value`), appended to the config file; each replaces the
    /// template's line for the same name.
    pub config_lines: Vec<String>,
}

impl BaresipConfig {
    /// Defaults for user `user`.
    pub fn new(user: &str) -> BaresipConfig {
        BaresipConfig {
            user: user.to_owned(),
            source: AudioSource::Sine(440),
            answer_mode: AnswerMode::Auto,
            codecs: "PCMU,PCMA".to_owned(),
            register: true,
            regint: 3600,
            password: Some(crate::PASSWORD.to_owned()),
            transport: Transport::Udp,
            call_transfer: true,
            account_params: Vec::new(),
            config_lines: Vec::new(),
        }
    }

    /// Sends a sine tone of `hz`.
    pub fn sine(mut self, hz: u32) -> Self {
        self.source = AudioSource::Sine(hz);
        self
    }

    /// Sends a 48 kHz stereo WAV file.
    pub fn wav(mut self, path: impl Into<PathBuf>) -> Self {
        self.source = AudioSource::Wav(path.into());
        self
    }

    /// Rings instead of answering at once.
    pub fn manual_answer(mut self) -> Self {
        self.answer_mode = AnswerMode::Manual;
        self
    }

    /// Sets `audio_codecs`, e.g. `"PCMA"` or `"opus/48000/2,PCMU"`.
    pub fn codecs(mut self, codecs: &str) -> Self {
        self.codecs = codecs.to_owned();
        self
    }

    /// Does not register (calls go straight to and from its own address).
    pub fn no_register(mut self) -> Self {
        self.register = false;
        self
    }

    /// Uses `transport` towards the proxy.
    pub fn transport(mut self, transport: Transport) -> Self {
        self.transport = transport;
        self
    }

    /// Adds an account parameter (`name=value`).
    pub fn account_param(mut self, param: &str) -> Self {
        self.account_params.push(param.to_owned());
        self
    }

    /// Adds a config line (`name value`).
    pub fn config_line(mut self, line: &str) -> Self {
        self.config_lines.push(line.to_owned());
        self
    }
}

/// The answer to a ctrl_tcp command.
#[derive(Debug, Clone)]
pub struct CommandResponse {
    /// Whether the command succeeded.
    pub ok: bool,
    /// The command's output (menu text).
    pub data: String,
}

/// A running baresip. Dropping it stops it.
pub struct Baresip {
    user: String,
    aor: String,
    work_dir: PathBuf,
    snd_dir: PathBuf,
    sip_port: u16,
    ctrl_port: u16,
    rtp_ports: Range<u16>,
    ctrl: Ctrl,
    // Declared after `ctrl` (dropped after it) and before `_dir`.
    process: RigProcess,
    _dir: TestDir,
}

impl fmt::Debug for Baresip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Baresip")
            .field("aor", &self.aor)
            .field("sip_port", &self.sip_port)
            .field("work_dir", &self.work_dir)
            .finish()
    }
}

impl Baresip {
    /// Writes the config and starts baresip; returns once its control port answers and,
    /// when it registers, once the registration succeeded. Without a `registrar` (or with
    /// `register == false`) the AOR is its own address (`sip:<user>@127.0.0.1:<sip port>`).
    #[track_caller]
    pub fn start(
        dir: &TestDir,
        pulse: &Pulse,
        registrar: Option<&Kamailio>,
        config: BaresipConfig,
    ) -> Baresip {
        assert!(
            crate::process::in_path("baresip"),
            "baresip is not installed (apt install baresip)"
        );
        let work_dir = dir.unique_subdir(&format!("baresip-{}", config.user));
        let snd_dir = work_dir.join("snd");
        fs::create_dir_all(&snd_dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", snd_dir.display()));
        let sip_port = ports::block(2).start;
        let ctrl_port = ports::port();
        let rtp_ports = ports::rtp_range(20);

        let source = match &config.source {
            AudioSource::Sine(hz) => format!("ausine,{hz}"),
            AudioSource::Wav(path) => format!("aufile,{}", path.display()),
        };
        let template_path = crate::rig_dir().join("baresip/config.tmpl");
        let template = fs::read_to_string(&template_path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", template_path.display()));
        let mut text = crate::fill_template(
            &template,
            &[
                ("SIP_PORT", sip_port.to_string()),
                ("AUDIO_SOURCE", source),
                ("RTP_FIRST", rtp_ports.start.to_string()),
                ("RTP_LAST", (rtp_ports.end - 1).to_string()),
                ("CTRL_PORT", ctrl_port.to_string()),
                ("SND_DIR", snd_dir.display().to_string()),
            ],
        );
        // An extra line replaces the template's line for the same setting (baresip would
        // take the first one).
        for line in &config.config_lines {
            if let Some(key) = line.split_whitespace().next() {
                text = text
                    .lines()
                    .filter(|l| l.split_whitespace().next() != Some(key))
                    .map(|l| format!("{l}\n"))
                    .collect();
            }
            text.push_str(line);
            text.push('\n');
        }
        write(&work_dir.join("config"), &text);

        let registers = config.register && registrar.is_some();
        let (host_port, transport) = match registrar {
            Some(kamailio) if registers => {
                let port = match config.transport {
                    Transport::Tls => kamailio.tls_addr().port(),
                    Transport::Udp | Transport::Tcp => kamailio.port(),
                };
                (format!("{LOOPBACK}:{port}"), config.transport)
            }
            _ => (format!("{LOOPBACK}:{sip_port}"), Transport::Udp),
        };
        let uri_params = match transport {
            Transport::Udp => "",
            Transport::Tcp => ";transport=tcp",
            Transport::Tls => ";transport=tls",
        };
        let aor = format!("sip:{}@{host_port}", config.user);
        let mut account = format!(
            "<{aor}{uri_params}>;regint={};answermode={};audio_codecs={};call_transfer={}",
            if registers { config.regint } else { 0 },
            match config.answer_mode {
                AnswerMode::Auto => "auto",
                AnswerMode::Manual => "manual",
            },
            config.codecs,
            if config.call_transfer { "yes" } else { "no" },
        );
        if let Some(password) = &config.password {
            account.push_str(&format!(";auth_pass={password}"));
        }
        for param in &config.account_params {
            account.push(';');
            account.push_str(param);
        }
        write(&work_dir.join("accounts"), &format!("{account}\n"));
        write(&work_dir.join("contacts"), "");

        let mut command = Command::new("baresip");
        command.arg("-f").arg(&work_dir).current_dir(&work_dir);
        pulse.apply(&mut command);
        let mut process = RigProcess::spawn("baresip", command, &work_dir, SpawnOptions::default())
            .unwrap_or_else(|e| panic!("{e}"));

        let ctrl_addr = SocketAddr::from(([127, 0, 0, 1], ctrl_port));
        let mut exited = None;
        let stream = wait::until(wait::MEDIUM, || {
            if let Some(status) = process.try_wait() {
                exited = Some(status);
                return Some(None);
            }
            TcpStream::connect_timeout(&ctrl_addr, Duration::from_millis(500))
                .ok()
                .map(Some)
        })
        .flatten();
        let Some(stream) = stream else {
            panic!(
                "baresip {} did not open its control port {ctrl_port} (exited: {exited:?}); log: {}",
                config.user,
                process.stdout_path().display()
            );
        };
        let ctrl = Ctrl::new(stream, work_dir.join("ctrl.jsonl"));
        let baresip = Baresip {
            user: config.user,
            aor,
            work_dir,
            snd_dir,
            sip_port,
            ctrl_port,
            rtp_ports,
            ctrl,
            process,
            _dir: dir.clone(),
        };
        if registers {
            baresip.wait_registered(wait::MEDIUM);
        }
        baresip
    }

    /// The user name.
    /// Freezes (SIGSTOP) or thaws (SIGCONT) the process: a peer whose RTP stops without a
    /// BYE, as a crashed phone or a dead network path looks.
    pub fn freeze(&self, frozen: bool) {
        let signal = if frozen { libc::SIGSTOP } else { libc::SIGCONT };
        // SAFETY: kill has no memory-safety preconditions.
        let status = unsafe { libc::kill(self.process.pid() as i32, signal) };
        assert_eq!(status, 0, "cannot signal baresip");
    }

    pub fn user(&self) -> &str {
        &self.user
    }

    /// The address of record (`sip:alice@127.0.0.1:<proxy port>`, or its own address when
    /// it does not register).
    pub fn aor(&self) -> &str {
        &self.aor
    }

    /// `127.0.0.1:<sip port>` (UDP and TCP; TLS is on port + 1).
    pub fn sip_addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.sip_port))
    }

    /// `sip:<user>@127.0.0.1:<sip port>`: reaches this instance without the proxy.
    pub fn direct_uri(&self) -> String {
        format!("sip:{}@{LOOPBACK}:{}", self.user, self.sip_port)
    }

    /// The control port (ctrl_tcp).
    pub fn ctrl_port(&self) -> u16 {
        self.ctrl_port
    }

    /// The RTP ports it may use.
    pub fn rtp_ports(&self) -> Range<u16> {
        self.rtp_ports.clone()
    }

    /// The config dir (also holds the logs and `ctrl.jsonl`, every control message).
    pub fn work_dir(&self) -> &Path {
        &self.work_dir
    }

    /// Where the `sndfile` module writes `dump-<time>-enc.wav` (sent) and `-dec.wav`
    /// (received) per call. PCMU/PCMA calls give 8 kHz mono files, Opus 48 kHz stereo.
    pub fn snd_dir(&self) -> &Path {
        &self.snd_dir
    }

    /// baresip's log (it logs on stdout).
    pub fn log_path(&self) -> &Path {
        self.process.stdout_path()
    }

    /// Runs a command (long form without the slash, e.g. `"listcalls"`) and returns its
    /// answer. Panics if baresip does not answer within 20 s.
    #[track_caller]
    pub fn command(&self, command: &str, params: Option<&str>) -> CommandResponse {
        self.ctrl
            .command(command, params, wait::MEDIUM, self.log_path())
    }

    /// Runs a command and panics unless it succeeded; returns its output.
    #[track_caller]
    pub fn command_ok(&self, command: &str, params: Option<&str>) -> String {
        let response = self.command(command, params);
        assert!(
            response.ok,
            "baresip {}: /{command} {} failed: {}",
            self.user,
            params.unwrap_or(""),
            response.data
        );
        response.data
    }

    /// Calls `uri` (`/dial`).
    #[track_caller]
    pub fn dial(&self, uri: &str) {
        self.command_ok("dial", Some(uri));
    }

    /// Answers the ringing call (`/accept`).
    #[track_caller]
    pub fn answer(&self) {
        self.command_ok("accept", None);
    }

    /// Hangs up the current call (`/hangup`: BYE, CANCEL, or 486 for a ringing one).
    #[track_caller]
    pub fn hangup(&self) {
        self.command_ok("hangup", None);
    }

    /// Puts the current call on hold (`/hold`: re-INVITE with `a=sendonly`).
    #[track_caller]
    pub fn hold(&self) {
        self.command_ok("hold", None);
    }

    /// Resumes the current call (`/resume`: re-INVITE with `a=sendrecv`).
    #[track_caller]
    pub fn resume(&self) {
        self.command_ok("resume", None);
    }

    /// Blind-transfers the current call to `uri` (`/transfer`: REFER with `Refer-To: uri`).
    #[track_caller]
    pub fn transfer(&self, uri: &str) {
        self.command_ok("transfer", Some(uri));
    }

    /// Sends DTMF `digits` (`0-9*#A-D`) in the current call as RFC 4733 events
    /// (`/sndcode`; baresip 1.0 cannot send SIP INFO).
    #[track_caller]
    pub fn send_dtmf(&self, digits: &str) {
        self.command_ok("sndcode", Some(digits));
    }

    /// Toggles mute of the current call (`/mute`).
    #[track_caller]
    pub fn toggle_mute(&self) {
        self.command_ok("mute", None);
    }

    /// Changes the answer mode (`/answermode auto|manual`).
    #[track_caller]
    pub fn set_answer_mode(&self, mode: AnswerMode) {
        let mode = match mode {
            AnswerMode::Auto => "auto",
            AnswerMode::Manual => "manual",
        };
        self.command_ok("answermode", Some(mode));
    }

    /// The `/listcalls` text, e.g. `> [line 1]  0:00:04  ESTABLISHED  sip:bob@...`.
    #[track_caller]
    pub fn list_calls(&self) -> String {
        self.command_ok("listcalls", None)
    }

    /// The `/reginfo` text.
    #[track_caller]
    pub fn reginfo(&self) -> String {
        self.command_ok("reginfo", None)
    }

    /// Whether `/reginfo` reports the account as registered (`OK`).
    #[track_caller]
    pub fn is_registered(&self) -> bool {
        let info = self.reginfo();
        info.lines()
            .any(|l| l.contains(self.aor.as_str()) && l.contains("OK"))
    }

    /// Waits until the account is registered.
    #[track_caller]
    pub fn wait_registered(&self, timeout: Duration) {
        assert!(
            wait::until_true(timeout, || self.is_registered()),
            "baresip {} did not register within {timeout:?}: {}; log: {}",
            self.user,
            self.reginfo().trim(),
            self.log_path().display()
        );
    }

    /// Every event received so far, in order.
    pub fn events(&self) -> Vec<Value> {
        self.ctrl.state().events.clone()
    }

    /// Whether an event matching `predicate` was received (at any time).
    pub fn has_event(&self, predicate: impl Fn(&Value) -> bool) -> bool {
        self.ctrl.state().events.iter().any(predicate)
    }

    /// Waits for the next event matching `predicate`, looking only at events after the one
    /// the previous `wait_*event` returned, and returns it. Panics after `timeout` with the
    /// events received.
    #[track_caller]
    pub fn wait_event(&self, predicate: impl Fn(&Value) -> bool, timeout: Duration) -> Value {
        self.ctrl
            .wait_event(&predicate, timeout)
            .unwrap_or_else(|message| {
                panic!(
                    "baresip {}: {message}; log: {}",
                    self.user,
                    self.log_path().display()
                )
            })
    }

    /// [`Baresip::wait_event`] for an event `type` (`CALL_INCOMING`, `CALL_RINGING`,
    /// `CALL_PROGRESS`, `CALL_ESTABLISHED`, `CALL_CLOSED`, `TRANSFER`, `TRANSFER_FAILED`,
    /// `CALL_DTMF_START`, `CALL_DTMF_END`, `CALL_REMOTE_SDP`, `REGISTER_OK`, ...).
    #[track_caller]
    pub fn wait_call_event(&self, event_type: &str, timeout: Duration) -> Value {
        self.wait_event(|e| e["type"] == event_type, timeout)
    }

    /// Waits for `CALL_DTMF_START` events until `count` digits came in; returns them.
    #[track_caller]
    pub fn wait_dtmf(&self, count: usize, timeout: Duration) -> String {
        let deadline = Instant::now() + wait::scaled(timeout);
        let mut digits = String::new();
        while digits.chars().count() < count {
            let left = deadline.saturating_duration_since(Instant::now());
            let event = self.wait_call_event("CALL_DTMF_START", left.max(Duration::from_millis(1)));
            digits.push_str(event["param"].as_str().unwrap_or("?"));
        }
        digits
    }

    /// The WAV files of received audio, oldest first.
    pub fn received_wavs(&self) -> Vec<PathBuf> {
        self.dumps("-dec.wav")
    }

    /// The WAV files of sent audio, oldest first.
    pub fn sent_wavs(&self) -> Vec<PathBuf> {
        self.dumps("-enc.wav")
    }

    /// Waits until the newest received-audio dump of the ongoing call holds at least
    /// `seconds` of audio (from its size: the header is final only after the call).
    #[track_caller]
    pub fn wait_received_audio(&self, seconds: f32, timeout: Duration) {
        let enough = wait::until_true(timeout, || {
            let Some(path) = self.received_wavs().pop() else {
                return false;
            };
            let Ok(reader) = hound::WavReader::open(&path) else {
                return false;
            };
            let spec = reader.spec();
            let bytes_per_second = spec.sample_rate as f32
                * f32::from(spec.channels)
                * f32::from(spec.bits_per_sample / 8);
            let size = fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            (size.saturating_sub(44) as f32) / bytes_per_second >= seconds
        });
        assert!(
            enough,
            "baresip {}: less than {seconds} s of received audio in {} after {timeout:?}: {:?}",
            self.user,
            self.snd_dir.display(),
            self.received_wavs()
        );
    }

    /// Waits until the newest received-audio dump is complete (its call closed, so its
    /// header is final) and holds at least `min_seconds` of audio; returns its path.
    #[track_caller]
    pub fn wait_received_wav(&self, min_seconds: f32, timeout: Duration) -> PathBuf {
        let found = wait::until(timeout, || {
            let path = self.received_wavs().pop()?;
            let reader = hound::WavReader::open(&path).ok()?;
            let spec = reader.spec();
            let seconds = reader.duration() as f32 / spec.sample_rate as f32;
            (seconds >= min_seconds).then_some(path)
        });
        found.unwrap_or_else(|| {
            panic!(
                "baresip {}: no received-audio dump of {min_seconds} s in {} within {timeout:?} \
                 (the dump is complete only after the call closed); files: {:?}",
                self.user,
                self.snd_dir.display(),
                self.received_wavs()
            )
        })
    }

    fn dumps(&self, suffix: &str) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = fs::read_dir(&self.snd_dir)
            .map(|entries| {
                entries
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| p.to_string_lossy().ends_with(suffix))
                    .collect()
            })
            .unwrap_or_default();
        // dump-YYYY-MM-DD-hh-mm-ss-{enc,dec}.wav: names sort by time.
        files.sort();
        files
    }

    /// Stops baresip (it unregisters on SIGTERM). Also done on drop.
    pub fn stop(&mut self) {
        self.process.stop();
    }
}

#[track_caller]
fn write(path: &Path, text: &str) {
    fs::write(path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

/// The ctrl_tcp connection: a writer and a reader thread that sorts events and responses.
struct Ctrl {
    writer: Mutex<TcpStream>,
    shared: Arc<(Mutex<CtrlState>, Condvar)>,
    next_token: Mutex<u64>,
    log: Arc<Mutex<Option<fs::File>>>,
}

#[derive(Default)]
struct CtrlState {
    events: Vec<Value>,
    responses: HashMap<String, Value>,
    /// Index after the event that the last `wait_event` returned.
    cursor: usize,
    closed: bool,
}

impl Ctrl {
    fn new(stream: TcpStream, log_path: PathBuf) -> Ctrl {
        let reader = stream.try_clone().expect("cloning a TcpStream handle");
        let shared = Arc::new((Mutex::new(CtrlState::default()), Condvar::new()));
        let log = Arc::new(Mutex::new(fs::File::create(log_path).ok()));
        {
            let shared = Arc::clone(&shared);
            let log = Arc::clone(&log);
            std::thread::Builder::new()
                .name("baresip-ctrl".to_owned())
                .spawn(move || read_loop(reader, &shared, &log))
                .expect("spawning a thread");
        }
        Ctrl {
            writer: Mutex::new(stream),
            shared,
            next_token: Mutex::new(0),
            log,
        }
    }

    fn state(&self) -> MutexGuard<'_, CtrlState> {
        self.shared.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    #[track_caller]
    fn command(
        &self,
        command: &str,
        params: Option<&str>,
        timeout: Duration,
        log_path: &Path,
    ) -> CommandResponse {
        let token = {
            let mut next = self.next_token.lock().unwrap_or_else(|e| e.into_inner());
            *next += 1;
            format!("rig{next}")
        };
        let mut message = json!({ "command": command, "token": token });
        if let Some(params) = params {
            message["params"] = Value::from(params);
        }
        let payload = message.to_string();
        log_line(&self.log, &format!(">> {payload}"));
        let netstring = format!("{}:{payload},", payload.len());
        {
            let mut writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
            if let Err(e) = writer.write_all(netstring.as_bytes()) {
                panic!("baresip control connection: cannot send {payload}: {e}");
            }
        }
        let deadline = Instant::now() + wait::scaled(timeout);
        let (lock, cond) = &*self.shared;
        let mut state = lock.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(response) = state.responses.remove(&token) {
                return CommandResponse {
                    ok: response["ok"].as_bool().unwrap_or(false),
                    data: response["data"].as_str().unwrap_or("").to_owned(),
                };
            }
            let now = Instant::now();
            if state.closed || now >= deadline {
                panic!(
                    "baresip did not answer {payload} within {timeout:?} (connection closed: {}); log: {}",
                    state.closed,
                    log_path.display()
                );
            }
            state = cond
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }

    fn wait_event(
        &self,
        predicate: &dyn Fn(&Value) -> bool,
        timeout: Duration,
    ) -> Result<Value, String> {
        let deadline = Instant::now() + wait::scaled(timeout);
        let (lock, cond) = &*self.shared;
        let mut state = lock.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            let start = state.cursor;
            if let Some(offset) = state.events[start..].iter().position(predicate) {
                state.cursor = start + offset + 1;
                return Ok(state.events[start + offset].clone());
            }
            let now = Instant::now();
            if state.closed || now >= deadline {
                let seen: Vec<String> = state
                    .events
                    .iter()
                    .filter(|e| e["type"] != "CALL_RTCP")
                    .map(|e| {
                        format!(
                            "{}({})",
                            e["type"].as_str().unwrap_or("?"),
                            e["param"].as_str().unwrap_or("")
                        )
                    })
                    .collect();
                return Err(format!(
                    "no matching event within {timeout:?} (connection closed: {}); \
                     events so far (cursor at {}): {seen:?}",
                    state.closed, state.cursor
                ));
            }
            state = cond
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

impl Drop for Ctrl {
    fn drop(&mut self) {
        let writer = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        let _ = writer.shutdown(std::net::Shutdown::Both);
    }
}

fn log_line(log: &Mutex<Option<fs::File>>, line: &str) {
    if let Some(file) = log.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
        let _ = writeln!(file, "{line}");
    }
}

/// Reads netstrings (`<len>:<json>,`) until the connection closes.
fn read_loop(
    mut stream: TcpStream,
    shared: &(Mutex<CtrlState>, Condvar),
    log: &Mutex<Option<fs::File>>,
) {
    let mut buffer: Vec<u8> = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => buffer.extend_from_slice(&chunk[..n]),
        }
        while let Some((payload, used)) = parse_netstring(&buffer) {
            let text = String::from_utf8_lossy(payload).into_owned();
            buffer.drain(..used);
            log_line(log, &format!("<< {text}"));
            let Ok(value) = serde_json::from_str::<Value>(&text) else {
                continue;
            };
            let (lock, cond) = shared;
            let mut state = lock.lock().unwrap_or_else(|e| e.into_inner());
            if value["response"] == true {
                let token = value["token"].as_str().unwrap_or("").to_owned();
                state.responses.insert(token, value);
            } else if value["event"] == true {
                state.events.push(value);
            }
            cond.notify_all();
        }
    }
    let (lock, cond) = shared;
    lock.lock().unwrap_or_else(|e| e.into_inner()).closed = true;
    cond.notify_all();
}

/// One complete netstring at the start of `buffer`: its payload and the bytes it takes.
fn parse_netstring(buffer: &[u8]) -> Option<(&[u8], usize)> {
    let colon = buffer.iter().position(|&b| b == b':')?;
    let len: usize = std::str::from_utf8(&buffer[..colon])
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let end = colon + 1 + len;
    (buffer.len() > end).then(|| (&buffer[colon + 1..end], end + 1))
}

#[cfg(test)]
mod tests {
    use super::parse_netstring;

    #[test]
    fn netstrings() {
        assert_eq!(parse_netstring(b"3:abc,"), Some((&b"abc"[..], 6)));
        assert_eq!(parse_netstring(b"3:abc"), None);
        assert_eq!(parse_netstring(b"3:ab"), None);
        assert_eq!(parse_netstring(b"2:ab,1:c,"), Some((&b"ab"[..], 5)));
    }
}
