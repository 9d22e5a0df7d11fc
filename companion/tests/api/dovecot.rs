#![allow(dead_code)] // helpers used by some stories only

//! A real Dovecot for the IMAP stories: `dovecot -c CONF -F` on a free loopback port, in a
//! temp folder of its own (config, state, logs, Maildirs), with a passwd-file of test
//! users. Messages are delivered by writing files into a Maildir's `new/`, as a local
//! delivery agent does. Stopped (SIGTERM, then waited for) on drop.
//!
//! Run as root (CI), the mail files belong to `nobody` (Dovecot refuses to serve mail as
//! uid 0); run as another user, they stay that user's.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

static SEQ: AtomicU64 = AtomicU64::new(0);

/// A running Dovecot.
pub struct Dovecot {
    dir: tempfile::TempDir,
    pub port: u16,
    /// Implicit-TLS port (with [`Dovecot::start_tls`]); the plain port offers STARTTLS then.
    pub tls_port: Option<u16>,
    child: Option<Child>,
    /// uid and gid the mail files must belong to.
    owner: (u32, u32),
}

/// The path of the Dovecot binary (`/usr/sbin/dovecot` as Debian installs it).
fn binary() -> PathBuf {
    for p in ["/usr/sbin/dovecot", "/usr/local/sbin/dovecot"] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    panic!("dovecot is not installed (apt-get install -y dovecot-imapd; scripts/test does it)");
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

impl Dovecot {
    /// Starts Dovecot with `users` (name, password), each with an INBOX and a Sent folder
    /// (special-use `\Sent`).
    pub fn start(users: &[(&str, &str)]) -> Self {
        Self::start_opts(users, false)
    }

    /// Like [`Dovecot::start`], with TLS: a test CA ([`Dovecot::ca`]) signs a certificate
    /// for `localhost`; implicit TLS on [`Dovecot::tls_port`], STARTTLS on the plain port.
    pub fn start_tls(users: &[(&str, &str)]) -> Self {
        Self::start_opts(users, true)
    }

    /// The test CA's certificate (PEM), with [`Dovecot::start_tls`].
    pub fn ca(&self) -> PathBuf {
        self.root().join("ca.pem")
    }

    fn make_certs(&self) {
        let r = self.root();
        std::fs::write(
            r.join("ext.cnf"),
            "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n\
             keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
        )
        .expect("ext");
        let openssl = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(r)
                .output()
                .expect("openssl runs");
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=PecDesk Test CA",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
        ]);
        openssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            "key.pem",
            "-out",
            "req.csr",
        ]);
        openssl(&[
            "x509",
            "-req",
            "-in",
            "req.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-out",
            "cert.pem",
            "-extfile",
            "ext.cnf",
        ]);
    }

    fn start_opts(users: &[(&str, &str)], tls: bool) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        // The mail processes run as the owner below: they must reach the homes.
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        let me = std::fs::metadata(dir.path()).expect("stat");
        let owner = if me.uid() == 0 {
            (65534, 65534)
        } else {
            (me.uid(), me.gid())
        };
        let mut d = Self {
            dir,
            port: free_port(),
            tls_port: tls.then(free_port),
            child: None,
            owner,
        };
        for (user, password) in users {
            d.add_user(user, password);
        }
        if tls {
            d.make_certs();
        }
        d.write_config();
        d.spawn();
        d
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn write_config(&self) {
        let root = self.root().display().to_string();
        let (uid, gid) = self.owner;
        let first_valid_uid = uid.clamp(1, 65534);
        let (ssl, imaps) = match self.tls_port {
            Some(p) => (
                format!("ssl = yes\nssl_cert = <{root}/cert.pem\nssl_key = <{root}/key.pem\n"),
                format!(
                    "  inet_listener imaps {{\n    address = 127.0.0.1\n    port = {p}\n    ssl = yes\n  }}\n"
                ),
            ),
            None => (
                "ssl = no\n".to_owned(),
                "  inet_listener imaps {\n    port = 0\n  }\n".to_owned(),
            ),
        };
        let conf = format!(
            "base_dir = {root}/run\n\
             state_dir = {root}/state\n\
             log_path = {root}/dovecot.log\n\
             info_log_path = {root}/dovecot.log\n\
             protocols = imap\n\
             listen = 127.0.0.1\n\
             {ssl}\
             disable_plaintext_auth = no\n\
             auth_mechanisms = plain login\n\
             mail_location = maildir:~/Maildir\n\
             first_valid_uid = {first_valid_uid}\n\
             first_valid_gid = 1\n\
             mail_plugins = quota\n\
             service imap-login {{\n  inet_listener imap {{\n    address = 127.0.0.1\n    port = {port}\n  }}\n{imaps}}}\n\
             passdb {{\n  driver = passwd-file\n  args = {root}/passwd\n}}\n\
             userdb {{\n  driver = static\n  args = uid={uid} gid={gid} home={root}/home/%u\n}}\n\
             namespace inbox {{\n  inbox = yes\n  mailbox Sent {{\n    special_use = \\Sent\n  }}\n}}\n\
             plugin {{\n  quota = maildir:User quota\n  quota_rule = *:storage=1G\n}}\n\
             protocol imap {{\n  mail_plugins = $mail_plugins imap_quota\n}}\n",
            port = self.port,
        );
        std::fs::write(self.root().join("dovecot.conf"), conf).expect("write config");
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.root().join("dovecot.stderr"))
            .expect("log");
        let child = Command::new(binary())
            .arg("-c")
            .arg(self.root().join("dovecot.conf"))
            .arg("-F")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("dovecot starts");
        self.child = Some(child);
        self.wait_ready();
    }

    /// Waits (bounded) until the server greets a client.
    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) {
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let mut buf = [0u8; 64];
                if matches!(s.read(&mut buf), Ok(n) if n > 4 && buf.starts_with(b"* OK")) {
                    let _ = s.write_all(b"a LOGOUT\r\n");
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "dovecot did not start: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Dovecot's own log (for failure messages).
    pub fn log(&self) -> String {
        let a = std::fs::read_to_string(self.root().join("dovecot.log")).unwrap_or_default();
        let b = std::fs::read_to_string(self.root().join("dovecot.stderr")).unwrap_or_default();
        format!("{a}{b}")
    }

    /// Stops the server (SIGTERM to the process this helper started, then waits: Dovecot
    /// closes every client connection).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(child.id().to_string())
                .status();
            let _ = child.wait();
        }
    }

    /// Answers CAPABILITY with `caps` only (Dovecot's `imap_capability`), from a restart.
    pub fn set_capabilities(&mut self, caps: &str) {
        self.stop();
        let path = self.root().join("dovecot.conf");
        let mut conf = std::fs::read_to_string(&path).expect("config");
        conf.push_str(&format!("imap_capability = {caps}\n"));
        std::fs::write(&path, conf).expect("write config");
        self.spawn();
    }

    /// Stops and starts again on the same port: every open session is cut.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    fn chown(&self, p: &Path) {
        let (uid, gid) = self.owner;
        std::os::unix::fs::chown(p, Some(uid), Some(gid)).expect("chown");
    }

    fn mkdir(&self, p: &Path) {
        std::fs::create_dir_all(p).expect("mkdir");
        // Every level under the temp folder belongs to the mail owner.
        let mut cur = p.to_path_buf();
        while cur.starts_with(self.root()) && cur != self.root() {
            self.chown(&cur);
            cur = cur.parent().expect("parent").to_path_buf();
        }
    }

    /// Adds (or changes the password of) a user; creates their INBOX and Sent folder.
    pub fn add_user(&mut self, user: &str, password: &str) {
        let path = self.root().join("passwd");
        let old = std::fs::read_to_string(&path).unwrap_or_default();
        let mut lines: Vec<String> = old
            .lines()
            .filter(|l| !l.starts_with(&format!("{user}:")))
            .map(str::to_owned)
            .collect();
        lines.push(format!("{user}:{{PLAIN}}{password}::::"));
        std::fs::write(&path, lines.join("\n") + "\n").expect("passwd");
        for folder in [None, Some("Sent")] {
            let base = self.folder_dir(user, folder);
            for sub in ["new", "cur", "tmp"] {
                self.mkdir(&base.join(sub));
            }
        }
    }

    /// The folder of the users' homes (`home/<user>/Maildir`): the mail root a PEC
    /// simulator delivers into (users named by their address).
    pub fn home(&self) -> PathBuf {
        self.root().join("home")
    }

    /// uid and gid the mail files must belong to (the simulator's `owner`).
    pub fn owner(&self) -> (u32, u32) {
        self.owner
    }

    /// The Maildir folder on disk (`None`: INBOX).
    pub fn folder_dir(&self, user: &str, folder: Option<&str>) -> PathBuf {
        let md = self.root().join("home").join(user).join("Maildir");
        match folder {
            None => md,
            Some(f) => md.join(format!(".{f}")),
        }
    }

    /// Delivers `raw` into `folder` (`None`: INBOX): written in `tmp/`, renamed into `new/`.
    pub fn deliver(&self, user: &str, folder: Option<&str>, raw: &[u8]) {
        let base = self.folder_dir(user, folder);
        let name = format!(
            "{}.P{}Q{}.pecdesk-test",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("time")
                .as_secs(),
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let tmp = base.join("tmp").join(&name);
        std::fs::write(&tmp, raw).expect("write message");
        self.chown(&tmp);
        std::fs::rename(&tmp, base.join("new").join(&name)).expect("deliver");
    }

    /// Delivers `raw` into `folder` with the file time `at` (Dovecot's INTERNALDATE for a
    /// Maildir message) and, when `flags` is given, straight into `cur/` with those flags
    /// in its name (`T`: `\Deleted`, as another client leaves a message it deleted).
    pub fn deliver_dated(
        &self,
        user: &str,
        folder: Option<&str>,
        raw: &[u8],
        at: std::time::SystemTime,
        flags: Option<&str>,
    ) {
        let base = self.folder_dir(user, folder);
        let name = format!(
            "{}.P{}Q{}.pecdesk-test",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("time")
                .as_secs(),
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let tmp = base.join("tmp").join(&name);
        std::fs::write(&tmp, raw).expect("write message");
        std::fs::File::options()
            .write(true)
            .open(&tmp)
            .and_then(|f| f.set_modified(at))
            .expect("set the file time");
        self.chown(&tmp);
        let dest = match flags {
            Some(f) => base.join("cur").join(format!("{name}:2,{f}")),
            None => base.join("new").join(&name),
        };
        std::fs::rename(&tmp, dest).expect("deliver");
    }

    /// The bytes of every message file of a folder (`new/` and `cur/`).
    pub fn contents(&self, user: &str, folder: Option<&str>) -> Vec<Vec<u8>> {
        let base = self.folder_dir(user, folder);
        let mut out = Vec::new();
        for sub in ["new", "cur"] {
            for e in std::fs::read_dir(base.join(sub)).expect("read folder") {
                out.push(std::fs::read(e.expect("entry").path()).expect("read message"));
            }
        }
        out
    }

    /// The message files of a folder (`new/` and `cur/`), with the flags Dovecot keeps in
    /// their names (`:2,FLAGS`).
    pub fn files(&self, user: &str, folder: Option<&str>) -> Vec<String> {
        let base = self.folder_dir(user, folder);
        let mut out = Vec::new();
        for sub in ["new", "cur"] {
            for e in std::fs::read_dir(base.join(sub)).expect("read folder") {
                out.push(e.expect("entry").file_name().to_string_lossy().into_owned());
            }
        }
        out.sort();
        out
    }

    /// Gives the folder a new UIDVALIDITY (as a server does after rebuilding its index):
    /// Dovecot is stopped, its UID list and indexes replaced, and started again.
    pub fn change_uidvalidity(&mut self, user: &str, folder: Option<&str>, uidvalidity: u32) {
        self.stop();
        let base = self.folder_dir(user, folder);
        for e in std::fs::read_dir(&base).expect("read folder") {
            let e = e.expect("entry");
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with("dovecot-uidlist")
                || name.starts_with("dovecot-uidvalidity")
                || name.starts_with("dovecot.index")
            {
                std::fs::remove_file(e.path()).expect("remove index");
            }
        }
        let list = base.join("dovecot-uidlist");
        std::fs::write(&list, format!("3 V{uidvalidity} N1\n")).expect("uidlist");
        self.chown(&list);
        self.spawn();
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        self.stop();
    }
}
