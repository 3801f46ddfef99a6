//! What in a PKI is due for renewal and by when, and renewing it: every CA's CRL, and the server
//! and client certificates that are current (neither replaced nor revoked).
//!
//! Owns: the schedule ([`Pki::schedule`]: what is due now, what falls due next, and the CAs that
//! renewal cannot replace), re-issuing a certificate from its recorded request with a fresh key, and
//! re-issuing the CRLs of chosen CAs. CRL times are read from the CRL files themselves, which are
//! what servers and clients load; certificate times from the ledger.
//! Must not: touch anything outside the PKI directory (deploying is the cluster crate's job).

use std::path::PathBuf;

use serde::Serialize;
use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::authority::{ClientRequest, Issued, Pki, ServerRequest};
use crate::error::{Error, Result};
use crate::files;
use crate::inspect::rfc3339;
use crate::key::Passphrase;
use crate::ledger::{Entry, Kind, Requested};
use crate::validity::{Threshold, Validity};

/// Something renewal can refresh.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "what", rename_all = "kebab-case")]
pub enum Item {
    /// The CRL of a CA.
    Crl {
        /// The CA that issues the CRL.
        ca: Kind,
    },
    /// A current server or client certificate.
    Certificate {
        /// Serial, lowercase hex without separators.
        serial: String,
        /// [`Kind::Server`] or [`Kind::Client`].
        kind: Kind,
        /// Directory name under `servers/` or `clients/`.
        name: String,
        /// The role it logs in as (client certificates).
        role: Option<String>,
    },
}

/// An item with its lifetime and the moment it is (or becomes) due.
#[derive(Debug, Clone, Serialize)]
pub struct Due {
    /// What is to be refreshed.
    pub item: Item,
    /// Start of its validity (thisUpdate for a CRL); now when the file is unusable.
    #[serde(with = "time::serde::rfc3339")]
    pub valid_from: OffsetDateTime,
    /// End of its validity (nextUpdate for a CRL); now when the file is unusable.
    #[serde(with = "time::serde::rfc3339")]
    pub valid_until: OffsetDateTime,
    /// When the threshold makes it due.
    #[serde(with = "time::serde::rfc3339")]
    pub due_at: OffsetDateTime,
    /// In words: how much is left, and of what.
    pub reason: String,
}

/// The PKI's schedule at one moment.
#[derive(Debug, Clone, Serialize)]
pub struct Schedule {
    /// The moment the schedule was made for (the PKI's clock).
    #[serde(with = "time::serde::rfc3339")]
    pub now: OffsetDateTime,
    /// What is due now, CRLs first (root, server CA, client CA), then certificates.
    pub due: Vec<Due>,
    /// When the next item that is not yet due falls due.
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_due: Option<OffsetDateTime>,
    /// CAs within the threshold: renewal cannot replace them; a new hierarchy must be built.
    pub warnings: Vec<String>,
}

impl Pki {
    /// What is due at the PKI's current time under `threshold`.
    pub fn schedule(&self, threshold: Threshold) -> Result<Schedule> {
        let now = self.now();
        let mut items = Vec::new();
        for ca in [Kind::Root, Kind::ServerCa, Kind::ClientCa] {
            items.push(self.crl_due(ca, threshold)?);
        }
        for entry in self.current_leaves() {
            let (from, until) = (entry.not_before, entry.not_after);
            let left = left_words(until - now);
            let reason = format!(
                "{} certificate {} ({}): {left} of {} left, {}",
                entry.kind.label(),
                entry.name,
                entry.serial,
                life_words(until - from),
                if until <= now { "expired".to_string() } else { format!("expires {}", rfc3339(until)) }
            );
            items.push(Due {
                item: Item::Certificate {
                    serial: entry.serial.clone(),
                    kind: entry.kind,
                    name: entry.name.clone(),
                    role: entry.role.clone(),
                },
                valid_from: from,
                valid_until: until,
                due_at: threshold.due_at(from, until),
                reason,
            });
        }
        let next_due = items.iter().map(|d| d.due_at).filter(|at| *at > now).min();
        let due = items.into_iter().filter(|d| d.due_at <= now).collect();
        Ok(Schedule { now, due, next_due, warnings: self.ca_warnings(threshold, now) })
    }

    /// Re-issue a current certificate from its recorded request: same names, CN, role, key type and
    /// lifetime, a fresh key; the old one is marked replaced (it stays valid until it expires).
    pub fn renew_certificate(&mut self, serial: &str, pass: Option<&Passphrase>) -> Result<Issued> {
        let entry = self.ledger.find(serial).cloned().ok_or_else(|| Error::UnknownSerial(serial.into()))?;
        if entry.replaced_by.is_some() || entry.revoked.is_some() || entry.kind.is_ca() {
            return Err(Error::invalid(
                "certificate",
                serial,
                "only a current server or client certificate is renewed (this one is a CA, replaced or revoked)",
            ));
        }
        let request = match &entry.request {
            Some(r) => r.clone(),
            None => self.request_of_old_entry(&entry)?,
        };
        match entry.kind {
            Kind::Server => self.issue_server(
                &ServerRequest {
                    hosts: request.hosts,
                    name: Some(entry.name),
                    valid: Some(request.valid),
                    key_type: Some(request.key_type),
                    force: true,
                    ..Default::default()
                },
                pass,
            ),
            _ => {
                let role = request.role.or(entry.role).unwrap_or_else(|| request.cn.clone());
                let cn = (request.cn != role).then_some(request.cn);
                self.issue_client(
                    &ClientRequest {
                        role,
                        cn,
                        name: Some(entry.name),
                        valid: Some(request.valid),
                        key_type: Some(request.key_type),
                        force: true,
                        ..Default::default()
                    },
                    pass,
                )
            }
        }
    }

