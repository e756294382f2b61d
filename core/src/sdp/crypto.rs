//! SDES keys for SRTP in SDP (RFC 4568): `a=crypto:<tag> <suite> inline:<key||salt>`.
//!
//! Two suites, the ones every SIP phone has (RFC 4568 §6.2): AES_CM_128_HMAC_SHA1_80 and
//! _32, each a 128-bit master key and a 112-bit salt, 30 bytes base64-encoded. Lifetime and
//! MKI parameters are read past; a line with an MKI is not usable (our SRTP has none), nor
//! one with an unknown suite or session parameters, and is skipped rather than refused.
//! Keys travel in the SDP itself, so they are offered only when the signalling is
//! encrypted (TLS): the runtime decides, see [`SrtpPolicy`].

use base64::Engine as _;

/// The master key and salt of an SDES suite: 16 + 14 bytes.
pub const KEY_LEN: usize = 30;

/// What a call does about SRTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SrtpPolicy {
    /// Plain RTP; an offer of RTP/SAVP is refused.
    #[default]
    Off,
    /// Offer keys over RTP/AVP (best-effort SDES) and accept either.
    Optional,
    /// Offer RTP/SAVP only, and refuse a call without keys.
    Required,
}

/// An SDES crypto suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SrtpSuite {
    AesCm128HmacSha1_80,
    AesCm128HmacSha1_32,
}

impl SrtpSuite {
    pub const ALL: [SrtpSuite; 2] = [
        SrtpSuite::AesCm128HmacSha1_80,
        SrtpSuite::AesCm128HmacSha1_32,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SrtpSuite::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            SrtpSuite::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
        }
    }

    fn from_name(name: &str) -> Option<SrtpSuite> {
        SrtpSuite::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// One `a=crypto` line.
#[derive(Clone, PartialEq, Eq)]
pub struct Crypto {
    pub tag: u32,
    pub suite: SrtpSuite,
    pub key: [u8; KEY_LEN],
}

impl std::fmt::Debug for Crypto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Keys never reach a log.
        write!(f, "Crypto({} {} <key>)", self.tag, self.suite.name())
    }
}

impl Crypto {
    /// The attribute value: `1 AES_CM_128_HMAC_SHA1_80 inline:<base64>`.
    pub fn to_value(&self) -> String {
        let key = base64::engine::general_purpose::STANDARD.encode(self.key);
        format!("{} {} inline:{key}", self.tag, self.suite.name())
    }

    /// Parses an attribute value; `None` for one we cannot use.
    pub fn parse(value: &str) -> Option<Crypto> {
        let mut fields = value.split_ascii_whitespace();
        let tag: u32 = fields.next()?.parse().ok()?;
        if tag > 999_999_999 {
            return None; // RFC 4568 §9.1: at most 9 digits
        }
        let suite = SrtpSuite::from_name(fields.next()?)?;
        let key_params = fields.next()?;
        if fields.next().is_some() {
            return None; // session parameters (e.g. UNENCRYPTED_SRTP): not supported
        }
        // One key (several are joined by ';'), `inline:<key||salt>[|lifetime][|MKI:length]`.
        let mut parts = key_params.strip_prefix("inline:")?.split('|');
        let encoded = parts.next()?;
        let rest: Vec<&str> = parts.collect();
        if rest.iter().any(|p| p.contains(':')) || rest.len() > 1 || key_params.contains(';') {
            return None; // an MKI, or several keys
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()?;
        let key: [u8; KEY_LEN] = bytes.try_into().ok()?;
        Some(Crypto { tag, suite, key })
    }
}

/// The SRTP of a call as negotiated: the suite, our key (what we send with) and the peer's.
#[derive(Clone, PartialEq, Eq)]
pub struct SrtpKeys {
    pub suite: SrtpSuite,
    pub local: [u8; KEY_LEN],
    pub remote: [u8; KEY_LEN],
}

impl std::fmt::Debug for SrtpKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SrtpKeys({} <keys>)", self.suite.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_of_rfc_4568_parse_and_ours_round_trip() {
        // RFC 4568 §4 example.
        let c = Crypto::parse(
            "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32",
        );
        assert_eq!(c, None, "an MKI is not usable");
        let c = Crypto::parse(
            "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20",
        )
        .expect("usable");
        assert_eq!((c.tag, c.suite), (1, SrtpSuite::AesCm128HmacSha1_80));
        assert_eq!(Crypto::parse(&c.to_value()), Some(c.clone()));
        assert!(format!("{c:?}").contains("<key>"));
        for bad in [
            "",
            "x AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR",
            "1 F8_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR",
            "1 AES_CM_128_HMAC_SHA1_80 inline:short",
            "1 AES_CM_128_HMAC_SHA1_80 PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR",
            "1 AES_CM_128_HMAC_SHA1_32 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR UNENCRYPTED_SRTP",
        ] {
            assert_eq!(Crypto::parse(bad), None, "{bad}");
        }
    }
}
