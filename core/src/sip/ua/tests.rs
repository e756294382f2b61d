//! User agents talking to each other through a minimal router over a simulated network,
//! in simulated time: every call flow of the issue, without sockets or sleeps.

use super::*;
use crate::sdp::MediaConfig;
use crate::sip::codec::decode;
use crate::sip::message::Message;
use crate::sip::registration::RegistrationConfig;
use crate::sip::target::TransportKind;
use crate::sip::transaction::Timers;
use proptest::prelude::*;
use rand::{RngExt, SeedableRng};
use std::net::SocketAddr;

const PROXY: &str = "192.0.2.100:5060";
const HOP: Duration = Duration::from_millis(10);

pub(crate) fn config(user: &str) -> UaConfig {
    UaConfig {
        aor: format!("sip:{user}@pbx.test").parse().unwrap(),
        display_name: Some(format!("Agent {user}")),
        credentials: None,
        registrar: "sip:pbx.test".parse().unwrap(),
        outbound_proxy: None,
        registration: RegistrationConfig {
            expires: 600,
            retry_base: Duration::from_secs(2),
            retry_max: Duration::from_secs(60),
        },
        register_on_start: false,
        trusted: vec![],
        call_waiting: false,
        session_expires: None,
        min_se: 90,
        prack: PrackMode::Supported,
        user_agent: "Parley-test".into(),
        timers: Timers::default(),
        media: MediaConfig::default(),
        keepalive: None,
    }
}

pub(crate) fn agent() -> UserAgent {
    UserAgent::new(config("1001"), 1)
}

fn udp(addr: SocketAddr) -> Target {
    Target {
        transport: TransportKind::Udp,
        addr,
    }
}

/// The router's registrar: status and headers for each REGISTER.
type Registrar = Box<dyn FnMut(&crate::sip::message::Request) -> (u16, Vec<(String, String)>)>;

struct Packet {
    at: Instant,
    from: SocketAddr,
    to: SocketAddr,
    bytes: Vec<u8>,
}

struct Node {
    addr: SocketAddr,
    user: String,
    ua: UserAgent,
    events: Vec<UaEvent>,
}

/// A network of user agents behind one router at [`PROXY`], which forwards requests by
/// Request-URI (a node's address, or a user name) and responses by their top Via, like a
/// stateless proxy that does not add its own Via.
struct Net {
    now: Instant,
    nodes: Vec<Node>,
    flight: Vec<Packet>,
    /// Every message delivered, as (from, to, first line).
    log: Vec<(SocketAddr, SocketAddr, String)>,
    /// Every message a node sent, as (node address, first line).
    sent: Vec<(SocketAddr, String)>,
    drop: Box<dyn FnMut(&Packet) -> bool>,
    /// Registrar behaviour of the router: `None` forwards REGISTER like anything else.
    registrar: Option<Registrar>,
}

