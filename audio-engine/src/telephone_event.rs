//! DTMF as RTP telephone events (RFC 4733).
//!
//! A digit is carried by a series of 4-byte event packets that all share the
//! RTP timestamp of the start of the tone; the duration field grows with each
//! update, and the last packet, sent three times, has the end bit set.

use std::collections::VecDeque;
use std::fmt;
use std::num::NonZeroU16;

/// Errors of this module.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TelephoneEventError {
    /// A telephone-event payload is shorter than its 4 bytes.
    #[error("telephone-event payload of {0} bytes, expected 4")]
    TooShort(usize),
    /// A character is not one of the sixteen DTMF digits.
    #[error("{0:?} is not a DTMF digit (0-9, *, #, A-D)")]
    InvalidDigit(char),
}

/// One of the sixteen DTMF digits, `0`-`9`, `*`, `#` and `A`-`D`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DtmfDigit(u8);

impl DtmfDigit {
    /// The digits in event-code order (RFC 4733 §3.2, table 7).
    const CHARS: [char; 16] = [
        '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '#', 'A', 'B', 'C', 'D',
    ];

    /// The digit of a telephone event code, if the code is a DTMF one (0-15).
    pub fn from_event(code: u8) -> Option<Self> {
        (usize::from(code) < Self::CHARS.len()).then_some(Self(code))
    }

    /// The telephone event code (RFC 4733 §3.2).
    pub fn event(self) -> u8 {
        self.0
    }

    /// The digit as a character; letters are upper case.
    pub fn as_char(self) -> char {
        Self::CHARS[usize::from(self.0)]
    }
}

impl TryFrom<char> for DtmfDigit {
    type Error = TelephoneEventError;

    /// Accepts `0`-`9`, `*`, `#` and `A`-`D` in either case.
    fn try_from(c: char) -> Result<Self, Self::Error> {
        let upper = c.to_ascii_uppercase();
        Self::CHARS
            .iter()
            .position(|&digit| digit == upper)
            // `position` is below 16, so it fits in a u8.
            .map(|code| Self(code as u8))
            .ok_or(TelephoneEventError::InvalidDigit(c))
    }
}

impl fmt::Display for DtmfDigit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.as_char())
    }
}

/// The payload of a telephone-event packet (RFC 4733 §2.3).
///
/// ```text
///  0                   1                   2                   3
///  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// |     event     |E|R| volume    |          duration             |
/// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// Event code (§2.3.1); 0-15 are the DTMF digits.
    pub event: u8,
    /// E bit: this packet ends the event (§2.3.2).
    pub end: bool,
    /// Power level in −dBm0, 0-63 (§2.3.4); larger values are sent as 63.
    pub volume: u8,
    /// Duration so far in RTP timestamp units, from the packet's timestamp (§2.3.5).
    pub duration: u16,
}

impl TelephoneEvent {
    /// Size of the payload in bytes.
    pub const LEN: usize = 4;

    /// Serialises the payload; the reserved R bit is sent as zero (§2.3.3).
    pub fn encode(&self) -> [u8; Self::LEN] {
        let end = if self.end { 0x80 } else { 0 };
        let [duration_high, duration_low] = self.duration.to_be_bytes();
        [
            self.event,
            end | self.volume.min(63),
            duration_high,
            duration_low,
        ]
    }

    /// Parses the first event of a payload; the R bit is ignored (§2.3.3).
    pub fn decode(payload: &[u8]) -> Result<Self, TelephoneEventError> {
        let &[event, flags, duration_high, duration_low, ..] = payload else {
            return Err(TelephoneEventError::TooShort(payload.len()));
        };
        Ok(Self {
            event,
            end: flags & 0x80 != 0,
            volume: flags & 0x3F,
            duration: u16::from_be_bytes([duration_high, duration_low]),
        })
    }
}

/// One telephone-event packet to send: its payload and RTP header fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfPacket {
    /// RTP marker bit: set on the first packet of the event (RFC 4733 §2.5.1.2).
    pub marker: bool,
    /// RTP timestamp: the start of the event, the same in every packet (§2.5.1.2).
    pub timestamp: u32,
    /// The payload.
    pub event: TelephoneEvent,
}

