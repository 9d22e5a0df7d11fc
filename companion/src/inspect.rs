//! `pecdesk inspect FILE... | -`: the readable or JSON summary of PEC messages.

use std::process::ExitCode;

/// Arguments of `pecdesk inspect`.
#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// Files to read (`-` for standard input).
    #[arg(required = true)]
    pub files: Vec<std::path::PathBuf>,
    /// Print the JSON summary of PEC.md (several files: JSON Lines with a `file` key).
    #[arg(long)]
    pub json: bool,
}

/// PLACEHOLDER in the workspace skeleton.
pub fn run(_args: InspectArgs) -> ExitCode {
    ExitCode::SUCCESS
}
