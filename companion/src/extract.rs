//! Extractors that answer malformed input with the error envelope instead of axum's
//! plain-text rejections, and the text rules every input meets before a handler sees it:
//!
//! - a JSON body is UTF-8 (422 otherwise), without lone UTF-16 surrogates (`"\ud800"`,
//!   422), without NUL characters in any string (422 naming the field), and without
//!   fields the request does not know (every request struct has
//!   `#[serde(deny_unknown_fields)]`: 422 naming the field); an empty body reads as `{}`;
//! - a path or a query string carries no NUL (`%00`) and no invalid UTF-8 ([`check_uri`],
//!   422 naming the query parameter).
//!
//! Why: PostgreSQL text cannot hold NUL, and a typo (`assigne_id`) must not be silently
//! dropped. Lengths are checked per field by [`crate::limits`].

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_json::error::Category;

use crate::error::{Error, Result};
use crate::limits;

/// `axum::Json` with envelope errors (413 for bodies over the limit, 422 for content that
/// does not fit the request, 400 for malformed JSON). See the module doc for the rules.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<S, T> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json_type = is_json(req.headers());
        let Body(bytes) = Body::from_request(req, state).await?;
        parse_json(&bytes, json_type).map(Self)
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// Whether the request says its body is JSON (`application/json` or `...+json`).
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .is_some_and(|m| {
            m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
        })
}

/// Reads a JSON request body by the rules of the module doc.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8], json_type: bool) -> Result<T> {
    // An empty body (with or without a content type) reads as `{}`: `send` and
    // `approval-request` have optional fields only, and a client should not need to
    // invent a body for them.
    let bytes: &[u8] = if bytes.is_empty() {
        b"{}"
    } else if json_type {
        bytes
    } else {
        return Err(Error::BadRequest(
            "serve Content-Type: application/json / expected Content-Type: application/json".into(),
        ));
    };
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let at = e.valid_up_to();
        Error::invalid(format!(
            "il corpo non è testo UTF-8 valido (byte {at}) / the body is not valid UTF-8 (byte {at})"
        ))
    })?;
    let mut de = serde_json::Deserializer::from_str(text);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(deserialize_error)?;
    de.end().map_err(|e| {
        Error::BadRequest(format!(
            "JSON non valido / malformed JSON: {}",
            without_position(&e)
        ))
    })?;
    // A NUL can only arrive escaped (a raw one is malformed JSON): look for its field only
    // when the escape is there, so ordinary bodies are parsed once.
    if text.contains("\\u0000")
        && let Ok(v) = serde_json::from_str::<Value>(text)
        && let Some(field) = nul_field(&v, "")
    {
        return Err(limits::nul(&field));
    }
    Ok(value)
}

/// The path (`title`, `to[2]`, `claims.groups`) of the first string or key holding a NUL.
fn nul_field(v: &Value, path: &str) -> Option<String> {
    let here = || {
        if path.is_empty() {
            "body".to_owned()
        } else {
            path.to_owned()
        }
    };
    match v {
        Value::String(s) if s.contains('\0') => Some(here()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, x)| nul_field(x, &format!("{path}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(k, x)| {
            let p = if path.is_empty() {
                k.replace('\0', "\u{fffd}")
            } else {
                format!("{path}.{}", k.replace('\0', "\u{fffd}"))
            };
            if k.contains('\0') {
                Some(p)
            } else {
                nul_field(x, &p)
            }
        }),
        _ => None,
    }
}

/// serde_json's message without its " at line L column C" tail.
fn without_position(e: &serde_json::Error) -> String {
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(i) => s[..i].to_owned(),
        None => s,
    }
}

