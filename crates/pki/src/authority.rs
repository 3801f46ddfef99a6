//! A PKI directory: the STIG Appendix G hierarchy and everything it issues.
//!
//! Owns: `pki init` (root CA, server and client intermediate CAs, their CRLs), issuing server and
//! client certificates, revocation, CRL re-issue, listing, and crash recovery of an interrupted issue.
//! Every operation holds the directory lock, checks its issuer before signing (a CA that is expired,
//! not yet valid, revoked, not a CA, or whose key does not match its certificate issues nothing), and
//! writes in the order *files pending → ledger → files committed*, so that after a crash each
//! certificate on disk is in the ledger and a pending file is either finished or removed on next open.
//! Must not: know about PostgreSQL servers or clients beyond the naming rules of roles and hosts.
//!
//! ```text
//! DIR/root/{ca.crt,ca.key,crl.pem}  DIR/server-ca/…  DIR/client-ca/…  DIR/crls.pem
//! DIR/servers/NAME/{server.crt,server.key}  DIR/clients/ROLE/{client.crt,client.key}  DIR/ledger.json
//! ```

use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use rand::RngCore;
use rcgen::{
    BasicConstraints, CertificateParams, CertificateRevocationListParams, CustomExtension, DistinguishedName,
    DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyIdMethod, KeyPair, KeyUsagePurpose, PublicKeyData,
    RevokedCertParams, SanType, SerialNumber,
};
use serde::Serialize;
use sha2::{Digest, Sha256};
use time::{Duration, OffsetDateTime};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::clock::Clock;
use crate::error::{Error, Result};
use crate::files::{self, DIR_MODE, DirLock, KEY_MODE, PUBLIC_DIR_MODE, PUBLIC_MODE};
use crate::inspect::rfc3339;
use crate::key::{self, KeyType, Passphrase};
use crate::ledger::{CrlNumberExhausted, CrlNumbers, Entry, Kind, Ledger, Reason, Requested, Revocation};
use crate::validity::Validity;

/// Default validity of the root CA, in days.
pub const ROOT_DAYS: u32 = 3650;
/// Longest validity of the intermediate CAs, in days.
pub const INTERMEDIATE_DAYS: u32 = 1825;
/// Default validity of a server certificate (the CA/Browser Forum maximum).
pub const SERVER_DAYS: u32 = 397;
/// Default validity of a client certificate.
pub const CLIENT_DAYS: u32 = 365;
/// Default validity of a CRL. PostgreSQL rejects connections once a CRL in its file has expired.
pub const CRL_DAYS: u32 = 30;
/// Certificates start a little in the past so a client whose clock lags does not reject them.
const BACKDATE: Duration = Duration::minutes(5);
/// PostgreSQL truncates identifiers to NAMEDATALEN-1 bytes.
const MAX_ROLE_BYTES: usize = 63;
/// Name of the file holding every CA's CRL, root first (for `ssl_crl_file` and `sslcrl`).
pub const CRL_BUNDLE: &str = "crls.pem";
/// id-ce-basicConstraints (RFC 5280, 4.2.1.9).
const OID_BASIC_CONSTRAINTS: &[u64] = &[2, 5, 29, 19];
/// id-ce-subjectKeyIdentifier (RFC 5280, 4.2.1.2).
const OID_SUBJECT_KEY_ID: &[u64] = &[2, 5, 29, 14];
/// Bytes of a subject key identifier: the first 20 of the SHA-256 of the SubjectPublicKeyInfo, as
/// rcgen derives the CAs' (so a leaf's is made the same way).
const KEY_ID_BYTES: u8 = 20;

/// Options for [`Pki::init`].
#[derive(Debug, Clone)]
pub struct InitOptions {
    /// Algorithm of the three CA keys; recorded in the ledger as the default for leaves.
    pub key_type: KeyType,
    /// Subject O of every certificate this PKI issues.
    pub organization: String,
    /// Root CA validity; the intermediates get at most [`INTERMEDIATE_DAYS`].
    pub days: u32,
    /// Days each CRL stays current (its nextUpdate); [`Pki::reissue_crls`] must run before that.
    pub crl_days: u32,
    /// `None` means the CA keys are stored unencrypted (an explicit choice).
    pub passphrase: Option<Passphrase>,
    /// Overwrite an existing ledger and CA files instead of refusing with [`Error::Exists`].
    pub force: bool,
}

impl Default for InitOptions {
    fn default() -> Self {
        Self {
            key_type: KeyType::DEFAULT,
            organization: "pgharden".into(),
            days: ROOT_DAYS,
            crl_days: CRL_DAYS,
            passphrase: None,
            force: false,
        }
    }
}

/// A request for a server certificate.
#[derive(Debug, Clone, Default)]
pub struct ServerRequest {
    /// DNS names and IP addresses; the first is also the subject CN (as Appendix G asks).
    pub hosts: Vec<String>,
    /// Directory name under `servers/`; defaults to the first host.
    pub name: Option<String>,
    /// Validity in days; `None` means [`SERVER_DAYS`].
    pub days: Option<u32>,
    /// Validity in hours or days; wins over `days`.
    pub valid: Option<Validity>,
    /// Key algorithm; `None` means the PKI's own (from [`InitOptions::key_type`]).
    pub key_type: Option<KeyType>,
    /// Replace an existing certificate of this name instead of refusing with [`Error::Exists`].
    pub force: bool,
}

/// A request for a client certificate.
#[derive(Debug, Clone, Default)]
pub struct ClientRequest {
    /// The PostgreSQL role the certificate logs in as.
    pub role: String,
    /// Subject CN when it differs from the role (then pg_ident.conf maps it).
    pub cn: Option<String>,
    /// Directory name under `clients/`; defaults to the role.
    pub name: Option<String>,
    /// Validity in days; `None` means [`CLIENT_DAYS`].
    pub days: Option<u32>,
    /// Validity in hours or days; wins over `days`.
    pub valid: Option<Validity>,
    /// Key algorithm; `None` means the PKI's own (from [`InitOptions::key_type`]).
    pub key_type: Option<KeyType>,
    /// Replace an existing certificate of this name instead of refusing with [`Error::Exists`].
    pub force: bool,
}

