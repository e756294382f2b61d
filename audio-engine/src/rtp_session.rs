//! The RTP media of one call, sans I/O (RFC 3550, RFC 3551, RFC 4733).
//!
//! The runtime owns the UDP socket and the clock. It feeds datagrams in with
//! [`MediaSession::handle_packet`], sends what [`MediaSession::poll_transmit`]
//! returns, wakes up at [`MediaSession::poll_timeout`], and drains
//! [`MediaSession::poll_event`] after every call.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use rtp::header::Header;

use crate::codec::Codec;
use crate::device::DeviceNotice;
use crate::jitter::{Insert, JitterBuffer, JitterConfig, JitterStats};
use crate::media_description::{MediaDirection, MediaFormat};
use crate::pacer::Pacer;
use crate::reports::{Received, Reports, Sent};
use crate::rtp_packet;
use crate::sequence::SequenceTracker;
use crate::sink::{AudioOutput, SinkError, WavRecorder};
use crate::source::AudioSource;
use crate::srtp::{Protection, SrtpKeys};
use crate::telephone_event::{DtmfDigit, DtmfPacket, DtmfReceiver, DtmfSender, TelephoneEvent};

/// Errors of this module.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// DTMF was asked for but the peer did not offer `telephone-event`.
    #[error("telephone-event was not negotiated, so DTMF cannot be sent in RTP")]
    DtmfNotNegotiated,
    /// DTMF was asked for while the call sends no media (held or inactive).
    #[error("the call sends no media now, so DTMF cannot be sent")]
    NotSending,
}

/// Everything a [`MediaSession`] needs to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaConfig {
    /// Our synchronisation source identifier (RFC 3550 §8.1: random).
    pub ssrc: u32,
    /// Sequence number of our first packet (RFC 3550 §5.1: random).
    pub initial_sequence: u16,
    /// RTP timestamp of our first packet (RFC 3550 §5.1: random).
    pub initial_timestamp: u32,
    /// The negotiated format.
    pub format: MediaFormat,
    /// Where to send: the address of the peer's SDP (`c=` and `m=`), until
    /// latching finds the one its packets really come from.
    pub remote: SocketAddr,
    /// The negotiated direction.
    pub direction: MediaDirection,
    /// SRTP keys, when SDES negotiated them.
    pub srtp: Option<SrtpKeys>,
}

impl MediaConfig {
    /// A configuration with random SSRC, initial sequence number and timestamp,
    /// as RFC 3550 §5.1 and §8.1 ask.
    pub fn new(format: MediaFormat, remote: SocketAddr, direction: MediaDirection) -> Self {
        Self {
            ssrc: rand::random(),
            initial_sequence: rand::random(),
            initial_timestamp: rand::random(),
            format,
            remote,
            direction,
            srtp: None,
        }
    }
}

/// Something that happened to a [`MediaSession`].
#[derive(Debug)]
pub enum MediaEvent {
    /// The first valid RTP packet of the call arrived: media flows.
    FirstPacketReceived,
    /// Media is now sent to the address the peer's packets come from
    /// (symmetric RTP, RFC 4961; latching, RFC 7362 §4), which a NAT may
    /// have made different from the one in its SDP.
    RemoteLatched {
        /// The address now sent to.
        addr: SocketAddr,
    },
    /// The peer pressed a key (RFC 4733).
    DtmfReceived {
        /// The key.
        digit: DtmfDigit,
        /// How long the tone lasted.
        duration_ms: u32,
    },
    /// Writing the recording failed; recording has stopped, the call goes on.
    RecordingFailed {
        /// What went wrong.
        error: SinkError,
    },
    /// The microphone or speaker of the call was lost or replaced; the call goes on.
    Device(DeviceNotice),
    /// How the call went over the last few seconds ([`QUALITY_INTERVAL`]).
    Quality(CallQuality),
    /// No RTP has come for the inactivity timeout while media should flow both ways
    /// (a dead peer, a NAT binding gone, a one-way audio problem).
    RtpInactive {
        /// Since the last packet (or the start).
        silent_for: std::time::Duration,
    },
    /// RTP flows again after [`MediaEvent::RtpInactive`].
    RtpResumed,
}

/// How often [`MediaEvent::Quality`] is reported.
pub const QUALITY_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);
/// What the client itself adds to the mouth-to-ear delay besides the jitter buffer and the
/// packet time: device buffers and codec, for the E-model until RTCP measures the network.
const DEVICE_DELAY_MS: f64 = 30.0;

/// The quality of what was received over one interval, as the statistics of WebRTC and
/// RTCP name it, and the E-model's estimate of how it sounded ([`crate::quality`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CallQuality {
    pub codec: Codec,
    /// RFC 3550 §6.4.1 interarrival jitter, now, in ms.
    pub jitter_ms: f64,
    /// Share of the packets the peer sent that never came.
    pub loss: f64,
    /// Share of the packets received that came too late to be played.
    pub late: f64,
    /// Share of the audio played that was concealment.
    pub concealed: f64,
    /// Mean wait of a packet in the jitter buffer, and its target, in ms.
    pub buffer_ms: f64,
    pub target_ms: f64,
    pub send_kbps: f64,
    pub receive_kbps: f64,
    /// Round-trip time from RTCP (RFC 3550 §6.4.1), once the peer reported on us.
    pub rtt_ms: Option<f64>,
    /// The one-way delay the estimate assumes: half the RTT (when known), the jitter
    /// buffer, the packet time and the devices.
    pub one_way_ms: f64,
    pub mos: f64,
}

/// Packet and byte counters of a session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MediaStats {
    /// RTP packets sent, audio and telephone events.
    pub packets_sent: u64,
    /// Bytes of RTP sent, headers included.
    pub bytes_sent: u64,
    /// Valid RTP packets accepted from the peer.
    pub packets_received: u64,
    /// Bytes of those packets, headers included.
    pub bytes_received: u64,
    /// Datagrams that are not RTP, or whose telephone-event payload is cut short.
    pub packets_malformed: u64,
    /// Valid RTP with a payload type not negotiated, or from another address
    /// than the latched one.
    pub packets_ignored: u64,
    /// Packets the peer sent that never arrived, from sequence numbers
    /// (RFC 3550 §6.4.1: duplicates hide losses).
    pub packets_lost: u64,
    /// Audio packets that arrived after their turn, or twice, and were dropped.
    pub packets_late: u64,
    /// SRTP or SRTCP packets that failed authentication (or replays), dropped.
    pub packets_unauthenticated: u64,
}

/// The RTP media of one call: G.711 audio and RFC 4733 DTMF both ways, with
/// an optional recording of what is received.
///
/// End a recording with [`stop_recording`](Self::stop_recording): dropping the
/// session finalises the file too, but loses the few packets held for
/// reordering and any error.
pub struct MediaSession {
    ssrc: u32,
    format: MediaFormat,
    remote: SocketAddr,
    direction: MediaDirection,
    muted: bool,
    source: Box<dyn AudioSource + Send>,
    outputs: Outputs,
    events: VecDeque<MediaEvent>,
    stats: MediaStats,
    sender: Sender,
    receiver: Receiver,
    /// RTCP (RFC 3550 §6), on the RTP port + 1 unless the peer's source says otherwise.
    reports: Reports,
    rtcp_remote: SocketAddr,
    rtcp_latched: bool,
    /// SRTP (RFC 3711), when negotiated.
    srtp: Security,
}

/// Whether and how media is protected.
enum Security {
    Plain,
    Srtp(Box<Protection>),
    /// SRTP was negotiated but could not be set up: nothing is sent or accepted, rather
    /// than audio in the clear.
    Broken,
}

