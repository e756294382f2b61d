//! Offer/answer exchanges between two [`SdpSession`]s and against SDP from real peers.

use super::*;
use proptest::prelude::*;
use Direction::{Inactive, RecvOnly, SendOnly, SendRecv};

const ALICE: &str = "192.0.2.10:40000";
const BOB: &str = "198.51.100.20:50000";

fn addr(text: &str) -> SocketAddr {
    text.parse().expect("test addresses are valid")
}

fn session(id: u64, local: &str) -> SdpSession {
    SdpSession::new(id, addr(local), MediaConfig::default())
}

/// One complete exchange: `offerer` offers wanting `offer_want`, `answerer` answers wanting
/// `answer_want`. Returns (offerer's result, answerer's result).
fn exchange(
    offerer: &mut SdpSession,
    offer_want: Direction,
    answerer: &mut SdpSession,
    answer_want: Direction,
) -> (NegotiatedMedia, NegotiatedMedia) {
    let offer = offerer.create_offer(offer_want);
    let (answer, answered) = answerer
        .process_offer(&offer, answer_want)
        .expect("the offer is acceptable");
    let offered = offerer
        .process_answer(&answer)
        .expect("the answer is acceptable");
    (offered, answered)
}

fn version(sdp: &str) -> u64 {
    let origin = sdp
        .lines()
        .find(|l| l.starts_with("o="))
        .expect("every SDP has an o= line");
    origin
        .split_whitespace()
        .nth(2)
        .and_then(|v| v.parse().ok())
        .expect("o= has a numeric version")
}

fn m_lines(sdp: &str) -> Vec<&str> {
    sdp.lines().filter(|l| l.starts_with("m=")).collect()
}

#[test]
fn initial_offer_is_exactly_what_we_expect() {
    let mut alice = session(1111, ALICE);
    assert_eq!(
        alice.create_offer(SendRecv),
        "v=0\r\n\
         o=- 1111 1 IN IP4 192.0.2.10\r\n\
         s=-\r\n\
         c=IN IP4 192.0.2.10\r\n\
         t=0 0\r\n\
         m=audio 40000 RTP/AVP 0 8 101\r\n\
         a=rtpmap:0 PCMU/8000\r\n\
         a=rtpmap:8 PCMA/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\n\
         a=fmtp:101 0-16\r\n\
         a=ptime:20\r\n\
         a=sendrecv\r\n"
    );
}

#[test]
fn round_trip_between_two_sessions() {
    let mut alice = session(1, ALICE);
    let mut bob = session(2, BOB);
    let offer = alice.create_offer(SendRecv);
    let (answer, at_bob) = bob.process_offer(&offer, SendRecv).expect("acceptable");
    assert_eq!(m_lines(&answer), ["m=audio 50000 RTP/AVP 0 101"]);
    assert!(answer.contains("a=sendrecv\r\n"));
    let at_alice = alice.process_answer(&answer).expect("acceptable");

    let expected = |remote: &str| NegotiatedMedia {
        remote: addr(remote),
        codec: CodecPref::pcmu(),
        telephone_event_pt: Some(101),
        direction: SendRecv,
        ptime_ms: 20,
        srtp: None,
    };
    assert_eq!(at_alice, expected(BOB));
    assert_eq!(at_bob, expected(ALICE));
    assert_eq!(alice.negotiated(), Some(&at_alice));
    assert_eq!(bob.negotiated(), Some(&at_bob));
}

#[test]
fn answerer_picks_its_own_preference_and_offerer_follows() {
    let mut alice = session(1, ALICE);
    let mut bob = SdpSession::new(
        2,
        addr(BOB),
        MediaConfig {
            codecs: vec![CodecPref::pcma(), CodecPref::pcmu()],
            telephone_event: false,
            ptime_ms: 30,
            srtp: SrtpPolicy::Off,
        },
    );
    let (at_alice, at_bob) = exchange(&mut alice, SendRecv, &mut bob, SendRecv);
    assert_eq!(at_bob.codec, CodecPref::pcma());
    assert_eq!(at_alice.codec, CodecPref::pcma());
    assert_eq!(at_alice.telephone_event_pt, None);
    assert_eq!(at_bob.telephone_event_pt, None);
    // Each side sends with the packetization the other asked for.
    assert_eq!(at_alice.ptime_ms, 30);
    assert_eq!(at_bob.ptime_ms, 20);

    // A re-offer from Alice lists PCMU first; Bob keeps PCMA rather than switching.
    let (at_alice, at_bob) = exchange(&mut alice, SendOnly, &mut bob, SendRecv);
    assert_eq!(
        (at_alice.codec.name.as_str(), at_bob.codec.name.as_str()),
        ("PCMA", "PCMA")
    );
}

