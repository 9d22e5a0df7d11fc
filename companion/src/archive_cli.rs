//! `pecdesk archive verify PACK.zip [--key KEY]`: checks an evidence pack offline (no
//! database, no configuration) and names the first file that no longer matches. Exit
//! status 0 when intact, 1 otherwise.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::evidence::key_fingerprint;
use crate::evidence::verify::verify_pack;

/// Subcommands of `pecdesk archive`.
#[derive(Debug, Subcommand)]
pub enum ArchiveCommand {
    /// Verifica offline un pacchetto di evidenze (firma dell'indice, indice SInCRO,
    /// manifesto, ogni file, catena di audit, punto di controllo) e indica il primo file
    /// che non corrisponde / Verify an evidence pack offline (index signature, SInCRO
    /// index, manifest, every file, audit chain, checkpoint) and name the first file that
    /// no longer matches (exit 1).
    Verify(VerifyPackArgs),
}

/// Arguments of `pecdesk archive verify`.
#[derive(Debug, Args)]
pub struct VerifyPackArgs {
    /// Il pacchetto (ZIP) / the pack (ZIP).
    pub pack: PathBuf,
    /// Chiave pubblica attesa (base64, la `key` dei punti di controllo del companion):
    /// senza, la firma è verificata con la chiave che il pacchetto porta / expected public
    /// key (base64, the `key` of the companion's checkpoints): without it, the signature
    /// is checked with the key the pack carries.
    #[arg(long, value_name = "KEY")]
    pub key: Option<String>,
}

/// Runs `pecdesk archive ...`.
pub fn run(command: ArchiveCommand) -> ExitCode {
    match command {
        ArchiveCommand::Verify(args) => verify(&args),
    }
}

fn verify(args: &VerifyPackArgs) -> ExitCode {
    let file = match std::fs::File::open(&args.pack) {
        Ok(f) => f,
        Err(e) => {
            eprintln!(
                "pecdesk: {}: impossibile aprire / cannot open: {e}",
                args.pack.display()
            );
            return ExitCode::FAILURE;
        }
    };
    let report = verify_pack(std::io::BufReader::new(file), args.key.as_deref());
    let name = args.pack.display();
    if let Some(first) = report.problems.first() {
        println!(
            "{name}: pacchetto ALTERATO, primo file che non corrisponde / pack ALTERED, first file that no longer matches: {}",
            first.file
        );
        for p in &report.problems {
            println!("  {}: {}", p.file, p.reason);
        }
        return ExitCode::FAILURE;
    }
    println!(
        "{name}: pacchetto integro / pack intact: {} file / files",
        report.files
    );
    if let Some(s) = &report.segment {
        println!(
            "  registro di audit / audit log: voci / entries {}..{} (testa / head {}), {} sugli oggetti del pacchetto / about the pack's objects",
            s.first, s.head, s.head, s.shown
        );
        match s.checkpoint {
            Some(seq) => println!(
                "  punto di controllo firmato alla voce {seq}: coerente / signed checkpoint at entry {seq}: matches"
            ),
            None => {
                println!("  nessun punto di controllo nel pacchetto / no checkpoint in the pack")
            }
        }
    }
    if let Some(key) = &report.key {
        println!(
            "  firmato con la chiave / signed with key {key} (impronta / fingerprint {}){}",
            key_fingerprint(key),
            if args.key.is_some() {
                ", quella indicata / the one given"
            } else {
                ": confrontala con quella del companion (--key) / compare it with the companion's (--key)"
            }
        );
    }
    ExitCode::SUCCESS
}
