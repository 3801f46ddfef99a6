//! Review §3, §4, §5: `pgharden client --home` run by root for a user who controls the home
//! directory. A symlinked `~/.postgresql` must be refused; a racer swapping the installed files
//! for links to a root file must never get that file chowned; a racer flipping the link of a file
//! being backed up must never get to read a root-only file.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::{
    Bounded, RootDir, TestPki, Violations, as_user, as_user_ok, attacker, attacker_symlink, contains_ci,
    owned_dir, snapshot_changes,
};

use super::{Racer, pgharden_within};

const CLIENT_LIMIT: Duration = Duration::from_secs(60);

/// `pgharden client --pki … --role alice --home HOME --host localhost [--force]`.
fn client(pki: &TestPki, home: &Path, force: bool) -> Bounded {
    let pki_dir = pki.p("");
    let home = home.to_str().unwrap();
    let mut args =
        vec!["client", "--pki", &pki_dir, "--role", "alice", "--home", home, "--host", "localhost"];
    if force {
        args.push("--force");
    }
    pgharden_within(&args, CLIENT_LIMIT)
}

/// A home directory owned by the attacker, in a root-owned directory of its own.
fn attacker_home() -> (RootDir, PathBuf) {
    let base = RootDir::new();
    let home = owned_dir(&attacker(), base.path(), "home");
    (base, home)
}

/// (a) `~/.postgresql` is a link to a root-owned directory.
#[test]
fn a_symlinked_dot_postgresql_is_refused() {
    let pki = TestPki::new("p384");
    let (_base, home) = attacker_home();
    let root = RootDir::new();
    let target = root.subdir("rootdir3");
    attacker_symlink(&attacker(), &target, &home.join(".postgresql"));
    let before = root.snapshot();
    let before_target = crate::support::snapshot(&target);

    let out = client(&pki, &home, false);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut v = Violations::default();
    v.check(out.code == Some(2), format!("exit code {:?} (hung: {}), wanted 2", out.code, out.hung));
    v.check(stderr.contains(".postgresql"), "stderr does not name .postgresql");
    v.check(
        contains_ci(&stderr, "symbolic link") || contains_ci(&stderr, "symlink"),
        "stderr does not say .postgresql is a symbolic link",
    );
    if let Some(changes) = snapshot_changes(&before, &root.snapshot()) {
        v.0.push(format!("the root-owned directory {} changed: {changes}", root.path().display()));
    }
    if let Some(changes) = snapshot_changes(&before_target, &crate::support::snapshot(&target)) {
        v.0.push(format!("the link's target {} changed: {changes}", target.display()));
    }
    v.assert_none(&out.describe());
}

/// Perl racer for §4, run as the attacker: whenever one of the four installed files is a
/// root-owned regular file (renamed into place, not yet chowned), rename a link to the victim over
/// it.
const CHOWN_RACER: &str = r#"
my ($dir, $victim) = @ARGV;
my @names = qw(root.crt postgresql.crt postgresql.key root.crl);
my $n = 0;
while (1) {
    for my $name (@names) {
        my $p = "$dir/$name";
        my @st = lstat($p);
        next unless @st && -f _ && $st[4] == 0;
        my $tmp = "$dir/.race-$$-" . $n++;
        if (symlink($victim, $tmp)) { rename($tmp, $p) or unlink($tmp); }
    }
}
"#;

/// Remove what the racers leave between runs (links, backups), so every run starts from the same
/// state: four regular files.
fn reset_dir(dir: &Path) {
    for e in fs::read_dir(dir).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let is_link = e.file_type().unwrap().is_symlink();
        if is_link || name.contains(".bak-") || name.starts_with(".race-") || name.ends_with(".flip") {
            let _ = fs::remove_file(e.path());
        }
    }
}

/// (b) The rename-then-chown race, 30 times.
#[test]
fn the_chown_race_never_hands_a_root_file_to_the_user() {
    let pki = TestPki::new("p384");
    let pg = attacker();
    let (_base, home) = attacker_home();
    let first = client(&pki, &home, false);
    assert_eq!(first.code, Some(0), "a plain install must work: {}", first.describe());
    let dir = home.join(".postgresql");
    let root = RootDir::new();
    let victim = root.file("victim", b"ROOT-VICTIM\n", 0o600);
    let before = root.snapshot();

    let mut cmd = as_user(&pg, "/usr/bin/perl");
    cmd.args(["-e", CHOWN_RACER, dir.to_str().unwrap(), victim.to_str().unwrap()]);
    let mut racer = Racer(cmd.stdout(std::process::Stdio::null()).spawn().unwrap());
    std::thread::sleep(Duration::from_millis(200));
    for run in 1..=30 {
        reset_dir(&dir);
        let out = client(&pki, &home, true);
        assert!(!out.hung, "run {run}: {}", out.describe());
        if let Some(changes) = snapshot_changes(&before, &root.snapshot()) {
            panic!(
                "run {run} of 30: the root-owned victim {} changed: {changes}\n{}",
                victim.display(),
                out.describe()
            );
        }
        assert!(racer.alive(), "the racer died after run {run}");
    }
}

