//! Rebuilds the companion when a migration file is added or changed: `sqlx::migrate!`
//! embeds `migrations/` at compile time, and cargo does not watch that folder by itself.
//!
//! Also tells the test stories which real parts they may run against, as cfgs read by
//! `tests/api/helpers.rs`: a story whose part is missing is marked ignored (so `cargo test`
//! reports it as ignored, never as passed), except in CI, where it runs and fails.
//! - `pecdesk_pg`: `PECDESK_TEST_PG` is set, or `CI` is set (PostgreSQL stories).
//! - `pecdesk_oidc`: `tests/oidc` has its npm packages installed, or `CI` is set (SSO stories).

use std::path::Path;

fn main() {
    println!("cargo::rerun-if-changed=migrations");
    println!("cargo::rerun-if-env-changed=PECDESK_TEST_PG");
    println!("cargo::rerun-if-env-changed=CI");
    println!("cargo::rustc-check-cfg=cfg(pecdesk_pg)");
    println!("cargo::rustc-check-cfg=cfg(pecdesk_oidc)");

    let set = |name: &str| std::env::var_os(name).is_some_and(|v| !v.is_empty());
    let ci = set("CI");
    if ci || set("PECDESK_TEST_PG") {
        println!("cargo::rustc-cfg=pecdesk_pg");
    }

    // Cargo watches a folder by the newest modification time in it (node_modules
    // included), so `npm ci` or removing node_modules reruns this script. Watching only the
    // package would be narrower, but a watched path that is missing reruns it on every build.
    // The price: a change under tests/oidc recompiles this crate once.
    let oidc = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/oidc");
    println!("cargo::rerun-if-changed={}", oidc.display());
    if ci || oidc.join("node_modules/oidc-provider").is_dir() {
        println!("cargo::rustc-cfg=pecdesk_oidc");
    }
}
