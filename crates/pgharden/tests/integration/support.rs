//! Shared helpers: run the binary, make a PKI, call openssl and psql, craft certificates.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tempfile::TempDir;

/// The binary under test, with the environment cleared of anything that would change its behaviour.
pub(crate) fn pgharden() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pgharden"));
    cmd.env_remove("PGHARDEN_CA_PASSPHRASE").env_remove("PGHARDEN_PKI_DIR").env("NO_COLOR", "1");
    cmd
}

/// Run and return the output, whatever the exit code.
pub(crate) fn run(args: &[&str]) -> Output {
    pgharden().args(args).output().expect("running pgharden")
}

/// Run, insist on success, return stdout.
pub(crate) fn ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "pgharden {args:?} failed with {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Run, insist on exit code `code`, return stderr (and stdout appended).
pub(crate) fn fails(args: &[&str], code: i32) -> String {
    let out = run(args);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stderr), String::from_utf8_lossy(&out.stdout));
    assert_eq!(out.status.code(), Some(code), "pgharden {args:?} should exit {code}:\n{text}");
    text
}

/// A PKI in a temporary directory.
pub(crate) struct TestPki {
    pub tmp: TempDir,
    pub dir: PathBuf,
}

impl TestPki {
    /// `pki init --no-passphrase` with `key_type`, a server certificate for localhost/127.0.0.1 and
    /// client certificates for `bob` and (CN `alice@example.com`) `alice`.
    pub(crate) fn new(key_type: &str) -> Self {
        let pki = Self::bare(key_type);
        pki.ok(&["pki", "server", "--host", "localhost", "--host", "127.0.0.1"]);
        pki.ok(&["pki", "client", "--role", "bob"]);
        pki.ok(&["pki", "client", "--role", "alice", "--cn", "alice@example.com"]);
        pki
    }

