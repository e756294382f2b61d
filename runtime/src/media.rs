//! One task per call that moves RTP and RTCP between two UDP sockets and the audio
//! engine's [`MediaSession`], paced by the session's own timer.

use crate::clock::sleep_until;
use audio_engine::device::{self, DeviceChoice, DeviceNotice, OutputSpec, Playback};
use audio_engine::source::{Silence, SourceError};
use audio_engine::{
    AudioOutput, AudioSource, Codec, DtmfDigit, MediaConfig, MediaDirection, MediaEvent,
    MediaFormat, MediaSession, SourceSpec, WavRecorder,
};
use parley_core::sdp::{Direction, NegotiatedMedia};
use parley_core::sip::ua::CallHandle;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::time::Instant;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tracing::Instrument;

/// Why media could not start.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("no free RTP port in {0:?}")]
    NoPort(RangeInclusive<u16>),
    #[error("the negotiated codec {0} is not supported")]
    Codec(String),
    #[error("media format: {0}")]
    Format(String),
    #[error("audio source: {0}")]
    Source(String),
    #[error("recording: {0}")]
    Recording(String),
}

/// The RTP socket of a call, bound before its offer or answer is written, and its RTCP
/// socket on the next port (RFC 3550 §11).
pub struct MediaSocket {
    pub socket: UdpSocket,
    pub rtcp: UdpSocket,
    pub port: u16,
}

/// Binds an even RTP port from `range` and the odd RTCP port after it (RFC 3550 §11),
/// starting at a random place so that consecutive calls do not reuse a port a late packet
/// may still hit.
pub async fn bind(range: &RangeInclusive<u16>) -> Result<MediaSocket, MediaError> {
    let (low, high) = (*range.start(), *range.end());
    let evens = u32::from(high - low) / 2 + 1;
    let start: u32 = rand::random_range(0..evens);
    for i in 0..evens.min(200) {
        let port = low + u16::try_from(((start + i) % evens) * 2).unwrap_or(0);
        if port >= high {
            continue;
        }
        let Ok(socket) = UdpSocket::bind(("0.0.0.0", port)).await else {
            continue;
        };
        if let Ok(rtcp) = UdpSocket::bind(("0.0.0.0", port + 1)).await {
            return Ok(MediaSocket { socket, rtcp, port });
        }
    }
    Err(MediaError::NoPort(range.clone()))
}

/// What the engine tells a media task.
#[derive(Debug)]
pub enum Control {
    Update(NegotiatedMedia),
    Dtmf(DtmfDigit),
    Mute(bool),
    PauseRecording(bool),
    Source(SourceSpec),
    Output(OutputSpec),
    Stop,
}

/// What a media task tells the engine.
#[derive(Debug)]
pub struct Report {
    pub call: CallHandle,
    pub event: MediaEvent,
}

/// The engine's handle on a running media task.
#[derive(Debug)]
pub struct MediaHandle {
    control: mpsc::UnboundedSender<Control>,
    /// The port RTP is received on.
    pub port: u16,
    pub recording: Option<PathBuf>,
}

impl MediaHandle {
    pub fn send(&self, control: Control) {
        // A task that ended (socket error) has nothing left to control.
        let _ = self.control.send(control);
    }
}

impl Drop for MediaHandle {
    fn drop(&mut self) {
        let _ = self.control.send(Control::Stop);
    }
}

fn direction(d: Direction) -> MediaDirection {
    match d {
        Direction::SendRecv => MediaDirection::SendRecv,
        Direction::SendOnly => MediaDirection::SendOnly,
        Direction::RecvOnly => MediaDirection::RecvOnly,
        Direction::Inactive => MediaDirection::Inactive,
    }
}

fn format(m: &NegotiatedMedia) -> Result<MediaFormat, MediaError> {
    let codec =
        Codec::from_name(&m.codec.name).ok_or_else(|| MediaError::Codec(m.codec.name.clone()))?;
    let ptime = u16::try_from(m.ptime_ms).unwrap_or(MediaFormat::DEFAULT_PTIME_MS);
    MediaFormat::new(codec, m.codec.payload_type, m.telephone_event_pt, ptime)
        .map_err(|e| MediaError::Format(e.to_string()))
}