impl Security {
    fn of(keys: Option<SrtpKeys>) -> Security {
        match keys.map(Protection::new) {
            None => Security::Plain,
            Some(Ok(p)) => Security::Srtp(Box::new(p)),
            Some(Err(error)) => {
                tracing::error!(%error, "SRTP not set up: media stops");
                Security::Broken
            }
        }
    }

    fn keys(&self) -> Option<&SrtpKeys> {
        match self {
            Security::Srtp(p) => Some(p.keys()),
            Security::Plain | Security::Broken => None,
        }
    }

    /// A packet as it goes out (`rtcp`: SRTCP), or `None` when it must not.
    fn protect(&mut self, packet: Vec<u8>, rtcp: bool) -> Option<Vec<u8>> {
        match self {
            Security::Plain => Some(packet),
            Security::Srtp(p) if rtcp => p.protect_rtcp(&packet),
            Security::Srtp(p) => p.protect_rtp(&packet),
            Security::Broken => None,
        }
    }

    /// A packet as it came in, in the clear, or `None` when it fails.
    fn unprotect<'a>(
        &mut self,
        packet: &'a [u8],
        rtcp: bool,
    ) -> Option<std::borrow::Cow<'a, [u8]>> {
        match self {
            Security::Plain => Some(std::borrow::Cow::Borrowed(packet)),
            Security::Srtp(p) if rtcp => p.unprotect_rtcp(packet).map(std::borrow::Cow::Owned),
            Security::Srtp(p) => p.unprotect_rtp(packet).map(std::borrow::Cow::Owned),
            Security::Broken => None,
        }
    }
}

/// The peer's RTCP address by RFC 3550 §11: its RTP port + 1.
fn rtcp_of(rtp: SocketAddr) -> SocketAddr {
    SocketAddr::new(rtp.ip(), rtp.port().wrapping_add(1))
}

/// State of what we send.
struct Sender {
    pacer: Pacer,
    /// RTP timestamp of slot 0 of the pacer.
    origin_timestamp: u32,
    sequence: u16,
    /// The next audio packet starts a talkspurt (RFC 3551 §4.1): the first
    /// of the stream, the first after DTMF or after a stall.
    marker: bool,
    dtmf_queue: VecDeque<DtmfDigit>,
    dtmf: Option<DtmfSender>,
    /// One packet of samples, reused.
    pcm: Vec<i16>,
}

/// State of what we receive.
struct Receiver {
    /// Whether the remote address is locked to where packets came from.
    latched: bool,
    first_received: bool,
    last_received: Option<Instant>,
    ssrc: Option<u32>,
    sequence: SequenceTracker,
    jitter: JitterBuffer,
    /// When the next frame is due for playout; `None` until audio arrives.
    playout: Option<Instant>,
    dtmf: DtmfReceiver,
    /// One packet of decoded samples, reused.
    pcm: Vec<i16>,
    /// One frame of playout, reused.
    frame: Vec<i16>,
    /// RFC 3550 appendix A.8: our clock's origin, the last transit time and the jitter,
    /// in timestamp units.
    epoch: Instant,
    transit: Option<i64>,
    interarrival_jitter: f64,
    /// The timestamp of the last telephone event and how far its silence is in the
    /// jitter buffer.
    event_covered: Option<(u32, u32)>,
    /// The highest audio sequence number seen, and the runs of missing ones after it.
    highest: Option<u16>,
    loss_bursts: u64,
    /// When the next quality report is due, and the counters at the last one.
    report_at: Instant,
    reported: Counters,
    /// RTP silence after which [`MediaEvent::RtpInactive`] is raised; whether it was.
    inactivity: Option<std::time::Duration>,
    inactive: bool,
}

/// Counters at a quality report, to tell what happened in the interval since.
#[derive(Debug, Clone, Copy, Default)]
struct Counters {
    received: u64,
    lost: u64,
    late: u64,
    bursts: u64,
    bytes_sent: u64,
    bytes_received: u64,
    jitter: JitterStats,
}

impl Receiver {
    /// Frames a late caller may catch up on (200 ms); after a longer stall playout skips
    /// ahead rather than write a burst.
    const MAX_CATCH_UP: u32 = 20;

    fn new(codec: Codec, now: Instant) -> Self {
        Self {
            latched: false,
            first_received: false,
            last_received: None,
            ssrc: None,
            sequence: SequenceTracker::default(),
            jitter: JitterBuffer::new(JitterConfig::at(codec.clock_rate()), now),
            playout: None,
            dtmf: DtmfReceiver::new(codec.clock_rate()),
            pcm: Vec::new(),
            frame: Vec::new(),
            epoch: now,
            transit: None,
            interarrival_jitter: 0.0,
            event_covered: None,
            highest: None,
            loss_bursts: 0,
            report_at: now + QUALITY_INTERVAL,
            reported: Counters::default(),
            inactivity: None,
            inactive: false,
        }
    }

    /// The time one playout frame lasts.
    fn frame_duration(&self, codec: Codec) -> std::time::Duration {
        let frame = JitterConfig::at(codec.clock_rate()).frame;
        std::time::Duration::from_secs_f64(frame as f64 / f64::from(codec.clock_rate()))
    }
}

/// A received packet, classified.
enum Incoming {
    Audio,
    Event(TelephoneEvent),
}

impl MediaSession {
    /// Starts the media of a call at `now`, sending audio from `source`.
    pub fn new(config: MediaConfig, source: Box<dyn AudioSource + Send>, now: Instant) -> Self {
        let format = config.format;
        Self {
            ssrc: config.ssrc,
            format,
            remote: config.remote,
            direction: config.direction,
            muted: false,
            source,
            outputs: Outputs::default(),
            events: VecDeque::new(),
            stats: MediaStats::default(),
            sender: Sender {
                pacer: Pacer::new(now, format.ptime()),
                origin_timestamp: config.initial_timestamp,
                sequence: config.initial_sequence,
                marker: true,
                dtmf_queue: VecDeque::new(),
                dtmf: None,
                pcm: Vec::with_capacity(usize::from(format.samples_per_packet().get())),
            },
            receiver: Receiver::new(format.codec(), now),
            // A random CNAME (RFC 7022 §4.1): it names nothing about the agent.
            reports: Reports::new(
                config.ssrc,
                format!("{:016x}@parley", rand::random::<u64>()),
                now,
                std::time::SystemTime::now(),
            ),
            rtcp_remote: rtcp_of(config.remote),
            rtcp_latched: false,
            srtp: Security::of(config.srtp),
        }
    }

    /// New SRTP keys from a re-INVITE (`None`: plain RTP); the same keys keep the running
    /// contexts, whose rollover counters must go on (RFC 3711 §3.3.1).
    pub fn set_srtp(&mut self, keys: Option<SrtpKeys>) {
        if self.srtp.keys() != keys.as_ref() {
            self.srtp = Security::of(keys);
        }
    }

    /// Whether media is SRTP.
    pub fn is_secure(&self) -> bool {
        self.srtp.keys().is_some()
    }

    /// The RTCP report due at `now`, and where to send it.
    pub fn poll_transmit_rtcp(&mut self, now: Instant) -> Option<(SocketAddr, Vec<u8>)> {
        if now < self.reports.due() {
            return None;
        }
        let sent = (self.stats.packets_sent > 0 && self.direction.sends()).then(|| Sent {
            rtp_time: self.timestamp_of(self.sender.pacer.next_index()),
            // RTCP's counters are 32 bits and wrap (RFC 3550 §6.4.1).
            packets: self.stats.packets_sent as u32,
            octets: self.stats.bytes_sent as u32,
        });
        let received = match (self.receiver.ssrc, self.receiver.sequence.counts()) {
            (Some(ssrc), Some((highest, expected, received))) => Some(Received {
                ssrc,
                highest,
                expected,
                received,
                jitter: self.receiver.interarrival_jitter as u32,
            }),
            _ => None,
        };
        let packet = self.reports.build(now, sent, received);
        let packet = self.srtp.protect(packet, true)?;
        Some((self.rtcp_remote, packet))
    }

