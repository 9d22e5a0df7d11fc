//! One HTTP attempt of a delivery: the body in the subscription's format, the signature,
//! the target check against server-side request forgery, the POST.
//!
//! Signature: `X-PecDesk-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." +
//! body)>` with `X-PecDesk-Timestamp` the Unix seconds the attempt started. The receiver
//! recomputes it over the raw body and rejects old timestamps (docs/API.md).
//!
//! Targets: `http`/`https` only; no redirect is followed; the host is resolved here and the
//! connection pinned to the address checked (a name that re-resolves to an internal
//! address between the check and the connection gains nothing). Loopback, private,
//! link-local and other non-public addresses are refused unless the settings allow them
//! (`[webhooks] allow_private_targets`, or `--demo` / dev mode).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use sha2::Sha256;

/// Header: the event type.
pub const HEADER_EVENT: &str = "X-PecDesk-Event";
/// Header: the event id (de-duplicate by it).
pub const HEADER_DELIVERY: &str = "X-PecDesk-Delivery";
/// Header: `sha256=<hex>`.
pub const HEADER_SIGNATURE: &str = "X-PecDesk-Signature";
/// Header: Unix seconds, signed with the body.
pub const HEADER_TIMESTAMP: &str = "X-PecDesk-Timestamp";

/// The signature header's value for `body` sent at `timestamp` (Unix seconds).
pub fn signature(secret: &SecretString, timestamp: i64, body: &[u8]) -> String {
    // HMAC takes a key of any length: `new_from_slice` cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes()) else {
        return String::new();
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// The Italian-then-English line a chat shows for an event type.
fn headline(kind: &str) -> &'static str {
    match kind {
        "message.received" => "PEC ricevuta / PEC received",
        "message.routed" => "PEC smistata / PEC routed",
        "activity.created" => "Attività creata / Activity created",
        "activity.assigned" => "Attività assegnata / Activity assigned",
        "activity.closed" => "Attività chiusa / Activity closed",
        "approval.requested" => "Approvazione richiesta / Approval requested",
        "approval.decided" => "Approvazione decisa / Approval decided",
        "receipt.failed" => "Ricevuta di errore / Failed receipt",
        "alarm.fired" => "Allarme / Alarm",
        "webhook.test" => "Prova del webhook / Webhook test",
        _ => "Evento PecDesk / PecDesk event",
    }
}

/// The facts a chat card lists: the event, its object, the ids in `data`.
fn facts(event: &Value) -> Vec<(String, String)> {
    let s = |v: &Value| {
        v.as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| v.to_string())
    };
    let mut out = vec![
        ("event".to_owned(), s(&event["type"])),
        ("id".to_owned(), s(&event["id"])),
        (s(&event["object"]["type"]), s(&event["object"]["id"])),
    ];
    if let Some(data) = event["data"].as_object() {
        for (k, v) in data {
            if !v.is_null() {
                out.push((k.clone(), s(v)));
            }
        }
    }
    out
}

/// The body for `format` (`generic`: the event as stored; `slack`: `{text, blocks}`;
/// `teams`: an Office 365 connector MessageCard, which Teams' incoming webhooks and
/// workflows accept).
pub fn body(format: &str, payload: &str) -> Vec<u8> {
    let event: Value = serde_json::from_str(payload).unwrap_or(Value::Null);
    let title = headline(event["type"].as_str().unwrap_or(""));
    let facts = facts(&event);
    let out = match format {
        "slack" => {
            let lines: Vec<String> = facts.iter().map(|(k, v)| format!("*{k}*: `{v}`")).collect();
            json!({
                "text": format!("PecDesk — {title}"),
                "blocks": [
                    {"type": "header", "text": {"type": "plain_text", "text": title}},
                    {"type": "section", "text": {"type": "mrkdwn", "text": lines.join("\n")}},
                    {"type": "context", "elements": [{"type": "mrkdwn",
                        "text": format!("{} · {}", event["occurred_at"].as_str().unwrap_or(""),
                                        event["id"].as_str().unwrap_or(""))}]}
                ]
            })
        }
        "teams" => json!({
            "@type": "MessageCard",
            "@context": "https://schema.org/extensions",
            "summary": format!("PecDesk — {title}"),
            "themeColor": "0B5CAD",
            "title": format!("PecDesk — {title}"),
            "sections": [{
                "activitySubtitle": event["occurred_at"],
                "facts": facts.iter().map(|(k, v)| json!({"name": k, "value": v})).collect::<Vec<_>>()
            }]
        }),
        _ => return payload.as_bytes().to_vec(),
    };
    out.to_string().into_bytes()
}

/// Whether `ip` is an ordinary public address (not loopback, private, link-local, shared,
/// documentation, multicast, unspecified or reserved).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_multicast()
                || o[0] == 0
                || (o[0] == 100 && (o[1] & 0xc0) == 64)
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                || (o[0] == 198 && (o[1] & 0xfe) == 18)
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] == 0x2001 && s[1] == 0x0db8))
        }
    }
}

