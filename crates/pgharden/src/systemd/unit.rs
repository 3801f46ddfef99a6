//! The text of the two units, from a [`Spec`] that holds only checked, absolute values.
//!
//! Owns: the layout of `pgharden-renew.service` and `pgharden-renew.timer`, and systemd's quoting
//! rules for each directive written here, which differ (systemd.syntax(7), systemd.service(5)):
//! `ExecStart=` words are unquoted and C-unescaped, then `%` specifiers are expanded, and at exec
//! time `$` variables — except in the program's path, which gets no `$` expansion and may hold
//! no quote or backslash at all; `ReadWritePaths=` words are unquoted (a backslash keeps the next character)
//! and `%`-expanded, but `$` means nothing there; `LoadCredential=` takes everything after the
//! first `:` verbatim (no unquoting: quotes would become part of the path) and `%`-expands it.
//! Every value is on one line, so a control character (a newline would start a new directive)
//! is refused, never escaped.
//! Must not: look at the file system or the process: everything comes in through the `Spec`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// The service's file name.
pub(super) const SERVICE: &str = "pgharden-renew.service";
/// The timer's file name.
pub(super) const TIMER: &str = "pgharden-renew.timer";
/// How long the timer may wait past its calendar time (spreads many hosts' renewals out).
pub(super) const RANDOMIZED_DELAY: time::Duration = time::Duration::hours(1);

/// Capabilities renew keeps. It runs as root and reaches each cluster's files as the owner
/// through a helper it starts with that account's uid and gid (SETUID, SETGID); as root it reads
/// and writes the PKI and hands files to the owner (CHOWN, FOWNER, DAC_OVERRIDE,
/// DAC_READ_SEARCH), and the owner's helper signals the postmaster to reload (KILL). The check
/// that `postmaster.pid` names this cluster's server reads `/proc/PID/cwd` and `exe` as the owner
/// too, so no SYS_PTRACE is needed.
pub(super) const CAPABILITIES: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
];

/// Directories a private /tmp replaces (`PrivateTmp=yes` gives the service empty ones).
const PRIVATE_TMP: &[&str] = &["/tmp", "/var/tmp"];
/// Directories `ProtectHome=read-only` makes read-only.
const HOMES: &[&str] = &["/home", "/root", "/run/user"];

/// How the CA passphrase reaches the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Credential {
    /// The file systemd reads it from (absolute, canonical).
    pub path: PathBuf,
    /// Made by `systemd-creds encrypt` (its name ends in `.cred`): loaded with
    /// `LoadCredentialEncrypted=`, which decrypts it.
    pub encrypted: bool,
}

/// Everything the units are made from. Paths are absolute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Spec {
    /// The pgharden binary the service runs.
    pub program: PathBuf,
    pub pki: PathBuf,
    pub pgdata: Vec<PathBuf>,
    pub conninfo: Vec<String>,
    /// `--threshold`, when it is not the default.
    pub threshold: Option<String>,
    pub write_dirs: Vec<PathBuf>,
    pub credential: Option<Credential>,
    /// Where renew writes: `ReadWritePaths=`.
    pub writable: Vec<PathBuf>,
    /// Unix socket directories renew connects through (they must stay visible).
    pub sockets: Vec<PathBuf>,
    /// `OnCalendar=`.
    pub on_calendar: String,
}

/// `pgharden-renew.service`.
pub(super) fn service(spec: &Spec) -> anyhow::Result<String> {
    let mut out = String::new();
    out.push_str("[Unit]\n");
    out.push_str(
        "Description=Renew the pgharden certificates and CRLs that are due, and deploy them with a reload\n",
    );
    out.push_str("Documentation=man:pgharden(1)\n");
    out.push_str("After=network-online.target postgresql.service\n");
    out.push_str("Wants=network-online.target\n");
    out.push_str("\n[Service]\n");
    out.push_str("Type=oneshot\n");
    writeln!(out, "ExecStart={}", exec_start(spec)?)?;
    if let Some(cred) = &spec.credential {
        let directive = if cred.encrypted { "LoadCredentialEncrypted" } else { "LoadCredential" };
        writeln!(out, "{directive}={}:{}", crate::passphrase::CREDENTIAL, credential_path(&cred.path)?)?;
    }
    out.push_str(&sandbox(spec)?);
    Ok(out)
}

