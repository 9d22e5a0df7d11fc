//! Typed problems found while reading a message. None of them stops the parse: each one
//! ends up, in words, in `summary.problems`.

use serde::{Deserialize, Serialize};

use crate::daticert::DaticertWarning;

/// Something that could not be read, or was read with doubts. `Display` is English;
/// [`PecError::message_it`] gives the Italian text used in `summary.problems`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "code", rename_all = "kebab-case")]
pub enum PecError {
    /// No bytes (or only whitespace).
    #[error("empty input")]
    EmptyInput,
    /// No header could be read: this is not an e-mail message.
    #[error("not an e-mail message: no header could be read")]
    NotAMessage,
    /// A multipart ends without its closing boundary (cut short).
    #[error("the MIME structure is truncated (missing closing boundary)")]
    TruncatedMime,
    /// A part could not be decoded (bad base64, broken nested message, ...).
    #[error("a MIME part could not be decoded")]
    UndecodablePart,
    /// The message has both `X-Trasporto` and `X-Ricevuta`.
    #[error("both X-Trasporto and X-Ricevuta are present; X-Ricevuta wins")]
    ConflictingHeaders,
    /// A PEC header with a value the classifier does not know.
    #[error("unknown value {value:?} in header {header}")]
    UnknownHeaderValue {
        /// The header's name.
        header: String,
        /// Its value as written.
        value: String,
    },
    /// The kind was taken from the subject prefix because the header did not tell it.
    #[error("kind taken from the subject prefix")]
    KindFromSubject,
    /// A `daticert.xml` on a message without PEC headers: a spoof, ignored.
    #[error("daticert.xml ignored: the message has no PEC headers")]
    SpoofedDaticert,
    /// A `daticert.xml` on an anomaly envelope, which never carries one: ignored.
    #[error("daticert.xml ignored: an anomaly envelope carries none")]
    UnexpectedDaticert,
    /// More than one `daticert.xml` at the top level: the first is used.
    #[error("more than one daticert.xml at the top level; the first is used")]
    MultipleDaticert,
    /// A PEC kind that must carry `daticert.xml` has none.
    #[error("daticert.xml is missing")]
    MissingDaticert,
    /// `daticert.xml` is not a daticert (empty, or no `postacert` root).
    #[error("daticert.xml is unreadable: {detail}")]
    UnreadableDaticert {
        /// Why.
        detail: String,
    },
    /// `daticert.xml` breaks off; the fields before the break are used.
    #[error("daticert.xml is malformed ({detail}); fields read before the error are used")]
    MalformedDaticert {
        /// What broke, with the byte position.
        detail: String,
    },
    /// A tolerated oddity inside `daticert.xml`.
    #[error("{}", .warning.message_en())]
    Daticert {
        /// The oddity.
        warning: DaticertWarning,
    },
    /// The header and `daticert.xml` disagree on the kind; the header wins.
    #[error("the headers say {header} but daticert.xml says {daticert}")]
    KindMismatch {
        /// The kind the headers name.
        header: String,
        /// daticert `tipo`.
        daticert: String,
    },
    /// `X-TipoRicevuta` holds a value that is not completa/breve/sintetica.
    #[error("X-TipoRicevuta has an unexpected value {value:?}")]
    BadReceiptType {
        /// The value as written.
        value: String,
    },
    /// An envelope or complete delivery receipt without `postacert.eml`.
    #[error("postacert.eml is missing")]
    MissingOriginal,
    /// `postacert.eml` is present but cannot be read as a message.
    #[error("postacert.eml cannot be read as a message")]
    UnreadableOriginal,
    /// A `.hash` placeholder whose content is not 40 hex characters.
    #[error("the placeholder {name:?} does not hold a SHA-1 (40 hex characters)")]
    BadHashPlaceholder {
        /// The placeholder's file name.
        name: String,
    },
    /// The message is not `multipart/signed` although it claims to be PEC.
    #[error("the message is not signed (no multipart/signed)")]
    NotSigned,
}

impl PecError {
    /// The problem in Italian (the default language of PecDesk).
    pub fn message_it(&self) -> String {
        match self {
            Self::EmptyInput => "input vuoto".to_owned(),
            Self::NotAMessage => {
                "non è un messaggio di posta: nessuna intestazione leggibile".to_owned()
            }
            Self::TruncatedMime => {
                "la struttura MIME è troncata (manca il delimitatore finale)".to_owned()
            }
            Self::UndecodablePart => "una parte MIME non si può decodificare".to_owned(),
            Self::ConflictingHeaders => {
                "presenti sia X-Trasporto sia X-Ricevuta; vale X-Ricevuta".to_owned()
            }
            Self::UnknownHeaderValue { header, value } => {
                format!("valore sconosciuto {value:?} nell'intestazione {header}")
            }
            Self::KindFromSubject => "tipo dedotto dal prefisso dell'oggetto".to_owned(),
            Self::SpoofedDaticert => {
                "daticert.xml ignorato: il messaggio non ha le intestazioni PEC".to_owned()
            }
            Self::UnexpectedDaticert => {
                "daticert.xml ignorato: una busta di anomalia non ne ha".to_owned()
            }
            Self::MultipleDaticert => {
                "più di un daticert.xml al primo livello; si usa il primo".to_owned()
            }
            Self::MissingDaticert => "manca daticert.xml".to_owned(),
            Self::UnreadableDaticert { detail } => {
                format!("daticert.xml illeggibile: {detail}")
            }
            Self::MalformedDaticert { detail } => format!(
                "daticert.xml malformato ({detail}); si usano i dati letti prima dell'errore"
            ),
            Self::Daticert { warning } => warning.message_it(),
            Self::KindMismatch { header, daticert } => {
                format!("le intestazioni dicono {header} ma daticert.xml dice {daticert}")
            }
            Self::BadReceiptType { value } => {
                format!("X-TipoRicevuta ha un valore inatteso {value:?}")
            }
            Self::MissingOriginal => "manca postacert.eml".to_owned(),
            Self::UnreadableOriginal => {
                "postacert.eml non si può leggere come messaggio".to_owned()
            }
            Self::BadHashPlaceholder { name } => {
                format!("il segnaposto {name:?} non contiene uno SHA-1 (40 caratteri esadecimali)")
            }
            Self::NotSigned => "il messaggio non è firmato (manca multipart/signed)".to_owned(),
        }
    }

    /// The problem in English.
    pub fn message_en(&self) -> String {
        self.to_string()
    }
}