impl Net {
    fn new(configs: Vec<UaConfig>) -> Net {
        let now = Instant::now();
        let proxy: SocketAddr = PROXY.parse().unwrap();
        let nodes = configs
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                let addr: SocketAddr = format!("192.0.2.{}:5060", i + 1).parse().unwrap();
                let user = c.aor.user.clone().unwrap();
                let mut ua = UserAgent::new(c, i as u64 + 11);
                ua.set_targets(now, vec![udp(proxy)]);
                Node {
                    addr,
                    user,
                    ua,
                    events: Vec::new(),
                }
            })
            .collect();
        let mut net = Net {
            now,
            nodes,
            flight: Vec::new(),
            log: Vec::new(),
            sent: Vec::new(),
            drop: Box::new(|_| false),
            registrar: None,
        };
        net.pump();
        net
    }

    fn pump(&mut self) {
        for i in 0..self.nodes.len() {
            while let Some(out) = self.nodes[i].ua.poll_output() {
                let node = &mut self.nodes[i];
                match out {
                    Output::Transmit(t) => {
                        let first = String::from_utf8_lossy(&t.payload)
                            .lines()
                            .next()
                            .unwrap_or_default()
                            .to_owned();
                        self.sent.push((node.addr, first));
                        self.flight.push(Packet {
                            at: self.now + HOP,
                            from: node.addr,
                            to: t.target.addr,
                            bytes: t.payload,
                        })
                    }
                    Output::OpenFlow(target) => {
                        node.ua.handle_flow_ready(self.now, target, node.addr)
                    }
                    // What the runtime does: resolve the proxy again.
                    Output::Resolve => node
                        .ua
                        .set_targets(self.now, vec![udp(PROXY.parse().unwrap())]),
                    Output::CloseFlow(_) => {}
                    Output::Event(e) => node.events.push(e),
                }
            }
        }
    }

    fn route(&mut self, p: Packet) {
        let proxy: SocketAddr = PROXY.parse().unwrap();
        if p.to != proxy {
            // Directly addressed (tests injecting from outside).
            self.deliver(p.from, p.to, p.bytes);
            return;
        }
        match decode(&p.bytes) {
            Ok(Message::Request(req)) => {
                if req.method() == Method::Register && self.registrar.is_some() {
                    self.log_packet(&p);
                    if let Some(registrar) = self.registrar.as_mut() {
                        let (code, headers) = registrar(&req);
                        let mut resp = crate::sip::builder::response(&req, code, None, Some("reg"));
                        for (n, v) in headers {
                            resp.headers.push(crate::sip::header::make(&n, v));
                        }
                        let resp = crate::sip::builder::finish_response(resp, vec![], None);
                        let bytes = crate::sip::codec::encode_response(&resp);
                        self.flight.push(Packet {
                            at: self.now + HOP,
                            from: proxy,
                            to: p.from,
                            bytes,
                        });
                        return;
                    }
                }
                let Uri::Sip(uri) = &req.uri else { return };
                let dest = self
                    .nodes
                    .iter()
                    .find(|n| {
                        Some(n.addr.to_string())
                            == uri.port.map(|port| format!("{}:{port}", uri.host))
                    })
                    .or_else(|| {
                        self.nodes
                            .iter()
                            .find(|n| uri.user.as_deref() == Some(n.user.as_str()))
                    })
                    .map(|n| n.addr);
                if let Some(dest) = dest {
                    self.flight.push(Packet {
                        at: self.now + HOP,
                        from: proxy,
                        to: dest,
                        bytes: p.bytes,
                    });
                }
            }
            Ok(Message::Response(resp)) => {
                let via = resp.top_via();
                let dest = SocketAddr::new(
                    match via.host {
                        crate::sip::uri::Host::Ip(ip) => ip,
                        _ => return,
                    },
                    via.port.unwrap_or(5060),
                );
                self.flight.push(Packet {
                    at: self.now + HOP,
                    from: proxy,
                    to: dest,
                    bytes: p.bytes,
                });
            }
            Err(_) => {}
        }
    }

    fn log_packet(&mut self, p: &Packet) {
        let first = String::from_utf8_lossy(&p.bytes)
            .lines()
            .next()
            .unwrap_or_default()
            .to_owned();
        self.log.push((p.from, p.to, first));
    }

    fn deliver(&mut self, from: SocketAddr, to: SocketAddr, bytes: Vec<u8>) {
        let now = self.now;
        if let Some(node) = self.nodes.iter_mut().find(|n| n.addr == to) {
            node.ua.handle_datagram(now, udp(from), &bytes);
        }
    }

    /// Runs the network for `d` of simulated time.
    fn run(&mut self, d: Duration) {
        let end = self.now + d;
        loop {
            self.pump();
            let next_packet = self.flight.iter().map(|p| p.at).min();
            let next_timer = self.nodes.iter().filter_map(|n| n.ua.poll_timeout()).min();
            let Some(next) = [next_packet, next_timer].into_iter().flatten().min() else {
                break;
            };
            if next > end {
                break;
            }
            self.now = next.max(self.now);
            let (due, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut self.flight)
                .into_iter()
                .partition(|p| p.at <= self.now);
            self.flight = rest;
            for p in due {
                if (self.drop)(&p) {
                    continue;
                }
                // Each message is logged once, where it leaves the router (or, for REGISTER,
                // where the router answers it).
                if p.to != PROXY.parse().unwrap() {
                    self.log_packet(&p);
                }
                if p.to == PROXY.parse().unwrap() {
                    self.route(p);
                } else {
                    self.deliver(p.from, p.to, p.bytes);
                }
            }
            let now = self.now;
            for n in &mut self.nodes {
                if n.ua.poll_timeout().is_some_and(|t| t <= now) {
                    n.ua.handle_timeout(now);
                }
            }
        }
        self.now = end;
    }

    fn media(&self, i: usize) -> SocketAddr {
        SocketAddr::new(self.nodes[i].addr.ip(), 40000 + i as u16 * 2)
    }

    fn dial(&mut self, from: usize, to: &str) -> CallHandle {
        let media = self.media(from);
        let now = self.now;
        let h = self.nodes[from]
            .ua
            .dial(now, to, media, DialOptions::default())
            .unwrap();
        self.pump();
        h
    }

    fn answer(&mut self, i: usize, call: CallHandle) {
        let media = self.media(i);
        let now = self.now;
        self.nodes[i].ua.answer(now, call, media).unwrap();
        self.pump();
    }

    fn act(
        &mut self,
        i: usize,
        f: impl FnOnce(&mut UserAgent, Instant) -> Result<(), CommandError>,
    ) {
        let now = self.now;
        f(&mut self.nodes[i].ua, now).unwrap();
        self.pump();
    }

    fn incoming(&self, i: usize) -> Vec<IncomingCall> {
        self.nodes[i]
            .events
            .iter()
            .filter_map(|e| match e {
                UaEvent::IncomingCall(c) => Some(c.clone()),
                _ => None,
            })
            .collect()
    }

    fn state(&self, i: usize, call: CallHandle) -> Option<CallState> {
        self.nodes[i].events.iter().rev().find_map(|e| match e {
            UaEvent::CallState { call: c, state } if *c == call => Some(state.clone()),
            _ => None,
        })
    }

    fn count(&self, start: &str) -> usize {
        self.log
            .iter()
            .filter(|(_, _, l)| l.starts_with(start))
            .count()
    }

    /// A connected call from node `a` to node `b`.
    fn connect(&mut self, a: usize, b: usize) -> (CallHandle, CallHandle) {
        let user = self.nodes[b].user.clone();
        let ca = self.dial(a, &user);
        self.run(Duration::from_millis(100));
        let cb = self.incoming(b).last().expect("the call rings").call;
        self.answer(b, cb);
        self.run(Duration::from_millis(100));
        assert_eq!(self.state(a, ca), Some(CallState::Connected));
        assert_eq!(self.state(b, cb), Some(CallState::Connected));
        (ca, cb)
    }
}

