//! Checks on files: who owns what PostgreSQL trusts, and who else could write or read it.
//!
//! Owns: the ownership and mode rules — a file the server trusts (configuration, includes,
//! postgresql.auto.conf, pg_hba/pg_ident, the TLS files) and the directory holding it belong to the
//! cluster owner or root and no other account can write them (a writable CA file lets anyone mint
//! a superuser certificate; a writable directory lets anyone replace the file); PGDATA and the log
//! files closed to everyone but the owner. Must not: gather evidence.

use crate::evidence::{EntryKind, Evidence, FileFacts, FileRole, Trusted};
use crate::values;

use super::{Outcome, all, pass, unknown, verdict};

/// Whether `f` belongs to the cluster owner or root.
fn owner_or_root(ev: &Evidence, f: &FileFacts) -> bool {
    f.uid == 0 || Some(f.uid) == ev.owner_uid
}

/// Why another account could change `f`, if it could.
fn writable_by_others(ev: &Evidence, f: &FileFacts) -> Option<String> {
    if !owner_or_root(ev, f) {
        return Some(format!("owned by uid {}, neither the cluster owner nor root", f.uid));
    }
    if f.mode & 0o002 != 0 {
        return Some("writable by every account".into());
    }
    if f.mode & 0o020 != 0 {
        return Some(format!("writable by group {}", f.gid));
    }
    None
}

fn describe(f: &FileFacts) -> String {
    format!("{} (mode {:04o}, uid {})", f.path.display(), f.mode, f.uid)
}

/// Judge trusted entries picked by `pick`, with `extra` for further rules on files.
fn trusted(
    ev: &Evidence,
    pick: impl Fn(&Trusted) -> bool,
    extra: impl Fn(&FileFacts) -> Option<String>,
) -> Outcome {
    let list = match &ev.trusted {
        Ok(l) => l,
        Err(why) => return unknown(why),
    };
    let mut problems = Vec::new();
    let mut checked = 0;
    for t in list.iter().filter(|t| pick(t)) {
        let what = match t.holds.first() {
            None => t.role.name().to_string(),
            Some(_) => {
                let names: Vec<&str> = t.holds.iter().map(|h| h.name()).collect();
                format!("directory of {}", names.join(", "))
            }
        };
        match &t.facts {
            Ok(f) => {
                checked += 1;
                // The sticky bit (/tmp) keeps others from renaming what they do not own.
                let sticky_ancestor = t.ancestor && f.mode & 0o1000 != 0 && owner_or_root(ev, f);
                let why = if sticky_ancestor { None } else { writable_by_others(ev, f) };
                let why = why.or_else(|| {
                    if f.kind == EntryKind::Symlink {
                        Some("is a symbolic link".into())
                    } else if t.role != FileRole::Directory {
                        extra(f)
                    } else {
                        None
                    }
                });
                if let Some(why) = why {
                    problems.push(format!("{what} {}: {why}", describe(f)));
                }
            }
            Err(why) => problems.push(format!("{what}: {why}")),
        }
    }
    verdict(problems, || format!("{checked} files and directories checked; none is open to another account"))
}

/// The TLS files and their directories.
pub(super) fn tls_files(ev: &Evidence) -> Outcome {
    if let Err(why) = &ev.settings {
        // The settings name the TLS files: without them, none was looked at.
        return unknown(why);
    }
    trusted(ev, |t| t.role.is_tls() || t.holds.iter().any(|h| h.is_tls()), |_| None)
}

/// postgresql.conf, includes, auto.conf, pg_hba/pg_ident (and their includes): 0600 or stricter,
/// owned by the cluster owner (CD16-00-002400); their directories not writable by others.
pub(super) fn config_files(ev: &Evidence) -> Outcome {
    let is_config = |r: FileRole| matches!(r, FileRole::Config | FileRole::Hba | FileRole::Ident);
    trusted(
        ev,
        |t| is_config(t.role) || t.holds.iter().any(|h| is_config(*h)),
        |f| {
            if Some(f.uid) != ev.owner_uid {
                Some(format!("must be owned by the cluster owner (uid {})", ev.owner_uid.unwrap_or(0)))
            } else if f.mode & 0o077 != 0 {
                // The owner is right here: name only what is wrong, the mode.
                let why = format!(
                    "{}; must be 0600 (its owner, uid {}, is the cluster owner)",
                    open_to(f.mode),
                    f.uid
                );
                Some(debian_note(f, &why))
            } else {
                None
            }
        },
    )
}

/// What the group and other bits of `mode` allow, in words: "readable by group and others".
fn open_to(mode: u32) -> String {
    let who = |group: u32, other: u32| match (mode & group != 0, mode & other != 0) {
        (true, true) => Some("group and others"),
        (true, false) => Some("group"),
        (false, true) => Some("others"),
        (false, false) => None,
    };
    let parts: Vec<String> =
        [("readable", 0o040, 0o004), ("writable", 0o020, 0o002), ("executable", 0o010, 0o001)]
            .into_iter()
            .filter_map(|(what, g, o)| who(g, o).map(|w| format!("{what} by {w}")))
            .collect();
    format!("mode {:04o}: {}", mode, parts.join(", "))
}

