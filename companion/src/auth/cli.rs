//! `pecdesk sso ...`: the administrator's commands to connect an organisation to its OpenID
//! provider before anybody can sign in (bootstrap), and to rotate the token-signing key.
//!
//! ```text
//! pecdesk sso set-idp --org "Comune di Esempio" --file idp.json [--create-org] [--admin it@comune.example.it]
//! pecdesk sso show-idp --org "Comune di Esempio"
//! pecdesk sso rotate-key
//! ```
//! The file is the same JSON document as `PUT /api/v1/auth/idp` (see `docs/operations.md`).
//! The client secret may come from the environment instead (`--client-secret-env VAR`) so it
//! never sits in a file.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use pecdesk_core::ids::EmailAddress;
use secrecy::SecretString;

use super::signin as auth_store;
use super::tokens::TokenKeys;
use crate::cli::DbArgs;
use crate::config::{Overrides, Settings};
use crate::store::{Store, users};

/// Arguments of `pecdesk sso`.
#[derive(Debug, Args)]
pub struct SsoArgs {
    #[command(subcommand)]
    command: SsoCommand,
}

#[derive(Debug, Subcommand)]
enum SsoCommand {
    /// Collega un'organizzazione al suo IdP / Connect an organisation to its OpenID provider.
    SetIdp {
        /// Organizzazione (id o nome) / organisation (id or name).
        #[arg(long)]
        org: String,
        /// Documento JSON delle impostazioni / JSON settings document.
        #[arg(long)]
        file: PathBuf,
        /// Variabile d'ambiente con il client secret / environment variable holding the client secret.
        #[arg(long)]
        client_secret_env: Option<String>,
        /// Crea l'organizzazione se manca / create the organisation when missing.
        #[arg(long)]
        create_org: bool,
        /// Amministratore dell'organizzazione (creato o promosso) / organisation admin (created or promoted).
        // Parsed (lower-cased) here: a malformed address stops the command before any write.
        #[arg(long)]
        admin: Option<EmailAddress>,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Mostra le impostazioni IdP (senza segreto) / Show the IdP settings (no secret).
    ShowIdp {
        /// Organizzazione (id o nome) / organisation (id or name).
        #[arg(long)]
        org: String,
        #[command(flatten)]
        db: DbArgs,
    },
    /// Ruota la chiave di firma dei token / Rotate the access-token signing key.
    RotateKey {
        #[command(flatten)]
        db: DbArgs,
    },
}

/// Runs `pecdesk sso ...`.
pub fn run(args: SsoArgs) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(&e.into()),
    };
    match rt.block_on(execute(args.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn fail(e: &anyhow::Error) -> ExitCode {
    eprintln!("errore / error: {e:#}");
    ExitCode::FAILURE
}

async fn open(db: &DbArgs) -> anyhow::Result<(Settings, Store, TokenKeys)> {
    let overrides = Overrides {
        data_dir: db.data_dir.clone(),
        database_url: db.database_url.clone(),
        ..Overrides::default()
    };
    let settings = Settings::load(db.config.as_deref(), &overrides)?;
    let store = Store::connect(&settings).await?;
    let keys = TokenKeys::load_or_create(&store, &settings).await?;
    Ok((settings, store, keys))
}

async fn execute(command: SsoCommand) -> anyhow::Result<()> {
    match command {
        SsoCommand::SetIdp {
            org,
            file,
            client_secret_env,
            create_org,
            admin,
            db,
        } => {
            let (_, store, keys) = open(&db).await?;
            let mut doc: auth_store::IdpDocument = serde_json::from_slice(&std::fs::read(&file)?)?;
            if let Some(var) = client_secret_env {
                doc.client_secret = Some(SecretString::from(std::env::var(&var)?));
            }
            let org_id = match users::find_org(&store, &org).await? {
                Some(id) => id,
                None if create_org => create_organisation(&store, &org).await?,
                None => anyhow::bail!("organizzazione sconosciuta / unknown organisation: {org}"),
            };
            let admin_id = match admin {
                Some(email) => Some(ensure_admin(&store, &org_id, &email).await?),
                None => None,
            };
            auth_store::put_idp_settings(&store, keys.master(), &org_id, admin_id.as_deref(), doc)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("ok: {org_id}");
            store.close().await;
        }
        SsoCommand::ShowIdp { org, db } => {
            let (_, store, keys) = open(&db).await?;
            let org_id = users::find_org(&store, &org).await?.ok_or_else(|| {
                anyhow::anyhow!("organizzazione sconosciuta / unknown organisation: {org}")
            })?;
            let summary = auth_store::idp_summary(&store, keys.master(), &org_id).await?;
            println!("{}", serde_json::to_string_pretty(&summary)?);
            store.close().await;
        }
        SsoCommand::RotateKey { db } => {
            let (_, store, keys) = open(&db).await?;
            println!("kid: {}", keys.rotate(&store).await?);
            store.close().await;
        }
    }
    Ok(())
}

async fn create_organisation(store: &Store, name: &str) -> anyhow::Result<String> {
    Ok(users::create_org(store, name).await?)
}

/// Creates the user as administrator of the organisation, or promotes them. The first SSO
/// sign-in with this e-mail then links to this account.
async fn ensure_admin(store: &Store, org_id: &str, email: &EmailAddress) -> anyhow::Result<String> {
    match users::user_by_email(store, email).await? {
        Some(u) if u.org_id != org_id => {
            anyhow::bail!(
                "l'utente appartiene a un'altra organizzazione / the user belongs to another organisation"
            )
        }
        Some(u) => {
            users::promote_admin(store, &u.id).await?;
            Ok(u.id)
        }
        None => Ok(users::create_admin(store, org_id, email).await?),
    }
}
