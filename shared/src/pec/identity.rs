//! A PEC's identity in a mailbox: what makes two byte-different copies the same PEC.
//!
//! A provider certifies each message once: the envelope and each receipt carry the
//! identificativo given at acceptance and their kind; a delivery notice is about one
//! recipient (daticert `consegna`), so there is one per recipient. The same PEC read from
//! an archive and from IMAP may differ by a header line (a `Received:`, a `Status:` an
//! archiver added) and is still one message: the companion keeps the second copy beside
//! the first as a variant.
//!
//! Certification is part of the identity: a copy whose provider signature verifies and one
//! whose signature does not (a forgery carrying a genuine identificativo, a copy mangled on
//! the way) are never taken for one PEC, whichever came first — the unverified one gets the
//! suffix `|unverified` and stays a message of its own, so a forged copy stored first can
//! never stand in for the genuine PEC.

use super::{PecKind, Summary};
use crate::signature::SignatureStatus;

/// The kinds issued once per recipient: their identity includes `consegna`.
fn per_recipient(kind: PecKind) -> bool {
    matches!(
        kind,
        PecKind::AvvenutaConsegna
            | PecKind::ErroreConsegna
            | PecKind::PreavvisoErroreConsegna
            | PecKind::RilevazioneVirus
    )
}

/// The identity of a PEC (`kind|identificativo`, plus `|recipient` for the kinds issued
/// per recipient), or `None` when there is none to trust: an ordinary mail, a message
/// without identificativo, a per-recipient notice whose recipient could not be read (two
/// notices for two recipients must never be taken for one). The identificativo keeps its
/// case (it is an opaque id); the recipient's address is compared without case.
pub fn identity(s: &Summary) -> Option<String> {
    if s.kind == PecKind::NotPec {
        return None;
    }
    let ident = s.identificativo.as_deref().map(str::trim)?;
    if ident.is_empty() {
        return None;
    }
    let kind = s.kind.as_str();
    let certified = s
        .signature
        .as_ref()
        .is_some_and(|r| r.status == SignatureStatus::Valid);
    let seal = if certified { "" } else { "|unverified" };
    if per_recipient(s.kind) {
        let to = s.recipient.as_deref().map(str::trim)?;
        if to.is_empty() {
            return None;
        }
        return Some(format!("{kind}|{ident}|{}{seal}", to.to_lowercase()));
    }
    Some(format!("{kind}|{ident}{seal}"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn summary(kind: &str, ident: Option<&str>, recipient: Option<&str>) -> Summary {
        serde_json::from_value(serde_json::json!({
            "kind": kind, "receipt_type": null, "error": null, "identificativo": ident,
            "original_message_id": null, "sender": null, "recipients": [], "subject": null,
            "provider": null, "issued_at": null, "recipient": recipient,
            "has_original": false, "has_daticert": true, "problems": [], "signature": null
        }))
        .unwrap()
    }

    #[test]
    fn an_envelope_is_its_kind_and_identificativo() {
        let s = summary("posta-certificata", Some(" opec1.x@pec.test "), None);
        assert_eq!(
            identity(&s).as_deref(),
            Some("posta-certificata|opec1.x@pec.test|unverified")
        );
        // The acceptance of the same submission is another message.
        let a = summary("accettazione", Some("opec1.x@pec.test"), None);
        assert_ne!(identity(&a), identity(&s));
    }

    #[test]
    fn a_delivery_notice_is_one_per_recipient_without_case() {
        let one = summary("avvenuta-consegna", Some("id1"), Some("Uno@PEC.test"));
        let same = summary("avvenuta-consegna", Some("id1"), Some("uno@pec.test"));
        let two = summary("avvenuta-consegna", Some("id1"), Some("due@pec.test"));
        assert_eq!(identity(&one), identity(&same));
        assert_ne!(identity(&one), identity(&two));
        assert_eq!(
            identity(&one).as_deref(),
            Some("avvenuta-consegna|id1|uno@pec.test|unverified")
        );
        for kind in [
            "errore-consegna",
            "preavviso-errore-consegna",
            "rilevazione-virus",
        ] {
            assert!(identity(&summary(kind, Some("id1"), Some("a@b.test"))).is_some());
            // Without its recipient a per-recipient notice has no identity to trust.
            assert_eq!(identity(&summary(kind, Some("id1"), None)), None);
        }
    }

    #[test]
    fn an_ordinary_mail_or_a_pec_without_identificativo_has_none() {
        assert_eq!(identity(&summary("not-pec", Some("x@y"), None)), None);
        assert_eq!(identity(&summary("accettazione", None, None)), None);
        assert_eq!(identity(&summary("accettazione", Some("  "), None)), None);
    }

    #[test]
    fn a_certified_copy_and_an_unverified_one_are_never_one_pec() {
        let with = |status: &str| {
            let mut v =
                serde_json::to_value(summary("posta-certificata", Some("id9"), None)).unwrap();
            v["signature"] = serde_json::json!({"status": status, "signer": null,
                "not_before": null, "not_after": null, "reason": null, "provider": null});
            serde_json::from_value::<Summary>(v).unwrap()
        };
        let genuine = with("valid");
        assert_eq!(identity(&genuine).as_deref(), Some("posta-certificata|id9"));
        for other in ["invalid", "missing", "untrusted"] {
            assert_ne!(identity(&with(other)), identity(&genuine), "{other}");
        }
        assert_eq!(identity(&with("invalid")), identity(&with("missing")));
    }
}
