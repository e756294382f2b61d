//! SDP offer/answer (RFC 3264) for one audio stream, with hold (RFC 3264 §8.4, RFC 6337 §5.3).
//!
//! An [`SdpSession`] is the local side of one call's offer/answer exchanges. The SIP layer
//! hands it the bodies it receives and sends the bodies it returns; where a body goes
//! (INVITE, 200, ACK, PRACK, UPDATE) is the SIP layer's business (RFC 3261 §13.2.1). Each successful exchange yields a [`NegotiatedMedia`], which is all the
//! audio engine needs; comparing it with the previous one tells whether media must change.
//!
//! Parsing and printing go through the `sdp` crate; see `remote` for how real-world SDP is
//! made acceptable to it.

pub mod crypto;
mod direction;
mod remote;

use std::net::SocketAddr;

use ::sdp::description::common::{Address, Attribute, ConnectionInformation};
use ::sdp::description::media::{MediaDescription, MediaName, RangedPort};
use ::sdp::description::session::{Origin, SessionDescription, TimeDescription, Timing};

use crypto::{Crypto, SrtpKeys, SrtpPolicy, SrtpSuite};
pub use direction::Direction;
use remote::{RemoteDescription, RemoteMedia, FIRST_DYNAMIC_PT};

/// Why an offer or answer could not be used. Every variant leaves the [`SdpSession`] as it
/// was: a rejected offer or answer does not change the session (RFC 3261 §14.1, §14.2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    /// Not readable as SDP (answer 400 to a request carrying it).
    #[error("malformed SDP: {0}")]
    Malformed(String),
    /// An audio stream was offered, but with no codec we have (answer 488, RFC 3261
    /// §13.3.1.3).
    #[error("no audio codec in common")]
    NoCommonCodec,
    /// The offer has no audio stream we can carry: no audio at all, only disabled streams
    /// (port 0), or only other profiles, RTP/SAVP included when our SRTP is off or the
    /// offer's keys are unusable (answer 488).
    #[error("the offer has no usable audio stream")]
    NoAudio,
    /// The answer set our audio stream's port to 0 (RFC 3264 §6).
    #[error("the answer rejected the audio stream")]
    Rejected,
    /// The answer does not fit our offer (RFC 3264 §6: same number and order of m-lines,
    /// formats taken from the offer).
    #[error("the SDP does not answer our offer: {0}")]
    NotAnAnswer(&'static str),
    /// An answer arrived, but we have made no offer.
    #[error("no offer of ours is waiting for an answer")]
    NoOfferPending,
    /// An offer arrived while ours is unanswered; the SIP layer resolves that glare with 491
    /// (RFC 3261 §14.2) or [`SdpSession::abandon_offer`] first.
    #[error("an offer of ours is still unanswered")]
    OfferPending,
    /// SRTP is required and the other side offered or answered no usable key, or it asks
    /// for SRTP (RTP/SAVP) and ours is off (answer 488).
    #[error("SRTP: {0}")]
    Srtp(&'static str),
}

/// An audio codec we can send and receive.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CodecPref {
    /// Encoding name as in `a=rtpmap` ("PCMU", "PCMA"); compared case-insensitively,
    /// as media subtype names are (RFC 6838 §4.2).
    pub name: String,
    /// Static (RFC 3551 §6) or dynamic (96-127) payload type number.
    pub payload_type: u8,
    pub clock_rate: u32,
}

impl CodecPref {
    /// G.711 µ-law, static payload type 0 (RFC 3551 §6).
    pub fn pcmu() -> Self {
        CodecPref {
            name: "PCMU".to_owned(),
            payload_type: 0,
            clock_rate: 8000,
        }
    }

    /// G.711 A-law, static payload type 8 (RFC 3551 §6).
    pub fn pcma() -> Self {
        CodecPref {
            name: "PCMA".to_owned(),
            payload_type: 8,
            clock_rate: 8000,
        }
    }

    fn matches(&self, encoding: Option<(&str, u32)>) -> bool {
        encoding.is_some_and(|(name, rate)| {
            name.eq_ignore_ascii_case(&self.name) && rate == self.clock_rate
        })
    }

    fn with_payload_type(&self, payload_type: u8) -> Self {
        CodecPref {
            payload_type,
            ..self.clone()
        }
    }
}

