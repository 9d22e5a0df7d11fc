//! Times [`pecdesk_wasm::inspect_json`] natively on one message: the native figure beside the
//! WebAssembly one of `tests/wasm/bench.mjs` (`docs/BENCHMARKS.md`, "WebAssembly core").
//! Same function, same JSON out; only the compiler target differs.
//!
//! ```sh
//! cargo run --release -p pecdesk-wasm --example time_inspect -- FILE [RUNS]
//! ```
//!
//! Five warm-up calls, then RUNS (default 20) timed calls per mode; prints the median, the
//! fastest and the slowest wall time, and the median time the thread spent on a CPU
//! (`/proc/thread-self/schedstat`, Linux): on a shared machine the wall time includes waiting
//! for a core, the on-CPU time much less so. Modes: signature not checked; checked against no
//! anchor; and, when `PECDESK_CA_BUNDLE` is set, checked against that bundle.

use std::error::Error;
use std::time::{Duration, Instant};

fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: time_inspect FILE [RUNS]")?;
    let runs: usize = args.next().map(|r| r.parse()).transpose()?.unwrap_or(20);
    let raw = std::fs::read(&path)?;
    let bundle = std::env::var("PECDESK_CA_BUNDLE")
        .ok()
        .map(std::fs::read_to_string)
        .transpose()?;
    println!("{path}: {} bytes, {runs} runs per mode", raw.len());
    let mut modes: Vec<(&str, Option<&str>)> = vec![
        ("signature not checked", None),
        ("signature, no anchor", Some("")),
    ];
    if let Some(pem) = bundle.as_deref() {
        modes.push(("signature, PECDESK_CA_BUNDLE", Some(pem)));
    }
    for (name, anchors) in modes {
        for _ in 0..5 {
            pecdesk_wasm::inspect_json(&raw, anchors)?;
        }
        let mut times = Vec::with_capacity(runs);
        let mut on_cpu = Vec::with_capacity(runs);
        for _ in 0..runs {
            let cpu_before = thread_cpu();
            let started = Instant::now();
            let json = pecdesk_wasm::inspect_json(&raw, anchors);
            let elapsed = started.elapsed();
            std::hint::black_box(json)?;
            times.push(elapsed);
            if let (Some(before), Some(after)) = (cpu_before, thread_cpu()) {
                on_cpu.push(after.saturating_sub(before));
            }
        }
        times.sort();
        on_cpu.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let cpu = on_cpu
            .get(on_cpu.len() / 2)
            .map(|d| format!(", on-CPU median {:.2} ms", ms(*d)))
            .unwrap_or_default();
        println!(
            "native {name}: median {:.2} ms (min {:.2}, max {:.2}){cpu}",
            ms(times[times.len() / 2]),
            ms(times[0]),
            ms(times[times.len() - 1])
        );
    }
    Ok(())
}

/// Time this thread has spent on a CPU (first field of `/proc/thread-self/schedstat`, ns).
fn thread_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns = stat.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}
