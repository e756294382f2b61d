//! RTCP sender and receiver reports of one call (RFC 3550 §6.4), sans I/O: what we tell
//! the peer about what we sent and received, what it tells us, and the round-trip time.
//!
//! - Every report interval (5 s, randomised over 0.5–1.5 of it so that peers do not
//!   synchronise, §6.2 and §6.3.1; the first after half of it) a compound packet goes out:
//!   a sender report while we send, else a receiver report, each with a reception report
//!   block for the peer's source, then an SDES item with our CNAME (§6.1 requires it).
//! - From the peer's sender reports we keep the middle 32 bits of its NTP timestamp and
//!   when it came, for the LSR and DLSR of our next block; from its report blocks about us,
//!   the round-trip time A − LSR − DLSR (§6.4.1), A being our NTP time on arrival.
//! - Anything that does not parse is dropped and counted: RTCP is network input.

use std::time::{Duration, Instant, SystemTime};

use rtcp::packet::Packet;
use rtcp::receiver_report::ReceiverReport;
use rtcp::reception_report::ReceptionReport;
use rtcp::sender_report::SenderReport;
use rtcp::source_description::{
    SdesType, SourceDescription, SourceDescriptionChunk, SourceDescriptionItem,
};

/// The report interval for two participants (RFC 3550 §6.2: 5 s minimum).
pub const INTERVAL: Duration = Duration::from_secs(5);
/// Seconds from the NTP epoch (1900) to the Unix epoch (1970).
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

/// What we sent, for a sender report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    /// The RTP timestamp that corresponds to now.
    pub rtp_time: u32,
    pub packets: u32,
    pub octets: u32,
}

/// What we received from the peer's source, for a reception report block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    pub ssrc: u32,
    /// Extended highest sequence number received.
    pub highest: u32,
    pub expected: u64,
    pub received: u64,
    /// Interarrival jitter in timestamp units.
    pub jitter: u32,
}

/// The RTCP side of one call.
#[derive(Debug, Clone)]
pub struct Reports {
    ssrc: u32,
    cname: String,
    epoch: Instant,
    wallclock: SystemTime,
    next_at: Instant,
    /// The peer's last sender report: NTP middle 32 bits, and when it came.
    last_sr: Option<(u32, Instant)>,
    /// Expected and received at our last report, for the fraction lost since (§6.4.1).
    prior: (u64, u64),
    rtt: Option<Duration>,
    /// What the peer says of our stream: fraction lost (0..1) and jitter (timestamp units).
    peer_view: Option<(f64, u32)>,
    pub sent: u64,
    pub received: u64,
    pub malformed: u64,
}

impl Reports {
    /// Reports for our source `ssrc` named `cname`, starting at `now`, when the wall clock
    /// says `wallclock` (the NTP timestamps of our reports).
    pub fn new(ssrc: u32, cname: String, now: Instant, wallclock: SystemTime) -> Reports {
        Reports {
            ssrc,
            cname,
            epoch: now,
            wallclock,
            next_at: now + randomised(INTERVAL / 2),
            last_sr: None,
            prior: (0, 0),
            rtt: None,
            peer_view: None,
            sent: 0,
            received: 0,
            malformed: 0,
        }
    }

    /// When the next report is due.
    pub fn due(&self) -> Instant {
        self.next_at
    }

    /// Our NTP time at `now` (RFC 3550 §4: seconds since 1900 in 32.32 fixed point).
    fn ntp(&self, now: Instant) -> u64 {
        let since_unix = self
            .wallclock
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            + now.saturating_duration_since(self.epoch);
        let seconds = since_unix.as_secs() + NTP_UNIX_OFFSET;
        let fraction = (u64::from(since_unix.subsec_nanos()) << 32) / 1_000_000_000;
        (seconds << 32) | fraction
    }

    /// The compound packet due at `now`, and when the next one is.
    pub fn build(
        &mut self,
        now: Instant,
        sent: Option<Sent>,
        received: Option<Received>,
    ) -> Vec<u8> {
        self.next_at = now + randomised(INTERVAL);
        let block = received.map(|r| self.block(now, r));
        let reports: Vec<ReceptionReport> = block.into_iter().collect();
        let first: Box<dyn Packet + Send + Sync> = match sent {
            Some(s) => Box::new(SenderReport {
                ssrc: self.ssrc,
                ntp_time: self.ntp(now),
                rtp_time: s.rtp_time,
                packet_count: s.packets,
                octet_count: s.octets,
                reports,
                ..SenderReport::default()
            }),
            None => Box::new(ReceiverReport {
                ssrc: self.ssrc,
                reports,
                ..ReceiverReport::default()
            }),
        };
        let sdes: Box<dyn Packet + Send + Sync> = Box::new(SourceDescription {
            chunks: vec![SourceDescriptionChunk {
                source: self.ssrc,
                items: vec![SourceDescriptionItem {
                    sdes_type: SdesType::SdesCname,
                    text: self.cname.clone().into(),
                }],
            }],
        });
        self.sent += 1;
        // Only well-formed structures are built here: marshalling cannot fail.
        rtcp::packet::marshal(&[first, sdes])
            .map(|b| b.to_vec())
            .unwrap_or_default()
    }

