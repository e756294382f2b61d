use super::*;
use crate::sip::message::Method;

const INVITE: &str = "INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n\
Max-Forwards: 70\r\n\
To: Bob <sip:bob@biloxi.example.com>\r\n\
From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@pc33.atlanta.example.com>\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 4\r\n\
\r\n\
v=0\n";

fn request(text: &str) -> Request {
    match decode(text.as_bytes()) {
        Ok(Message::Request(r)) => *r,
        other => panic!("expected a request, got {other:?}"),
    }
}

fn malformed(text: &str) -> Malformed {
    match decode(text.as_bytes()) {
        Err(m) => m,
        Ok(m) => panic!("expected an error, got {m:?}"),
    }
}

#[test]
fn decodes_a_typical_invite() {
    let r = request(INVITE);
    assert_eq!(r.method(), Method::Invite);
    assert_eq!(r.call_id(), "a84b4c76e66710@pc33.atlanta.example.com");
    assert_eq!(r.cseq().seq, 314159);
    assert_eq!(r.from().tag(), Some("1928301774"));
    assert_eq!(r.body(), b"v=0\n");
    assert_eq!(r.top_via().branch(), Some("z9hG4bK776asdhds"));
}

#[test]
fn encode_then_decode_is_identity() {
    let r = request(INVITE);
    let again = request(std::str::from_utf8(&r.encode()).unwrap());
    assert_eq!(again.raw, r.raw);
}

#[test]
fn tolerates_compact_forms_folding_and_spacing() {
    let text = "\r\n\r\nOPTIONS   sip:x@y   SIP/2.0\r\n\
v: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1\r\n\
f: <sip:a@b>;tag=1\r\n\
t: <sip:x@y>\r\n\
i: abc\r\n\
CSeq : 1\r\n   OPTIONS\r\n\
X-Customer-Id:   42  \r\n\
l: 0\r\n\r\n";
    let r = request(text);
    assert_eq!(r.method(), Method::Options);
    assert_eq!(r.cseq().seq, 1);
    assert_eq!(r.header("x-customer-id"), Some("42"));
    assert_eq!(r.header("Content-Length"), Some("0"));
}

#[test]
fn content_length_cuts_the_body_and_short_bodies_are_rejected() {
    let long = INVITE.replace("Content-Length: 4", "Content-Length: 2");
    assert_eq!(request(&long).body(), b"v=");
    let short = INVITE.replace("Content-Length: 4", "Content-Length: 40");
    let m = malformed(&short);
    assert!(matches!(
        m.error,
        DecodeError::Truncated { declared: 40, .. }
    ));
    let resp = String::from_utf8(m.error_response("t1").unwrap()).unwrap();
    assert!(resp.starts_with("SIP/2.0 400 Bad Request"), "{resp}");
    assert!(resp.contains("To: Bob <sip:bob@biloxi.example.com>;tag=t1\r\n"));
    assert!(resp.contains("CSeq: 314159 INVITE\r\n"));
}

#[test]
fn errors_get_the_right_status() {
    let cases = [
        (
            INVITE.replace("Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n", ""),
            None,
        ),
        (INVITE.replace("314159 INVITE", "314159 BYE"), Some("400")),
        (
            INVITE.replace("314159 INVITE", "99999999999 INVITE"),
            Some("400"),
        ),
        (
            INVITE.replace("Max-Forwards: 70", "Max-Forwards: 0"),
            Some("483"),
        ),
        (
            INVITE
                .replace("INVITE sip:", "FROBNICATE sip:")
                .replace("314159 INVITE", "314159 FROBNICATE"),
            Some("501"),
        ),
        (
            INVITE.replace(
                "bob@biloxi.example.com SIP/2.0",
                "bob@biloxi.example.com SIP/7.0",
            ),
            Some("505"),
        ),
        (
            INVITE.replace("Content-Length: 4", "Content-Length: four"),
            Some("400"),
        ),
        (
            INVITE.replace("Via: SIP/2.0/UDP pc33", "Via: SIP/2.0/UDP pc33:99999"),
            Some("400"),
        ),
        (
            INVITE.replace("Max-Forwards: 70\r\n", "Max-Forwards 70\r\n"),
            Some("400"),
        ),
    ];
    for (text, status) in cases {
        let m = malformed(&text);
        let resp = m.error_response("x").map(|r| String::from_utf8(r).unwrap());
        match status {
            None => assert!(resp.is_none(), "{text}"),
            Some(s) => {
                let resp = resp.unwrap_or_else(|| panic!("no response for {}", m.error));
                assert!(resp.starts_with(&format!("SIP/2.0 {s} ")), "{resp}");
            }
        }
    }
}

#[test]
fn responses_keep_their_reason_phrase() {
    let text = "SIP/2.0 486 Agent Busy\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\n\
From: <sip:a@b>;tag=1\r\nTo: <sip:c@d>;tag=2\r\nCall-ID: x\r\nCSeq: 2 INVITE\r\n\
Content-Length: 0\r\n\r\n";
    match decode(text.as_bytes()) {
        Ok(Message::Response(r)) => {
            assert_eq!(r.code, 486);
            assert_eq!(r.reason, "Agent Busy");
            assert_eq!(r.to().tag(), Some("2"));
        }
        other => panic!("{other:?}"),
    }
    let no_reason = text.replace("486 Agent Busy", "180 ");
    assert!(matches!(decode(no_reason.as_bytes()), Ok(Message::Response(r)) if r.code == 180));
}

#[test]
fn stream_framing() {
    let msg = INVITE.as_bytes();
    assert_eq!(next_frame(msg), Frame::Message(msg.len()));
    assert_eq!(next_frame(&msg[..msg.len() - 1]), Frame::Incomplete);
    assert_eq!(next_frame(&msg[..20]), Frame::Incomplete);
    assert_eq!(next_frame(b"\r\n\r\nINVITE"), Frame::Ping);
    assert_eq!(next_frame(b"\r\n"), Frame::Pong);
    assert_eq!(next_frame(b"\r\n\r"), Frame::Incomplete);
    assert_eq!(next_frame(b"\r\nSIP/2.0"), Frame::Pong);
    let no_length = INVITE.replace("Content-Length: 4\r\n", "");
    assert!(matches!(
        next_frame(no_length.as_bytes()),
        Frame::Invalid(_)
    ));
    let compact = INVITE.replace("Content-Length: 4", "l: 4");
    assert_eq!(
        next_frame(compact.as_bytes()),
        Frame::Message(compact.len())
    );
}

proptest::proptest! {
    #[test]
    fn decode_never_panics(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
        if let Err(m) = decode(&bytes) {
            let _ = m.error_response("t");
        }
        let _ = next_frame(&bytes);
    }

    #[test]
    fn decode_never_panics_on_mutated_invites(pos in 0usize..INVITE.len(), byte in proptest::num::u8::ANY, cut in 0usize..INVITE.len()) {
        let mut bytes = INVITE.as_bytes().to_vec();
        bytes[pos] = byte;
        let _ = decode(&bytes);
        let _ = decode(&bytes[..cut]);
    }
}