fn ended(state: Option<CallState>) -> Option<EndReason> {
    match state {
        Some(CallState::Ended { reason, .. }) => Some(reason),
        _ => None,
    }
}

#[test]
fn call_connects_with_media_and_context_headers_then_ends() {
    let mut net = Net::new(vec![config("1001"), config("1002")]);
    let media = net.media(0);
    let now = net.now;
    let options = DialOptions {
        headers: vec![
            ("X-Customer-Id".into(), "42".into()),
            ("User-to-User".into(), "abc;encoding=hex".into()),
        ],
        ..DialOptions::default()
    };
    let ca = net.nodes[0].ua.dial(now, "1002", media, options).unwrap();
    net.run(Duration::from_millis(100));
    assert_eq!(net.state(0, ca), Some(CallState::Ringing));
    let incoming = net.incoming(1).pop().unwrap();
    assert_eq!(incoming.from_user.as_deref(), Some("1001"));
    assert_eq!(incoming.from_name.as_deref(), Some("Agent 1001"));
    assert_eq!(
        incoming.headers,
        vec![
            ("X-Customer-Id".to_owned(), "42".to_owned()),
            ("User-to-User".to_owned(), "abc;encoding=hex".to_owned())
        ]
    );
    assert_eq!(net.state(1, incoming.call), Some(CallState::Offered));
    net.answer(1, incoming.call);
    net.run(Duration::from_millis(100));
    assert_eq!(net.state(0, ca), Some(CallState::Connected));
    assert_eq!(net.state(1, incoming.call), Some(CallState::Connected));
    let media_of = |i: usize| {
        net.nodes[i].events.iter().rev().find_map(|e| match e {
            UaEvent::Media { media: Some(m), .. } => Some(m.clone()),
            _ => None,
        })
    };
    assert_eq!(media_of(0).unwrap().remote, net.media(1));
    assert_eq!(media_of(1).unwrap().remote, net.media(0));
    assert_eq!(media_of(0).unwrap().codec.name, "PCMU");

    net.act(0, |ua, now| ua.hangup(now, ca));
    net.run(Duration::from_secs(1));
    assert_eq!(ended(net.state(0, ca)), Some(EndReason::LocalHangup));
    assert_eq!(
        ended(net.state(1, incoming.call)),
        Some(EndReason::RemoteHangup)
    );
    assert!(net.nodes[1]
        .events
        .iter()
        .any(|e| matches!(e, UaEvent::Media { media: None, .. })));
    net.run(Duration::from_secs(40));
    assert!(
        net.nodes.iter().all(|n| n.ua.calls().count() == 0),
        "ended calls are forgotten"
    );
    assert!(
        net.nodes.iter().all(|n| n.ua.core.tx.is_empty()),
        "every transaction ended"
    );
}