    /// Only the hierarchy.
    pub(crate) fn bare(key_type: &str) -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("pki");
        ok(&["pki", "init", "--dir", dir.to_str().unwrap(), "--key-type", key_type, "--no-passphrase"]);
        Self { tmp, dir }
    }

    pub(crate) fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    pub(crate) fn p(&self, rel: &str) -> String {
        self.path(rel).to_string_lossy().into_owned()
    }

    fn with_dir<'a>(&'a self, args: &[&'a str], dir: &'a str) -> Vec<&'a str> {
        let mut v = args.to_vec();
        v.insert(2.min(v.len()), dir);
        v.insert(2.min(v.len()), "--dir");
        v
    }

    /// `pgharden <args> --dir DIR`, must succeed.
    pub(crate) fn ok(&self, args: &[&str]) -> String {
        let dir = self.dir.to_string_lossy().into_owned();
        ok(&self.with_dir(args, &dir))
    }

    /// `pgharden <args> --dir DIR`, must exit with `code`.
    pub(crate) fn fails(&self, args: &[&str], code: i32) -> String {
        let dir = self.dir.to_string_lossy().into_owned();
        fails(&self.with_dir(args, &dir), code)
    }

    /// Serial of an issued certificate, as the ledger has it.
    pub(crate) fn serial(&self, rel: &str) -> String {
        let text = self.ok(&["pki", "list", "--json"]);
        let list: serde_json::Value = serde_json::from_str(&text).unwrap();
        list.as_array()
            .unwrap()
            .iter()
            .rev()
            .find(|e| e["path"] == rel)
            .unwrap_or_else(|| panic!("{rel} not in the ledger"))["serial"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

/// Run `openssl` with arguments; returns (success, combined output).
pub(crate) fn openssl(args: &[&str]) -> (bool, String) {
    let out =
        Command::new("openssl").args(args).output().expect("openssl is installed (apt-get install openssl)");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// `openssl verify` of a leaf against the PKI, with the intermediate untrusted and optionally every CRL.
pub(crate) fn openssl_verify(
    pki: &TestPki,
    leaf: &str,
    intermediate: &str,
    purpose: &str,
    crls: bool,
) -> (bool, String) {
    let root = pki.p("root/ca.crt");
    let inter = pki.p(intermediate);
    let leaf = pki.p(leaf);
    let crl = pki.p("crls.pem");
    let mut args = vec!["verify", "-CAfile", &root, "-untrusted", &inter, "-purpose", purpose];
    if crls {
        args.extend(["-crl_check_all", "-CRLfile", &crl]);
    }
    args.push(&leaf);
    openssl(&args)
}

/// The permission bits of a file.
pub(crate) fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o7777
}

/// Result of a psql connection attempt.
#[derive(Debug)]
pub(crate) struct Psql {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Connect with psql using `conninfo` and run `sql`.
pub(crate) fn psql(cluster: &pgharden_testcluster::Cluster, conninfo: &str, sql: &str) -> Psql {
    psql_with(cluster.psql_command(), conninfo, sql)
}

/// [`psql`] with a `psql` command of the caller's making (another libpq, say).
pub(crate) fn psql_with(mut cmd: Command, conninfo: &str, sql: &str) -> Psql {
    let out = cmd
        .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", conninfo, "-c", sql])
        .output()
        .expect("running psql");
    Psql {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).trim().to_string(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Put the PKI's server certificate, root and CRLs in the cluster's data directory and point the
/// server at them (`ssl_*` settings), for tests that do by hand what `apply` will automate.
pub(crate) fn install_server_tls(cluster: &pgharden_testcluster::Cluster, pki: &TestPki, server: &str) {
    let read = |rel: &str| fs::read(pki.path(rel)).unwrap();
    cluster.write_file("server.crt", &read(&format!("servers/{server}/server.crt")), 0o600).unwrap();
    cluster.write_file("server.key", &read(&format!("servers/{server}/server.key")), 0o600).unwrap();
    cluster.write_file("root.crt", &read("root/ca.crt"), 0o600).unwrap();
    cluster.write_file("crls.pem", &read("crls.pem"), 0o600).unwrap();
    cluster
        .append_conf(
            "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n\
             ssl_ca_file = 'root.crt'\nssl_crl_file = 'crls.pem'\nssl_min_protocol_version = 'TLSv1.2'\n",
        )
        .unwrap();
}

/// Load the unencrypted key of a CA in a test PKI, for crafting unusual certificates.
pub(crate) fn ca_issuer(pki: &TestPki, ca: &str) -> rcgen::Issuer<'static, rcgen::KeyPair> {
    let (key, _) = pgharden_pki::key::load_key(&pki.path(&format!("{ca}/ca.key")), None).unwrap();
    let pem = fs::read_to_string(pki.path(&format!("{ca}/ca.crt"))).unwrap();
    rcgen::Issuer::from_ca_cert_pem(&pem, key).unwrap()
}

/// `pgharden apply --pgdata … --pki … --host localhost --host 127.0.0.1 --yes`, which must succeed
/// (with `--allow-missing-pgaudit` when the cluster's build has no pgaudit: 14 and 16 here).
pub(crate) fn harden(cluster: &pgharden_testcluster::Cluster, pki: &TestPki) {
    let accept: &[&str] = if has_pgaudit(cluster.install()) { &[] } else { &["--allow-missing-pgaudit"] };
    harden_with(cluster.data_dir(), pki, accept);
}

fn harden_with(data_dir: &Path, pki: &TestPki, extra: &[&str]) {
    let out = pgharden()
        .args(["apply", "--pgdata", data_dir.to_str().unwrap(), "--pki", &pki.p("")])
        .args(["--host", "localhost", "--host", "127.0.0.1", "--yes"])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "apply failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Whether an installation has pgaudit's library (Debian: `/usr/lib/postgresql/N/lib`; the
/// relocatable builds: `native/lib/postgresql`).
pub(crate) fn has_pgaudit(install: &pgharden_testcluster::Installation) -> bool {
    let lib = install.bindir().parent().map(|p| p.join("lib")).unwrap_or_default();
    [lib.join("pgaudit.so"), lib.join("postgresql/pgaudit.so")].iter().any(|p| p.exists())
}

// ---------------------------------------------------------------------------------------------
// The attacker's harness (the security review's reproductions, see tests/integration/attacks/).
// The attacker is the cluster's OS account (`postgres`): it owns PGDATA and may run any command.
// Victims are root-owned files in root-owned directories the test creates; nothing outside the
// test's temporary directories is ever touched.
// ---------------------------------------------------------------------------------------------

/// The `postgres` OS account, which owns every test cluster and plays the attacker.
pub(crate) fn attacker() -> pgharden_testcluster::OsUser {
    pgharden_testcluster::OsUser::by_name(pgharden_testcluster::DEFAULT_ROOT_OS_USER)
        .expect("the postgres OS account must exist (apt-get install postgresql-15)")
}

/// A command that runs as `user`, with its own uid and gid and (std drops them when root switches
/// uid) no supplementary groups, and a minimal environment.
pub(crate) fn as_user(user: &pgharden_testcluster::OsUser, program: &str) -> Command {
    use std::os::unix::process::CommandExt;
    let mut cmd = Command::new(program);
    cmd.uid(user.uid)
        .gid(user.gid)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", "/")
        .env("LC_ALL", "C")
        .current_dir("/")
        .stdin(std::process::Stdio::null());
    cmd
}

/// Run `program args` as `user` to completion (within 30 s) and insist on success.
pub(crate) fn as_user_ok(user: &pgharden_testcluster::OsUser, program: &str, args: &[&str]) {
    let mut cmd = as_user(user, program);
    cmd.args(args);
    let out = run_bounded(&mut cmd, std::time::Duration::from_secs(30));
    assert!(out.code == Some(0), "{program} {args:?} as {}: {}", user.name, out.describe());
}

/// As `user`, atomically replace (or create) `link` with a symbolic link to `target`, the way an
/// attacker swaps a file under a running program: a new link under a temporary name, renamed over.
pub(crate) fn attacker_symlink(user: &pgharden_testcluster::OsUser, target: &Path, link: &Path) {
    let script = r#"my ($t, $l) = @ARGV; my $tmp = "$l.attack-$$";
        symlink($t, $tmp) or die "symlink $tmp: $!\n"; rename($tmp, $l) or die "rename $tmp: $!\n";"#;
    as_user_ok(user, "/usr/bin/perl", &["-e", script, target.to_str().unwrap(), link.to_str().unwrap()]);
}

/// As `user`, make a FIFO at `path`.
pub(crate) fn attacker_fifo(user: &pgharden_testcluster::OsUser, path: &Path) {
    as_user_ok(user, "mkfifo", &["-m", "0600", path.to_str().unwrap()]);
}

/// A directory (mode 0755) that belongs to `user`, created by root inside `parent`.
pub(crate) fn owned_dir(user: &pgharden_testcluster::OsUser, parent: &Path, name: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let dir = parent.join(name);
    fs::create_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
    std::os::unix::fs::chown(&dir, Some(user.uid), Some(user.gid)).unwrap();
    dir
}

/// What a bounded run produced. At most [`KEPT_OUTPUT`] bytes of each stream are kept; the lengths
/// count everything that was written.
#[derive(Debug)]
pub(crate) struct Bounded {
    /// The exit code; `None` when killed by a signal (see `signal`) or when it hung.
    pub code: Option<i32>,
    pub signal: Option<i32>,
    /// It did not finish within the limit and was killed (with its whole process group).
    pub hung: bool,
    pub elapsed: std::time::Duration,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub stdout_len: u64,
    pub stderr_len: u64,
}

/// How much of each output stream a bounded run keeps.
pub(crate) const KEPT_OUTPUT: usize = 4 << 20;

impl Bounded {
    /// stdout then stderr, lossily decoded.
    pub(crate) fn text(&self) -> String {
        format!("{}{}", String::from_utf8_lossy(&self.stdout), String::from_utf8_lossy(&self.stderr))
    }

    /// Everything written to stdout and stderr, in bytes.
    pub(crate) fn output_len(&self) -> u64 {
        self.stdout_len + self.stderr_len
    }

    /// Exit status, time and (the first 8 KiB of) the output, for assertion messages.
    pub(crate) fn describe(&self) -> String {
        let mut text = self.text();
        if text.len() > 8192 {
            let mut cut = 8192;
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            text.truncate(cut);
            text.push_str("\n[… output truncated for this message]");
        }
        let status = if self.hung {
            format!("HUNG: still running after {:.1} s, killed", self.elapsed.as_secs_f64())
        } else {
            format!(
                "exit code {:?}, signal {:?}, after {:.1} s",
                self.code,
                self.signal,
                self.elapsed.as_secs_f64()
            )
        };
        format!("{status}, {} bytes of output:\n{text}", self.output_len())
    }
}

/// Spawn `cmd` (stdin from /dev/null) in a process group of its own, collect its output, and kill
/// the whole group if it has not finished within `limit`.
pub(crate) fn run_bounded(cmd: &mut Command, limit: std::time::Duration) -> Bounded {
    use std::io::Read;
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    use std::process::Stdio;
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    fn collect(mut stream: impl Read + Send + 'static, tx: mpsc::Sender<(Vec<u8>, u64)>) {
        std::thread::spawn(move || {
            let mut kept = Vec::new();
            let mut total = 0u64;
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        total += n as u64;
                        let room = KEPT_OUTPUT.saturating_sub(kept.len());
                        kept.extend_from_slice(&buf[..n.min(room)]);
                    }
                }
            }
            let _ = tx.send((kept, total));
        });
    }

    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped()).process_group(0);
    let started = Instant::now();
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawning {cmd:?}: {e}"));
    let (out_tx, out_rx) = mpsc::channel();
    let (err_tx, err_rx) = mpsc::channel();
    collect(child.stdout.take().unwrap(), out_tx);
    collect(child.stderr.take().unwrap(), err_tx);
    let pgid = nix::unistd::Pid::from_raw(child.id() as i32);
    let mut hung = false;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > limit {
            hung = true;
            let _ = nix::sys::signal::killpg(pgid, nix::sys::signal::Signal::SIGKILL);
            break child.wait().unwrap();
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let elapsed = started.elapsed();
    // The streams end when every process holding them is gone; a grandchild that kept them open
    // (it should not) is not waited for forever.
    let (stdout, stdout_len) = out_rx.recv_timeout(Duration::from_secs(10)).unwrap_or_default();
    let (stderr, stderr_len) = err_rx.recv_timeout(Duration::from_secs(10)).unwrap_or_default();
    Bounded {
        code: if hung { None } else { status.code() },
        signal: status.signal(),
        hung,
        elapsed,
        stdout,
        stderr,
        stdout_len,
        stderr_len,
    }
}

/// One entry of a [`Snapshot`]: type, owner, mode and (for regular files) content, not following
/// symbolic links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EntryState {
    pub kind: &'static str,
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
    pub content: Option<Vec<u8>>,
    pub link_target: Option<PathBuf>,
}

/// The state of one path, `None` when nothing is there.
pub(crate) fn entry_state(path: &Path) -> Option<EntryState> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let meta = fs::symlink_metadata(path).ok()?;
    let ft = meta.file_type();
    let kind = if ft.is_symlink() {
        "symlink"
    } else if ft.is_file() {
        "file"
    } else if ft.is_dir() {
        "directory"
    } else if ft.is_fifo() {
        "fifo"
    } else {
        "other"
    };
    Some(EntryState {
        kind,
        uid: meta.uid(),
        gid: meta.gid(),
        mode: meta.mode() & 0o7777,
        content: ft.is_file().then(|| fs::read(path).unwrap_or_default()),
        link_target: ft.is_symlink().then(|| fs::read_link(path).unwrap_or_default()),
    })
}

