//! `pki verify`: would libpq (or the PostgreSQL server) accept this certificate?
//!
//! Owns: checking a leaf certificate the way a TLS peer of PostgreSQL does — chain to the root,
//! signatures, validity of every certificate, purpose (serverAuth / clientAuth), revocation against
//! the CRLs of *every* CA in the chain including the root (as OpenSSL does once `ssl_crl_file` or
//! `sslcrl` is set), CRL freshness, and libpq's verify-full host-name rules — and explaining each
//! outcome in plain words.
//! Chain building and signature checks are rustls-webpki's; the root-CRL rule and the host-name rules
//! are ours, because webpki does not check the anchor's revocation and never falls back to the CN.
//! Must not: read PostgreSQL configuration.

use std::path::{Path, PathBuf};

use rustls_pki_types::{CertificateDer, UnixTime};
use serde::Serialize;
use time::OffsetDateTime;
use webpki::{
    CertRevocationList, EndEntityCert, ExpirationPolicy, KeyUsage, OwnedCertRevocationList,
    RevocationCheckDepth, RevocationOptions, RevocationOptionsBuilder, UnknownStatusPolicy,
};
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::revocation_list::CertificateRevocationList;

use crate::error::{Error, Result};
use crate::files;
use crate::hostname::{self, HostCheck};
use crate::inspect::format_name;
use crate::inspect::rfc3339;
use crate::ledger::Kind;

/// Which side of a connection the certificate is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Purpose {
    /// A server certificate: its extended key usage must allow serverAuth.
    Server,
    /// A client certificate: its extended key usage must allow clientAuth.
    Client,
}

/// The certificates and CRLs a verifier trusts.
#[derive(Debug, Clone, Default)]
pub struct Trust {
    /// Trust anchors (root CAs).
    pub roots: Vec<Vec<u8>>,
    /// Intermediate CA certificates that may complete a chain.
    pub intermediates: Vec<Vec<u8>>,
    /// CRLs (DER), with the file each came from.
    pub crls: Vec<(PathBuf, Vec<u8>)>,
}

impl Trust {
    /// The trust of a pgharden PKI directory: its root, both intermediates, and all three CRLs.
    pub fn from_pki_dir(dir: &Path) -> Result<Self> {
        if !dir.is_dir() {
            return Err(Error::NotAPki(dir.to_path_buf()));
        }
        let mut trust = Self::default();
        trust.add_certs(&dir.join("root/ca.crt"), true)?;
        for kind in [Kind::ServerCa, Kind::ClientCa] {
            trust.add_certs(&dir.join(kind.ca_dir()).join("ca.crt"), false)?;
        }
        for kind in [Kind::Root, Kind::ServerCa, Kind::ClientCa] {
            trust.add_crls(&dir.join(kind.ca_dir()).join("crl.pem"))?;
        }
        Ok(trust)
    }

    /// Add every certificate of a PEM file, as roots or as intermediates.
    pub fn add_certs(&mut self, path: &Path, as_roots: bool) -> Result<()> {
        let certs = pem_blocks(path, "CERTIFICATE")?;
        if certs.is_empty() {
            return Err(Error::bad_file(path, "no CERTIFICATE in the file"));
        }
        let target = if as_roots { &mut self.roots } else { &mut self.intermediates };
        target.extend(certs);
        Ok(())
    }

    /// Add every CRL of a PEM file.
    pub fn add_crls(&mut self, path: &Path) -> Result<()> {
        let crls = pem_blocks(path, "X509 CRL")?;
        if crls.is_empty() {
            return Err(Error::bad_file(path, "no X509 CRL in the file"));
        }
        self.crls.extend(crls.into_iter().map(|c| (path.to_path_buf(), c)));
        Ok(())
    }
}

fn pem_blocks(path: &Path, tag: &str) -> Result<Vec<Vec<u8>>> {
    let bytes = files::read(path)?;
    let blocks = pem::parse_many(&bytes)
        .map_err(|e| Error::bad_file(path, format!("not a PEM file ({e}); truncated?")))?;
    Ok(blocks.into_iter().filter(|b| b.tag() == tag).map(|b| b.contents().to_vec()).collect())
}