#[test]
fn hold_and_resume_from_either_side() {
    let mut net = Net::new(vec![config("1001"), config("1002")]);
    let (ca, cb) = net.connect(0, 1);
    net.act(0, |ua, now| ua.hold(now, ca));
    net.run(Duration::from_millis(200));
    assert_eq!(net.state(0, ca), Some(CallState::Held(HeldBy::Local)));
    assert_eq!(net.state(1, cb), Some(CallState::Held(HeldBy::Remote)));
    net.act(1, |ua, now| ua.hold(now, cb));
    net.run(Duration::from_millis(200));
    assert_eq!(net.state(0, ca), Some(CallState::Held(HeldBy::Both)));
    assert_eq!(net.state(1, cb), Some(CallState::Held(HeldBy::Both)));
    net.act(0, |ua, now| ua.resume(now, ca));
    net.run(Duration::from_millis(200));
    assert_eq!(net.state(0, ca), Some(CallState::Held(HeldBy::Remote)));
    net.act(1, |ua, now| ua.resume(now, cb));
    net.run(Duration::from_millis(200));
    assert_eq!(net.state(0, ca), Some(CallState::Connected));
    assert_eq!(net.state(1, cb), Some(CallState::Connected));
}

#[test]
fn simultaneous_holds_resolve_glare_with_491() {
    let mut net = Net::new(vec![config("1001"), config("1002")]);
    let (ca, cb) = net.connect(0, 1);
    net.act(0, |ua, now| ua.hold(now, ca));
    net.act(1, |ua, now| ua.hold(now, cb));
    net.run(Duration::from_secs(10));
    assert!(net.count("SIP/2.0 491") >= 1);
    assert_eq!(net.state(0, ca), Some(CallState::Held(HeldBy::Both)));
    assert_eq!(net.state(1, cb), Some(CallState::Held(HeldBy::Both)));
}

#[test]
fn caller_cancels_before_answer() {
    let mut net = Net::new(vec![config("1001"), config("1002")]);
    let ca = net.dial(0, "1002");
    net.run(Duration::from_millis(100));
    let cb = net.incoming(1)[0].call;
    net.act(0, |ua, now| ua.hangup(now, ca));
    assert_eq!(
        ended(net.state(0, ca)),
        Some(EndReason::LocalHangup),
        "ends at once for the agent"
    );
    net.run(Duration::from_secs(1));
    assert_eq!(ended(net.state(1, cb)), Some(EndReason::CallerCancelled));
    assert_eq!(net.count("CANCEL"), 1);
    assert_eq!(net.count("SIP/2.0 487"), 1);
    net.run(Duration::from_secs(40));
    assert!(net.nodes.iter().all(|n| n.ua.calls().count() == 0));
}

#[test]
fn hangup_before_any_response_cancels_once_one_arrives() {
    let mut net = Net::new(vec![config("1001"), config("1002")]);
    let ca = net.dial(0, "1002");
    net.act(0, |ua, now| ua.hangup(now, ca));
    net.run(Duration::from_secs(1));
    assert_eq!(net.count("CANCEL"), 1, "sent after the 100/180 (§9.1)");
    assert_eq!(
        ended(net.state(1, net.incoming(1)[0].call)),
        Some(EndReason::CallerCancelled)
    );
}

#[test]
fn cancel_crossing_the_2xx_is_acked_and_released_with_bye() {
    let mut net = Net::new(vec![config("1001"), config("1002")]);
    let ca = net.dial(0, "1002");
    net.run(Duration::from_millis(100));
    let cb = net.incoming(1)[0].call;
    // Both at the same instant: the CANCEL and the 200 cross in the network.
    net.answer(1, cb);
    net.act(0, |ua, now| ua.hangup(now, ca));
    net.run(Duration::from_secs(2));
    assert_eq!(ended(net.state(0, ca)), Some(EndReason::LocalHangup));
    assert_eq!(ended(net.state(1, cb)), Some(EndReason::RemoteHangup));
    assert_eq!(net.count("BYE"), 1);
    assert!(net.count("ACK") >= 1);
}

