//! One renewal run: the PKI's schedule, the re-issues it calls for, and, for every cluster, the
//! TLS files deployed with a reload and proven.
//!
//! The order keeps every state a crash can leave usable: CRLs and certificates are re-issued first
//! (each committed in the PKI directory on its own, old certificates still valid); then each
//! cluster gets one atomic file per TLS file (the key and its chain in one), checked by the server,
//! reloaded. A run killed at any point is finished by the next: it compares what each data
//! directory holds, and what the server serves, with what the PKI says is current.
//! Must not: restart a server.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use pgharden_cluster::{Material, Plan, Session};
use pgharden_pki::{Entry, Item, Kind, Passphrase, Pki, Schedule, Status, Threshold, fingerprint};
use serde::Serialize;
use time::OffsetDateTime;

use crate::error::{Error, Result};
use crate::prove::{self, ClientCert, Proof};

/// How to renew.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// When a CRL or certificate counts as due (a share of its lifetime left, or a time).
    pub threshold: Threshold,
    /// Only say what is due and what would be done.
    pub plan: bool,
}

/// One thing renew does (or, with `plan`, would do).
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Action {
    /// Re-issue a CA's CRL.
    Crl {
        /// The CA whose CRL it is.
        ca: Kind,
        /// Why it is due (time left, or already past its next update).
        reason: String,
    },
    /// Re-issue a certificate (`serial` is the old one).
    Certificate {
        /// Which kind of certificate (root, one of the two CAs, server, client).
        kind: Kind,
        /// Its name in the PKI.
        name: String,
        /// Serial of the certificate being replaced, lowercase hex.
        serial: String,
        /// For a client certificate, the role it logs in as.
        #[serde(skip_serializing_if = "Option::is_none")]
        role: Option<String>,
        /// Serial of the re-issued certificate; `None` in a plan, where nothing is issued.
        #[serde(skip_serializing_if = "Option::is_none")]
        new_serial: Option<String>,
        /// Why it is due.
        reason: String,
    },
    /// Install TLS files in a cluster and reload it.
    Deploy {
        /// The cluster's data directory.
        cluster: PathBuf,
        /// The files written (or to be written), full paths.
        files: Vec<PathBuf>,
        /// Settings changed with them, each as `name = value`.
        settings: Vec<String>,
        /// Which files differed from the PKI's current ones.
        reason: String,
    },
    /// Reload a cluster whose files are right but whose server still serves older ones.
    Reload {
        /// The cluster's data directory.
        cluster: PathBuf,
        /// Which serial the server serves instead of the one its files hold.
        reason: String,
    },
}

/// A client certificate re-issued: its owner must install the new one.
#[derive(Debug, Clone, Serialize)]
pub struct Redistribute {
    /// The role the certificate logs in as.
    pub role: String,
    /// Its name in the PKI.
    pub name: String,
    /// Serial of the new certificate, lowercase hex.
    pub serial: String,
    /// The command that installs it into the invoking user's home, runnable as printed by someone
    /// who can read the PKI directory (root on this host; add `--home HOME` for another user),
    /// with the program named `pgharden`; a caller that knows how it was started renders
    /// [`Redistribute::args`] with its own name instead.
    pub command: String,
    /// The arguments of that command after the program name.
    pub args: Vec<String>,
}

/// What a cluster looks like after the run.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterResult {
    /// The cluster's data directory.
    pub data_dir: PathBuf,
    /// File names written in the data directory.
    pub changed: Vec<String>,
    /// Whether the server was sent a reload (never a restart).
    pub reloaded: bool,
    /// The running postmaster's pid, the same before and after; `None` when it is not running.
    pub postmaster_pid: Option<i32>,
    /// The serial the server serves (lowercase hex), when it listens on TCP.
    pub served_serial: Option<String>,
    /// Whether a client certificate got through TLS in the proof (`None`: none was offered).
    pub client_certificate_accepted: Option<bool>,
    /// The handshake that proved the deployment; `None` when nothing was deployed or reloaded,
    /// or the server listens on no TCP address.
    pub proof: Option<Proof>,
}

