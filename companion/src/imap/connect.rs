//! Opening an authenticated IMAP session: TCP (with a timeout), then implicit TLS, STARTTLS
//! or — towards a loopback address only — nothing, then LOGIN. Every failure comes back as
//! a [`PollError`] with the code an admin reads.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use async_imap::{Client, Session};
use secrecy::ExposeSecret;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls;

use super::health::{ErrorCode, PollError};
use crate::store::mailboxes::{Endpoint, Security};

/// The connection under an IMAP session: plain TCP (loopback only) or TLS.
pub enum Stream {
    /// Unencrypted (towards loopback only).
    Plain(TcpStream),
    /// TLS, implicit or after STARTTLS.
    Tls(Box<TlsStream<TcpStream>>),
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Stream::Plain(_) => "Stream::Plain",
            Stream::Tls(_) => "Stream::Tls",
        })
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// An authenticated session.
pub type ImapSession = Session<Stream>;

/// Maps an IMAP library error met after login to a code.
pub fn classify(e: &async_imap::error::Error) -> PollError {
    use async_imap::error::Error as E;
    match e {
        E::Io(io) if io.kind() == io::ErrorKind::TimedOut => {
            PollError::new(ErrorCode::Timeout, io.to_string())
        }
        E::Io(io) => PollError::new(ErrorCode::Connect, io.to_string()),
        E::ConnectionLost => PollError::new(ErrorCode::Connect, "connection lost"),
        other => PollError::new(ErrorCode::Protocol, other.to_string()),
    }
}

/// Runs `fut` with a deadline; a late answer is a timeout.
pub async fn timed<T>(
    limit: Duration,
    what: &str,
    fut: impl Future<Output = Result<T, PollError>>,
) -> Result<T, PollError> {
    match tokio::time::timeout(limit, fut).await {
        Ok(r) => r,
        Err(_) => Err(PollError::new(
            ErrorCode::Timeout,
            format!("{what}: no answer in {} s", limit.as_secs()),
        )),
    }
}

async fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, PollError> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| PollError::new(ErrorCode::Dns, e.to_string()))?
        .collect();
    if addrs.is_empty() {
        return Err(PollError::new(ErrorCode::Dns, "no address"));
    }
    Ok(addrs)
}

async fn tcp(addrs: &[SocketAddr]) -> Result<TcpStream, PollError> {
    let mut last = None;
    for a in addrs {
        match TcpStream::connect(a).await {
            Ok(s) => {
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(PollError::new(
        ErrorCode::Connect,
        last.map(|e| e.to_string()).unwrap_or_default(),
    ))
}

/// The TLS client of the pollers: the public web roots (webpki) plus the certificates of
/// `ca_bundle` (the companion's `ca_bundle` setting: e.g. the private CA of an on-premise
/// mail server). A bundle that cannot be read is logged and left out.
pub fn tls_connector(ca_bundle: Option<&Path>) -> Result<TlsConnector, PollError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = ca_bundle {
        match std::fs::read(path) {
            Ok(pem) => {
                let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
                    .filter_map(Result::ok)
                    .collect();
                roots.add_parsable_certificates(certs);
            }
            Err(e) => tracing::warn!(error = %e, "IMAP: ca_bundle not readable, left out"),
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| PollError::new(ErrorCode::Tls, e.to_string()))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(TlsConnector::from(Arc::new(config)))
}

async fn tls(connector: &TlsConnector, host: &str, tcp: TcpStream) -> Result<Stream, PollError> {
    let name = rustls::pki_types::ServerName::try_from(host.to_owned())
        .map_err(|e| PollError::new(ErrorCode::Tls, e.to_string()))?;
    let s = connector
        .connect(name, tcp)
        .await
        .map_err(|e| PollError::new(ErrorCode::Tls, e.to_string()))?;
    Ok(Stream::Tls(Box::new(s)))
}

/// Reads the server's greeting (`* OK ...`).
async fn greeting(client: &mut Client<Stream>) -> Result<(), PollError> {
    match client.read_response().await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err(PollError::new(
            ErrorCode::Protocol,
            "connection closed before the greeting",
        )),
        Err(e) if matches!(e.kind(), io::ErrorKind::InvalidData) => {
            // A TLS server answered a plain client, or garbage.
            Err(PollError::new(ErrorCode::Tls, e.to_string()))
        }
        Err(e) => Err(PollError::new(ErrorCode::Connect, e.to_string())),
    }
}

/// Connects and logs in. `timeout` bounds each step; `ca_bundle` adds TLS roots.
pub async fn open(
    endpoint: &Endpoint,
    timeout: Duration,
    ca_bundle: Option<&Path>,
) -> Result<ImapSession, PollError> {
    let addrs = timed(timeout, "DNS", resolve(&endpoint.host, endpoint.port)).await?;
    if endpoint.security == Security::Plain && !addrs.iter().all(|a| a.ip().is_loopback()) {
        // Security invariant: a password never crosses the network in clear.
        return Err(PollError::new(
            ErrorCode::Tls,
            "plain IMAP is allowed only towards a loopback address",
        ));
    }
    let sock = timed(timeout, "connect", tcp(&addrs)).await?;
    let stream = match endpoint.security {
        Security::Tls => {
            let c = tls_connector(ca_bundle)?;
            timed(timeout, "TLS", tls(&c, &endpoint.host, sock)).await?
        }
        Security::Plain => Stream::Plain(sock),
        Security::Starttls => {
            let c = tls_connector(ca_bundle)?;
            timed(timeout, "STARTTLS", starttls(&c, &endpoint.host, sock)).await?
        }
    };
    let mut client = Client::new(stream);
    if endpoint.security != Security::Starttls {
        timed(timeout, "greeting", greeting(&mut client)).await?;
    }
    let login = client.login(&endpoint.user, endpoint.secret.expose_secret());
    match tokio::time::timeout(timeout, login).await {
        Err(_) => Err(PollError::new(ErrorCode::Timeout, "LOGIN: no answer")),
        Ok(Ok(session)) => Ok(session),
        Ok(Err((e, _))) => Err(match e {
            async_imap::error::Error::No(text) => PollError::new(ErrorCode::Auth, text),
            async_imap::error::Error::Validate(_) => PollError::new(
                ErrorCode::Auth,
                "user name or password holds a character IMAP cannot send",
            ),
            other => classify(&other),
        }),
    }
}

/// Plain greeting, `STARTTLS`, then the TLS handshake on the same socket.
async fn starttls(
    connector: &TlsConnector,
    host: &str,
    sock: TcpStream,
) -> Result<Stream, PollError> {
    let mut client = Client::new(Stream::Plain(sock));
    greeting(&mut client).await?;
    client
        .run_command_and_check_ok("STARTTLS", None)
        .await
        .map_err(|e| match e {
            async_imap::error::Error::No(t) | async_imap::error::Error::Bad(t) => {
                PollError::new(ErrorCode::Tls, format!("STARTTLS refused: {t}"))
            }
            other => classify(&other),
        })?;
    // Nothing can be buffered past the tagged OK: the server waits for our handshake.
    let Stream::Plain(sock) = client.into_inner() else {
        return Err(PollError::new(ErrorCode::Protocol, "unexpected stream"));
    };
    tls(connector, host, sock).await
}
