//! Parse and print throughput of the SIP codec (DESIGN §10; results in docs/benchmarks.md).
//!
//! Two messages of a typical inbound call as a contact-center PBX sends and receives them:
//! an INVITE with an SDP offer (two Vias, Record-Route, Contact, Allow, Supported, session
//! timer, an `X-` header, PCMU/PCMA/telephone-event) and the 200 OK with the SDP answer.
//! Each is decoded with [`codec::decode`] and printed with [`Request::encode`] /
//! [`codec::encode_response`].
//!
//! ```sh
//! cargo bench -p parley-core --bench codec          # criterion: time and MB/s per message
//! bench/codec.sh                                    # the same, plus messages/s and callgrind
//! ```
//!
//! With `PARLEY_CODEC_CALLGRIND=<case>` (`decode_invite`, `decode_200_ok`, `encode_invite`,
//! `encode_200_ok`) the binary skips criterion and runs that case
//! `PARLEY_CODEC_ITERATIONS` times (default 1000), for
//! `valgrind --tool=callgrind --toggle-collect=<function>`: instruction counts per call are
//! repeatable on a noisy machine, where wall-clock times are not.

use std::hint::black_box;

use criterion::{Criterion, Throughput};
use parley_core::sip::codec;
use parley_core::sip::message::{Message, Request, Response};

/// The SDP offer of the INVITE.
const OFFER: &str = "v=0\r\n\
o=root 1791525349 1791525349 IN IP4 10.0.0.12\r\n\
s=Asterisk PBX 18.20.0\r\n\
c=IN IP4 10.0.0.12\r\n\
t=0 0\r\n\
m=audio 14690 RTP/AVP 0 8 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:8 PCMA/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\n\
a=ptime:20\r\n\
a=maxptime:150\r\n\
a=sendrecv\r\n";

/// The SDP answer of the 200 OK.
const ANSWER: &str = "v=0\r\n\
o=- 3971250512 3971250512 IN IP4 192.168.10.25\r\n\
s=Parley\r\n\
c=IN IP4 192.168.10.25\r\n\
t=0 0\r\n\
m=audio 16388 RTP/AVP 0 101\r\n\
a=rtpmap:0 PCMU/8000\r\n\
a=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-16\r\n\
a=ptime:20\r\n\
a=sendrecv\r\n";

/// An INVITE as an Asterisk behind a Kamailio edge proxy delivers it to an agent.
fn invite() -> Vec<u8> {
    format!(
        "INVITE sip:1001@192.168.10.25:5060;transport=udp SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK-524287-1---7f3c2a9d1b6e4f08;rport\r\n\
Via: SIP/2.0/UDP 10.0.0.12:5080;received=10.0.0.12;rport=5080;branch=z9hG4bKa81c3e0f5d\r\n\
Record-Route: <sip:10.0.0.5;lr;ftag=as6f1b7c2d;did=2c4.a0b1>\r\n\
Max-Forwards: 69\r\n\
From: \"Queue Sales\" <sip:+4930123456@pbx.example.com>;tag=as6f1b7c2d\r\n\
To: <sip:1001@pbx.example.com>\r\n\
Contact: <sip:+4930123456@10.0.0.12:5080>\r\n\
Call-ID: 3c26700a5e1f4c8b9d0e2f6a7b8c9d01@10.0.0.12\r\n\
CSeq: 102 INVITE\r\n\
User-Agent: Asterisk PBX 18.20.0\r\n\
Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, SUBSCRIBE, NOTIFY, INFO, PUBLISH, MESSAGE\r\n\
Supported: replaces, timer\r\n\
Session-Expires: 1800;refresher=uac\r\n\
Min-SE: 90\r\n\
X-Queue: sales\r\n\
Content-Type: application/sdp\r\n\
Content-Length: {}\r\n\
\r\n\
{OFFER}",
        OFFER.len()
    )
    .into_bytes()
}