/// One check and its outcome.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Check {
    /// Which check: "chain", "validity", "purpose", "crls", "revocation" or "host name".
    pub name: &'static str,
    /// Whether the certificate passed it.
    pub ok: bool,
    /// What was found, in plain words.
    pub detail: String,
}

/// The outcome of verifying one certificate file.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The certificate file (or other origin) as given.
    pub file: PathBuf,
    /// The leaf's subject DN, RFC 4514 form.
    pub subject: String,
    /// The leaf's serial as its DER bytes in lowercase hex (a leading 00 kept).
    pub serial: String,
    /// The purpose it was verified for.
    pub purpose: Purpose,
    /// Subjects from the leaf to the root, when a chain was found.
    pub chain: Vec<String>,
    /// Every check made, in order.
    pub checks: Vec<Check>,
    /// libpq's host-name check; `None` when no host was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<HostCheck>,
    /// True when every check passed: libpq (or the server) would accept the certificate.
    pub ok: bool,
}

impl Report {
    /// Plain-words rendering, one line per check.
    ///
    /// Subjects, the file name and the details (which quote certificate names and webpki's words)
    /// are escaped with [`pgharden_text::line`]: a certificate cannot add a line, such as a fake
    /// verdict, to the report. The fields (and so the JSON form) keep the original characters.
    pub fn render_text(&self) -> String {
        use pgharden_text::line;
        let file = self.file.display().to_string();
        let mut out = format!(
            "{}\n  subject: {}\n  serial:  {}\n",
            line(&file),
            line(&self.subject),
            line(&self.serial)
        );
        if !self.chain.is_empty() {
            let chain: Vec<_> = self.chain.iter().map(|s| line(s)).collect();
            out.push_str(&format!("  chain:   {}\n", chain.join(" -> ")));
        }
        for c in &self.checks {
            let mark = if c.ok { "ok  " } else { "FAIL" };
            out.push_str(&format!("  [{mark}] {:<11} {}\n", c.name, line(&c.detail)));
        }
        let verdict = match (self.ok, self.purpose) {
            (true, Purpose::Server) => "ACCEPTED: libpq would accept this server certificate",
            (true, Purpose::Client) => "ACCEPTED: PostgreSQL would accept this client certificate",
            (false, Purpose::Server) => "REJECTED: libpq would refuse this server certificate",
            (false, Purpose::Client) => "REJECTED: PostgreSQL would refuse this client certificate",
        };
        out.push_str(verdict);
        out.push('\n');
        out
    }
}

/// Verify the first certificate of `file` (later ones are offered as intermediates, as in a
/// `server.crt` bundle) for `purpose`, and for `host` under verify-full when given.
pub fn verify_file(trust: &Trust, file: &Path, purpose: Purpose, host: Option<&str>) -> Result<Report> {
    let mut certs = pem_blocks(file, "CERTIFICATE")?;
    if certs.is_empty() {
        return Err(Error::bad_file(file, "no CERTIFICATE in the file"));
    }
    let leaf_der = certs.remove(0);
    let mut intermediates = trust.intermediates.clone();
    intermediates.extend(certs);
    verify_der(trust, file, &leaf_der, &intermediates, purpose, host, OffsetDateTime::now_utc())
}

/// Verify a chain as a TLS peer sent it (DER, leaf first), as [`verify_file`] does for a file.
pub fn verify_chain(
    trust: &Trust,
    origin: &Path,
    chain: &[Vec<u8>],
    purpose: Purpose,
    host: Option<&str>,
) -> Result<Report> {
    let Some((leaf, rest)) = chain.split_first() else {
        return Err(Error::bad_file(origin, "no certificate was sent"));
    };
    let mut intermediates = trust.intermediates.clone();
    intermediates.extend(rest.iter().cloned());
    verify_der(trust, origin, leaf, &intermediates, purpose, host, OffsetDateTime::now_utc())
}