/// A directory and everything directly in it, to compare before and after an attack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Snapshot {
    pub dir: Option<EntryState>,
    pub entries: std::collections::BTreeMap<String, EntryState>,
}

/// Take a [`Snapshot`] of `dir` (not following a symlinked `dir`).
pub(crate) fn snapshot(dir: &Path) -> Snapshot {
    let mut entries = std::collections::BTreeMap::new();
    if let Ok(list) = fs::read_dir(dir) {
        for e in list.flatten() {
            if let Some(state) = entry_state(&e.path()) {
                entries.insert(e.file_name().to_string_lossy().into_owned(), state);
            }
        }
    }
    Snapshot { dir: entry_state(dir), entries }
}

/// A root-owned directory (mode 0755, so the server's account can read what it is meant to) in
/// which the tests put root-owned victim files.
#[derive(Debug)]
pub(crate) struct RootDir {
    pub tmp: TempDir,
}

impl RootDir {
    pub(crate) fn new() -> Self {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::Builder::new().prefix("pgharden-rootdir-").tempdir().unwrap();
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o755)).unwrap();
        Self { tmp }
    }

    pub(crate) fn path(&self) -> &Path {
        self.tmp.path()
    }

    /// A root-owned file with exactly `mode`.
    pub(crate) fn file(&self, name: &str, contents: &[u8], mode: u32) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = self.path().join(name);
        fs::write(&path, contents).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        std::os::unix::fs::chown(&path, Some(0), Some(0)).unwrap();
        path
    }

    /// A root-owned empty subdirectory with mode 0755.
    pub(crate) fn subdir(&self, name: &str) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let path = self.path().join(name);
        fs::create_dir(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    pub(crate) fn snapshot(&self) -> Snapshot {
        snapshot(self.path())
    }
}