/// The whole run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Version of this report's JSON layout (1).
    pub format: u32,
    /// The time the schedule was computed at.
    #[serde(with = "time::serde::rfc3339")]
    pub now: OffsetDateTime,
    /// Whether this was only a plan: `actions` say what would be done, nothing was changed.
    pub plan: bool,
    /// The threshold used, in words (`1/3`, `20%`, `72h left`).
    pub threshold: String,
    /// What was done (or would be, in a plan), in order.
    pub actions: Vec<Action>,
    /// When the next item falls due (after this run's re-issues).
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_due: Option<OffsetDateTime>,
    /// Client certificates re-issued in this run, which their owners must install.
    pub redistribute: Vec<Redistribute>,
    /// Each cluster that was checked, in the order given.
    pub clusters: Vec<ClusterResult>,
    /// What renewal cannot fix (a CA near its end), for a person to act on.
    pub warnings: Vec<String>,
    /// What must happen elsewhere because of this run (clients that keep the CRLs need the new
    /// ones), in words.
    pub notes: Vec<String>,
    /// Clusters that failed, each with why; the others were still done.
    pub errors: Vec<String>,
}

/// Renew what is due in the PKI at `pki_dir` and deploy it to `sessions`. `passphrase` is asked
/// only when something must be signed and the CA keys are encrypted.
pub fn renew(
    pki_dir: &Path,
    sessions: &mut [Session],
    opts: &Options,
    passphrase: &mut dyn FnMut() -> Result<Passphrase>,
) -> Result<Report> {
    let mut pki = Pki::open(pki_dir)?;
    let schedule = pki.schedule(opts.threshold)?;
    let mut actions = Vec::new();
    let mut redistribute = Vec::new();
    if !opts.plan && !schedule.due.is_empty() {
        let pass = if pki.needs_passphrase() { Some(passphrase()?) } else { None };
        reissue(&mut pki, &schedule, pass.as_ref(), &mut actions, &mut redistribute)?;
    } else {
        actions.extend(schedule.due.iter().map(|d| planned(d.item.clone(), d.reason.clone())));
    }
    let after = if opts.plan { schedule.clone() } else { pki.schedule(opts.threshold)? };
    let mut notes = Vec::new();
    if actions.iter().any(|a| matches!(a, Action::Crl { .. })) {
        notes.push(format!(
            "clients that keep a copy of the CRLs (~/.postgresql/root.crl, sslcrl) refuse the server once \
             their copy passes its next update: install {} there (`pgharden client --pki {} --role ROLE --force` \
             does, with the client certificate)",
            pki.dir().join(pgharden_pki::CRL_BUNDLE).display(),
            pgharden_text::shell_word(&pki.dir().display().to_string())
        ));
    }
    let mut clusters = Vec::new();
    let mut errors = Vec::new();
    for session in sessions.iter_mut() {
        match cluster_step(&pki, session, &schedule, opts.plan) {
            Ok((acts, result)) => {
                actions.extend(acts);
                clusters.extend(result);
            }
            Err(e) => errors.push(format!("{}: {e}", session.cluster.data_dir.display())),
        }
    }
    Ok(Report {
        format: 1,
        now: schedule.now,
        plan: opts.plan,
        threshold: opts.threshold.to_string(),
        actions,
        next_due: after.next_due,
        redistribute,
        clusters,
        warnings: schedule.warnings,
        notes,
        errors,
    })
}

/// Install `material` (a certificate from any CA) in one cluster, alone, with a reload, and prove
/// it (offering `client` when given, whose chain must lead to one of `roots`). With `plan_only`,
/// only the plan.
pub fn deploy(
    session: &mut Session,
    material: &Material,
    plan_only: bool,
    client: Option<&ClientCert>,
    roots: &[Vec<u8>],
) -> Result<(Plan, Option<ClusterResult>)> {
    let plan = session.plan_tls(material)?;
    if plan_only {
        return Ok((plan, None));
    }
    let (_, result) = bring_up(session, &plan, material.leaf(), client, roots)?;
    Ok((plan, Some(result)))
}

