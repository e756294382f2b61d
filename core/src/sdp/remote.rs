//! Reading a peer's session description into what offer/answer needs.
//!
//! The `sdp` crate does the parsing, but it follows RFC 4566's line order to the letter and
//! knows only some media types and transport protocols. Real SDP is looser, so the text is
//! first brought into a shape the crate accepts: any line ending (CRLF, LF, CR), surrounding
//! whitespace and blank lines are dropped; lines are put in the RFC order within the session
//! and each media section; a missing `s=` or `t=` is supplied; lines we never use (`i= u= e=
//! p= b= z= k= r=`) are left out, so that a bad bandwidth or URI cannot fail the whole
//! description; and an unknown media type or protocol on an `m=` line is swapped for one the
//! crate knows, the original being kept here for the answer (RFC 3264 §6 answers a stream
//! it rejects with the same media type and protocol).

use std::io::Cursor;
use std::net::IpAddr;

use ::sdp::description::common::{Attribute, ConnectionInformation};
use ::sdp::SessionDescription;

use super::{Direction, SdpError};

/// The largest description read; a SIP message is far smaller in practice, and the limit
/// bounds the work an attacker can cause.
const MAX_SDP_LEN: usize = 64 * 1024;

/// Media types and protocol parts the `sdp` crate accepts on an `m=` line.
const CRATE_MEDIA: [&str; 6] = ["audio", "video", "text", "application", "message", "image"];
const CRATE_PROTOS: [&str; 10] = [
    "UDP", "RTP", "AVP", "SAVP", "SAVPF", "TLS", "DTLS", "SCTP", "AVPF", "udptl",
];

/// RFC 3551 §6 static payload types, for formats listed without `a=rtpmap`.
const STATIC_PAYLOAD_TYPES: [(u8, &str, u32); 7] = [
    (0, "PCMU", 8000),
    (3, "GSM", 8000),
    (4, "G723", 8000),
    (8, "PCMA", 8000),
    (9, "G722", 8000),
    (13, "CN", 8000),
    (18, "G729", 8000),
];

/// The first payload type of the dynamic range (RFC 3551 §3).
pub(super) const FIRST_DYNAMIC_PT: u8 = 96;

/// A peer's description, reduced to what offer/answer uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RemoteDescription {
    pub origin: Origin,
    pub media: Vec<RemoteMedia>,
}

/// The `o=` line. Two descriptions with equal origins, version included, are the same
/// description (RFC 3264 §8: "If the version in the origin line does not increment, the SDP
/// MUST be identical to the SDP with that version number").
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Origin {
    pub username: String,
    pub session_id: u64,
    pub version: u64,
    pub network_type: String,
    pub address_type: String,
    pub address: String,
}

/// One `m=` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RemoteMedia {
    /// Media type and protocol as written, even when the crate did not know them.
    pub kind: String,
    pub proto: String,
    pub port: u16,
    pub formats: Vec<String>,
    /// The media-level `c=`, else the session-level one; `None` only for a port-0 stream.
    pub address: Option<IpAddr>,
    /// The media-level direction attribute, else the session-level one, else sendrecv
    /// (RFC 4566 §6).
    pub direction: Direction,
    pub rtpmaps: Vec<RtpMap>,
    pub ptime: Option<u32>,
    /// The usable `a=crypto` lines (RFC 4568), in the offerer's order of preference.
    pub cryptos: Vec<super::crypto::Crypto>,
}

/// `a=rtpmap:<payload type> <encoding name>/<clock rate>[/<channels>]` (RFC 4566 §6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RtpMap {
    pub payload_type: u8,
    pub name: String,
    pub clock_rate: u32,
}

impl RemoteMedia {
    /// A stream we can carry: audio over RTP/AVP or RTP/SAVP with a port (RFC 3264 §6:
    /// port 0 means the offerer does not want the stream); whether the keys of RTP/SAVP
    /// suit us is the session's call.
    pub fn is_usable_audio(&self) -> bool {
        self.kind.eq_ignore_ascii_case("audio")
            && (self.proto.eq_ignore_ascii_case("RTP/AVP")
                || self.proto.eq_ignore_ascii_case("RTP/SAVP"))
            && self.port != 0
    }