/// Debian's packaging installs postgresql.conf 0644 so that `pg_lsclusters` works for every user.
fn debian_note(f: &FileFacts, why: &str) -> String {
    if f.path.starts_with("/etc/postgresql") {
        format!(
            "{why} (Debian installs it 0644 so that pg_lsclusters shows the cluster to every user; \
             at 0600 only root and the cluster owner see its settings)"
        )
    } else {
        why.to_string()
    }
}

/// PGDATA 0700, owned by the owner; nothing in it owned by another account or open to others
/// (CD16-00-005600: "allow anyone but the database administrator to read" is a finding). A key
/// owned by root with mode 0640 is what PostgreSQL accepts for a group-shared key, and is allowed.
pub(super) fn data_dir(ev: &Evidence) -> Outcome {
    let dir = match &ev.data_dir {
        Ok(d) => d,
        Err(why) => return unknown(why),
    };
    let mut problems = Vec::new();
    if Some(dir.uid) != ev.owner_uid || dir.mode & 0o077 != 0 {
        problems.push(format!("{}: must be 0700 and owned by the cluster owner", describe(dir)));
    }
    let entries = match &ev.data_entries {
        Ok(e) => e,
        Err(why) => return all(&[verdict(problems, String::new), unknown(why)]),
    };
    let key = ev.tls.key.as_ref().ok().map(|k| k.path.clone());
    for e in entries.iter().filter(|e| e.kind != EntryKind::Symlink) {
        let root_key = Some(&e.path) == key.as_ref() && e.uid == 0 && e.mode & 0o037 == 0;
        if root_key {
            continue;
        }
        if Some(e.uid) != ev.owner_uid {
            problems.push(format!("{}: owned by another account than the cluster owner", describe(e)));
        } else if e.mode & 0o077 != 0 {
            problems.push(format!("{}: open to other accounts (group or others)", describe(e)));
        }
    }
    verdict(problems, || {
        format!(
            "{} mode {:04o}; {} entries in it checked, each the owner's only",
            dir.path.display(),
            dir.mode,
            entries.len()
        )
    })
}

/// log_file_mode 0600 or stricter; the log directory closed to others; every log file on disk the
/// owner's, with no more permission than log_file_mode gives.
pub(super) fn log_files(ev: &Evidence) -> Outcome {
    let configured = match ev.setting("log_file_mode").map(values::file_mode) {
        Ok(Ok(m)) => m,
        Ok(Err(e)) => return super::fail(format!("log_file_mode: {e}")),
        Err(why) => return unknown(&why),
    };
    let mut problems = Vec::new();
    if configured & 0o077 != 0 {
        problems.push(format!("log_file_mode = {configured:04o}: others can read the logs"));
    }
    match &ev.logs {
        Ok(logs) => {
            if logs.dir.mode & 0o007 != 0 {
                problems.push(format!("{}: others can reach the logs", describe(&logs.dir)));
            }
            for f in logs.files.iter().filter(|f| f.kind == EntryKind::File) {
                if Some(f.uid) != ev.owner_uid {
                    problems.push(format!("{}: not owned by the cluster owner", describe(f)));
                } else if f.mode & !configured & 0o777 != 0 {
                    problems
                        .push(format!("{}: more open than log_file_mode = {configured:04o}", describe(f)));
                }
            }
            verdict(problems, || {
                format!(
                    "log_file_mode = {configured:04o}; {} mode {:04o} with {} log files{}, each the owner's at that mode",
                    logs.dir.path.display(),
                    logs.dir.mode,
                    logs.files.len(),
                    if logs.truncated { " (the first ones listed)" } else { "" }
                )
            })
        }
        // No log directory: nothing has been logged to files (stderr or syslog only).
        Err(crate::evidence::Missing::Failed { reason, .. }) if reason.contains("No such file") => {
            verdict(problems, || {
                format!("log_file_mode = {configured:04o}; no log directory (no log files yet)")
            })
        }
        Err(why) => all(&[verdict(problems, String::new), unknown(why)]),
    }
}

/// Installed files (pgaudit's, the server's programs and directories) are root's, writable by
/// nobody else.
pub(super) fn root_owned(fact: &crate::evidence::Fact<Vec<FileFacts>>, none: &str) -> Outcome {
    let list = match fact {
        Ok(l) => l,
        Err(why) => return unknown(why),
    };
    if list.is_empty() {
        return pass(none);
    }
    let problems: Vec<String> = list
        .iter()
        .filter_map(|f| {
            if f.uid != 0 {
                Some(format!("{}: not owned by root", describe(f)))
            } else if f.kind != EntryKind::Symlink && f.mode & 0o022 != 0 {
                Some(format!("{}: writable by other accounts", describe(f)))
            } else {
                None
            }
        })
        .collect();
    verdict(problems, || {
        let names: Vec<String> = list.iter().take(6).map(|f| f.path.display().to_string()).collect();
        let more = list.len().saturating_sub(6);
        let tail = if more > 0 { format!(" and {more} more") } else { String::new() };
        format!("root's and closed to others: {}{tail}", names.join(", "))
    })
}
