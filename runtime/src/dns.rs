//! Locating the registrar/proxy (RFC 3263): the core decides what to look up and in what
//! order ([`parley_core::sip::target`]); this module performs the NAPTR, SRV and A/AAAA
//! queries with hickory.

use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::TokioResolver;
use parley_core::sip::target::{
    self, HostLookup, NaptrRecord, Resolution, SrvRecord, Target, TransportKind,
};
use parley_core::sip::uri::SipUri;
use std::net::SocketAddr;

/// Why no address could be found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnsError {
    #[error("cannot set up DNS: {0}")]
    Setup(String),
    #[error("{0}")]
    Plan(String),
    #[error("{host}: no address found ({reason})")]
    NoAddress { host: String, reason: String },
    #[error("{0}: the domain says it offers no SIP service (SRV target \".\")")]
    ServiceUnavailable(String),
}

/// A DNS resolver, the system's or one given in the configuration.
#[derive(Clone)]
pub struct Resolver {
    inner: TokioResolver,
}

impl Resolver {
    pub fn new(servers: &[SocketAddr]) -> Result<Self, DnsError> {
        let builder = if servers.is_empty() {
            TokioResolver::builder_tokio().map_err(|e| DnsError::Setup(e.to_string()))?
        } else {
            let name_servers = servers
                .iter()
                .map(|s| {
                    let mut udp = ConnectionConfig::udp();
                    udp.port = s.port();
                    let mut tcp = ConnectionConfig::tcp();
                    tcp.port = s.port();
                    NameServerConfig::new(s.ip(), true, vec![udp, tcp])
                })
                .collect();
            let config = ResolverConfig::from_parts(None, Vec::new(), name_servers);
            TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
        };
        let inner = builder
            .build()
            .map_err(|e| DnsError::Setup(e.to_string()))?;
        Ok(Resolver { inner })
    }

    /// The targets for `uri`, in the order to try them.
    pub async fn resolve(
        &self,
        uri: &SipUri,
        transport: Option<TransportKind>,
    ) -> Result<Vec<Target>, DnsError> {
        let transport = transport.or_else(|| {
            uri.param("transport")
                .flatten()
                .and_then(|t| t.parse().ok())
        });
        let sips = uri.scheme == parley_core::sip::uri::Scheme::Sips;
        let plan = target::plan(&uri.host.to_string(), uri.port, transport, sips)
            .map_err(|e| DnsError::Plan(e.to_string()))?;
        match plan {
            Resolution::Literal(t) => Ok(vec![t]),
            Resolution::Address(lookup) => self.addresses(&lookup).await,
            Resolution::Srv { names, fallback } => match self.srv(&names).await? {
                Some(targets) => Ok(targets),
                None => self.addresses(&fallback).await,
            },
            Resolution::Naptr {
                host,
                allowed,
                srv_names,
                fallback,
            } => {
                let naptr = self.naptr(&host, &allowed).await;
                for names in [naptr, srv_names] {
                    if let Some(targets) = self.srv(&names).await? {
                        return Ok(targets);
                    }
                }
                self.addresses(&fallback).await
            }
        }
    }

    async fn addresses(&self, lookup: &HostLookup) -> Result<Vec<Target>, DnsError> {
        let ips = self
            .inner
            .lookup_ip(lookup.host.as_str())
            .await
            .map_err(|e| DnsError::NoAddress {
                host: lookup.host.clone(),
                reason: e.to_string(),
            })?;
        let targets: Vec<Target> = ips
            .iter()
            .map(|ip| Target {
                transport: lookup.transport,
                addr: SocketAddr::new(ip, lookup.port),
            })
            .collect();
        if targets.is_empty() {
            return Err(DnsError::NoAddress {
                host: lookup.host.clone(),
                reason: "empty answer".into(),
            });
        }
        Ok(targets)
    }

    /// The NAPTR-selected SRV names (RFC 3263 §4.1); none when the domain has no NAPTR.
    async fn naptr(&self, host: &str, allowed: &[TransportKind]) -> Vec<(TransportKind, String)> {
        let Ok(lookup) = self.inner.lookup(host, RecordType::NAPTR).await else {
            return Vec::new();
        };
        let records: Vec<NaptrRecord> = lookup
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                RData::NAPTR(n) => Some(NaptrRecord {
                    order: n.order,
                    preference: n.preference,
                    flags: String::from_utf8_lossy(&n.flags).into_owned(),
                    service: String::from_utf8_lossy(&n.services).into_owned(),
                    replacement: n.replacement.to_utf8(),
                }),
                _ => None,
            })
            .collect();
        target::order_naptr(&records, allowed)
    }

    /// Tries the SRV names in order; the first with records gives the targets, each SRV
    /// target resolved to its addresses (RFC 3263 §4.2, RFC 2782 order).
    async fn srv(
        &self,
        names: &[(TransportKind, String)],
    ) -> Result<Option<Vec<Target>>, DnsError> {
        for (transport, name) in names {
            let Ok(lookup) = self.inner.lookup(name.as_str(), RecordType::SRV).await else {
                continue;
            };
            let records: Vec<SrvRecord> = lookup
                .answers()
                .iter()
                .filter_map(|r| match &r.data {
                    RData::SRV(s) => Some(SrvRecord {
                        priority: s.priority,
                        weight: s.weight,
                        port: s.port,
                        target: s.target.to_utf8(),
                    }),
                    _ => None,
                })
                .collect();
            if records.is_empty() {
                continue;
            }
            let ordered = target::order_srv(&records, &mut rand::rng());
            if ordered.is_empty() {
                return Err(DnsError::ServiceUnavailable(name.clone()));
            }
            let mut targets = Vec::new();
            for record in ordered {
                let lookup = HostLookup {
                    host: record.target.trim_end_matches('.').to_owned(),
                    port: record.port,
                    transport: *transport,
                };
                match self.addresses(&lookup).await {
                    Ok(found) => targets.extend(found),
                    Err(e) => tracing::warn!(error = %e, "SRV target skipped"),
                }
            }
            if !targets.is_empty() {
                return Ok(Some(targets));
            }
        }
        Ok(None)
    }
}