/// Re-issue the due CRLs (all CAs at once) and certificates.
fn reissue(
    pki: &mut Pki,
    schedule: &Schedule,
    pass: Option<&Passphrase>,
    actions: &mut Vec<Action>,
    redistribute: &mut Vec<Redistribute>,
) -> Result<()> {
    let cas: Vec<Kind> = schedule
        .due
        .iter()
        .filter_map(|d| match d.item {
            Item::Crl { ca } => Some(ca),
            Item::Certificate { .. } => None,
        })
        .collect();
    if !cas.is_empty() {
        pki.reissue_crls_of(&cas, pass)?;
    }
    for due in &schedule.due {
        match &due.item {
            Item::Crl { ca } => actions.push(Action::Crl { ca: *ca, reason: due.reason.clone() }),
            Item::Certificate { serial, kind, name, role } => {
                let issued = pki.renew_certificate(serial, pass)?;
                if *kind == Kind::Client {
                    let role = role.clone().unwrap_or_else(|| name.clone());
                    let args = client_args(pki, &role);
                    redistribute.push(Redistribute {
                        command: command_line(&args),
                        args,
                        role: role.clone(),
                        name: name.clone(),
                        serial: issued.entry.serial.clone(),
                    });
                }
                actions.push(Action::Certificate {
                    kind: *kind,
                    name: name.clone(),
                    serial: serial.clone(),
                    role: role.clone(),
                    new_serial: Some(issued.entry.serial),
                    reason: due.reason.clone(),
                });
            }
        }
    }
    Ok(())
}

fn planned(item: Item, reason: String) -> Action {
    match item {
        Item::Crl { ca } => Action::Crl { ca, reason },
        Item::Certificate { serial, kind, name, role } => {
            Action::Certificate { kind, name, serial, role, new_serial: None, reason }
        }
    }
}

/// `pgharden client` for a re-issued client certificate (it installs the role's newest one),
/// quoted for a POSIX shell; with `--host` when the PKI has several server certificates (the
/// client command could not choose).
fn client_args(pki: &Pki, role: &str) -> Vec<String> {
    let servers: Vec<Entry> = pki
        .list()
        .into_iter()
        .filter(|l| l.entry.kind == Kind::Server && l.status == Status::Valid)
        .map(|l| l.entry)
        .collect();
    let host = match servers.as_slice() {
        [_] | [] => None,
        [first, ..] => first.sans.first().cloned(),
    };
    install_args(&pki.dir().display().to_string(), role, host.as_deref())
}

/// `client --pki DIR --role ROLE [--host HOST] --force`.
fn install_args(pki_dir: &str, role: &str, host: Option<&str>) -> Vec<String> {
    let mut args = vec!["client".into(), "--pki".into(), pki_dir.into(), "--role".into(), role.into()];
    if let Some(h) = host {
        args.extend(["--host".into(), h.into()]);
    }
    args.push("--force".into());
    args
}