    /// Re-issue the CRLs of `cas` (and the bundle). Every CRL number is checked before anything is
    /// written, so an exhausted one leaves every CRL as it was.
    pub fn reissue_crls_of(&mut self, cas: &[Kind], pass: Option<&Passphrase>) -> Result<Vec<PathBuf>> {
        self.check_crl_numbers(cas)?;
        let mut loaded = Vec::with_capacity(cas.len());
        for &kind in cas {
            loaded.push(self.load_ca(kind, pass)?);
        }
        let mut written = Vec::new();
        for ca in &loaded {
            written.push(self.write_crl(ca)?);
        }
        written.push(self.write_crl_bundle()?);
        Ok(written)
    }

    /// The certificate that now stands where `serial` stood: itself, or the end of its chain of
    /// replacements.
    pub fn successor(&self, serial: &str) -> Option<&Entry> {
        let mut entry = self.ledger.find(serial)?;
        // A ledger edited into a loop must not hang: at most one step per entry.
        for _ in 0..=self.ledger.certificates.len() {
            match &entry.replaced_by {
                Some(next) => entry = self.ledger.find(next)?,
                None => return Some(entry),
            }
        }
        None
    }

    /// Leaves neither replaced nor revoked whose files exist.
    fn current_leaves(&self) -> impl Iterator<Item = &Entry> {
        self.ledger.certificates.iter().filter(|e| {
            !e.kind.is_ca()
                && e.replaced_by.is_none()
                && e.revoked.is_none()
                && self.dir.join(&e.path).exists()
        })
    }

    fn crl_due(&self, ca: Kind, threshold: Threshold) -> Result<Due> {
        let now = self.now();
        let path = self.crl_path(ca);
        let item = Item::Crl { ca };
        let unusable = |why: String| Due {
            item: item.clone(),
            valid_from: now,
            valid_until: now,
            due_at: now,
            reason: format!("CRL of the {} ({}): {why}", ca.label(), path.display()),
        };
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) => return Ok(unusable(format!("cannot be read ({e})"))),
        };
        let Some((from, until)) = crl_times(&bytes) else {
            return Ok(unusable("does not parse, or has no next update".into()));
        };
        let reason = format!(
            "CRL of the {}: {} of {} left (next update {})",
            ca.label(),
            left_words(until - now),
            life_words(until - from),
            rfc3339(until)
        );
        Ok(Due { item, valid_from: from, valid_until: until, due_at: threshold.due_at(from, until), reason })
    }

    fn ca_warnings(&self, threshold: Threshold, now: OffsetDateTime) -> Vec<String> {
        [Kind::Root, Kind::ServerCa, Kind::ClientCa]
            .iter()
            .filter_map(|&kind| self.ledger.ca(kind))
            .filter(|e| threshold.due_at(e.not_before, e.not_after) <= now)
            .map(|e| {
                format!(
                    "the {} expires {} ({} left); renew cannot replace a CA: build a new hierarchy \
                     (`pgharden pki init --force` in a new directory) and move servers and clients to it",
                    e.kind.label(),
                    rfc3339(e.not_after),
                    left_words(e.not_after - now)
                )
            })
            .collect()
    }

    /// The request of a certificate issued before requests were recorded: names and role from the
    /// ledger, the CN from the certificate itself (typed, not from the rendered subject).
    fn request_of_old_entry(&self, entry: &Entry) -> Result<Requested> {
        let path = self.dir.join(&entry.path);
        let text = files::read(&path)?;
        let block = pem::parse_many(&text)
            .map_err(|e| Error::bad_file(&path, format!("not a PEM file ({e})")))?
            .into_iter()
            .find(|b| b.tag() == "CERTIFICATE")
            .ok_or_else(|| Error::bad_file(&path, "no CERTIFICATE in the file"))?;
        let (_, x509) = X509Certificate::from_der(block.contents())
            .map_err(|e| Error::bad_file(&path, format!("corrupt certificate: {e}")))?;
        let cn = x509
            .subject()
            .iter_common_name()
            .next()
            .and_then(|a| a.as_str().ok())
            .map(str::to_string)
            .or_else(|| entry.role.clone())
            .or_else(|| entry.sans.first().cloned())
            .ok_or_else(|| Error::bad_file(&path, "the certificate has no CN to renew it with"))?;
        let secs = (entry.not_after - entry.not_before).whole_seconds().max(3600);
        let valid = Validity::from_seconds(u64::try_from(secs).unwrap_or(3600))?;
        Ok(Requested {
            cn,
            hosts: entry.sans.clone(),
            role: entry.role.clone(),
            key_type: entry.key_type,
            valid,
        })
    }
}

/// thisUpdate and nextUpdate of the first CRL in a PEM file.
fn crl_times(bytes: &[u8]) -> Option<(OffsetDateTime, OffsetDateTime)> {
    let block = pem::parse_many(bytes).ok()?.into_iter().find(|b| b.tag() == "X509 CRL")?;
    let (_, crl) =
        x509_parser::revocation_list::CertificateRevocationList::from_der(block.contents()).ok()?;
    Some((crl.last_update().to_datetime(), crl.next_update()?.to_datetime()))
}

/// "9 days", "17 hours", "expired 2 days ago".
pub(crate) fn left_words(left: time::Duration) -> String {
    if left <= time::Duration::ZERO {
        return format!("none (ended {} ago)", life_words(-left));
    }
    life_words(left)
}

/// A positive duration in days, or hours under two days.
fn life_words(d: time::Duration) -> String {
    if d >= time::Duration::days(2) {
        format!("{} days", d.whole_days())
    } else {
        let h = d.whole_hours();
        format!("{h} hour{}", if h == 1 { "" } else { "s" })
    }
}