    /// The direction the peer actually means: a `c=` of 0.0.0.0 (or `::`) is the RFC 2543
    /// way of putting us on hold, "send me nothing" (RFC 3264 §8.4, RFC 6337 §5.4).
    pub fn effective_direction(&self) -> Direction {
        match self.address {
            Some(address) if address.is_unspecified() => self.direction.without_receiving(),
            _ => self.direction,
        }
    }

    /// The RTP payload types listed on the `m=` line, in the peer's order of preference.
    pub fn payload_types(&self) -> impl Iterator<Item = u8> + '_ {
        self.formats
            .iter()
            .filter_map(|f| f.parse::<u8>().ok())
            .filter(|pt| *pt <= 127)
    }

    /// Encoding name and clock rate of a payload type: its `a=rtpmap`, else the static
    /// assignment of RFC 3551 §6.
    pub fn encoding(&self, payload_type: u8) -> Option<(&str, u32)> {
        self.rtpmaps
            .iter()
            .find(|m| m.payload_type == payload_type)
            .map(|m| (m.name.as_str(), m.clock_rate))
            .or_else(|| {
                STATIC_PAYLOAD_TYPES
                    .iter()
                    .find(|(pt, _, _)| *pt == payload_type)
                    .map(|(_, name, rate)| (*name, *rate))
            })
    }
}

/// Parses a peer's SDP. Never panics; anything unusable is [`SdpError::Malformed`].
pub(super) fn parse(text: &str) -> Result<RemoteDescription, SdpError> {
    let normalized = normalize(text)?;
    let description = SessionDescription::unmarshal(&mut Cursor::new(normalized.text.as_bytes()))
        .map_err(|e| malformed(format!("{e}")))?;

    let origin = &description.origin;
    let origin = Origin {
        username: origin.username.clone(),
        session_id: origin.session_id,
        version: origin.session_version,
        network_type: origin.network_type.clone(),
        address_type: origin.address_type.clone(),
        address: origin.unicast_address.clone(),
    };
    let session_address = connection_address(description.connection_information.as_ref())?;
    let session_direction = direction_of(&description.attributes);

    let mut media = Vec::with_capacity(description.media_descriptions.len());
    for (described, (kind, proto)) in description
        .media_descriptions
        .iter()
        .zip(normalized.m_lines)
    {
        let port = u16::try_from(described.media_name.port.value)
            .map_err(|_| malformed("m= port out of range"))?;
        let address =
            connection_address(described.connection_information.as_ref())?.or(session_address);
        if port != 0 && address.is_none() {
            return Err(malformed("an active stream has no c= line"));
        }
        let attributes = &described.attributes;
        media.push(RemoteMedia {
            kind,
            proto,
            port,
            formats: described.media_name.formats.clone(),
            address,
            direction: direction_of(attributes)
                .or(session_direction)
                .unwrap_or_default(),
            rtpmaps: attributes
                .iter()
                .filter(|a| a.key.eq_ignore_ascii_case("rtpmap"))
                .filter_map(|a| a.value.as_deref().and_then(parse_rtpmap))
                .collect(),
            ptime: attributes
                .iter()
                .find(|a| a.key.eq_ignore_ascii_case("ptime"))
                .and_then(|a| a.value.as_deref()?.trim().parse().ok()),
            cryptos: attributes
                .iter()
                .filter(|a| a.key.eq_ignore_ascii_case("crypto"))
                .filter_map(|a| super::crypto::Crypto::parse(a.value.as_deref()?))
                .collect(),
        });
    }
    Ok(RemoteDescription { origin, media })
}

/// The description rewritten for the `sdp` crate, and each `m=` line's original media type
/// and protocol.
struct Normalized {
    text: String,
    m_lines: Vec<(String, String)>,
}

/// Position of a session-level line in RFC 4566 §5 order; `None` for lines we drop.
fn session_rank(kind: u8) -> Option<u8> {
    match kind {
        b'v' => Some(0),
        b'o' => Some(1),
        b's' => Some(2),
        b'c' => Some(3),
        b't' => Some(4),
        b'a' => Some(5),
        _ => None,
    }
}