/// `pgharden-renew.timer`.
pub(super) fn timer(spec: &Spec) -> anyhow::Result<String> {
    let calendar = &spec.on_calendar;
    if calendar.trim().is_empty() || calendar.chars().any(char::is_control) {
        bail!("--on-calendar {:?}: not a calendar expression", pgharden_text::line(calendar));
    }
    let mut out = String::new();
    out.push_str("[Unit]\n");
    writeln!(out, "Description=Run {SERVICE} ({})", specifiers(calendar.trim()))?;
    out.push_str("Documentation=man:pgharden(1)\n");
    out.push_str("\n[Timer]\n");
    writeln!(out, "OnCalendar={}", specifiers(calendar.trim()))?;
    // Many hosts renewing at midnight would all reach the same servers at once.
    out.push_str(&format!("RandomizedDelaySec={}h\n", RANDOMIZED_DELAY.whole_hours()));
    // A host that was off when the timer was due renews as soon as it is back.
    out.push_str("Persistent=true\n");
    out.push_str("AccuracySec=1min\n");
    out.push_str("\n[Install]\nWantedBy=timers.target\n");
    Ok(out)
}

/// The command line: the program, `renew`, and the same targets and options.
fn exec_start(spec: &Spec) -> anyhow::Result<String> {
    let mut words = vec![program_word(&spec.program)?, "renew".to_string()];
    let mut flag = |name: &str, value: &str| -> anyhow::Result<()> {
        words.push(name.to_string());
        words.push(exec_word(value)?);
        Ok(())
    };
    flag("--pki", utf8(&spec.pki)?)?;
    for dir in &spec.pgdata {
        flag("--pgdata", utf8(dir)?)?;
    }
    if let Some(threshold) = &spec.threshold {
        flag("--threshold", threshold)?;
    }
    for dir in &spec.write_dirs {
        flag("--write-dir", utf8(dir)?)?;
    }
    if !spec.conninfo.is_empty() {
        // After `--`, a CONNINFO is never taken for an option.
        words.push("--".to_string());
        for c in &spec.conninfo {
            words.push(exec_word(c).context("a CONNINFO")?);
        }
    }
    Ok(words.join(" "))
}

/// The sandbox, with a comment for each protection left out and why.
fn sandbox(spec: &Spec) -> anyhow::Result<String> {
    let mut out = String::new();
    out.push_str(
        "# renew runs as root and acts on each cluster's files as their owner, through a helper it\n\
         # starts as that account (which also checks that postmaster.pid names that cluster's server).\n",
    );
    writeln!(out, "CapabilityBoundingSet={}", CAPABILITIES.join(" "))?;
    out.push_str("NoNewPrivileges=yes\n");
    out.push_str("ProtectSystem=strict\n");
    let writable = minimal(&spec.writable);
    let words = writable.iter().map(|p| path_word(utf8(p)?)).collect::<anyhow::Result<Vec<_>>>()?;
    writeln!(out, "ReadWritePaths={}", words.join(" "))?;
    match writable.iter().find(|p| under_any(p, HOMES)) {
        Some(p) => writeln!(
            out,
            "# ProtectHome= is left out: renew writes in {}, which ProtectHome=read-only would make read-only.",
            utf8(p)?
        )?,
        None => out.push_str("ProtectHome=read-only\n"),
    }
    match writable.iter().chain(&spec.sockets).find(|p| under_any(p, PRIVATE_TMP)) {
        Some(p) => writeln!(
            out,
            "# PrivateTmp= is left out: renew needs {}, which a private /tmp would hide.",
            utf8(p)?
        )?,
        None => out.push_str("PrivateTmp=yes\n"),
    }
    for line in [
        "PrivateDevices=yes",
        "ProtectKernelTunables=yes",
        "ProtectKernelModules=yes",
        "ProtectKernelLogs=yes",
        "ProtectControlGroups=yes",
        "ProtectClock=yes",
        "ProtectHostname=yes",
        "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
        "RestrictNamespaces=yes",
        "RestrictRealtime=yes",
        "RestrictSUIDSGID=yes",
        "LockPersonality=yes",
        "MemoryDenyWriteExecute=yes",
        "SystemCallArchitectures=native",
        "UMask=0077",
    ] {
        out.push_str(line);
        out.push('\n');
    }
    Ok(out)
}