/// Violations collected over a test, reported together so one run shows every broken promise.
#[derive(Debug, Default)]
pub(crate) struct Violations(pub Vec<String>);

impl Violations {
    pub(crate) fn check(&mut self, ok: bool, what: impl Into<String>) {
        if !ok {
            self.0.push(what.into());
        }
    }

    /// Panic with every violation, and `context` (the command's output, say), if there is any.
    pub(crate) fn assert_none(self, context: &str) {
        assert!(self.0.is_empty(), "{}\n--- context ---\n{context}", self.0.join("\n"));
    }
}

/// Whether `haystack` contains `needle`, ignoring ASCII case.
pub(crate) fn contains_ci(haystack: &str, needle: &str) -> bool {
    haystack.to_ascii_lowercase().contains(&needle.to_ascii_lowercase())
}

/// Whether `text` names `path`, as given or canonicalized (the temporary directory may be reached
/// through a symlink on some systems).
pub(crate) fn names_path(text: &str, path: &Path) -> bool {
    if text.contains(&*path.to_string_lossy()) {
        return true;
    }
    let canonical = path
        .parent()
        .and_then(|p| p.canonicalize().ok())
        .map(|p| p.join(path.file_name().unwrap_or_default()));
    canonical.is_some_and(|c| text.contains(&*c.to_string_lossy()))
}