/// What an issue produced.
#[derive(Debug, Clone, Serialize)]
pub struct Issued {
    /// The ledger record of the new certificate.
    pub entry: Entry,
    /// Leaf followed by its intermediate CA.
    pub cert_path: PathBuf,
    /// The new private key (mode 0600, unencrypted: libpq and the server read it without a passphrase).
    pub key_path: PathBuf,
    /// Serial of the certificate this one replaced (with `force`); it stays valid until revoked.
    pub replaced: Option<String>,
}

/// The state of a ledger entry as `pki list` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// In its validity period, not revoked or replaced, and its file is present.
    Valid,
    /// Its notBefore is still in the future.
    NotYetValid,
    /// Past its notAfter.
    Expired,
    /// Revoked; listed in its CA's CRL.
    Revoked,
    /// Superseded by a newer certificate (renewal or `force`); still valid until revoked.
    Replaced,
    /// The ledger records it but its certificate file is gone from the PKI directory.
    FileMissing,
}

impl Status {
    /// The words `pki list` prints for this status.
    pub fn label(self) -> &'static str {
        match self {
            Self::Valid => "valid",
            Self::NotYetValid => "not yet valid",
            Self::Expired => "expired",
            Self::Revoked => "revoked",
            Self::Replaced => "replaced",
            Self::FileMissing => "file missing",
        }
    }
}

/// A ledger entry with its status.
#[derive(Debug, Clone, Serialize)]
pub struct Listed {
    #[serde(flatten)]
    /// The ledger record.
    pub entry: Entry,
    /// Where the record stands now (see [`Status`]).
    pub status: Status,
}

/// A CA loaded for signing.
pub(crate) struct Ca {
    kind: Kind,
    cert_der: Vec<u8>,
    cert_pem: String,
    key: KeyPair,
    not_after: OffsetDateTime,
    ski: Vec<u8>,
}

impl Ca {
    fn new(dir: &Path, kind: Kind, der: &[u8], key: KeyPair, not_after: OffsetDateTime) -> Result<Self> {
        let path = dir.join(kind.ca_dir()).join("ca.crt");
        Ok(Self {
            kind,
            cert_der: der.to_vec(),
            cert_pem: pem::encode(&pem::Pem::new("CERTIFICATE", der.to_vec())),
            ski: ski_of(&path, der)?,
            key,
            not_after,
        })
    }

    fn issuer(&self) -> Result<Issuer<'static, &KeyPair>> {
        Ok(Issuer::from_ca_cert_der(&self.cert_der.as_slice().into(), &self.key)?)
    }
}

/// An open PKI directory, locked against concurrent changes for as long as it lives.
#[derive(Debug)]
pub struct Pki {
    pub(crate) dir: PathBuf,
    pub(crate) ledger: Ledger,
    pub(crate) clock: Clock,
    _lock: DirLock,
}

impl Pki {
    /// Create the hierarchy of Appendix G in `opts`: root CA, server and client intermediate CAs and
    /// an empty CRL for each.
    pub fn init(dir: &Path, opts: &InitOptions) -> Result<Self> {
        validate_days("--days", opts.days)?;
        validate_days("--crl-days", opts.crl_days)?;
        files::ensure_dir(dir, PUBLIC_DIR_MODE)?;
        let lock = DirLock::acquire(dir)?;
        let ledger_path = dir.join(Ledger::FILE);
        if ledger_path.exists() && !opts.force {
            return Err(Error::Exists(ledger_path));
        }
        for kind in [Kind::Root, Kind::ServerCa, Kind::ClientCa] {
            let ca_dir = dir.join(kind.ca_dir());
            files::ensure_dir(&ca_dir, DIR_MODE)?;
            for (pending, _, _) in files::find_pending(&ca_dir)? {
                let _ = fs::remove_file(pending);
            }
        }
        let clock = Clock::system();
        let now = issue_time(&clock);
        let mut ledger = Ledger {
            format: crate::ledger::FORMAT,
            organization: opts.organization.clone(),
            key_type: opts.key_type,
            ca_keys_encrypted: opts.passphrase.is_some(),
            crl_days: opts.crl_days,
            crl_numbers: CrlNumbers::default(),
            certificates: Vec::new(),
        };
        let root_until = now + Duration::days(i64::from(opts.days));
        let mid_until = now + Duration::days(i64::from(opts.days.min(INTERMEDIATE_DAYS)));
        let root_key = opts.key_type.generate()?;
        let root_params = ca_params(&opts.organization, Kind::Root, now, root_until);
        let root_cert = root_params.self_signed(&root_key)?;
        let mut pending = Vec::new();
        let root_entry = entry_for(Kind::Root, "root", root_cert.der(), opts.key_type, None, vec![], None)?;
        pending.extend(stage_ca(dir, Kind::Root, &root_entry, root_cert.pem(), &root_key, opts)?);
        ledger.certificates.push(root_entry);
        let root = Ca::new(dir, Kind::Root, root_cert.der(), root_key, root_until)?;
        let mut cas = Vec::new();
        {
            let root_issuer = root.issuer()?;
            for kind in [Kind::ServerCa, Kind::ClientCa] {
                let key = opts.key_type.generate()?;
                let cert =
                    ca_params(&opts.organization, kind, now, mid_until).signed_by(&key, &root_issuer)?;
                let entry = entry_for(kind, kind.ca_dir(), cert.der(), opts.key_type, None, vec![], None)?;
                pending.extend(stage_ca(dir, kind, &entry, cert.pem(), &key, opts)?);
                ledger.certificates.push(entry);
                cas.push(Ca::new(dir, kind, cert.der(), key, mid_until)?);
            }
        }
        cas.insert(0, root);
        ledger.save(dir)?;
        for (from, to) in pending {
            files::commit_pending(&from, &to)?;
        }
        let mut pki = Self { dir: dir.to_path_buf(), ledger, clock, _lock: lock };
        // The CA keys are still in memory: sign the first CRLs without decrypting them again.
        for ca in &cas {
            pki.write_crl(ca)?;
        }
        pki.write_crl_bundle()?;
        Ok(pki)
    }