#[test]
fn second_call_is_busy_unless_call_waiting() {
    let mut net = Net::new(vec![config("1001"), config("1002"), config("1003")]);
    let _ = net.connect(0, 1);
    let cc = net.dial(2, "1002");
    net.run(Duration::from_secs(1));
    assert!(matches!(
        net.state(2, cc),
        Some(CallState::Ended {
            reason: EndReason::Rejected,
            code: Some(486),
            ..
        })
    ));
    assert!(net.nodes[1].events.iter().any(|e| matches!(
        e,
        UaEvent::Deflected {
            reason: DeflectReason::Busy,
            ..
        }
    )));
    assert_eq!(net.incoming(1).len(), 1);

    let mut waiting = config("1002");
    waiting.call_waiting = true;
    let mut net = Net::new(vec![config("1001"), waiting, config("1003")]);
    let _ = net.connect(0, 1);
    net.dial(2, "1002");
    net.run(Duration::from_secs(1));
    assert_eq!(net.incoming(1).len(), 2);
}

#[test]
fn not_ready_agent_deflects_with_configured_status() {
    let mut net = Net::new(vec![config("1001"), config("1002")]);
    net.nodes[1].ua.set_availability(Availability::Unavailable {
        status: 486,
        phrase: "Agent Not Ready".into(),
    });
    let ca = net.dial(0, "1002");
    net.run(Duration::from_secs(1));
    assert!(matches!(
        net.state(0, ca),
        Some(CallState::Ended {
            code: Some(486),
            ..
        })
    ));
    assert!(net
        .log
        .iter()
        .any(|(_, _, l)| l == "SIP/2.0 486 Agent Not Ready"));
    assert!(net.incoming(1).is_empty());
    assert!(net.nodes[1].events.iter().any(|e| matches!(
        e,
        UaEvent::Deflected {
            reason: DeflectReason::NotReady,
            code: 486,
            ..
        }
    )));
}

#[test]
fn reliable_ringing_is_pracked_once() {
    let mut b = config("1002");
    b.prack = PrackMode::Required;
    let mut net = Net::new(vec![config("1001"), b]);
    let ca = net.dial(0, "1002");
    net.run(Duration::from_secs(5));
    assert_eq!(net.state(0, ca), Some(CallState::Ringing));
    assert_eq!(net.count("PRACK"), 1);
    assert_eq!(
        net.count("SIP/2.0 180"),
        1,
        "no retransmission once PRACKed"
    );
    let cb = net.incoming(1)[0].call;
    net.answer(1, cb);
    net.run(Duration::from_millis(200));
    assert_eq!(net.state(0, ca), Some(CallState::Connected));
}

#[test]
fn unacknowledged_reliable_ringing_is_retransmitted_then_refused() {
    let mut b = config("1002");
    b.prack = PrackMode::Required;
    let mut net = Net::new(vec![config("1001"), b]);
    net.drop = Box::new(|p| String::from_utf8_lossy(&p.bytes).starts_with("PRACK"));
    let ca = net.dial(0, "1002");
    net.run(Duration::from_secs(40));
    assert!(net.count("SIP/2.0 180") > 5);
    assert!(matches!(
        net.state(0, ca),
        Some(CallState::Ended {
            code: Some(504),
            ..
        })
    ));
}

#[test]
fn session_timer_refreshes_and_expires() {
    let mut a = config("1001");
    a.session_expires = Some(90);
    let mut net = Net::new(vec![a, config("1002")]);
    let (ca, cb) = net.connect(0, 1);
    net.run(Duration::from_secs(200));
    assert!(net.count("UPDATE") >= 4, "refresh every 45 s");
    assert_eq!(net.state(0, ca), Some(CallState::Connected));
    // The refresher goes silent: the other side ends the call 60 s (90 − 30) later.
    net.drop = Box::new(|p| p.from == "192.0.2.1:5060".parse().unwrap());
    net.run(Duration::from_secs(120));
    assert_eq!(ended(net.state(1, cb)), Some(EndReason::SessionExpired));
}

