//! Command-line interface of `pecdesk`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "pecdesk",
    version,
    about = "PecDesk: PEC per i team / PEC for teams"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Legge uno o più messaggi PEC e ne stampa il riepilogo / Summarise PEC messages.
    Inspect(crate::inspect::InspectArgs),
}

/// Parses the arguments and runs the chosen command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Inspect(args) => crate::inspect::run(args),
    }
}
