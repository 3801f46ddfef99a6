//! Checks on the TLS material and on what the network says: the server certificate and its key,
//! the CRLs, and the probe's answers — all from the pki crate's typed data (validity times,
//! staleness, weaknesses) and the wire crate's typed facts, never from their renderings.
//!
//! Every certificate's and CRL's evidence says how long it has left, in plain words ("valid until
//! 2027-01-05T10:00:00Z, 34 days left"), computed from the typed `not_after_unix` /
//! `next_update_unix` against one clock read per check, the clock the inspection used as well.
//!
//! Owns: those judgements, with the warning window of the policy. Must not: gather evidence.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use pgharden_pki::inspect::{Inspection, Item, inspect_bytes_at};
use pgharden_wire::TlsVersionName;

use crate::evidence::{Evidence, Fact, NetworkFacts};
use crate::model::Policy;

use super::{Outcome, fail, not_checked, pass, unknown, verdict};

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Inspect `bytes` as of `now` (Unix seconds), so the inspection's expired/stale flags and this
/// module's arithmetic use the same moment.
fn inspect_at(
    label: &str,
    bytes: &[u8],
    now: i64,
) -> Result<Inspection, pgharden_pki::inspect::InspectError> {
    let moment = UNIX_EPOCH + Duration::from_secs(u64::try_from(now).unwrap_or(0));
    inspect_bytes_at(label, bytes, moment.into())
}

const HOUR: i64 = 3_600;
const DAY: i64 = 86_400;

/// A duration in whole days, or whole hours under two days ("34 days", "17 hours", "1 hour").
fn span(seconds: i64) -> String {
    let plural = |n: i64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    if seconds >= 2 * DAY {
        plural(seconds / DAY, "day")
    } else if seconds >= HOUR {
        plural(seconds / HOUR, "hour")
    } else {
        "less than an hour".to_string()
    }
}

/// The time from `now` until `until`, both Unix seconds: "34 days left", "17 hours left", or
/// once past, "3 days ago".
pub(super) fn life_left(until: i64, now: i64) -> String {
    if until > now { format!("{} left", span(until - now)) } else { format!("{} ago", span(now - until)) }
}

/// Every certificate in `ssl_cert_file` valid now and for `warn_days` more, without weaknesses; and
/// the key file 0600 owned by the cluster owner, or 0640 owned by root (as PostgreSQL accepts it).
pub(super) fn server_certificate(ev: &Evidence, policy: &Policy) -> Outcome {
    server_certificate_at(ev, policy, now())
}

/// [`server_certificate`] as of `now` (Unix seconds).
pub(super) fn server_certificate_at(ev: &Evidence, policy: &Policy, now: i64) -> Outcome {
    let key = match &ev.tls.key {
        Ok(k) => k,
        Err(why) => return unknown(why),
    };
    let owner_ok = Some(key.uid) == ev.owner_uid && key.mode & 0o077 == 0;
    let root_ok = key.uid == 0 && key.mode & 0o037 == 0;
    let mut problems = Vec::new();
    if !(owner_ok || root_ok) {
        problems.push(format!(
            "{}: mode {:04o}, uid {}: must be 0600 owned by the cluster owner, or 0640 owned by root",
            key.path.display(),
            key.mode,
            key.uid
        ));
    }
    let (path, bytes) = match &ev.tls.cert {
        Ok(c) => c,
        Err(why) => return unknown(why),
    };
    let label = path.display().to_string();
    let inspection = match inspect_at(&label, bytes, now) {
        Ok(i) => i,
        Err(e) => return fail(format!("{label}: unreadable: {e}")),
    };
    let window = i64::from(policy.warn_days) * DAY;
    let mut described = Vec::new();
    for item in &inspection.items {
        let Item::Certificate(c) = item else { continue };
        let who = format!("{label} #{} ({})", c.index, c.subject);
        let life = life_left(c.not_after_unix, now);
        if c.not_yet_valid || c.not_before_unix > now {
            problems.push(format!(
                "{who}: not valid before {} (in {})",
                c.not_before,
                span(c.not_before_unix - now)
            ));
        } else if c.expired || c.not_after_unix <= now {
            problems.push(format!("{who}: expired on {}, {life}", c.not_after));
        } else if c.not_after_unix - now <= window {
            problems.push(format!(
                "{who}: valid until {}, {life}, within the {}-day warning window",
                c.not_after, policy.warn_days
            ));
        }
        for w in &c.weaknesses {
            problems.push(format!("{who}: {w}"));
        }
        described.push(format!("{} valid until {}, {life}", c.subject, c.not_after));
    }
    if described.is_empty() {
        problems.push(format!("{label}: holds no certificate"));
    }
    verdict(problems, || {
        format!("{label}: {}; key {} mode {:04o}", described.join("; "), key.path.display(), key.mode)
    })
}