#[test]
fn blind_transfer_with_notify_progress() {
    let mut net = Net::new(vec![config("1001"), config("1002"), config("1003")]);
    let (ca, cb) = net.connect(0, 1);
    net.act(0, |ua, now| ua.transfer(now, ca, "1003"));
    net.run(Duration::from_millis(200));
    let (call, target, replaces) = net.nodes[1]
        .events
        .iter()
        .find_map(|e| match e {
            UaEvent::TransferRequested {
                call,
                target,
                replaces,
            } => Some((*call, target.clone(), replaces.clone())),
            _ => None,
        })
        .unwrap();
    assert_eq!(call, cb);
    assert_eq!(target.user.as_deref(), Some("1003"));
    assert_eq!(replaces, None);
    let media = net.media(1);
    let now = net.now;
    let options = DialOptions {
        referred_by: Some(cb),
        ..DialOptions::default()
    };
    let new_call = net.nodes[1]
        .ua
        .dial(now, &target.to_string(), media, options)
        .unwrap();
    net.run(Duration::from_millis(200));
    let cc = net.incoming(2)[0].call;
    net.answer(2, cc);
    net.run(Duration::from_secs(1));
    assert_eq!(net.state(1, new_call), Some(CallState::Connected));
    assert_eq!(ended(net.state(0, ca)), Some(EndReason::Transferred));
    assert_eq!(ended(net.state(1, cb)), Some(EndReason::RemoteHangup));
    let progress: Vec<TransferState> = net.nodes[0]
        .events
        .iter()
        .filter_map(|e| match e {
            UaEvent::Transfer { state, .. } => Some(*state),
            _ => None,
        })
        .collect();
    assert_eq!(progress.first(), Some(&TransferState::Trying));
    assert!(progress.contains(&TransferState::Accepted));
    assert_eq!(progress.last(), Some(&TransferState::Succeeded));
}

#[test]
fn attended_transfer_replaces_the_consultation() {
    let mut net = Net::new(vec![config("1001"), config("1002"), config("1003")]);
    let (customer, cb) = net.connect(0, 1);
    net.act(0, |ua, now| ua.hold(now, customer));
    net.run(Duration::from_millis(200));
    let (consult, cc) = net.connect(0, 2);
    net.act(0, |ua, now| ua.transfer_attended(now, customer, consult));
    net.run(Duration::from_millis(200));
    let (target, replaces) = net.nodes[1]
        .events
        .iter()
        .find_map(|e| match e {
            UaEvent::TransferRequested {
                target, replaces, ..
            } => Some((target.clone(), replaces.clone())),
            _ => None,
        })
        .unwrap();
    assert!(replaces.is_some());
    let media = net.media(1);
    let now = net.now;
    let options = DialOptions {
        referred_by: Some(cb),
        replaces,
        ..DialOptions::default()
    };
    let new_call = net.nodes[1]
        .ua
        .dial(now, &target.to_string(), media, options)
        .unwrap();
    net.run(Duration::from_millis(200));
    let incoming = net.incoming(2).pop().unwrap();
    assert_eq!(incoming.replaces, Some(cc));
    net.answer(2, incoming.call);
    net.run(Duration::from_secs(1));
    assert_eq!(net.state(1, new_call), Some(CallState::Connected));
    assert_eq!(ended(net.state(2, cc)), Some(EndReason::Replaced));
    assert_eq!(ended(net.state(0, customer)), Some(EndReason::Transferred));
    assert!(ended(net.state(0, consult)).is_some());
}

#[test]
fn dtmf_by_info_arrives_in_order() {
    let mut net = Net::new(vec![config("1001"), config("1002")]);
    let (ca, cb) = net.connect(0, 1);
    net.act(0, |ua, now| ua.send_dtmf_info(now, ca, "12#"));
    net.run(Duration::from_secs(1));
    let digits: String = net.nodes[1]
        .events
        .iter()
        .filter_map(|e| match e {
            UaEvent::Dtmf { call, digit, .. } if *call == cb => Some(*digit),
            _ => None,
        })
        .collect();
    assert_eq!(digits, "12#");
    assert!(net.nodes[0].ua.send_dtmf_info(net.now, ca, "x").is_err());
}

