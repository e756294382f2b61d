//! SRTP and SRTCP (RFC 3711) for a call whose keys SDP negotiated (SDES, RFC 4568): each
//! packet we send is encrypted and authenticated with our key, each packet received is
//! checked and decrypted with the peer's; a packet that fails is dropped, never played and
//! never used to latch the peer's address. The cipher is webrtc-rs' `webrtc-srtp`.

use webrtc_srtp::context::Context;
use webrtc_srtp::option::{srtcp_replay_protection, srtp_replay_protection};
use webrtc_srtp::protection_profile::ProtectionProfile;

/// AES-CM with HMAC-SHA1, an 80- or 32-bit RTP tag (RFC 3711 §5; RFC 4568 §6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suite {
    AesCm128HmacSha1_80,
    AesCm128HmacSha1_32,
}

/// Master key and salt (16 + 14 bytes) of each direction.
#[derive(Clone, PartialEq, Eq)]
pub struct SrtpKeys {
    pub suite: Suite,
    /// What we send with.
    pub local: [u8; 30],
    /// What the peer sends with.
    pub remote: [u8; 30],
}

impl std::fmt::Debug for SrtpKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SrtpKeys({:?}, <keys>)", self.suite)
    }
}

/// Why SRTP could not be set up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("SRTP: {0}")]
pub struct SrtpError(String);

/// The two SRTP contexts of a call.
pub struct Protection {
    keys: SrtpKeys,
    outbound: Context,
    inbound: Context,
}

impl std::fmt::Debug for Protection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Protection({:?})", self.keys)
    }
}

fn context(key: &[u8; 30], suite: Suite) -> Result<Context, SrtpError> {
    let profile = match suite {
        Suite::AesCm128HmacSha1_80 => ProtectionProfile::Aes128CmHmacSha1_80,
        Suite::AesCm128HmacSha1_32 => ProtectionProfile::Aes128CmHmacSha1_32,
    };
    // A replayed packet is refused (RFC 3711 §3.3.2), within a window of 64 packets.
    Context::new(
        &key[..16],
        &key[16..],
        profile,
        Some(srtp_replay_protection(64)),
        Some(srtcp_replay_protection(64)),
    )
    .map_err(|e| SrtpError(e.to_string()))
}

impl Protection {
    pub fn new(keys: SrtpKeys) -> Result<Protection, SrtpError> {
        Ok(Protection {
            outbound: context(&keys.local, keys.suite)?,
            inbound: context(&keys.remote, keys.suite)?,
            keys,
        })
    }

    pub fn keys(&self) -> &SrtpKeys {
        &self.keys
    }

    /// An RTP packet as sent: encrypted, with its authentication tag.
    pub fn protect_rtp(&mut self, packet: &[u8]) -> Option<Vec<u8>> {
        self.outbound.encrypt_rtp(packet).ok().map(|b| b.to_vec())
    }

    /// A received SRTP packet, checked and decrypted; `None` when it fails.
    pub fn unprotect_rtp(&mut self, packet: &[u8]) -> Option<Vec<u8>> {
        self.inbound.decrypt_rtp(packet).ok().map(|b| b.to_vec())
    }

    pub fn protect_rtcp(&mut self, packet: &[u8]) -> Option<Vec<u8>> {
        self.outbound.encrypt_rtcp(packet).ok().map(|b| b.to_vec())
    }

    pub fn unprotect_rtcp(&mut self, packet: &[u8]) -> Option<Vec<u8>> {
        self.inbound.decrypt_rtcp(packet).ok().map(|b| b.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RTP: [u8; 20] = [
        0x80, 0x00, 0x12, 0x34, 0x00, 0x00, 0x00, 0xA0, 0xCA, 0xFE, 0xBA, 0xBE, 1, 2, 3, 4, 5, 6,
        7, 8,
    ];

    fn pair(suite: Suite) -> (Protection, Protection) {
        let (a, b) = ([0x11; 30], [0x22; 30]);
        let alice = Protection::new(SrtpKeys {
            suite,
            local: a,
            remote: b,
        })
        .unwrap();
        let bob = Protection::new(SrtpKeys {
            suite,
            local: b,
            remote: a,
        })
        .unwrap();
        (alice, bob)
    }

    #[test]
    fn what_one_side_protects_the_other_reads_and_nobody_else() {
        for (suite, tag) in [
            (Suite::AesCm128HmacSha1_80, 10),
            (Suite::AesCm128HmacSha1_32, 4),
        ] {
            let (mut alice, mut bob) = pair(suite);
            let sent = alice.protect_rtp(&RTP).unwrap();
            assert_eq!(sent.len(), RTP.len() + tag);
            assert_eq!(sent[..12], RTP[..12], "the header stays readable");
            assert_ne!(sent[12..20], RTP[12..], "the payload is encrypted");
            assert_eq!(bob.unprotect_rtp(&sent).unwrap(), RTP);
            // Replayed, tampered with, or read with the wrong key: dropped.
            assert_eq!(bob.unprotect_rtp(&sent), None, "replay");
            let mut tampered = alice
                .protect_rtp(&[&RTP[..3], &[0x35], &RTP[4..]].concat())
                .unwrap();
            tampered[15] ^= 1;
            assert_eq!(bob.unprotect_rtp(&tampered), None);
            let mut eve = Protection::new(SrtpKeys {
                suite,
                local: [0; 30],
                remote: [0x33; 30],
            })
            .unwrap();
            assert_eq!(
                eve.unprotect_rtp(
                    &alice
                        .protect_rtp(&[&RTP[..3], &[0x36], &RTP[4..]].concat())
                        .unwrap()
                ),
                None
            );
        }
    }
}