/// What we offer and accept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaConfig {
    /// Codecs in order of preference; our offers list them in this order. An empty list
    /// means no audio: our offers carry a disabled stream and every offer fails.
    pub codecs: Vec<CodecPref>,
    /// Offer and accept `telephone-event` with events 0-16 (RFC 4733 §7) for DTMF.
    pub telephone_event: bool,
    /// Packetization we ask the peer to use (`a=ptime`, RFC 4566 §6).
    pub ptime_ms: u32,
    /// SDES-SRTP (RFC 4568); keys come from [`SdpSession::set_srtp_key`].
    pub srtp: SrtpPolicy,
}

impl Default for MediaConfig {
    /// G.711 µ-law then A-law, DTMF events, 20 ms: what every SIP peer accepts.
    fn default() -> Self {
        MediaConfig {
            codecs: vec![CodecPref::pcmu(), CodecPref::pcma()],
            telephone_event: true,
            ptime_ms: 20,
            srtp: SrtpPolicy::Off,
        }
    }
}

/// The outcome of an offer/answer exchange: what the audio engine needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiatedMedia {
    /// Where to send RTP. An address of 0.0.0.0 means the peer holds the call the RFC 2543
    /// way; `direction` then does not allow sending.
    pub remote: SocketAddr,
    /// The codec, with the peer's payload type number (RFC 3264 §6.1 lets it differ from
    /// ours for dynamic types).
    pub codec: CodecPref,
    /// The peer's payload type for `telephone-event` (RFC 4733), if both sides have it.
    pub telephone_event_pt: Option<u8>,
    /// What we may do: send only if this sends, play out only if it receives.
    pub direction: Direction,
    /// Packetization to send with: the peer's `a=ptime` if sensible, else ours.
    pub ptime_ms: u32,
    /// SRTP keys, when both sides agreed on a suite.
    pub srtp: Option<SrtpKeys>,
}

/// Our events for `telephone-event`: the DTMF digits 0-9, *, #, A-D and flash (RFC 4733
/// §3.2).
const TELEPHONE_EVENTS: &str = "0-16";
/// The payload type most stacks use for `telephone-event`, used when free.
const PREFERRED_TELEPHONE_EVENT_PT: u8 = 101;
/// Peer `a=ptime` values outside this range are ignored as nonsense.
const SENSIBLE_PTIME_MS: std::ops::RangeInclusive<u32> = 10..=200;

/// The local side of one call's offer/answer state (RFC 3264).
#[derive(Debug, Clone)]
pub struct SdpSession {
    session_id: u64,
    /// `o=` version of the last description we produced (RFC 3264 §8).
    version: u64,
    /// The last description we produced, to tell whether the next one changes anything.
    last_local: Option<String>,
    local_rtp: SocketAddr,
    config: MediaConfig,
    /// The m-lines of the session so far: later offers keep all of them (RFC 3264 §8).
    layout: Layout,
    offer: Option<PendingOffer>,
    remote: Option<RemoteDescription>,
    negotiated: Option<NegotiatedMedia>,
    /// Our SRTP master key and salt, the same for the whole call.
    srtp_key: Option<[u8; crypto::KEY_LEN]>,
}

/// The m-lines of a description: ours (audio) at `audio`, rejected ones elsewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Layout {
    lines: Vec<Option<RejectedLine>>,
    audio: usize,
}

/// A stream the session does not use, kept with port 0 (RFC 3264 §6, §8.2).
#[derive(Debug, Clone, PartialEq, Eq)]
struct RejectedLine {
    media: String,
    proto: String,
    format: String,
}

/// Our last offer, kept until the next remote offer so that several answers to it (an
/// 183 without 100rel may repeat the answer the 200 carries, RFC 3261 §13.2.1) can be processed.
#[derive(Debug, Clone)]
struct PendingOffer {
    direction: Direction,
    layout: Layout,
    codecs: Vec<CodecPref>,
    telephone_event_pt: Option<u8>,
    /// We offered SDES keys.
    crypto: bool,
    answered: bool,
}

/// The audio line of a description we produce.
struct AudioLine<'a> {
    codecs: &'a [CodecPref],
    telephone_event_pt: Option<u8>,
    direction: Direction,
    /// `RTP/AVP` or `RTP/SAVP`.
    proto: &'a str,
    crypto: Vec<Crypto>,
}

impl SdpSession {
    /// `session_id` is the `o=` session id (RFC 4566 §5.2), chosen by the caller so that
    /// tests are deterministic; it should be random or time-based in a real call.
    pub fn new(session_id: u64, local_rtp: SocketAddr, config: MediaConfig) -> Self {
        SdpSession {
            session_id,
            version: 1,
            last_local: None,
            local_rtp,
            config,
            layout: Layout {
                lines: vec![None],
                audio: 0,
            },
            offer: None,
            remote: None,
            negotiated: None,
            srtp_key: None,
        }
    }

