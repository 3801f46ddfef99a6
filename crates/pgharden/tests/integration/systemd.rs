//! `pgharden renew --systemd`: the units it prints are what `systemd-analyze verify` accepts,
//! `--install` writes them with mode 0644, and what must never reach a world-readable unit (a
//! password, an encrypted CA without a credential) is refused with exit code 2.
//!
//! The service's sandbox is then put to work: the directives that decide what renew may do —
//! `ProtectSystem=strict` with its `ReadWritePaths=`, `CapabilityBoundingSet=`,
//! `NoNewPrivileges=`, `UMask=` and the credential in `$CREDENTIALS_DIRECTORY` — are read from the
//! printed unit and set up as systemd sets them up (a mount namespace with everything read-only
//! but those paths, then `setpriv`), and in there the unit's own `ExecStart=` runs: the CA re-issues
//! with the passphrase from the credential alone, and what changed is deployed to a running
//! cluster with a reload.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use pgharden_testcluster::{Cluster, ClusterOptions};
use tempfile::TempDir;

use crate::support::{Bounded, TestPki, fails, harden, mode, ok, run_bounded};

const SERVICE: &str = "pgharden-renew.service";
const TIMER: &str = "pgharden-renew.timer";

/// A PKI whose CA keys are encrypted with the passphrase in `pass` (mode 0600), and a server
/// certificate for localhost.
struct Encrypted {
    pki: TestPki,
    pass: PathBuf,
}

impl Encrypted {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let pass = tmp.path().join("ca-passphrase");
        fs::write(&pass, "a passphrase for the systemd test\n").unwrap();
        fs::set_permissions(&pass, fs::Permissions::from_mode(0o600)).unwrap();
        let dir = tmp.path().join("pki");
        let (d, p) = (dir.to_str().unwrap(), pass.to_str().unwrap());
        ok(&["pki", "init", "--dir", d, "--key-type", "p256", "--passphrase-file", p]);
        ok(&[
            "pki",
            "server",
            "--dir",
            d,
            "--host",
            "localhost",
            "--host",
            "127.0.0.1",
            "--passphrase-file",
            p,
        ]);
        Self { pki: TestPki { tmp, dir }, pass }
    }

    fn dir(&self) -> &str {
        self.pki.dir.to_str().unwrap()
    }

    fn pass(&self) -> &str {
        self.pass.to_str().unwrap()
    }
}

/// A cluster that is initialised but not started: `--pgdata` needs its files, not its server.
fn stopped_cluster() -> Cluster {
    Cluster::init(ClusterOptions::for_tests().unwrap_or_else(|e| panic!("{e}"))).expect("initdb")
}

/// The two units in `printed`, each the text from its `# DIR/NAME` line to the next one.
fn split_units(printed: &str) -> (String, String) {
    let start = |name: &str| {
        printed
            .lines()
            .position(|l| l.starts_with("# /") && l.ends_with(&format!("/{name}")))
            .unwrap_or_else(|| panic!("no `# …/{name}` line in:\n{printed}"))
    };
    let lines: Vec<&str> = printed.lines().collect();
    let (s, t) = (start(SERVICE), start(TIMER));
    assert!(s < t, "the service comes first:\n{printed}");
    let end = lines.iter().position(|l| l.starts_with("# Then")).expect("the enable commands come last");
    (lines[s..t].join("\n") + "\n", lines[t..end].join("\n") + "\n")
}

/// The values of `key=` lines.
fn values<'a>(unit: &'a str, key: &str) -> Vec<&'a str> {
    unit.lines().filter_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix('='))).collect()
}

/// `systemd-analyze verify` of both units in `dir`; panics with what it said unless it accepts
/// them without a complaint about either.
fn verify_ok(dir: &Path) {
    let out = Command::new("systemd-analyze")
        // The man page is not installed on a test machine; every other check is made.
        .args(["verify", "--man=no"])
        .arg(dir.join(SERVICE))
        .arg(dir.join(TIMER))
        .output()
        .expect("systemd-analyze is installed (apt-get install systemd)");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "systemd-analyze verify failed:\n{text}");
    let complaints: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(SERVICE) || l.contains(TIMER))
        .filter(|l| ["Unknown", "Failed", "Invalid", "ignoring"].iter().any(|w| l.contains(w)))
        .collect();
    assert!(complaints.is_empty(), "systemd complains about the units:\n{text}");
}