fn raw_invite(to: &str, call_id: &str) -> Vec<u8> {
    format!(
        "INVITE sip:{to} SIP/2.0\r\nVia: SIP/2.0/UDP 198.51.100.66:5060;branch=z9hG4bKscan{call_id}\r\n\
Max-Forwards: 70\r\nFrom: <sip:100@198.51.100.66>;tag=scan\r\nTo: <sip:{to}>\r\nCall-ID: {call_id}\r\n\
CSeq: 1 INVITE\r\nContact: <sip:100@198.51.100.66:5060>\r\nContent-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

#[test]
fn requests_from_untrusted_sources_are_refused_and_never_ring() {
    let mut net = Net::new(vec![config("1001")]);
    let scanner: SocketAddr = "198.51.100.66:5060".parse().unwrap();
    let now = net.now;
    net.nodes[0]
        .ua
        .handle_datagram(now, udp(scanner), &raw_invite("1001@192.0.2.1", "ghost"));
    net.pump();
    net.run(Duration::from_millis(100));
    assert!(net.incoming(0).is_empty());
    assert!(net
        .log
        .iter()
        .any(|(_, to, l)| *to == scanner && l.starts_with("SIP/2.0 403")));
    assert!(
        !net.log.iter().any(|(_, _, l)| l.starts_with("SIP/2.0 100")),
        "not even a 100 Trying"
    );
    assert!(net.nodes[0].events.iter().any(|e| matches!(
        e,
        UaEvent::Deflected {
            reason: DeflectReason::UntrustedSource,
            ..
        }
    )));
}

#[test]
fn malformed_requests_get_400_and_unknown_dialogs_481() {
    let mut net = Net::new(vec![config("1001")]);
    let proxy: SocketAddr = PROXY.parse().unwrap();
    let now = net.now;
    let bad = String::from_utf8(raw_invite("1001@192.0.2.1", "bad"))
        .unwrap()
        .replace("CSeq: 1 INVITE", "CSeq: one INVITE");
    net.nodes[0]
        .ua
        .handle_datagram(now, udp(proxy), bad.as_bytes());
    let bye = String::from_utf8(raw_invite("1001@192.0.2.1", "nodialog"))
        .unwrap()
        .replace("INVITE sip", "BYE sip")
        .replace("1 INVITE", "1 BYE")
        .replace(
            "To: <sip:1001@192.0.2.1>",
            "To: <sip:1001@192.0.2.1>;tag=unknown",
        );
    net.nodes[0]
        .ua
        .handle_datagram(now, udp(proxy), bye.as_bytes());
    net.pump();
    net.run(Duration::from_millis(100));
    // The router cannot forward a response with a broken CSeq, so look at what was sent.
    assert!(
        net.sent
            .iter()
            .any(|(_, l)| l.starts_with("SIP/2.0 400 Bad Request (invalid CSeq")),
        "{:?}",
        net.sent
    );
    assert_eq!(net.count("SIP/2.0 481"), 1);
    assert!(net.incoming(0).is_empty());
}

#[test]
fn registration_answers_the_challenge_and_reports_wrong_passwords() {
    let mut cfg = config("1001");
    cfg.credentials = Some(crate::sip::auth::Credentials {
        username: "1001".into(),
        password: "secret".into(),
    });
    let challenge = || {
        (
            "WWW-Authenticate".to_owned(),
            "Digest realm=\"pbx.test\", nonce=\"n1\", qop=\"auth\", algorithm=MD5".to_owned(),
        )
    };
    let mut net = Net::new(vec![cfg.clone()]);
    net.registrar = Some(Box::new(move |req| {
        if req
            .header("Authorization")
            .is_some_and(|a| a.contains("username=\"1001\"") && a.contains("nc=00000001"))
        {
            (200, vec![("Expires".into(), "120".into())])
        } else {
            (401, vec![challenge()])
        }
    }));
    net.act(0, |ua, now| {
        ua.register(now);
        Ok(())
    });
    net.run(Duration::from_secs(1));
    assert_eq!(
        net.nodes[0].ua.registration_state(),
        &RegistrationState::Registered { expires: 120 }
    );
    net.run(Duration::from_secs(100));
    assert_eq!(
        net.count("REGISTER"),
        4,
        "refreshed 30 s before the 120 s expiry"
    );

    // A registrar that rejects whatever we send: a wrong password, no retry loop.
    let mut net = Net::new(vec![cfg]);
    net.registrar = Some(Box::new(move |_| (401, vec![challenge()])));
    net.act(0, |ua, now| {
        ua.register(now);
        Ok(())
    });
    net.run(Duration::from_secs(120));
    assert!(matches!(
        net.nodes[0].ua.registration_state(),
        RegistrationState::Failed { retry_in: None, .. }
    ));
    assert_eq!(net.count("REGISTER"), 2);
}

#[test]
fn registrar_down_then_back_recovers_with_backoff() {
    let mut net = Net::new(vec![config("1001")]);
    let up = std::rc::Rc::new(std::cell::Cell::new(false));
    let flag = up.clone();
    net.registrar = Some(Box::new(|_| (200, vec![])));
    net.drop = Box::new(move |p| !flag.get() && (p.to == PROXY.parse().unwrap()));
    net.act(0, |ua, now| {
        ua.register(now);
        Ok(())
    });
    net.run(Duration::from_secs(100));
    let failures = net.nodes[0]
        .events
        .iter()
        .filter(|e| {
            matches!(
                e,
                UaEvent::Registration(RegistrationState::Failed {
                    retry_in: Some(_),
                    ..
                })
            )
        })
        .count();
    assert!(failures >= 2, "retried after each timeout");
    assert!(!net.nodes[0].ua.registration.is_registered());
    up.set(true);
    net.run(Duration::from_secs(100));
    assert_eq!(
        net.nodes[0].ua.registration_state(),
        &RegistrationState::Registered { expires: 600 }
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Over a lossy network with random delays, a call placed, maybe answered and hung up at
    /// random times never panics, and both sides always end up with no call left: the
    /// dialog state machines agree that it is over.
    #[test]
    fn calls_over_a_lossy_network_always_end_cleanly(seed in any::<u64>(), loss in 0u32..25, answer_ms in 0u64..3000, hangup_ms in 0u64..5000, caller_hangs_up in any::<bool>()) {
        let mut net = Net::new(vec![config("1001"), config("1002")]);
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        net.drop = Box::new(move |_| rng.random_range(0..100) < loss);
        let ca = net.dial(0, "1002");
        net.run(Duration::from_millis(answer_ms));
        if let Some(cb) = net.incoming(1).first().map(|c| c.call) {
            if net.nodes[1].ua.call_state(cb) == Some(CallState::Offered) {
                net.answer(1, cb);
            }
        }
        net.run(Duration::from_millis(hangup_ms));
        let (who, call) = if caller_hangs_up { (0, Some(ca)) } else { (1, net.incoming(1).first().map(|c| c.call)) };
        if let Some(call) = call {
            let now = net.now;
            let _ = net.nodes[who].ua.hangup(now, call);
            net.pump();
        }
        // Long enough for every timer (64·T1, 2xx retransmission, Timer D) to run out.
        net.run(Duration::from_secs(120));
        // A lost BYE leaves the other side connected until something tells it: with loss,
        // only the side that hung up is guaranteed to be clean. Without a session timer the
        // peer legitimately stays up, so hang it up too and check everything drains.
        for i in 0..2 {
            let calls: Vec<CallHandle> = net.nodes[i].ua.calls().map(|(h, _)| h).collect();
            for h in calls {
                let now = net.now;
                let _ = net.nodes[i].ua.hangup(now, h);
                net.pump();
            }
        }
        net.run(Duration::from_secs(120));
        for node in &net.nodes {
            prop_assert_eq!(node.ua.calls().count(), 0);
            prop_assert!(node.ua.core.tx.is_empty());
        }
    }
}

#[test]
fn crlf_keepalive_on_reliable_flows_detects_a_dead_connection() {
    let mut cfg = config("1001");
    cfg.keepalive = Some(Duration::from_secs(30));
    let mut ua = UserAgent::new(cfg, 3);
    let t0 = Instant::now();
    let server = Target {
        transport: TransportKind::Tcp,
        addr: PROXY.parse().unwrap(),
    };
    ua.set_targets(t0, vec![server]);
    ua.handle_flow_ready(t0, server, "192.0.2.1:40000".parse().unwrap());
    let outputs = |ua: &mut UserAgent| std::iter::from_fn(|| ua.poll_output()).collect::<Vec<_>>();
    outputs(&mut ua);
    // RFC 5626 §4.4.1: a CRLFCRLF ping every interval; a pong keeps the flow.
    ua.handle_timeout(t0 + Duration::from_secs(30));
    assert!(outputs(&mut ua)
        .iter()
        .any(|o| matches!(o, Output::Transmit(t) if t.payload == b"\r\n\r\n")));
    ua.handle_pong();
    ua.handle_timeout(t0 + Duration::from_secs(45));
    assert!(!outputs(&mut ua)
        .iter()
        .any(|o| matches!(o, Output::Event(UaEvent::Disconnected { .. }))));
    // No pong within 10 s of the next ping: the connection is dead.
    ua.handle_timeout(t0 + Duration::from_secs(60));
    outputs(&mut ua);
    ua.handle_timeout(t0 + Duration::from_secs(70));
    assert!(outputs(&mut ua).iter().any(|o| matches!(o, Output::Event(UaEvent::Disconnected { reason, .. }) if reason.contains("keep-alive"))));
}