/// Position of a media-level line after its `m=` line; `None` for lines we drop.
fn media_rank(kind: u8) -> Option<u8> {
    match kind {
        b'c' => Some(1),
        b'a' => Some(2),
        _ => None,
    }
}

fn normalize(text: &str) -> Result<Normalized, SdpError> {
    if text.len() > MAX_SDP_LEN {
        return Err(malformed("larger than 64 KiB"));
    }
    let mut session: Vec<(u8, String)> = Vec::new();
    let mut sections: Vec<Vec<(u8, String)>> = Vec::new();
    let mut m_lines = Vec::new();
    let lines = text
        .split(['\r', '\n'])
        .map(str::trim)
        .filter(|line| !line.is_empty());
    for (index, line) in lines.enumerate() {
        let bytes = line.as_bytes();
        let kind = match bytes {
            [kind, b'=', ..] if kind.is_ascii_lowercase() => *kind,
            _ => {
                return Err(malformed(format!(
                    "line {} is not <type>=<value>",
                    index + 1
                )))
            }
        };
        // RFC 4566 §5: a parser "MUST completely ignore any session description that
        // contains a type letter that it does not understand".
        if !b"vosiuepcbtrzkam".contains(&kind) {
            return Err(malformed(format!("line {} has an unknown type", index + 1)));
        }
        if kind == b'm' {
            let (line, original) = sanitize_m_line(&line[2..])?;
            m_lines.push(original);
            sections.push(vec![(0, line)]);
            continue;
        }
        match sections.last_mut() {
            None => {
                if let Some(rank) = session_rank(kind) {
                    session.push((rank, line.to_owned()));
                }
            }
            Some(section) => {
                if let Some(rank) = media_rank(kind) {
                    section.push((rank, line.to_owned()));
                }
            }
        }
    }

    let has =
        |session: &[(u8, String)], kind: &str| session.iter().any(|(_, l)| l.starts_with(kind));
    if !has(&session, "v=") || !has(&session, "o=") {
        return Err(malformed("no v= or o= line"));
    }
    if !has(&session, "s=") {
        session.push((2, "s=-".to_owned()));
    }
    if !has(&session, "t=") {
        session.push((4, "t=0 0".to_owned()));
    }
    // Stable sorts keep the order of lines of the same kind (attributes, several t=).
    session.sort_by_key(|(rank, _)| *rank);
    let mut out = String::with_capacity(text.len() + 16);
    for (_, line) in session {
        out.push_str(&line);
        out.push_str("\r\n");
    }
    for mut section in sections {
        section.sort_by_key(|(rank, _)| *rank);
        for (_, line) in section {
            out.push_str(&line);
            out.push_str("\r\n");
        }
    }
    Ok(Normalized { text: out, m_lines })
}

/// Rewrites `m=<media> <port> <proto> <fmt> ...` so that the crate accepts it, returning
/// the original media type and protocol.
fn sanitize_m_line(value: &str) -> Result<(String, (String, String)), SdpError> {
    let fields: Vec<&str> = value.split_whitespace().collect();
    let [media, port, proto, formats @ ..] = fields.as_slice() else {
        return Err(malformed("m= line without media, port and protocol"));
    };
    if formats.is_empty() {
        return Err(malformed("m= line without formats"));
    }
    let crate_media = if CRATE_MEDIA.contains(media) {
        media
    } else {
        "application"
    };
    let crate_proto = if proto.split('/').all(|p| CRATE_PROTOS.contains(&p)) {
        proto
    } else {
        "UDP"
    };
    let line = format!("m={crate_media} {port} {crate_proto} {}", formats.join(" "));
    Ok((line, ((*media).to_owned(), (*proto).to_owned())))
}

/// The address of a `c=` line; `None` when there is no line or no address in it.
fn connection_address(
    connection: Option<&ConnectionInformation>,
) -> Result<Option<IpAddr>, SdpError> {
    let Some(address) = connection.and_then(|c| c.address.as_ref()) else {
        return Ok(None);
    };
    // A multicast address may carry /ttl and /count suffixes (RFC 4566 §5.7).
    let host = address.address.split('/').next().unwrap_or_default();
    host.parse()
        .map(Some)
        .map_err(|_| malformed("c= address is not an IP address"))
}

