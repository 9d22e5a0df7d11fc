//! S/MIME signature check of a PEC message (`smime.p7s` over the first part of
//! `multipart/signed`). See `PEC.md`, "Signature".

use serde::{Deserialize, Serialize};

/// Outcome of the signature check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignatureStatus {
    /// The math is right and the signer chains to a configured trust anchor.
    Valid,
    /// A signature is present but does not verify (digest or signature mismatch, broken CMS).
    Invalid,
    /// No `multipart/signed` / `smime.p7s` on the message.
    Missing,
    /// The math is right but no configured anchor vouches for the signer.
    Untrusted,
}

/// What `inspect` reports under `signature`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureReport {
    pub status: SignatureStatus,
    /// Subject of the signer certificate (the provider), when readable.
    pub signer: Option<String>,
    /// Certificate validity, ISO 8601, when readable.
    pub not_before: Option<String>,
    pub not_after: Option<String>,
}

impl SignatureReport {
    pub fn missing() -> Self {
        Self {
            status: SignatureStatus::Missing,
            signer: None,
            not_before: None,
            not_after: None,
        }
    }
}

/// Trust anchors (CA certificates) the signer must chain to.
#[derive(Debug, Clone, Default)]
pub struct TrustAnchors {
    /// DER-encoded CA certificates.
    pub certificates: Vec<Vec<u8>>,
}

impl TrustAnchors {
    /// Reads a PEM bundle of CA certificates.
    ///
    /// PLACEHOLDER in the workspace skeleton: replaced by the real reader.
    pub fn from_pem(_pem: &[u8]) -> Result<Self, String> {
        Ok(Self::default())
    }
}

/// Checks the S/MIME signature of a raw message.
///
/// PLACEHOLDER in the workspace skeleton: replaced by the real verification.
pub fn verify(_raw: &[u8], _anchors: &TrustAnchors) -> SignatureReport {
    SignatureReport::missing()
}