    /// Our SRTP master key and salt for this call (random, from the caller): offered and
    /// answered when the policy allows.
    pub fn set_srtp_key(&mut self, key: [u8; crypto::KEY_LEN]) {
        self.srtp_key = Some(key);
    }

    /// The `a=crypto` lines we offer: every suite, with our key.
    fn offered_crypto(&self) -> Vec<Crypto> {
        match (self.config.srtp, self.srtp_key) {
            (SrtpPolicy::Off, _) | (_, None) => Vec::new(),
            (_, Some(key)) => (1..)
                .zip(SrtpSuite::ALL)
                .map(|(tag, suite)| Crypto { tag, suite, key })
                .collect(),
        }
    }

    /// Our RTP address, as put in `c=` and `m=`.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_rtp
    }

    /// Changes our RTP address, e.g. after a network change; the next offer carries it
    /// (RFC 3264 §8.3.1).
    pub fn set_local_rtp(&mut self, addr: SocketAddr) {
        self.local_rtp = addr;
    }

    /// The result of the last successful exchange.
    pub fn negotiated(&self) -> Option<&NegotiatedMedia> {
        self.negotiated.as_ref()
    }

    /// Writes an offer in which we want `want` (`SendOnly` to hold, `SendRecv` to resume,
    /// RFC 3264 §8.4). The peer's own hold is preserved by its answer: offering `SendOnly`
    /// to a peer that holds us yields `inactive` (RFC 6337 §5.3).
    ///
    /// The `o=` version increases only when the description changes (RFC 3264 §8), so an
    /// offer that repeats the last one, as a session refresh (RFC 4028) or a request
    /// resent with credentials, is identical. Every m-line of the session so far is kept,
    /// rejected ones with port 0.
    pub fn create_offer(&mut self, want: Direction) -> String {
        let codecs = self.config.codecs.clone();
        let telephone_event_pt = self.offer_telephone_event_pt();
        let layout = self.layout.clone();
        let crypto = self.offered_crypto();
        let proto = if self.config.srtp == SrtpPolicy::Required && !crypto.is_empty() {
            "RTP/SAVP"
        } else {
            "RTP/AVP"
        };
        let offered_crypto = !crypto.is_empty();
        let text = self.describe(
            &layout,
            &AudioLine {
                codecs: &codecs,
                telephone_event_pt,
                direction: want,
                proto,
                crypto,
            },
        );
        self.offer = Some(PendingOffer {
            direction: want,
            layout,
            codecs,
            telephone_event_pt,
            crypto: offered_crypto,
            answered: false,
        });
        text
    }

    /// Forgets our unanswered offer after its request failed (a 488, 491 or timeout): the
    /// session stays as it was before the offer (RFC 3261 §14.1).
    pub fn abandon_offer(&mut self) {
        self.offer = None;
    }

    /// Reads the answer to our last offer.
    ///
    /// The codec is the first one in the answer's list that we offered (the answerer lists
    /// them by preference, RFC 3264 §6.1), with the answer's payload type number. Our
    /// direction is what we offered, limited by what the answer allows (RFC 3264 §7).
    pub fn process_answer(&mut self, answer: &str) -> Result<NegotiatedMedia, SdpError> {
        let offer = self.offer.as_ref().ok_or(SdpError::NoOfferPending)?;
        let remote = self.read_remote(answer)?;
        if remote.media.len() != offer.layout.lines.len() {
            return Err(SdpError::NotAnAnswer("the number of m-lines differs"));
        }
        let media = remote
            .media
            .get(offer.layout.audio)
            .ok_or(SdpError::NotAnAnswer("the number of m-lines differs"))?;
        if !media.kind.eq_ignore_ascii_case("audio") {
            return Err(SdpError::NotAnAnswer(
                "our audio m-line is answered with other media",
            ));
        }
        if media.port == 0 {
            return Err(SdpError::Rejected);
        }

        // Tolerate an answer that reuses our dynamic payload types without `a=rtpmap`.
        let encoding = |pt: u8| {
            media.encoding(pt).or_else(|| {
                offer
                    .codecs
                    .iter()
                    .find(|c| c.payload_type == pt)
                    .map(|c| (c.name.as_str(), c.clock_rate))
                    .or_else(|| {
                        (offer.telephone_event_pt == Some(pt)).then_some(("telephone-event", 8000))
                    })
            })
        };
        let codec = media
            .payload_types()
            .find_map(|pt| {
                offer
                    .codecs
                    .iter()
                    .find(|c| c.matches(encoding(pt)))
                    .map(|c| c.with_payload_type(pt))
            })
            .ok_or(SdpError::NotAnAnswer("it has no codec we offered"))?;
        let telephone_event_pt = offer
            .telephone_event_pt
            .and_then(|_| telephone_event(media.payload_types(), encoding, codec.clock_rate));
        // The answer picks one of the suites we offered, by its tag, with the peer's key.
        let srtp = match (offer.crypto, self.srtp_key) {
            (true, Some(local)) => media
                .cryptos
                .iter()
                .find(|c| {
                    SrtpSuite::ALL
                        .iter()
                        .position(|s| *s == c.suite)
                        .is_some_and(|i| i + 1 == c.tag as usize)
                })
                .map(|c| SrtpKeys {
                    suite: c.suite,
                    local,
                    remote: c.key,
                }),
            _ => None,
        };
        if srtp.is_none() && self.config.srtp == SrtpPolicy::Required {
            return Err(SdpError::Srtp("the answer has no SRTP key for our offer"));
        }
        let negotiated = self.negotiated_media(
            media,
            codec,
            telephone_event_pt,
            offer
                .direction
                .intersect(media.effective_direction().reverse()),
            srtp,
        )?;

        let layout = offer.layout.clone();
        if let Some(offer) = self.offer.as_mut() {
            offer.answered = true;
        }
        self.layout = layout;
        self.remote = Some(remote);
        self.negotiated = Some(negotiated.clone());
        Ok(negotiated)
    }

    /// Answers a peer's offer, wanting `want` ourselves (`SendOnly` while we hold).
    ///
    /// The first usable audio stream carries the call; every other m-line is answered with
    /// port 0 in the same position (RFC 3264 §6). The codec is the first of ours that the
    /// offer has, except that the codec in use is kept when still offered, so that a
    /// re-offer does not switch codecs mid-call (RFC 3264 §8.3.2 allows but does not require
    /// it). Static payload types match by number, dynamic ones by name and clock rate, and
    /// the answer uses the offer's numbers (RFC 3264 §6.1). The direction is the offer's,
    /// reversed, limited by `want`: offered sendonly gives recvonly, inactive gives inactive,
    /// and our hold against sendrecv gives sendonly (RFC 3264 §6.1).
    pub fn process_offer(
        &mut self,
        offer: &str,
        want: Direction,
    ) -> Result<(String, NegotiatedMedia), SdpError> {
        if self.offer.as_ref().is_some_and(|o| !o.answered) {
            return Err(SdpError::OfferPending);
        }
        let remote = self.read_remote(offer)?;
        let (index, codec) = self.choose_codec(&remote)?;
        let media = &remote.media[index];
        let telephone_event_pt = if self.config.telephone_event {
            telephone_event(
                media.payload_types(),
                |pt| media.encoding(pt),
                codec.clock_rate,
            )
        } else {
            None
        };
        let direction = media.effective_direction().reverse().intersect(want);
        let secure = media.proto.eq_ignore_ascii_case("RTP/SAVP");
        // The first line of the offer with a suite we have, answered with our key.
        let chosen = match (self.config.srtp, self.srtp_key) {
            (SrtpPolicy::Off, _) | (_, None) => None,
            (_, Some(key)) => media.cryptos.first().map(|c| Crypto {
                tag: c.tag,
                suite: c.suite,
                key,
            }),
        };
        // (An RTP/SAVP stream without a usable key was not chosen: see `can_carry`.)
        if chosen.is_none() && self.config.srtp == SrtpPolicy::Required {
            return Err(SdpError::Srtp("SRTP is required and the offer has no key"));
        }
        let srtp = chosen.as_ref().and_then(|ours| {
            let theirs = media.cryptos.iter().find(|c| c.tag == ours.tag)?;
            Some(SrtpKeys {
                suite: ours.suite,
                local: ours.key,
                remote: theirs.key,
            })
        });
        let negotiated =
            self.negotiated_media(media, codec, telephone_event_pt, direction, srtp)?;

        let layout = Layout {
            lines: remote
                .media
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    (i != index).then(|| RejectedLine {
                        media: m.kind.clone(),
                        proto: m.proto.clone(),
                        // `remote::parse` refuses m= lines without formats, so the
                        // default is never used.
                        format: m.formats.first().cloned().unwrap_or_default(),
                    })
                })
                .collect(),
            audio: index,
        };
        let answer = self.describe(
            &layout,
            &AudioLine {
                codecs: std::slice::from_ref(&negotiated.codec),
                telephone_event_pt,
                direction,
                proto: if secure { "RTP/SAVP" } else { "RTP/AVP" },
                crypto: chosen.into_iter().collect(),
            },
        );
        self.layout = layout;
        self.offer = None;
        self.remote = Some(remote);
        self.negotiated = Some(negotiated.clone());
        Ok((answer, negotiated))
    }

    /// Whether `sdp` differs from the last description the peer sent, judged by its `o=`
    /// line as RFC 3264 §8 prescribes. A re-INVITE whose SDP is unchanged is a session
    /// refresh (RFC 4028) or a target refresh, and needs no media change.
    pub fn remote_version_changed(&self, sdp: &str) -> Result<bool, SdpError> {
        let parsed = remote::parse(sdp)?;
        Ok(self
            .remote
            .as_ref()
            .is_none_or(|previous| previous.origin != parsed.origin))
    }

    /// Parses a peer's description; one with the same `o=` line (version included) as the
    /// previous one is the previous one (RFC 3264 §8), whatever its body says.
    fn read_remote(&self, text: &str) -> Result<RemoteDescription, SdpError> {
        let parsed = remote::parse(text)?;
        match &self.remote {
            Some(previous) if previous.origin == parsed.origin => {
                tracing::debug!(version = parsed.origin.version, "remote SDP unchanged");
                Ok(previous.clone())
            }
            _ => Ok(parsed),
        }
    }

    /// Picks the stream and codec for an offer: see [`SdpSession::process_offer`].
    fn choose_codec(&self, remote: &RemoteDescription) -> Result<(usize, CodecPref), SdpError> {
        let current = self.negotiated.as_ref().map(|n| &n.codec);
        let preferences: Vec<&CodecPref> = current
            .into_iter()
            .chain(self.config.codecs.iter())
            .collect();
        let mut audio_offered = false;
        for (index, media) in remote.media.iter().enumerate() {
            if !media.is_usable_audio() || !self.can_carry(media) {
                continue;
            }
            audio_offered = true;
            let chosen = preferences.iter().find_map(|pref| {
                media.payload_types().find_map(|pt| {
                    pref.matches(media.encoding(pt))
                        .then(|| pref.with_payload_type(pt))
                })
            });
            if let Some(codec) = chosen {
                return Ok((index, codec));
            }
        }
        Err(if audio_offered {
            SdpError::NoCommonCodec
        } else {
            SdpError::NoAudio
        })
    }

    /// Whether we can carry a stream's profile: RTP/AVP always, RTP/SAVP with SRTP on, a
    /// key of ours and a usable key of the offerer's (RFC 4568 §7.1.2).
    fn can_carry(&self, media: &RemoteMedia) -> bool {
        !media.proto.eq_ignore_ascii_case("RTP/SAVP")
            || (self.config.srtp != SrtpPolicy::Off
                && self.srtp_key.is_some()
                && !media.cryptos.is_empty())
    }

    fn negotiated_media(
        &self,
        media: &RemoteMedia,
        codec: CodecPref,
        telephone_event_pt: Option<u8>,
        direction: Direction,
        srtp: Option<SrtpKeys>,
    ) -> Result<NegotiatedMedia, SdpError> {
        let address = media.address.ok_or(SdpError::Malformed(
            "an active stream has no c= line".to_owned(),
        ))?;
        Ok(NegotiatedMedia {
            remote: SocketAddr::new(address, media.port),
            codec,
            telephone_event_pt,
            direction,
            ptime_ms: media
                .ptime
                .filter(|p| SENSIBLE_PTIME_MS.contains(p))
                .unwrap_or(self.config.ptime_ms),
            srtp,
        })
    }

    /// The payload type for `telephone-event` in our offers: 101 unless a codec uses it,
    /// else the first free dynamic number.
    fn offer_telephone_event_pt(&self) -> Option<u8> {
        if !self.config.telephone_event {
            return None;
        }
        let free = |pt: &u8| self.config.codecs.iter().all(|c| c.payload_type != *pt);
        std::iter::once(PREFERRED_TELEPHONE_EVENT_PT)
            .chain(FIRST_DYNAMIC_PT..=127)
            .find(free)
    }

    /// Writes a description with the next `o=` version if it differs from the last one we
    /// wrote, the same version otherwise (RFC 3264 §8).
    fn describe(&mut self, layout: &Layout, audio: &AudioLine<'_>) -> String {
        let mut text = self.render(self.version, layout, audio);
        if self.last_local.as_ref().is_some_and(|last| *last != text) {
            self.version = self.version.wrapping_add(1);
            text = self.render(self.version, layout, audio);
        }
        self.last_local = Some(text.clone());
        text
    }

    fn render(&self, version: u64, layout: &Layout, audio: &AudioLine<'_>) -> String {
        let ip = self.local_rtp.ip();
        let address_type = if ip.is_ipv4() { "IP4" } else { "IP6" };
        let media = layout
            .lines
            .iter()
            .map(|line| match line {
                Some(rejected) => media_description(
                    &rejected.media,
                    0,
                    &rejected.proto,
                    vec![rejected.format.clone()],
                    Vec::new(),
                ),
                None => self.audio_description(audio),
            })
            .collect();
        let description = SessionDescription {
            version: 0,
            origin: Origin {
                username: "-".to_owned(),
                session_id: self.session_id,
                session_version: version,
                network_type: "IN".to_owned(),
                address_type: address_type.to_owned(),
                unicast_address: ip.to_string(),
            },
            session_name: "-".to_owned(),
            connection_information: Some(ConnectionInformation {
                network_type: "IN".to_owned(),
                address_type: address_type.to_owned(),
                address: Some(Address {
                    address: ip.to_string(),
                    ttl: None,
                    range: None,
                }),
            }),
            time_descriptions: vec![TimeDescription {
                timing: Timing {
                    start_time: 0,
                    stop_time: 0,
                },
                repeat_times: Vec::new(),
            }],
            media_descriptions: media,
            ..SessionDescription::default()
        };
        description.marshal()
    }

    fn audio_description(&self, audio: &AudioLine<'_>) -> MediaDescription {
        if audio.codecs.is_empty() {
            // Nothing to offer: a disabled stream keeps the SDP valid (RFC 3264 §5.1).
            return media_description("audio", 0, "RTP/AVP", vec!["0".to_owned()], Vec::new());
        }
        let attribute = |key: &str, value: String| Attribute::new(key.to_owned(), Some(value));
        let mut formats = Vec::new();
        let mut attributes = Vec::new();
        for codec in audio.codecs {
            formats.push(codec.payload_type.to_string());
            attributes.push(attribute(
                "rtpmap",
                format!("{} {}/{}", codec.payload_type, codec.name, codec.clock_rate),
            ));
        }
        if let Some(pt) = audio.telephone_event_pt {
            formats.push(pt.to_string());
            attributes.push(attribute("rtpmap", format!("{pt} telephone-event/8000")));
            attributes.push(attribute("fmtp", format!("{pt} {TELEPHONE_EVENTS}")));
        }
        attributes.push(attribute("ptime", self.config.ptime_ms.to_string()));
        attributes.push(Attribute::new(audio.direction.as_str().to_owned(), None));
        for crypto in &audio.crypto {
            attributes.push(attribute("crypto", crypto.to_value()));
        }
        media_description(
            "audio",
            self.local_rtp.port(),
            audio.proto,
            formats,
            attributes,
        )
    }
}

/// The `telephone-event` payload type among `payload_types`, at the audio codec's clock
/// rate (RFC 4733: events are timed with the clock of the audio they accompany).
fn telephone_event<'a>(
    mut payload_types: impl Iterator<Item = u8>,
    encoding: impl Fn(u8) -> Option<(&'a str, u32)>,
    clock_rate: u32,
) -> Option<u8> {
    payload_types.find(|pt| {
        encoding(*pt).is_some_and(|(name, rate)| {
            name.eq_ignore_ascii_case("telephone-event") && rate == clock_rate
        })
    })
}

fn media_description(
    media: &str,
    port: u16,
    proto: &str,
    formats: Vec<String>,
    attributes: Vec<Attribute>,
) -> MediaDescription {
    MediaDescription {
        media_name: MediaName {
            media: media.to_owned(),
            port: RangedPort {
                value: isize::try_from(port)
                    .expect("isize has at least 32 bits on every target with std"),
                range: None,
            },
            // Printed joined by '/', so the whole protocol fits in one part.
            protos: vec![proto.to_owned()],
            formats,
        },
        attributes,
        ..MediaDescription::default()
    }
}

#[cfg(test)]
mod tests;