#[test]
fn printed_units_pass_systemd_analyze_verify() {
    let ca = Encrypted::new();
    let cluster = stopped_cluster();
    let data = cluster.data_dir().canonicalize().unwrap();
    let printed = ok(&[
        "renew",
        "--pki",
        ca.dir(),
        "--pgdata",
        data.to_str().unwrap(),
        "--threshold",
        "7d",
        "--systemd",
        "--credential",
        ca.pass(),
    ]);
    assert!(!printed.contains("a passphrase for the systemd test"), "{printed}");
    assert!(!printed.contains("Environment"), "{printed}");
    assert!(printed.contains("#   systemctl enable --now pgharden-renew.timer"), "{printed}");
    let (service, timer) = split_units(&printed);
    let program = fs::canonicalize(env!("CARGO_BIN_EXE_pgharden")).unwrap();
    let pki = ca.pki.dir.canonicalize().unwrap();
    assert_eq!(
        values(&service, "ExecStart"),
        [format!(
            "{} renew --pki {} --pgdata {} --threshold 7d",
            program.display(),
            pki.display(),
            data.display()
        )]
    );
    let pass = ca.pass.canonicalize().unwrap();
    assert_eq!(values(&service, "LoadCredential"), [format!("pgharden-ca-passphrase:{}", pass.display())]);
    let writable = values(&service, "ReadWritePaths").join(" ");
    // initdb keeps postgresql.conf in PGDATA, so the two directories renew writes in are these.
    assert_eq!(writable, format!("{} {}", pki.display(), data.display()));
    assert_eq!(values(&timer, "OnCalendar"), ["daily"]);

    let units = tempfile::tempdir().unwrap();
    fs::write(units.path().join(SERVICE), &service).unwrap();
    fs::write(units.path().join(TIMER), &timer).unwrap();
    verify_ok(units.path());
}

#[test]
fn install_writes_both_units_with_mode_0644() {
    let ca = Encrypted::new();
    let cluster = stopped_cluster();
    let data = cluster.data_dir().to_str().unwrap().to_string();
    let units = tempfile::tempdir().unwrap();
    let unit_dir = units.path().to_str().unwrap();
    let base = ["renew", "--pki", ca.dir(), "--pgdata", &data, "--systemd", "--credential", ca.pass()];
    let said = ok(&[&base[..], &["--install", "--unit-dir", unit_dir]].concat());
    for name in [SERVICE, TIMER] {
        let path = units.path().canonicalize().unwrap().join(name);
        assert_eq!(mode(&path), 0o644, "{}", path.display());
        assert!(said.contains(&format!("Wrote {}", path.display())), "{said}");
    }
    assert!(said.contains("systemctl daemon-reload") && said.contains("systemctl enable --now"), "{said}");
    // What is installed is what is printed, without the `# DIR/NAME` line.
    let (service, timer) = split_units(&ok(&base));
    let body = |unit: &str| unit.split_once('\n').unwrap().1.trim_end().to_string();
    assert_eq!(fs::read_to_string(units.path().join(SERVICE)).unwrap().trim_end(), body(&service));
    assert_eq!(fs::read_to_string(units.path().join(TIMER)).unwrap().trim_end(), body(&timer));
    verify_ok(units.path());

    // A second install replaces the files; a link planted at a unit's name is refused.
    ok(&[&base[..], &["--install", "--unit-dir", unit_dir]].concat());
    let target = units.path().join("elsewhere");
    fs::write(&target, "keep\n").unwrap();
    fs::remove_file(units.path().join(TIMER)).unwrap();
    std::os::unix::fs::symlink(&target, units.path().join(TIMER)).unwrap();
    let err = fails(&[&base[..], &["--install", "--unit-dir", unit_dir]].concat(), 2);
    assert!(err.contains(TIMER), "{err}");
    assert_eq!(fs::read_to_string(&target).unwrap(), "keep\n");
}

#[test]
fn an_encrypted_ca_without_a_credential_exits_2_naming_credential() {
    let ca = Encrypted::new();
    let units = tempfile::tempdir().unwrap();
    let err = fails(
        &["renew", "--pki", ca.dir(), "--systemd", "--install", "--unit-dir", units.path().to_str().unwrap()],
        2,
    );
    assert!(err.contains("--credential") && err.contains("encrypted"), "{err}");
    assert_eq!(fs::read_dir(units.path()).unwrap().count(), 0, "nothing is installed");
    // A credential others may read is refused as well.
    fs::set_permissions(&ca.pass, fs::Permissions::from_mode(0o644)).unwrap();
    let err = fails(&["renew", "--pki", ca.dir(), "--systemd", "--credential", ca.pass()], 2);
    assert!(err.contains(ca.pass()) && err.contains("0644"), "{err}");
}

#[test]
fn a_conninfo_with_a_password_exits_2() {
    let ca = Encrypted::new();
    for conninfo in
        ["host=localhost dbname=postgres password=hunter2", "postgresql://postgres:hunter2@localhost/"]
    {
        let err = fails(&["renew", "--pki", ca.dir(), "--systemd", "--credential", ca.pass(), conninfo], 2);
        assert!(err.contains("password") && err.contains("world-readable"), "{err}");
        assert!(!err.contains("hunter2"), "the password is not repeated: {err}");
    }
}

