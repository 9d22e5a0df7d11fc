//! `companion/src/store/` owns all SQL: this test reads every other source file of the
//! companion and fails, naming file and line, where a query is run (`sqlx::query`,
//! `query_as`, `query_scalar`) or a string literal starts with an SQL statement
//! (`"SELECT `, `"INSERT `, `"UPDATE `, `"DELETE `, `"WITH `).

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};

/// What marks SQL in Rust source.
const NEEDLES: &[&str] = &[
    "sqlx::query",
    "query_as(",
    "query_as::<",
    "query_scalar(",
    "query_scalar::<",
    "\"SELECT ",
    "\"INSERT ",
    "\"UPDATE ",
    "\"DELETE ",
    "\"WITH ",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read src") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `(file:line, needle)` for every hit outside `store/`.
fn offenders(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    files.sort();
    let mut hits = Vec::new();
    for file in files {
        let rel = file
            .strip_prefix(src)
            .expect("under src")
            .to_string_lossy()
            .replace('\\', "/");
        if rel.starts_with("store/") {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("read file");
        for (i, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            // Case-insensitive for the keywords: `"select ...` is SQL too.
            let upper = line.to_uppercase();
            for needle in NEEDLES {
                let hit = if needle.starts_with('"') {
                    upper.contains(needle)
                } else {
                    line.contains(needle)
                };
                if hit {
                    hits.push(format!("src/{rel}:{}: `{needle}`", i + 1));
                }
            }
        }
    }
    hits
}

#[test]
fn no_sql_outside_store() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let hits = offenders(&src);
    assert!(
        hits.is_empty(),
        "SQL outside companion/src/store/ (move it into a store module):\n{}",
        hits.join("\n")
    );
}

#[test]
fn the_check_finds_sql_where_there_is_some() {
    // The same scan over a made-up tree must name the file and line, so a broken scan
    // cannot pass silently.
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("src");
    std::fs::create_dir_all(src.join("http")).expect("mkdir");
    std::fs::create_dir_all(src.join("store")).expect("mkdir");
    std::fs::write(
        src.join("http/bad.rs"),
        "fn f() {}\nlet q = sqlx::query_scalar(\"select 1\");\n",
    )
    .expect("write");
    std::fs::write(
        src.join("http/lower.rs"),
        "const Q: &str = \"delete from x\";\n",
    )
    .expect("write");
    std::fs::write(src.join("store/ok.rs"), "sqlx::query(\"SELECT 1\")\n").expect("write");
    let hits = offenders(&src);
    assert!(
        hits.iter().any(|h| h.starts_with("src/http/bad.rs:2:")),
        "{hits:?}"
    );
    assert!(
        hits.iter().any(|h| h.starts_with("src/http/lower.rs:1:")),
        "{hits:?}"
    );
    assert!(!hits.iter().any(|h| h.contains("store/ok.rs")), "{hits:?}");
}