/// The audio engine's SRTP keys for what SDES negotiated.
fn srtp_keys(m: &NegotiatedMedia) -> Option<audio_engine::srtp::SrtpKeys> {
    use audio_engine::srtp::{SrtpKeys, Suite};
    use parley_core::sdp::crypto::SrtpSuite;
    m.srtp.as_ref().map(|k| SrtpKeys {
        suite: match k.suite {
            SrtpSuite::AesCm128HmacSha1_80 => Suite::AesCm128HmacSha1_80,
            SrtpSuite::AesCm128HmacSha1_32 => Suite::AesCm128HmacSha1_32,
        },
        local: k.local,
        remote: k.remote,
    })
}

/// Where a call's audio comes from and goes to.
pub struct Audio<'a> {
    pub source: &'a SourceSpec,
    pub output: &'a OutputSpec,
    pub recording: Option<PathBuf>,
    /// RTP silence after which the call is reported inactive.
    pub rtp_timeout: Option<std::time::Duration>,
}

/// Starts the media task of `call` on `socket`.
///
/// A microphone or speaker that cannot be opened does not stop the call: it goes on with
/// silence (or unheard) and the failure is reported as a device notice, as when a device
/// is lost mid-call. A WAV file or tone that cannot be opened is a configuration error.
pub fn start(
    call: CallHandle,
    socket: MediaSocket,
    media: &NegotiatedMedia,
    audio: Audio<'_>,
    reports: mpsc::UnboundedSender<Report>,
) -> Result<MediaHandle, MediaError> {
    let Audio {
        source,
        output,
        recording,
        rtp_timeout,
    } = audio;
    let config = MediaConfig {
        srtp: srtp_keys(media),
        ..MediaConfig::new(format(media)?, media.remote, direction(media.direction))
    };
    let source = open_source(call, source, &reports)?;
    let mut session = MediaSession::new(config, source, Instant::now());
    session.set_player(open_output(call, output, &reports));
    session.set_inactivity_timeout(rtp_timeout);
    if let Some(path) = &recording {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| MediaError::Recording(format!("{}: {e}", dir.display())))?;
        }
        let recorder =
            WavRecorder::create(path).map_err(|e| MediaError::Recording(e.to_string()))?;
        session
            .record_to(recorder)
            .map_err(|e| MediaError::Recording(e.to_string()))?;
    }
    let (tx, rx) = mpsc::unbounded_channel();
    let port = socket.port;
    let span = tracing::info_span!("media", %call);
    tokio::spawn(run(call, socket, session, rx, reports).instrument(span));
    Ok(MediaHandle {
        control: tx,
        port,
        recording,
    })
}

/// Opens a call's audio source; a microphone that cannot be opened is reported and
/// replaced by silence.
fn open_source(
    call: CallHandle,
    spec: &SourceSpec,
    reports: &mpsc::UnboundedSender<Report>,
) -> Result<Box<dyn AudioSource + Send>, MediaError> {
    match (spec.open(), spec) {
        (Ok(source), _) => Ok(source),
        (Err(error @ SourceError::Device(_)), SourceSpec::Device(choice)) => {
            device_lost(call, device::Direction::Input, choice, &error, reports);
            Ok(Box::new(Silence))
        }
        (Err(error), _) => Err(MediaError::Source(error.to_string())),
    }
}

/// Opens a call's speaker, if it has one; one that cannot be opened is reported.
fn open_output(
    call: CallHandle,
    spec: &OutputSpec,
    reports: &mpsc::UnboundedSender<Report>,
) -> Option<Box<dyn AudioOutput + Send>> {
    let OutputSpec::Device(choice) = spec else {
        return None;
    };
    match Playback::open(choice) {
        Ok(playback) => Some(Box::new(playback)),
        Err(error) => {
            device_lost(call, device::Direction::Output, choice, &error, reports);
            None
        }
    }
}