#[test]
fn a_conninfo_is_repeated_and_its_servers_data_directory_made_writable() {
    let ca = Encrypted::new();
    let cluster = Cluster::start_default().unwrap_or_else(|e| panic!("{e}"));
    let conninfo = format!("{} user={} dbname=postgres", cluster.tcp_conninfo(), cluster.superuser());
    let printed = ok(&["renew", "--pki", ca.dir(), "--systemd", "--credential", ca.pass(), &conninfo]);
    let (service, _) = split_units(&printed);
    let exec = values(&service, "ExecStart").join("\n");
    assert!(
        exec.ends_with(&format!(
            " renew --pki {} -- \"{conninfo}\"",
            ca.pki.dir.canonicalize().unwrap().display()
        )),
        "{exec}"
    );
    let data = cluster.data_dir().canonicalize().unwrap();
    let writable = values(&service, "ReadWritePaths").join(" ");
    assert!(writable.split(' ').any(|w| Path::new(w) == data), "{} not in {writable}", data.display());

    // A server that cannot be asked is named, with what to do instead.
    let gone = format!(
        "host=127.0.0.1 port={} user=postgres connect_timeout=5",
        pgharden_testcluster::free_port().unwrap()
    );
    let err = fails(&["renew", "--pki", ca.dir(), "--systemd", "--credential", ca.pass(), &gone], 2);
    assert!(err.contains("CONNINFO #1") && err.contains("--pgdata"), "{err}");
}

/// The sandbox of a printed service: what `ReadWritePaths=`, `CapabilityBoundingSet=` and
/// `UMask=` say, and whether `ProtectSystem=strict` and `NoNewPrivileges=yes` are there.
struct Sandbox {
    writable: Vec<String>,
    capabilities: Vec<String>,
    umask: String,
}

impl Sandbox {
    fn of(service: &str) -> Self {
        assert_eq!(values(service, "ProtectSystem"), ["strict"], "{service}");
        assert_eq!(values(service, "NoNewPrivileges"), ["yes"], "{service}");
        let words = |key: &str| -> Vec<String> {
            values(service, key).iter().flat_map(|v| v.split_whitespace()).map(str::to_string).collect()
        };
        let writable = words("ReadWritePaths");
        assert!(writable.iter().all(|w| !w.contains(['"', '%'])), "test paths need no quoting: {writable:?}");
        let umask = values(service, "UMask").first().expect("UMask=").to_string();
        Self { writable, capabilities: words("CapabilityBoundingSet"), umask }
    }

