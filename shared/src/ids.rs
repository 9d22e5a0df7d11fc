//! Identifiers parsed at the edge ("parse, don't validate"): an Internet Message-ID, a PEC
//! identificativo and an e-mail address. Each is checked once, where text comes in (an
//! API query, a sign-in, a command line argument, an IdP claim); code that holds one
//! knows it is well formed. All three are serde-friendly (a plain string on the wire,
//! parsed again when read) and do no I/O.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why a text is not an identifier of the wanted kind. The message is bilingual
/// (Italian first) so the companion can answer it as is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// Empty (or only spaces / angle brackets).
    #[error("{0}: valore vuoto / {0}: empty value")]
    Empty(&'static str),
    /// Contains a space or a control character.
    #[error(
        "{0}: spazi o caratteri di controllo non ammessi / {0}: spaces or control characters are not allowed"
    )]
    Whitespace(&'static str),
    /// Longer than any real one.
    #[error("{0}: troppo lungo / {0}: too long")]
    TooLong(&'static str),
    /// An e-mail address without exactly one `@` with text on both sides.
    #[error(
        "{0}: serve una sola @ tra nome e dominio / {0}: exactly one @ between name and domain is needed"
    )]
    NotAnAddress(&'static str),
}

/// Longest accepted identifier (RFC 5322 lines are at most 998 characters).
const MAX_LEN: usize = 998;
/// Longest accepted e-mail address (RFC 5321 path limit).
const MAX_ADDRESS_LEN: usize = 254;

fn check_chars(what: &'static str, s: &str, max: usize) -> Result<(), IdError> {
    if s.is_empty() {
        return Err(IdError::Empty(what));
    }
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(IdError::Whitespace(what));
    }
    if s.len() > max {
        return Err(IdError::TooLong(what));
    }
    Ok(())
}

/// `<id>` or `id`, trimmed, without the angle brackets.
fn strip_brackets(s: &str) -> &str {
    let s = s.trim();
    let s = s.strip_prefix('<').unwrap_or(s);
    s.strip_suffix('>').unwrap_or(s)
}

macro_rules! string_newtype {
    ($name:ident) => {
        impl $name {
            /// The text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(s: String) -> Result<Self, IdError> {
                Self::parse(&s)
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

/// An Internet Message-ID (RFC 5322 `Message-ID`), without its angle brackets: the key
/// the add-ins know a message by.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MessageId(String);

impl MessageId {
    /// Parses `<id>` or `id` (surrounding spaces allowed); refuses empty text and spaces
    /// or control characters inside.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let id = strip_brackets(s);
        check_chars("Message-ID", id, MAX_LEN)?;
        Ok(Self(id.to_owned()))
    }
}
string_newtype!(MessageId);

/// A PEC identificativo (`X-Riferimento-Message-ID` / daticert `identificativo`): the id
/// the provider gives a submission, shared by the message and its receipts. It has the
/// syntax of a Message-ID, so it parses the same way.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Identificativo(String);

impl Identificativo {
    /// Parses an identificativo (angle brackets, if any, are dropped).
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let id = strip_brackets(s);
        check_chars("identificativo", id, MAX_LEN)?;
        Ok(Self(id.to_owned()))
    }
}
string_newtype!(Identificativo);

impl From<MessageId> for Identificativo {
    /// The same text read as an identificativo (both share one syntax).
    fn from(m: MessageId) -> Self {
        Self(m.0)
    }
}

/// An e-mail address, lower-cased: one `@` with text on both sides, no spaces or control
/// characters. Not a full RFC 5321 check: enough to key users by address.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EmailAddress(String);

impl EmailAddress {
    /// Parses an address (surrounding spaces allowed), lower-casing it.
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let a = s.trim();
        check_chars("e-mail", a, MAX_ADDRESS_LEN)?;
        match a.split_once('@') {
            Some((local, domain))
                if !local.is_empty() && !domain.is_empty() && !domain.contains('@') =>
            {
                Ok(Self(a.to_lowercase()))
            }
            _ => Err(IdError::NotAnAddress("e-mail")),
        }
    }

    /// The part after the `@`.
    pub fn domain(&self) -> &str {
        self.0.rsplit_once('@').map_or("", |(_, d)| d)
    }
}
string_newtype!(EmailAddress);

#[cfg(test)]
#[allow(clippy::expect_used, clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn message_id_drops_brackets_and_spaces_around() {
        let m = MessageId::parse("  <abc.123@pec.example.it> ").unwrap();
        assert_eq!(m.as_str(), "abc.123@pec.example.it");
        assert_eq!(MessageId::parse("abc@x").unwrap().as_str(), "abc@x");
        // Case is kept: Message-IDs compare exactly.
        assert_eq!(MessageId::parse("<AbC@X>").unwrap().as_str(), "AbC@X");
    }

    #[test]
    fn message_id_refuses_empty_spaces_and_controls() {
        assert_eq!(MessageId::parse(""), Err(IdError::Empty("Message-ID")));
        assert_eq!(MessageId::parse("<>"), Err(IdError::Empty("Message-ID")));
        assert_eq!(
            MessageId::parse("a b@c"),
            Err(IdError::Whitespace("Message-ID"))
        );
        assert_eq!(
            MessageId::parse("a\u{0}b@c"),
            Err(IdError::Whitespace("Message-ID"))
        );
        assert_eq!(
            MessageId::parse(&"x".repeat(999)),
            Err(IdError::TooLong("Message-ID"))
        );
    }

    #[test]
    fn identificativo_parses_like_a_message_id() {
        let i =
            Identificativo::parse("opec21010.20240101120000.12345.67.1.53@pec.aruba.it").unwrap();
        assert_eq!(
            i.as_str(),
            "opec21010.20240101120000.12345.67.1.53@pec.aruba.it"
        );
        assert_eq!(Identificativo::parse("<x@y>").unwrap().as_str(), "x@y");
        assert!(Identificativo::parse("x\ty").is_err());
        let from: Identificativo = MessageId::parse("<k@d>").unwrap().into();
        assert_eq!(from.as_str(), "k@d");
    }

    #[test]
    fn email_is_lower_cased_with_one_at() {
        let e = EmailAddress::parse("  Rita.Responsabile@Demo.TEST ").unwrap();
        assert_eq!(e.as_str(), "rita.responsabile@demo.test");
        assert_eq!(e.domain(), "demo.test");
        for bad in [
            "",
            "nobody",
            "@demo.test",
            "rita@",
            "a@b@c",
            "a b@c",
            "a\n@c",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert_eq!(
            EmailAddress::parse("a@b@c"),
            Err(IdError::NotAnAddress("e-mail"))
        );
    }

    #[test]
    fn serde_round_trips_and_refuses_bad_text() {
        let e: EmailAddress = serde_json::from_str("\"A@B.it\"").unwrap();
        assert_eq!(serde_json::to_string(&e).unwrap(), "\"a@b.it\"");
        let m: MessageId = serde_json::from_str("\"<m@x>\"").unwrap();
        assert_eq!(serde_json::to_string(&m).unwrap(), "\"m@x\"");
        assert!(serde_json::from_str::<EmailAddress>("\"no-at\"").is_err());
        assert!(serde_json::from_str::<MessageId>("\"a b\"").is_err());
    }

    #[test]
    fn errors_are_bilingual() {
        let msg = IdError::NotAnAddress("e-mail").to_string();
        assert!(msg.contains(" / "), "{msg}");
        assert!(msg.starts_with("e-mail: serve"), "{msg}");
    }
}
