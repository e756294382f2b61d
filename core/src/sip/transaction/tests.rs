//! Unit tests of each state machine, and property tests running a client and a server
//! layer against each other over a simulated lossy, delaying network with a simulated clock.

use super::*;
use crate::sip::builder::{self, RequestBuilder};
use crate::sip::codec::decode;
use crate::sip::message::Message;
use crate::sip::name_addr::{NameAddr, Uri};
use crate::sip::target::TransportKind;
use crate::sip::via::Via;
use proptest::prelude::*;
use std::net::SocketAddr;

const CLIENT: &str = "192.0.2.1:5060";
const SERVER: &str = "192.0.2.2:5060";

fn target(addr: &str, transport: TransportKind) -> Target {
    Target {
        transport,
        addr: addr.parse().unwrap(),
    }
}

fn request(method: Method, branch: &str) -> Request {
    let b = RequestBuilder {
        method,
        uri: Uri::Sip("sip:bob@192.0.2.2".parse().unwrap()),
        via: Via::new("UDP", CLIENT.parse().unwrap(), branch),
        from: NameAddr::new(None, "sip:alice@192.0.2.1".parse().unwrap()).with_tag("ft"),
        to: NameAddr::new(None, "sip:bob@192.0.2.2".parse().unwrap()),
        call_id: "tx-test".into(),
        cseq: 1,
        routes: vec![],
        contact: None,
        extra: vec![],
        body: None,
    };
    b.build().unwrap()
}

fn parse_request(bytes: &[u8]) -> Request {
    match decode(bytes).unwrap() {
        Message::Request(r) => *r,
        m => panic!("{m:?}"),
    }
}

fn parse_response(bytes: &[u8]) -> Response {
    match decode(bytes).unwrap() {
        Message::Response(r) => *r,
        m => panic!("{m:?}"),
    }
}

fn reply(req: &Request, code: u16) -> rsip::Response {
    builder::finish_response(builder::response(req, code, None, Some("tt")), vec![], None)
}

fn drain(layer: &mut TransactionLayer) -> (Vec<Transmit>, Vec<TransactionEvent>) {
    let t = std::iter::from_fn(|| layer.poll_transmit()).collect();
    let e = std::iter::from_fn(|| layer.poll_event()).collect();
    (t, e)
}

#[test]
fn non_invite_client_retransmits_with_backoff_then_times_out() {
    let t0 = Instant::now();
    let mut layer = TransactionLayer::new(Timers::default());
    layer.send_request(
        t0,
        request(Method::Options, "z9hG4bK1"),
        target(SERVER, TransportKind::Udp),
    );
    let mut sends = vec![t0];
    drain(&mut layer);
    let mut timed_out = None;
    while let Some(at) = layer.poll_timeout() {
        layer.handle_timeout(at);
        let (t, e) = drain(&mut layer);
        sends.extend(t.iter().map(|_| at));
        if e.iter().any(|e| matches!(e, TransactionEvent::Timeout(_))) {
            timed_out = Some(at);
        }
    }
    let ms: Vec<u128> = sends.iter().map(|s| (*s - t0).as_millis()).collect();
    // Timer E: 0.5, 1, 2, 4, 4, 4 ... s after the previous send (§17.1.2.2).
    assert_eq!(&ms[..7], &[0, 500, 1500, 3500, 7500, 11500, 15500]);
    assert_eq!(timed_out.map(|t| (t - t0).as_secs()), Some(32));
    assert!(layer.is_empty());
}

#[test]
fn invite_client_over_tcp_does_not_retransmit() {
    let t0 = Instant::now();
    let mut layer = TransactionLayer::new(Timers::default());
    layer.send_request(
        t0,
        request(Method::Invite, "z9hG4bK2"),
        target(SERVER, TransportKind::Tcp),
    );
    assert_eq!(drain(&mut layer).0.len(), 1);
    assert_eq!(layer.poll_timeout(), Some(t0 + Duration::from_secs(32)));
    layer.handle_timeout(t0 + Duration::from_secs(32));
    let (t, e) = drain(&mut layer);
    assert!(t.is_empty());
    assert!(matches!(e[..], [TransactionEvent::Timeout(_)]));
}

