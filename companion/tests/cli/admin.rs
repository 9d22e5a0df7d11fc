//! `pecdesk mailbox|team|grant` beside a running server: on SQLite the data directory's
//! lock is held by `pecdesk serve`, and the command refuses, saying to stop it or use the
//! API, before touching the database. A password is never taken from the command line.

use super::pecdesk;

#[test]
fn admin_commands_refuse_a_data_directory_the_server_holds_and_point_to_the_api() {
    let dir = tempfile::tempdir().expect("tempdir");
    // What `pecdesk serve` holds while it runs.
    let held = pecdesk_companion::lock::DataDirLock::acquire(dir.path()).expect("lock");
    let data_dir = dir.path().to_string_lossy().into_owned();
    for args in [
        vec!["mailbox", "list", "--org", "Studio Demo"],
        vec!["team", "add", "--org", "Studio Demo", "--name", "T"],
        vec!["grant", "list", "--org", "Studio Demo"],
    ] {
        let mut all = args.clone();
        all.extend(["--data-dir", &data_dir]);
        let out = pecdesk(&all, None);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("API") && err.contains(" / "), "{err}");
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
    }
    assert!(
        !dir.path().join("pecdesk.sqlite3").exists(),
        "refused before opening the database"
    );
    drop(held);
}

#[test]
fn a_password_argument_does_not_exist() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data_dir = dir.path().to_string_lossy().into_owned();
    let out = pecdesk(
        &[
            "mailbox",
            "add",
            "--org",
            "O",
            "--address",
            "a@pec.example.it",
            "--name",
            "A",
            "--password",
            "in-chiaro",
            "--data-dir",
            &data_dir,
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    // Refused while parsing the arguments: nothing was opened or written.
    assert!(!dir.path().join("pecdesk.sqlite3").exists());
}
