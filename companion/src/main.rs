//! `pecdesk`: the PecDesk command line (inspect a PEC, run the companion service).

/// mimalloc: under load the service allocates many small row and JSON buffers across
/// threads, where glibc's allocator spent a fifth of the CPU (see docs/BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    pecdesk_companion::cli::main()
}