#[test]
fn invite_client_acks_failures_and_absorbs_their_retransmissions() {
    let t0 = Instant::now();
    let mut layer = TransactionLayer::new(Timers::default());
    let inv = request(Method::Invite, "z9hG4bK3");
    layer.send_request(t0, inv.clone(), target(SERVER, TransportKind::Udp));
    drain(&mut layer);
    let busy = parse_response(&crate::sip::codec::encode_response(&reply(&inv, 486)));
    assert!(layer.handle_response(t0, busy.clone()));
    let (t, e) = drain(&mut layer);
    let ack = parse_request(&t[0].payload);
    assert_eq!(ack.method(), Method::Ack);
    assert_eq!(ack.top_via().branch(), Some("z9hG4bK3"));
    assert_eq!(ack.to().tag(), Some("tt"));
    assert!(matches!(&e[..], [TransactionEvent::Response(_, r)] if r.code == 486));
    // The retransmitted 486 gets the same ACK and is not passed up again.
    layer.handle_response(t0 + Duration::from_secs(1), busy);
    let (t, e) = drain(&mut layer);
    assert_eq!(t.len(), 1);
    assert!(e.is_empty());
    // Timer D ends it after 32 s.
    layer.handle_timeout(t0 + Duration::from_secs(32));
    assert!(layer.is_empty());
}

#[test]
fn invite_client_passes_every_2xx_in_accepted() {
    let t0 = Instant::now();
    let mut layer = TransactionLayer::new(Timers::default());
    let inv = request(Method::Invite, "z9hG4bK4");
    layer.send_request(t0, inv.clone(), target(SERVER, TransportKind::Udp));
    drain(&mut layer);
    let ok = parse_response(&crate::sip::codec::encode_response(&reply(&inv, 200)));
    layer.handle_response(t0, ok.clone());
    layer.handle_response(t0 + Duration::from_millis(500), ok);
    let (t, e) = drain(&mut layer);
    assert!(t.is_empty(), "the ACK of a 2xx is the TU's");
    assert_eq!(e.len(), 2);
    layer.handle_timeout(t0 + Duration::from_secs(32));
    assert!(layer.is_empty());
}

#[test]
fn server_invite_sends_trying_and_retransmits_failures_until_ack() {
    let t0 = Instant::now();
    let mut layer = TransactionLayer::new(Timers::default());
    let inv = request(Method::Invite, "z9hG4bK5");
    let from = target(CLIENT, TransportKind::Udp);
    let ServerMatch::New(key) = layer.handle_request(t0, &inv, from) else {
        panic!("expected a new transaction")
    };
    let (t, _) = drain(&mut layer);
    assert_eq!(parse_response(&t[0].payload).code, 100);
    // A retransmitted INVITE gets the 100 again, and does not reach the TU.
    assert_eq!(layer.handle_request(t0, &inv, from), ServerMatch::Absorbed);
    assert_eq!(drain(&mut layer).0.len(), 1);
    layer.respond(t0, &key, reply(&inv, 486)).unwrap();
    assert_eq!(
        layer.respond(t0, &key, reply(&inv, 500)),
        Err(TransactionError::AlreadyFinal)
    );
    drain(&mut layer);
    layer.handle_timeout(t0 + Duration::from_millis(500));
    assert_eq!(drain(&mut layer).0.len(), 1, "timer G");
    let ack = builder::ack_for_failure(&inv, "<sip:bob@192.0.2.2>;tag=tt");
    assert_eq!(
        layer.handle_request(t0 + Duration::from_secs(1), &ack, from),
        ServerMatch::Absorbed
    );
    layer.handle_timeout(t0 + Duration::from_secs(2));
    assert!(
        drain(&mut layer).0.is_empty(),
        "no retransmission after the ACK"
    );
    layer.handle_timeout(t0 + Duration::from_secs(7));
    assert!(layer.is_empty(), "timer I");
}

