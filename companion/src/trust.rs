//! What the S/MIME check run on every imported PEC trusts (see `docs/trust.md`).
//!
//! - the built-in PEC provider list of the core (the providers of the public corpus);
//! - the list imported from AgID with `pecdesk trust import FILE`, kept in the data folder
//!   as [`IMPORTED_FILE`] and read at start;
//! - the `ca_bundle` setting: extra CA certificates that complete chains but make no one a
//!   PEC provider (a signer reaching only them is `untrusted: not-a-pec-provider`);
//! - the qualified CA list (EU trusted list, CA/QC services) imported with `pecdesk trust
//!   import --qualified FILE`, kept as [`QUALIFIED_FILE`]: not used by the S/MIME check but
//!   served to the add-ins (`/addin/trust/qualified.json`) for signed documents (`.p7m`);
//! - in demo mode only, the throw-away demo provider that signed `companion/demo/*.eml`: it
//!   must never vouch for real mail; likewise the PEC provider simulator's test CA
//!   (`companion/simulator/ca.pem`, see `crate::simulate`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use pecdesk_core::signature::{
    Provider, QualifiedCas, TrustAnchors, parse_trusted_list, providers, qualified,
};

use crate::config::{Overrides, Settings};

/// The demo CA (made by `companion/demo/sign.py`; its private key was thrown away).
const DEMO_CA: &[u8] = include_bytes!("../demo/demo-ca.pem");

/// Name of the imported provider list in the data folder.
pub const IMPORTED_FILE: &str = "pec-providers.json";

/// Name of the imported qualified CA list in the data folder.
pub const QUALIFIED_FILE: &str = "qualified-cas.json";

/// The qualified CA list, read at start.
#[derive(Debug)]
pub struct QualifiedList {
    /// The list.
    pub cas: QualifiedCas,
    /// Its `pecdesk-qualified-cas/1` JSON, as served to the add-ins.
    pub json: String,
}

/// Reads the imported qualified CA list; `None` when none was imported. An unreadable
/// file stops the start with a message naming it.
pub fn load_qualified(settings: &Settings) -> anyhow::Result<Option<Arc<QualifiedList>>> {
    let path = settings.data_dir.join(QUALIFIED_FILE);
    let json = match std::fs::read(&path) {
        Ok(json) => json,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let cas = QualifiedCas::from_json(&json).map_err(|e| {
        anyhow::anyhow!(
            "{}: {e} — reimportare l'elenco con / import the list again with `pecdesk trust import --qualified FILE`",
            path.display()
        )
    })?;
    let json = cas.to_json();
    Ok(Some(Arc::new(QualifiedList { cas, json })))
}

/// Reads what the signature check trusts; a missing or unreadable bundle or imported list
/// stops the start with a message that names the file.
pub fn load(settings: &Settings) -> anyhow::Result<Arc<TrustAnchors>> {
    let mut anchors = TrustAnchors::builtin();
    let imported = settings.data_dir.join(IMPORTED_FILE);
    match std::fs::read(&imported) {
        Ok(json) => anchors.add_provider_list(&json, None).map_err(|e| {
            anyhow::anyhow!(
                "{}: {e} — reimportare l'elenco con / import the list again with `pecdesk trust import FILE`",
                imported.display()
            )
        })?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(e).with_context(|| format!("cannot read {}", imported.display()));
        }
    }
    if let Some(path) = &settings.ca_bundle {
        let pem = std::fs::read(path)
            .with_context(|| format!("ca_bundle: cannot read {}", path.display()))?;
        let bundle = TrustAnchors::from_pem(&pem)
            .map_err(|e| anyhow::anyhow!("ca_bundle {}: {e}", path.display()))?;
        anchors.certificates.extend(bundle.certificates);
    }
    if settings.demo {
        anchors.providers.push(demo_provider()?);
        // The PEC provider simulator (`pecdesk simulate`, in-process in the demo): its test
        // CA is public, so it is trusted in demo mode only.
        anchors
            .providers
            .push(crate::simulate::default_trust_provider()?);
    }
    Ok(Arc::new(anchors))
}

