//! RTP packets in and out of bytes, with the `rtp` crate (RFC 3550 §5.1).

use rtp::header::Header;
use rtp::packet::Packet;
use webrtc_util::marshal::{Marshal, MarshalSize, Unmarshal};

/// RTP version 2 (RFC 3550 §5.1).
const VERSION: u8 = 2;

/// One-byte header extensions (RFC 8285 §4.2), as the `rtp` crate reads them.
const PROFILE_ONE_BYTE: u16 = 0xBEDE;
/// Two-byte header extensions (RFC 8285 §4.3), as the `rtp` crate reads them:
/// only with the "appbits" zero.
const PROFILE_TWO_BYTE: u16 = 0x1000;

/// Parses an RTP packet, or returns `None` when the bytes are not one.
pub(crate) fn parse(bytes: &[u8]) -> Option<Packet> {
    if !extensions_fit(bytes) {
        return None;
    }
    let mut buf = bytes;
    let packet = Packet::unmarshal(&mut buf).ok()?;
    (packet.header.version == VERSION).then_some(packet)
}

/// Serialises an RTP packet whose payload `write_payload` appends, in a
/// single allocation of the right size.
pub(crate) fn build(
    header: &Header,
    payload_len: usize,
    write_payload: impl FnOnce(&mut Vec<u8>),
) -> Vec<u8> {
    let header_len = header.marshal_size();
    let mut datagram = Vec::with_capacity(header_len + payload_len);
    datagram.resize(header_len, 0);
    header
        .marshal_to(&mut datagram)
        .expect("the buffer is marshal_size long, and a header without extensions always fits");
    write_payload(&mut datagram);
    datagram
}

/// Whether every RFC 8285 header extension element lies inside its block.
///
/// The `rtp` crate trusts the element lengths and panics when one runs past
/// the end of the packet, so they are checked here first; an element that
/// runs past its block is malformed anyway (RFC 8285 §4.2, §4.3). Packets
/// too short for their header are left to the crate, which rejects them.
fn extensions_fit(bytes: &[u8]) -> bool {
    let Some(&first) = bytes.first() else {
        return true;
    };
    if first & 0x10 == 0 {
        return true;
    }
    // Fixed header and CSRC list (RFC 3550 §5.1), then the extension header:
    // 16 bits of profile and 16 bits of length in 32-bit words (§5.3.1).
    let start = 12 + 4 * usize::from(first & 0x0F);
    let Some(&[profile_high, profile_low, length_high, length_low]) = bytes.get(start..start + 4)
    else {
        return true;
    };
    let length = 4 * usize::from(u16::from_be_bytes([length_high, length_low]));
    let Some(block) = bytes.get(start + 4..start + 4 + length) else {
        return true;
    };
    match u16::from_be_bytes([profile_high, profile_low]) {
        PROFILE_ONE_BYTE => elements_fit(block, false),
        PROFILE_TWO_BYTE => elements_fit(block, true),
        _ => true,
    }
}

/// Walks the elements of a one-byte or two-byte extension block.
fn elements_fit(block: &[u8], two_byte: bool) -> bool {
    let mut at = 0;
    while let Some(&byte) = block.get(at) {
        if byte == 0 {
            // Padding between elements (RFC 8285 §4.2, §4.3).
            at += 1;
            continue;
        }
        let end = if two_byte {
            // ID byte, length byte, then that many bytes of data.
            let Some(&length) = block.get(at + 1) else {
                return false;
            };
            at + 2 + usize::from(length)
        } else if byte >> 4 == 15 {
            // ID 15 ends the list (RFC 8285 §4.2).
            return true;
        } else {
            // ID and length minus one in one byte, then the data.
            at + 2 + usize::from(byte & 0x0F)
        };
        if end > block.len() {
            return false;
        }
        at = end;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 12-byte header with the X bit, then `extension`.
    fn with_extension(extension: &[u8]) -> Vec<u8> {
        let mut bytes = vec![0x90, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3];
        bytes.extend_from_slice(extension);
        bytes
    }

    /// Extension blocks whose elements run past the packet.
    fn overrunning() -> [Vec<u8>; 3] {
        [
            // One-byte element of 16 bytes in a 4-byte block at the end.
            with_extension(&[0xBE, 0xDE, 0, 1, 0x1F, 0, 0, 0]),
            // Two-byte element of 5 bytes in a 4-byte block at the end.
            with_extension(&[0x10, 0x00, 0, 1, 0x01, 0x05, 0, 0]),
            // Two-byte element cut off before its length byte.
            with_extension(&[0x10, 0x00, 0, 1, 0, 0, 0, 0x01]),
        ]
    }

    #[test]
    fn builds_and_parses() {
        let header = Header {
            version: 2,
            marker: true,
            payload_type: 8,
            sequence_number: 65_535,
            timestamp: 0xDEAD_BEEF,
            ssrc: 42,
            ..Header::default()
        };
        let bytes = build(&header, 3, |out| out.extend_from_slice(&[1, 2, 3]));
        assert_eq!(bytes.len(), 15);
        assert_eq!(bytes.capacity(), 15);
        assert_eq!(bytes[..2], [0x80, 0x88]);
        let packet = parse(&bytes).unwrap();
        assert_eq!(packet.header, header);
        assert_eq!(&packet.payload[..], [1, 2, 3]);
    }

    #[test]
    fn rejects_what_is_not_rtp_version_2() {
        assert!(parse(&[]).is_none());
        assert!(parse(&[0x80; 11]).is_none());
        let mut bytes = with_extension(&[]);
        bytes[0] = 0x40;
        assert!(parse(&bytes).is_none());
        // Padding longer than the payload (RFC 3550 §5.1, P bit).
        bytes[0] = 0xA0;
        bytes.extend_from_slice(&[0, 9]);
        assert!(parse(&bytes).is_none());
    }

    #[test]
    fn accepts_extensions_that_fit() {
        let one_byte = with_extension(&[0xBE, 0xDE, 0, 2, 0x10, 0xAA, 0, 0x22, 1, 2, 3, 0xF0]);
        assert!(parse(&one_byte).is_some());
        let two_byte = with_extension(&[0x10, 0x00, 0, 1, 0x07, 0x02, 0xAB, 0xCD, 9]);
        assert_eq!(&parse(&two_byte).unwrap().payload[..], [9]);
        let rfc3550 = with_extension(&[0x12, 0x34, 0, 1, 1, 2, 3, 4]);
        assert!(parse(&rfc3550).is_some());
    }

    #[test]
    fn rejects_extension_elements_that_overrun() {
        for bytes in overrunning() {
            assert!(parse(&bytes).is_none(), "{bytes:02x?}");
        }
        // Past the block but not the packet: malformed all the same.
        let mut bytes = with_extension(&[0xBE, 0xDE, 0, 1, 0x1F, 0, 0, 0]);
        bytes.extend_from_slice(&[0; 20]);
        assert!(parse(&bytes).is_none());
    }

    /// Why `extensions_fit` exists: should this start failing, the `rtp`
    /// crate has learnt to reject these packets itself and the check can go.
    #[test]
    fn the_rtp_crate_alone_panics_on_overrunning_extensions() {
        for bytes in overrunning() {
            let outcome = std::panic::catch_unwind(|| Packet::unmarshal(&mut &bytes[..]));
            assert!(outcome.is_err(), "{bytes:02x?}");
        }
    }
}