#[test]
fn server_invite_reports_a_missing_ack() {
    let t0 = Instant::now();
    let mut layer = TransactionLayer::new(Timers::default());
    let inv = request(Method::Invite, "z9hG4bK6");
    let ServerMatch::New(key) = layer.handle_request(t0, &inv, target(CLIENT, TransportKind::Udp))
    else {
        panic!()
    };
    layer.respond(t0, &key, reply(&inv, 603)).unwrap();
    while let Some(at) = layer.poll_timeout() {
        layer.handle_timeout(at);
    }
    let (_, e) = drain(&mut layer);
    assert!(matches!(&e[..], [TransactionEvent::AckTimeout(k)] if *k == key));
}

#[test]
fn ack_for_2xx_goes_to_the_tu_and_cancel_finds_its_invite() {
    let t0 = Instant::now();
    let mut layer = TransactionLayer::new(Timers::default());
    let inv = request(Method::Invite, "z9hG4bK7");
    let from = target(CLIENT, TransportKind::Udp);
    let ServerMatch::New(key) = layer.handle_request(t0, &inv, from) else {
        panic!()
    };
    let cancel = builder::cancel(&inv);
    let ServerMatch::New(cancel_key) = layer.handle_request(t0, &cancel, from) else {
        panic!()
    };
    assert_eq!(cancel_key.invite_of_cancel(), key);
    assert!(layer.is_pending(&key));
    layer.respond(t0, &key, reply(&inv, 200)).unwrap();
    assert!(!layer.is_pending(&key));
    let ack = request(Method::Ack, "z9hG4bKnew");
    assert_eq!(layer.handle_request(t0, &ack, from), ServerMatch::Ack);
}

#[test]
fn transport_errors_fail_the_transactions_towards_that_target() {
    let t0 = Instant::now();
    let mut layer = TransactionLayer::new(Timers::default());
    let tcp = target(SERVER, TransportKind::Tcp);
    let k1 = layer.send_request(t0, request(Method::Register, "z9hG4bK8"), tcp);
    layer.send_request(
        t0,
        request(Method::Options, "z9hG4bK9"),
        target("192.0.2.3:5060", TransportKind::Tcp),
    );
    drain(&mut layer);
    layer.handle_transport_error(tcp);
    let (_, e) = drain(&mut layer);
    assert!(matches!(&e[..], [TransactionEvent::TransportError(k)] if *k == k1));
    assert_eq!(layer.len(), 1);
}

/// A message in flight in the simulated network.
struct InFlight {
    at: Instant,
    to_server: bool,
    payload: Vec<u8>,
}

/// Runs one transaction between a client and a server layer over a network that drops and
/// delays each datagram as `fate` says, answering with `final_code`. Returns the client's
/// and the server-side TU's observations.
fn simulate(
    method: Method,
    final_code: u16,
    fate: &mut dyn FnMut() -> Option<Duration>,
) -> (
    Vec<TransactionEvent>,
    usize,
    TransactionLayer,
    TransactionLayer,
) {
    simulate_with(method, final_code, fate, false)
}

/// As [`simulate`]; with `give_up`, the client TU behaves like one that sent CANCEL when
/// the transaction reached Proceeding, so a final response lost for good still ends it.
fn simulate_with(
    method: Method,
    final_code: u16,
    fate: &mut dyn FnMut() -> Option<Duration>,
    give_up: bool,
) -> (
    Vec<TransactionEvent>,
    usize,
    TransactionLayer,
    TransactionLayer,
) {
    let t0 = Instant::now();
    let mut client = TransactionLayer::new(Timers::default());
    let mut server = TransactionLayer::new(Timers::default());
    let client_addr: SocketAddr = CLIENT.parse().unwrap();
    client.send_request(
        t0,
        request(method, "z9hG4bKsim"),
        target(SERVER, TransportKind::Udp),
    );
    let mut net: Vec<InFlight> = Vec::new();
    let mut client_events = Vec::new();
    let mut tu_requests = 0;
    let mut now = t0;
    for _ in 0..10_000 {
        for t in std::iter::from_fn(|| client.poll_transmit()) {
            if let Some(delay) = fate() {
                net.push(InFlight {
                    at: now + delay,
                    to_server: true,
                    payload: t.payload,
                });
            }
        }
        for t in std::iter::from_fn(|| server.poll_transmit()) {
            if let Some(delay) = fate() {
                net.push(InFlight {
                    at: now + delay,
                    to_server: false,
                    payload: t.payload,
                });
            }
        }
        while let Some(event) = client.poll_event() {
            if let (true, TransactionEvent::Response(key, r)) = (give_up, &event) {
                if r.code < 200 {
                    client.expect_final_by(key, now + Timers::default().timeout());
                }
            }
            client_events.push(event);
        }
        while server.poll_event().is_some() {}
        let next_net = net.iter().map(|m| m.at).min();
        let Some(next) = earliest([next_net, client.poll_timeout(), server.poll_timeout()]) else {
            break;
        };
        now = next;
        let (arrived, rest): (Vec<_>, Vec<_>) = net.drain(..).partition(|m| m.at <= now);
        net = rest;
        for m in arrived {
            if m.to_server {
                let req = parse_request(&m.payload);
                let from = Target {
                    transport: TransportKind::Udp,
                    addr: client_addr,
                };
                if let ServerMatch::New(key) = server.handle_request(now, &req, from) {
                    tu_requests += 1;
                    server.respond(now, &key, reply(&req, final_code)).unwrap();
                }
            } else {
                client.handle_response(now, parse_response(&m.payload));
            }
        }
        client.handle_timeout(now);
        server.handle_timeout(now);
    }
    (client_events, tu_requests, client, server)
}