/// RFC 3264 §8.4 and RFC 6337 §5.3: hold and resume by the side that offered first.
#[test]
fn offerer_holds_and_resumes() {
    let mut alice = session(1, ALICE);
    let mut bob = session(2, BOB);
    exchange(&mut alice, SendRecv, &mut bob, SendRecv);

    let hold = alice.create_offer(SendOnly);
    assert!(hold.contains("a=sendonly\r\n"));
    assert_eq!(version(&hold), 2);
    let (answer, at_bob) = bob.process_offer(&hold, SendRecv).expect("acceptable");
    assert!(answer.contains("a=recvonly\r\n"));
    assert_eq!(version(&answer), 2);
    assert_eq!(at_bob.direction, RecvOnly);
    assert_eq!(
        alice.process_answer(&answer).map(|n| n.direction),
        Ok(SendOnly)
    );

    let (at_alice, at_bob) = exchange(&mut alice, SendRecv, &mut bob, SendRecv);
    assert_eq!((at_alice.direction, at_bob.direction), (SendRecv, SendRecv));
}

/// Hold from the answering side, then both sides holding (inactive), then resuming one at
/// a time (RFC 6337 §5.3).
#[test]
fn answerer_holds_and_mutual_hold() {
    let mut alice = session(1, ALICE);
    let mut bob = session(2, BOB);
    exchange(&mut alice, SendRecv, &mut bob, SendRecv);

    // Bob holds Alice with a re-INVITE of his own.
    let (at_bob, at_alice) = exchange(&mut bob, SendOnly, &mut alice, SendRecv);
    assert_eq!((at_bob.direction, at_alice.direction), (SendOnly, RecvOnly));

    // Alice holds too: she offers sendonly, Bob still holds, so the answer is inactive.
    let offer = alice.create_offer(SendOnly);
    let (answer, at_bob) = bob.process_offer(&offer, SendOnly).expect("acceptable");
    assert!(answer.contains("a=inactive\r\n"));
    assert_eq!(at_bob.direction, Inactive);
    assert_eq!(
        alice.process_answer(&answer).map(|n| n.direction),
        Ok(Inactive)
    );

    // Bob resumes while Alice still holds: he may receive only.
    let (at_bob, at_alice) = exchange(&mut bob, SendRecv, &mut alice, SendOnly);
    assert_eq!((at_bob.direction, at_alice.direction), (RecvOnly, SendOnly));

    // Alice resumes: both ways again.
    let (at_alice, at_bob) = exchange(&mut alice, SendRecv, &mut bob, SendRecv);
    assert_eq!((at_alice.direction, at_bob.direction), (SendRecv, SendRecv));
}

#[test]
fn offered_directions_are_reversed_in_the_answer() {
    for (offered, answered) in [
        (SendRecv, SendRecv),
        (SendOnly, RecvOnly),
        (RecvOnly, SendOnly),
        (Inactive, Inactive),
    ] {
        let mut alice = session(1, ALICE);
        let mut bob = session(2, BOB);
        let offer = alice.create_offer(offered);
        let (answer, at_bob) = bob.process_offer(&offer, SendRecv).expect("acceptable");
        assert_eq!(at_bob.direction, answered);
        assert!(answer.contains(&format!("a={answered}\r\n")));
        assert_eq!(
            alice.process_answer(&answer).map(|n| n.direction),
            Ok(offered)
        );
    }
}

const LEGACY_HOLD: &str = "v=0\r\n\
    o=legacy 5 6 IN IP4 203.0.113.7\r\n\
    s=call\r\n\
    c=IN IP4 0.0.0.0\r\n\
    t=0 0\r\n\
    m=audio 7078 RTP/AVP 0\r\n";