fn verify_der(
    trust: &Trust,
    file: &Path,
    leaf_der: &[u8],
    intermediates: &[Vec<u8>],
    purpose: Purpose,
    host: Option<&str>,
    at: OffsetDateTime,
) -> Result<Report> {
    let (_, leaf) = X509Certificate::from_der(leaf_der)
        .map_err(|e| Error::bad_file(file, format!("corrupt certificate: {e}")))?;
    let mut checks = vec![validity_check(&leaf, at), purpose_check(&leaf, purpose)];
    let chain = chain_check(trust, leaf_der, intermediates, purpose, at, false);
    let path = match &chain {
        Ok(path) => {
            let via = match path.len().saturating_sub(2) {
                0 => "directly".to_string(),
                1 => "through 1 intermediate CA".to_string(),
                n => format!("through {n} intermediate CAs"),
            };
            checks.push(Check {
                name: "chain",
                ok: true,
                detail: format!("signed by the trusted root {via}"),
            });
            path.clone()
        }
        Err(detail) => {
            checks.push(Check { name: "chain", ok: false, detail: detail.clone() });
            Vec::new()
        }
    };
    if chain.is_ok() {
        checks.extend(revocation_checks(trust, leaf_der, intermediates, &path, purpose, at));
    }
    let host_check = match host {
        Some(h) => {
            let result = hostname::check_host(&leaf, h)?;
            checks.push(host_as_check(&result, h));
            Some(result)
        }
        None => None,
    };
    let subjects = path
        .iter()
        .filter_map(|der| X509Certificate::from_der(der).ok().map(|(_, c)| format_name(c.subject())))
        .collect();
    Ok(Report {
        file: file.to_path_buf(),
        subject: format_name(leaf.subject()),
        serial: hex::encode(leaf.raw_serial()),
        purpose,
        chain: subjects,
        ok: checks.iter().all(|c| c.ok),
        checks,
        host: host_check,
    })
}

fn validity_check(leaf: &X509Certificate<'_>, at: OffsetDateTime) -> Check {
    let nb = leaf.validity().not_before.to_datetime();
    let na = leaf.validity().not_after.to_datetime();
    let (ok, detail) = if at < nb {
        (false, format!("not valid until {} (clock skew, or issued for the future)", rfc3339(nb)))
    } else if at > na {
        (false, format!("expired {} days ago, on {}", (at - na).whole_days(), rfc3339(na)))
    } else {
        (true, format!("valid until {} ({} days left)", rfc3339(na), (na - at).whole_days()))
    };
    Check { name: "validity", ok, detail }
}

fn purpose_check(leaf: &X509Certificate<'_>, purpose: Purpose) -> Check {
    let is_ca = leaf.basic_constraints().ok().flatten().is_some_and(|bc| bc.value.ca);
    let eku = leaf.extended_key_usage().ok().flatten().map(|e| e.value.clone());
    let (wanted, word) = match purpose {
        Purpose::Server => (eku.as_ref().map(|e| e.server_auth || e.any), "TLS server (serverAuth)"),
        Purpose::Client => (eku.as_ref().map(|e| e.client_auth || e.any), "TLS client (clientAuth)"),
    };
    let (ok, detail) = if is_ca {
        (false, "this is a CA certificate, not a leaf".to_string())
    } else {
        match wanted {
            Some(true) => (true, format!("extendedKeyUsage allows {word}")),
            Some(false) => (false, format!("extendedKeyUsage does not allow {word}")),
            None => (true, format!("no extendedKeyUsage, so any purpose including {word}")),
        }
    };
    Check { name: "purpose", ok, detail }
}

fn unix_time(at: OffsetDateTime) -> UnixTime {
    let secs = u64::try_from(at.unix_timestamp()).unwrap_or(0);
    UnixTime::since_unix_epoch(std::time::Duration::from_secs(secs))
}