fn device_lost(
    call: CallHandle,
    direction: device::Direction,
    choice: &DeviceChoice,
    error: &dyn std::fmt::Display,
    reports: &mpsc::UnboundedSender<Report>,
) {
    tracing::warn!(%error, %direction, "audio device not opened; the call goes on");
    let _ = reports.send(Report {
        call,
        event: MediaEvent::Device(DeviceNotice::Lost {
            direction,
            device: match choice {
                DeviceChoice::Named(id) => id.clone(),
                DeviceChoice::SystemDefault => String::new(),
            },
            name: None,
        }),
    });
}

async fn run(
    call: CallHandle,
    MediaSocket { socket, rtcp, .. }: MediaSocket,
    mut session: MediaSession,
    mut control: mpsc::UnboundedReceiver<Control>,
    reports: mpsc::UnboundedSender<Report>,
) {
    let mut buf = vec![0u8; 2048];
    let mut rtcp_buf = vec![0u8; 1500];
    loop {
        let wake = session.poll_timeout();
        tokio::select! {
            received = socket.recv_from(&mut buf) => match received {
                Ok((n, from)) => session.handle_packet(Instant::now(), from, &buf[..n]),
                // ICMP errors from a peer that is not listening yet are not fatal.
                Err(e) => tracing::debug!(error = %e, "RTP receive"),
            },
            received = rtcp.recv_from(&mut rtcp_buf) => match received {
                Ok((n, from)) => session.handle_rtcp(Instant::now(), from, &rtcp_buf[..n]),
                Err(e) => tracing::debug!(error = %e, "RTCP receive"),
            },
            c = control.recv() => match c {
                Some(Control::Update(m)) => match format(&m) {
                    Ok(f) => {
                        session.update(f);
                        session.set_remote(m.remote);
                        session.set_direction(direction(m.direction));
                        session.set_srtp(srtp_keys(&m));
                    }
                    Err(e) => tracing::warn!(error = %e, "media update ignored"),
                },
                Some(Control::Dtmf(d)) => {
                    if let Err(e) = session.send_dtmf(d) {
                        tracing::warn!(error = %e, "DTMF not sent");
                    }
                }
                Some(Control::Mute(m)) => session.set_muted(m),
                Some(Control::PauseRecording(p)) => session.pause_recording(p),
                Some(Control::Source(spec)) => match open_source(call, &spec, &reports) {
                    Ok(source) => session.set_source(source),
                    Err(e) => tracing::warn!(error = %e, "audio source not changed"),
                },
                Some(Control::Output(spec)) => session.set_player(open_output(call, &spec, &reports)),
                Some(Control::Stop) | None => break,
            },
            _ = sleep_until(wake) => {}
        }
        let now = Instant::now();
        session.handle_timeout(now);
        while let Some((to, packet)) = session.poll_transmit(now) {
            if let Err(e) = socket.send_to(&packet, to).await {
                tracing::debug!(error = %e, %to, "RTP send");
            }
        }
        while let Some((to, packet)) = session.poll_transmit_rtcp(now) {
            if let Err(e) = rtcp.send_to(&packet, to).await {
                tracing::debug!(error = %e, %to, "RTCP send");
            }
        }
        while let Some(event) = session.poll_event() {
            let _ = reports.send(Report { call, event });
        }
    }
    if let Err(e) = session.stop_recording() {
        tracing::warn!(error = %e, "recording not finalised");
    }
    let stats = session.stats();
    let jitter = session.jitter_stats();
    tracing::info!(
        sent = stats.packets_sent,
        received = stats.packets_received,
        lost = stats.packets_lost,
        late = stats.packets_late,
        concealed_ms =
            jitter.concealed_samples * 1_000 / u64::from(session.format().codec().clock_rate()),
        buffer_delay_ms = format!("{:.1}", jitter.mean_delay_ms()),
        "media ended"
    );
}