    /// Takes a datagram that arrived at `now` from `from` on our RTCP port: only the
    /// peer's address is listened to, and its port is where our reports go from then on.
    pub fn handle_rtcp(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) {
        if from.ip() != self.remote.ip() {
            self.stats.packets_ignored += 1;
            return;
        }
        let Some(bytes) = self.srtp.unprotect(bytes, true) else {
            self.stats.packets_unauthenticated += 1;
            return;
        };
        if !self.rtcp_latched {
            self.rtcp_latched = true;
            self.rtcp_remote = from;
        }
        self.reports.handle(now, &bytes);
    }

    // ----- Sending -------------------------------------------------------

    /// The next datagram to send and where to, if one is due at `now`.
    ///
    /// Packet n is due at start + n · ptime. A caller that is late gets the
    /// packets it missed, one per call; after a stall of more than 200 ms the
    /// missed ones are skipped (the RTP timestamp still advances with time,
    /// RFC 3550 §5.1) and the next has the marker bit. While a digit is
    /// being sent, its telephone-event packets take the place of audio
    /// (RFC 4733 §2.5.1.2). Muted, the packets carry silence, which keeps
    /// NAT bindings open; when the direction does not send, nothing is sent.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<(SocketAddr, Vec<u8>)> {
        if !self.direction.sends() {
            return None;
        }
        let slot = self.sender.pacer.poll(now)?;
        self.sender.marker |= slot.after_gap;
        let timestamp = self.timestamp_of(slot.index);
        let datagram = match self.next_dtmf_packet(timestamp) {
            Some((payload_type, packet)) => self.event_datagram(payload_type, &packet),
            None => self.audio_datagram(timestamp),
        };
        let datagram = self.srtp.protect(datagram, false)?;
        self.stats.packets_sent += 1;
        self.stats.bytes_sent += datagram.len() as u64;
        Some((self.remote, datagram))
    }

    /// When [`poll_transmit`](Self::poll_transmit) or
    /// [`handle_timeout`](Self::handle_timeout) is next due, if one is.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let send = self
            .direction
            .sends()
            .then(|| self.sender.pacer.next_due())
            .flatten();
        let play = self
            .direction
            .receives()
            .then_some(self.receiver.playout)
            .flatten();
        let reports = Some(self.reports.due());
        [send, play, reports].into_iter().flatten().min()
    }

    /// Plays out the frames due at `now`: the jitter buffer's audio goes to the speaker
    /// and the recording at the pace of our clock, 10 ms at a time.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.check_inactivity(now);
        if now >= self.receiver.report_at {
            let quality = self.quality();
            self.events.push_back(MediaEvent::Quality(quality));
            self.receiver.report_at = now + QUALITY_INTERVAL;
        }
        if !self.direction.receives() {
            // Held: nothing plays; playout starts afresh with the next audio.
            if self.receiver.playout.take().is_some() {
                self.receiver.jitter.restart(now);
            }
            return;
        }
        let Some(mut due) = self.receiver.playout else {
            return;
        };
        let step = self.receiver.frame_duration(self.format.codec());
        let mut frames = 0;
        while due <= now {
            if frames == Receiver::MAX_CATCH_UP {
                due = now + step;
                break;
            }
            let receiver = &mut self.receiver;
            receiver.frame.clear();
            receiver.jitter.pull(due, &mut receiver.frame);
            if let Err(error) = self.outputs.write(&self.receiver.frame) {
                self.recording_failed(error);
            }
            due += step;
            frames += 1;
        }
        self.receiver.playout = Some(due);
    }

    /// Queues a DTMF digit, sent as RFC 4733 telephone events of 100 ms
    /// after the digits queued before it.
    pub fn send_dtmf(&mut self, digit: DtmfDigit) -> Result<(), SessionError> {
        if self.format.telephone_event_pt().is_none() {
            return Err(SessionError::DtmfNotNegotiated);
        }
        if !self.direction.sends() {
            return Err(SessionError::NotSending);
        }
        self.sender.dtmf_queue.push_back(digit);
        Ok(())
    }

    /// Mutes or unmutes: muted, silence is sent in place of the source.
    pub fn set_muted(&mut self, muted: bool) {
        self.muted = muted;
    }

    /// Replaces the audio source.
    pub fn set_source(&mut self, source: Box<dyn AudioSource + Send>) {
        self.source = source;
    }

    /// The sender's half of a re-INVITE: a new direction. Digits not sent
    /// yet are dropped when the new direction does not send.
    pub fn set_direction(&mut self, direction: MediaDirection) {
        self.direction = direction;
        if !direction.sends() {
            self.cancel_dtmf();
        }
    }

    /// A new remote address, from a re-INVITE; latching starts over, so the
    /// first packet from the peer's actual address locks it again.
    pub fn set_remote(&mut self, remote: SocketAddr) {
        self.remote = remote;
        self.receiver.latched = false;
        self.rtcp_remote = rtcp_of(remote);
        self.rtcp_latched = false;
    }

    /// A new format, from a re-INVITE. The SSRC, sequence numbers and RTP
    /// clock carry on; a new ptime applies from the next packet on. Digits
    /// not sent yet are dropped if telephone-event is no longer negotiated.
    pub fn update(&mut self, format: MediaFormat) {
        if format.ptime() != self.format.ptime() {
            self.sender.origin_timestamp = self.timestamp_of(self.sender.pacer.next_index());
            self.sender.pacer.set_interval(format.ptime());
        }
        if format.telephone_event_pt().is_none() {
            self.cancel_dtmf();
        }
        self.format = format;
    }

    fn cancel_dtmf(&mut self) {
        self.sender.dtmf_queue.clear();
        self.sender.dtmf = None;
    }

    /// RTP timestamp of a pacer slot; it wraps modulo 2^32 (RFC 3550 §5.1).
    fn timestamp_of(&self, slot: u64) -> u32 {
        let units = slot.wrapping_mul(u64::from(self.format.samples_per_packet().get()));
        // Truncating to 32 bits is the modulo-2^32 wrap of RTP timestamps.
        self.sender.origin_timestamp.wrapping_add(units as u32)
    }

    /// The telephone-event packet for the slot at `timestamp` and its payload
    /// type, if a digit is being sent or is next in the queue.
    fn next_dtmf_packet(&mut self, timestamp: u32) -> Option<(u8, DtmfPacket)> {
        let payload_type = self.format.telephone_event_pt()?;
        let sender = &mut self.sender;
        if sender.dtmf.is_none() {
            let tone =
                self.format.codec().clock_rate() / 1_000 * u32::from(DtmfSender::DEFAULT_TONE_MS);
            let tone = u16::try_from(tone).unwrap_or(u16::MAX);
            let interval = self.format.samples_per_packet();
            sender.dtmf = sender
                .dtmf_queue
                .pop_front()
                .map(|digit| DtmfSender::new(digit, timestamp, tone, interval));
        }
        let packet = sender.dtmf.as_mut()?.next();
        if packet.is_none() {
            // The digit is over: audio resumes, as a new talkspurt.
            sender.dtmf = None;
            sender.marker = true;
        }
        Some((payload_type, packet?))
    }

    fn event_datagram(&mut self, payload_type: u8, packet: &DtmfPacket) -> Vec<u8> {
        let header = self.next_header(packet.marker, payload_type, packet.timestamp);
        rtp_packet::build(&header, TelephoneEvent::LEN, |out| {
            out.extend_from_slice(&packet.event.encode());
        })
    }

    fn audio_datagram(&mut self, timestamp: u32) -> Vec<u8> {
        let marker = std::mem::take(&mut self.sender.marker);
        let header = self.next_header(marker, self.format.payload_type(), timestamp);
        let pcm = &mut self.sender.pcm;
        pcm.resize(usize::from(self.format.samples_per_packet().get()), 0);
        if self.muted {
            pcm.fill(0);
        } else {
            self.source.fill(pcm);
        }
        let codec = self.format.codec();
        rtp_packet::build(&header, pcm.len(), |out| codec.encode(pcm, out))
    }

    /// The header of the next packet; sequence numbers count every packet,
    /// telephone events included (RFC 4733 §2.5.1.6).
    fn next_header(&mut self, marker: bool, payload_type: u8, timestamp: u32) -> Header {
        let sequence_number = self.sender.sequence;
        self.sender.sequence = sequence_number.wrapping_add(1);
        Header {
            version: 2,
            marker,
            payload_type,
            sequence_number,
            timestamp,
            ssrc: self.ssrc,
            ..Header::default()
        }
    }

    // ----- Receiving -----------------------------------------------------

    /// Takes a datagram that arrived at `now` from `from` on our RTP port.
    ///
    /// Anything that is not RTP is counted and dropped. RTP with a payload
    /// type we did not negotiate is ignored. The first valid packet latches
    /// the remote address (symmetric RTP, RFC 4961; RFC 7362 §4); after that,
    /// packets from other addresses are ignored. Audio is decoded into the
    /// jitter buffer, which [`handle_timeout`](Self::handle_timeout) plays out;
    /// telephone events become digits.
    pub fn handle_packet(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) {
        let Some(bytes) = self.srtp.unprotect(bytes, false) else {
            tracing::trace!(%from, len = bytes.len(), "SRTP packet failed authentication");
            self.stats.packets_unauthenticated += 1;
            return;
        };
        let bytes = &bytes[..];
        let Some(packet) = rtp_packet::parse(bytes) else {
            tracing::trace!(%from, len = bytes.len(), "malformed RTP dropped");
            self.stats.packets_malformed += 1;
            return;
        };
        let header = &packet.header;
        let incoming = if header.payload_type == self.format.payload_type() {
            Incoming::Audio
        } else if Some(header.payload_type) == self.format.telephone_event_pt() {
            let Ok(event) = TelephoneEvent::decode(&packet.payload) else {
                self.stats.packets_malformed += 1;
                return;
            };
            Incoming::Event(event)
        } else {
            self.stats.packets_ignored += 1;
            return;
        };
        if self.receiver.latched && from != self.remote {
            self.stats.packets_ignored += 1;
            return;
        }
        self.accept(now, from, header.ssrc, bytes.len());
        self.receiver.sequence.update(header.sequence_number);
        if !self.direction.receives() {
            return;
        }
        match incoming {
            Incoming::Audio => {
                self.measure(now, header.sequence_number, header.timestamp);
                self.handle_audio(now, header.timestamp, &packet.payload);
            }
            Incoming::Event(event) => {
                self.receiver.dtmf.handle_event(header.timestamp, &event);
                self.cover_event(now, header.timestamp, &event);
            }
        }
        self.collect_digits();
    }

    /// Bookkeeping for a packet accepted from the peer.
    fn accept(&mut self, now: Instant, from: SocketAddr, ssrc: u32, len: usize) {
        self.stats.packets_received += 1;
        self.stats.bytes_received += len as u64;
        let receiver = &mut self.receiver;
        receiver.last_received = Some(now);
        if std::mem::take(&mut receiver.inactive) {
            tracing::info!("RTP from the peer again");
            self.events.push_back(MediaEvent::RtpResumed);
        }
        if !receiver.first_received {
            receiver.first_received = true;
            self.events.push_back(MediaEvent::FirstPacketReceived);
        }
        if !receiver.latched {
            receiver.latched = true;
            self.remote = from;
            if !self.rtcp_latched {
                self.rtcp_remote = rtcp_of(from);
            }
            tracing::debug!(%from, "remote media address latched");
            self.events
                .push_back(MediaEvent::RemoteLatched { addr: from });
        }
        if receiver.ssrc != Some(ssrc) {
            if receiver.ssrc.is_some() {
                // A new stream (RFC 3550 §8.2): new sequence numbers, a new
                // timestamp base, new events.
                tracing::debug!(ssrc, "remote SSRC changed");
                receiver.sequence.restart();
                receiver.dtmf = DtmfReceiver::new(self.format.codec().clock_rate());
                receiver.jitter.restart(now);
            }
            self.receiver.ssrc = Some(ssrc);
        }
    }

    /// Raises [`MediaEvent::RtpInactive`] once RTP has been missing for the timeout while
    /// both sides send (on hold, silence is expected).
    fn check_inactivity(&mut self, now: Instant) {
        let receiver = &self.receiver;
        let Some(timeout) = receiver.inactivity else {
            return;
        };
        if receiver.inactive || self.direction != MediaDirection::SendRecv {
            return;
        }
        let last = receiver.last_received.unwrap_or(receiver.epoch);
        let silent_for = now.saturating_duration_since(last);
        if silent_for >= timeout {
            self.receiver.inactive = true;
            tracing::info!(?silent_for, "no RTP from the peer");
            self.events
                .push_back(MediaEvent::RtpInactive { silent_for });
        }
    }

    /// Raises [`MediaEvent::RtpInactive`] after `timeout` without RTP while media flows both
    /// ways; `None` never does.
    pub fn set_inactivity_timeout(&mut self, timeout: Option<std::time::Duration>) {
        self.receiver.inactivity = timeout;
    }

    /// A telephone event takes the place of audio for its duration (RFC 4733 §2.5.1.2):
    /// that time plays as silence, so that the jitter buffer does not conceal it as loss.
    fn cover_event(&mut self, now: Instant, timestamp: u32, event: &TelephoneEvent) {
        let receiver = &mut self.receiver;
        let end = timestamp.wrapping_add(u32::from(event.duration));
        let from = match receiver.event_covered {
            Some((ts, covered)) if ts == timestamp => covered,
            _ => timestamp,
        };
        let len = end.wrapping_sub(from).cast_signed();
        if len <= 0 {
            return;
        }
        receiver
            .jitter
            .insert_silence(now, from, len.unsigned_abs() as usize);
        receiver.event_covered = Some((timestamp, end));
        receiver.playout.get_or_insert(now);
    }

    /// Interarrival jitter (RFC 3550 §6.4.1, appendix A.8) and the runs of lost packets.
    fn measure(&mut self, now: Instant, sequence: u16, timestamp: u32) {
        let receiver = &mut self.receiver;
        let rate = f64::from(self.format.codec().clock_rate());
        let arrival = (now.saturating_duration_since(receiver.epoch).as_secs_f64() * rate) as i64;
        let transit = arrival - i64::from(timestamp);
        if let Some(last) = receiver.transit {
            // Timestamps wrap: the difference of two transits is taken modulo 2^32.
            let d = i64::from(((transit - last) as u32).cast_signed()).abs();
            receiver.interarrival_jitter += (d as f64 - receiver.interarrival_jitter) / 16.0;
        }
        receiver.transit = Some(transit);
        match receiver.highest {
            Some(highest) => {
                let ahead = sequence.wrapping_sub(highest).cast_signed();
                if ahead > 1 {
                    receiver.loss_bursts += 1;
                }
                if ahead > 0 {
                    receiver.highest = Some(sequence);
                }
            }
            None => receiver.highest = Some(sequence),
        }
    }

    /// The quality report of the interval that ends at `now`.
    fn quality(&mut self) -> CallQuality {
        let stats = self.stats();
        let jitter = self.receiver.jitter.stats();
        let before = self.receiver.reported;
        let now_counters = Counters {
            received: stats.packets_received,
            lost: stats.packets_lost,
            late: stats.packets_late,
            bursts: self.receiver.loss_bursts,
            bytes_sent: stats.bytes_sent,
            bytes_received: stats.bytes_received,
            jitter,
        };
        self.receiver.reported = now_counters;
        let received = now_counters.received - before.received;
        let lost = now_counters.lost.saturating_sub(before.lost);
        let late = now_counters.late - before.late;
        let expected = received + lost;
        let share = |part: u64, whole: u64| {
            if whole == 0 {
                0.0
            } else {
                part as f64 / whole as f64
            }
        };
        let played = jitter.played_samples - before.jitter.played_samples;
        let concealed = jitter.concealed_samples - before.jitter.concealed_samples;
        let delayed = jitter.delayed_packets - before.jitter.delayed_packets;
        let buffer_ms = if delayed == 0 {
            jitter.mean_delay_ms()
        } else {
            (jitter.delay_ms_sum - before.jitter.delay_ms_sum) / delayed as f64
        };
        let seconds = QUALITY_INTERVAL.as_secs_f64();
        let kbps = |bytes: u64| bytes as f64 * 8.0 / seconds / 1000.0;
        let codec = self.format.codec();
        let rate = f64::from(codec.clock_rate());
        let rtt_ms = self.reports.rtt().map(|d| d.as_secs_f64() * 1000.0);
        let one_way_ms = rtt_ms.unwrap_or(0.0) / 2.0
            + buffer_ms
            + f64::from(self.format.ptime_ms())
            + DEVICE_DELAY_MS;
        let loss = share(lost + late, expected);
        let burst =
            crate::quality::burst_ratio(lost, now_counters.bursts - before.bursts, expected);
        let r = crate::quality::r_factor(
            one_way_ms,
            loss,
            burst,
            crate::quality::Impairment::of(codec),
        );
        CallQuality {
            codec,
            jitter_ms: self.receiver.interarrival_jitter / rate * 1000.0,
            loss: share(lost, expected),
            late: share(late, received),
            concealed: share(concealed, played),
            buffer_ms,
            target_ms: jitter.target_ms,
            send_kbps: kbps(now_counters.bytes_sent - before.bytes_sent),
            receive_kbps: kbps(now_counters.bytes_received - before.bytes_received),
            rtt_ms,
            one_way_ms,
            mos: crate::quality::mos(r),
        }
    }

    fn handle_audio(&mut self, now: Instant, timestamp: u32, payload: &[u8]) {
        let receiver = &mut self.receiver;
        // After an event, audio resumes in the slot after the event's last packet (its end
        // is sent three times, RFC 4733 §2.5.1.4): silence up to it, not loss.
        if let Some((_, covered)) = receiver.event_covered.take() {
            let len = timestamp.wrapping_sub(covered).cast_signed();
            if len > 0 && len.unsigned_abs() <= self.format.codec().clock_rate() {
                receiver
                    .jitter
                    .insert_silence(now, covered, len.unsigned_abs() as usize);
            }
        }
        receiver.dtmf.handle_audio(timestamp);
        receiver.pcm.clear();
        self.format.codec().decode(payload, &mut receiver.pcm);
        match receiver.jitter.insert(now, timestamp, &receiver.pcm) {
            Insert::Accepted => {}
            Insert::Late | Insert::Duplicate => self.stats.packets_late += 1,
        }
        receiver.playout.get_or_insert(now);
    }

    fn collect_digits(&mut self) {
        while let Some(received) = self.receiver.dtmf.poll_digit() {
            self.events.push_back(MediaEvent::DtmfReceived {
                digit: received.digit,
                duration_ms: self.format.to_ms(received.duration),
            });
        }
    }

    fn recording_failed(&mut self, error: SinkError) {
        tracing::warn!(%error, "recording stopped");
        self.outputs.recorder = None;
        self.events.push_back(MediaEvent::RecordingFailed { error });
    }

    /// Records the audio played out into `recorder`, from the next frame on
    /// (lost audio concealed as it is heard). A recording already running is
    /// stopped first; the error returned is that recording's.
    pub fn record_to(&mut self, recorder: WavRecorder) -> Result<(), SinkError> {
        let stopped = self.stop_recording();
        self.outputs.recorder = Some(recorder);
        stopped
    }

    /// Plays received audio on `player` (a speaker or headset), from the next frame on,
    /// in place of the one playing before; `None` plays nothing.
    pub fn set_player(&mut self, player: Option<Box<dyn AudioOutput + Send>>) {
        self.outputs.player = player;
    }

    /// Pauses or resumes the recording (payment card numbers must not be recorded, PCI DSS
    /// 3.2): while paused, silence is recorded in place of the call, so that the file
    /// keeps the call's timeline.
    pub fn pause_recording(&mut self, paused: bool) {
        self.outputs.paused = paused;
    }

    /// Finalises the recording (what the jitter buffer still holds, a few tens of ms,
    /// was not heard and is not recorded).
    pub fn stop_recording(&mut self) -> Result<(), SinkError> {
        self.outputs
            .recorder
            .take()
            .map_or(Ok(()), WavRecorder::finalize)
    }

    // ----- Observing -----------------------------------------------------

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<MediaEvent> {
        if let Some(notice) = self.source.poll_notice() {
            self.events.push_back(MediaEvent::Device(notice));
        }
        if let Some(notice) = self.outputs.player.as_mut().and_then(|p| p.poll_notice()) {
            self.events.push_back(MediaEvent::Device(notice));
        }
        self.events.pop_front()
    }

    /// The jitter buffer's counters and levels so far.
    pub fn jitter_stats(&self) -> JitterStats {
        self.receiver.jitter.stats()
    }

    /// Counters so far.
    pub fn stats(&self) -> MediaStats {
        MediaStats {
            packets_lost: self.receiver.sequence.lost(),
            ..self.stats
        }
    }

    /// When the last packet was accepted from the peer, to hang up after a
    /// media timeout.
    pub fn last_received(&self) -> Option<Instant> {
        self.receiver.last_received
    }

    /// Where media is sent.
    pub fn remote(&self) -> SocketAddr {
        self.remote
    }

    /// The format in use.
    pub fn format(&self) -> MediaFormat {
        self.format
    }
}

