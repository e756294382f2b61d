//! The negotiated media description a session works with: format and direction.
//!
//! This is what SDP offer/answer (RFC 3264) settles, in the terms of RTP;
//! the SIP side builds it, the media plane knows nothing of SDP.

use std::num::NonZeroU16;

use crate::codec::Codec;

/// Errors of this module.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DescriptionError {
    /// RTP payload types have 7 bits (RFC 3550 §5.1).
    #[error("RTP payload type {0} is not in 0..=127")]
    InvalidPayloadType(u8),
    /// Audio and telephone events need payload types of their own.
    #[error("payload type {0} is given to both the audio codec and telephone-event")]
    PayloadTypeClash(u8),
    /// The packetisation interval is outside what this crate supports.
    #[error("ptime of {0} ms is outside {min}..={max} ms", min = MediaFormat::MIN_PTIME_MS, max = MediaFormat::MAX_PTIME_MS)]
    InvalidPtime(u16),
}

/// Which way media flows, from our point of view (RFC 3264 §5.1, RFC 4566 §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MediaDirection {
    /// `a=sendrecv`
    #[default]
    SendRecv,
    /// `a=sendonly`: we send, we ignore what arrives (we hold the peer).
    SendOnly,
    /// `a=recvonly`: we only receive (the peer holds us).
    RecvOnly,
    /// `a=inactive`: neither.
    Inactive,
}

impl MediaDirection {
    /// Whether we send RTP.
    pub fn sends(self) -> bool {
        matches!(self, Self::SendRecv | Self::SendOnly)
    }

    /// Whether we play (record) what we receive.
    pub fn receives(self) -> bool {
        matches!(self, Self::SendRecv | Self::RecvOnly)
    }
}

/// The negotiated media format: codec, payload types and packetisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaFormat {
    codec: Codec,
    payload_type: u8,
    telephone_event_pt: Option<u8>,
    ptime_ms: NonZeroU16,
}

impl MediaFormat {
    /// Packetisation interval when SDP has no `a=ptime` (RFC 3551 §4.5, for G.711).
    pub const DEFAULT_PTIME_MS: u16 = 20;
    /// Shortest supported `a=ptime`.
    pub const MIN_PTIME_MS: u16 = 10;
    /// Longest supported `a=ptime`: 960 bytes of G.711, well within an MTU.
    pub const MAX_PTIME_MS: u16 = 120;

    /// A format from the numbers of the SDP answer: the codec's payload type
    /// from the `m=` line (normally, but not necessarily, its static one), the
    /// payload type of `telephone-event/8000` if negotiated (RFC 4733 §7.1),
    /// and `a=ptime`.
    pub fn new(
        codec: Codec,
        payload_type: u8,
        telephone_event_pt: Option<u8>,
        ptime_ms: u16,
    ) -> Result<Self, DescriptionError> {
        for pt in std::iter::once(payload_type).chain(telephone_event_pt) {
            if pt > 127 {
                return Err(DescriptionError::InvalidPayloadType(pt));
            }
        }
        if telephone_event_pt == Some(payload_type) {
            return Err(DescriptionError::PayloadTypeClash(payload_type));
        }
        let ptime_ms = NonZeroU16::new(ptime_ms)
            .filter(|ms| (Self::MIN_PTIME_MS..=Self::MAX_PTIME_MS).contains(&ms.get()))
            .ok_or(DescriptionError::InvalidPtime(ptime_ms))?;
        Ok(Self {
            codec,
            payload_type,
            telephone_event_pt,
            ptime_ms,
        })
    }

    /// The audio codec.
    pub fn codec(&self) -> Codec {
        self.codec
    }

    /// The payload type of the audio codec.
    pub fn payload_type(&self) -> u8 {
        self.payload_type
    }

    /// The payload type of telephone events, if negotiated.
    pub fn telephone_event_pt(&self) -> Option<u8> {
        self.telephone_event_pt
    }

    /// The packetisation interval in milliseconds.
    pub fn ptime_ms(&self) -> u16 {
        self.ptime_ms.get()
    }

    /// The packetisation interval.
    pub(crate) fn ptime(self) -> NonZeroU16 {
        self.ptime_ms
    }

    /// Samples (and RTP timestamp units) per packet.
    pub(crate) fn samples_per_packet(self) -> NonZeroU16 {
        let samples = self.codec.clock_rate() / 1_000 * u32::from(self.ptime_ms.get());
        u16::try_from(samples)
            .ok()
            .and_then(NonZeroU16::new)
            .expect("10 to 120 ms at 8 kHz is 80 to 960 samples")
    }

    /// Converts RTP timestamp units to milliseconds.
    pub(crate) fn to_ms(self, units: u16) -> u32 {
        u32::from(units) * 1_000 / self.codec.clock_rate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_is_validated() {
        let format = |pt, te, ptime| MediaFormat::new(Codec::Pcma, pt, te, ptime);
        assert_eq!(
            format(128, None, 20),
            Err(DescriptionError::InvalidPayloadType(128))
        );
        assert_eq!(
            format(8, Some(200), 20),
            Err(DescriptionError::InvalidPayloadType(200))
        );
        assert_eq!(
            format(8, Some(8), 20),
            Err(DescriptionError::PayloadTypeClash(8))
        );
        assert_eq!(format(8, None, 0), Err(DescriptionError::InvalidPtime(0)));
        assert_eq!(format(8, None, 5), Err(DescriptionError::InvalidPtime(5)));
        assert_eq!(
            format(8, None, 121),
            Err(DescriptionError::InvalidPtime(121))
        );
        let ok = format(96, Some(101), 30).unwrap();
        assert_eq!(
            (
                ok.codec(),
                ok.payload_type(),
                ok.telephone_event_pt(),
                ok.ptime_ms()
            ),
            (Codec::Pcma, 96, Some(101), 30)
        );
        assert_eq!(ok.samples_per_packet().get(), 240);
    }

    #[test]
    fn directions() {
        let all = [
            MediaDirection::SendRecv,
            MediaDirection::SendOnly,
            MediaDirection::RecvOnly,
            MediaDirection::Inactive,
        ];
        let sends: Vec<_> = all.iter().map(|d| d.sends()).collect();
        let receives: Vec<_> = all.iter().map(|d| d.receives()).collect();
        assert_eq!(sends, [true, true, false, false]);
        assert_eq!(receives, [true, false, true, false]);
    }
}
