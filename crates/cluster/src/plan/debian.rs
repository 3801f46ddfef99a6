//! Debian's conventions, kept where the STIG profile would break Debian's own tools: the server log
//! where `pg_lsclusters` shows it and logrotate rotates it, and a postgresql.conf every user can
//! read (pg_lsclusters and psql's wrapper read the port from it). Each kept convention says which
//! audit rules it costs, so the plan tells the truth about what the audit will say afterwards.
//!
//! Owns: the collector's log file on a Debian cluster, the mode a configuration file keeps there,
//! and the list of conventions kept with their cost.
//! Must not: read anything but the cluster's layout (given in), or decide for a cluster that is not
//! Debian's.

use std::path::Path;

use serde::Serialize;

use crate::discover::{Cluster, DEBIAN_LOG_DIR, DebianLayout};
use crate::profile::{DEBIAN_LOG_FILE_MODE, LogFile, ProfileOptions};

use super::FILE_MODE;

/// The audit rules whose checks read the log's protection (`log_file_mode`, the log directory,
/// every log file in it): the catalogue's rules built on the LogFileMode check.
pub const LOG_RULES: &[&str] =
    &["PGH-LOG-01", "PGH-LOG-04", "PGH-LOG-06", "PGH-LOG-09", "PGH-AUD-30", "PGH-FILE-04", "PGH-FILE-05"];

/// The audit rules whose checks read the configuration files' modes (0600, the owner's): the
/// catalogue's rules built on the ConfigFileModes check.
pub const CONFIG_MODE_RULES: &[&str] =
    &["PGH-FILE-01", "PGH-AUD-02", "PGH-AUD-04", "PGH-PRIV-13", "PGH-FILE-04", "PGH-FILE-05"];

/// One Debian convention the plan keeps, and what it costs in the audit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Convention {
    /// What is kept, in words.
    pub kept: String,
    /// The audit rules that fail because of it (empty: none).
    pub costs: Vec<String>,
    /// How to have the STIG's way instead.
    pub instead: Option<String>,
}

/// The fixed log file of a Debian cluster whose conventions are kept (the collector writes the
/// file Debian's tools name), else `None` (the STIG's weekday files in PGDATA/log).
pub(super) fn log_file(layout: Option<&DebianLayout>, opts: &ProfileOptions) -> Option<LogFile> {
    let layout = layout.filter(|_| opts.debian_conventions && !opts.syslog)?;
    let directory = layout.log_file.parent()?.to_string_lossy().into_owned();
    let filename = layout.log_file.file_name()?.to_string_lossy().into_owned();
    Some(LogFile { directory, filename })
}

/// The mode apply writes a configuration file with: [`FILE_MODE`], except that a Debian
/// postgresql.conf whose conventions are kept keeps what it has, at most 0644 (readable, never
/// writable, by others; a stricter mode is never loosened).
pub(super) fn file_mode(cluster: &Cluster, keep: bool, path: &Path, from_mode: Option<u32>) -> u32 {
    if keep && cluster.debian && path == cluster.config_file {
        from_mode.map_or(0o644, |m| m & 0o644)
    } else {
        FILE_MODE
    }
}

/// The conventions a plan keeps on this cluster: `config_mode` is the mode postgresql.conf will
/// have, `log` the collector's fixed file.
pub(super) fn conventions(
    layout: Option<&DebianLayout>,
    config_mode: u32,
    log: Option<&LogFile>,
) -> Vec<Convention> {
    let Some(layout) = layout else { return Vec::new() };
    let mut out = vec![Convention {
        kept: format!(
            "restarts go through pg_ctlcluster {} {}, so the cluster stays postgresql-common's (and \
             systemd's postgresql@{}-{} unit's)",
            layout.version, layout.name, layout.version, layout.name
        ),
        costs: Vec::new(),
        instead: None,
    }];
    if let Some(log) = log {
        let in_debian_dir = Path::new(&log.directory) == Path::new(DEBIAN_LOG_DIR);
        out.push(Convention {
            kept: format!(
                "the server log stays {}/{} (pg_lsclusters' log column{}): the collector appends to the \
                 file pg_ctlcluster creates mode {DEBIAN_LOG_FILE_MODE:04o} for group adm (log_file_mode \
                 0600 applies only to a file the collector creates), in {}, which Debian makes \
                 root:postgres 1775; the STIG wants every log file 0600 in a directory closed to others",
                log.directory,
                log.filename,
                if in_debian_dir {
                    ", and /etc/logrotate.d/postgresql-common rotates it with copytruncate"
                } else {
                    ""
                },
                log.directory
            ),
            costs: LOG_RULES.iter().map(ToString::to_string).collect(),
            instead: Some(
                "--no-debian-conventions: weekday files in PGDATA/log, mode 0600 (pg_lsclusters then \
                 shows log/postgresql-%a.log, and Debian's logrotate no longer rotates them)"
                    .into(),
            ),
        });
    }
    if config_mode & 0o044 != 0 {
        out.push(Convention {
            kept: format!(
                "postgresql.conf stays mode {config_mode:04o}, as Debian ships it, so every user's \
                 pg_lsclusters and psql find the cluster's port; the STIG wants 0600"
            ),
            costs: CONFIG_MODE_RULES.iter().map(ToString::to_string).collect(),
            instead: Some("--no-debian-conventions: postgresql.conf mode 0600".into()),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn layout() -> DebianLayout {
        DebianLayout {
            version: "15".into(),
            name: "main".into(),
            conf_root: PathBuf::from("/etc/postgresql"),
            log_file: PathBuf::from("/var/log/postgresql/postgresql-15-main.log"),
        }
    }

    #[test]
    fn the_debian_log_file_is_kept_unless_refused() {
        let opts = ProfileOptions::default();
        let log = log_file(Some(&layout()), &opts).unwrap();
        assert_eq!(log.directory, "/var/log/postgresql");
        assert_eq!(log.filename, "postgresql-15-main.log");
        assert_eq!(log_file(None, &opts), None);
        let stig = ProfileOptions { debian_conventions: false, ..Default::default() };
        assert_eq!(log_file(Some(&layout()), &stig), None);
        let syslog = ProfileOptions { syslog: true, ..Default::default() };
        assert_eq!(log_file(Some(&layout()), &syslog), None);
    }

    #[test]
    fn each_kept_convention_names_its_cost() {
        let log = log_file(Some(&layout()), &ProfileOptions::default());
        let kept = conventions(Some(&layout()), 0o644, log.as_ref());
        assert_eq!(kept.len(), 3, "{kept:?}");
        assert!(kept[0].costs.is_empty() && kept[0].kept.contains("pg_ctlcluster 15 main"));
        assert!(kept[1].kept.contains("/var/log/postgresql/postgresql-15-main.log"), "{:?}", kept[1]);
        assert!(kept[1].costs.contains(&"PGH-LOG-01".to_string()));
        assert!(kept[2].kept.contains("0644") && kept[2].costs.contains(&"PGH-FILE-01".to_string()));
        let strict = conventions(Some(&layout()), 0o600, None);
        assert_eq!(strict.len(), 1, "only pg_ctlcluster is kept: {strict:?}");
        assert!(conventions(None, 0o644, None).is_empty());
    }
}
