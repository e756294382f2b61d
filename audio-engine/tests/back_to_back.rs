//! Two media sessions wired back to back through a simulated network, in
//! simulated time: what one sends, the other must hear and record.

use std::io::{Cursor, Seek, SeekFrom, Write};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use audio_engine::analysis::{dominant_frequency, rms};
use audio_engine::source::Tone;
use audio_engine::srtp::{SrtpKeys, Suite};
use audio_engine::{
    AudioSource, Codec, DtmfDigit, MediaConfig, MediaDirection, MediaEvent, MediaFormat,
    MediaSession, WavRecorder,
};
use proptest::prelude::*;

/// One-way delay of the simulated network.
const LATENCY: Duration = Duration::from_millis(10);
/// Step of the simulated clock.
const TICK: Duration = Duration::from_millis(1);

/// A recording in memory that the test can still read after the recorder
/// has taken its writer.
#[derive(Clone, Default)]
struct SharedBuffer(Arc<Mutex<Cursor<Vec<u8>>>>);

impl Write for SharedBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Seek for SharedBuffer {
    fn seek(&mut self, pos: SeekFrom) -> std::io::Result<u64> {
        self.0.lock().unwrap().seek(pos)
    }
}

impl SharedBuffer {
    fn samples(&self) -> Vec<i16> {
        let bytes = self.0.lock().unwrap().get_ref().clone();
        let mut reader = hound::WavReader::new(Cursor::new(bytes)).unwrap();
        assert_eq!(reader.spec().sample_rate, 8_000);
        reader.samples::<i16>().map(Result::unwrap).collect()
    }
}

/// A source of one constant value, so that every sample recorded can be
/// told apart from silence.
struct Constant(i16);

impl AudioSource for Constant {
    fn fill(&mut self, out: &mut [i16]) {
        out.fill(self.0);
    }
}

struct Peer {
    session: MediaSession,
    /// Where its packets come from.
    addr: SocketAddr,
    recording: SharedBuffer,
    events: Vec<MediaEvent>,
    /// Datagrams it has sent so far.
    sent: u64,
}

impl Peer {
    /// A peer at `addr` that believes, from SDP, its peer to be at `remote`.
    fn new(
        addr: &str,
        remote: &str,
        codec: Codec,
        source: Box<dyn AudioSource + Send>,
        start: Instant,
    ) -> Self {
        let format = MediaFormat::new(codec, codec.static_payload_type(), Some(101), 20).unwrap();
        let config = MediaConfig::new(format, remote.parse().unwrap(), MediaDirection::SendRecv);
        let mut session = MediaSession::new(config, source, start);
        let recording = SharedBuffer::default();
        session
            .record_to(WavRecorder::from_writer(recording.clone()).unwrap())
            .unwrap();
        Self {
            session,
            addr: addr.parse().unwrap(),
            recording,
            events: Vec::new(),
            sent: 0,
        }
    }

    fn digits(&self) -> Vec<(char, u32)> {
        self.events
            .iter()
            .filter_map(|event| match event {
                MediaEvent::DtmfReceived { digit, duration_ms } => {
                    Some((digit.as_char(), *duration_ms))
                }
                _ => None,
            })
            .collect()
    }
}

/// What the network does to one datagram.
#[derive(Debug, Clone, Copy)]
enum Fate {
    Deliver,
    Lose,
    Duplicate,
    /// Delivered this much later than the others.
    Delay(Duration),
}

struct InFlight {
    deliver_at: Instant,
    to: usize,
    from: SocketAddr,
    bytes: Vec<u8>,
    /// An RTCP datagram (to the peer's port + 1).
    rtcp: bool,
}

/// The RTCP address that goes with an RTP address (RFC 3550 §11).
fn rtcp_of(rtp: SocketAddr) -> SocketAddr {
    SocketAddr::new(rtp.ip(), rtp.port() + 1)
}

/// Two peers and the datagrams between them.
struct Network {
    peers: [Peer; 2],
    in_flight: Vec<InFlight>,
    now: Instant,
}