/// RFC 3264 §8.4, RFC 6337 §5.4: `c=0.0.0.0` asks for no media, as sendonly would.
#[test]
fn legacy_hold_with_zero_address() {
    let mut bob = session(2, BOB);
    let (answer, at_bob) = bob
        .process_offer(LEGACY_HOLD, SendRecv)
        .expect("acceptable");
    assert_eq!(at_bob.direction, RecvOnly);
    assert_eq!(at_bob.remote, addr("0.0.0.0:7078"));
    assert!(answer.contains("a=recvonly\r\n"));

    // The same in an answer to our offer.
    let mut alice = session(1, ALICE);
    alice.create_offer(SendRecv);
    assert_eq!(
        alice.process_answer(LEGACY_HOLD).map(|n| n.direction),
        Ok(RecvOnly)
    );

    // An IPv6 peer doing the same with `::`.
    let mut carol = session(3, "[2001:db8::3]:4000");
    let v6_hold = LEGACY_HOLD.replace("IP4 0.0.0.0", "IP6 ::");
    let (_, at_carol) = carol.process_offer(&v6_hold, SendRecv).expect("acceptable");
    assert_eq!(at_carol.direction, RecvOnly);
}

#[test]
fn media_level_direction_wins_over_session_level() {
    let offer = "v=0\r\no=- 1 1 IN IP4 203.0.113.7\r\ns=-\r\nc=IN IP4 203.0.113.7\r\nt=0 0\r\n\
                 a=sendonly\r\nm=audio 7078 RTP/AVP 0\r\na=inactive\r\n";
    let (_, n) = session(2, BOB)
        .process_offer(offer, SendRecv)
        .expect("acceptable");
    assert_eq!(n.direction, Inactive);
    let offer = offer.replace("a=inactive\r\n", "");
    let (_, n) = session(2, BOB)
        .process_offer(&offer, SendRecv)
        .expect("acceptable");
    assert_eq!(n.direction, RecvOnly);
}

#[test]
fn static_payload_types_without_rtpmap() {
    let offer = "v=0\r\no=- 1 1 IN IP4 203.0.113.7\r\ns=-\r\nc=IN IP4 203.0.113.7\r\nt=0 0\r\n\
                 m=audio 7078 RTP/AVP 18 8\r\n";
    let (answer, n) = session(2, BOB)
        .process_offer(offer, SendRecv)
        .expect("acceptable");
    assert_eq!(n.codec, CodecPref::pcma());
    assert_eq!(n.telephone_event_pt, None);
    assert_eq!(m_lines(&answer), ["m=audio 50000 RTP/AVP 8"]);
    assert!(answer.contains("a=rtpmap:8 PCMA/8000\r\n"));
}

#[test]
fn telephone_event_uses_the_offered_payload_type() {
    let offer = "v=0\r\no=- 1 1 IN IP4 203.0.113.7\r\ns=-\r\nc=IN IP4 203.0.113.7\r\nt=0 0\r\n\
                 m=audio 7078 RTP/AVP 0 97 96\r\n\
                 a=rtpmap:97 telephone-event/16000\r\n\
                 a=rtpmap:96 telephone-event/8000\r\na=fmtp:96 0-15\r\n";
    let (answer, n) = session(2, BOB)
        .process_offer(offer, SendRecv)
        .expect("acceptable");
    assert_eq!(n.telephone_event_pt, Some(96));
    assert_eq!(m_lines(&answer), ["m=audio 50000 RTP/AVP 0 96"]);
    assert!(answer.contains("a=rtpmap:96 telephone-event/8000\r\na=fmtp:96 0-16\r\n"));

    // Our offer says 101; an answer may use another number (RFC 3264 §6.1 "SHOULD").
    let mut alice = session(1, ALICE);
    alice.create_offer(SendRecv);
    let answer = offer.replace("0 97 96", "0 96");
    assert_eq!(
        alice.process_answer(&answer).map(|n| n.telephone_event_pt),
        Ok(Some(96))
    );
    // And one that repeats our 101 without an rtpmap is understood.
    let answer = "v=0\r\no=- 2 1 IN IP4 203.0.113.7\r\ns=-\r\nc=IN IP4 203.0.113.7\r\nt=0 0\r\n\
                  m=audio 7078 RTP/AVP 0 101\r\n";
    assert_eq!(
        alice.process_answer(answer).map(|n| n.telephone_event_pt),
        Ok(Some(101))
    );
}

