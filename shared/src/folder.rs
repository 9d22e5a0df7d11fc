//! A message's archive folder (companion-side, not an IMAP folder): a path of segments
//! separated by `/`, like `Contratti/2026`.

use std::fmt;

/// Longest folder path, in characters.
pub const MAX_CHARS: usize = 200;

/// A valid folder path: no empty segment, no control character, at most [`MAX_CHARS`]
/// characters; each segment is trimmed of surrounding spaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderPath(String);

/// Why a text is not a folder path (Italian, English).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FolderError {
    /// Longer than [`MAX_CHARS`].
    TooLong,
    /// A segment is empty (`a//b`, a leading or trailing `/`, or nothing at all).
    EmptySegment,
    /// A control character.
    Control,
}

impl fmt::Display for FolderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::TooLong => "cartella: al massimo 200 caratteri / folder: at most 200 characters",
            Self::EmptySegment => {
                "cartella: nessun livello vuoto, scrivi ad esempio Contratti/2026 / folder: no \
                 empty level, write for example Contratti/2026"
            }
            Self::Control => {
                "cartella: caratteri di controllo non ammessi / folder: control characters \
                 are not allowed"
            }
        })
    }
}

impl std::error::Error for FolderError {}

impl FolderPath {
    /// Parses a folder path, trimming each segment.
    pub fn parse(s: &str) -> Result<Self, FolderError> {
        if s.chars().any(char::is_control) {
            return Err(FolderError::Control);
        }
        let mut segments = Vec::new();
        for seg in s.split('/') {
            let seg = seg.trim();
            if seg.is_empty() {
                return Err(FolderError::EmptySegment);
            }
            segments.push(seg);
        }
        let path = segments.join("/");
        if path.chars().count() > MAX_CHARS {
            return Err(FolderError::TooLong);
        }
        Ok(Self(path))
    }

    /// The path as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_path_has_no_empty_segment_and_a_bounded_length() {
        assert_eq!(
            FolderPath::parse(" Contratti / 2026 ").map(|p| p.0),
            Ok("Contratti/2026".to_owned())
        );
        for bad in ["", "/", "a//b", "/a", "a/", " / "] {
            assert_eq!(
                FolderPath::parse(bad),
                Err(FolderError::EmptySegment),
                "{bad:?}"
            );
        }
        assert_eq!(FolderPath::parse("a\nb"), Err(FolderError::Control));
        assert!(FolderPath::parse(&"x".repeat(200)).is_ok());
        assert_eq!(
            FolderPath::parse(&"x".repeat(201)),
            Err(FolderError::TooLong)
        );
    }
}