/// Release whoever is blocked opening the FIFO at `path` (they read end-of-file) and put an empty
/// regular file in its place, so a hung reader (the server, a killed run's leftovers) cannot keep
/// a test cluster from shutting down.
#[derive(Debug)]
pub(crate) struct FifoGuard(pub PathBuf);

impl Drop for FifoGuard {
    fn drop(&mut self) {
        use std::os::unix::fs::OpenOptionsExt;
        let nonblock = nix::fcntl::OFlag::O_NONBLOCK.bits();
        let writer = fs::OpenOptions::new().write(true).custom_flags(nonblock).open(&self.0);
        let _ = fs::remove_file(&self.0);
        let _ = fs::write(&self.0, b"");
        drop(writer);
    }
}

impl EntryState {
    /// `file root:root 0644 "ROOT-VICTIM\n"`, for messages.
    pub(crate) fn summary(&self) -> String {
        let mut s = format!("{} {}:{} {:04o}", self.kind, self.uid, self.gid, self.mode);
        if let Some(c) = &self.content {
            let text = String::from_utf8_lossy(&c[..c.len().min(120)]).into_owned();
            s.push_str(&format!(" {text:?}{}", if c.len() > 120 { "…" } else { "" }));
        }
        if let Some(t) = &self.link_target {
            s.push_str(&format!(" -> {}", t.display()));
        }
        s
    }
}