/// The server key: unencrypted (a pass, the evidence saying that only its mode protects it), or
/// encrypted with a passphrase command that does not hold the passphrase and that reloads run too.
/// An encrypted key the server cannot unlock unattended fails: a restart waits on a terminal,
/// and a reload keeps the old key (renewed certificates never take effect).
pub(super) fn server_key_unlock(ev: &Evidence) -> Outcome {
    let key = match &ev.tls.key {
        Ok(k) => k,
        Err(why) => return unknown(why),
    };
    let path = key.path.display();
    let encrypted = match &ev.tls.key_encrypted {
        Ok(e) => *e,
        Err(why) => return unknown(why),
    };
    if !encrypted {
        return pass(format!(
            "{path}: the private key is not encrypted; its mode and owner alone protect it (a copy of the \
             file is the key: `pgharden apply --server-key-passphrase-file FILE` encrypts it)"
        ));
    }
    let command = match ev.setting("ssl_passphrase_command") {
        Ok(c) => c.to_string(),
        Err(why) => return unknown(&why),
    };
    if command.trim().is_empty() {
        return fail(format!(
            "{path}: the private key is encrypted but ssl_passphrase_command is not set: the server asks \
             for the passphrase on a terminal at start (an unattended start fails) and no reload can load a \
             new key"
        ));
    }
    if passphrase_in_command(&command) {
        return fail(format!(
            "ssl_passphrase_command prints a literal ({}): the passphrase is in postgresql.conf, SHOW and ps; \
             print it from a file only the cluster owner can read (`pgharden apply \
             --server-key-passphrase-file FILE` sets that up)",
            command.split_whitespace().next().unwrap_or_default()
        ));
    }
    let reload = match ev.setting("ssl_passphrase_command_supports_reload") {
        Ok(r) => r.to_string(),
        Err(why) => return unknown(&why),
    };
    if crate::values::parse_bool(&reload) != Some(true) {
        return fail(format!(
            "{path}: the private key is encrypted and ssl_passphrase_command_supports_reload = {reload}: a \
             reload cannot unlock it, so the server keeps its old TLS configuration until a restart \
             (renewed or deployed certificates do not take effect)"
        ));
    }
    pass(format!(
        "{path}: the private key is encrypted; ssl_passphrase_command ({command}) unlocks it at start, and \
         ssl_passphrase_command_supports_reload = on at every reload"
    ))
}

/// Whether a passphrase command prints a literal given on its own command line (`echo secret`,
/// `printf '%s' secret`), which puts the passphrase in the configuration and in `ps`.
fn passphrase_in_command(command: &str) -> bool {
    let program = command.split_whitespace().next().unwrap_or_default();
    let name = program.rsplit('/').next().unwrap_or(program);
    matches!(name, "echo" | "printf")
}

/// The first certificate of a PEM file, as DER.
fn first_certificate(bytes: &[u8]) -> Option<Vec<u8>> {
    pem::parse_many(bytes).ok()?.into_iter().find(|p| p.tag() == "CERTIFICATE").map(|p| p.into_contents())
}

/// The server serves what `ssl_cert_file` holds. When a reload fails ("SSL configuration was not
/// reloaded"), the server keeps its old certificate and the file on disk says nothing about it.
pub(super) fn served_certificate(ev: &Evidence) -> Outcome {
    let net = match &ev.network {
        Ok(n) => n,
        Err(why) => return unknown(why),
    };
    let served = match &net.served_leaf {
        Ok(s) => s,
        Err(why) => return unknown(why),
    };
    let (path, bytes) = match &ev.tls.cert {
        Ok(c) => c,
        Err(why) => return unknown(why),
    };
    match first_certificate(bytes) {
        Some(file) if &file == served => {
            pass(format!("{} serves the certificate in {}", net.target, path.display()))
        }
        Some(_) => fail(format!(
            "the certificate {} served is not the one in {}: the server kept its previous TLS \
             configuration (its log says why: \"SSL configuration was not reloaded\")",
            net.target,
            path.display()
        )),
        None => fail(format!("{}: holds no PEM certificate", path.display())),
    }
}

/// `ssl_crl_file` / `ssl_crl_dir`: set, readable, and every CRL current for the warning window.
/// PostgreSQL checks every certificate of a client's chain against the CRLs once any is loaded,
/// so one stale CRL refuses every client of that CA.
pub(super) fn crl(ev: &Evidence, policy: &Policy) -> Outcome {
    crl_at(ev, policy, now())
}