/// Build and check the chain with webpki. Ok is the path leaf..root as DER.
fn chain_check(
    trust: &Trust,
    leaf_der: &[u8],
    intermediates: &[Vec<u8>],
    purpose: Purpose,
    at: OffsetDateTime,
    with_crls: bool,
) -> std::result::Result<Vec<Vec<u8>>, String> {
    let leaf_cd = CertificateDer::from(leaf_der);
    let ee = EndEntityCert::try_from(&leaf_cd).map_err(|e| explain(&e))?;
    let root_cds: Vec<CertificateDer<'_>> =
        trust.roots.iter().map(|r| CertificateDer::from(r.as_slice())).collect();
    let anchors = root_cds
        .iter()
        .map(|r| {
            webpki::anchor_from_trusted_cert(r)
                .map_err(|e| format!("trusted root is unusable: {}", explain(&e)))
        })
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let inter: Vec<CertificateDer<'_>> =
        intermediates.iter().map(|c| CertificateDer::from(c.as_slice())).collect();
    let crls: Vec<CertRevocationList<'_>> = if with_crls {
        trust
            .crls
            .iter()
            .filter_map(|(_, der)| OwnedCertRevocationList::from_der(der).ok().map(CertRevocationList::Owned))
            .collect()
    } else {
        Vec::new()
    };
    let crl_refs: Vec<&CertRevocationList<'_>> = crls.iter().collect();
    let revocation = if with_crls {
        Some(strict_revocation(&crl_refs).ok_or_else(|| "no CRL is available".to_string())?)
    } else {
        None
    };
    let usage = match purpose {
        Purpose::Server => KeyUsage::server_auth(),
        Purpose::Client => KeyUsage::client_auth(),
    };
    let path = ee
        .verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &anchors,
            &inter,
            unix_time(at),
            usage,
            revocation,
            None,
        )
        .map_err(|e| explain(&e))?;
    let mut out = vec![leaf_der.to_vec()];
    out.extend(path.intermediate_certificates().map(|c| c.der().to_vec()));
    // webpki hands back the anchor, not its certificate: the root is the one that issued the top.
    let top_issuer = out
        .last()
        .and_then(|der| X509Certificate::from_der(der).ok().map(|(_, c)| c.issuer().as_raw().to_vec()));
    if let Some(root) = trust.roots.iter().find(|r| {
        X509Certificate::from_der(r).is_ok_and(|(_, c)| Some(c.subject().as_raw()) == top_issuer.as_deref())
    }) {
        out.push(root.clone());
    }
    Ok(out)
}

/// Revocation as OpenSSL checks it once CRLs are configured (`ssl_crl_file`, `sslcrl`): every
/// certificate of the chain, an unknown status refused, an expired CRL refused. `None` when no CRL
/// was given at all.
pub fn strict_revocation<'a>(crls: &'a [&'a CertRevocationList<'a>]) -> Option<RevocationOptions<'a>> {
    let builder = RevocationOptionsBuilder::new(crls).ok()?;
    Some(
        builder
            .with_depth(RevocationCheckDepth::Chain)
            .with_status_policy(UnknownStatusPolicy::Deny)
            .with_expiration_policy(ExpirationPolicy::Enforce)
            .build(),
    )
}

/// Revocation as OpenSSL with CRL checking of the whole chain sees it: each certificate in the path,
/// the root included, needs a current CRL from its issuer, and must not be on it.
fn revocation_checks(
    trust: &Trust,
    leaf_der: &[u8],
    intermediates: &[Vec<u8>],
    path: &[Vec<u8>],
    purpose: Purpose,
    at: OffsetDateTime,
) -> Vec<Check> {
    let mut checks = Vec::new();
    let parsed: Vec<_> = trust
        .crls
        .iter()
        .filter_map(|(p, der)| CertificateRevocationList::from_der(der).ok().map(|(_, crl)| (p, crl)))
        .collect();
    let mut missing = Vec::new();
    let mut stale = Vec::new();
    for der in path {
        let Ok((_, cert)) = X509Certificate::from_der(der) else {
            continue;
        };
        match parsed.iter().find(|(_, crl)| crl.issuer().as_raw() == cert.issuer().as_raw()) {
            None => missing.push(cert.issuer().to_string()),
            Some((p, crl)) => {
                if let Some(next) = crl.next_update()
                    && next.to_datetime() < at
                {
                    stale.push(format!(
                        "{} (next update was due {})",
                        p.display(),
                        rfc3339(next.to_datetime())
                    ));
                }
            }
        }
    }
    let (ok, detail) = if !missing.is_empty() {
        (
            false,
            format!(
                "no CRL from {}; with CRL checking on, PostgreSQL and libpq reject the chain",
                missing.join(", ")
            ),
        )
    } else if !stale.is_empty() {
        (false, format!("expired CRL {}; run `pgharden pki crl`", stale.join(", ")))
    } else {
        (true, "every CA in the chain, the root included, has a current CRL".to_string())
    };
    checks.push(Check { name: "crls", ok, detail });
    let revoked = match chain_check(trust, leaf_der, intermediates, purpose, at, true) {
        Ok(_) => Check { name: "revocation", ok: true, detail: "not revoked".into() },
        Err(detail) => Check { name: "revocation", ok: false, detail },
    };
    checks.push(revoked);
    checks
}

