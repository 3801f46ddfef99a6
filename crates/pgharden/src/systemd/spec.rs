//! From `renew --systemd`'s arguments to a checked [`Spec`]: every path made absolute and shown to
//! exist, every cluster found (its data directory, the directory of its postgresql.conf, its
//! socket), the credential checked, and what must never be in a unit refused.
//!
//! Owns: those checks, each an error naming the argument and value at fault. A unit file is
//! world-readable and runs unattended as root, so it gets no password, no passphrase and no
//! relative path, and it is not written at all when renew could not work from it (an encrypted
//! CA without a credential, a cluster whose files cannot be found).
//! Must not: write anything (that is `install`), or render text (that is `unit`).

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use pgharden_cluster::{Cluster, Locator, Session};
use pgharden_pgconn::Conninfo;
use pgharden_pki::{Ledger, Threshold};
use pgharden_privsep::{Account, CLEAN_PATH};

use super::unit::{Credential, Spec};
use crate::cli::RenewArgs;
use crate::output::shown;

/// The spec the arguments describe.
pub(super) fn from_args(args: &RenewArgs) -> anyhow::Result<Spec> {
    refuse_other_modes(args)?;
    for (i, c) in args.conninfo.iter().enumerate() {
        refuse_secrets(i + 1, c)?;
    }
    let pki = existing("--pki", &args.pki)?;
    let ledger = Ledger::load(&pki).with_context(|| format!("--pki {}", shown(pki.display())))?;
    let credential = match &args.credential {
        Some(file) => Some(credential(file)?),
        None if ledger.ca_keys_encrypted => bail!(
            "the CA keys in {} are encrypted: give --credential FILE, a file holding the passphrase \
             (mode 0600, owned by root), which systemd hands to the service as the credential {}",
            shown(pki.display()),
            crate::passphrase::CREDENTIAL
        ),
        None => None,
    };
    let threshold = threshold(&args.threshold)?;
    let mut writable = vec![pki.clone()];
    let mut sockets = Vec::new();
    let mut pgdata = Vec::new();
    for dir in &args.pgdata {
        let dir = existing("--pgdata", dir)?;
        let cluster = open(Locator::PgData(dir.clone()))
            .with_context(|| format!("--pgdata {}: finding the cluster's files", shown(dir.display())))?;
        add_cluster(&cluster, &mut writable, &mut sockets);
        pgdata.push(cluster.data_dir);
    }
    for (i, c) in args.conninfo.iter().enumerate() {
        let cluster = open(Locator::Conninfo(c.clone())).with_context(|| {
            format!(
                "CONNINFO #{}: asking its server for its data directory, which the service must be let \
                 write in (start the server, or give --pgdata DIR instead)",
                i + 1
            )
        })?;
        add_cluster(&cluster, &mut writable, &mut sockets);
        sockets.extend(socket_hosts(c));
    }
    let mut write_dirs = Vec::new();
    for dir in &args.write_dirs {
        let dir = existing("--write-dir", dir)?;
        if !dir.is_dir() {
            bail!("--write-dir {}: not a directory", shown(dir.display()));
        }
        writable.push(dir.clone());
        write_dirs.push(dir);
    }
    check_calendar(&args.on_calendar, analyzer().as_deref())?;
    Ok(Spec {
        program: program()?,
        pki,
        pgdata,
        conninfo: args.conninfo.clone(),
        threshold,
        write_dirs,
        credential,
        writable,
        sockets,
        on_calendar: args.on_calendar.trim().to_string(),
    })
}

/// Options of an interactive renew that a unit must not carry.
fn refuse_other_modes(args: &RenewArgs) -> anyhow::Result<()> {
    if args.plan || args.json {
        bail!("--systemd prints (or with --install writes) the units; --plan and --json do not apply to it");
    }
    if args.passphrase.passphrase_file.is_some() {
        bail!(
            "with --systemd, give the passphrase file as --credential FILE: systemd then hands it to \
             the service, and the unit never names a passphrase file renew would read as root"
        );
    }
    Ok(())
}