#[test]
fn telephone_event_payload_type_avoids_codec_numbers() {
    let mut alice = SdpSession::new(
        1,
        addr(ALICE),
        MediaConfig {
            codecs: vec![
                CodecPref {
                    name: "opus".into(),
                    payload_type: 101,
                    clock_rate: 48000,
                },
                CodecPref::pcmu(),
            ],
            ..MediaConfig::default()
        },
    );
    let offer = alice.create_offer(SendRecv);
    assert_eq!(m_lines(&offer), ["m=audio 40000 RTP/AVP 101 0 96"]);
    assert!(offer.contains("a=rtpmap:96 telephone-event/8000\r\n"));
}

#[test]
fn other_media_lines_are_rejected_in_place() {
    let offer = "v=0\r\no=- 1 1 IN IP4 203.0.113.7\r\ns=-\r\nc=IN IP4 203.0.113.7\r\nt=0 0\r\n\
                 m=video 9000 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n\
                 m=audio 0 RTP/AVP 0\r\n\
                 m=audio 7078 RTP/SAVP 0\r\n\
                 m=audio 7080 RTP/AVP 0 8\r\n\
                 m=application 9 TCP/BFCP *\r\n";
    let mut bob = session(2, BOB);
    let (answer, n) = bob.process_offer(offer, SendRecv).expect("acceptable");
    assert_eq!(n.remote, addr("203.0.113.7:7080"));
    assert_eq!(
        m_lines(&answer),
        [
            "m=video 0 RTP/AVP 96",
            "m=audio 0 RTP/AVP 0",
            "m=audio 0 RTP/SAVP 0",
            "m=audio 50000 RTP/AVP 0",
            "m=application 0 TCP/BFCP *",
        ]
    );
    // Bob's own re-offer keeps every m-line (RFC 3264 §8).
    let hold = bob.create_offer(SendOnly);
    assert_eq!(m_lines(&hold), {
        let mut lines = m_lines(&answer);
        lines[3] = "m=audio 50000 RTP/AVP 0 8 101";
        lines
    });
    // An answer must match that layout.
    let short = "v=0\r\no=- 9 1 IN IP4 203.0.113.7\r\ns=-\r\nc=IN IP4 203.0.113.7\r\nt=0 0\r\n\
                 m=audio 7080 RTP/AVP 0\r\n";
    assert_eq!(
        bob.process_answer(short),
        Err(SdpError::NotAnAnswer("the number of m-lines differs"))
    );
    let mut alice = session(1, ALICE);
    let (reply, at_alice) = alice.process_offer(&hold, SendRecv).expect("acceptable");
    assert_eq!(at_alice.direction, RecvOnly);
    assert_eq!(
        bob.process_answer(&reply).map(|n| n.direction),
        Ok(SendOnly)
    );
}

#[test]
fn versions_change_only_with_content() {
    let mut alice = session(1, ALICE);
    let mut bob = session(2, BOB);
    let first = alice.create_offer(SendRecv);
    // A resend (after a 401, say) is the same description.
    assert_eq!(alice.create_offer(SendRecv), first);
    let (answer, _) = bob.process_offer(&first, SendRecv).expect("acceptable");
    alice.process_answer(&answer).expect("acceptable");

    // A session refresh changes nothing, on both sides.
    let refresh = alice.create_offer(SendRecv);
    assert_eq!(refresh, first);
    assert_eq!(bob.remote_version_changed(&refresh), Ok(false));
    let (same_answer, _) = bob.process_offer(&refresh, SendRecv).expect("acceptable");
    assert_eq!(same_answer, answer);
    alice.process_answer(&same_answer).expect("acceptable");

    // A new address is a change.
    alice.set_local_rtp(addr("192.0.2.11:40002"));
    assert_eq!(alice.local_addr(), addr("192.0.2.11:40002"));
    let moved = alice.create_offer(SendRecv);
    assert_eq!(version(&moved), version(&first) + 1);
    assert_eq!(bob.remote_version_changed(&moved), Ok(true));
    let (_, at_bob) = bob.process_offer(&moved, SendRecv).expect("acceptable");
    assert_eq!(at_bob.remote, addr("192.0.2.11:40002"));
}