fn host_as_check(result: &HostCheck, host: &str) -> Check {
    let detail = if result.matched {
        let how = if result.used_cn_fallback { " (subject CN; no SAN of that type)" } else { "" };
        format!("\"{host}\" matches \"{}\"{how}", result.matched_name.clone().unwrap_or_default())
    } else {
        result
            .libpq_message
            .clone()
            .unwrap_or_else(|| format!("\"{host}\" matches no name in the certificate"))
    };
    Check { name: "host name", ok: result.matched, detail }
}

/// webpki's errors, in the words a DBA would use.
fn explain(e: &webpki::Error) -> String {
    use webpki::Error as E;
    match e {
        E::UnknownIssuer => "no chain to the trusted root (unknown issuer)".into(),
        E::CertExpired { .. } => "a certificate in the chain has expired".into(),
        E::CertNotValidYet { .. } => "a certificate in the chain is not valid yet".into(),
        E::CertRevoked => "REVOKED: a certificate in the chain is on its CA's CRL".into(),
        E::UnknownRevocationStatus => "no CRL covers a certificate in the chain".into(),
        E::CrlExpired { .. } => "a CRL has expired; run `pgharden pki crl`".into(),
        E::RequiredEkuNotFoundContext(_) => "its extendedKeyUsage does not allow this purpose".into(),
        E::CaUsedAsEndEntity => "a CA certificate used as a leaf".into(),
        E::EndEntityUsedAsCa => "a leaf certificate used as a CA".into(),
        E::InvalidSignatureForPublicKey => "a signature in the chain does not verify".into(),
        E::PathLenConstraintViolated => "the chain is longer than a CA's pathLenConstraint allows".into(),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_text_escapes_what_the_certificate_says() {
        let report = Report {
            file: PathBuf::from("evil\u{1b}[2J.crt"),
            subject: "CN=x\r\nACCEPTED: libpq would accept this server certificate".into(),
            serial: "01".into(),
            purpose: Purpose::Server,
            chain: vec!["CN=\u{202e}leaf".into(), "CN=root\n[ok  ] fake".into()],
            checks: vec![Check {
                name: "host name",
                ok: false,
                detail: "\"h\" matches no name\n  [ok  ] chain       signed".into(),
            }],
            host: None,
            ok: false,
        };
        let text = report.render_text();
        assert!(!text.chars().any(|c| c.is_control() && c != '\n'), "{text:?}");
        assert_eq!(text.lines().count(), 6, "{text}");
        assert!(text.lines().filter(|l| l.starts_with("ACCEPTED")).count() == 0, "{text}");
        assert!(text.lines().filter(|l| l.trim_start().starts_with("[ok  ]")).count() == 0, "{text}");
        assert!(text.contains("evil\\x1b[2J.crt") && text.contains("\\u{202e}leaf"), "{text}");
        assert!(text.ends_with("REJECTED: libpq would refuse this server certificate\n"), "{text}");
    }

    #[test]
    fn webpki_errors_are_explained() {
        assert!(explain(&webpki::Error::CertRevoked).contains("REVOKED"));
        assert!(explain(&webpki::Error::UnknownIssuer).contains("unknown issuer"));
    }
}