/// The demo provider: the demo CA, its signer `O=PEC Demo S.p.A.`, the demo envelopes'
/// `posta-certificata@pec.demo-provider.test`.
fn demo_provider() -> anyhow::Result<Provider> {
    let demo = TrustAnchors::from_pem(DEMO_CA).map_err(|e| anyhow::anyhow!("demo CA: {e}"))?;
    Ok(Provider {
        name: "PEC Demo S.p.A. (solo dimostrazione / demo only)".to_owned(),
        names: vec!["PEC Demo S.p.A.".to_owned()],
        organisations: vec!["PEC Demo S.p.A.".to_owned()],
        domains: vec!["pec.demo-provider.test".to_owned()],
        certificates: demo.certificates,
        source: "companion/demo/demo-ca.pem, made by companion/demo/sign.py (demo mode only)"
            .to_owned(),
    })
}

/// Subcommands of `pecdesk trust`.
#[derive(Debug, clap::Subcommand)]
pub enum TrustCommand {
    /// Importa l'elenco dei gestori PEC di AgID (XML ETSI TS 119 612) nella cartella dei
    /// dati, o con --qualified le CA qualificate di un elenco di fiducia UE; vale dal
    /// prossimo avvio / Import AgID's PEC provider list (ETSI TS 119 612 XML) into the data
    /// folder, or with --qualified the qualified CAs of an EU trusted list; used from the
    /// next start.
    Import(ImportArgs),
}

/// Arguments of `pecdesk trust import`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// L'elenco XML scaricato da AgID / the XML list downloaded from AgID.
    pub file: PathBuf,
    /// File TOML di configurazione / TOML config file (default: ./pecdesk.toml if present).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Cartella dei dati / data folder.
    #[arg(long)]
    pub data_dir: Option<String>,
    /// Importa le CA qualificate (servizi CA/QC concessi) di un elenco di fiducia UE, per
    /// i documenti firmati .p7m / import the qualified CAs (granted CA/QC services) of an EU
    /// trusted list, for signed .p7m documents.
    #[arg(long)]
    pub qualified: bool,
}