    /// Open an existing PKI directory, finishing or discarding an issue a crash interrupted.
    pub fn open(dir: &Path) -> Result<Self> {
        if !dir.is_dir() {
            return Err(Error::NotAPki(dir.to_path_buf()));
        }
        let lock = DirLock::acquire(dir)?;
        let ledger = Ledger::load(dir)?;
        let pki = Self { dir: dir.to_path_buf(), ledger, clock: Clock::system(), _lock: lock };
        pki.recover()?;
        Ok(pki)
    }

    /// Read the time from `clock` from now on (tests, and `renew --plan` at a given moment).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The time as this PKI reads it.
    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// The PKI directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The ledger as loaded (and as updated by this handle).
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// Whether issuing or revoking needs a passphrase.
    pub fn needs_passphrase(&self) -> bool {
        self.ledger.ca_keys_encrypted
    }

    /// Path of a CA's certificate.
    pub fn ca_cert_path(&self, kind: Kind) -> PathBuf {
        self.dir.join(kind.ca_dir()).join("ca.crt")
    }

    /// Path of a CA's CRL.
    pub fn crl_path(&self, kind: Kind) -> PathBuf {
        self.dir.join(kind.ca_dir()).join("crl.pem")
    }

    /// Every certificate with its current status.
    pub fn list(&self) -> Vec<Listed> {
        let now = self.now();
        self.ledger
            .certificates
            .iter()
            .map(|entry| Listed { status: status_of(&self.dir, entry, now), entry: entry.clone() })
            .collect()
    }

    /// Issue a server certificate with a SAN for every host.
    pub fn issue_server(&mut self, req: &ServerRequest, pass: Option<&Passphrase>) -> Result<Issued> {
        let Some(first) = req.hosts.first() else {
            return Err(Error::invalid("--host", "", "at least one host name or address is needed"));
        };
        let sans = req.hosts.iter().map(|h| parse_host(h)).collect::<Result<Vec<_>>>()?;
        let name = req.name.clone().unwrap_or_else(|| first.clone());
        check_dir_name(&name)?;
        let key_type = req.key_type.unwrap_or(self.ledger.key_type);
        let mut params =
            leaf_params(&self.ledger.organization, first, key_type, ExtendedKeyUsagePurpose::ServerAuth);
        params.subject_alt_names = sans;
        let spec = LeafSpec {
            kind: Kind::Server,
            name,
            valid: validity(req.valid, req.days, SERVER_DAYS)?,
            valid_flag: if req.valid.is_some() { "--valid" } else { "--days" },
            key_type,
            force: req.force,
            role: None,
            sans: req.hosts.clone(),
            cn: first.clone(),
        };
        self.issue_leaf(params, spec, pass)
    }

    /// Issue a client certificate whose CN is the role (or `cn`, to be mapped in pg_ident.conf).
    pub fn issue_client(&mut self, req: &ClientRequest, pass: Option<&Passphrase>) -> Result<Issued> {
        let mut issued = self.issue_clients(std::slice::from_ref(req), pass, &mut |_| {})?;
        issued.pop().ok_or_else(|| Error::Ledger("nothing was issued".into()))
    }

    /// Issue many client certificates with one unlock of the CA and one ledger write; `progress` is
    /// called after each certificate is staged. Either all are recorded, or (on error) none.
    pub fn issue_clients(
        &mut self,
        reqs: &[ClientRequest],
        pass: Option<&Passphrase>,
        progress: &mut dyn FnMut(usize),
    ) -> Result<Vec<Issued>> {
        let ca = self.load_ca(Kind::ClientCa, pass)?;
        let mut staged = Vec::with_capacity(reqs.len());
        let mut seen = std::collections::HashSet::new();
        for (i, req) in reqs.iter().enumerate() {
            let (params, spec) = self.client_spec(req)?;
            if !seen.insert(spec.name.clone()) {
                return Err(Error::invalid("--role", spec.name, "given twice"));
            }
            match self.stage_leaf(params, spec, &ca) {
                Ok(s) => staged.push(s),
                Err(e) => {
                    discard(&staged);
                    return Err(e);
                }
            }
            progress(i + 1);
        }
        self.commit(staged)
    }

    fn client_spec(&self, req: &ClientRequest) -> Result<(CertificateParams, LeafSpec)> {
        check_role(&req.role)?;
        let cn = req.cn.clone().unwrap_or_else(|| req.role.clone());
        if cn.is_empty() || cn.len() > 64 {
            return Err(Error::invalid("--cn", cn, "a CN must be 1 to 64 characters"));
        }
        let name = req.name.clone().unwrap_or_else(|| req.role.clone());
        check_dir_name(&name)?;
        let key_type = req.key_type.unwrap_or(self.ledger.key_type);
        let params =
            leaf_params(&self.ledger.organization, &cn, key_type, ExtendedKeyUsagePurpose::ClientAuth);
        let cn = cn.clone();
        let spec = LeafSpec {
            kind: Kind::Client,
            name,
            valid: validity(req.valid, req.days, CLIENT_DAYS)?,
            valid_flag: if req.valid.is_some() { "--valid" } else { "--days" },
            key_type,
            force: req.force,
            role: Some(req.role.clone()),
            sans: vec![],
            cn,
        };
        Ok((params, spec))
    }