impl Network {
    /// Runs the clock for `duration`; `fate` decides what happens to the
    /// n-th datagram sent by peer i.
    fn run(&mut self, duration: Duration, fate: &mut impl FnMut(usize, u64) -> Fate) {
        let end = self.now + duration;
        while self.now < end {
            self.now += TICK;
            let now = self.now;
            for from in 0..2 {
                self.peers[from].session.handle_timeout(now);
                while let Some((to_addr, bytes)) = self.peers[from].session.poll_transmit(now) {
                    let n = self.peers[from].sent;
                    self.peers[from].sent += 1;
                    // Datagrams to an address where no peer is are lost.
                    let Some(to) = self.peers.iter().position(|peer| peer.addr == to_addr) else {
                        continue;
                    };
                    let delays: &[Duration] = match fate(from, n) {
                        Fate::Deliver => &[Duration::ZERO],
                        Fate::Lose => &[],
                        Fate::Duplicate => &[Duration::ZERO, Duration::ZERO],
                        Fate::Delay(delay) => &[delay],
                    };
                    for delay in delays {
                        self.in_flight.push(InFlight {
                            deliver_at: now + LATENCY + *delay,
                            to,
                            from: self.peers[from].addr,
                            bytes: bytes.clone(),
                            rtcp: false,
                        });
                    }
                }
                // RTCP is never impaired here: it only measures.
                while let Some((to_addr, bytes)) = self.peers[from].session.poll_transmit_rtcp(now)
                {
                    if let Some(to) = self.peers.iter().position(|p| rtcp_of(p.addr) == to_addr) {
                        self.in_flight.push(InFlight {
                            deliver_at: now + LATENCY,
                            to,
                            from: rtcp_of(self.peers[from].addr),
                            bytes,
                            rtcp: true,
                        });
                    }
                }
            }
            let (due, later) = std::mem::take(&mut self.in_flight)
                .into_iter()
                .partition(|datagram| datagram.deliver_at <= now);
            self.in_flight = later;
            for datagram in due {
                let peer = &mut self.peers[datagram.to];
                if datagram.rtcp {
                    peer.session
                        .handle_rtcp(now, datagram.from, &datagram.bytes);
                } else {
                    peer.session
                        .handle_packet(now, datagram.from, &datagram.bytes);
                }
            }
            for peer in &mut self.peers {
                peer.events
                    .extend(std::iter::from_fn(|| peer.session.poll_event()));
            }
        }
    }

    /// Stops sending, lets the network drain and ends the recordings.
    fn finish(&mut self) {
        for peer in &mut self.peers {
            peer.session.set_direction(MediaDirection::RecvOnly);
        }
        self.run(Duration::from_millis(300), &mut |_, _| Fate::Deliver);
        for peer in &mut self.peers {
            peer.session.stop_recording().unwrap();
        }
    }
}

const A: &str = "10.0.0.1:4000";
const B: &str = "10.0.0.2:5000";
/// A's address in its own SDP: private, behind a NAT that B cannot reach.
const A_PRIVATE: &str = "192.168.1.20:4000";

fn network(codec: Codec, source_a: Box<dyn AudioSource + Send>) -> Network {
    let start = Instant::now();
    let b_source = Box::new(Tone::new(440.0, Tone::DEFAULT_AMPLITUDE).unwrap());
    Network {
        peers: [
            Peer::new(A, B, codec, source_a, start),
            Peer::new(B, A_PRIVATE, codec, b_source, start),
        ],
        in_flight: Vec::new(),
        now: start,
    }
}

/// SRTP keys as SDES would give A (`local` first) and B, the other way round.
fn keys(suite: Suite, a: u8, b: u8) -> (SrtpKeys, SrtpKeys) {
    (
        SrtpKeys {
            suite,
            local: [a; 30],
            remote: [b; 30],
        },
        SrtpKeys {
            suite,
            local: [b; 30],
            remote: [a; 30],
        },
    )
}

fn tone_1000() -> Box<dyn AudioSource + Send> {
    Box::new(Tone::new(1_000.0, Tone::DEFAULT_AMPLITUDE).unwrap())
}

fn digit(c: char) -> DtmfDigit {
    DtmfDigit::try_from(c).unwrap()
}