#[test]
fn remote_sdp_with_the_same_version_is_unchanged() {
    let mut bob = session(2, BOB);
    let offer = "v=0\r\no=peer 77 3 IN IP4 203.0.113.7\r\ns=-\r\nc=IN IP4 203.0.113.7\r\nt=0 0\r\n\
                 m=audio 7078 RTP/AVP 0\r\n";
    let (answer, first) = bob.process_offer(offer, SendRecv).expect("acceptable");
    // Same o= line, different body: the body is not looked at (RFC 3264 §8).
    let sloppy = offer.replace("7078", "9999");
    let (again, second) = bob.process_offer(&sloppy, SendRecv).expect("acceptable");
    assert_eq!((again, second), (answer, first));
    let bumped = sloppy.replace("77 3", "77 4");
    let (_, third) = bob.process_offer(&bumped, SendRecv).expect("acceptable");
    assert_eq!(third.remote.port(), 9999);
}

#[test]
fn ipv6_both_ways() {
    let mut alice = session(1, "[2001:db8::a]:40000");
    let mut bob = session(2, "[2001:db8::b]:50000");
    let offer = alice.create_offer(SendRecv);
    assert!(offer.contains("o=- 1 1 IN IP6 2001:db8::a\r\n"));
    assert!(offer.contains("c=IN IP6 2001:db8::a\r\n"));
    let (answer, at_bob) = bob.process_offer(&offer, SendRecv).expect("acceptable");
    assert_eq!(at_bob.remote, addr("[2001:db8::a]:40000"));
    let at_alice = alice.process_answer(&answer).expect("acceptable");
    assert_eq!(at_alice.remote, addr("[2001:db8::b]:50000"));
}

/// An INVITE from baresip 3.x with its default audio modules, LF line ends.
const BARESIP_OFFER: &str = "v=0\n\
o=- 1589934180 2139541637 IN IP4 192.168.1.23\n\
s=-\n\
c=IN IP4 192.168.1.23\n\
t=0 0\n\
a=tool:baresip 3.10.1\n\
m=audio 10242 RTP/AVP 96 9 0 8 101\n\
b=AS:107\n\
a=rtpmap:96 opus/48000/2\n\
a=fmtp:96 stereo=1;sprop-stereo=1\n\
a=rtpmap:9 G722/8000\n\
a=rtpmap:0 PCMU/8000\n\
a=rtpmap:8 PCMA/8000\n\
a=rtpmap:101 telephone-event/8000\n\
a=fmtp:101 0-15\n\
a=rtcp-rsize\n\
a=label:1\n\
a=sendrecv\n\
a=ssrc:3452843152 cname:2fa4b8e0-7b0d-4e9a-b1a4-0c7f0e3c7b0f\n\
a=ptime:20\n\
m=video 10244 RTP/AVP 97\n\
b=AS:512\n\
a=rtpmap:97 H264/90000\n\
a=fmtp:97 packetization-mode=1\n\
a=rtcp-fb:* nack pli\n\
a=sendrecv\n";

#[test]
fn baresip_offer() {
    let (answer, n) = session(2, BOB)
        .process_offer(BARESIP_OFFER, SendRecv)
        .expect("acceptable");
    assert_eq!(
        n,
        NegotiatedMedia {
            remote: addr("192.168.1.23:10242"),
            codec: CodecPref::pcmu(),
            telephone_event_pt: Some(101),
            direction: SendRecv,
            ptime_ms: 20,
            srtp: None,
        }
    );
    assert_eq!(
        m_lines(&answer),
        ["m=audio 50000 RTP/AVP 0 101", "m=video 0 RTP/AVP 97"]
    );
}

#[test]
fn baresip_answer_to_our_offer() {
    let mut alice = session(1, ALICE);
    alice.create_offer(SendRecv);
    let answer = "v=0\r\no=- 2281963417 3093213711 IN IP4 192.168.1.23\r\ns=-\r\n\
                  c=IN IP4 192.168.1.23\r\nt=0 0\r\na=tool:baresip 3.10.1\r\n\
                  m=audio 10250 RTP/AVP 8 101\r\nb=AS:80\r\na=rtpmap:8 PCMA/8000\r\n\
                  a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=rtcp-rsize\r\n\
                  a=label:1\r\na=sendrecv\r\na=ptime:20\r\n";
    let n = alice.process_answer(answer).expect("acceptable");
    assert_eq!(n.codec, CodecPref::pcma());
    assert_eq!(n.telephone_event_pt, Some(101));
    assert_eq!(n.remote, addr("192.168.1.23:10250"));
}

