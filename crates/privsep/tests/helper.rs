//! The owner-side helper for real: root starts it as the unprivileged `nobody` account and the
//! kernel, not pgharden, decides what it may do. This binary has its own `main` because the helper
//! is this very executable started again (`serve_if_helper` must run first).

#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed

use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::os::unix::net::UnixListener;
use std::path::Path;

use pgharden_privsep::{Account, Actor, Error, serve_if_helper};

/// A secret in this process's environment that the helper must not inherit.
const SECRET_VAR: &str = "PGHARDEN_TEST_SECRET";

fn main() {
    serve_if_helper();
    if std::env::var_os(SECRET_VAR).is_none() {
        // Run again with the secret set (setting it in-process would need unsafe code).
        let args: Vec<_> = std::env::args_os().skip(1).collect();
        let status =
            std::process::Command::new("/proc/self/exe").args(args).env(SECRET_VAR, "root-secret").status();
        std::process::exit(status.ok().and_then(|s| s.code()).unwrap_or(1));
    }
    if !rustix::process::geteuid().is_root() {
        eprintln!("tests/helper.rs starts a helper as another account, which needs root (CI runs as root)");
        std::process::exit(1);
    }
    let tests: &[(&str, fn())] = &[
        ("the_helper_runs_as_the_account_with_a_clean_environment", runs_as_the_account),
        ("the_helper_cannot_read_or_write_what_the_account_cannot", kernel_decides),
        ("writes_in_the_accounts_directory_belong_to_it", writes_belong_to_the_account),
        ("links_are_refused_even_where_the_account_may_write", links_refused),
        ("a_connection_made_by_the_helper_has_the_accounts_credentials", peer_credentials),
        ("a_lock_descriptor_comes_back", lock_descriptor),
    ];
    let mut failed = 0;
    for (name, test) in tests {
        match std::panic::catch_unwind(test) {
            Ok(()) => println!("test {name} ... ok"),
            Err(_) => {
                println!("test {name} ... FAILED");
                failed += 1;
            }
        }
    }
    println!(
        "\ntest result: {}. {} passed; {failed} failed",
        if failed == 0 { "ok" } else { "FAILED" },
        tests.len() - failed
    );
    std::process::exit(if failed == 0 { 0 } else { 1 });
}

fn nobody() -> Account {
    Account::by_name("nobody").unwrap()
}

/// A root-owned scratch directory that `nobody` can enter (0711) with a subdirectory it owns.
struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
        let own = dir.path().join("own");
        std::fs::create_dir(&own).unwrap();
        let a = nobody();
        std::os::unix::fs::chown(&own, Some(a.uid), Some(a.gid)).unwrap();
        Self { dir }
    }

    fn path(&self, rel: &str) -> std::path::PathBuf {
        self.dir.path().canonicalize().unwrap().join(rel)
    }
}

fn runs_as_the_account() {
    let actor = Actor::new(nobody()).unwrap();
    assert!(actor.is_separate());
    let status = actor.read(Path::new("/proc/self/status"), 1 << 20).unwrap();
    let status = String::from_utf8(status).unwrap();
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    let ids: Vec<u32> = uid_line.split_whitespace().skip(1).map(|v| v.parse().unwrap()).collect();
    assert_eq!(ids, vec![nobody().uid; 4], "{uid_line}");
    let groups = status.lines().find(|l| l.starts_with("Groups:")).unwrap();
    assert_eq!(groups.trim(), "Groups:", "no supplementary groups: {groups}");
    let environ = actor.read(Path::new("/proc/self/environ"), 1 << 20).unwrap();
    let environ = String::from_utf8_lossy(&environ);
    assert!(!environ.contains(SECRET_VAR), "{environ}");
    let names: Vec<&str> = environ.split('\0').filter_map(|kv| kv.split_once('=').map(|(k, _)| k)).collect();
    for name in &names {
        assert!(["PATH", "HOME", "USER", "LOGNAME", "LANG"].contains(name), "unexpected {name} in {environ}");
    }
}

