//! Talking SMTP to the mailbox's provider with `lettre`: one authenticated connection per
//! batch (implicit TLS, STARTTLS, or plain towards loopback only), the raw bytes submitted
//! exactly as stored, and every failure sorted into what the worker does next, in words a
//! user can act on.

use std::path::Path;
use std::time::Duration;

use lettre::address::{Address, Envelope};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, Certificate, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use secrecy::ExposeSecret;

use crate::store::mailboxes::{Endpoint, Security};

/// What a failed attempt means for the row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The provider refused for now (4xx) or could not be reached before anything was
    /// submitted: try again after a backoff.
    Transient {
        /// The provider's reply, when there was one.
        reply: Option<String>,
        /// Words for the user.
        error: String,
    },
    /// The provider refused for good (5xx, authentication, TLS): do not retry.
    Permanent {
        /// The provider's reply, when there was one.
        reply: Option<String>,
        /// Words for the user.
        error: String,
    },
    /// The connection broke while the message was being submitted: the provider may have
    /// accepted it. Recovery looks for its accettazione before any new attempt.
    Uncertain {
        /// Words for the user.
        error: String,
    },
}

impl Failure {
    /// The words for the user.
    pub fn words(&self) -> &str {
        match self {
            Failure::Transient { error, .. }
            | Failure::Permanent { error, .. }
            | Failure::Uncertain { error } => error,
        }
    }
}

/// An open, authenticated connection.
pub struct Connection {
    conn: AsyncSmtpConnection,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("smtp::Connection")
    }
}

fn reply_of(e: &lettre::transport::smtp::Error) -> Option<String> {
    // lettre's Display of a response error is "permanent error (550): text".
    e.status().map(|code| {
        let text = e.to_string();
        let detail = text.split_once("): ").map_or("", |(_, d)| d);
        format!("{code} {detail}").trim().to_owned()
    })
}

fn tls_params(host: &str, ca_bundle: Option<&Path>) -> Result<TlsParameters, Failure> {
    let mut b = TlsParameters::builder(host.to_owned());
    if let Some(path) = ca_bundle {
        match std::fs::read(path).map(|pem| Certificate::from_pem(&pem)) {
            Ok(Ok(c)) => b = b.add_root_certificate(c),
            _ => tracing::warn!("outbox: ca_bundle not readable, left out"),
        }
    }
    b.build_rustls().map_err(|e| Failure::Permanent {
        reply: None,
        error: format!(
            "impostazioni TLS non valide per l'invio: controlla l'host SMTP della casella / \
             invalid TLS settings for sending: check the mailbox's SMTP host ({e})"
        ),
    })
}

/// Connects and authenticates. `timeout` bounds each step.
pub async fn connect(
    endpoint: &Endpoint,
    hello: &str,
    timeout: Duration,
    ca_bundle: Option<&Path>,
) -> Result<Connection, Failure> {
    let addrs: Vec<std::net::SocketAddr> =
        match tokio::net::lookup_host((endpoint.host.as_str(), endpoint.port)).await {
            Ok(a) => a.collect(),
            Err(_) => Vec::new(),
        };
    if addrs.is_empty() {
        return Err(Failure::Transient {
            reply: None,
            error: "server SMTP non trovato: controlla l'host nelle impostazioni della casella / \
                    SMTP server not found: check the host in the mailbox's settings"
                .into(),
        });
    }
    if endpoint.security == Security::Plain && !addrs.iter().all(|a| a.ip().is_loopback()) {
        // Security invariant: a password never crosses the network in clear.
        return Err(Failure::Permanent {
            reply: None,
            error: "SMTP senza cifratura è ammesso solo verso loopback: scegli TLS o STARTTLS / \
                    plain SMTP is allowed only towards loopback: choose TLS or STARTTLS"
                .into(),
        });
    }
    let client = ClientId::Domain(hello.to_owned());
    let implicit = match endpoint.security {
        Security::Tls => Some(tls_params(&endpoint.host, ca_bundle)?),
        _ => None,
    };
    let unreachable = |e: lettre::transport::smtp::Error| {
        if e.is_tls() {
            Failure::Permanent {
                reply: None,
                error: format!(
                    "connessione TLS al server SMTP non riuscita: controlla host, porta e \
                     sicurezza della casella / TLS connection to the SMTP server failed: check \
                     the mailbox's host, port and security ({e})"
                ),
            }
        } else {
            Failure::Transient {
                reply: reply_of(&e),
                error: format!(
                    "server SMTP non raggiungibile, nuovo tentativo più tardi / SMTP server \
                     unreachable, trying again later ({e})"
                ),
            }
        }
    };
    let mut conn = AsyncSmtpConnection::connect_tokio1(
        addrs.as_slice(),
        Some(timeout),
        &client,
        implicit,
        None,
    )
    .await
    .map_err(unreachable)?;
    if endpoint.security == Security::Starttls {
        let params = tls_params(&endpoint.host, ca_bundle)?;
        conn.starttls(params, &client)
            .await
            .map_err(|e| Failure::Permanent {
                reply: reply_of(&e),
                error: format!(
                    "STARTTLS non riuscito: controlla porta e sicurezza della casella / STARTTLS \
                 failed: check the mailbox's port and security ({e})"
                ),
            })?;
    }
    let creds = Credentials::new(
        endpoint.user.clone(),
        endpoint.secret.expose_secret().to_owned(),
    );
    let auth = tokio::time::timeout(
        timeout,
        conn.auth(&[Mechanism::Plain, Mechanism::Login], &creds),
    )
    .await;
    match auth {
        Ok(Ok(_)) => Ok(Connection { conn }),
        Ok(Err(e)) if e.is_transient() => Err(Failure::Transient {
            reply: reply_of(&e),
            error: "il server SMTP rimanda l'accesso, nuovo tentativo più tardi / the SMTP \
                    server defers the login, trying again later"
                .into(),
        }),
        Ok(Err(e)) => Err(Failure::Permanent {
            reply: reply_of(&e),
            error: "accesso SMTP rifiutato: un amministratore controlli utente e password di \
                    invio della casella / SMTP login refused: an administrator must check the \
                    mailbox's sending user and password"
                .into(),
        }),
        Err(_) => Err(Failure::Transient {
            reply: None,
            error: "il server SMTP non risponde all'accesso, nuovo tentativo più tardi / the \
                    SMTP server does not answer the login, trying again later"
                .into(),
        }),
    }
}