#[test]
fn tones_and_digits_cross_a_clean_link() {
    for codec in [Codec::Pcmu, Codec::Pcma] {
        let mut net = network(codec, tone_1000());
        let deliver = &mut |_, _| Fate::Deliver;
        net.run(Duration::from_millis(1_000), deliver);
        net.peers[0].session.send_dtmf(digit('5')).unwrap();
        net.peers[0].session.send_dtmf(digit('#')).unwrap();
        net.run(Duration::from_millis(2_000), deliver);
        net.finish();
        let [a, b] = &net.peers;

        // B hears A's tone, A hears B's once B has latched onto A's real address.
        let heard_by_b = b.recording.samples();
        let heard_by_a = a.recording.samples();
        let freq = dominant_frequency(&heard_by_b, 8_000).unwrap();
        assert!((freq - 1_000.0).abs() < 5.0, "{codec:?}: B heard {freq} Hz");
        let freq = dominant_frequency(&heard_by_a, 8_000).unwrap();
        assert!((freq - 440.0).abs() < 5.0, "{codec:?}: A heard {freq} Hz");
        let expected_rms = f32::from(Tone::DEFAULT_AMPLITUDE) / 32_768.0 / 2f32.sqrt();
        let level = rms(&heard_by_b[..8_000]);
        assert!(
            (level - expected_rms).abs() < 0.01,
            "{codec:?}: level {level}"
        );
        // Played out from the first packet to the end: three seconds and the 300 ms
        // of draining, less the first packets (and B's that went to A's private address).
        assert!(
            (24_500..=26_400).contains(&heard_by_b.len()),
            "{}",
            heard_by_b.len()
        );
        assert!(
            (24_500..=26_400).contains(&heard_by_a.len()),
            "{}",
            heard_by_a.len()
        );
        for peer in [a, b] {
            let jitter = peer.session.jitter_stats();
            assert_eq!(jitter.lost_samples + jitter.late, 0, "{jitter:?}");
            // A clean link: the buffer holds a packet and a little more, well below 45 ms.
            assert!(jitter.mean_delay_ms() < 35.0, "{jitter:?}");
        }

        // Each digit exactly once, with its duration; none the other way.
        assert_eq!(b.digits(), [('5', 100), ('#', 100)], "{codec:?}");
        assert_eq!(a.digits(), []);

        assert!(matches!(b.events[..2], [
            MediaEvent::FirstPacketReceived,
            MediaEvent::RemoteLatched { addr },
        ] if addr == a.addr));
        assert!(matches!(a.events[..2], [
            MediaEvent::FirstPacketReceived,
            MediaEvent::RemoteLatched { addr },
        ] if addr == b.addr));
        for peer in [a, b] {
            let stats = peer.session.stats();
            assert_eq!(stats.packets_lost, 0);
            assert_eq!(stats.packets_late, 0);
            assert_eq!(stats.packets_malformed + stats.packets_ignored, 0);
            assert_eq!(stats.packets_sent, peer.sent);
        }
        assert_eq!(b.session.stats().packets_received, a.sent);
    }
}

/// SRTP both ways: the tone and the reports cross in the clear only for the two peers; a
/// peer with the wrong key hears nothing and counts every packet as unauthenticated.
#[test]
fn srtp_carries_audio_and_reports_and_refuses_a_wrong_key() {
    let mut net = network(Codec::Pcmu, tone_1000());
    let (a, b) = keys(Suite::AesCm128HmacSha1_80, 0x11, 0x22);
    net.peers[0].session.set_srtp(Some(a));
    net.peers[1].session.set_srtp(Some(b));
    net.run(Duration::from_secs(16), &mut |_, _| Fate::Deliver);
    let heard = net.peers[1].recording.samples();
    let freq = dominant_frequency(&heard, 8_000).unwrap();
    assert!((freq - 1_000.0).abs() < 5.0, "{freq}");
    for peer in &net.peers {
        assert!(peer.session.is_secure());
        assert_eq!(peer.session.stats().packets_unauthenticated, 0);
        assert!(
            peer.events
                .iter()
                .any(|e| matches!(e, MediaEvent::Quality(q) if q.rtt_ms.is_some())),
            "SRTCP reports went through"
        );
    }

    let mut net = network(Codec::Pcmu, tone_1000());
    let (a, _) = keys(Suite::AesCm128HmacSha1_32, 0x11, 0x22);
    let (_, wrong) = keys(Suite::AesCm128HmacSha1_32, 0x44, 0x22);
    net.peers[0].session.set_srtp(Some(a));
    net.peers[1].session.set_srtp(Some(wrong));
    net.run(Duration::from_secs(1), &mut |_, _| Fate::Deliver);
    let b = &net.peers[1];
    assert!(b.session.stats().packets_unauthenticated >= 40);
    assert_eq!(b.session.stats().packets_received, 0);
    assert!(b
        .events
        .iter()
        .all(|e| !matches!(e, MediaEvent::RemoteLatched { .. })));
}