fn direction_of(attributes: &[Attribute]) -> Option<Direction> {
    attributes
        .iter()
        .find_map(|a| Direction::from_attribute(&a.key))
}

fn parse_rtpmap(value: &str) -> Option<RtpMap> {
    let (payload_type, encoding) = value.trim().split_once(char::is_whitespace)?;
    let payload_type = payload_type.parse::<u8>().ok().filter(|pt| *pt <= 127)?;
    let mut parts = encoding.trim().split('/');
    let name = parts.next()?.to_owned();
    let clock_rate = parts.next()?.trim().parse().ok()?;
    Some(RtpMap {
        payload_type,
        name,
        clock_rate,
    })
}

/// A `Malformed` error whose reason is cut short: it may quote network input and ends up in
/// logs.
fn malformed(reason: impl Into<String>) -> SdpError {
    let mut reason = reason.into();
    if reason.len() > 120 {
        let mut cut = 120;
        while !reason.is_char_boundary(cut) {
            cut -= 1;
        }
        reason.truncate(cut);
        reason.push('…');
    }
    SdpError::Malformed(reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerates_lf_missing_s_and_t_and_disorder() {
        let text = "v=0\n  o=- 1 2 IN IP4 192.0.2.1  \n\na=recvonly\nc=IN IP4 192.0.2.1\n\
                    b=AS:not-a-number\nm=audio 4000 RTP/AVP 0 101\na=rtpmap:101 telephone-event/8000\n\
                    c=IN IP4 192.0.2.9\nb=TIAS:64000\na=ptime: 30 \r\n";
        let d = parse(text).expect("tolerated");
        assert_eq!(d.origin.version, 2);
        let m = &d.media[0];
        assert_eq!(m.address, Some("192.0.2.9".parse().expect("literal")));
        assert_eq!(m.direction, Direction::RecvOnly);
        assert_eq!(m.ptime, Some(30));
        assert_eq!(m.encoding(0), Some(("PCMU", 8000)));
        assert_eq!(m.encoding(101), Some(("telephone-event", 8000)));
        assert_eq!(m.encoding(99), None);
        assert_eq!(m.payload_types().collect::<Vec<_>>(), [0, 101]);
    }

    #[test]
    fn keeps_unknown_media_and_protocols() {
        let text = "v=0\r\no=- 1 1 IN IP6 ::1\r\ns=-\r\nc=IN IP6 2001:db8::5\r\nt=0 0\r\n\
                    m=audio 4000 RTP/AVP 8\r\nm=application 9 TCP/BFCP *\r\n\
                    m=x-custom 5000 FOO/BAR 1\r\n";
        let d = parse(text).expect("parses");
        let kinds: Vec<(&str, &str)> = d
            .media
            .iter()
            .map(|m| (m.kind.as_str(), m.proto.as_str()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("audio", "RTP/AVP"),
                ("application", "TCP/BFCP"),
                ("x-custom", "FOO/BAR")
            ]
        );
        assert_eq!(
            d.media[0].address,
            Some("2001:db8::5".parse().expect("literal"))
        );
    }

    #[test]
    fn rejects_what_cannot_be_read() {
        for bad in [
            "",
            "hello",
            "v=0\r\ns=-\r\n",
            "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nx=unknown\r\n",
            "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nm=audio 1 RTP/AVP 0\r\n",
            "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nc=IN IP4 pbx.example.com\r\nm=audio 1 RTP/AVP 0\r\n",
            "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nc=IN IP4 1.2.3.4\r\nm=audio 70000 RTP/AVP 0\r\n",
            "v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\nc=IN IP4 1.2.3.4\r\nm=audio 1 RTP/AVP\r\n",
            "v=0\r\no=- x 1 IN IP4 1.2.3.4\r\n",
        ] {
            assert!(
                matches!(parse(bad), Err(SdpError::Malformed(_))),
                "{bad:?} should be malformed"
            );
        }
    }

    #[test]
    fn long_reasons_are_cut_on_a_character_boundary() {
        let SdpError::Malformed(reason) = malformed("é".repeat(100)) else {
            panic!("malformed builds Malformed");
        };
        assert!(reason.len() <= 124 && reason.ends_with('…'));
    }
}
