//! Decodes the built-in PEC providers' CA bundle (`src/signature/providers/ca.pem`, the
//! reviewable source) to DER, one certificate after another, in `$OUT_DIR/builtin-ca.der`:
//! the core embeds that instead of the PEM because base64 text gzips to almost twice the
//! size of the DER it carries (3.5 KB of the add-ins' WebAssembly module). No dependency:
//! PEM armour and base64 are read by hand; a malformed block fails the build.

use std::path::PathBuf;

const PEM: &str = "src/signature/providers/ca.pem";
const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
const END: &str = "-----END CERTIFICATE-----";

fn main() {
    println!("cargo:rerun-if-changed={PEM}");
    let text = std::fs::read_to_string(PEM).unwrap_or_else(|e| panic!("{PEM}: {e}"));
    let mut der = Vec::new();
    let mut rest = text.as_str();
    let mut count = 0;
    while let Some(start) = rest.find(BEGIN) {
        let after = &rest[start + BEGIN.len()..];
        let end = after
            .find(END)
            .unwrap_or_else(|| panic!("{PEM}: block without END"));
        der.extend(base64(&after[..end]).unwrap_or_else(|| panic!("{PEM}: bad base64")));
        rest = &after[end + END.len()..];
        count += 1;
    }
    assert!(count > 0, "{PEM}: no certificate");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default()).join("builtin-ca.der");
    std::fs::write(&out, der).unwrap_or_else(|e| panic!("{}: {e}", out.display()));
}

/// Standard base64 with padding, whitespace ignored.
fn base64(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    let mut padding = 0;
    for b in text.bytes().filter(|b| !b.is_ascii_whitespace()) {
        let value = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => {
                padding += 1;
                continue;
            }
            _ => return None,
        };
        if padding > 0 {
            return None;
        }
        acc = (acc << 6) | u32::from(value);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    (padding <= 2).then_some(out)
}