/// `pgharden` and `args`, each quoted for a POSIX shell.
fn command_line(args: &[String]) -> String {
    std::iter::once("pgharden".to_string())
        .chain(args.iter().map(|a| pgharden_text::shell_word(a)))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Bring one cluster onto the PKI's current certificate and CRLs.
fn cluster_step(
    pki: &Pki,
    session: &mut Session,
    schedule: &Schedule,
    plan_only: bool,
) -> Result<(Vec<Action>, Option<ClusterResult>)> {
    let data_dir = session.cluster.data_dir.clone();
    let current = current_certificate(pki, session)?;
    let material = Material::from_pki(pki, &current)?;
    let plan = session.plan_tls(&material)?;
    let mut actions = Vec::new();
    if plan_only {
        let files = predicted_files(&plan, &current, schedule, &data_dir);
        if !files.is_empty() {
            actions.push(deploy_action(&data_dir, files, &plan));
        } else if let Some(reason) = stale_server(session, material.leaf())? {
            actions.push(Action::Reload { cluster: data_dir, reason });
        }
        return Ok((actions, None));
    }
    let client = proof_client(pki);
    let roots = vec![root_der(pki)?];
    let (action, result) = bring_up(session, &plan, material.leaf(), client.as_ref(), &roots)?;
    actions.extend(action);
    Ok((actions, Some(result)))
}

/// Install the plan's files (or, when they are already right but the server serves something
/// else, reload), and prove the server serves `leaf`.
fn bring_up(
    session: &mut Session,
    plan: &Plan,
    leaf: &[u8],
    client: Option<&ClientCert>,
    roots: &[Vec<u8>],
) -> Result<(Option<Action>, ClusterResult)> {
    let data_dir = session.cluster.data_dir.clone();
    if !plan.is_empty() {
        let files: Vec<PathBuf> = plan.files.iter().map(|f| f.path.clone()).collect();
        let action = deploy_action(&data_dir, files, plan);
        return Ok((Some(action), install(session, plan, leaf, client, roots)?));
    }
    if let Some(reason) = stale_server(session, leaf)? {
        session.reload()?;
        let proof = proof_of(session, leaf, client, roots)?;
        return Ok((
            Some(Action::Reload { cluster: data_dir, reason }),
            result_of(session, Vec::new(), true, proof),
        ));
    }
    let served = prove::target_of(&session.cluster)
        .map(|t| prove::served_leaf(&t).map(|leaf| prove::serial_of(&leaf)))
        .transpose()?;
    let mut result = result_of(session, Vec::new(), false, None);
    result.served_serial = served;
    Ok((None, result))
}

/// Write, reload, prove; on a failed proof every file is put back.
fn install(
    session: &mut Session,
    plan: &Plan,
    leaf: &[u8],
    client: Option<&ClientCert>,
    roots: &[Vec<u8>],
) -> Result<ClusterResult> {
    let target = prove::target_of(&session.cluster);
    let mut proof = None;
    let applied = session.apply_proven(plan, &mut || {
        if let Some(t) = &target {
            proof = Some(
                prove::prove(t, leaf, roots, client)
                    .map_err(|e| pgharden_cluster::Error::Rejected { reason: e.to_string() })?,
            );
        }
        Ok(())
    })?;
    let changed = applied
        .files
        .iter()
        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    Ok(result_of(session, changed, applied.reloaded, proof))
}

fn proof_of(
    session: &Session,
    leaf: &[u8],
    client: Option<&ClientCert>,
    roots: &[Vec<u8>],
) -> Result<Option<Proof>> {
    prove::target_of(&session.cluster).map(|t| prove::prove(&t, leaf, roots, client)).transpose()
}

fn result_of(session: &Session, changed: Vec<String>, reloaded: bool, proof: Option<Proof>) -> ClusterResult {
    ClusterResult {
        data_dir: session.cluster.data_dir.clone(),
        changed,
        reloaded,
        postmaster_pid: session.cluster.postmaster.as_ref().map(|p| p.pid),
        served_serial: proof.as_ref().map(|p| p.served_serial.clone()),
        client_certificate_accepted: proof.as_ref().and_then(|p| p.client_certificate_accepted),
        proof,
    }
}

fn deploy_action(data_dir: &Path, files: Vec<PathBuf>, plan: &Plan) -> Action {
    let settings: Vec<String> = plan.settings.iter().map(|s| format!("{} = {}", s.name, s.to)).collect();
    let names: Vec<String> =
        files.iter().filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned())).collect();
    Action::Deploy {
        cluster: data_dir.to_path_buf(),
        reason: format!("{} differ from the PKI's current files; installed with a reload", names.join(", ")),
        files,
        settings,
    }
}

/// With `--plan`, nothing is re-issued yet: the files that differ now, plus those the due items
/// would change.
fn predicted_files(plan: &Plan, current: &Entry, schedule: &Schedule, data_dir: &Path) -> Vec<PathBuf> {
    let mut files: BTreeSet<PathBuf> = plan.files.iter().map(|f| f.path.clone()).collect();
    for due in &schedule.due {
        match &due.item {
            Item::Crl { .. } => {
                files.insert(data_dir.join(pgharden_cluster::profile::CRL_FILE));
            }
            Item::Certificate { serial, .. } if *serial == current.serial => {
                files.insert(data_dir.join(pgharden_cluster::profile::SERVER_PEM));
            }
            Item::Certificate { .. } => {}
        }
    }
    files.into_iter().collect()
}