impl std::fmt::Debug for MediaSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaSession")
            .field("ssrc", &self.ssrc)
            .field("format", &self.format)
            .field("remote", &self.remote)
            .field("direction", &self.direction)
            .field("muted", &self.muted)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

/// Where received audio goes, in timestamp order: a speaker, a recording, both or neither.
#[derive(Default)]
struct Outputs {
    recorder: Option<WavRecorder>,
    player: Option<Box<dyn AudioOutput + Send>>,
    /// The recording is paused: silence is written instead.
    paused: bool,
    silence: Vec<i16>,
}

impl Outputs {
    /// Plays and records a frame; the error is the recording's (playing cannot fail).
    fn write(&mut self, samples: &[i16]) -> Result<(), SinkError> {
        if let Some(player) = &mut self.player {
            player.play(samples);
        }
        let Some(recorder) = &mut self.recorder else {
            return Ok(());
        };
        if self.paused {
            self.silence.resize(samples.len(), 0);
            return recorder.write_samples(&self.silence);
        }
        recorder.write_samples(samples)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;
    use std::time::Duration;

    use proptest::prelude::*;
    use rtp::packet::Packet;

    use super::*;
    use crate::source::{Silence, Tone};
    use std::num::NonZeroU16;

    const PEER: &str = "192.0.2.1:4000";
    const NATTED_PEER: &str = "198.51.100.7:5555";

    fn addr(text: &str) -> SocketAddr {
        text.parse().unwrap()
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn config(telephone_event_pt: Option<u8>) -> MediaConfig {
        MediaConfig {
            ssrc: 0x1234_5678,
            initial_sequence: 65_534,
            initial_timestamp: u32::MAX - 100,
            format: MediaFormat::new(Codec::Pcmu, 0, telephone_event_pt, 20).unwrap(),
            remote: addr(PEER),
            direction: MediaDirection::SendRecv,
            srtp: None,
        }
    }

    fn tone() -> Box<dyn AudioSource + Send> {
        Box::new(Tone::new(1_000.0, Tone::DEFAULT_AMPLITUDE).unwrap())
    }

    /// Everything due at `now`, parsed.
    fn sent(session: &mut MediaSession, now: Instant) -> Vec<(SocketAddr, Packet)> {
        std::iter::from_fn(|| session.poll_transmit(now))
            .map(|(to, bytes)| (to, rtp_packet::parse(&bytes).unwrap()))
            .collect()
    }

    fn one_sent(session: &mut MediaSession, now: Instant) -> Packet {
        let mut packets = sent(session, now);
        assert_eq!(packets.len(), 1);
        packets.remove(0).1
    }

    fn datagram(payload_type: u8, sequence: u16, timestamp: u32, payload: &[u8]) -> Vec<u8> {
        let header = Header {
            version: 2,
            payload_type,
            sequence_number: sequence,
            timestamp,
            ssrc: 0xCAFE,
            ..Header::default()
        };
        rtp_packet::build(&header, payload.len(), |out| out.extend_from_slice(payload))
    }

    fn events(session: &mut MediaSession) -> Vec<MediaEvent> {
        std::iter::from_fn(|| session.poll_event()).collect()
    }

    #[test]
    fn sessions_can_move_to_another_thread() {
        fn assert_send<T: Send>() {}
        assert_send::<MediaSession>();
        assert_send::<MediaEvent>();
    }

    #[test]
    fn random_config_differs() {
        let format = config(None).format;
        let a = MediaConfig::new(format, addr(PEER), MediaDirection::SendRecv);
        let b = MediaConfig::new(format, addr(PEER), MediaDirection::SendRecv);
        assert_ne!(
            (a.ssrc, a.initial_sequence, a.initial_timestamp),
            (b.ssrc, b.initial_sequence, b.initial_timestamp)
        );
    }

    #[test]
    fn sends_one_packet_per_ptime_with_consecutive_numbers() {
        let start = Instant::now();
        let mut session = MediaSession::new(config(None), tone(), start);
        assert_eq!(session.poll_timeout(), Some(start));
        let mut packets = Vec::new();
        for n in 0..4 {
            let now = start + ms(20 * n);
            let sent = sent(&mut session, now);
            assert_eq!(sent.len(), 1, "packet {n}");
            assert_eq!(sent[0].0, addr(PEER));
            packets.push(sent[0].1.clone());
            assert_eq!(session.poll_timeout(), Some(start + ms(20 * (n + 1))));
        }
        let sequences: Vec<_> = packets.iter().map(|p| p.header.sequence_number).collect();
        assert_eq!(sequences, [65_534, 65_535, 0, 1]);
        let timestamps: Vec<_> = packets.iter().map(|p| p.header.timestamp).collect();
        assert_eq!(timestamps, [u32::MAX - 100, 59, 219, 379]);
        let markers: Vec<_> = packets.iter().map(|p| p.header.marker).collect();
        assert_eq!(markers, [true, false, false, false]);
        assert!(packets.iter().all(|p| p.header.payload_type == 0
            && p.header.ssrc == 0x1234_5678
            && p.payload.len() == 160));
        assert_eq!(session.stats().packets_sent, 4);
        assert_eq!(session.stats().bytes_sent, 4 * 172);
    }

    #[test]
    fn a_late_caller_catches_up_but_a_stall_skips_ahead() {
        let start = Instant::now();
        let mut session = MediaSession::new(config(None), tone(), start);
        assert_eq!(sent(&mut session, start + ms(100)).len(), 6);
        // A stall of a second: one packet, a new talkspurt, timestamps in step with time.
        let packets = sent(&mut session, start + ms(1_105));
        assert_eq!(packets.len(), 1);
        let header = &packets[0].1.header;
        assert!(header.marker);
        assert_eq!(header.timestamp, (u32::MAX - 100).wrapping_add(55 * 160));
        assert_eq!(header.sequence_number, 65_534u16.wrapping_add(6));
        assert_eq!(session.poll_timeout(), Some(start + ms(1_120)));
    }

    #[test]
    fn muted_sessions_send_silence() {
        let start = Instant::now();
        let mut session = MediaSession::new(config(None), tone(), start);
        session.set_muted(true);
        let packet = one_sent(&mut session, start);
        assert!(packet.payload.iter().all(|&code| code == 0xFF));
        session.set_muted(false);
        let packet = one_sent(&mut session, start + ms(20));
        assert!(packet.payload.iter().any(|&code| code != 0xFF));
    }

    #[test]
    fn nothing_is_sent_unless_the_direction_sends() {
        let start = Instant::now();
        let mut config = config(Some(101));
        config.direction = MediaDirection::RecvOnly;
        let mut session = MediaSession::new(config, tone(), start);
        // Only the RTCP report is ever due (receivers report too, RFC 3550 §6.4.2).
        assert!(session.poll_timeout() >= Some(start + ms(1_250)));
        assert!(session.poll_transmit(start).is_none());
        assert_eq!(
            session.send_dtmf(DtmfDigit::try_from('1').unwrap()),
            Err(SessionError::NotSending)
        );

        // Taken off hold a second later: sending resumes in step with time.
        session.set_direction(MediaDirection::SendRecv);
        let packet = one_sent(&mut session, start + ms(1_000));
        assert!(packet.header.marker);
        assert_eq!(
            packet.header.timestamp,
            (u32::MAX - 100).wrapping_add(50 * 160)
        );

        session
            .send_dtmf(DtmfDigit::try_from('1').unwrap())
            .unwrap();
        session.set_direction(MediaDirection::Inactive);
        session.set_direction(MediaDirection::SendOnly);
        let packet = one_sent(&mut session, start + ms(1_020));
        assert_eq!(
            packet.header.payload_type, 0,
            "the digit was dropped on hold"
        );
    }

    #[test]
    fn dtmf_replaces_audio_while_a_digit_plays() {
        let start = Instant::now();
        let mut session = MediaSession::new(config(Some(101)), tone(), start);
        assert_eq!(
            MediaSession::new(config(None), tone(), start)
                .send_dtmf(DtmfDigit::try_from('1').unwrap()),
            Err(SessionError::DtmfNotNegotiated)
        );
        let mut packets = Vec::new();
        for n in 0..12u64 {
            if n == 2 {
                session
                    .send_dtmf(DtmfDigit::try_from('#').unwrap())
                    .unwrap();
            }
            packets.push(one_sent(&mut session, start + ms(20 * n)));
        }
        let kinds: String = packets
            .iter()
            .map(|p| match (p.header.payload_type, p.header.marker) {
                (0, false) => 'a',
                (0, true) => 'A',
                (101, false) => 'e',
                (101, true) => 'E',
                _ => '?',
            })
            .collect();
        assert_eq!(kinds, "AaEeeeeeeAaa");
        let event_start = packets[2].header.timestamp;
        assert_eq!(event_start, (u32::MAX - 100).wrapping_add(2 * 160));
        for packet in &packets[2..9] {
            assert_eq!(packet.header.timestamp, event_start);
            let event = TelephoneEvent::decode(&packet.payload).unwrap();
            assert_eq!(event.event, 11);
        }
        let ends: Vec<_> = packets[2..9]
            .iter()
            .map(|p| TelephoneEvent::decode(&p.payload).unwrap().end)
            .collect();
        assert_eq!(ends, [false, false, false, false, true, true, true]);
        assert_eq!(
            packets[9].header.timestamp,
            event_start.wrapping_add(7 * 160)
        );
        for pair in packets.windows(2) {
            assert_eq!(
                pair[1].header.sequence_number,
                pair[0].header.sequence_number.wrapping_add(1)
            );
        }
    }

    #[test]
    fn a_new_ptime_applies_from_the_next_packet() {
        let start = Instant::now();
        let mut session = MediaSession::new(config(Some(101)), tone(), start);
        one_sent(&mut session, start);
        one_sent(&mut session, start + ms(20));
        session.update(MediaFormat::new(Codec::Pcma, 8, None, 30).unwrap());
        assert_eq!(session.poll_timeout(), Some(start + ms(40)));
        let packet = one_sent(&mut session, start + ms(40));
        assert_eq!(packet.header.timestamp, (u32::MAX - 100).wrapping_add(320));
        assert_eq!((packet.header.payload_type, packet.payload.len()), (8, 240));
        assert_eq!(session.poll_timeout(), Some(start + ms(70)));
        let packet = one_sent(&mut session, start + ms(70));
        assert_eq!(packet.header.timestamp, (u32::MAX - 100).wrapping_add(560));
        assert_eq!(session.format().codec(), Codec::Pcma);
    }

    #[test]
    fn the_remote_address_latches_to_the_first_valid_source() {
        let start = Instant::now();
        let mut session = MediaSession::new(config(Some(101)), Box::new(Silence), start);
        // Neither garbage nor an unknown payload type latches.
        session.handle_packet(start, addr("203.0.113.9:1"), b"not rtp");
        session.handle_packet(start, addr("203.0.113.9:1"), &datagram(96, 1, 0, &[0; 160]));
        assert!(events(&mut session).is_empty());
        assert_eq!(session.remote(), addr(PEER));

        session.handle_packet(start, addr(NATTED_PEER), &datagram(0, 1, 0, &[0xFF; 160]));
        let events = events(&mut session);
        assert!(matches!(events[0], MediaEvent::FirstPacketReceived));
        assert!(
            matches!(events[1], MediaEvent::RemoteLatched { addr: a } if a == addr(NATTED_PEER))
        );
        assert_eq!(events.len(), 2);
        assert_eq!(sent(&mut session, start)[0].0, addr(NATTED_PEER));
        assert_eq!(session.last_received(), Some(start));

        // Someone else, even with valid RTP, is ignored.
        session.handle_packet(
            start + ms(5),
            addr("203.0.113.9:1"),
            &datagram(0, 2, 160, &[0xFF; 160]),
        );
        assert_eq!(session.remote(), addr(NATTED_PEER));
        assert_eq!(session.last_received(), Some(start));

        // A re-INVITE moves the peer: latching starts over.
        session.set_remote(addr("192.0.2.2:4000"));
        session.handle_packet(
            start + ms(10),
            addr("192.0.2.2:4002"),
            &datagram(0, 3, 320, &[0xFF; 160]),
        );
        let events: Vec<_> = std::iter::from_fn(|| session.poll_event()).collect();
        assert!(
            matches!(events[..], [MediaEvent::RemoteLatched { addr: a }] if a == addr("192.0.2.2:4002"))
        );

        let stats = session.stats();
        assert_eq!(
            (
                stats.packets_malformed,
                stats.packets_ignored,
                stats.packets_received
            ),
            (1, 2, 2)
        );
        assert_eq!(stats.bytes_received, 2 * 172);
    }

    #[test]
    fn telephone_events_become_digits_once() {
        let start = Instant::now();
        let mut session = MediaSession::new(config(Some(101)), Box::new(Silence), start);
        let digit = DtmfDigit::try_from('7').unwrap();
        let interval = NonZeroU16::new(160).unwrap();
        let packets = DtmfSender::new(digit, 8_000, 960, interval);
        for (sequence, packet) in (10..).zip(packets) {
            let bytes = datagram(101, sequence, packet.timestamp, &packet.event.encode());
            session.handle_packet(start, addr(PEER), &bytes);
        }
        // A payload cut short is malformed, not a digit.
        session.handle_packet(start, addr(PEER), &datagram(101, 20, 9_000, &[7, 0x8A]));
        let digits: Vec<_> = events(&mut session)
            .into_iter()
            .filter_map(|event| match event {
                MediaEvent::DtmfReceived { digit, duration_ms } => {
                    Some((digit.as_char(), duration_ms))
                }
                _ => None,
            })
            .collect();
        assert_eq!(digits, [('7', 120)]);
        assert_eq!(session.stats().packets_malformed, 1);
    }

    #[test]
    fn missing_rtp_is_reported_once_and_its_return_too() {
        let start = Instant::now();
        let mut session = MediaSession::new(config(None), Box::new(Silence), start);
        session.set_inactivity_timeout(Some(ms(2_000)));
        let audio = |seq: u16| datagram(0, seq, u32::from(seq) * 160, &[0xFF; 160]);
        session.handle_packet(start, addr(PEER), &audio(1));
        let inactive = |events: &[MediaEvent]| {
            events
                .iter()
                .filter(|e| matches!(e, MediaEvent::RtpInactive { .. }))
                .count()
        };
        session.handle_timeout(start + ms(1_990));
        assert_eq!(inactive(&events(&mut session)), 0);
        session.handle_timeout(start + ms(2_000));
        session.handle_timeout(start + ms(5_000));
        let e = events(&mut session);
        assert_eq!(inactive(&e), 1, "{e:?}");
        assert!(e.iter().any(
            |e| matches!(e, MediaEvent::RtpInactive { silent_for } if *silent_for == ms(2_000))
        ));
        session.handle_packet(start + ms(5_100), addr(PEER), &audio(2));
        assert!(events(&mut session)
            .iter()
            .any(|e| matches!(e, MediaEvent::RtpResumed)));
        // On hold, silence from the peer is no news.
        session.set_direction(MediaDirection::SendOnly);
        session.handle_timeout(start + ms(9_000));
        assert_eq!(inactive(&events(&mut session)), 0);
    }

    #[test]
    fn a_paused_recording_keeps_the_timeline_with_silence() {
        #[derive(Clone, Default)]
        struct Shared(std::sync::Arc<std::sync::Mutex<Cursor<Vec<u8>>>>);
        impl std::io::Write for Shared {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().write(b)
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        impl std::io::Seek for Shared {
            fn seek(&mut self, p: std::io::SeekFrom) -> std::io::Result<u64> {
                self.0.lock().unwrap().seek(p)
            }
        }
        let start = Instant::now();
        let mut session = MediaSession::new(config(None), Box::new(Silence), start);
        let file = Shared::default();
        session
            .record_to(WavRecorder::from_writer(file.clone()).unwrap())
            .unwrap();
        // 1.2 s of a loud constant (µ-law 0x80), the recording paused from 0.4 s to 0.8 s.
        for n in 0..60u16 {
            let now = start + ms(20 * u64::from(n));
            session.pause_recording((20..40).contains(&n));
            session.handle_packet(
                now,
                addr(PEER),
                &datagram(0, n, u32::from(n) * 160, &[0x80; 160]),
            );
            session.handle_timeout(now);
        }
        session.stop_recording().unwrap();
        let bytes = file.0.lock().unwrap().get_ref().clone();
        let samples: Vec<i16> = hound::WavReader::new(Cursor::new(bytes))
            .unwrap()
            .samples::<i16>()
            .map(Result::unwrap)
            .collect();
        let loud = samples.iter().filter(|&&s| s == 32_124).count();
        let pause = samples
            .iter()
            .skip_while(|&&s| s == 0)
            .skip_while(|&&s| s != 0);
        let paused = pause.take_while(|&&s| s == 0).count();
        // The 400 ms paused are silence in the file, the rest is the call.
        assert!((3_100..=3_300).contains(&paused), "{paused}");
        assert!(loud >= 5_000, "{loud}");
    }

    #[test]
    fn a_session_that_does_not_receive_plays_nothing() {
        let start = Instant::now();
        let mut config = config(Some(101));
        config.direction = MediaDirection::SendOnly;
        let mut session = MediaSession::new(config, Box::new(Silence), start);
        let end = TelephoneEvent {
            event: 1,
            end: true,
            volume: 10,
            duration: 800,
        };
        session.handle_packet(start, addr(PEER), &datagram(101, 1, 0, &end.encode()));
        let events = events(&mut session);
        assert!(events
            .iter()
            .all(|e| !matches!(e, MediaEvent::DtmfReceived { .. })));
        assert_eq!(session.stats().packets_received, 1);
    }

    #[test]
    fn recording_failures_stop_the_recording_not_the_call() {
        struct Full;
        impl std::io::Write for Full {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("disk full"))
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        impl std::io::Seek for Full {
            fn seek(&mut self, _: std::io::SeekFrom) -> std::io::Result<u64> {
                Ok(0)
            }
        }
        let start = Instant::now();
        let mut session = MediaSession::new(config(None), Box::new(Silence), start);
        // hound writes the header up front, so a full disk shows at once.
        assert!(WavRecorder::from_writer(Full).is_err());

        let recorder = WavRecorder::from_writer(Cursor::new(Vec::new())).unwrap();
        session.record_to(recorder).unwrap();
        session.handle_packet(start, addr(PEER), &datagram(0, 1, 0, &[0xFF; 160]));
        session.stop_recording().unwrap();
        assert!(
            session.stop_recording().is_ok(),
            "stopping twice is harmless"
        );
    }

    #[test]
    fn received_audio_is_played_out_in_order_with_loss_concealed() {
        #[derive(Clone, Default)]
        struct Speaker(std::sync::Arc<std::sync::Mutex<Vec<i16>>>);
        impl AudioOutput for Speaker {
            fn play(&mut self, samples: &[i16]) {
                self.0.lock().unwrap().extend_from_slice(samples);
            }
        }
        let start = Instant::now();
        let mut session = MediaSession::new(config(None), Box::new(Silence), start);
        let speaker = Speaker::default();
        session.set_player(Some(Box::new(speaker.clone())));
        // µ-law 0x80 decodes to +32124, 0x00 to −32124. Packet 3 is lost, 5 and 6 come
        // swapped.
        let arrivals = [
            (1u16, 0x80u8),
            (2, 0x80),
            (4, 0x00),
            (6, 0x00),
            (5, 0x00),
            (7, 0x80),
            (8, 0x80),
        ];
        for (n, (sequence, byte)) in arrivals.into_iter().enumerate() {
            let now = start + ms(20 * n as u64);
            let timestamp = u32::from(sequence) * 160;
            session.handle_packet(
                now,
                addr(PEER),
                &datagram(0, sequence, timestamp, &[byte; 160]),
            );
            session.handle_timeout(now);
            assert!(session.poll_timeout().is_some_and(|t| t <= now + ms(20)));
        }
        session.handle_timeout(start + ms(400));
        let played = speaker.0.lock().unwrap().clone();
        // Played out at our pace: 10 ms frames, silence until the buffer is ready.
        assert_eq!(played.len() % 80, 0);
        // Runs of equal samples after the silence of the start.
        let mut runs: Vec<(i16, usize)> = Vec::new();
        for &s in played.iter().skip_while(|&&s| s == 0) {
            match runs.last_mut() {
                Some((v, n)) if *v == s => *n += 1,
                _ => runs.push((s, 1)),
            }
        }
        let long: Vec<(i16, usize)> = runs
            .into_iter()
            .filter(|&(v, n)| n >= 100 && v != 0)
            .collect();
        // Packets 1 and 2 and the concealment of 3 at full level (not silence), then 4, 5
        // and 6 in order, then 7 and 8.
        assert!(
            matches!(long[..], [(32_124, a), (-32_124, b), (32_124, c)]
            if a >= 360 && b >= 400 && c >= 300),
            "{long:?}"
        );
        let jitter = session.jitter_stats();
        assert_eq!(jitter.lost_samples, 160, "{jitter:?}");
        assert_eq!(session.stats().packets_late, 0);
    }

    fn arbitrary_rtp() -> impl Strategy<Value = Vec<u8>> {
        (
            any::<u8>(),
            prop_oneof![Just(0u8), Just(8), Just(101), any::<u8>()],
            any::<u16>(),
            prop_oneof![any::<u32>(), 0u32..2_000],
            prop_oneof![Just(0xCAFEu32), any::<u32>()],
            proptest::collection::vec(any::<u8>(), 0..400),
        )
            .prop_map(|(first, second, sequence, timestamp, ssrc, rest)| {
                // Version 2 most of the time, any flags and CSRC count.
                let mut bytes = vec![first & 0x3F | 0x80, second];
                bytes.extend_from_slice(&sequence.to_be_bytes());
                bytes.extend_from_slice(&timestamp.to_be_bytes());
                bytes.extend_from_slice(&ssrc.to_be_bytes());
                bytes.extend_from_slice(&rest);
                bytes
            })
    }

    proptest! {
        #[test]
        fn arbitrary_datagrams_never_panic(
            datagrams in proptest::collection::vec(
                (
                    prop_oneof![arbitrary_rtp(), proptest::collection::vec(any::<u8>(), 0..64)],
                    0usize..3,
                    0u64..100,
                ),
                0..60,
            ),
            direction in prop_oneof![
                Just(MediaDirection::SendRecv),
                Just(MediaDirection::SendOnly),
                Just(MediaDirection::RecvOnly),
                Just(MediaDirection::Inactive),
            ],
        ) {
            let start = Instant::now();
            let mut config = config(Some(101));
            config.direction = direction;
            let mut session = MediaSession::new(config, tone(), start);
            session.record_to(WavRecorder::from_writer(Cursor::new(Vec::new())).unwrap()).unwrap();
            let sources = [addr(PEER), addr(NATTED_PEER), addr("203.0.113.9:1")];
            let mut now = start;
            let count = datagrams.len() as u64;
            for (bytes, source, advance_ms) in datagrams {
                now += ms(advance_ms);
                session.handle_packet(now, sources[source], &bytes);
                while session.poll_event().is_some() {}
                while session.poll_transmit(now).is_some() {}
            }
            let stats = session.stats();
            prop_assert_eq!(
                stats.packets_received + stats.packets_malformed + stats.packets_ignored,
                count
            );
            prop_assert!(session.stop_recording().is_ok());
        }
    }
}