/// Runs `pecdesk trust ...`.
pub fn run(command: TrustCommand) -> ExitCode {
    match command {
        TrustCommand::Import(args) if args.qualified => match import_qualified(&args) {
            Ok((path, count)) => {
                println!(
                    "{count} CA qualificate importate in / qualified CAs imported into {} \
                     (valide dal prossimo avvio / used from the next start)",
                    path.display()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("errore / error: {e:#}");
                ExitCode::FAILURE
            }
        },
        TrustCommand::Import(args) => match import(&args) {
            Ok((path, count)) => {
                println!(
                    "{count} gestori importati in / providers imported into {} \
                     (validi dal prossimo avvio / used from the next start)",
                    path.display()
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("errore / error: {e:#}");
                ExitCode::FAILURE
            }
        },
    }
}

/// What both imports start from: the settings (for the data folder), the XML file's bytes
/// and its name (recorded as the list's source).
fn read_import(args: &ImportArgs) -> anyhow::Result<(Settings, Vec<u8>, String)> {
    let overrides = Overrides {
        data_dir: args.data_dir.clone(),
        ..Overrides::default()
    };
    let settings = Settings::load(args.config.as_deref(), &overrides)?;
    let xml = std::fs::read(&args.file)
        .with_context(|| format!("impossibile leggere / cannot read {}", args.file.display()))?;
    let name = args.file.file_name().map_or_else(
        || args.file.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    Ok((settings, xml, name))
}

fn import(args: &ImportArgs) -> anyhow::Result<(PathBuf, usize)> {
    let (settings, xml, name) = read_import(args)?;
    let list = parse_trusted_list(&xml, &name)
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.file.display()))?;
    let path = write_list(&settings.data_dir, &list, &name)?;
    Ok((path, list.len()))
}

fn import_qualified(args: &ImportArgs) -> anyhow::Result<(PathBuf, usize)> {
    let (settings, xml, name) = read_import(args)?;
    let mut list = qualified::from_trusted_list(&xml, &name)
        .map_err(|e| anyhow::anyhow!("{}: {e}", args.file.display()))?;
    list.source = format!("{} (pecdesk trust import --qualified)", list.source);
    let path = write_atomically(&settings.data_dir, QUALIFIED_FILE, &list.to_json())?;
    let count = list.cas.iter().map(|ca| ca.certificates.len()).sum();
    Ok((path, count))
}

/// Writes `contents` as `data_dir/name` through a temporary file (a reader at start never
/// sees half a file).
fn write_atomically(data_dir: &Path, name: &str, contents: &str) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    let path = data_dir.join(name);
    let partial = data_dir.join(format!("{name}.partial"));
    std::fs::write(&partial, contents)
        .with_context(|| format!("cannot write {}", partial.display()))?;
    std::fs::rename(&partial, &path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// Writes the list next to the database, through a temporary file (a reader at start
/// never sees half a file).
fn write_list(data_dir: &Path, list: &[Provider], source: &str) -> anyhow::Result<PathBuf> {
    let json = providers::to_json(
        list,
        &format!("imported from {source} (pecdesk trust import)"),
    );
    write_atomically(data_dir, IMPORTED_FILE, &json)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use pecdesk_core::signature::{SignatureStatus, verify};

    use super::*;

    const DEMO_RECEIPT: &[u8] = include_bytes!("../demo/03-accettazione.eml");

    #[test]
    fn the_demo_provider_is_trusted_in_demo_mode_only() {
        let mut settings = Settings::for_data_dir("/nonexistent");
        let normal = load(&settings).expect("no bundle");
        assert!(normal.certificates.is_empty());
        assert_eq!(normal.providers, TrustAnchors::builtin().providers);
        let report = verify(DEMO_RECEIPT, &normal);
        assert_eq!(report.status, SignatureStatus::Untrusted, "{report:?}");
        settings.demo = true;
        let demo = load(&settings).expect("demo");
        assert_eq!(demo.providers.len(), normal.providers.len() + 2);
        let report = verify(DEMO_RECEIPT, &demo);
        assert_eq!(report.status, SignatureStatus::Valid, "{report:?}");
    }

    #[test]
    fn a_missing_ca_bundle_stops_the_start_naming_the_file() {
        let mut settings = Settings::for_data_dir("/nonexistent");
        settings.ca_bundle = Some("/nonexistent/pec-ca.pem".into());
        let err = load(&settings).expect_err("missing file").to_string();
        assert!(err.contains("/nonexistent/pec-ca.pem"), "{err}");
    }

    #[test]
    fn a_configured_bundle_adds_anchors_that_make_no_provider() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, DEMO_CA).expect("write");
        let mut settings = Settings::for_data_dir(dir.path());
        settings.ca_bundle = Some(path);
        let trust = load(&settings).expect("bundle");
        assert_eq!(trust.certificates.len(), 1);
        // The demo CA as a mere bundle: the demo receipt chains, but to no provider.
        let report = verify(DEMO_RECEIPT, &trust);
        assert_eq!(
            serde_json::to_value(report.reason).unwrap(),
            "not-a-pec-provider"
        );
    }

    #[test]
    fn an_imported_qualified_list_is_loaded_and_a_broken_one_stops_the_start() {
        let dir = tempfile::tempdir().expect("tempdir");
        let xml = dir.path().join("tl.xml");
        std::fs::write(
            &xml,
            include_bytes!("../../shared/tests/fixtures/cades/qualified-list.xml"),
        )
        .unwrap();
        let settings = Settings::for_data_dir(dir.path());
        assert!(load_qualified(&settings).unwrap().is_none());
        let args = ImportArgs {
            file: xml,
            config: None,
            data_dir: Some(dir.path().display().to_string()),
            qualified: true,
        };
        let (path, count) = import_qualified(&args).unwrap();
        assert_eq!((path, count), (dir.path().join(QUALIFIED_FILE), 1));
        let loaded = load_qualified(&settings).unwrap().expect("imported");
        assert_eq!(loaded.cas.cas.len(), 1);
        assert!(loaded.json.contains("pecdesk-qualified-cas/1"));
        assert!(
            loaded
                .cas
                .source
                .ends_with("(pecdesk trust import --qualified)")
        );
        std::fs::write(dir.path().join(QUALIFIED_FILE), "{").unwrap();
        let err = load_qualified(&settings).expect_err("broken").to_string();
        assert!(
            err.contains(QUALIFIED_FILE) && err.contains("--qualified"),
            "{err}"
        );
    }

    #[test]
    fn an_imported_list_in_the_data_folder_is_used_and_a_broken_one_stops_the_start() {
        let dir = tempfile::tempdir().expect("tempdir");
        let settings = Settings::for_data_dir(dir.path());
        write_list(dir.path(), &[demo_provider().unwrap()], "test.xml").unwrap();
        let trust = load(&settings).expect("imported list");
        assert_eq!(verify(DEMO_RECEIPT, &trust).status, SignatureStatus::Valid);
        std::fs::write(dir.path().join(IMPORTED_FILE), "{").unwrap();
        let err = load(&settings).expect_err("broken list").to_string();
        assert!(
            err.contains(IMPORTED_FILE) && err.contains("trust import"),
            "{err}"
        );
    }
}