    fn issue_leaf(
        &mut self,
        params: CertificateParams,
        spec: LeafSpec,
        pass: Option<&Passphrase>,
    ) -> Result<Issued> {
        let ca = self.load_ca(spec.kind.issuer(), pass)?;
        let staged = self.stage_leaf(params, spec, &ca)?;
        let mut issued = self.commit(vec![staged])?;
        issued.pop().ok_or_else(|| Error::Ledger("nothing was issued".into()))
    }

    /// Sign a leaf and write its key and certificate under pending names; nothing is recorded yet.
    fn stage_leaf(&self, mut params: CertificateParams, spec: LeafSpec, ca: &Ca) -> Result<Staged> {
        let leaf_dir = self.dir.join(leaf_dir_name(spec.kind)).join(&spec.name);
        let (cert_path, key_path) = leaf_paths(&leaf_dir, spec.kind);
        if !spec.force {
            for path in [&cert_path, &key_path] {
                if path.exists() {
                    return Err(Error::Exists(path.clone()));
                }
            }
        }
        let now = issue_time(&self.clock);
        let not_after = now + spec.valid.duration();
        if not_after > ca.not_after {
            let left = (ca.not_after - now).whole_days();
            return Err(Error::invalid(
                spec.valid_flag,
                if spec.valid_flag == "--days" {
                    (spec.valid.seconds() / 86_400).to_string()
                } else {
                    spec.valid.to_string()
                },
                format!(
                    "the {} expires {} ({left} days from now); a certificate cannot outlive its issuer",
                    ca.kind.label(),
                    rfc3339(ca.not_after)
                ),
            ));
        }
        params.not_before = now;
        params.not_after = not_after;
        let key = spec.key_type.generate()?;
        params.custom_extensions.push(subject_key_id(&key));
        let cert = params.signed_by(&key, &ca.issuer()?)?;
        let requested = Requested {
            cn: spec.cn,
            hosts: spec.sans.clone(),
            role: spec.role.clone(),
            key_type: spec.key_type,
            valid: spec.valid,
        };
        let entry = entry_for(
            spec.kind,
            &spec.name,
            cert.der(),
            spec.key_type,
            spec.role,
            spec.sans,
            Some(requested),
        )?;
        files::ensure_dir(&leaf_dir, DIR_MODE)?;
        let chain = format!("{}{}", cert.pem(), ca.cert_pem);
        let key_pem = key::key_pem(&key, None)?;
        let pending_key = files::write_pending(&key_path, &entry.serial, key_pem.as_bytes(), KEY_MODE)?;
        let pending_cert = files::write_pending(&cert_path, &entry.serial, chain.as_bytes(), PUBLIC_MODE)?;
        Ok(Staged { entry, pending: vec![(pending_key, key_path), (pending_cert, cert_path)] })
    }

    /// Record staged certificates in the ledger, then move their files into place.
    fn commit(&mut self, staged: Vec<Staged>) -> Result<Vec<Issued>> {
        let mut issued = Vec::with_capacity(staged.len());
        for s in &staged {
            let cert_path = s.pending[1].1.clone();
            let previous = self.current_at(&cert_path);
            if let Some(old) = &previous
                && let Some(e) = self.ledger.certificates.iter_mut().find(|e| &e.serial == old)
            {
                e.replaced_by = Some(s.entry.serial.clone());
            }
            self.ledger.certificates.push(s.entry.clone());
            issued.push(Issued {
                entry: s.entry.clone(),
                cert_path,
                key_path: s.pending[0].1.clone(),
                replaced: previous,
            });
        }
        if let Err(e) = self.ledger.save(&self.dir) {
            discard(&staged);
            return Err(e);
        }
        // Keys first: a certificate must never be in place without its key.
        for s in &staged {
            for (pending, path) in &s.pending {
                files::commit_pending(pending, path)?;
            }
        }
        Ok(issued)
    }

    /// Revoke a certificate by serial and re-issue its CA's CRL.
    pub fn revoke(&mut self, serial: &str, reason: Reason, pass: Option<&Passphrase>) -> Result<Entry> {
        let serial = normalize_serial(serial)?;
        let entry = self.ledger.find(&serial).ok_or_else(|| Error::UnknownSerial(serial.clone()))?.clone();
        if entry.kind == Kind::Root {
            return Err(Error::invalid(
                "certificate",
                serial,
                "a root CA cannot be revoked; build a new PKI with `pki init --force` and redistribute its root",
            ));
        }
        if entry.revoked.is_some() {
            return Ok(entry);
        }
        // Load the CA and check its CRL number first: a wrong passphrase or an exhausted number must
        // not leave a revocation recorded but unpublished.
        self.check_crl_numbers(&[entry.kind.issuer()])?;
        let ca = self.load_ca(entry.kind.issuer(), pass)?;
        let revocation = Revocation { at: whole_second(self.now()), reason };
        let mut updated = entry;
        updated.revoked = Some(revocation);
        if let Some(e) = self.ledger.certificates.iter_mut().find(|e| e.serial == updated.serial) {
            *e = updated.clone();
        }
        self.ledger.save(&self.dir)?;
        self.write_crl(&ca)?;
        self.write_crl_bundle()?;
        Ok(updated)
    }

    /// Re-issue the CRL of every CA (root included: with `ssl_crl_file` set, OpenSSL checks the whole
    /// chain). Returns the CRL files written.
    pub fn reissue_crls(&mut self, pass: Option<&Passphrase>) -> Result<Vec<PathBuf>> {
        // Every number first, so that an exhausted one leaves no CA with a new CRL and the others without.
        self.check_crl_numbers(&[Kind::Root, Kind::ServerCa, Kind::ClientCa])?;
        let mut written = Vec::new();
        for kind in [Kind::Root, Kind::ServerCa, Kind::ClientCa] {
            let ca = self.load_ca(kind, pass)?;
            written.push(self.write_crl(&ca)?);
        }
        written.push(self.write_crl_bundle()?);
        Ok(written)
    }

