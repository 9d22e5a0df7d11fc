//! Integration tests of pecdesk-core (one test binary, see STYLE.md).

mod cades;
mod corpus;
mod golden;
mod properties;
mod signature;

/// The value of the environment variable `name`, or `None` after a notice when it is unset
/// outside CI (the caller returns early). In CI an unset variable fails the test: a missing
/// corpus or CA bundle may never pass there.
pub fn env_or_notice(name: &str, what: &str) -> Option<String> {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => Some(value),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "{name} must be set in CI ({what} may not be skipped)"
            );
            eprintln!("notice: {name} is not set; {what} did not run");
            None
        }
    }
}
