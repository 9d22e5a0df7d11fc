//! The submission server: ESMTP on loopback with AUTH PLAIN and LOGIN, one session per
//! connection. Lines are bounded, every read has a timeout, and no input can panic it.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use tokio::io::{AsyncBufRead, AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use super::Inner;
use super::maildir::valid_address;

/// Longest command line (RFC 5321 says 512; AUTH lines with long passwords need more).
const MAX_COMMAND: usize = 4096;
/// Longest line inside DATA (RFC 5321: 1000; base64 bodies stay far below).
const MAX_DATA_LINE: usize = 64 * 1024;
/// Idle time after which a session is closed.
const IDLE: Duration = Duration::from_secs(300);
/// Most recipients of one transaction the server keeps (the provider's limit is judged
/// after DATA, as a non-accettazione).
const MAX_RCPT: usize = 10_000;
/// What is kept of a message over the size limit (its beginning, for the headers).
const KEEP_OF_TOO_LARGE: u64 = 64 * 1024;
/// Bad commands before the server hangs up.
const MAX_ERRORS: u32 = 20;

pub(crate) async fn accept_loop(
    inner: Arc<Inner>,
    listener: TcpListener,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut sessions = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    // Replies go out at once: with Nagle's algorithm each command of a
                    // session waited for the client's delayed ACK (about 5 messages/s).
                    let _ = stream.set_nodelay(true);
                    let inner = inner.clone();
                    sessions.spawn(async move {
                        if let Err(e) = session(inner, stream).await {
                            tracing::debug!(error = %e, "simulator: SMTP session ended");
                        }
                    });
                }
                Err(e) => {
                    tracing::warn!(error = %e, "simulator: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
            _ = shutdown.changed() => break,
        }
    }
    sessions.shutdown().await;
}

enum Line {
    Ok(Vec<u8>),
    TooLong,
    Eof,
}

/// Reads one line (without its line end), at most `max` bytes; a longer line is consumed
/// and reported as [`Line::TooLong`].
async fn read_line<R: AsyncBufRead + Unpin>(r: &mut R, max: usize) -> std::io::Result<Line> {
    let mut out = Vec::new();
    let mut too_long = false;
    loop {
        let buf = tokio::time::timeout(IDLE, r.fill_buf())
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "idle"))??;
        if buf.is_empty() {
            return Ok(if out.is_empty() && !too_long {
                Line::Eof
            } else if too_long {
                Line::TooLong
            } else {
                Line::Ok(out)
            });
        }
        let (chunk, done) = match buf.iter().position(|b| *b == b'\n') {
            Some(at) => (&buf[..at + 1], true),
            None => (buf, false),
        };
        let used = chunk.len();
        if !too_long {
            if out.len() + used > max + 2 {
                too_long = true;
                out.clear();
            } else {
                out.extend_from_slice(chunk);
            }
        }
        r.consume(used);
        if done {
            if too_long {
                return Ok(Line::TooLong);
            }
            while out.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                out.pop();
            }
            return Ok(Line::Ok(out));
        }
    }
}

struct Session {
    account: Option<String>,
    from: Option<String>,
    rcpts: Vec<String>,
    errors: u32,
}

