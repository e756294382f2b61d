//! Locating SIP servers (RFC 3263), without I/O.
//!
//! The runtime owns the resolver: it asks [`plan`] what to look up for a URI, performs the
//! NAPTR, SRV and A/AAAA queries, and feeds the records back into [`order_naptr`] and
//! [`order_srv`], which decide the order to try. The resolved addresses go into a
//! [`TargetList`], which walks through them as each one times out or fails (§4.3).

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use rand::{Rng, RngExt};

/// Why a transport or a target could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// A `transport=` parameter or Via transport we do not implement (SCTP, WS, ...).
    #[error("unsupported SIP transport {0:?}")]
    UnknownTransport(String),
    /// A SIPS URI asked for UDP; SIPS needs TLS on every hop (RFC 3261 §26.2.1).
    #[error("a SIPS URI cannot be reached over UDP")]
    InsecureTransport,
}

/// The transport protocols this user agent speaks (RFC 3261 §18).
///
/// TLS here means TLS over TCP, the only secure transport of RFC 3261 §26.2.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransportKind {
    Udp,
    Tcp,
    Tls,
}

impl TransportKind {
    /// Reliable transports turn off retransmission timers A, E and G (RFC 3261 §17.1.1.2,
    /// §17.1.2.2) and shorten timers D, I and K to zero.
    pub fn is_reliable(self) -> bool {
        !matches!(self, TransportKind::Udp)
    }

    /// The port used when a URI and SRV give none (RFC 3261 §19.1.1, RFC 3263 §4.2).
    pub fn default_port(self) -> u16 {
        match self {
            TransportKind::Udp | TransportKind::Tcp => 5060,
            TransportKind::Tls => 5061,
        }
    }

    /// The transport token of a Via header (RFC 3261 §20.42, `transport` in §25.1).
    pub fn via_name(self) -> &'static str {
        match self {
            TransportKind::Udp => "UDP",
            TransportKind::Tcp => "TCP",
            TransportKind::Tls => "TLS",
        }
    }
}

impl fmt::Display for TransportKind {
    /// The lowercase form used in `transport=` URI parameters (RFC 3261 §19.1.1).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransportKind::Udp => "udp",
            TransportKind::Tcp => "tcp",
            TransportKind::Tls => "tls",
        })
    }
}

impl FromStr for TransportKind {
    type Err = TargetError;

    /// Parses a `transport=` URI parameter or a Via transport; compared case-insensitively
    /// (RFC 3261 §19.1.4).
    fn from_str(s: &str) -> Result<Self, TargetError> {
        if s.eq_ignore_ascii_case("udp") {
            Ok(TransportKind::Udp)
        } else if s.eq_ignore_ascii_case("tcp") {
            Ok(TransportKind::Tcp)
        } else if s.eq_ignore_ascii_case("tls") {
            Ok(TransportKind::Tls)
        } else {
            Err(TargetError::UnknownTransport(s.to_owned()))
        }
    }
}

/// One place to send a request: an address and the transport to reach it with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Target {
    pub transport: TransportKind,
    pub addr: SocketAddr,
}

/// An A/AAAA lookup the runtime has to do, and how to use its answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostLookup {
    pub host: String,
    pub port: u16,
    pub transport: TransportKind,
}

/// What to look up for a URI, following RFC 3263 §4.1 (transport) and §4.2 (address, port).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// The host is an IP literal: no DNS at all (§4.2).
    Literal(Target),
    /// The URI has an explicit port: A/AAAA only, never SRV (§4.2).
    Address(HostLookup),
    /// The transport is known: query these SRV names in order; if none has records, use
    /// `fallback` (§4.2).
    Srv {
        names: Vec<(TransportKind, String)>,
        fallback: HostLookup,
    },
    /// Nothing is known: query NAPTR for `host` and order the answer with
    /// [`order_naptr`] restricted to `allowed`; with no usable NAPTR record, query
    /// `srv_names`; with no SRV record either, use `fallback` (§4.1).
    Naptr {
        host: String,
        allowed: Vec<TransportKind>,
        srv_names: Vec<(TransportKind, String)>,
        fallback: HostLookup,
    },
}