/// A deserialization error as the envelope says it: 422 naming the field for content that
/// does not fit (unknown or missing field, wrong type or value, a lone surrogate), 400 for
/// malformed JSON.
fn deserialize_error(e: serde_path_to_error::Error<serde_json::Error>) -> Error {
    let path = e.path().to_string();
    let inner = e.into_inner();
    let msg = without_position(&inner);
    match inner.classify() {
        Category::Data => Error::invalid(describe(&path, &msg)),
        Category::Syntax
            if msg.starts_with("lone leading surrogate")
                || msg.starts_with("unexpected end of hex escape")
                || msg.starts_with("invalid unicode code point") =>
        {
            let field = if path == "." { "body" } else { path.as_str() };
            Error::invalid(format!(
                "campo `{field}`: testo non valido (surrogato UTF-16 isolato) / field `{field}`: \
                 invalid text (lone UTF-16 surrogate: {msg})"
            ))
        }
        _ => Error::BadRequest(format!("JSON non valido / malformed JSON: {msg}")),
    }
}

/// The text between the first pair of backticks of serde's message.
fn quoted(msg: &str) -> Option<&str> {
    let start = msg.find('`')? + 1;
    let len = msg[start..].find('`')?;
    Some(&msg[start..start + len])
}

/// `path` joined with `name` unless `path` already names it.
fn field_at(path: &str, name: &str) -> String {
    if path == "." {
        name.to_owned()
    } else if path == name || path.ends_with(&format!(".{name}")) {
        path.to_owned()
    } else {
        format!("{path}.{name}")
    }
}

/// A bilingual 422 message naming the field, from serde's (English) one.
fn describe(path: &str, msg: &str) -> String {
    let at = if path == "." { "body" } else { path };
    if let Some(rest) = msg.strip_prefix("unknown field ") {
        let name = quoted(rest).unwrap_or(rest);
        let field = field_at(path, name);
        let allowed = rest
            .split_once(", expected ")
            .map(|(_, a)| a.trim_start_matches("one of "))
            .map(|a| format!(" (ammessi / allowed: {a})"))
            .unwrap_or_default();
        return format!("campo sconosciuto `{field}` / unknown field `{field}`{allowed}");
    }
    if let Some(rest) = msg.strip_prefix("missing field ") {
        let field = field_at(path, quoted(rest).unwrap_or(rest));
        return format!("campo obbligatorio mancante `{field}` / missing required field `{field}`");
    }
    if msg.starts_with("unknown variant ") {
        return format!("campo `{at}`: valore non ammesso / field `{at}`: {msg}");
    }
    if msg.starts_with("invalid type: ") {
        return format!("campo `{at}`: tipo non valido / field `{at}`: {msg}");
    }
    format!("campo `{at}`: valore non valido / field `{at}`: {msg}")
}

/// Raw body bytes with envelope errors (413 over the limit).
#[derive(Debug, Clone)]
pub struct Body(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for Body {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Bytes::from_request(req, state).await {
            Ok(b) => Ok(Self(b)),
            Err(r) => Err(bytes_rejection(r)),
        }
    }
}

fn bytes_rejection(r: BytesRejection) -> Error {
    if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
        Error::TooLarge
    } else {
        Error::BadRequest(r.body_text())
    }
}

/// `axum::extract::Query` with envelope errors (422).
#[derive(Debug, Clone)]
pub struct Query<T>(pub T);

impl<S, T> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Self(v)),
            Err(r) => Err(query_rejection(r)),
        }
    }
}

fn query_rejection(r: QueryRejection) -> Error {
    let text = r.body_text();
    let detail = text
        .strip_prefix("Failed to deserialize query string: ")
        .unwrap_or(&text);
    match detail.split_once(": ") {
        Some((name, why)) if !name.contains(' ') => Error::invalid(format!(
            "parametro `{name}` non valido / invalid parameter `{name}`: {why}"
        )),
        _ => Error::invalid(format!(
            "parametri non validi / invalid query parameters: {detail}"
        )),
    }
}

