//! `pecdesk`: the PecDesk command line (inspect a PEC, run the companion service).

fn main() -> std::process::ExitCode {
    pecdesk_companion::cli::main()
}
