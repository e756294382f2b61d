//! Stream transports for SIP (RFC 3261 §18.3): TCP and TLS connections to the registrar
//! or proxy, framed by Content-Length, with CRLF keep-alive (RFC 5626 §3.5.1). Each
//! connection is two tasks (reader, writer) that report to the engine over a channel.

use parley_core::sip::codec::{next_frame, Frame};
use parley_core::sip::target::{Target, TransportKind};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::TlsConnector;

/// How long a TCP connect or TLS handshake may take before the target counts as failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What connection tasks tell the engine.
#[derive(Debug)]
pub enum StreamEvent {
    Connected {
        target: Target,
        local: SocketAddr,
        writer: mpsc::UnboundedSender<Vec<u8>>,
    },
    Message {
        target: Target,
        bytes: Vec<u8>,
    },
    Pong {
        target: Target,
    },
    Failed {
        target: Target,
        reason: String,
    },
}

/// Opens a TCP or TLS connection in the background; the outcome arrives on `events`.
pub fn connect(
    target: Target,
    tls: Option<(TlsConnector, ServerName<'static>)>,
    events: mpsc::UnboundedSender<StreamEvent>,
) {
    tokio::spawn(async move {
        let result = tokio::time::timeout(CONNECT_TIMEOUT, open(target, tls, events.clone())).await;
        let reason = match result {
            Ok(Ok(())) => return,
            Ok(Err(e)) => e,
            Err(_) => format!("no connection within {} s", CONNECT_TIMEOUT.as_secs()),
        };
        let _ = events.send(StreamEvent::Failed { target, reason });
    });
}

async fn open(
    target: Target,
    tls: Option<(TlsConnector, ServerName<'static>)>,
    events: mpsc::UnboundedSender<StreamEvent>,
) -> Result<(), String> {
    let tcp = TcpStream::connect(target.addr)
        .await
        .map_err(|e| format!("TCP connect to {}: {e}", target.addr))?;
    let local = tcp.local_addr().map_err(|e| e.to_string())?;
    let _ = tcp.set_nodelay(true);
    match (target.transport, tls) {
        (TransportKind::Tls, Some((connector, name))) => {
            let stream = connector
                .connect(name, tcp)
                .await
                .map_err(|e| format!("TLS handshake with {}: {e}", target.addr))?;
            start(target, local, stream, events);
        }
        (TransportKind::Tls, None) => return Err("TLS is not configured".into()),
        _ => start(target, local, tcp, events),
    }
    Ok(())
}

fn start<S>(
    target: Target,
    local: SocketAddr,
    stream: S,
    events: mpsc::UnboundedSender<StreamEvent>,
) where
    S: AsyncRead + AsyncWrite + Send + 'static,
{
    let (mut reader, mut writer) = tokio::io::split(stream);
    let (tx, mut rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let write_events = events.clone();
    tokio::spawn(async move {
        while let Some(bytes) = rx.recv().await {
            if let Err(e) = writer.write_all(&bytes).await {
                let _ = write_events.send(StreamEvent::Failed {
                    target,
                    reason: format!("write: {e}"),
                });
                return;
            }
        }
        // The engine dropped the connection: close it politely.
        let _ = writer.shutdown().await;
    });
    let pong = tx.clone();
    let _ = events.send(StreamEvent::Connected {
        target,
        local,
        writer: tx,
    });
    tokio::spawn(async move {
        let reason = read_loop(target, &mut reader, &pong, &events).await;
        let _ = events.send(StreamEvent::Failed { target, reason });
    });
}

/// Reads and frames until the connection ends; returns why it ended.
async fn read_loop<R: AsyncRead + Unpin>(
    target: Target,
    reader: &mut R,
    pong: &mpsc::UnboundedSender<Vec<u8>>,
    events: &mpsc::UnboundedSender<StreamEvent>,
) -> String {
    let mut buf: Vec<u8> = Vec::with_capacity(8192);
    let mut chunk = [0u8; 8192];
    loop {
        loop {
            match next_frame(&buf) {
                Frame::Incomplete => break,
                Frame::Ping => {
                    buf.drain(..4);
                    let _ = pong.send(b"\r\n".to_vec());
                }
                Frame::Pong => {
                    buf.drain(..2);
                    let _ = events.send(StreamEvent::Pong { target });
                }
                Frame::Message(n) => {
                    let bytes: Vec<u8> = buf.drain(..n).collect();
                    if events.send(StreamEvent::Message { target, bytes }).is_err() {
                        return "engine stopped".into();
                    }
                }
                Frame::Invalid(reason) => return format!("unframeable stream: {reason}"),
            }
        }
        match reader.read(&mut chunk).await {
            Ok(0) => return "connection closed by the server".into(),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => return format!("read: {e}"),
        }
    }
}

/// A TLS client that verifies server certificates against the system's roots, the bundled
/// Mozilla roots, and an optional extra CA file (DESIGN: verify TLS).
pub fn tls_connector(extra_ca: Option<&std::path::Path>) -> Result<TlsConnector, String> {
    tls_client_config(extra_ca).map(|config| TlsConnector::from(Arc::new(config)))
}

/// The client configuration of [`tls_connector`], also used for HTTPS (Microsoft Graph).
pub fn tls_client_config(
    extra_ca: Option<&std::path::Path>,
) -> Result<tokio_rustls::rustls::ClientConfig, String> {
    use tokio_rustls::rustls;
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let native = rustls_native_certs::load_native_certs();
    for cert in native.certs {
        let _ = roots.add(cert);
    }
    if let Some(path) = extra_ca {
        let pem = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut added = 0;
        for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
            let cert = cert.map_err(|e| format!("{}: {e}", path.display()))?;
            roots
                .add(cert)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            added += 1;
        }
        if added == 0 {
            return Err(format!("{}: no PEM certificate found", path.display()));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// The name a server certificate must match: the host of the URI we resolved (RFC 5922
/// §4), an IP address when the URI had one.
pub fn server_name(host: &str) -> Result<ServerName<'static>, String> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(bare.to_owned()).map_err(|e| format!("{host}: {e}"))
}