/// A CONNINFO with a password would put it in a world-readable unit file.
fn refuse_secrets(number: usize, conninfo: &str) -> anyhow::Result<()> {
    let parsed = Conninfo::parse(conninfo).with_context(|| format!("CONNINFO #{number}"))?;
    if let Some((keyword, _)) = parsed.iter().find(|(kw, value)| kw.secret && !value.is_empty()) {
        bail!(
            "CONNINFO #{number} ({}) holds a {}: unit files are world-readable. Put the password in a \
             password file (passfile=FILE, or PGPASSFILE) or connect with a client certificate \
             (sslcert=, sslkey=)",
            shown(&parsed),
            keyword.name
        );
    }
    Ok(())
}

/// `path` made absolute and canonical; a missing one is named with the option that gave it.
fn existing(option: &str, path: &Path) -> anyhow::Result<PathBuf> {
    std::fs::canonicalize(path).with_context(|| format!("{option} {}", shown(path.display())))
}

/// `--credential`: a regular file only root can read, since it holds the CA passphrase.
fn credential(file: &Path) -> anyhow::Result<Credential> {
    let path = existing("--credential", file)?;
    let meta = std::fs::metadata(&path).with_context(|| format!("--credential {}", shown(path.display())))?;
    let named = || format!("--credential {}", shown(path.display()));
    if !meta.is_file() {
        bail!("{}: not a regular file", named());
    }
    if meta.mode() & 0o077 != 0 {
        bail!(
            "{}: mode {:04o} lets other accounts read or change the CA passphrase; chmod 0600 it",
            named(),
            meta.mode() & 0o7777
        );
    }
    if Account::current().is_root() && meta.uid() != 0 {
        bail!("{}: belongs to uid {}, not root, who could change the CA passphrase", named(), meta.uid());
    }
    let encrypted = path.extension().is_some_and(|e| e == "cred");
    Ok(Credential { path, encrypted })
}

/// `--threshold`, checked as renew will read it; `None` for the default (not repeated).
fn threshold(value: &str) -> anyhow::Result<Option<String>> {
    let parsed: Threshold = value.parse()?;
    Ok((parsed != Threshold::default()).then(|| value.trim().to_string()))
}

/// Discover a cluster as renew will: its server when it runs, else its files.
fn open(target: Locator) -> anyhow::Result<Cluster> {
    Ok(Session::open(target, &[])?.cluster)
}

/// What a cluster needs from the sandbox: its data directory and the directory of its
/// postgresql.conf writable (renew writes in both), its socket directory visible.
fn add_cluster(cluster: &Cluster, writable: &mut Vec<PathBuf>, sockets: &mut Vec<PathBuf>) {
    writable.push(cluster.data_dir.clone());
    if let Some(conf_dir) = cluster.config_file.parent() {
        writable.push(conf_dir.to_path_buf());
    }
    if let Some(dir) = cluster.postmaster.as_ref().and_then(|pm| pm.socket_dir.clone()) {
        sockets.push(dir);
    }
}

/// The socket directories a CONNINFO names as hosts (`host=/var/run/postgresql`).
fn socket_hosts(conninfo: &str) -> Vec<PathBuf> {
    let Ok(parsed) = Conninfo::parse(conninfo) else { return Vec::new() };
    let hosts = parsed.get("host").unwrap_or_default();
    hosts.split(',').filter(|h| h.starts_with('/')).map(PathBuf::from).collect()
}

/// The running pgharden, for `ExecStart=`.
fn program() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("finding the pgharden binary for ExecStart=")?;
    std::fs::canonicalize(&exe).with_context(|| format!("the pgharden binary {}", shown(exe.display())))
}

/// `systemd-analyze`, looked for where the system keeps it (never through the caller's PATH).
fn analyzer() -> Option<PathBuf> {
    CLEAN_PATH.split(':').map(|dir| Path::new(dir).join("systemd-analyze")).find(|p| p.is_file())
}