async fn session(inner: Arc<Inner>, stream: TcpStream) -> anyhow::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let domain = inner.gestore.domain.clone();
    let mut s = Session {
        account: None,
        from: None,
        rcpts: Vec::new(),
        errors: 0,
    };
    macro_rules! reply {
        ($($arg:tt)*) => {{
            let text = format!($($arg)*);
            write.write_all(text.as_bytes()).await?;
            write.write_all(b"\r\n").await?;
            write.flush().await?;
        }};
    }
    reply!("220 {domain} ESMTP Simulatore PEC PecDesk (solo test / test only)");
    loop {
        if s.errors >= MAX_ERRORS {
            reply!("421 4.7.0 Troppi errori, chiudo / too many errors, closing");
            return Ok(());
        }
        let line = match read_line(&mut reader, MAX_COMMAND).await? {
            Line::Eof => return Ok(()),
            Line::TooLong => {
                s.errors += 1;
                reply!("500 5.5.2 Riga troppo lunga / line too long");
                continue;
            }
            Line::Ok(l) => String::from_utf8_lossy(&l).into_owned(),
        };
        let (verb, arg) = match line.split_once(' ') {
            Some((v, a)) => (v.to_ascii_uppercase(), a.trim().to_owned()),
            None => (line.trim().to_ascii_uppercase(), String::new()),
        };
        match verb.as_str() {
            "EHLO" => {
                s.from = None;
                s.rcpts.clear();
                reply!("250-{domain} ciao / hello");
                reply!("250-AUTH PLAIN LOGIN");
                reply!("250-SIZE {}", inner.limits.max_bytes);
                reply!("250-8BITMIME");
                reply!("250 ENHANCEDSTATUSCODES");
            }
            "HELO" => {
                s.from = None;
                s.rcpts.clear();
                reply!("250 {domain}");
            }
            "AUTH" => {
                if s.account.is_some() {
                    reply!("503 5.5.1 Già autenticato / already authenticated");
                    continue;
                }
                let mut parts = arg.split_whitespace();
                let mechanism = parts.next().unwrap_or_default().to_ascii_uppercase();
                let initial = parts.next().map(str::to_owned);
                let credentials = match mechanism.as_str() {
                    "PLAIN" => {
                        let response = match initial {
                            Some(r) => r,
                            None => {
                                reply!("334 ");
                                match read_line(&mut reader, MAX_COMMAND).await? {
                                    Line::Ok(l) => String::from_utf8_lossy(&l).into_owned(),
                                    Line::Eof => return Ok(()),
                                    Line::TooLong => String::new(),
                                }
                            }
                        };
                        decode_plain(&response)
                    }
                    "LOGIN" => {
                        let user = match initial {
                            Some(u) => Some(u),
                            None => {
                                reply!("334 VXNlcm5hbWU6");
                                read_b64_line(&mut reader).await?
                            }
                        };
                        reply!("334 UGFzc3dvcmQ6");
                        let password = read_b64_line(&mut reader).await?;
                        match (
                            user.as_deref().and_then(decode_b64),
                            password.as_deref().and_then(decode_b64),
                        ) {
                            (Some(u), Some(p)) => Some((u, p)),
                            _ => None,
                        }
                    }
                    _ => {
                        s.errors += 1;
                        reply!(
                            "504 5.5.4 Meccanismo non supportato, usare PLAIN o LOGIN / unsupported mechanism, use PLAIN or LOGIN"
                        );
                        continue;
                    }
                };
                match credentials.and_then(|(u, p)| inner.account(&u, &p)) {
                    Some(account) => {
                        s.account = Some(account);
                        reply!("235 2.7.0 Autenticazione riuscita / authentication succeeded");
                    }
                    None => {
                        s.errors += 1;
                        tracing::info!("simulator: authentication refused");
                        reply!(
                            "535 5.7.8 Credenziali non valide: controllare utente e password / invalid credentials: check user and password"
                        );
                    }
                }
            }
            "MAIL" => {
                let Some(account) = s.account.clone() else {
                    s.errors += 1;
                    reply!("530 5.7.0 Autenticazione richiesta / authentication required");
                    continue;
                };
                if s.from.is_some() {
                    reply!(
                        "503 5.5.1 Transazione già aperta, usare RSET / transaction already open, use RSET"
                    );
                    continue;
                }
                let Some(address) = path_arg(&arg, "FROM:") else {
                    s.errors += 1;
                    reply!(
                        "501 5.5.4 Sintassi: MAIL FROM:<indirizzo> / syntax: MAIL FROM:<address>"
                    );
                    continue;
                };
                if !address.eq_ignore_ascii_case(&account) {
                    reply!(
                        "553 5.7.1 Il mittente deve essere la casella autenticata / the sender must be the authenticated mailbox"
                    );
                    continue;
                }
                if !inner.take_slot(&account) {
                    reply!(
                        "451 4.7.1 Limite di {} messaggi al minuto superato, riprovare più tardi / rate limit of {} messages a minute exceeded, try again later",
                        inner.limits.per_minute.unwrap_or_default(),
                        inner.limits.per_minute.unwrap_or_default()
                    );
                    continue;
                }
                s.from = Some(account);
                s.rcpts.clear();
                reply!("250 2.1.0 Ok");
            }
            "RCPT" => {
                if s.from.is_none() {
                    s.errors += 1;
                    reply!("503 5.5.1 Prima MAIL FROM / MAIL FROM first");
                    continue;
                }
                let Some(address) = path_arg(&arg, "TO:") else {
                    s.errors += 1;
                    reply!("501 5.5.4 Sintassi: RCPT TO:<indirizzo> / syntax: RCPT TO:<address>");
                    continue;
                };
                if !valid_address(&address) {
                    s.errors += 1;
                    reply!("501 5.1.3 Indirizzo non valido / invalid address");
                    continue;
                }
                if s.rcpts.len() >= MAX_RCPT {
                    reply!("452 4.5.3 Troppi destinatari / too many recipients");
                    continue;
                }
                s.rcpts.push(address.to_ascii_lowercase());
                reply!("250 2.1.5 Ok");
            }
            "DATA" => {
                let Some(from) = s.from.clone() else {
                    s.errors += 1;
                    reply!("503 5.5.1 Prima MAIL FROM / MAIL FROM first");
                    continue;
                };
                if s.rcpts.is_empty() {
                    s.errors += 1;
                    reply!("554 5.5.1 Nessun destinatario valido / no valid recipients");
                    continue;
                }
                reply!(
                    "354 Inviare il messaggio, terminare con <CRLF>.<CRLF> / end data with <CRLF>.<CRLF>"
                );
                let Some((raw, too_large)) = read_data(&mut reader, inner.limits.max_bytes).await?
                else {
                    return Ok(());
                };
                let rcpts = std::mem::take(&mut s.rcpts);
                s.from = None;
                let inner2 = inner.clone();
                let outcome = tokio::task::spawn_blocking(move || {
                    inner2.submit(&from, rcpts, raw, too_large)
                })
                .await;
                match outcome {
                    Ok(Ok(o)) if o.accepted => {
                        reply!("250 2.0.0 Ok: accettato / accepted {}", o.identificativo);
                    }
                    Ok(Ok(o)) => {
                        reply!(
                            "250 2.0.0 Ok: non accettato ({}), vedere l'avviso di non accettazione / not accepted, see the non-acceptance notice {}",
                            o.reason.unwrap_or_default(),
                            o.identificativo
                        );
                    }
                    Ok(Err(e)) => {
                        tracing::error!(error = %e, "simulator: submission failed");
                        reply!(
                            "451 4.3.0 Errore temporaneo del gestore, riprovare / temporary provider error, try again"
                        );
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "simulator: submission task failed");
                        reply!(
                            "451 4.3.0 Errore temporaneo del gestore, riprovare / temporary provider error, try again"
                        );
                    }
                }
            }
            "RSET" => {
                s.from = None;
                s.rcpts.clear();
                reply!("250 2.0.0 Ok");
            }
            "NOOP" => reply!("250 2.0.0 Ok"),
            "QUIT" => {
                reply!("221 2.0.0 Arrivederci / bye");
                return Ok(());
            }
            _ => {
                s.errors += 1;
                reply!("502 5.5.2 Comando non riconosciuto / command not recognised");
            }
        }
    }
}