/// The paths without duplicates and without those inside another one (already writable).
fn minimal(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut kept: Vec<PathBuf> = Vec::new();
    for p in paths {
        if kept.iter().any(|k| p.starts_with(k)) {
            continue;
        }
        kept.retain(|k| !k.starts_with(p));
        kept.push(p.clone());
    }
    kept
}

fn under_any(path: &Path, roots: &[&str]) -> bool {
    roots.iter().any(|r| path.starts_with(r))
}

/// A path as text: unit files are UTF-8.
fn utf8(path: &Path) -> anyhow::Result<&str> {
    path.to_str().with_context(|| {
        format!("{}: the path is not UTF-8, which a unit file cannot hold", path.to_string_lossy())
    })
}

/// `%` is a specifier in every directive written here.
fn specifiers(value: &str) -> String {
    value.replace('%', "%%")
}

fn refuse_controls(value: &str) -> anyhow::Result<()> {
    if value.chars().any(char::is_control) {
        bail!("{}: holds a control character, which a unit file cannot carry", pgharden_text::line(value));
    }
    Ok(())
}

/// Whether a word needs no quotes: characters no directive here gives a meaning to.
fn plain(word: &str) -> bool {
    !word.is_empty() && word.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+,:=@".contains(c))
}

/// Double quotes with `\` and `"` escaped, which both `ExecStart=` and `ReadWritePaths=` read back.
fn quoted(word: &str) -> String {
    if plain(word) {
        return word.to_string();
    }
    format!("\"{}\"", word.replace('\\', "\\\\").replace('"', "\\\""))
}

/// One `ExecStart=` word that reaches the program exactly as `value`.
pub(super) fn exec_word(value: &str) -> anyhow::Result<String> {
    refuse_controls(value)?;
    Ok(quoted(&specifiers(value).replace('$', "$$")))
}

/// The executable, the first word of `ExecStart=`. systemd expands `%` specifiers in it but not
/// `$` variables, and refuses a path holding a quote or a backslash ("Executable name contains
/// special characters").
pub(super) fn program_word(path: &Path) -> anyhow::Result<String> {
    let text = utf8(path)?;
    refuse_controls(text)?;
    if text.contains(['"', '\'', '\\', '\u{7f}']) {
        bail!(
            "{}: systemd refuses to run a program whose path holds a quote or a backslash; \
             install pgharden elsewhere (/usr/local/bin)",
            pgharden_text::line(text)
        );
    }
    Ok(quoted(&specifiers(text)))
}

/// One `ReadWritePaths=` word naming exactly `value`.
pub(super) fn path_word(value: &str) -> anyhow::Result<String> {
    refuse_controls(value)?;
    Ok(quoted(&specifiers(value)))
}