/// Decides what to resolve for a URI's host, port and `transport=` parameter.
///
/// `host` may be an IPv6 literal in brackets, as printed in a URI. In a SIPS URI,
/// `transport=tcp` means TLS over TCP (RFC 3261 §26.2.2), and with no transport the default
/// is TLS rather than UDP (RFC 3263 §4.1).
pub fn plan(
    host: &str,
    port: Option<u16>,
    transport: Option<TransportKind>,
    sips: bool,
) -> Result<Resolution, TargetError> {
    let transport = secure_transport(transport, sips)?;
    let default = transport.unwrap_or(if sips {
        TransportKind::Tls
    } else {
        TransportKind::Udp
    });
    let bare = strip_brackets(host);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        let port = port.unwrap_or(default.default_port());
        return Ok(Resolution::Literal(Target {
            transport: default,
            addr: SocketAddr::new(ip, port),
        }));
    }
    let lookup = |port: u16| HostLookup {
        host: bare.to_owned(),
        port,
        transport: default,
    };
    if let Some(port) = port {
        return Ok(Resolution::Address(lookup(port)));
    }
    let fallback = lookup(default.default_port());
    if transport.is_some() {
        return Ok(Resolution::Srv {
            names: srv_names(bare, transport, sips),
            fallback,
        });
    }
    let allowed = if sips {
        vec![TransportKind::Tls]
    } else {
        vec![TransportKind::Udp, TransportKind::Tcp, TransportKind::Tls]
    };
    Ok(Resolution::Naptr {
        host: bare.to_owned(),
        allowed,
        srv_names: srv_names(bare, None, sips),
        fallback,
    })
}

/// The SRV names to query when there is no NAPTR record (RFC 3263 §4.1, last paragraphs).
///
/// Service `_sips` for SIPS URIs (and for TLS), `_sip` otherwise. With no transport hint a
/// SIP URI yields UDP then TCP, UDP first because every element supports it (RFC 3261 §18)
/// and it is what §4.1 falls back to. An IP literal has no SRV records (§4.2): the result is
/// empty, as it is for a SIPS URI with a UDP hint. Callers that know the URI's port use
/// [`plan`], which skips SRV for an explicit port.
pub fn srv_names(
    host: &str,
    transport_hint: Option<TransportKind>,
    sips: bool,
) -> Vec<(TransportKind, String)> {
    let host = strip_brackets(host);
    if host.parse::<IpAddr>().is_ok() {
        return Vec::new();
    }
    let Ok(transport) = secure_transport(transport_hint, sips) else {
        return Vec::new();
    };
    let name = |transport: TransportKind| {
        let prefix = match transport {
            TransportKind::Udp => "_sip._udp",
            TransportKind::Tcp => "_sip._tcp",
            TransportKind::Tls => "_sips._tcp",
        };
        (transport, format!("{prefix}.{host}"))
    };
    match (transport, sips) {
        (Some(transport), _) => vec![name(transport)],
        (None, true) => vec![name(TransportKind::Tls)],
        (None, false) => vec![name(TransportKind::Udp), name(TransportKind::Tcp)],
    }
}

/// Applies the SIPS rules to a transport parameter: TCP means TLS (RFC 3261 §26.2.2) and UDP
/// is refused (§26.2.1).
fn secure_transport(
    transport: Option<TransportKind>,
    sips: bool,
) -> Result<Option<TransportKind>, TargetError> {
    match (transport, sips) {
        (Some(TransportKind::Udp), true) => Err(TargetError::InsecureTransport),
        (Some(TransportKind::Tcp), true) => Ok(Some(TransportKind::Tls)),
        (transport, _) => Ok(transport),
    }
}

fn strip_brackets(host: &str) -> &str {
    host.strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host)
}

/// A DNS SRV record (RFC 2782), as the runtime's resolver returns it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SrvRecord {
    pub priority: u16,
    pub weight: u16,
    pub port: u16,
    pub target: String,
}

/// Orders SRV records for trying, as RFC 2782 ("Usage rules") prescribes.
///
/// Lower priority first; within a priority, the weighted random selection: put weight-0
/// records first, pick a uniform number in `0..=sum of weights`, take the first record whose
/// running sum reaches it, and repeat with the rest. A target of `.` means the service is
/// "decidedly not available" at this domain; such records are dropped, so an empty result
/// from a non-empty answer tells the caller not to fall back to A/AAAA.
pub fn order_srv(records: &[SrvRecord], rng: &mut impl Rng) -> Vec<SrvRecord> {
    let mut usable: Vec<&SrvRecord> = records.iter().filter(|r| !is_root(&r.target)).collect();
    usable.sort_by_key(|r| r.priority);

    let mut ordered = Vec::with_capacity(usable.len());
    for group in usable.chunk_by(|a, b| a.priority == b.priority) {
        let (mut remaining, weighted): (Vec<&SrvRecord>, Vec<&SrvRecord>) =
            group.iter().partition(|r| r.weight == 0);
        remaining.extend(weighted);
        while !remaining.is_empty() {
            let total: u64 = remaining.iter().map(|r| u64::from(r.weight)).sum();
            let pick = rng.random_range(0..=total);
            let mut running = 0u64;
            let index = remaining
                .iter()
                .position(|r| {
                    running += u64::from(r.weight);
                    running >= pick
                })
                .expect("the last running sum is the total, which is at least `pick`");
            ordered.push(remaining.remove(index).clone());
        }
    }
    ordered
}