/// The body of sipp's built-in `uac` and `uas` scenarios, as sipp fills it in.
const SIPP_DEFAULT: &str = "v=0\n\
o=user1 53655765 2353687637 IN IP4 127.0.0.1\n\
s=-\n\
c=IN IP4 127.0.0.1\n\
t=0 0\n\
m=audio 6000 RTP/AVP 0\n\
a=rtpmap:0 PCMU/8000\n";

/// The body of sipp's `uac_pcap` scenario.
const SIPP_PCAP: &str = "v=0\r\n\
o=user1 53655765 2353687637 IN IP4 127.0.0.1\r\n\
s=-\r\n\
c=IN IP4 127.0.0.1\r\n\
t=0 0\r\n\
m=audio 6000 RTP/AVP 8 101\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-11,16\r\n";

#[test]
fn sipp_offers() {
    let (answer, n) = session(2, BOB)
        .process_offer(SIPP_DEFAULT, SendRecv)
        .expect("acceptable");
    assert_eq!(n.codec, CodecPref::pcmu());
    assert_eq!(n.telephone_event_pt, None);
    assert_eq!(n.remote, addr("127.0.0.1:6000"));
    assert_eq!(m_lines(&answer), ["m=audio 50000 RTP/AVP 0"]);
    assert!(!answer.contains("telephone-event"));

    let (_, n) = session(2, BOB)
        .process_offer(SIPP_PCAP, SendRecv)
        .expect("acceptable");
    assert_eq!(
        (n.codec, n.telephone_event_pt),
        (CodecPref::pcma(), Some(101))
    );
}

#[test]
fn sipp_uas_answer() {
    let mut alice = session(1, ALICE);
    alice.create_offer(SendRecv);
    let n = alice.process_answer(SIPP_DEFAULT).expect("acceptable");
    assert_eq!((n.codec, n.telephone_event_pt), (CodecPref::pcmu(), None));
}

#[test]
fn errors_leave_the_session_unchanged() {
    let mut alice = session(1, ALICE);
    let mut bob = session(2, BOB);
    let (alice_before, bob_before) = exchange(&mut alice, SendRecv, &mut bob, SendRecv);

    let g729_only = SIPP_DEFAULT
        .replace("RTP/AVP 0", "RTP/AVP 18")
        .replace("a=rtpmap:0 PCMU/8000", "a=rtpmap:18 G729/8000")
        .replace("2353687637", "2353687638");
    assert_eq!(
        bob.process_offer(&g729_only, SendRecv),
        Err(SdpError::NoCommonCodec)
    );
    let video_only = SIPP_DEFAULT
        .replace("m=audio", "m=video")
        .replace("2353687637", "2353687639");
    assert_eq!(
        bob.process_offer(&video_only, SendRecv),
        Err(SdpError::NoAudio)
    );
    let srtp_only = SIPP_DEFAULT.replace("RTP/AVP", "RTP/SAVP");
    assert_eq!(
        bob.process_offer(&srtp_only, SendRecv),
        Err(SdpError::NoAudio)
    );
    assert!(matches!(
        bob.process_offer("v=0\r\nnonsense", SendRecv),
        Err(SdpError::Malformed(_))
    ));
    assert_eq!(bob.negotiated(), Some(&bob_before));

    assert_eq!(
        bob.process_answer(SIPP_DEFAULT),
        Err(SdpError::NoOfferPending)
    );
    alice.create_offer(SendOnly);
    let rejected = SIPP_DEFAULT.replace("audio 6000", "audio 0");
    assert_eq!(alice.process_answer(&rejected), Err(SdpError::Rejected));
    let wrong_codec = SIPP_DEFAULT
        .replace("RTP/AVP 0", "RTP/AVP 18")
        .replace("a=rtpmap:0 PCMU/8000", "");
    assert_eq!(
        alice.process_answer(&wrong_codec),
        Err(SdpError::NotAnAnswer("it has no codec we offered"))
    );
    // Glare: Bob's offer while Alice's is unanswered.
    assert_eq!(
        alice.process_offer(SIPP_DEFAULT, SendRecv),
        Err(SdpError::OfferPending)
    );
    assert_eq!(alice.negotiated(), Some(&alice_before));
    // After the re-INVITE fails, Alice can take an offer again.
    alice.abandon_offer();
    assert!(alice.process_offer(SIPP_DEFAULT, SendRecv).is_ok());
}