    /// Run pgharden with `args` as the service would: every mount read-only but the writable
    /// paths (`ProtectSystem=strict`, `ReadWritePaths=`), only the bounding set's capabilities,
    /// no new privileges, the unit's umask, a clean environment with `CREDENTIALS_DIRECTORY`.
    fn run(&self, args: &[&str], credentials: &Path) -> Bounded {
        const SCRIPT: &str = r#"set -eu
umask_value=$1 bounding=$2 n=$3; shift 3
for m in $(awk '{print $5}' /proc/self/mountinfo); do
  case "$m" in /proc|/proc/*|/sys|/sys/*|/dev|/dev/*) ;; *) mount -o remount,bind,ro "$m" ;; esac
done
while [ "$n" -gt 0 ]; do mount --bind "$1" "$1"; mount -o remount,bind,rw "$1"; shift; n=$((n-1)); done
umask "$umask_value"
exec setpriv --no-new-privs --inh-caps=-all --bounding-set="$bounding" -- "$@"
"#;
        let bounding = std::iter::once("-all".to_string())
            .chain(
                self.capabilities.iter().map(|c| format!("+{}", c.trim_start_matches("CAP_").to_lowercase())),
            )
            .collect::<Vec<_>>()
            .join(",");
        let mut cmd = Command::new("/usr/bin/unshare");
        cmd.args(["--mount", "--propagation", "private", "--", "/bin/sh", "-c", SCRIPT, "sandbox"])
            .args([self.umask.as_str(), &bounding, &self.writable.len().to_string()])
            .args(&self.writable)
            .arg(env!("CARGO_BIN_EXE_pgharden"))
            .args(args)
            .env_clear()
            .env("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
            .env("NO_COLOR", "1")
            .env("CREDENTIALS_DIRECTORY", credentials);
        run_bounded(&mut cmd, Duration::from_secs(120))
    }

    fn without(&self, path: &Path) -> Self {
        let writable = self.writable.iter().filter(|w| Path::new(w) != path).cloned().collect::<Vec<_>>();
        assert_eq!(
            writable.len() + 1,
            self.writable.len(),
            "{} is among {:?}",
            path.display(),
            self.writable
        );
        Self { writable, capabilities: self.capabilities.clone(), umask: self.umask.clone() }
    }
}

/// A credentials directory as systemd makes it for the service: the credential file, root's alone.
fn credentials_dir(tmp: &TempDir, pass: &Path) -> PathBuf {
    let dir = tmp.path().join("credentials");
    fs::create_dir(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
    fs::copy(pass, dir.join("pgharden-ca-passphrase")).unwrap();
    fs::set_permissions(dir.join("pgharden-ca-passphrase"), fs::Permissions::from_mode(0o400)).unwrap();
    dir
}

#[test]
fn the_services_sandbox_lets_renew_reissue_and_deploy_with_a_reload() {
    let ca = Encrypted::new();
    let cluster = Cluster::start_default().unwrap_or_else(|e| panic!("{e}"));
    harden(&cluster, &ca.pki);
    let data = cluster.data_dir().canonicalize().unwrap();
    let printed = ok(&[
        "renew",
        "--pki",
        ca.dir(),
        "--pgdata",
        data.to_str().unwrap(),
        // Everything with less than ten years left is due: the CRLs and both leaves, now.
        "--threshold",
        "3650d",
        "--systemd",
        "--credential",
        ca.pass(),
    ]);
    let (service, _) = split_units(&printed);
    let exec = values(&service, "ExecStart");
    let renew: Vec<&str> = exec.first().expect("ExecStart=").split_whitespace().skip(1).collect();
    assert!(renew.iter().all(|w| !w.contains(['"', '\\'])), "test paths need no quoting: {renew:?}");
    assert_eq!(renew.first(), Some(&"renew"), "{renew:?}");
    let sandbox = Sandbox::of(&service);
    let work = tempfile::tempdir().unwrap();
    let credentials = credentials_dir(&work, &ca.pass);
    let pid = cluster.pid().expect("the server runs");
    let deployed = data.join("root.crl");
    let before = fs::read(&deployed).unwrap();
    let server_pem = fs::read(data.join("server.pem")).unwrap();

    // The control: without the data directory among the writable paths, the CA still signs (the
    // PKI directory is writable) but the deploy fails and changes nothing — the sandbox is real,
    // so the run below proves the unit's paths suffice.
    let out = sandbox.without(&data).run(&renew, &credentials);
    assert_eq!(out.code, Some(2), "a deploy into a read-only PGDATA: {}", out.describe());
    assert!(out.text().contains("Read-only file system"), "{}", out.describe());
    assert_eq!(fs::read(&deployed).unwrap(), before, "nothing was deployed");

    let out = sandbox.run(&renew, &credentials);
    assert_eq!(out.code, Some(0), "renew in the unit's sandbox: {}", out.describe());
    let new_client_crl = fs::read_to_string(ca.pki.path("client-ca/crl.pem")).unwrap();
    let now = fs::read_to_string(&deployed).unwrap();
    assert!(now.contains(new_client_crl.trim()), "PGDATA/root.crl holds the new client CA CRL:\n{now}");
    assert_ne!(
        fs::read(data.join("server.pem")).unwrap(),
        server_pem,
        "the renewed server certificate is deployed"
    );
    let text = out.text();
    let served = text.split("serves certificate ").nth(1).and_then(|t| t.split(',').next()).unwrap_or("");
    let new_serial = text.split("-> new serial ").nth(1).and_then(|t| t.lines().next()).unwrap_or("?");
    assert_eq!(served, new_serial, "the proof saw the renewed certificate served: {text}");
    assert_eq!(cluster.pid(), Some(pid), "a reload, not a restart: the postmaster keeps its pid");
}

#[test]
fn a_daily_timer_is_called_too_slow_for_a_day_long_certificate() {
    let pki = TestPki::bare("p256");
    pki.ok(&["pki", "server", "--host", "localhost", "--valid", "24h"]);
    let cluster = stopped_cluster();
    let data = cluster.data_dir().to_str().unwrap().to_string();
    let args = ["renew", "--pki", &pki.p(""), "--pgdata", &data, "--systemd"];
    let out = crate::support::run(&args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("last 8 hours") && stderr.contains("--on-calendar hourly"),
        "a daily timer (plus its hour of delay) can sleep through an 8-hour window: {stderr}"
    );
    let hourly = crate::support::run(&[&args[..], &["--on-calendar", "hourly"]].concat());
    assert!(hourly.status.success());
    assert!(
        !String::from_utf8_lossy(&hourly.stderr).contains("warning"),
        "an hourly timer fits: {}",
        String::from_utf8_lossy(&hourly.stderr)
    );
}