    /// The report block about the peer's source (RFC 3550 §6.4.1, appendix A.3).
    fn block(&mut self, now: Instant, r: Received) -> ReceptionReport {
        let (prior_expected, prior_received) = self.prior;
        self.prior = (r.expected, r.received);
        let expected = r.expected.saturating_sub(prior_expected);
        let received = r.received.saturating_sub(prior_received);
        let lost = expected.saturating_sub(received);
        let fraction_lost = (lost * 256)
            .checked_div(expected)
            .map_or(0, |f| u8::try_from(f).unwrap_or(u8::MAX));
        let (last_sender_report, delay) = match self.last_sr {
            Some((lsr, at)) => {
                let dlsr = now.saturating_duration_since(at).as_secs_f64() * 65_536.0;
                (lsr, dlsr as u32)
            }
            None => (0, 0),
        };
        ReceptionReport {
            ssrc: r.ssrc,
            fraction_lost,
            // 24 bits, clamped (§6.4.1).
            total_lost: u32::try_from(r.expected.saturating_sub(r.received))
                .unwrap_or(u32::MAX)
                .min(0x7F_FFFF),
            last_sequence_number: r.highest,
            jitter: r.jitter,
            last_sender_report,
            delay,
        }
    }

    /// Takes a compound packet from the peer that arrived at `now`.
    pub fn handle(&mut self, now: Instant, bytes: &[u8]) {
        let mut buf = bytes;
        let Ok(packets) = rtcp::packet::unmarshal(&mut buf) else {
            self.malformed += 1;
            return;
        };
        self.received += 1;
        let arrival = (self.ntp(now) >> 16) as u32;
        for packet in &packets {
            let any = packet.as_any();
            let blocks = if let Some(sr) = any.downcast_ref::<SenderReport>() {
                self.last_sr = Some(((sr.ntp_time >> 16) as u32, now));
                &sr.reports
            } else if let Some(rr) = any.downcast_ref::<ReceiverReport>() {
                &rr.reports
            } else {
                continue;
            };
            for block in blocks.iter().filter(|b| b.ssrc == self.ssrc) {
                self.peer_view = Some((f64::from(block.fraction_lost) / 256.0, block.jitter));
                if block.last_sender_report == 0 {
                    continue;
                }
                let rtt = arrival
                    .wrapping_sub(block.last_sender_report)
                    .wrapping_sub(block.delay);
                // A "negative" RTT (clock steps, a bogus block) is ignored.
                if rtt < 1 << 31 {
                    self.rtt = Some(Duration::from_secs_f64(f64::from(rtt) / 65_536.0));
                }
            }
        }
    }

    /// The round-trip time from the last report block about us that allowed it.
    pub fn rtt(&self) -> Option<Duration> {
        self.rtt
    }

    /// What the peer last reported of our stream: fraction lost and jitter.
    pub fn peer_view(&self) -> Option<(f64, u32)> {
        self.peer_view
    }
}

/// `interval` times a random factor in 0.5..1.5 (RFC 3550 §6.3.1).
fn randomised(interval: Duration) -> Duration {
    interval.mul_f64(rand::random_range(0.5..1.5))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const A: u32 = 0xAAAA_0001;
    const B: u32 = 0xBBBB_0002;

    fn received(ssrc: u32, expected: u64, got: u64) -> Option<Received> {
        Some(Received {
            ssrc,
            highest: 1_000 + expected as u32,
            expected,
            received: got,
            jitter: 12,
        })
    }

    #[test]
    fn the_round_trip_time_comes_from_the_peers_block_about_us() {
        let t0 = Instant::now();
        let wall = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let mut a = Reports::new(A, "a@parley".into(), t0, wall);
        // B's clock is a quarter of an hour off: RTT needs none of it.
        let mut b = Reports::new(B, "b@peer".into(), t0, wall + Duration::from_secs(900));
        let one_way = Duration::from_millis(40);
        let sent = Some(Sent {
            rtp_time: 8_000,
            packets: 50,
            octets: 8_600,
        });
        // A sends an SR; it reaches B 40 ms later; B answers 1 s after that.
        let sr = a.build(t0, sent, received(B, 50, 50));
        b.handle(t0 + one_way, &sr);
        let rr = b.build(
            t0 + one_way + Duration::from_secs(1),
            None,
            received(A, 50, 45),
        );
        a.handle(t0 + 2 * one_way + Duration::from_secs(1), &rr);
        let rtt = a.rtt().expect("an RTT");
        assert!(
            rtt.abs_diff(2 * one_way) < Duration::from_millis(1),
            "{rtt:?}"
        );
        // B lost 5 of 50 of ours: 25/256.
        let (fraction, jitter) = a.peer_view().unwrap();
        assert!((fraction - 25.0 / 256.0).abs() < 1e-9, "{fraction}");
        assert_eq!(jitter, 12);
        assert_eq!(b.rtt(), None, "B has no SR from A's reply yet");
        assert_eq!((a.sent, a.received, b.sent, b.received), (1, 1, 1, 1));
    }

    #[test]
    fn reports_come_every_five_seconds_give_or_take_half() {
        let t0 = Instant::now();
        let mut r = Reports::new(A, "a".into(), t0, SystemTime::now());
        assert!(
            (t0 + Duration::from_millis(1_250)..=t0 + Duration::from_millis(3_750))
                .contains(&r.due())
        );
        let now = r.due();
        r.build(now, None, None);
        assert!(
            (now + Duration::from_millis(2_500)..=now + Duration::from_millis(7_500))
                .contains(&r.due())
        );
    }

    proptest! {
        /// RTCP is network input: whatever comes, nothing panics.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            let t0 = Instant::now();
            let mut r = Reports::new(A, "a".into(), t0, SystemTime::now());
            r.handle(t0, &bytes);
            // A valid header on random content, too.
            let mut framed = vec![0x81, 201, 0, (bytes.len() / 4) as u8];
            framed.extend_from_slice(&bytes);
            r.handle(t0, &framed);
            prop_assert_eq!(r.received + r.malformed, 2);
        }
    }
}