/// The agent's 200 OK to [`invite`].
fn ok_200() -> Vec<u8> {
    format!(
        "SIP/2.0 200 OK\r\n\
Via: SIP/2.0/UDP 10.0.0.5:5060;branch=z9hG4bK-524287-1---7f3c2a9d1b6e4f08;rport=5060;received=10.0.0.5\r\n\
Via: SIP/2.0/UDP 10.0.0.12:5080;received=10.0.0.12;rport=5080;branch=z9hG4bKa81c3e0f5d\r\n\
Record-Route: <sip:10.0.0.5;lr;ftag=as6f1b7c2d;did=2c4.a0b1>\r\n\
From: \"Queue Sales\" <sip:+4930123456@pbx.example.com>;tag=as6f1b7c2d\r\n\
To: <sip:1001@pbx.example.com>;tag=8f2d61c0a94b7e35\r\n\
Call-ID: 3c26700a5e1f4c8b9d0e2f6a7b8c9d01@10.0.0.12\r\n\
CSeq: 102 INVITE\r\n\
Contact: <sip:1001@192.168.10.25:5060;transport=udp>\r\n\
Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, REFER, NOTIFY, UPDATE, PRACK\r\n\
Supported: replaces, timer, 100rel\r\n\
Require: timer\r\n\
Session-Expires: 1800;refresher=uac\r\n\
User-Agent: Parley/0.1\r\n\
Content-Type: application/sdp\r\n\
Content-Length: {}\r\n\
\r\n\
{ANSWER}",
        ANSWER.len()
    )
    .into_bytes()
}

fn decoded_request(bytes: &[u8]) -> Request {
    match codec::decode(bytes) {
        Ok(Message::Request(request)) => *request,
        other => panic!("the benchmark INVITE does not decode as a request: {other:?}"),
    }
}

fn decoded_response(bytes: &[u8]) -> Response {
    match codec::decode(bytes) {
        Ok(Message::Response(response)) => *response,
        other => panic!("the benchmark 200 OK does not decode as a response: {other:?}"),
    }
}

fn codec_benches(c: &mut Criterion) {
    let invite = invite();
    let ok = ok_200();
    let request = decoded_request(&invite);
    let response = decoded_response(&ok);
    let invite_out = request.encode();
    let ok_out = codec::encode_response(&response.raw);

    let mut group = c.benchmark_group("decode");
    group.throughput(Throughput::BytesDecimal(invite.len() as u64));
    group.bench_function("invite", |b| b.iter(|| codec::decode(black_box(&invite))));
    group.throughput(Throughput::BytesDecimal(ok.len() as u64));
    group.bench_function("200_ok", |b| b.iter(|| codec::decode(black_box(&ok))));
    group.finish();

    let mut group = c.benchmark_group("encode");
    group.throughput(Throughput::BytesDecimal(invite_out.len() as u64));
    group.bench_function("invite", |b| b.iter(|| black_box(&request).encode()));
    group.throughput(Throughput::BytesDecimal(ok_out.len() as u64));
    group.bench_function("200_ok", |b| {
        b.iter(|| codec::encode_response(&black_box(&response).raw))
    });
    group.finish();
}

/// One case, `iterations` times, for callgrind. Decode cases decode nothing else, so that
/// `--toggle-collect=parley_core::sip::codec::decode` counts exactly `iterations` calls.
fn callgrind(case: &str, iterations: usize) {
    let invite = invite();
    let ok = ok_200();
    match case {
        "decode_invite" => {
            (0..iterations).for_each(|_| drop(black_box(codec::decode(black_box(&invite)))))
        }
        "decode_200_ok" => {
            (0..iterations).for_each(|_| drop(black_box(codec::decode(black_box(&ok)))))
        }
        "encode_invite" => {
            let request = decoded_request(&invite);
            (0..iterations).for_each(|_| drop(black_box(black_box(&request).encode())));
        }
        "encode_200_ok" => {
            let response = decoded_response(&ok);
            (0..iterations)
                .for_each(|_| drop(black_box(codec::encode_response(&black_box(&response).raw))));
        }
        _ => panic!("unknown case {case:?}"),
    }
    println!(
        "{case}: {iterations} iterations (INVITE {} bytes, 200 OK {} bytes)",
        invite.len(),
        ok.len()
    );
}

fn main() {
    if let Ok(case) = std::env::var("PARLEY_CODEC_CALLGRIND") {
        let iterations = std::env::var("PARLEY_CODEC_ITERATIONS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(1000);
        callgrind(&case, iterations);
        return;
    }
    let mut criterion = Criterion::default().configure_from_args();
    codec_benches(&mut criterion);
    criterion.final_summary();
}