/// Middleware: a path or query string with a NUL (`%00`) or invalid UTF-8 is answered 422
/// before any handler binds it to SQL (PostgreSQL refuses NUL in text).
pub async fn check_uri(req: Request, next: Next) -> Response {
    match uri_text(req.uri()) {
        Ok(()) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

fn uri_text(uri: &Uri) -> Result<()> {
    let path = percent_decode(uri.path().as_bytes());
    if path.contains(&0) {
        return Err(Error::invalid(
            "il percorso contiene un carattere NUL (%00) / the path contains a NUL character (%00)",
        ));
    }
    if std::str::from_utf8(&path).is_err() {
        return Err(Error::invalid(
            "il percorso non è testo UTF-8 valido / the path is not valid UTF-8",
        ));
    }
    for pair in uri.query().unwrap_or_default().split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let name = percent_decode(k.replace('+', " ").as_bytes());
        let value = percent_decode(v.replace('+', " ").as_bytes());
        let shown = String::from_utf8_lossy(&name).replace('\0', "\u{fffd}");
        if name.contains(&0) || value.contains(&0) {
            return Err(limits::nul(&shown));
        }
        if std::str::from_utf8(&name).is_err() || std::str::from_utf8(&value).is_err() {
            return Err(Error::invalid(format!(
                "parametro `{shown}`: non è testo UTF-8 valido / parameter `{shown}`: not valid UTF-8"
            )));
        }
    }
    Ok(())
}

/// `%XX` escapes decoded (a malformed escape is kept as it is).
fn percent_decode(s: &[u8]) -> Vec<u8> {
    let hex = |b: u8| char::from(b).to_digit(16);
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%'
            && let (Some(h), Some(l)) = (
                s.get(i + 1).copied().and_then(hex),
                s.get(i + 2).copied().and_then(hex),
            )
        {
            out.push(u8::try_from(h * 16 + l).unwrap_or(0));
            i += 3;
        } else {
            out.push(s[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Req {
        #[allow(dead_code)]
        title: String,
        #[serde(default)]
        #[allow(dead_code)]
        tags: Vec<String>,
    }

    fn err(body: &[u8]) -> Error {
        parse_json::<Req>(body, true).unwrap_err()
    }

    #[test]
    fn unknown_and_missing_fields_are_named() {
        let e = err(br#"{"title": "x", "titel": "y"}"#);
        assert_eq!(e.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(e.to_string().contains("`titel`"), "{e}");
        let e = err(b"{}");
        assert!(e.to_string().contains("`title`"), "{e}");
    }

    #[test]
    fn nul_surrogates_and_bad_utf8_are_422_and_named() {
        let e = err(br#"{"title": "a", "tags": ["ok", "b\u0000"]}"#);
        assert_eq!(e.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(e.to_string().contains("`tags[1]`"), "{e}");
        let e = err(br#"{"title": "\ud800"}"#);
        assert_eq!(e.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(e.to_string().contains("`title`"), "{e}");
        let e = err(b"{\"title\": \"\xff\"}");
        assert_eq!(e.status(), StatusCode::UNPROCESSABLE_ENTITY);
        // An escaped backslash before `u0000` is text, not a NUL.
        assert!(parse_json::<Req>(br#"{"title": "\\u0000"}"#, true).is_ok());
        assert_eq!(err(b"{not json").status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn nul_and_bad_utf8_in_the_uri_are_refused() {
        let ok: Uri = "/api/v1/messages?q=a%20b&limit=5".parse().unwrap();
        assert!(uri_text(&ok).is_ok());
        let nul: Uri = "/api/v1/messages?q=a%00b".parse().unwrap();
        assert!(uri_text(&nul).unwrap_err().to_string().contains("`q`"));
        let path: Uri = "/api/v1/messages/a%00b".parse().unwrap();
        assert!(uri_text(&path).is_err());
        let bad: Uri = "/api/v1/messages?q=%FF".parse().unwrap();
        assert!(uri_text(&bad).is_err());
    }
}