impl Connection {
    /// Whether the connection can take another message.
    pub fn usable(&self) -> bool {
        !self.conn.has_broken()
    }

    /// Submits `raw` from `from` to `recipients`; the provider's reply on success.
    pub async fn send(
        &mut self,
        from: &str,
        recipients: &[String],
        raw: &[u8],
        timeout: Duration,
    ) -> Result<String, Failure> {
        let bad = |what: &str| Failure::Permanent {
            reply: None,
            error: format!(
                "indirizzo non valido ({what}): correggi i destinatari / invalid address \
                 ({what}): fix the recipients"
            ),
        };
        let from: Address = from.parse().map_err(|_| bad("from"))?;
        let mut to = Vec::with_capacity(recipients.len());
        for r in recipients {
            to.push(r.parse::<Address>().map_err(|_| bad("to"))?);
        }
        let envelope = Envelope::new(Some(from), to).map_err(|_| bad("to"))?;
        match tokio::time::timeout(timeout, self.conn.send(&envelope, raw)).await {
            Ok(Ok(r)) => {
                let text: Vec<&str> = r.message().collect();
                Ok(format!("{} {}", r.code(), text.join(" ")).trim().to_owned())
            }
            Ok(Err(e)) if e.is_transient() => Err(Failure::Transient {
                reply: reply_of(&e),
                error: format!(
                    "il gestore ha rimandato il messaggio ({}), nuovo tentativo più tardi / the \
                     provider deferred the message, trying again later",
                    reply_of(&e).unwrap_or_default()
                ),
            }),
            Ok(Err(e)) if e.is_permanent() => Err(Failure::Permanent {
                reply: reply_of(&e),
                error: format!(
                    "il gestore ha rifiutato il messaggio ({}): correggi e invia di nuovo / the \
                     provider refused the message: fix it and send again",
                    reply_of(&e).unwrap_or_default()
                ),
            }),
            Ok(Err(e)) if e.is_client() => Err(Failure::Permanent {
                reply: None,
                error: format!(
                    "messaggio non inviabile a questo server ({e}) / the message cannot be \
                     submitted to this server"
                ),
            }),
            Ok(Err(_)) | Err(_) => {
                self.conn.abort().await;
                Err(Failure::Uncertain {
                    error: "connessione interrotta durante l'invio: si verifica la ricevuta di \
                            accettazione prima di riprovare / connection lost while sending: \
                            the acceptance receipt is checked before trying again"
                        .into(),
                })
            }
        }
    }

    /// Says goodbye (errors ignored: the messages are already concluded).
    pub async fn quit(mut self) {
        let _ = self.conn.quit().await;
    }
}