/// A DNS NAPTR record (RFC 3403), as the runtime's resolver returns it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NaptrRecord {
    pub order: u16,
    pub preference: u16,
    pub flags: String,
    pub service: String,
    pub replacement: String,
}

/// Picks and orders the NAPTR records that lead to SIP over a transport in `supported`
/// (RFC 3263 §4.1).
///
/// Only the services `SIP+D2U`, `SIP+D2T` and `SIPS+D2T` with flag `s` (the replacement is
/// an SRV name) are kept, then sorted by order and preference (RFC 3403 §4.1). For a SIPS
/// URI, pass `&[TransportKind::Tls]`: §4.1 discards every service that is not SIPS.
pub fn order_naptr(
    records: &[NaptrRecord],
    supported: &[TransportKind],
) -> Vec<(TransportKind, String)> {
    let mut usable: Vec<(&NaptrRecord, TransportKind)> = records
        .iter()
        .filter(|r| r.flags.eq_ignore_ascii_case("s") && !is_root(&r.replacement))
        .filter_map(|r| naptr_transport(&r.service).map(|t| (r, t)))
        .filter(|(_, t)| supported.contains(t))
        .collect();
    usable.sort_by_key(|(r, _)| (r.order, r.preference));
    usable
        .into_iter()
        .map(|(r, t)| (t, r.replacement.clone()))
        .collect()
}

/// The transport of a NAPTR service field (RFC 3263 §4.1, IANA "SIP+D2X" registrations).
fn naptr_transport(service: &str) -> Option<TransportKind> {
    if service.eq_ignore_ascii_case("SIP+D2U") {
        Some(TransportKind::Udp)
    } else if service.eq_ignore_ascii_case("SIP+D2T") {
        Some(TransportKind::Tcp)
    } else if service.eq_ignore_ascii_case("SIPS+D2T") {
        Some(TransportKind::Tls)
    } else {
        None
    }
}

/// The root name `.` (or nothing): "no service here" in SRV (RFC 2782) and NAPTR.
fn is_root(name: &str) -> bool {
    name.is_empty() || name == "."
}

/// The addresses to try for one request, in order, with failover (RFC 3263 §4.3).
///
/// A client moves to the next target when a transaction times out or the transport
/// reports an error; a 503 is treated the same way by the caller (§4.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetList {
    targets: Vec<Target>,
    current: usize,
}

impl TargetList {
    /// Keeps the given order and drops repeats, which appear when several SRV targets
    /// resolve to the same address: retrying an address that just failed gains nothing.
    pub fn new(targets: impl IntoIterator<Item = Target>) -> Self {
        let mut unique: Vec<Target> = Vec::new();
        for target in targets {
            if !unique.contains(&target) {
                unique.push(target);
            }
        }
        TargetList {
            targets: unique,
            current: 0,
        }
    }

    /// The target to use now; `None` once every target has failed (or there were none).
    pub fn current(&self) -> Option<&Target> {
        self.targets.get(self.current)
    }

    /// Marks the current target as failed and returns the next one to try, if any.
    pub fn fail_current(&mut self) -> Option<&Target> {
        if self.current < self.targets.len() {
            self.current += 1;
        }
        self.current()
    }

    /// Starts again from the first target, e.g. for the next request after a success or
    /// after every target failed and a retry timer fired.
    pub fn reset(&mut self) {
        self.current = 0;
    }