/// The packets of one digit, one per packetisation interval (RFC 4733 §2.5.1).
///
/// The first packet has the marker bit; every interval an update follows whose
/// duration has grown by the interval; once the duration reaches the tone
/// length, the final packet with the E bit is sent three times (§2.5.1.4).
#[derive(Debug, Clone)]
pub struct DtmfSender {
    digit: DtmfDigit,
    timestamp: u32,
    tone: u16,
    interval: NonZeroU16,
    /// Duration of the next packet.
    duration: u16,
    /// End packets still to send, once the duration has reached `tone`.
    ends_left: u8,
    /// Whether the first packet, the one with the marker bit, is out.
    started: bool,
}

impl DtmfSender {
    /// Tone length of a digit: 100 ms, comfortably above the 40 ms minimum
    /// that ITU-T Q.24 receivers need.
    pub const DEFAULT_TONE_MS: u16 = 100;

    /// Power level of generated digits, −10 dBm0.
    pub const VOLUME: u8 = 10;

    /// Number of times the final packet is sent (RFC 4733 §2.5.1.4).
    const END_PACKETS: u8 = 3;

    /// The packets of `digit` starting at RTP `timestamp`, lasting `tone`
    /// timestamp units, with an update every `interval` units.
    pub fn new(digit: DtmfDigit, timestamp: u32, tone: u16, interval: NonZeroU16) -> Self {
        Self {
            digit,
            timestamp,
            tone,
            interval,
            duration: interval.get().min(tone),
            ends_left: Self::END_PACKETS,
            started: false,
        }
    }

    /// The digit being sent.
    pub fn digit(&self) -> DtmfDigit {
        self.digit
    }
}

impl Iterator for DtmfSender {
    type Item = DtmfPacket;

    fn next(&mut self) -> Option<DtmfPacket> {
        let end = self.duration >= self.tone;
        if end {
            self.ends_left = self.ends_left.checked_sub(1)?;
        }
        let packet = DtmfPacket {
            marker: !self.started,
            timestamp: self.timestamp,
            event: TelephoneEvent {
                event: self.digit.event(),
                end,
                volume: Self::VOLUME,
                duration: self.duration,
            },
        };
        self.started = true;
        self.duration = self
            .duration
            .saturating_add(self.interval.get())
            .min(self.tone);
        Some(packet)
    }
}

/// A digit received, with its duration in RTP timestamp units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceivedDigit {
    /// The digit.
    pub digit: DtmfDigit,
    /// Duration in RTP timestamp units.
    pub duration: u16,
}

/// Turns received telephone events into digits, each reported exactly once.
///
/// Events are told apart by their RTP timestamp (RFC 4733 §2.5.2). A digit is
/// reported when its event ends, not when it starts: only then is its duration
/// known, and the E bit arrives three times (§2.5.1.4), which makes the end
/// the most robust moment. An event whose end packets were all lost is
/// reported when a newer event starts, or when audio resumes clearly after it
/// ([`handle_audio`](Self::handle_audio)), with the last duration seen. Lost
/// start packets do not matter: any packet with a new timestamp starts an event.
#[derive(Debug, Clone)]
pub struct DtmfReceiver {
    /// The newest event seen, reported or not.
    current: Option<Event>,
    /// Audio this far past the known end of an event means the event is over.
    audio_margin: u32,
    digits: VecDeque<ReceivedDigit>,
}

#[derive(Debug, Clone, Copy)]
struct Event {
    timestamp: u32,
    digit: DtmfDigit,
    duration: u16,
    reported: bool,
}

impl DtmfReceiver {
    /// A receiver for events with a `clock_rate` Hz RTP clock.
    pub fn new(clock_rate: u32) -> Self {
        Self {
            current: None,
            // Three 20 ms intervals: beyond the lag of the updates and the
            // retransmitted end packets of a sender that sends audio alongside.
            audio_margin: clock_rate / 1_000 * 60,
            digits: VecDeque::new(),
        }
    }

    /// Takes a telephone-event packet with RTP timestamp `timestamp`.
    ///
    /// Events other than the sixteen DTMF digits are ignored.
    pub fn handle_event(&mut self, timestamp: u32, event: &TelephoneEvent) {
        let Some(digit) = DtmfDigit::from_event(event.event) else {
            return;
        };
        match &mut self.current {
            Some(current) if current.timestamp == timestamp => {
                if current.reported {
                    return;
                }
                current.duration = current.duration.max(event.duration);
            }
            // An older event, reordered or retransmitted late: long done.
            Some(current) if is_before(timestamp, current.timestamp) => return,
            _ => {
                self.flush();
                self.current = Some(Event {
                    timestamp,
                    digit,
                    duration: event.duration,
                    reported: false,
                });
            }
        }
        if event.end {
            self.flush();
        }
    }