/// The message after DATA, dot-unstuffed, line ends CRLF; `None` when the client left.
/// Past `max` bytes the submission is too large: the rest is read and dropped, and only the
/// beginning is kept (at least [`KEEP_OF_TOO_LARGE`] bytes: the headers the
/// non-accettazione must quote, such as the Message-ID it is matched on).
async fn read_data<R: AsyncBufRead + Unpin>(
    r: &mut R,
    max: u64,
) -> std::io::Result<Option<(Vec<u8>, bool)>> {
    let keep = max.max(KEEP_OF_TOO_LARGE);
    let mut size = 0u64;
    let mut out = Vec::new();
    let mut too_large = false;
    loop {
        let line = match read_line(r, MAX_DATA_LINE).await? {
            Line::Eof => return Ok(None),
            // A line past the limit is dropped: it cannot be a legal message line.
            Line::TooLong => {
                too_large = true;
                continue;
            }
            Line::Ok(l) => l,
        };
        if line == b"." {
            return Ok(Some((out, too_large)));
        }
        let line = line.strip_prefix(b".").unwrap_or(&line);
        size += line.len() as u64 + 2;
        if size > max {
            too_large = true;
        }
        if out.len() as u64 + line.len() as u64 + 2 <= keep {
            out.extend_from_slice(line);
            out.extend_from_slice(b"\r\n");
        }
    }
}

