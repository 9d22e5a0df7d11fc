//! What an admin reads about a mailbox's polling: the error codes and their words, and the
//! backoff between failed attempts (a pure function of the failure count).

use std::time::Duration;

/// Why an attempt failed, as a stable code stored in `mailbox_health.last_error_code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// The server refused the user name or password.
    Auth,
    /// TLS failed: certificate, handshake, or an unprotected connection refused.
    Tls,
    /// The host could not be reached (refused, unreachable, reset).
    Connect,
    /// The host name does not resolve.
    Dns,
    /// The server did not answer in time.
    Timeout,
    /// The server answered something the poller could not use.
    Protocol,
    /// A folder could not be opened.
    Folder,
    /// The mailbox's settings are missing or cannot be opened.
    Settings,
    /// PecDesk could not store what it read (its own database).
    Storage,
}

impl ErrorCode {
    /// The stored word.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Auth => "auth",
            ErrorCode::Tls => "tls",
            ErrorCode::Connect => "connect",
            ErrorCode::Dns => "dns",
            ErrorCode::Timeout => "timeout",
            ErrorCode::Protocol => "protocol",
            ErrorCode::Folder => "folder",
            ErrorCode::Settings => "settings",
            ErrorCode::Storage => "storage",
        }
    }
}

/// A failed attempt: its code and what to tell the admin (Italian / English). The detail
/// is a server or library message: never a password, never message content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollError {
    /// The stable code.
    pub code: ErrorCode,
    /// The technical detail (server answer, I/O error), appended to the words.
    pub detail: String,
}

impl PollError {
    /// A failure with its detail.
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> Self {
        Self {
            code,
            detail: detail.into(),
        }
    }

    /// Words an admin can act on, Italian first, with the technical detail at the end.
    pub fn words(&self, host: &str) -> String {
        let main = match self.code {
            ErrorCode::Auth => "Password errata o scaduta: aggiornala nelle impostazioni della \
                 casella (le password per i client di Aruba scadono ogni 3 mesi) / Wrong or \
                 expired password: update it in the mailbox settings (Aruba's client passwords \
                 expire every 3 months)"
                .to_owned(),
            ErrorCode::Tls => format!(
                "Connessione sicura con {host} non riuscita: controlla porta e sicurezza (TLS \
                 sulla 993, STARTTLS sulla 143) e il certificato del server / Secure connection \
                 to {host} failed: check port and security (TLS on 993, STARTTLS on 143) and \
                 the server's certificate"
            ),
            ErrorCode::Connect => format!(
                "Server {host} non raggiungibile: controlla host, porta e rete / Server {host} \
                 unreachable: check host, port and network"
            ),
            ErrorCode::Dns => format!(
                "Nome del server {host} sconosciuto: controlla l'host nelle impostazioni / \
                 Unknown server name {host}: check the host in the settings"
            ),
            ErrorCode::Timeout => format!(
                "Il server {host} non risponde in tempo: si riproverà / Server {host} did not \
                 answer in time: will retry"
            ),
            ErrorCode::Protocol => format!(
                "Risposta inattesa dal server {host}: si riproverà / Unexpected answer from \
                 server {host}: will retry"
            ),
            ErrorCode::Folder => "Cartella non apribile: controlla il nome della cartella della \
                 posta inviata nelle impostazioni / Folder cannot be opened: check the Sent \
                 folder name in the settings"
                .to_owned(),
            ErrorCode::Settings => "Impostazioni IMAP mancanti o illeggibili (chiave principale \
                 cambiata?): inseriscile di nuovo / IMAP settings missing or unreadable (master \
                 key changed?): enter them again"
                .to_owned(),
            ErrorCode::Storage => "Archiviazione in PecDesk non riuscita: si riproverà; se \
                 persiste, controlla il database / Storing in PecDesk failed: will retry; if it \
                 persists, check the database"
                .to_owned(),
        };
        if self.detail.is_empty() {
            main
        } else {
            // Bounded: a server answer is not a place to store pages of text.
            let detail: String = self.detail.chars().take(300).collect();
            format!("{main} ({detail})")
        }
    }
}

impl std::fmt::Display for PollError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.detail)
    }
}

/// How long to wait after the `failures`-th consecutive failure: `base` doubled for each
/// failure after the first, capped at `max` (`failures` 0: no wait).
pub fn backoff(failures: u32, base: Duration, max: Duration) -> Duration {
    if failures == 0 {
        return Duration::ZERO;
    }
    let factor = 1u32
        .checked_shl(failures.saturating_sub(1))
        .unwrap_or(u32::MAX);
    base.checked_mul(factor).unwrap_or(max).min(max)
}

/// When the next attempt may start (ms), after the `failures`-th failure at `now_ms`.
pub fn next_attempt_at(now_ms: i64, failures: u32, base: Duration, max: Duration) -> i64 {
    let wait = i64::try_from(backoff(failures, base, max).as_millis()).unwrap_or(i64::MAX);
    now_ms.saturating_add(wait)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: Duration = Duration::from_secs(5);
    const MAX: Duration = Duration::from_secs(900);

    #[test]
    fn backoff_doubles_from_the_base_and_stops_at_the_cap() {
        assert_eq!(backoff(0, BASE, MAX), Duration::ZERO);
        assert_eq!(backoff(1, BASE, MAX), Duration::from_secs(5));
        assert_eq!(backoff(2, BASE, MAX), Duration::from_secs(10));
        assert_eq!(backoff(3, BASE, MAX), Duration::from_secs(20));
        assert_eq!(backoff(8, BASE, MAX), Duration::from_secs(640));
        assert_eq!(backoff(9, BASE, MAX), MAX);
        assert_eq!(backoff(40, BASE, MAX), MAX);
        assert_eq!(backoff(u32::MAX, BASE, MAX), MAX);
    }

    #[test]
    fn next_attempt_is_now_plus_the_backoff() {
        let now = 1_800_000_000_000;
        assert_eq!(next_attempt_at(now, 0, BASE, MAX), now);
        assert_eq!(next_attempt_at(now, 2, BASE, MAX), now + 10_000);
        assert_eq!(next_attempt_at(now, 100, BASE, MAX), now + 900_000);
    }

    #[test]
    fn auth_words_tell_the_admin_what_to_do_in_both_languages() {
        let w = PollError::new(ErrorCode::Auth, "NO [AUTHENTICATIONFAILED]").words("imap.x");
        assert!(w.starts_with("Password errata o scaduta"), "{w}");
        assert!(w.contains("Wrong or expired password"), "{w}");
        assert!(w.contains("AUTHENTICATIONFAILED"), "{w}");
        let t = PollError::new(ErrorCode::Tls, "").words("imap.x");
        assert!(t.contains("imap.x") && t.contains("certificate"), "{t}");
    }
}