/// Whether a URL's host is loopback (`localhost`, `127.0.0.0/8`, `::1`): the only hosts a
/// subscription may reach over plain `http`.
pub fn is_loopback_host(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// The address to connect to for `url`: resolved here, every address checked.
pub async fn resolve(url: &reqwest::Url, allow_private: bool) -> Result<SocketAddr, String> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err("only http and https targets".into());
    }
    let port = url
        .port_or_known_default()
        .ok_or_else(|| "no port".to_owned())?;
    let addrs: Vec<SocketAddr> = match url.host() {
        Some(url::Host::Ipv4(ip)) => vec![SocketAddr::new(IpAddr::V4(ip), port)],
        Some(url::Host::Ipv6(ip)) => vec![SocketAddr::new(IpAddr::V6(ip), port)],
        Some(url::Host::Domain(d)) => tokio::net::lookup_host((d, port))
            .await
            .map_err(|_| "host name does not resolve".to_owned())?
            .collect(),
        None => return Err("no host".into()),
    };
    if addrs.is_empty() {
        return Err("host name does not resolve".into());
    }
    if !allow_private && addrs.iter().any(|a| !is_public(a.ip())) {
        return Err("target address not allowed (private or loopback)".into());
    }
    Ok(addrs[0])
}

/// One delivery attempt to make.
#[derive(Debug)]
pub struct Attempt<'a> {
    pub url: &'a str,
    pub format: &'a str,
    pub secret: &'a SecretString,
    pub event_id: &'a str,
    pub event_type: &'a str,
    /// The generic payload (JSON).
    pub payload: &'a str,
    /// Unix milliseconds of the attempt (the timestamp header is its seconds).
    pub now_ms: i64,
}

/// What came of an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// The HTTP status answered, when there was an answer.
    pub status: Option<u16>,
    /// Why it failed (never the URL nor the secret).
    pub error: Option<String>,
    /// Whether a retry may help (false: the target is refused).
    pub retryable: bool,
}

impl Sent {
    /// A 2xx answer.
    pub fn ok(&self) -> bool {
        self.error.is_none() && self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// POSTs the event: the answer's status, or why there was none.
pub async fn post(a: &Attempt<'_>, allow_private: bool, timeout: Duration) -> Sent {
    let fail = |error: String, retryable: bool| Sent {
        status: None,
        error: Some(error),
        retryable,
    };
    let Ok(url) = reqwest::Url::parse(a.url) else {
        return fail("invalid URL".into(), false);
    };
    let addr = match resolve(&url, allow_private).await {
        Ok(addr) => addr,
        // A name that does not resolve may come back; a refused address does not.
        Err(e) => {
            let retryable = e.contains("resolve");
            return fail(e, retryable);
        }
    };
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .user_agent(concat!("PecDesk-Webhooks/", env!("CARGO_PKG_VERSION")));
    if let Some(url::Host::Domain(d)) = url.host() {
        builder = builder.resolve(d, addr);
    }
    let client = match builder.build() {
        Ok(c) => c,
        Err(e) => return fail(format!("client: {}", e.without_url()), true),
    };
    let body = body(a.format, a.payload);
    let ts = a.now_ms.div_euclid(1000);
    let sig = signature(a.secret, ts, &body);
    let resp = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(HEADER_EVENT, a.event_type)
        .header(HEADER_DELIVERY, a.event_id)
        .header(HEADER_TIMESTAMP, ts.to_string())
        .header(HEADER_SIGNATURE, sig)
        .body(body)
        .send()
        .await;
    match resp {
        Ok(r) => {
            let status = r.status().as_u16();
            Sent {
                status: Some(status),
                error: (!(200..300).contains(&status)).then(|| format!("HTTP {status}")),
                retryable: true,
            }
        }
        Err(e) => {
            let what = if e.is_timeout() {
                "timeout".to_owned()
            } else if e.is_connect() {
                "connection failed".to_owned()
            } else {
                format!("request failed: {}", e.without_url())
            };
            fail(what, true)
        }
    }
}

#[cfg(test)]
#[allow(clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        // RFC 4231 test case 2 shape: key "Jefe"; message "1700000000.{}".
        let s = signature(&SecretString::from("Jefe"), 1_700_000_000, b"{}");
        let mut mac = Hmac::<Sha256>::new_from_slice(b"Jefe").expect("key");
        mac.update(b"1700000000.{}");
        assert_eq!(
            s,
            format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
        );
        assert_ne!(
            s,
            signature(&SecretString::from("Jefe"), 1_700_000_001, b"{}")
        );
    }

    #[test]
    fn internal_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_public(ip.parse().expect("ip")), "{ip}");
        }
        for ip in ["93.184.216.34", "2a00:1450:4001::1"] {
            assert!(is_public(ip.parse().expect("ip")), "{ip}");
        }
    }

    #[tokio::test]
    async fn loopback_is_refused_unless_allowed() {
        let url = reqwest::Url::parse("http://127.0.0.1:9/x").expect("url");
        assert!(resolve(&url, false).await.is_err());
        assert!(resolve(&url, true).await.is_ok());
        let ftp = reqwest::Url::parse("ftp://example.test/").expect("url");
        assert!(resolve(&ftp, true).await.is_err());
    }

    #[test]
    fn chat_formats_carry_the_ids_and_no_more() {
        let payload = json!({"id": "o:1", "type": "activity.created", "occurred_at": "t",
            "org_id": "o", "object": {"type": "activity", "id": "a1"},
            "data": {"mailbox_id": "m1", "team_id": null}})
        .to_string();
        let slack: Value = serde_json::from_slice(&body("slack", &payload)).expect("json");
        assert!(
            slack["text"]
                .as_str()
                .expect("text")
                .contains("Activity created")
        );
        assert!(slack["blocks"].to_string().contains("a1"));
        let teams: Value = serde_json::from_slice(&body("teams", &payload)).expect("json");
        assert_eq!(teams["@type"], "MessageCard");
        assert!(teams["sections"][0]["facts"].to_string().contains("m1"));
        assert_eq!(body("generic", &payload), payload.as_bytes());
    }
}
