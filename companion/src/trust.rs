//! Trust anchors of the S/MIME check run on every imported PEC.
//!
//! The anchors come from the `ca_bundle` setting (a PEM file of the providers' CAs). In demo
//! mode the throw-away demo CA that signed `companion/demo/*.eml` is trusted too, and only
//! then: it must never vouch for real mail.

use std::sync::Arc;

use anyhow::Context as _;
use pecdesk_core::signature::TrustAnchors;

use crate::config::Settings;

/// The demo CA (made by `companion/demo/sign.py`; its private key was thrown away).
const DEMO_CA: &[u8] = include_bytes!("../demo/demo-ca.pem");

/// Reads the configured anchors; a missing or unreadable bundle stops the start with a
/// message that names the file.
pub fn load(settings: &Settings) -> anyhow::Result<Arc<TrustAnchors>> {
    let mut anchors = TrustAnchors::default();
    if let Some(path) = &settings.ca_bundle {
        let pem = std::fs::read(path)
            .with_context(|| format!("ca_bundle: cannot read {}", path.display()))?;
        let bundle = TrustAnchors::from_pem(&pem)
            .map_err(|e| anyhow::anyhow!("ca_bundle {}: {e}", path.display()))?;
        anchors.certificates.extend(bundle.certificates);
    }
    if settings.demo {
        let demo = TrustAnchors::from_pem(DEMO_CA).map_err(|e| anyhow::anyhow!("demo CA: {e}"))?;
        anchors.certificates.extend(demo.certificates);
    }
    Ok(Arc::new(anchors))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_ca_is_trusted_in_demo_mode_only() {
        let mut settings = Settings::for_data_dir("/nonexistent");
        assert!(load(&settings).expect("no bundle").certificates.is_empty());
        settings.demo = true;
        assert_eq!(load(&settings).expect("demo").certificates.len(), 1);
    }

    #[test]
    fn a_missing_ca_bundle_stops_the_start_naming_the_file() {
        let mut settings = Settings::for_data_dir("/nonexistent");
        settings.ca_bundle = Some("/nonexistent/pec-ca.pem".into());
        let err = load(&settings).expect_err("missing file").to_string();
        assert!(err.contains("/nonexistent/pec-ca.pem"), "{err}");
    }

    #[test]
    fn a_configured_bundle_adds_its_certificates() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, DEMO_CA).expect("write");
        let mut settings = Settings::for_data_dir(dir.path());
        settings.ca_bundle = Some(path);
        assert_eq!(load(&settings).expect("bundle").certificates.len(), 1);
    }
}