/// [`crl`] as of `now` (Unix seconds).
pub(super) fn crl_at(ev: &Evidence, policy: &Policy, now: i64) -> Outcome {
    let file = ev.setting("ssl_crl_file").unwrap_or_default().to_string();
    let dir = ev.setting("ssl_crl_dir").unwrap_or_default().to_string();
    if file.is_empty() && dir.is_empty() {
        return match &ev.settings {
            Ok(_) => {
                fail("neither ssl_crl_file nor ssl_crl_dir is set: revoked client certificates still work")
            }
            Err(why) => unknown(why),
        };
    }
    let crls = match &ev.tls.crls {
        Ok(c) => c,
        // A configured CRL that cannot be read is the finding the text names ("If the CRL file
        // does not exist, this is a finding"); the server cannot load it either.
        Err(crate::evidence::Missing::Failed { what, reason }) => {
            return fail(format!("{what}: {reason}"));
        }
        Err(why) => return unknown(why),
    };
    if crls.is_empty() {
        return fail(format!("ssl_crl_dir = {dir:?} holds no CRL"));
    }
    let window = i64::from(policy.warn_days) * DAY;
    let mut problems = Vec::new();
    let mut described = Vec::new();
    let mut count = 0;
    for (path, bytes) in crls {
        let label = path.display().to_string();
        let inspection: Inspection = match inspect_at(&label, bytes, now) {
            Ok(i) => i,
            Err(e) => {
                problems.push(format!("{label}: unreadable: {e}"));
                continue;
            }
        };
        for item in &inspection.items {
            let Item::Crl(c) = item else { continue };
            count += 1;
            let who = format!("{label} #{} (issuer {})", c.index, c.issuer);
            match (c.next_update_unix, &c.next_update) {
                (Some(next), Some(shown)) if c.stale || next <= now => problems.push(format!(
                    "{who}: the next update was due {shown}, {}; PostgreSQL refuses every client of this CA",
                    life_left(next, now)
                )),
                (Some(next), Some(shown)) if next - now <= window => problems.push(format!(
                    "{who}: next update {shown}, {}, within the {}-day warning window",
                    life_left(next, now),
                    policy.warn_days
                )),
                (Some(next), Some(shown)) => {
                    described.push(format!("{who}: next update {shown}, {}", life_left(next, now)));
                }
                _ => problems.push(format!("{who}: has no next update")),
            }
            for w in &c.weaknesses {
                problems.push(format!("{who}: {w}"));
            }
        }
    }
    if count == 0 {
        problems.push("no CRL in the configured files".into());
    }
    verdict(problems, || {
        format!(
            "ssl_crl_file = {file:?}, ssl_crl_dir = {dir:?}: {count} CRLs, each current for more than {} days: {}",
            policy.warn_days,
            described.join("; ")
        )
    })
}

pub(super) fn network(
    ev: &Evidence,
    pick: impl Fn(&NetworkFacts) -> &Fact<(bool, String)>,
    what: &str,
) -> Outcome {
    let net = match &ev.network {
        Ok(n) => n,
        Err(why) => return unknown(why),
    };
    match pick(net) {
        Ok((true, said)) => pass(format!("{}: {what} refused: {said}", net.target)),
        Ok((false, said)) => fail(format!("{}: {what} accepted: {said}", net.target)),
        // A failed probe's reason names the target already.
        Err(why @ crate::evidence::Missing::ProbeFailed(reason)) if reason.contains(&net.target) => {
            not_checked(why.to_string())
        }
        Err(why) => not_checked(format!("{}: {why}", net.target)),
    }
}

/// TLS 1.0 and 1.1 refused; a probe that did not get answers for both is not a pass.
pub(super) fn tls_versions(ev: &Evidence) -> Outcome {
    let net = match &ev.network {
        Ok(n) => n,
        Err(why) => return unknown(why),
    };
    let versions = match &net.tls_versions {
        Ok(v) => v,
        Err(why) => return unknown(why),
    };
    let old = [TlsVersionName::Tls1_0, TlsVersionName::Tls1_1];
    let probed = |v: TlsVersionName| versions.iter().any(|(x, _)| *x == v);
    if let Some(v) = old.iter().find(|v| !probed(**v)) {
        return unknown(&crate::evidence::Missing::ProbeFailed(format!("{} was not probed", v.name())));
    }
    let accepted: Vec<&str> = versions.iter().filter(|(_, ok)| *ok).map(|(v, _)| v.name()).collect();
    let old_accepted: Vec<&str> =
        versions.iter().filter(|(v, ok)| *ok && old.contains(v)).map(|(v, _)| v.name()).collect();
    if old_accepted.is_empty() {
        pass(format!("{} accepts {} and refuses TLS 1.0 and 1.1", net.target, accepted.join(", ")))
    } else {
        fail(format!("{} accepts {}", net.target, old_accepted.join(", ")))
    }
}
