//! Step 6: the client certificate and its key.
//!
//! Owns: libpq's rules for the files (a certificate without its key, the key file mode: 0600 or
//! stricter, 0640 when owned by root), the certificate's own facts (validity, extendedKeyUsage
//! clientAuth), and — with the server's files — what the server will say of it: issued by a CA of
//! `ssl_ca_file`, revoked per `ssl_crl_file`, or refused because a CA of its chain has no CRL there.
//! Must not: read the key's contents (only its metadata; the final connection loads it).

use std::os::unix::fs::MetadataExt;

use pgharden_pgconn::Settings;
use pgharden_pki::{Purpose, Trust};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::server::Facts;
use crate::server_cert::names;
use crate::{Step, Verdict};

/// Step 6 and what step 7 needs from it.
#[derive(Debug)]
pub(crate) struct ClientOutcome {
    pub(crate) step: Step,
    /// A certificate is sent (the file exists and its key passes libpq's checks).
    pub(crate) sent: bool,
    /// The server would accept it (`None`: not known without the server's files).
    pub(crate) accepted: Option<bool>,
}

pub(crate) fn step(settings: &Settings, server: Option<&Facts>) -> ClientOutcome {
    let mut step = Step::new(6, "client-cert", "client certificate and key");
    let out = |step: Step, sent: bool, accepted: Option<bool>| ClientOutcome { step, sent, accepted };
    let Some(cert) = settings.sslcert.clone().filter(|p| p.is_file()) else {
        let shown = settings
            .sslcert
            .as_deref()
            .map_or("~/.postgresql/postgresql.crt".into(), |p| p.display().to_string());
        step.saw(format!("no client certificate: {shown} does not exist"));
        step.judge(
            Verdict::Skipped,
            "no certificate is sent (step 7 says whether the server asks for one)",
            None,
        );
        return out(step, false, Some(false));
    };
    step.saw(format!("sslcert {}", cert.display()));
    let key = settings.sslkey.clone().unwrap_or_else(|| cert.with_extension("key"));
    match std::fs::metadata(&key) {
        Err(e) => {
            step.saw(format!("sslkey {}: {e}", key.display()));
            step.judge(
                Verdict::Fail,
                format!("certificate present, but not private key file \"{}\"", key.display()),
                Some("sslkey=FILE naming the certificate's key".into()),
            );
            return out(step, false, None);
        }
        Ok(meta) => {
            let mode = meta.mode() & 0o7777;
            step.saw(format!("sslkey {}: mode {mode:04o}, owner uid {}", key.display(), meta.uid()));
            if !pgharden_pgconn::tls::key_mode_ok(meta.uid(), meta.mode()) {
                let fix = if meta.uid() == 0 { "0640" } else { "0600" };
                step.judge(
                    Verdict::Fail,
                    format!(
                        "key file mode: libpq refuses a key with group or world access (0600 or stricter; 0640 when owned by root), and {mode:04o} has it; psql says 'private key file ... has group or world access'"
                    ),
                    Some(format!("chmod {fix} '{}'", key.display())),
                );
                return out(step, false, None);
            }
        }
    }
    let pem = match std::fs::read(&cert) {
        Ok(b) => b,
        Err(e) => {
            step.judge(Verdict::Fail, format!("cannot read {}: {e}", cert.display()), None);
            return out(step, false, None);
        }
    };
    let blocks: Vec<Vec<u8>> = pem::parse_many(&pem)
        .map(|bs| {
            bs.into_iter().filter(|b| b.tag() == "CERTIFICATE").map(|b| b.contents().to_vec()).collect()
        })
        .unwrap_or_default();
    let Some(leaf_der) = blocks.first() else {
        step.judge(Verdict::Fail, format!("{} holds no certificate", cert.display()), None);
        return out(step, false, None);
    };
    if let Some((s, i, _)) = names(leaf_der) {
        step.saw(format!("subject '{s}', issued by '{i}'"));
    }
    if let Some(problem) = own_facts(leaf_der) {
        step.judge(Verdict::Fail, problem, Some(reissue(&settings.user)));
        return out(step, true, Some(false));
    }
    let Some(server) = server else {
        step.judge(
            Verdict::Ok,
            "valid now and allowed for clientAuth; whether the server's CA and CRLs accept it needs --pgdata",
            None,
        );
        return out(step, true, None);
    };
    let Some(ca) = &server.ca else {
        step.saw("the server has no ssl_ca_file: it cannot verify client certificates");
        step.judge(
            Verdict::Warn,
            "the server asks for no certificate, so this one is not sent and cert authentication cannot work",
            Some("ssl_ca_file = 'root.crt' (the CAs client certificates chain to) in postgresql.conf; pgharden apply sets it".into()),
        );
        return out(step, false, Some(false));
    };
    let certs = match &ca.value {
        Ok(c) => c,
        Err(e) => {
            step.judge(Verdict::Skipped, format!("ssl_ca_file: {e}"), None);
            return out(step, true, None);
        }
    };
    let mut trust = Trust::default();
    for der in certs {
        if names(der).is_some_and(|n| n.2) {
            trust.roots.push(der.clone());
        } else {
            trust.intermediates.push(der.clone());
        }
    }
    step.saw(format!("the server's ssl_ca_file {} holds {} certificate(s)", ca.path.display(), certs.len()));
    let crl_note = match &server.crl {
        Some(crl) => match &crl.value {
            Ok(list) => {
                step.saw(format!(
                    "the server's ssl_crl_file {} holds {} CRL(s)",
                    crl.path.display(),
                    list.len()
                ));
                trust.crls.extend(list.iter().map(|d| (crl.path.clone(), d.clone())));
                Some(crl.path.clone())
            }
            Err(e) => {
                step.saw(format!("ssl_crl_file: {e}"));
                None
            }
        },
        None => None,
    };
    let report = match pgharden_pki::verify_file(&trust, &cert, Purpose::Client, None) {
        Ok(r) => r,
        Err(e) => {
            step.judge(Verdict::Fail, format!("{}: {e}", cert.display()), None);
            return out(step, true, Some(false));
        }
    };
    let failed = |name: &str| report.checks.iter().find(|c| c.name == name && !c.ok);
    let reload = server.reload_command();
    if let Some(c) = failed("chain") {
        step.judge(
            Verdict::Fail,
            format!(
                "not issued by a CA the server trusts ({}): the server's ssl_ca_file {} does not lead to it; the server says 'certificate verify failed' or 'unknown ca'",
                c.detail,
                ca.path.display()
            ),
            Some(format!("a client certificate from a CA in {}: {}", ca.path.display(), reissue(&settings.user))),
        );
        return out(step, true, Some(false));
    }
    if let Some(crl_path) = crl_note {
        if let Some(c) = failed("crls") {
            step.judge(
                Verdict::Fail,
                format!(
                    "a CA without a CRL: {}; with ssl_crl_file set the server checks every CA of the chain and refuses every certificate under that CA (psql sees 'certificate verify failed' or 'unknown ca')",
                    c.detail
                ),
                Some(format!(
                    "put the CRL of every CA (root included) in {}: pgharden pki crl, then pgharden apply (or append the missing CRL and reload: {reload})",
                    crl_path.display()
                )),
            );
            return out(step, true, Some(false));
        }
        if failed("revocation").is_some() {
            step.judge(
                Verdict::Fail,
                format!(
                    "revoked: the server's CRLs list it or a CA of its chain (its serial is {}); the server sends the alert 'certificate revoked'",
                    report.serial
                ),
                Some(reissue(&settings.user)),
            );
            return out(step, true, Some(false));
        }
    }
    step.judge(
        Verdict::Ok,
        "the server's CAs accept it, and it is not revoked by the server's CRLs".to_string(),
        None,
    );
    out(step, true, Some(true))
}

/// The command that issues a replacement (the certificate and key files keep their names).
fn reissue(role: &str) -> String {
    format!(
        "issue a new client certificate with the server's PKI: pgharden pki client --dir PKI_DIR --role {role} --force"
    )
}

/// The certificate's own problems: expired, not valid yet, or not allowed for clientAuth.
fn own_facts(der: &[u8]) -> Option<String> {
    let (_, c) = X509Certificate::from_der(der).ok()?;
    if !c.validity().is_valid() {
        return Some(format!(
            "the client certificate is not valid now (valid {} to {})",
            c.validity().not_before,
            c.validity().not_after
        ));
    }
    let eku = c.extended_key_usage().ok().flatten();
    if let Some(e) = eku
        && !(e.value.client_auth || e.value.any)
    {
        return Some("its extendedKeyUsage does not allow clientAuth: it is not a client certificate".into());
    }
    None
}