async fn read_b64_line<R: AsyncBufRead + Unpin>(r: &mut R) -> std::io::Result<Option<String>> {
    Ok(match read_line(r, MAX_COMMAND).await? {
        Line::Ok(l) => Some(String::from_utf8_lossy(&l).into_owned()),
        Line::Eof | Line::TooLong => None,
    })
}

fn decode_b64(s: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s.trim())
        .ok()?;
    String::from_utf8(bytes).ok()
}

/// AUTH PLAIN: `authzid NUL authcid NUL password`.
fn decode_plain(s: &str) -> Option<(String, String)> {
    let decoded = decode_b64(s)?;
    let mut parts = decoded.split('\0');
    let _authzid = parts.next()?;
    let user = parts.next()?.to_owned();
    let password = parts.next()?.to_owned();
    Some((user, password))
}

/// The address of `FROM:<a@b> PARAMS` / `TO:<a@b>`.
fn path_arg(arg: &str, keyword: &str) -> Option<String> {
    let rest = arg.get(..keyword.len())?;
    if !rest.eq_ignore_ascii_case(keyword) {
        return None;
    }
    let rest = arg[keyword.len()..].trim_start();
    let inner = rest.strip_prefix('<')?;
    let end = inner.find('>')?;
    let address = inner[..end].trim();
    (!address.is_empty()).then(|| address.to_owned())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_read_with_or_without_parameters() {
        assert_eq!(
            path_arg("FROM:<a@b.it> BODY=8BITMIME", "FROM:").as_deref(),
            Some("a@b.it")
        );
        assert_eq!(path_arg("to: <X@Y.it>", "TO:").as_deref(), Some("X@Y.it"));
        assert_eq!(path_arg("FROM:<>", "FROM:"), None);
        assert_eq!(path_arg("FROM:a@b", "FROM:"), None);
        assert_eq!(path_arg("F", "FROM:"), None);
        assert_eq!(path_arg("FRÖM:<a@b>", "FROM:"), None);
    }

    #[test]
    fn auth_plain_reads_user_and_password() {
        let b64 = base64::engine::general_purpose::STANDARD.encode("\0u@x\0secret");
        assert_eq!(
            decode_plain(&b64),
            Some(("u@x".to_owned(), "secret".to_owned()))
        );
        assert_eq!(decode_plain("!!"), None);
    }

    #[tokio::test]
    async fn long_lines_are_refused_and_data_is_dot_unstuffed() {
        let input = format!("{}\r\nok\r\n", "x".repeat(MAX_COMMAND + 10));
        let mut r = BufReader::new(input.as_bytes());
        assert!(matches!(
            read_line(&mut r, MAX_COMMAND).await.unwrap(),
            Line::TooLong
        ));
        assert!(matches!(read_line(&mut r, MAX_COMMAND).await.unwrap(), Line::Ok(l) if l == b"ok"));
        let mut r = BufReader::new(&b"a\r\n..b\r\n.\r\n"[..]);
        let (raw, big) = read_data(&mut r, 100).await.unwrap().unwrap();
        assert_eq!(raw, b"a\r\n.b\r\n");
        assert!(!big);
        let mut r = BufReader::new(&b"aaaa\r\nbbbb\r\n.\r\n"[..]);
        let (_, big) = read_data(&mut r, 5).await.unwrap().unwrap();
        assert!(big);
    }
}