    /// All targets in order, failed ones included.
    pub fn targets(&self) -> &[Target] {
        &self.targets
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;
    use std::collections::HashMap;

    fn srv(priority: u16, weight: u16, target: &str) -> SrvRecord {
        SrvRecord {
            priority,
            weight,
            port: 5060,
            target: target.to_owned(),
        }
    }

    fn naptr(order: u16, preference: u16, flags: &str, service: &str, repl: &str) -> NaptrRecord {
        NaptrRecord {
            order,
            preference,
            flags: flags.to_owned(),
            service: service.to_owned(),
            replacement: repl.to_owned(),
        }
    }

    fn target(transport: TransportKind, addr: &str) -> Target {
        Target {
            transport,
            addr: addr.parse().expect("test addresses are valid"),
        }
    }

    #[test]
    fn transport_kind_basics() {
        assert_eq!("UDP".parse(), Ok(TransportKind::Udp));
        assert_eq!("Tcp".parse(), Ok(TransportKind::Tcp));
        assert_eq!("tls".parse(), Ok(TransportKind::Tls));
        assert_eq!(
            "sctp".parse::<TransportKind>(),
            Err(TargetError::UnknownTransport("sctp".into()))
        );
        assert!(!TransportKind::Udp.is_reliable());
        assert!(TransportKind::Tcp.is_reliable() && TransportKind::Tls.is_reliable());
        assert_eq!(TransportKind::Udp.default_port(), 5060);
        assert_eq!(TransportKind::Tcp.default_port(), 5060);
        assert_eq!(TransportKind::Tls.default_port(), 5061);
        assert_eq!(TransportKind::Tls.via_name(), "TLS");
        assert_eq!(TransportKind::Udp.to_string(), "udp");
    }

    #[test]
    fn srv_orders_by_priority_first() {
        let records = [
            srv(20, 100, "c"),
            srv(10, 0, "a"),
            srv(30, 5, "d"),
            srv(10, 0, "b"),
        ];
        let mut rng = StdRng::seed_from_u64(7);
        let order: Vec<String> = order_srv(&records, &mut rng)
            .into_iter()
            .map(|r| r.target)
            .collect();
        // Weight-0 records of one priority keep their order (the sum is 0, so the pick is 0).
        assert_eq!(order, ["a", "b", "c", "d"]);
    }

    #[test]
    fn srv_weights_give_proportional_first_choices() {
        let records = [srv(1, 10, "ten"), srv(1, 30, "thirty"), srv(1, 60, "sixty")];
        let mut rng = StdRng::seed_from_u64(2782);
        let runs = 20_000;
        let mut first: HashMap<String, u32> = HashMap::new();
        for _ in 0..runs {
            let ordered = order_srv(&records, &mut rng);
            assert_eq!(ordered.len(), 3);
            *first.entry(ordered[0].target.clone()).or_default() += 1;
        }
        // The pick is uniform over 0..=100, so "ten" also wins a pick of 0: 11/101 etc.
        for (name, expected) in [("ten", 11.0 / 101.0), ("thirty", 0.3), ("sixty", 0.6)] {
            let share = f64::from(first[name]) / f64::from(runs);
            assert!(
                (share - expected).abs() < 0.02,
                "{name}: {share} vs {expected}"
            );
        }
    }

    #[test]
    fn srv_zero_weight_is_rarely_first_among_weighted() {
        let records = [srv(1, 100, "heavy"), srv(1, 0, "zero")];
        let mut rng = StdRng::seed_from_u64(1);
        let zero_first = (0..10_000)
            .filter(|_| order_srv(&records, &mut rng)[0].target == "zero")
            .count();
        // Chance 1/101: weight 0 is placed first and wins only a pick of exactly 0.
        assert!(zero_first > 30 && zero_first < 200, "{zero_first}");
    }

    #[test]
    fn srv_dot_target_means_not_available() {
        let mut rng = StdRng::seed_from_u64(0);
        assert!(order_srv(&[srv(0, 0, ".")], &mut rng).is_empty());
        let ordered = order_srv(&[srv(0, 0, "."), srv(5, 1, "sip.example.com")], &mut rng);
        assert_eq!(ordered, [srv(5, 1, "sip.example.com")]);
    }

    #[test]
    fn naptr_filters_and_sorts() {
        let records = [
            naptr(50, 50, "s", "SIPS+D2T", "_sips._tcp.example.com"),
            naptr(90, 50, "s", "SIP+D2T", "_sip._tcp.example.com"),
            naptr(100, 50, "S", "sip+d2u", "_sip._udp.example.com"),
            naptr(50, 40, "s", "SIP+D2S", "_sip._sctp.example.com"),
            naptr(10, 10, "u", "SIP+D2U", "!^.*$!sip:x@example.com!"),
            naptr(50, 60, "s", "E2U+sip", "_x.example.com"),
            naptr(90, 10, "s", "SIP+D2U", "."),
        ];
        let all = [TransportKind::Udp, TransportKind::Tcp, TransportKind::Tls];
        assert_eq!(
            order_naptr(&records, &all),
            [
                (TransportKind::Tls, "_sips._tcp.example.com".to_owned()),
                (TransportKind::Tcp, "_sip._tcp.example.com".to_owned()),
                (TransportKind::Udp, "_sip._udp.example.com".to_owned()),
            ]
        );
        assert_eq!(
            order_naptr(&records, &[TransportKind::Udp]),
            [(TransportKind::Udp, "_sip._udp.example.com".to_owned())]
        );
        // Same order: preference decides.
        let tie = [
            naptr(10, 20, "s", "SIP+D2U", "_sip._udp.b"),
            naptr(10, 10, "s", "SIP+D2T", "_sip._tcp.a"),
        ];
        assert_eq!(order_naptr(&tie, &all)[0].1, "_sip._tcp.a");
    }

    #[test]
    fn srv_names_without_naptr() {
        assert_eq!(
            srv_names("example.com", None, false),
            [
                (TransportKind::Udp, "_sip._udp.example.com".to_owned()),
                (TransportKind::Tcp, "_sip._tcp.example.com".to_owned()),
            ]
        );
        assert_eq!(
            srv_names("example.com", None, true),
            [(TransportKind::Tls, "_sips._tcp.example.com".to_owned())]
        );
        assert_eq!(
            srv_names("example.com", Some(TransportKind::Tcp), true),
            [(TransportKind::Tls, "_sips._tcp.example.com".to_owned())]
        );
        assert_eq!(
            srv_names("example.com", Some(TransportKind::Tls), false),
            [(TransportKind::Tls, "_sips._tcp.example.com".to_owned())]
        );
        assert!(srv_names("example.com", Some(TransportKind::Udp), true).is_empty());
        assert!(srv_names("192.0.2.1", None, false).is_empty());
        assert!(srv_names("[2001:db8::1]", None, false).is_empty());
    }

    #[test]
    fn plan_follows_rfc3263_sections_4_1_and_4_2() {
        assert_eq!(
            plan("[2001:db8::1]", None, None, true),
            Ok(Resolution::Literal(target(
                TransportKind::Tls,
                "[2001:db8::1]:5061"
            )))
        );
        assert_eq!(
            plan("192.0.2.1", Some(5070), Some(TransportKind::Tcp), false),
            Ok(Resolution::Literal(target(
                TransportKind::Tcp,
                "192.0.2.1:5070"
            )))
        );
        assert_eq!(
            plan("pbx.example.com", Some(5080), None, false),
            Ok(Resolution::Address(HostLookup {
                host: "pbx.example.com".into(),
                port: 5080,
                transport: TransportKind::Udp,
            }))
        );
        assert_eq!(
            plan("pbx.example.com", None, Some(TransportKind::Tcp), false),
            Ok(Resolution::Srv {
                names: vec![(TransportKind::Tcp, "_sip._tcp.pbx.example.com".into())],
                fallback: HostLookup {
                    host: "pbx.example.com".into(),
                    port: 5060,
                    transport: TransportKind::Tcp,
                },
            })
        );
        let Ok(Resolution::Naptr {
            allowed, fallback, ..
        }) = plan("example.com", None, None, true)
        else {
            panic!("a bare SIPS host name starts with NAPTR");
        };
        assert_eq!(allowed, [TransportKind::Tls]);
        assert_eq!(fallback.port, 5061);
        assert_eq!(
            plan("example.com", None, Some(TransportKind::Udp), true),
            Err(TargetError::InsecureTransport)
        );
    }

    #[test]
    fn target_list_fails_over_in_order() {
        let a = target(TransportKind::Udp, "192.0.2.1:5060");
        let b = target(TransportKind::Udp, "192.0.2.2:5060");
        let c = target(TransportKind::Tcp, "[2001:db8::3]:5060");
        let mut list = TargetList::new([a, b, a, c]);
        assert_eq!(list.targets(), [a, b, c]);
        assert_eq!(list.current(), Some(&a));
        assert_eq!(list.fail_current(), Some(&b));
        assert_eq!(list.fail_current(), Some(&c));
        assert_eq!(list.fail_current(), None);
        assert_eq!(list.fail_current(), None);
        assert_eq!(list.current(), None);
        list.reset();
        assert_eq!(list.current(), Some(&a));
        assert_eq!(TargetList::new([]).current(), None);
    }
}