/// Whether systemd reads `spec` as a calendar expression; with no `systemd-analyze` to ask, any
/// expression is taken (systemd will say at `daemon-reload`).
pub(super) fn check_calendar(spec: &str, analyzer: Option<&Path>) -> anyhow::Result<()> {
    let Some(program) = analyzer else { return Ok(()) };
    let out = Command::new(program)
        .env_clear()
        .env("PATH", CLEAN_PATH)
        .env("LANG", "C")
        .args(["calendar", "--", spec.trim()])
        .output()
        .with_context(|| format!("running {}", program.display()))?;
    if !out.status.success() {
        let said = String::from_utf8_lossy(&out.stderr);
        bail!(
            "--on-calendar {}: not a systemd calendar expression ({} calendar says: {})",
            shown(spec),
            program.display(),
            shown(said.trim())
        );
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may panic on failure
mod tests {
    use super::*;

    #[test]
    fn conninfos_with_a_password_are_refused_without_showing_it() {
        for c in [
            "host=db password=s3cret",
            "postgresql://alice:s3cret@db/postgres",
            "postgresql://db/postgres?password=s3cret",
            "host=db sslpassword=s3cret",
        ] {
            let err = format!("{:#}", refuse_secrets(1, c).unwrap_err());
            assert!(err.contains("CONNINFO #1") && err.contains("world-readable"), "{c}: {err}");
            assert!(!err.contains("s3cret"), "{c}: {err}");
        }
        refuse_secrets(1, "host=db user=alice sslcert=/etc/pg/alice.crt passfile=/root/.pgpass").unwrap();
        refuse_secrets(1, "postgresql://alice@db/postgres").unwrap();
    }

    #[test]
    fn the_default_threshold_is_not_repeated() {
        assert_eq!(threshold("1/3").unwrap(), None);
        assert_eq!(threshold("7d").unwrap(), Some("7d".into()));
        assert_eq!(threshold("25%").unwrap(), Some("25%".into()));
        let err = threshold("soon").unwrap_err().to_string();
        assert!(err.contains("--threshold") && err.contains("soon"), "{err}");
    }

    #[test]
    fn socket_hosts_are_the_absolute_ones() {
        assert_eq!(
            socket_hosts("host=/tmp,db.example.com,/var/run/postgresql"),
            [PathBuf::from("/tmp"), PathBuf::from("/var/run/postgresql")]
        );
        assert!(socket_hosts("postgresql://db/postgres").is_empty());
    }

    #[test]
    fn systemd_analyze_judges_the_calendar() {
        let analyzer = analyzer().expect("systemd-analyze is installed (apt-get install systemd)");
        check_calendar("daily", Some(&analyzer)).unwrap();
        check_calendar("Mon..Fri *-*-* 03:00:00", Some(&analyzer)).unwrap();
        let err = check_calendar("every other tuesday", Some(&analyzer)).unwrap_err().to_string();
        assert!(err.contains("--on-calendar") && err.contains("every other tuesday"), "{err}");
        check_calendar("every other tuesday", None).expect("without systemd-analyze it is taken");
    }

    #[test]
    fn a_credential_others_can_read_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("ca pass%1");
        std::fs::write(&file, "a passphrase\n").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = credential(&file).unwrap_err().to_string();
        assert!(err.contains("ca pass%1") && err.contains("0644") && err.contains("chmod 0600"), "{err}");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        let ok = credential(&file).unwrap();
        assert!(ok.path.is_absolute() && !ok.encrypted);
        let sealed = tmp.path().join("ca.cred");
        std::fs::write(&sealed, "sealed").unwrap();
        std::fs::set_permissions(&sealed, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(credential(&sealed).unwrap().encrypted);
        let err = credential(&tmp.path().join("missing")).unwrap_err().to_string();
        assert!(err.contains("--credential") && err.contains("missing"), "{err}");
    }
}