/// An unreliable 183 and then the 200 both carry the answer (RFC 3261 §13.2.1).
#[test]
fn the_same_answer_may_come_twice() {
    let mut alice = session(1, ALICE);
    alice.create_offer(SendRecv);
    let early = alice.process_answer(SIPP_DEFAULT).expect("acceptable");
    let fin = alice.process_answer(SIPP_DEFAULT).expect("acceptable");
    assert_eq!(early, fin);
}

#[test]
fn remote_ptime_is_used_when_sensible() {
    for (ptime, expected) in [("30", 30), ("0", 20), ("5000", 20), ("x", 20)] {
        let offer = format!("{SIPP_DEFAULT}a=ptime:{ptime}\n");
        let (_, n) = session(2, BOB)
            .process_offer(&offer, SendRecv)
            .expect("acceptable");
        assert_eq!(n.ptime_ms, expected, "a=ptime:{ptime}");
    }
}

#[test]
fn no_codecs_configured() {
    let mut mute = SdpSession::new(
        1,
        addr(ALICE),
        MediaConfig {
            codecs: Vec::new(),
            ..MediaConfig::default()
        },
    );
    assert_eq!(
        m_lines(&mute.create_offer(SendRecv)),
        ["m=audio 0 RTP/AVP 0"]
    );
    mute.abandon_offer();
    assert_eq!(
        mute.process_offer(SIPP_DEFAULT, SendRecv),
        Err(SdpError::NoCommonCodec)
    );
}

/// Lines that look like SDP, some broken, for the structured fuzz test below.
fn sdp_line() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("v=0".to_owned()),
        Just("o=- 1 1 IN IP4 192.0.2.1".to_owned()),
        Just("o=- 1 1 IN IP6 ::1".to_owned()),
        Just("s=-".to_owned()),
        Just("c=IN IP4 192.0.2.1".to_owned()),
        Just("c=IN IP4 0.0.0.0".to_owned()),
        Just("c=IN IP6 ::".to_owned()),
        Just("t=0 0".to_owned()),
        Just("a=sendonly".to_owned()),
        Just("a=rtpmap:101 telephone-event/8000".to_owned()),
        Just("a=rtpmap:0 PCMU/8000".to_owned()),
        Just("m=audio 4000 RTP/AVP 0 8 101".to_owned()),
        Just("m=video 4002 RTP/AVP 96".to_owned()),
        Just("m=audio 0 RTP/AVP 0".to_owned()),
        "[a-z]=[ -~]{0,20}",
        "m=[a-z]{0,6} [0-9]{0,6}(/[0-9])? [A-Z/]{0,10}( [0-9]{1,4}){0,3}",
        "a=(rtpmap|ptime|fmtp):[0-9 /a-z.-]{0,16}",
        "c=IN IP[46] [0-9a-f.:/]{0,20}",
        "o=[ -~]{0,30}",
    ]
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in ".{0,400}") {
        let mut bob = session(2, BOB);
        let _ = bob.process_offer(&text, SendRecv);
        let mut alice = session(1, ALICE);
        alice.create_offer(SendRecv);
        let _ = alice.process_answer(&text);
        let _ = alice.remote_version_changed(&text);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn sdp_like_text_never_panics(
        header in any::<bool>(),
        lines in prop::collection::vec(sdp_line(), 0..16),
        crlf in any::<bool>(),
        want in prop_oneof![Just(SendRecv), Just(SendOnly), Just(RecvOnly), Just(Inactive)],
    ) {
        // With a valid header, many of the generated descriptions are acceptable offers.
        let header = if header { "v=0\no=- 9 9 IN IP4 192.0.2.1\nc=IN IP4 192.0.2.1\n" } else { "" };
        let text = format!("{header}{}", lines.join(if crlf { "\r\n" } else { "\n" }));
        let mut bob = session(2, BOB);
        if let Ok((answer, _)) = bob.process_offer(&text, want) {
            // Whatever we answer, we can read back.
            let mut check = session(3, ALICE);
            prop_assert!(check.process_offer(&answer, SendRecv).is_ok());
        }
        let mut alice = session(1, ALICE);
        alice.create_offer(want);
        let _ = alice.process_answer(&text);
    }
}