fn kernel_decides() {
    let s = Scratch::new();
    let secret = s.path("root-only");
    std::fs::write(&secret, "ROOT-ONLY-SECRET").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let actor = Actor::new(nobody()).unwrap();
    let err = actor.read(&secret, 1 << 20).unwrap_err();
    assert!(err.is_permission_denied(), "{err}");
    let err = actor.replace(&s.path("planted"), b"x", 0o600, None).unwrap_err();
    assert!(err.is_permission_denied(), "root's directory is not the account's: {err}");
    assert!(!s.path("planted").exists());
    let err = actor.reload(1).unwrap_err();
    assert!(err.is_permission_denied(), "init is not the account's process: {err}");
}

fn writes_belong_to_the_account() {
    let s = Scratch::new();
    let actor = Actor::new(nobody()).unwrap();
    let key = s.path("own/server.key");
    let first = actor.replace(&key, b"one", 0o600, Some("t")).unwrap();
    assert_eq!(first.backup, None);
    let meta = std::fs::metadata(&key).unwrap();
    assert_eq!((meta.uid(), meta.mode() & 0o777), (nobody().uid, 0o600));
    let second = actor.replace(&key, b"two", 0o640, Some("t")).unwrap();
    let backup = second.backup.clone().unwrap();
    assert_eq!(std::fs::read(&backup).unwrap(), b"one");
    assert_eq!(std::fs::metadata(&backup).unwrap().uid(), nobody().uid);
    actor.undo(&second).unwrap();
    assert_eq!(std::fs::read(&key).unwrap(), b"one");
    assert!(actor.mkdir(&s.path("own/sub"), 0o700).unwrap());
    assert_eq!(std::fs::metadata(s.path("own/sub")).unwrap().uid(), nobody().uid);
}

fn links_refused() {
    let s = Scratch::new();
    let victim = s.path("victim");
    std::fs::write(&victim, "ROOT-VICTIM").unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o666)).unwrap();
    symlink(&victim, s.path("own/root.crt")).unwrap();
    let actor = Actor::new(nobody()).unwrap();
    let err = actor.replace(&s.path("own/root.crt"), b"x", 0o600, Some("t")).unwrap_err();
    assert!(matches!(err, Error::Symlink { .. }), "{err}");
    assert_eq!(std::fs::read(&victim).unwrap(), b"ROOT-VICTIM");
    assert_eq!(std::fs::metadata(&victim).unwrap().uid(), 0);
}

fn peer_credentials() {
    let s = Scratch::new();
    let socket = s.path("own/.s.PGSQL.5432");
    let listener = UnixListener::bind(&socket).unwrap();
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o777)).unwrap();
    let actor = Actor::new(nobody()).unwrap();
    let mut client = actor.connect_unix(&socket).unwrap();
    let (server, _) = listener.accept().unwrap();
    let cred = rustix::net::sockopt::socket_peercred(&server).unwrap();
    assert_eq!(cred.uid.as_raw(), nobody().uid, "the server sees the account, not root");
    client.write_all(b"ok").unwrap();
}

fn lock_descriptor() {
    let s = Scratch::new();
    let actor = Actor::new(nobody()).unwrap();
    let lock = s.path("own/pgharden.lock");
    let file = actor.open_lock(&lock).unwrap();
    assert!(file.metadata().unwrap().is_file());
    assert_eq!(std::fs::metadata(&lock).unwrap().uid(), nobody().uid);
    let fifo = s.path("own/fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
    std::os::unix::fs::chown(&fifo, Some(nobody().uid), Some(nobody().gid)).unwrap();
    assert!(matches!(actor.open_lock(&fifo), Err(Error::NotRegular { .. })));
    assert!(matches!(actor.read(&fifo, 10), Err(Error::NotRegular { .. })));
}