    /// Takes note of an audio packet with RTP timestamp `timestamp`: audio
    /// well after the end of an unfinished event ends it.
    pub fn handle_audio(&mut self, timestamp: u32) {
        if let Some(current) = &self.current {
            let event_end = current
                .timestamp
                .wrapping_add(u32::from(current.duration))
                .wrapping_add(self.audio_margin);
            if !is_before(timestamp, event_end) {
                self.flush();
            }
        }
    }

    /// The next digit received, if any.
    pub fn poll_digit(&mut self) -> Option<ReceivedDigit> {
        self.digits.pop_front()
    }

    /// Reports the current event unless it has been already.
    fn flush(&mut self) {
        if let Some(current) = &mut self.current {
            if !current.reported {
                current.reported = true;
                self.digits.push_back(ReceivedDigit {
                    digit: current.digit,
                    duration: current.duration,
                });
            }
        }
    }
}

/// Whether RTP timestamp `a` comes before `b`, in serial number arithmetic
/// (modulo 2^32, as for RTP timestamps, RFC 3550 §5.1).
fn is_before(a: u32, b: u32) -> bool {
    a.wrapping_sub(b).cast_signed() < 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn digit(c: char) -> DtmfDigit {
        DtmfDigit::try_from(c).unwrap()
    }

    fn interval(samples: u16) -> NonZeroU16 {
        NonZeroU16::new(samples).unwrap()
    }

    #[test]
    fn digits_map_to_event_codes() {
        let all: String = (0..16)
            .map(|code| DtmfDigit::from_event(code).unwrap().as_char())
            .collect();
        assert_eq!(all, "0123456789*#ABCD");
        assert_eq!(digit('#').event(), 11);
        assert_eq!(digit('d').event(), 15);
        assert_eq!(digit('7').to_string(), "7");
        assert_eq!(DtmfDigit::from_event(16), None);
        assert_eq!(
            DtmfDigit::try_from('e'),
            Err(TelephoneEventError::InvalidDigit('e'))
        );
    }

    #[test]
    fn payload_layout() {
        let event = TelephoneEvent {
            event: 11,
            end: true,
            volume: 10,
            duration: 0x0320,
        };
        assert_eq!(event.encode(), [11, 0x8A, 0x03, 0x20]);
        assert_eq!(
            TelephoneEvent::decode(&[11, 0xCA, 0x03, 0x20, 0xFF]),
            Ok(event)
        );
        assert_eq!(
            TelephoneEvent::decode(&[1, 2, 3]),
            Err(TelephoneEventError::TooShort(3))
        );
        let loud = TelephoneEvent {
            volume: 200,
            ..event
        };
        assert_eq!(loud.encode()[1], 0x80 | 63);
    }

    #[test]
    fn sender_sends_updates_then_three_ends() {
        let packets: Vec<_> = DtmfSender::new(digit('5'), 1234, 800, interval(160)).collect();
        let durations: Vec<_> = packets.iter().map(|p| p.event.duration).collect();
        let ends: Vec<_> = packets.iter().map(|p| p.event.end).collect();
        let markers: Vec<_> = packets.iter().map(|p| p.marker).collect();
        assert_eq!(durations, [160, 320, 480, 640, 800, 800, 800]);
        assert_eq!(ends, [false, false, false, false, true, true, true]);
        assert_eq!(markers, [true, false, false, false, false, false, false]);
        assert!(packets
            .iter()
            .all(|p| p.timestamp == 1234 && p.event.event == 5));
    }

    #[test]
    fn sender_handles_tones_shorter_than_an_interval() {
        let packets: Vec<_> = DtmfSender::new(digit('1'), 0, 100, interval(160)).collect();
        assert_eq!(packets.len(), 3);
        assert!(packets[0].marker && !packets[1].marker && !packets[2].marker);
        assert!(packets
            .iter()
            .all(|p| p.event.end && p.event.duration == 100));

        let packets: Vec<_> = DtmfSender::new(digit('1'), 0, 0, interval(160)).collect();
        assert_eq!(packets.len(), 3);
        assert!(packets[0].marker);
    }

    fn receive(
        receiver: &mut DtmfReceiver,
        packets: impl IntoIterator<Item = DtmfPacket>,
    ) -> Vec<ReceivedDigit> {
        for packet in packets {
            receiver.handle_event(packet.timestamp, &packet.event);
        }
        std::iter::from_fn(|| receiver.poll_digit()).collect()
    }

    #[test]
    fn receiver_reports_each_digit_once_at_its_end() {
        let mut receiver = DtmfReceiver::new(8_000);
        let packets: Vec<_> = DtmfSender::new(digit('9'), 5000, 800, interval(160)).collect();
        assert_eq!(receive(&mut receiver, packets[..4].iter().copied()), []);
        let digits = receive(&mut receiver, packets[4..].iter().copied());
        assert_eq!(
            digits,
            [ReceivedDigit {
                digit: digit('9'),
                duration: 800
            }]
        );
        // Late duplicates of the whole event change nothing.
        assert_eq!(receive(&mut receiver, packets), []);
    }

    #[test]
    fn receiver_tolerates_lost_start_and_lost_ends() {
        let mut receiver = DtmfReceiver::new(8_000);
        let first: Vec<_> = DtmfSender::new(digit('1'), 0, 800, interval(160)).collect();
        let second: Vec<_> = DtmfSender::new(digit('2'), 2000, 800, interval(160)).collect();
        // No start packet of the first digit and none of its ends.
        let digits = receive(&mut receiver, first[1..4].iter().copied());
        assert_eq!(digits, []);
        // The second digit, only its last end packet, reports the first one too.
        let digits = receive(&mut receiver, second[6..].iter().copied());
        assert_eq!(
            digits,
            [
                ReceivedDigit {
                    digit: digit('1'),
                    duration: 640
                },
                ReceivedDigit {
                    digit: digit('2'),
                    duration: 800
                },
            ]
        );
        // The late ends of the first digit are old news.
        assert_eq!(receive(&mut receiver, first[4..].iter().copied()), []);
    }

    #[test]
    fn audio_after_an_unfinished_event_ends_it() {
        let mut receiver = DtmfReceiver::new(8_000);
        let packets: Vec<_> =
            DtmfSender::new(digit('A'), u32::MAX - 100, 800, interval(160)).collect();
        receive(&mut receiver, packets[..3].iter().copied());
        // Audio inside the event and its margin does not end it.
        receiver.handle_audio((u32::MAX - 100).wrapping_add(480 + 400));
        assert_eq!(receiver.poll_digit(), None);
        receiver.handle_audio((u32::MAX - 100).wrapping_add(480 + 480));
        assert_eq!(
            receiver.poll_digit(),
            Some(ReceivedDigit {
                digit: digit('A'),
                duration: 480
            })
        );
        assert_eq!(receive(&mut receiver, packets[3..].iter().copied()), []);
    }

    #[test]
    fn non_dtmf_events_are_ignored() {
        let mut receiver = DtmfReceiver::new(8_000);
        let flash = TelephoneEvent {
            event: 16,
            end: true,
            volume: 10,
            duration: 800,
        };
        receiver.handle_event(0, &flash);
        assert_eq!(receiver.poll_digit(), None);
    }

    proptest! {
        #[test]
        fn payload_round_trip(event in any::<u8>(), end: bool, volume in 0u8..64, duration: u16) {
            let payload = TelephoneEvent { event, end, volume, duration };
            prop_assert_eq!(TelephoneEvent::decode(&payload.encode()), Ok(payload));
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..8)) {
            let _ = TelephoneEvent::decode(&bytes);
        }

        #[test]
        fn any_packet_stream_reports_a_digit_at_most_once_per_timestamp(
            packets in proptest::collection::vec((0u32..4, 0u8..20, any::<bool>(), any::<u16>()), 0..40)
        ) {
            let mut receiver = DtmfReceiver::new(8_000);
            let mut reported = Vec::new();
            for (slot, event, end, duration) in packets {
                let timestamp = slot * 1000;
                receiver.handle_event(timestamp, &TelephoneEvent { event, end, volume: 10, duration });
                while let Some(digit) = receiver.poll_digit() {
                    reported.push(digit);
                }
            }
            prop_assert!(reported.len() <= 4);
        }
    }
}