fn secure(id: u64, local: &str, policy: SrtpPolicy, key: u8) -> SdpSession {
    let mut s = SdpSession::new(
        id,
        addr(local),
        MediaConfig {
            srtp: policy,
            ..MediaConfig::default()
        },
    );
    s.set_srtp_key([key; crypto::KEY_LEN]);
    s
}

#[test]
fn sdes_keys_are_exchanged_and_mirrored() {
    let mut alice = secure(1, ALICE, SrtpPolicy::Optional, 0xA1);
    let mut bob = secure(2, BOB, SrtpPolicy::Optional, 0xB2);
    let offer = alice.create_offer(SendRecv);
    assert!(offer.contains("m=audio 40000 RTP/AVP "), "{offer}");
    assert!(
        offer.contains("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"),
        "{offer}"
    );
    assert!(
        offer.contains("a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:"),
        "{offer}"
    );
    let (answer, answered) = bob.process_offer(&offer, SendRecv).unwrap();
    assert_eq!(answer.matches("a=crypto:").count(), 1, "{answer}");
    assert!(answer.contains("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"));
    let offered = alice.process_answer(&answer).unwrap();
    let (a, b) = (offered.srtp.unwrap(), answered.srtp.unwrap());
    assert_eq!(
        (a.suite, a.local, a.remote),
        (SrtpSuite::AesCm128HmacSha1_80, [0xA1; 30], [0xB2; 30])
    );
    assert_eq!((b.local, b.remote), (a.remote, a.local));
    // A re-offer keeps the key: SRTP contexts (and their rollover counters) go on.
    let (again, _) = exchange(&mut alice, SendOnly, &mut bob, SendRecv);
    assert_eq!(again.srtp.unwrap().local, [0xA1; 30]);
}

#[test]
fn required_srtp_offers_savp_and_refuses_calls_without_keys() {
    let mut alice = secure(1, ALICE, SrtpPolicy::Required, 0xA1);
    let offer = alice.create_offer(SendRecv);
    assert!(offer.contains("RTP/SAVP"), "{offer}");
    // A plain answerer cannot take RTP/SAVP; an optional one answers in kind.
    assert_eq!(
        session(2, BOB).process_offer(&offer, SendRecv).unwrap_err(),
        SdpError::NoAudio
    );
    let (answer, _) = secure(3, BOB, SrtpPolicy::Optional, 0xB2)
        .process_offer(&offer, SendRecv)
        .unwrap();
    assert!(answer.contains("m=audio 50000 RTP/SAVP "), "{answer}");
    // A plain offer to a requiring answerer: 488.
    let plain = session(4, BOB).create_offer(SendRecv);
    assert_eq!(
        secure(5, ALICE, SrtpPolicy::Required, 1)
            .process_offer(&plain, SendRecv)
            .unwrap_err(),
        SdpError::Srtp("SRTP is required and the offer has no key")
    );
    // An answer that drops the keys fails a requiring offerer; an optional one goes plain.
    let mut plain_bob = session(6, BOB);
    let mut optional = secure(7, ALICE, SrtpPolicy::Optional, 1);
    let (negotiated, _) = exchange(&mut optional, SendRecv, &mut plain_bob, SendRecv);
    assert_eq!(negotiated.srtp, None);
    let (answer, _) = session(8, BOB)
        .process_offer(&optional.create_offer(SendRecv), SendRecv)
        .unwrap();
    assert!(!answer.contains("a=crypto"));
    let mut requiring = secure(9, ALICE, SrtpPolicy::Required, 1);
    requiring.create_offer(SendRecv);
    assert_eq!(
        requiring
            .process_answer(&answer.replace("RTP/AVP", "RTP/SAVP"))
            .unwrap_err(),
        SdpError::Srtp("the answer has no SRTP key for our offer")
    );
}