/// `Some(why)` when the server serves another certificate than its data directory holds (a run
/// killed between writing and reloading, or a reload that did not take).
fn stale_server(session: &Session, expected: &[u8]) -> Result<Option<String>> {
    let Some(target) = prove::target_of(&session.cluster) else { return Ok(None) };
    let served = prove::served_leaf(&target)?;
    Ok((served != expected).then(|| {
        format!(
            "the server serves certificate {} but its data directory holds {}",
            prove::serial_of(&served),
            prove::serial_of(expected)
        )
    }))
}

/// The PKI's current certificate for the one the cluster holds (following replacements).
fn current_certificate(pki: &Pki, session: &Session) -> Result<Entry> {
    let data_dir = session.cluster.data_dir.clone();
    let not_ours = |reason: String| Error::NotFromPki { data_dir: data_dir.clone(), reason };
    let Some(leaf) = session.deployed_leaf()? else {
        return Err(not_ours(format!(
            "no server certificate in {} (server.pem); install one first: pgharden apply --pgdata {} --pki {} --host NAME",
            pgharden_cluster::profile::SERVER_PEM,
            data_dir.display(),
            pki.dir().display()
        )));
    };
    let sha = fingerprint(&leaf);
    let entry = pki.ledger().certificates.iter().find(|e| e.sha256 == sha).ok_or_else(|| {
        not_ours(format!(
            "its server certificate (serial {}) was not issued by {}; renew it where it was issued and install it with `pgharden deploy`",
            prove::serial_of(&leaf),
            pki.dir().display()
        ))
    })?;
    let current = pki.successor(&entry.serial).cloned().ok_or_else(|| {
        not_ours(format!("the ledger's chain of replacements for {} is broken", entry.serial))
    })?;
    let status = pki.list().into_iter().find(|l| l.entry.serial == current.serial).map(|l| l.status);
    match status {
        Some(Status::Valid) => Ok(current),
        Some(other) => Err(not_ours(format!(
            "the PKI's current server certificate {} ({}) is {}; issue a new one: pgharden pki server --dir {} {}",
            current.name,
            current.serial,
            other.label(),
            pki.dir().display(),
            current.sans.iter().map(|h| format!("--host {h}")).collect::<Vec<_>>().join(" ")
        ))),
        None => Err(not_ours(format!("{} vanished from the ledger", current.serial))),
    }
}

/// A valid client certificate of the PKI to prove that TLS accepts client certificates.
fn proof_client(pki: &Pki) -> Option<ClientCert> {
    let now = pki.now();
    pki.list()
        .into_iter()
        .filter(|l| l.entry.kind == Kind::Client && l.status == Status::Valid && l.entry.not_after > now)
        .max_by_key(|l| l.entry.not_after)
        .map(|l| {
            let cert = pki.dir().join(&l.entry.path);
            ClientCert {
                key: cert.with_file_name("client.key"),
                cert,
                role: l.entry.role.clone().unwrap_or(l.entry.name),
            }
        })
}

fn root_der(pki: &Pki) -> Result<Vec<u8>> {
    let path = pki.ca_cert_path(Kind::Root);
    let text = pgharden_pki::files::read(&path)?;
    pem_first_certificate(&text).ok_or_else(|| Error::Proof(format!("{}: no certificate", path.display())))
}

/// The first CERTIFICATE block of a PEM text, DER.
pub(crate) fn pem_first_certificate(text: &[u8]) -> Option<Vec<u8>> {
    use rustls_pki_types::pem::PemObject;
    rustls_pki_types::CertificateDer::pem_slice_iter(text).next()?.ok().map(|c| c.as_ref().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_redistribution_command_is_runnable_as_printed() {
        assert_eq!(
            command_line(&install_args("/etc/pgharden/pki", "alice", None)),
            "pgharden client --pki /etc/pgharden/pki --role alice --force"
        );
        assert_eq!(
            command_line(&install_args("/srv/my pki", "O'Brien", Some("db1.example.com"))),
            "pgharden client --pki '/srv/my pki' --role 'O'\\''Brien' --host db1.example.com --force"
        );
    }
}