fn finals(events: &[TransactionEvent]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, TransactionEvent::Response(_, r) if r.code >= 200))
        .count()
}

fn timeouts(events: &[TransactionEvent]) -> usize {
    events
        .iter()
        .filter(|e| matches!(e, TransactionEvent::Timeout(_)))
        .count()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Whatever the loss and delay, a non-INVITE transaction ends with exactly one outcome
    /// (one final response or a timeout), and both layers end empty. The server TU sees the
    /// request at most once as long as the network delays messages by less than T1: Timer J
    /// (64·T1 after the first copy arrived) must outlast the client's last retransmission
    /// (sent just before 64·T1), which RFC 3261 only guarantees for such delays.
    #[test]
    fn non_invite_over_lossy_network(seed in any::<u64>(), loss in 0u32..90, max_delay_ms in 1u64..3000) {
        let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(seed);
        let mut fate = move || {
            use rand::RngExt;
            (rng.random_range(0..100) >= loss).then(|| Duration::from_millis(rng.random_range(0..max_delay_ms)))
        };
        let (events, tu, client, server) = simulate(Method::Options, 200, &mut fate);
        prop_assert_eq!(finals(&events) + timeouts(&events), 1);
        prop_assert!(tu <= 1 || max_delay_ms >= 500);
        prop_assert!(finals(&events) == 0 || tu == 1);
        prop_assert!(client.is_empty() && server.is_empty());
    }

    /// An INVITE rejected with a non-2xx: one outcome at the client, at most one request at
    /// the server TU, and both layers end empty. In Proceeding an INVITE client transaction
    /// has no timer of its own (§17.1.1.2), so the TU here gives up like one that sent
    /// CANCEL (§9.1).
    #[test]
    fn rejected_invite_over_lossy_network(seed in any::<u64>(), loss in 0u32..90, max_delay_ms in 1u64..3000) {
        let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(seed);
        let mut fate = move || {
            use rand::RngExt;
            (rng.random_range(0..100) >= loss).then(|| Duration::from_millis(rng.random_range(0..max_delay_ms)))
        };
        let (events, tu, client, server) = simulate_with(Method::Invite, 486, &mut fate, true);
        prop_assert_eq!(finals(&events) + timeouts(&events), 1);
        prop_assert!(tu <= 1 || max_delay_ms >= 500);
        prop_assert!(client.is_empty() && server.is_empty());
    }

    /// Without loss every transaction completes with the server's answer.
    #[test]
    fn lossless_network_always_completes(max_delay_ms in 1u64..10_000, invite in any::<bool>()) {
        let mut fate = || Some(Duration::from_millis(max_delay_ms));
        let method = if invite { Method::Invite } else { Method::Options };
        let (events, tu, _, _) = simulate(method, 486, &mut fate);
        prop_assert_eq!(finals(&events), 1);
        prop_assert_eq!(tu, 1);
    }
}