/// The path part of `LoadCredential=ID:PATH`, taken verbatim by systemd.
pub(super) fn credential_path(path: &Path) -> anyhow::Result<String> {
    let text = utf8(path)?;
    refuse_controls(text)?;
    // The value ends where the line ends: trailing blanks would be cut and a trailing backslash
    // would continue the line.
    if text.ends_with([' ', '\t', '\\']) {
        bail!(
            "--credential {text:?}: a path ending in a blank or a backslash cannot be written in a unit file"
        );
    }
    Ok(specifiers(text))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may panic on failure
mod tests {
    use super::*;

    fn spec() -> Spec {
        Spec {
            program: PathBuf::from("/usr/bin/pgharden"),
            pki: PathBuf::from("/etc/pgharden/pki"),
            pgdata: vec![PathBuf::from("/var/lib/postgresql/15/main")],
            conninfo: Vec::new(),
            threshold: None,
            write_dirs: Vec::new(),
            credential: Some(Credential {
                path: PathBuf::from("/etc/pgharden/ca-passphrase"),
                encrypted: false,
            }),
            writable: vec![
                PathBuf::from("/etc/pgharden/pki"),
                PathBuf::from("/var/lib/postgresql/15/main"),
                PathBuf::from("/etc/postgresql/15/main"),
            ],
            sockets: vec![PathBuf::from("/var/run/postgresql")],
            on_calendar: "daily".into(),
        }
    }

    fn lines_of(text: &str, key: &str) -> Vec<String> {
        text.lines().filter_map(|l| l.strip_prefix(&format!("{key}="))).map(str::to_string).collect()
    }

    #[test]
    fn the_service_repeats_renew_with_absolute_paths() {
        let text = service(&spec()).unwrap();
        assert_eq!(
            lines_of(&text, "ExecStart"),
            ["/usr/bin/pgharden renew --pki /etc/pgharden/pki --pgdata /var/lib/postgresql/15/main"]
        );
        assert_eq!(lines_of(&text, "Type"), ["oneshot"]);
        assert_eq!(lines_of(&text, "LoadCredential"), ["pgharden-ca-passphrase:/etc/pgharden/ca-passphrase"]);
        assert!(!text.contains("Environment"), "{text}");
        assert_eq!(
            lines_of(&text, "ReadWritePaths"),
            ["/etc/pgharden/pki /var/lib/postgresql/15/main /etc/postgresql/15/main"]
        );
        for (key, value) in [
            ("ProtectSystem", "strict"),
            ("ProtectHome", "read-only"),
            ("PrivateTmp", "yes"),
            ("NoNewPrivileges", "yes"),
            ("UMask", "0077"),
            ("RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6"),
            ("After", "network-online.target postgresql.service"),
            ("Documentation", "man:pgharden(1)"),
        ] {
            assert_eq!(lines_of(&text, key), [value], "{key} in\n{text}");
        }
        let caps = lines_of(&text, "CapabilityBoundingSet").join(" ");
        for cap in ["CAP_SETUID", "CAP_SETGID", "CAP_CHOWN", "CAP_FOWNER", "CAP_DAC_OVERRIDE", "CAP_KILL"] {
            assert!(caps.split(' ').any(|c| c == cap), "{cap} missing from {caps}");
        }
        assert!(!caps.contains("CAP_SYS_ADMIN"), "{caps}");
    }

    #[test]
    fn every_target_and_option_is_repeated_and_conninfos_come_after_the_options() {
        let mut s = spec();
        s.pgdata.push(PathBuf::from("/srv/pg/16"));
        s.write_dirs = vec![PathBuf::from("/etc/ssl/pg")];
        s.threshold = Some("7d".into());
        s.conninfo =
            vec!["host=/var/run/postgresql dbname=postgres".into(), "postgresql://db2/postgres".into()];
        let text = service(&s).unwrap();
        assert_eq!(
            lines_of(&text, "ExecStart"),
            ["/usr/bin/pgharden renew --pki /etc/pgharden/pki --pgdata /var/lib/postgresql/15/main \
              --pgdata /srv/pg/16 --threshold 7d --write-dir /etc/ssl/pg -- \
              \"host=/var/run/postgresql dbname=postgres\" postgresql://db2/postgres"]
        );
    }

    #[test]
    fn exec_words_follow_systemds_quoting() {
        assert_eq!(exec_word("/srv/pg data/15%main").unwrap(), "\"/srv/pg data/15%%main\"");
        assert_eq!(exec_word("/srv/$HOME").unwrap(), "\"/srv/$$HOME\"");
        assert_eq!(exec_word(r#"/a"b\c"#).unwrap(), r#""/a\"b\\c""#);
        assert_eq!(exec_word("it's").unwrap(), "\"it's\"");
        assert_eq!(exec_word(";").unwrap(), "\";\"", "a lone ; would end the command");
        assert_eq!(exec_word("").unwrap(), "\"\"");
        assert_eq!(exec_word("/plain/path-1.2_x").unwrap(), "/plain/path-1.2_x");
        let err = exec_word("/srv/a\nExecStartPost=/bin/sh").unwrap_err().to_string();
        assert!(err.contains("control character") && err.contains("\\n"), "{err}");
    }

    #[test]
    fn the_program_path_is_quoted_but_its_dollars_are_not_doubled() {
        assert_eq!(
            program_word(Path::new("/opt/pg harden/$v%1/pgharden")).unwrap(),
            "\"/opt/pg harden/$v%%1/pgharden\""
        );
        assert_eq!(program_word(Path::new("/usr/bin/pgharden")).unwrap(), "/usr/bin/pgharden");
        for bad in ["/opt/\"q\"/pgharden", "/opt/it's/pgharden", "/opt/a\\b/pgharden"] {
            let err = program_word(Path::new(bad)).unwrap_err().to_string();
            assert!(err.contains("quote or a backslash"), "{bad}: {err}");
        }
    }

    #[test]
    fn paths_in_read_write_paths_keep_dollars_and_double_percents() {
        assert_eq!(path_word("/srv/a b%c$d").unwrap(), "\"/srv/a b%%c$d\"");
        assert_eq!(path_word("/srv/x").unwrap(), "/srv/x");
    }

    #[test]
    fn a_credential_path_is_written_verbatim_but_for_percents() {
        assert_eq!(credential_path(Path::new("/etc/my secrets/pass%1")).unwrap(), "/etc/my secrets/pass%%1");
        assert!(credential_path(Path::new("/etc/pass\\")).is_err());
        assert!(credential_path(Path::new("/etc/pass ")).is_err());
        let mut s = spec();
        s.credential =
            Some(Credential { path: PathBuf::from("/etc/credstore.encrypted/ca.cred"), encrypted: true });
        let text = service(&s).unwrap();
        assert_eq!(
            lines_of(&text, "LoadCredentialEncrypted"),
            ["pgharden-ca-passphrase:/etc/credstore.encrypted/ca.cred"]
        );
        assert!(lines_of(&text, "LoadCredential").is_empty(), "{text}");
        s.credential = None;
        let text = service(&s).unwrap();
        assert!(!text.contains("Credential"), "{text}");
    }

    #[test]
    fn a_writable_path_in_a_home_or_in_tmp_relaxes_only_that_protection() {
        let mut s = spec();
        s.writable.push(PathBuf::from("/root/pki"));
        let text = service(&s).unwrap();
        assert!(lines_of(&text, "ProtectHome").is_empty(), "{text}");
        assert!(text.contains("# ProtectHome= is left out: renew writes in /root/pki"), "{text}");
        assert_eq!(lines_of(&text, "PrivateTmp"), ["yes"]);

        let mut s = spec();
        s.sockets = vec![PathBuf::from("/tmp")];
        let text = service(&s).unwrap();
        assert!(lines_of(&text, "PrivateTmp").is_empty(), "{text}");
        assert!(text.contains("# PrivateTmp= is left out: renew needs /tmp,"), "{text}");
        assert_eq!(lines_of(&text, "ProtectHome"), ["read-only"]);
    }

    #[test]
    fn nested_writable_paths_are_listed_once() {
        let paths: Vec<PathBuf> =
            ["/srv/pg/data", "/srv/pg", "/etc/pki", "/srv/pg", "/etc/pki/x", "/etc/pkiz"]
                .iter()
                .map(PathBuf::from)
                .collect();
        assert_eq!(
            minimal(&paths),
            ["/srv/pg", "/etc/pki", "/etc/pkiz"].iter().map(PathBuf::from).collect::<Vec<_>>()
        );
    }

    #[test]
    fn the_timer_runs_the_service_on_the_calendar() {
        let text = timer(&spec()).unwrap();
        for (key, value) in [
            ("OnCalendar", "daily"),
            ("RandomizedDelaySec", "1h"),
            ("Persistent", "true"),
            ("AccuracySec", "1min"),
            ("WantedBy", "timers.target"),
        ] {
            assert_eq!(lines_of(&text, key), [value], "{key} in\n{text}");
        }
        let mut s = spec();
        s.on_calendar = "*-*-* 00/6:00:00".into();
        assert_eq!(lines_of(&timer(&s).unwrap(), "OnCalendar"), ["*-*-* 00/6:00:00"]);
        s.on_calendar = "daily\nExecStart=/bin/sh".into();
        assert!(timer(&s).is_err());
        s.on_calendar = " ".into();
        assert!(timer(&s).is_err());
    }
}