    /// Refuse, before anything is written, when a CA's CRL number cannot grow.
    pub(crate) fn check_crl_numbers(&self, cas: &[Kind]) -> Result<()> {
        for &ca in cas {
            self.ledger.crl_numbers.peek(ca).map_err(|exhausted| self.crl_number_error(exhausted))?;
        }
        Ok(())
    }

    fn crl_number_error(&self, exhausted: CrlNumberExhausted) -> Error {
        Error::CrlNumber { ledger: self.dir.join(Ledger::FILE), exhausted }
    }

    pub(crate) fn write_crl(&mut self, ca: &Ca) -> Result<PathBuf> {
        let now = issue_time(&self.clock);
        // A hand-edited crl_days must not panic the date arithmetic.
        let next_update =
            now.checked_add(Duration::days(i64::from(self.ledger.crl_days))).ok_or_else(|| {
                Error::bad_file(
                    self.dir.join(Ledger::FILE),
                    format!(
                        "crl_days = {} puts the next CRL update past the year 9999",
                        self.ledger.crl_days
                    ),
                )
            })?;
        let number = self.ledger.crl_numbers.next(ca.kind).map_err(|e| self.crl_number_error(e))?;
        let revoked = self
            .ledger
            .revoked_by(ca.kind)
            .map(|e| {
                let bytes = hex::decode(&e.serial)
                    .map_err(|_| Error::Ledger(format!("bad serial {} in ledger", e.serial)))?;
                let r = e.revoked.as_ref().ok_or_else(|| Error::Ledger("revocation vanished".into()))?;
                Ok(RevokedCertParams {
                    serial_number: SerialNumber::from_slice(&bytes),
                    revocation_time: r.at,
                    reason_code: Some(r.reason.to_rcgen()),
                    invalidity_date: None,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let params = CertificateRevocationListParams {
            this_update: now,
            next_update,
            crl_number: SerialNumber::from(number),
            issuing_distribution_point: None,
            revoked_certs: revoked,
            key_identifier_method: KeyIdMethod::PreSpecified(ca.ski.clone()),
        };
        let crl = params.signed_by(&ca.issuer()?)?;
        let path = self.crl_path(ca.kind);
        // The number is recorded before the CRL is published, so numbers never repeat.
        self.ledger.save(&self.dir)?;
        files::write_atomic(&path, crl.pem()?.as_bytes(), PUBLIC_MODE, true)?;
        Ok(path)
    }

    pub(crate) fn write_crl_bundle(&self) -> Result<PathBuf> {
        let mut all = Vec::new();
        for kind in [Kind::Root, Kind::ServerCa, Kind::ClientCa] {
            all.extend(files::read(&self.crl_path(kind))?);
        }
        let path = self.dir.join(CRL_BUNDLE);
        files::write_atomic(&path, &all, PUBLIC_MODE, true)?;
        Ok(path)
    }

    /// The serial of the current certificate stored at `cert_path`, if any.
    fn current_at(&self, cert_path: &Path) -> Option<String> {
        let rel = cert_path.strip_prefix(&self.dir).ok()?;
        self.ledger
            .certificates
            .iter()
            .rev()
            .find(|e| e.path == rel && e.replaced_by.is_none())
            .map(|e| e.serial.clone())
    }

    /// Load a CA's certificate and key and check that it may sign.
    pub(crate) fn load_ca(&self, kind: Kind, pass: Option<&Passphrase>) -> Result<Ca> {
        let cert_path = self.ca_cert_path(kind);
        let key_path = self.dir.join(kind.ca_dir()).join("ca.key");
        let pem_text = fs::read_to_string(&cert_path).map_err(|e| Error::io(&cert_path, e))?;
        let block = pem::parse(&pem_text)
            .map_err(|e| Error::bad_file(&cert_path, format!("not a PEM certificate ({e}); truncated?")))?;
        if block.tag() != "CERTIFICATE" {
            return Err(Error::bad_file(
                &cert_path,
                format!("expected a CERTIFICATE, found {}", block.tag()),
            ));
        }
        let der = block.contents().to_vec();
        let (_, x509) = X509Certificate::from_der(&der)
            .map_err(|e| Error::bad_file(&cert_path, format!("corrupt certificate: {e}")))?;
        check_issuer(&cert_path, &x509, self.now())?;
        if let Some(e) = self
            .ledger
            .certificates
            .iter()
            .find(|e| e.path == Path::new(kind.ca_dir()).join("ca.crt") && e.sha256 == fingerprint(&der))
            && let Some(r) = &e.revoked
        {
            return Err(Error::BadIssuer {
                path: cert_path,
                reason: format!("it was revoked on {} ({})", rfc3339(r.at), r.reason.name()),
            });
        }
        let (key, _) = key::load_key(&key_path, pass)?;
        if x509.public_key().subject_public_key.data.as_ref() != key.public_key_raw() {
            return Err(Error::KeyMismatch { path: key_path, cert: cert_path });
        }
        Ca::new(&self.dir, kind, &der, key, x509.validity().not_after.to_datetime())
    }

    /// Finish or discard the pending files of an interrupted issue.
    fn recover(&self) -> Result<()> {
        let mut dirs: Vec<PathBuf> =
            [Kind::Root, Kind::ServerCa, Kind::ClientCa].iter().map(|k| self.dir.join(k.ca_dir())).collect();
        for parent in ["servers", "clients"] {
            if let Ok(entries) = fs::read_dir(self.dir.join(parent)) {
                dirs.extend(entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
            }
        }
        // Keys first: a certificate must never be in place without its key.
        let mut pending = Vec::new();
        files::remove_temps(&self.dir)?;
        for dir in dirs {
            files::remove_temps(&dir)?;
            pending.extend(files::find_pending(&dir)?);
        }
        pending.sort_by_key(|(p, _, _)| !p.to_string_lossy().contains(".key."));
        for (pending_path, final_path, serial) in pending {
            if self.ledger.find(&serial).is_some() {
                files::commit_pending(&pending_path, &final_path)?;
            } else {
                fs::remove_file(&pending_path).map_err(|e| Error::io(&pending_path, e))?;
            }
        }
        self.repair_crl_bundle()
    }

    /// A crash between writing a CA's CRL and the bundle leaves the bundle behind: rebuild it.
    fn repair_crl_bundle(&self) -> Result<()> {
        let mut all = Vec::new();
        for kind in [Kind::Root, Kind::ServerCa, Kind::ClientCa] {
            match fs::read(self.crl_path(kind)) {
                Ok(bytes) => all.extend(bytes),
                // A PKI without its CRLs is not repaired here; issuing and `pki crl` say why.
                Err(_) => return Ok(()),
            }
        }
        if fs::read(self.dir.join(CRL_BUNDLE)).ok().as_deref() != Some(all.as_slice()) {
            self.write_crl_bundle()?;
        }
        Ok(())
    }
}

/// A signed certificate whose files are written under pending names.
struct Staged {
    entry: Entry,
    /// (pending, final) paths: key first, then certificate.
    pending: Vec<(PathBuf, PathBuf)>,
}

/// Remove the pending files of certificates that will not be recorded.
fn discard(staged: &[Staged]) {
    for s in staged {
        for (pending, _) in &s.pending {
            let _ = fs::remove_file(pending);
        }
    }
}

struct LeafSpec {
    kind: Kind,
    name: String,
    valid: Validity,
    /// The flag the validity came from, for errors (`--valid` or `--days`).
    valid_flag: &'static str,
    key_type: KeyType,
    force: bool,
    role: Option<String>,
    sans: Vec<String>,
    cn: String,
}

/// `valid` if given, else `days`, else the default, each checked.
fn validity(valid: Option<Validity>, days: Option<u32>, default_days: u32) -> Result<Validity> {
    match (valid, days) {
        (Some(v), _) => Ok(v),
        (None, Some(d)) => {
            validate_days("--days", d)?;
            Validity::days(d)
        }
        (None, None) => Validity::days(default_days),
    }
}

fn leaf_dir_name(kind: Kind) -> &'static str {
    if kind == Kind::Server { "servers" } else { "clients" }
}

fn leaf_paths(dir: &Path, kind: Kind) -> (PathBuf, PathBuf) {
    let stem = if kind == Kind::Server { "server" } else { "client" };
    (dir.join(format!("{stem}.crt")), dir.join(format!("{stem}.key")))
}

/// Stage a CA's key and certificate as pending files.
fn stage_ca(
    dir: &Path,
    kind: Kind,
    entry: &Entry,
    cert_pem: String,
    key: &KeyPair,
    opts: &InitOptions,
) -> Result<Vec<(PathBuf, PathBuf)>> {
    let ca_dir = dir.join(kind.ca_dir());
    let key_path = ca_dir.join("ca.key");
    let cert_path = ca_dir.join("ca.crt");
    if !opts.force {
        for path in [&key_path, &cert_path] {
            if path.exists() {
                return Err(Error::Exists(path.clone()));
            }
        }
    }
    let key_pem = key::key_pem(key, opts.passphrase.as_ref())?;
    let k = files::write_pending(&key_path, &entry.serial, key_pem.as_bytes(), KEY_MODE)?;
    let c = files::write_pending(&cert_path, &entry.serial, cert_pem.as_bytes(), PUBLIC_MODE)?;
    Ok(vec![(k, key_path), (c, cert_path)])
}

/// When a new certificate starts: a little in the past, on a whole second.
fn issue_time(clock: &Clock) -> OffsetDateTime {
    whole_second(clock.now() - BACKDATE)
}

fn whole_second(t: OffsetDateTime) -> OffsetDateTime {
    t.replace_nanosecond(0).unwrap_or(t)
}

fn validate_days(flag: &'static str, days: u32) -> Result<()> {
    if days == 0 || days > 36500 {
        return Err(Error::invalid(flag, days.to_string(), "must be between 1 and 36500 days"));
    }
    Ok(())
}

/// 16 random bytes, positive and without a leading zero byte (RFC 5280 allows up to 20 octets).
fn random_serial() -> SerialNumber {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    bytes[0] = (bytes[0] & 0x7f) | 0x10;
    SerialNumber::from_slice(&bytes)
}

fn dn(org: &str, cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    if !org.is_empty() {
        dn.push(DnType::OrganizationName, org);
    }
    dn.push(DnType::CommonName, cn);
    dn
}

fn ca_params(
    org: &str,
    kind: Kind,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> CertificateParams {
    let (cn, path_len) = match kind {
        Kind::Root => ("Root CA", 1),
        Kind::ServerCa => ("Server Intermediate CA", 0),
        _ => ("Client Intermediate CA", 0),
    };
    let mut params = CertificateParams::default();
    params.serial_number = Some(random_serial());
    params.not_before = not_before;
    params.not_after = not_after;
    let name = if org.is_empty() { cn.to_string() } else { format!("{org} {cn}") };
    params.distinguished_name = dn(org, &name);
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(path_len));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.use_authority_key_identifier_extension = kind != Kind::Root;
    params
}

fn leaf_params(org: &str, cn: &str, key_type: KeyType, eku: ExtendedKeyUsagePurpose) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.serial_number = Some(random_serial());
    params.distinguished_name = dn(org, cn);
    params.is_ca = IsCa::NoCa;
    params.custom_extensions.push(leaf_basic_constraints());
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    if key_type.is_rsa() && eku == ExtendedKeyUsagePurpose::ServerAuth {
        params.key_usages.push(KeyUsagePurpose::KeyEncipherment);
    }
    params.extended_key_usages = vec![eku];
    params.use_authority_key_identifier_extension = true;
    params
}

/// A leaf's basicConstraints as OpenSSL writes `critical,CA:FALSE`: critical, an empty SEQUENCE.
///
/// rcgen's `IsCa::ExplicitNoCa` writes `SEQUENCE { BOOLEAN FALSE }`, spelling out the DEFAULT of `cA`,
/// which DER forbids; strict parsers (Python `cryptography`, hence sslyze) then refuse the whole
/// certificate. The extension is kept rather than omitted (RFC 5280 allows either) so that every
/// verifier, whatever it makes of keyUsage, sees at once that a leaf is not a CA.
fn leaf_basic_constraints() -> CustomExtension {
    let mut ext = CustomExtension::from_oid_content(OID_BASIC_CONSTRAINTS, vec![0x30, 0x00]);
    ext.set_criticality(true);
    ext
}

/// A leaf's subjectKeyIdentifier (RFC 5280 says end-entity certificates SHOULD carry one), non-critical.
/// rcgen writes it only along with basicConstraints, which leaves now carry as a custom extension.
fn subject_key_id(key: &KeyPair) -> CustomExtension {
    let digest = Sha256::digest(key.subject_public_key_info());
    // OCTET STRING, 20 bytes: the length fits the one short-form length byte.
    let mut content = vec![0x04, KEY_ID_BYTES];
    content.extend_from_slice(&digest[..usize::from(KEY_ID_BYTES)]);
    CustomExtension::from_oid_content(OID_SUBJECT_KEY_ID, content)
}

/// The ledger entry of a freshly made certificate.
fn entry_for(
    kind: Kind,
    name: &str,
    der: &[u8],
    key_type: KeyType,
    role: Option<String>,
    sans: Vec<String>,
    request: Option<Requested>,
) -> Result<Entry> {
    let (_, x509) = X509Certificate::from_der(der)
        .map_err(|e| Error::Ledger(format!("freshly issued certificate does not parse: {e}")))?;
    let path = if kind.is_ca() {
        PathBuf::from(kind.ca_dir()).join("ca.crt")
    } else {
        let (cert, _) = leaf_paths(&PathBuf::from(leaf_dir_name(kind)).join(name), kind);
        cert
    };
    Ok(Entry {
        serial: hex::encode(x509.raw_serial()),
        kind,
        name: name.to_string(),
        subject: crate::inspect::format_name(x509.subject()),
        sans,
        role,
        key_type,
        not_before: x509.validity().not_before.to_datetime(),
        not_after: x509.validity().not_after.to_datetime(),
        sha256: fingerprint(der),
        path,
        revoked: None,
        replaced_by: None,
        request,
    })
}

/// SHA-256 fingerprint as `openssl x509 -fingerprint -sha256` prints it.
pub fn fingerprint(der: &[u8]) -> String {
    let digest = Sha256::digest(der);
    digest.iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":")
}

fn ski_of(path: &Path, der: &[u8]) -> Result<Vec<u8>> {
    let (_, x509) = X509Certificate::from_der(der)
        .map_err(|e| Error::bad_file(path, format!("corrupt certificate: {e}")))?;
    x509.iter_extensions()
        .find_map(|ext| match ext.parsed_extension() {
            x509_parser::extensions::ParsedExtension::SubjectKeyIdentifier(id) => Some(id.0.to_vec()),
            _ => None,
        })
        .ok_or_else(|| Error::BadIssuer {
            path: path.to_path_buf(),
            reason: "it has no subject key identifier".into(),
        })
}

/// A certificate may issue only if it is a CA allowed to sign certificates and is valid now.
fn check_issuer(path: &Path, x509: &X509Certificate<'_>, now: OffsetDateTime) -> Result<()> {
    let bad = |reason: String| Error::BadIssuer { path: path.to_path_buf(), reason };
    let is_ca = x509.basic_constraints().ok().flatten().is_some_and(|bc| bc.value.ca);
    if !is_ca {
        return Err(bad("it is not a CA certificate (basicConstraints CA:TRUE is missing)".into()));
    }
    if let Ok(Some(ku)) = x509.key_usage()
        && !ku.value.key_cert_sign()
    {
        return Err(bad("its keyUsage does not allow keyCertSign".into()));
    }
    let validity = x509.validity();
    if now < validity.not_before.to_datetime() {
        return Err(bad(format!("it is not valid until {}", rfc3339(validity.not_before.to_datetime()))));
    }
    if now > validity.not_after.to_datetime() {
        return Err(bad(format!("it expired on {}", rfc3339(validity.not_after.to_datetime()))));
    }
    Ok(())
}

fn status_of(dir: &Path, entry: &Entry, now: OffsetDateTime) -> Status {
    if entry.revoked.is_some() {
        Status::Revoked
    } else if entry.replaced_by.is_some() {
        Status::Replaced
    } else if !dir.join(&entry.path).exists() {
        Status::FileMissing
    } else if now < entry.not_before {
        Status::NotYetValid
    } else if now > entry.not_after {
        Status::Expired
    } else {
        Status::Valid
    }
}

/// Parse a `--host` value into a SAN: an IP address, or a DNS name (a leading `*.` wildcard allowed).
pub fn parse_host(host: &str) -> Result<SanType> {
    let trimmed = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = trimmed.parse::<IpAddr>() {
        return Ok(SanType::IpAddress(ip));
    }
    let bare = host.strip_prefix("*.").unwrap_or(host);
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    if host.len() > 253 || bare.is_empty() || !bare.split('.').all(label_ok) {
        return Err(Error::invalid(
            "--host",
            host,
            "not an IP address or a DNS name (letters, digits, '-' in dot-separated labels; a leading '*.' for a wildcard)",
        ));
    }
    let name =
        host.to_string().try_into().map_err(|_| Error::invalid("--host", host, "not an IA5 string"))?;
    Ok(SanType::DnsName(name))
}

fn check_role(role: &str) -> Result<()> {
    if role.is_empty() {
        return Err(Error::invalid("--role", role, "a role name cannot be empty"));
    }
    if role.len() > MAX_ROLE_BYTES {
        return Err(Error::invalid(
            "--role",
            role,
            format!(
                "PostgreSQL role names are at most {MAX_ROLE_BYTES} bytes; longer names are truncated and would not match"
            ),
        ));
    }
    if role.contains('\0') {
        return Err(Error::invalid("--role", role.replace('\0', "\\0"), "contains a NUL byte"));
    }
    Ok(())
}

fn check_dir_name(name: &str) -> Result<()> {
    if name.is_empty()
        || name == "."
        || name == ".."
        || name.contains('/')
        || name.contains('\0')
        || name.starts_with('.')
    {
        return Err(Error::invalid(
            "certificate directory name",
            name,
            "it must be a plain file name (no '/', not starting with '.'); choose one with --name",
        ));
    }
    Ok(())
}

/// Normalise a serial as users paste it (`4F:A2…`, `serial=4FA2…`, `0x4fa2`) to the ledger's form.
pub fn normalize_serial(serial: &str) -> Result<String> {
    let s = serial.trim();
    let s = s.strip_prefix("serial=").unwrap_or(s);
    let s = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")).unwrap_or(s);
    let hex: String = s.chars().filter(|c| *c != ':').collect::<String>().to_ascii_lowercase();
    if hex.is_empty() || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(Error::invalid("serial", serial, "expected hexadecimal digits"));
    }
    let trimmed = hex.trim_start_matches('0');
    let mut out = if trimmed.is_empty() { "0".to_string() } else { trimmed.to_string() };
    if out.len() % 2 == 1 {
        out.insert(0, '0');
    }
    Ok(out)
}

/// The serial (ledger form) of the first certificate in a PEM file, for `revoke --cert`.
pub fn serial_of_file(path: &Path) -> Result<String> {
    let text = files::read(path)?;
    let blocks = pem::parse_many(&text)
        .map_err(|e| Error::bad_file(path, format!("not a PEM file ({e}); truncated?")))?;
    let block = blocks
        .iter()
        .find(|b| b.tag() == "CERTIFICATE")
        .ok_or_else(|| Error::bad_file(path, "no CERTIFICATE in the file"))?;
    let (_, x509) = X509Certificate::from_der(block.contents())
        .map_err(|e| Error::bad_file(path, format!("corrupt certificate: {e}")))?;
    normalize_serial(&hex::encode(x509.raw_serial()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issued_pki() -> (tempfile::TempDir, PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("pki");
        let opts = InitOptions { key_type: KeyType::P256, ..Default::default() };
        let mut pki = Pki::init(&dir, &opts).unwrap();
        let req = ClientRequest { role: "bob".into(), ..Default::default() };
        pki.issue_client(&req, None).unwrap();
        (tmp, dir)
    }

    #[test]
    fn open_finishes_recorded_pending_files_and_removes_unrecorded_ones() {
        let (_tmp, dir) = issued_pki();
        let bob = dir.join("clients/bob");
        let serial = Ledger::load(&dir).unwrap().certificates.last().unwrap().serial.clone();
        // A crash after the ledger write, before the renames: the files exist only as pending.
        for name in ["client.crt", "client.key"] {
            let path = bob.join(name);
            fs::rename(&path, files::pending_name(&path, &serial)).unwrap();
        }
        // A crash before the ledger write: pending files of a serial nobody recorded.
        let orphan =
            files::write_pending(&dir.join("clients/bob/client.crt"), "0badc0de", b"x", PUBLIC_MODE).unwrap();
        Pki::open(&dir).unwrap();
        assert!(bob.join("client.crt").exists() && bob.join("client.key").exists());
        assert!(!orphan.exists());
        assert!(files::find_pending(&bob).unwrap().is_empty());
    }

    #[test]
    fn a_failed_batch_records_nothing_and_leaves_no_files() {
        let (_tmp, dir) = issued_pki();
        let mut pki = Pki::open(&dir).unwrap();
        let before = pki.ledger().certificates.len();
        let reqs: Vec<ClientRequest> = ["carol", "bob", "dave"]
            .iter()
            .map(|r| ClientRequest { role: r.to_string(), ..Default::default() })
            .collect();
        let err = pki.issue_clients(&reqs, None, &mut |_| {}).unwrap_err();
        assert!(matches!(err, Error::Exists(_)), "{err}");
        assert_eq!(Ledger::load(&dir).unwrap().certificates.len(), before);
        assert!(!dir.join("clients/carol/client.crt").exists());
        assert!(files::find_pending(&dir.join("clients/carol")).unwrap().is_empty());
    }

    #[test]
    fn serials_are_normalised() {
        assert_eq!(normalize_serial("serial=4FA2").unwrap(), "4fa2");
        assert_eq!(normalize_serial("00:4f:a2").unwrap(), "4fa2");
        assert_eq!(normalize_serial("0x0abc").unwrap(), "0abc");
        assert!(normalize_serial("xyz").is_err());
    }

    #[test]
    fn hosts_are_checked() {
        assert!(matches!(parse_host("127.0.0.1").unwrap(), SanType::IpAddress(_)));
        assert!(matches!(parse_host("::1").unwrap(), SanType::IpAddress(_)));
        assert!(matches!(parse_host("*.db.example.com").unwrap(), SanType::DnsName(_)));
        let err = parse_host("my host").unwrap_err().to_string();
        assert!(err.contains("my host"), "{err}");
        assert!(parse_host("a..b").is_err());
        assert!(parse_host("*.").is_err());
    }

    #[test]
    fn role_and_dir_names_are_checked() {
        assert!(check_role(&"r".repeat(64)).is_err());
        assert!(check_role("Mixed Case \"quoted\" rôle").is_ok());
        assert!(check_dir_name("../etc").is_err());
        assert!(check_dir_name("bob").is_ok());
    }
}