/// RTCP reports cross the link both ways (the NATed peer's latched too), and each side
/// measures the round trip: twice the link's 10 ms.
#[test]
fn reports_measure_the_round_trip_both_ways() {
    let mut net = network(Codec::Pcmu, tone_1000());
    net.run(Duration::from_secs(16), &mut |_, _| Fate::Deliver);
    for peer in &net.peers {
        let quality = peer
            .events
            .iter()
            .rev()
            .find_map(|e| match e {
                MediaEvent::Quality(q) => Some(*q),
                _ => None,
            })
            .expect("quality reports");
        let rtt = quality.rtt_ms.expect("an RTT");
        assert!((19.0..=22.0).contains(&rtt), "{rtt}");
        assert!(quality.mos > 4.3, "{quality:?}");
    }
}

#[test]
fn lost_packets_are_concealed_and_disorder_is_undone() {
    let mut net = network(Codec::Pcmu, Box::new(Constant(4_000)));
    let fate = &mut |from, n| match (from, n) {
        (0, 20..=24) => Fate::Lose,
        (0, 40) => Fate::Delay(Duration::from_millis(45)),
        (0, 60) => Fate::Duplicate,
        _ => Fate::Deliver,
    };
    net.run(Duration::from_millis(1_500), fate);
    let sent = net.peers[0].sent;
    net.finish();

    let heard = net.peers[1].recording.samples();
    let start = heard.iter().position(|&s| s != 0).expect("audio");
    let level = heard[start];
    assert!((level - 4_000).abs() < 128, "{level}");
    // Everything sent is heard but the lost 100 ms and perhaps the delayed packet,
    // concealed (at full level for 10 ms, fading, silent from 60 ms on), less the few
    // samples of the cross-fades and of the periods taken out to keep the delay low.
    let at_level = heard.iter().filter(|&&s| s == level).count() as u64;
    assert!(at_level >= (sent - 7) * 160, "{at_level} of {}", sent * 160);
    // Between the first and the last sound (the stream's end fades to silence).
    let end = heard.iter().rposition(|&s| s != 0).unwrap_or(start);
    let longest_silence = heard[start..end]
        .split(|&s| s != 0)
        .map(<[i16]>::len)
        .max()
        .unwrap_or(0);
    assert!((1..=400).contains(&longest_silence), "{longest_silence}");
    let stats = net.peers[1].session.stats();
    // Five lost, but the duplicate hides one, as in RFC 3550 §6.4.1.
    assert_eq!(stats.packets_lost, 4);
    // The duplicate is dropped; the packet 45 ms late comes after its turn, unless the
    // buffer was deep enough for it.
    assert!((1..=2).contains(&stats.packets_late), "{stats:?}");
    assert_eq!(stats.packets_received, sent - 5 + 1);
    let jitter = net.peers[1].session.jitter_stats();
    assert!(jitter.lost_samples >= 5 * 160, "{jitter:?}");
}

fn fates() -> impl Strategy<Value = Vec<Fate>> {
    let fate = prop_oneof![
        6 => Just(Fate::Deliver),
        1 => Just(Fate::Lose),
        1 => Just(Fate::Duplicate),
        1 => (1u64..120).prop_map(|ms| Fate::Delay(Duration::from_millis(ms))),
    ];
    proptest::collection::vec(fate, 1..64)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn an_impaired_link_degrades_gracefully(fates in fates()) {
        let mut net = network(Codec::Pcma, tone_1000());
        let mut fate = |_, n: u64| fates[(n % fates.len() as u64) as usize];
        net.run(Duration::from_millis(500), &mut fate);
        net.peers[0].session.send_dtmf(digit('7')).unwrap();
        net.run(Duration::from_millis(1_000), &mut fate);
        let sent = net.peers[0].sent;
        net.finish();

        let b = &net.peers[1];
        let heard = b.recording.samples();
        // Played out at the pace of the clock (1.5 s of call, 0.3 s of draining): late
        // and duplicate packets never add audio.
        prop_assert!(heard.len() <= 1_800 * 8, "{}", heard.len());
        prop_assert!(sent > 0);
        let digits = b.digits();
        prop_assert!(digits.len() <= 1, "{:?}", digits);
        if let Some(&(digit, duration_ms)) = digits.first() {
            prop_assert_eq!(digit, '7');
            prop_assert!((20..=100).contains(&duration_ms), "{}", duration_ms);
        }
        let stats = b.session.stats();
        prop_assert!(stats.packets_received <= 2 * sent);
    }
}