/// What changed between two snapshots of a directory, in words; `None` when nothing did.
pub(crate) fn snapshot_changes(before: &Snapshot, after: &Snapshot) -> Option<String> {
    let show = |e: Option<&EntryState>| e.map_or("(nothing)".to_string(), EntryState::summary);
    let mut changes = Vec::new();
    if before.dir != after.dir {
        changes.push(format!(
            "the directory itself: {} became {}",
            show(before.dir.as_ref()),
            show(after.dir.as_ref())
        ));
    }
    let names: std::collections::BTreeSet<&String> =
        before.entries.keys().chain(after.entries.keys()).collect();
    for name in names {
        let (b, a) = (before.entries.get(name), after.entries.get(name));
        if b != a {
            changes.push(format!("{name}: {} became {}", show(b), show(a)));
        }
    }
    (!changes.is_empty()).then(|| changes.join("; "))
}

// ---------------------------------------------------------------------------------------------
// The audit's JSON report, read rule by rule (the fidelity tests, see tests/integration/fidelity/).
// ---------------------------------------------------------------------------------------------

/// How long one audit may take before it counts as hung (the probe included).
pub(crate) const AUDIT_LIMIT: std::time::Duration = std::time::Duration::from_secs(180);

/// `pgharden audit --pgdata DIR --scope cluster --format json EXTRA…`: its exit code and the parsed
/// report. An audit that hangs, is killed or prints no JSON is a broken run, and panics saying so.
pub(crate) fn audit_json(
    cluster: &pgharden_testcluster::Cluster,
    extra: &[&str],
) -> (i32, serde_json::Value) {
    let mut cmd = pgharden();
    cmd.args(["audit", "--pgdata", cluster.data_dir().to_str().unwrap()])
        .args(["--scope", "cluster", "--format", "json"])
        .args(extra);
    let out = run_bounded(&mut cmd, AUDIT_LIMIT);
    let code = out.code.unwrap_or_else(|| panic!("pgharden audit {extra:?}: {}", out.describe()));
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("pgharden audit {extra:?} printed no JSON report ({e}): {}", out.describe())
    });
    (code, report)
}

/// The finding of `rule` in a report; a rule missing from the report is a broken audit.
pub(crate) fn finding<'a>(report: &'a serde_json::Value, rule: &str) -> &'a serde_json::Value {
    report["findings"]
        .as_array()
        .unwrap_or_else(|| panic!("the report has no findings array: {report}"))
        .iter()
        .find(|f| f["rule"] == rule)
        .unwrap_or_else(|| panic!("{rule} is not in the report"))
}

/// The status of `rule`: `pass`, `fail`, `not-checked` or `manual`.
pub(crate) fn status<'a>(report: &'a serde_json::Value, rule: &str) -> &'a str {
    finding(report, rule)["status"].as_str().unwrap_or_else(|| panic!("{rule} has no status"))
}

/// The evidence of `rule`, one line per item.
pub(crate) fn evidence(report: &serde_json::Value, rule: &str) -> String {
    finding(report, rule)["evidence"]
        .as_array()
        .unwrap_or_else(|| panic!("{rule} has no evidence array"))
        .iter()
        .map(|e| e.as_str().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The serial `openssl s_client` sees, lowercase hex without separators.
pub(crate) fn served_serial(cluster: &pgharden_testcluster::Cluster) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "openssl s_client -connect 127.0.0.1:{} -starttls postgres </dev/null 2>/dev/null | openssl x509 -noout -serial",
            cluster.port()
        ))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().trim_start_matches("serial=").to_ascii_lowercase()
}