/// Perl racer for §5, run as the attacker: once a backup of postgresql.key appears, point
/// postgresql.key (a link to a root-only file) at a file the attacker owns, so that a backup
/// chowned "to the owner of the file" becomes the attacker's.
const BACKUP_RACER: &str = r#"
my ($dir, $decoy) = @ARGV;
my $key = "$dir/postgresql.key";
while (1) {
    opendir(my $dh, $dir) or next;
    my @baks = grep { /^postgresql\.key\.bak-/ } readdir($dh);
    closedir($dh);
    next unless @baks;
    my $t = readlink($key);
    next if !defined($t) || $t eq $decoy;
    if (symlink($decoy, "$key.flip")) { rename("$key.flip", $key) or unlink("$key.flip"); }
}
"#;

/// Every entry under `dir`, not following links.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        out.push(p.clone());
        if e.file_type().unwrap().is_dir() {
            walk(&p, out);
        }
    }
}

/// (c) The backup race, 20 times: no file under HOME may hold the root-only secret, and every file
/// under HOME belongs to the user.
#[test]
fn the_backup_race_never_leaks_a_root_only_file() {
    const SECRET: &[u8] = b"ROOT-ONLY-SECRET";
    let pki = TestPki::new("p384");
    let pg = attacker();
    let (_base, home) = attacker_home();
    let first = client(&pki, &home, false);
    assert_eq!(first.code, Some(0), "a plain install must work: {}", first.describe());
    let dir = home.join(".postgresql");
    let root = RootDir::new();
    let secret = root.file("shadow-like", b"ROOT-ONLY-SECRET\n", 0o600);
    let before = root.snapshot();
    let decoy = home.join("decoy.key");
    as_user_ok(
        &pg,
        "/usr/bin/perl",
        &["-e", "open(my $f, '>', $ARGV[0]) or die $!; print $f qq(DECOY\\n);", decoy.to_str().unwrap()],
    );
    let key = dir.join("postgresql.key");
    // The attacker cannot read the secret itself.
    let mut cat = as_user(&pg, "cat");
    cat.arg(&secret);
    assert!(!cat.output().unwrap().status.success(), "the secret must be root-only");

    let mut cmd = as_user(&pg, "/usr/bin/perl");
    cmd.args(["-e", BACKUP_RACER, dir.to_str().unwrap(), decoy.to_str().unwrap()]);
    let mut racer = Racer(cmd.stdout(std::process::Stdio::null()).spawn().unwrap());
    std::thread::sleep(Duration::from_millis(200));
    for run in 1..=20 {
        reset_dir(&dir);
        as_user_ok(&pg, "ln", &["-sfn", secret.to_str().unwrap(), key.to_str().unwrap()]);
        let out = client(&pki, &home, true);
        assert!(!out.hung, "run {run}: {}", out.describe());
        let mut v = Violations::default();
        let mut entries = Vec::new();
        walk(&home, &mut entries);
        for p in entries {
            let meta = fs::symlink_metadata(&p).unwrap();
            v.check(
                meta.uid() == pg.uid,
                format!("{} is owned by uid {}, not {}", p.display(), meta.uid(), pg.name),
            );
            if meta.file_type().is_file() {
                let bytes = fs::read(&p).unwrap();
                v.check(
                    !bytes.windows(SECRET.len()).any(|w| w == SECRET),
                    format!("{} holds the root-only secret", p.display()),
                );
            }
        }
        if let Some(changes) = snapshot_changes(&before, &root.snapshot()) {
            v.0.push(format!("the root-only secret's directory changed: {changes}"));
        }
        if !v.0.is_empty() {
            v.0.insert(0, format!("run {run} of 20:"));
        }
        v.assert_none(&out.describe());
        assert!(racer.alive(), "the racer died after run {run}");
    }
}
