//! The audio codecs of the minimal media plane and their RTP parameters.

use crate::g711;

/// An audio codec that a call can negotiate.
///
/// Only the two G.711 laws exist so far; Opus (RFC 7587) comes with the full
/// audio engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Codec {
    /// G.711 µ-law, RTP/AVP static payload type 0 (RFC 3551 §4.5.14).
    Pcmu,
    /// G.711 A-law, RTP/AVP static payload type 8 (RFC 3551 §4.5.14).
    Pcma,
}

impl Codec {
    /// Payload type assigned by the RTP/AVP profile (RFC 3551 §6, table 4).
    ///
    /// The number actually used on the wire is the one of the SDP `m=` line,
    /// which for these codecs is normally, but not necessarily, this one.
    pub const fn static_payload_type(self) -> u8 {
        match self {
            Self::Pcmu => 0,
            Self::Pcma => 8,
        }
    }

    /// RTP timestamp clock rate in Hz (RFC 3551 §4.5.14), also the sample rate.
    pub const fn clock_rate(self) -> u32 {
        8_000
    }

    /// Encoding name as written in SDP `a=rtpmap` (RFC 3551 §6, table 4).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Pcmu => "PCMU",
            Self::Pcma => "PCMA",
        }
    }

    /// Looks a codec up by its encoding name; SDP encoding names are
    /// case-insensitive (RFC 4855 §3).
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Pcmu, Self::Pcma]
            .into_iter()
            .find(|codec| codec.name().eq_ignore_ascii_case(name))
    }

    /// Encodes 8 kHz mono samples, appending one byte per sample to `out`.
    pub fn encode(self, pcm: &[i16], out: &mut Vec<u8>) {
        let encode = match self {
            Self::Pcmu => g711::ulaw_encode,
            Self::Pcma => g711::alaw_encode,
        };
        out.extend(pcm.iter().map(|&sample| encode(sample)));
    }

    /// Decodes a payload, appending one 8 kHz mono sample per byte to `out`.
    ///
    /// Every byte is a valid G.711 code, so decoding cannot fail.
    pub fn decode(self, payload: &[u8], out: &mut Vec<i16>) {
        let decode = match self {
            Self::Pcmu => g711::ulaw_decode,
            Self::Pcma => g711::alaw_decode,
        };
        out.extend(payload.iter().map(|&code| decode(code)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rtp_parameters() {
        assert_eq!(Codec::Pcmu.static_payload_type(), 0);
        assert_eq!(Codec::Pcma.static_payload_type(), 8);
        assert_eq!(Codec::Pcmu.clock_rate(), 8_000);
        assert_eq!(Codec::Pcma.name(), "PCMA");
    }

    #[test]
    fn names_are_case_insensitive() {
        assert_eq!(Codec::from_name("pcmu"), Some(Codec::Pcmu));
        assert_eq!(Codec::from_name("PcMa"), Some(Codec::Pcma));
        assert_eq!(Codec::from_name("opus"), None);
        assert_eq!(Codec::from_name(""), None);
    }

    #[test]
    fn encode_and_decode_append() {
        for codec in [Codec::Pcmu, Codec::Pcma] {
            let mut payload = vec![0xAB];
            codec.encode(&[0, 1000, -1000], &mut payload);
            assert_eq!(payload.len(), 4);
            assert_eq!(payload[0], 0xAB);

            let mut pcm = vec![7];
            codec.decode(&payload[1..], &mut pcm);
            assert_eq!(pcm.len(), 4);
            assert_eq!(pcm[0], 7);
            assert!(pcm[1].abs() <= 8);
            assert!((pcm[2] - 1000).abs() <= 32);
            assert!((pcm[3] + 1000).abs() <= 32);
        }
    }

    #[test]
    fn silence_encodes_to_the_idle_codes() {
        let mut payload = Vec::new();
        Codec::Pcmu.encode(&[0; 2], &mut payload);
        Codec::Pcma.encode(&[0; 2], &mut payload);
        assert_eq!(payload, [0xFF, 0xFF, 0xD5, 0xD5]);
    }
}
