//! Times [`pecdesk_wasm::inspect_json`] natively on one message: the native figure beside the
//! WebAssembly one of `tests/wasm/bench.mjs` (`docs/BENCHMARKS.md`, "WebAssembly core").
//! Same function, same JSON out; only the compiler target differs.
//!
//! ```sh
//! cargo run --release -p pecdesk-wasm --example time_inspect -- FILE [RUNS]
//! ```
//!
//! Five warm-up calls, then RUNS (default 20) timed calls per mode; prints the median, the
//! fastest and the slowest. Modes: signature not checked; checked against no anchor; and,
//! when `PECDESK_CA_BUNDLE` is set, checked against that bundle.

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
        let mut times: Vec<Duration> = (0..runs)
            .map(|_| {
                let started = Instant::now();
                let json = pecdesk_wasm::inspect_json(&raw, anchors);
                let elapsed = started.elapsed();
                std::hint::black_box(json).map(|_| elapsed)
            })
            .collect::<Result<_, _>>()?;
        times.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        println!(
            "native {name}: median {:.2} ms (min {:.2}, max {:.2})",
            ms(times[times.len() / 2]),
            ms(times[0]),
            ms(times[times.len() - 1])
        );
    }
    Ok(())
}
