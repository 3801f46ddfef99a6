//! Steps 4 and 5: the chain the server sent against `sslrootcert` (and `sslcrl`), and the host
//! name against the certificate's names, both as libpq with OpenSSL judges them.
//!
//! Owns: telling apart what psql reports as one line — no root file, a root from another CA, an
//! intermediate the server does not send, an expired certificate, a revoked one, a CA without a
//! CRL, a host name not among the SANs — and the fix for each. Must not: re-implement chain
//! building or libpq's host-name rules (`pgharden-pki` has both).

use std::path::Path;

use pgharden_pgconn::{RootCert, Settings, SslMode};
use pgharden_pki::{Purpose, Trust};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::network::NetFacts;
use crate::server::Facts;
use crate::{Step, Verdict, host_name};

/// What steps 4 and 5 leave for later steps.
#[derive(Debug, Default)]
pub(crate) struct ChainOutcome {
    /// Whether the root certificate file exists (libpq then verifies even under `require`).
    pub(crate) root_file_exists: bool,
}

/// Subject and issuer of a DER certificate, and whether it signed itself (by name).
pub(crate) fn names(der: &[u8]) -> Option<(String, String, bool)> {
    let (_, c) = X509Certificate::from_der(der).ok()?;
    let (s, i) = (c.subject().to_string(), c.issuer().to_string());
    let selfsigned = c.subject().as_raw() == c.issuer().as_raw();
    Some((s, i, selfsigned))
}

/// Whether a root bears the name of `der`'s issuer, and whether one's key verifies its signature.
fn issued_by_root(der: &[u8], roots: &[Vec<u8>]) -> (bool, bool) {
    let Ok((_, cert)) = X509Certificate::from_der(der) else { return (false, false) };
    let mut same_name = false;
    for root in roots {
        let Ok((_, r)) = X509Certificate::from_der(root) else { continue };
        if r.subject().as_raw() == cert.issuer().as_raw() {
            same_name = true;
            if cert.verify_signature(Some(r.public_key())).is_ok() {
                return (true, true);
            }
        }
    }
    (same_name, false)
}

fn subjects(ders: &[Vec<u8>]) -> String {
    let list: Vec<String> = ders.iter().filter_map(|d| names(d).map(|n| format!("'{}'", n.0))).collect();
    if list.is_empty() { "nothing".into() } else { list.join(", ") }
}

pub(crate) fn steps(
    settings: &Settings,
    net: &NetFacts,
    server: Option<&Facts>,
    default_root: Option<&Path>,
    steps: &mut Vec<Step>,
) -> ChainOutcome {
    let mut out = ChainOutcome::default();
    let mut chain_step = Step::new(4, "server-chain", "server certificate chain against sslrootcert");
    let mut host_step = Step::new(5, "host-name", "host name against the certificate's names");
    let root_path = match &settings.sslrootcert {
        Some(RootCert::File(p)) => Some(p.clone()),
        _ => None,
    };
    out.root_file_exists = root_path.as_deref().is_some_and(Path::is_file);
    let chain = match &net.chain {
        Some(Ok(chain)) if !chain.is_empty() => chain.clone(),
        Some(Ok(_)) => {
            chain_step.judge(Verdict::Fail, "the server sent no certificate", None);
            steps.extend([chain_step, skipped(host_step, "no certificate (step 4)")]);
            return out;
        }
        Some(Err(e)) => {
            chain_step.saw(format!("the TLS handshake failed: {e}"));
            chain_step.judge(Verdict::Fail, "no chain could be read", None);
            steps.extend([chain_step, skipped(host_step, "no certificate (step 4)")]);
            return out;
        }
        None => {
            // libpq looks for the root file before it connects: a missing one is the error even
            // when the server cannot be reached.
            match root_path.as_deref() {
                Some(root) if settings.sslmode >= SslMode::VerifyCa && !out.root_file_exists => {
                    chain_step.saw(format!("sslrootcert is {}: it does not exist", root.display()));
                    let ctx = Context { settings, chain: &[], server, default_root };
                    chain_step.judge(
                        Verdict::Fail,
                        format!(
                            "sslmode={} needs a root certificate and {} does not exist: libpq stops before it connects",
                            settings.sslmode,
                            root.display()
                        ),
                        Some(root_fix(&ctx, "the server's root CA", Some(root))),
                    );
                }
                _ => chain_step.judge(Verdict::Skipped, "no TLS (step 3)", None),
            }
            steps.extend([chain_step, skipped(host_step, "no TLS (step 3)")]);
            return out;
        }
    };
    for (i, der) in chain.iter().enumerate() {
        if let Some((s, iss, _)) = names(der) {
            chain_step.saw(format!("served #{}: '{s}', issued by '{iss}'", i + 1));
        }
    }
    let verifies =
        settings.sslmode >= SslMode::VerifyCa || (settings.sslmode >= SslMode::Allow && out.root_file_exists);
    let ctx = Context { settings, chain: &chain, server, default_root };
    judge_chain(&mut chain_step, &ctx, root_path.as_deref(), out.root_file_exists, verifies);
    steps.push(chain_step);
    judge_host(&mut host_step, settings, &chain[0]);
    steps.push(host_step);
    out
}

fn skipped(mut step: Step, why: &str) -> Step {
    step.judge(Verdict::Skipped, why, None);
    step
}

/// A root that verifies the served chain, among the server's own files: the fix to suggest.
fn server_root_candidate(server: Option<&Facts>, chain: &[Vec<u8>]) -> Option<String> {
    let server = server?;
    let ca = server.ca.as_ref()?;
    let certs = ca.value.as_ref().ok()?;
    let roots: Vec<Vec<u8>> = certs.iter().filter(|d| names(d).is_some_and(|n| n.2)).cloned().collect();
    let trust = Trust { roots, ..Trust::default() };
    let report =
        pgharden_pki::verify_chain(&trust, Path::new("served chain"), chain, Purpose::Server, None).ok()?;
    report.checks.iter().find(|c| c.name == "chain").filter(|c| c.ok)?;
    Some(ca.path.display().to_string())
}

/// What step 4 judges with.
struct Context<'a> {
    settings: &'a Settings,
    chain: &'a [Vec<u8>],
    server: Option<&'a Facts>,
    /// `~/.postgresql/root.crt`, where libpq looks without `sslrootcert`.
    default_root: Option<&'a Path>,
}

/// Re-issue the server certificate for the host this connection names, then deploy it.
fn reissue_fix(settings: &Settings) -> String {
    let host = settings.hosts.first().map(pgharden_pgconn::Host::host_str).unwrap_or_default();
    format!(
        "issue and deploy a new server certificate for {host}: pgharden pki server --dir PKI_DIR --host {}, then pgharden apply (or pgharden deploy for another CA's)",
        pgharden_text::shell_word(&host)
    )
}

fn root_fix(ctx: &Context<'_>, top_issuer: &str, root: Option<&Path>) -> String {
    // Copying over a file the user named would change what other connections trust; only the
    // default location is offered as a copy target.
    let copy = |file: &str| match (root, ctx.default_root) {
        (Some(r), Some(d)) if r == d => {
            format!(", or copy it where libpq looks: install -D -m 0644 '{file}' '{}'", d.display())
        }
        _ => String::new(),
    };
    match server_root_candidate(ctx.server, ctx.chain) {
        Some(file) => format!(
            "sslrootcert={file} in the connection string (it holds the root that signed this chain){}",
            copy(&file)
        ),
        None => format!(
            "sslrootcert=FILE in the connection string, where FILE holds the root CA certificate '{top_issuer}' (for a pgharden PKI: PKI_DIR/root/ca.crt)"
        ),
    }
}

fn judge_chain(step: &mut Step, ctx: &Context<'_>, root: Option<&Path>, root_exists: bool, verifies: bool) {
    let (settings, chain, server) = (ctx.settings, ctx.chain, ctx.server);
    let top = chain.last().and_then(|d| names(d));
    let top_issuer = top.as_ref().map(|t| t.1.clone()).unwrap_or_default();
    let severity = if verifies { Verdict::Fail } else { Verdict::Warn };
    let Some(root) = root else {
        let system = matches!(settings.sslrootcert, Some(RootCert::System));
        if system {
            step.saw("sslrootcert=system: the system's trusted roots (checked by the final connection)");
            step.judge(Verdict::Skipped, "a public CA's chain is for the final connection to judge", None);
        } else {
            step.saw("no sslrootcert, and no home directory for ~/.postgresql/root.crt");
            step.judge(
                severity,
                "without a root certificate the server cannot be authenticated",
                Some(root_fix(ctx, &top_issuer, None)),
            );
        }
        return;
    };
    if !root_exists {
        step.saw(format!(
            "sslrootcert is {} (libpq's default is ~/.postgresql/root.crt): it does not exist",
            root.display()
        ));
        let why = if verifies {
            format!(
                "sslmode={} needs a root certificate and {} does not exist: psql says 'root certificate file ... does not exist'",
                settings.sslmode,
                root.display()
            )
        } else {
            format!(
                "sslmode={} encrypts but does not authenticate the server without a root certificate: anyone on the path can pose as it",
                settings.sslmode
            )
        };
        step.judge(severity, why, Some(root_fix(ctx, &top_issuer, Some(root))));
        return;
    }
    let mut trust = Trust::default();
    if let Err(e) = trust.add_certs(root, true) {
        step.saw(format!("sslrootcert {}: {e}", root.display()));
        step.judge(
            severity,
            "the root certificate file is unusable",
            Some(root_fix(ctx, &top_issuer, Some(root))),
        );
        return;
    }
    step.saw(format!("sslrootcert {} holds {}", root.display(), subjects(&trust.roots)));
    let crl_given = match &settings.sslcrl {
        Some(crl) if crl.is_file() => match trust.add_crls(crl) {
            Ok(()) => {
                step.saw(format!(
                    "sslcrl {}: {} CRL(s); libpq then checks the CRL of every CA in the chain",
                    crl.display(),
                    trust.crls.len()
                ));
                true
            }
            Err(e) => {
                step.saw(format!("sslcrl {}: {e}", crl.display()));
                false
            }
        },
        _ => false,
    };
    if !verifies {
        step.saw(format!("sslmode={}: libpq does not verify the chain at all", settings.sslmode));
    }
    let report =
        match pgharden_pki::verify_chain(&trust, Path::new("served chain"), chain, Purpose::Server, None) {
            Ok(r) => r,
            Err(e) => {
                step.judge(severity, format!("the served chain cannot be read: {e}"), None);
                return;
            }
        };
    let failed = |name: &str| report.checks.iter().find(|c| c.name == name && !c.ok);
    let root_names: Vec<String> = trust.roots.iter().filter_map(|d| names(d).map(|n| n.0)).collect();
    if let Some(c) = failed("validity") {
        step.judge(
            severity,
            format!("the server certificate is {}: psql says 'certificate verify failed: certificate has expired'", c.detail),
            Some(reissue_fix(settings)),
        );
    } else if let Some(c) = failed("chain") {
        let (same_name, signed) =
            chain.last().map_or((false, false), |top| issued_by_root(top, &trust.roots));
        let same_name = same_name || root_names.contains(&top_issuer);
        let (why, fix) = if signed {
            (format!("the chain leads to a trusted root but does not verify: {}", c.detail), None)
        } else if chain.len() == 1 && top.as_ref().is_some_and(|t| !t.2) {
            let fix = format!(
                "the server must send its intermediate CA certificate ('{top_issuer}') after its own in ssl_cert_file{}; pgharden apply writes both, then reload",
                server.map(|s| format!(" ({})", s.cert_file.display())).unwrap_or_default()
            );
            (
                format!(
                    "intermediate not sent: the server sent only its own certificate, issued by '{top_issuer}', which is neither sent nor in sslrootcert; psql says 'certificate verify failed: unable to get local issuer certificate'"
                ),
                Some(fix),
            )
        } else {
            (
                format!(
                    "wrong CA: the served chain ends at a certificate issued by '{top_issuer}', but sslrootcert holds only {}{}; psql says 'certificate verify failed' with the same words as for a missing intermediate",
                    subjects(&trust.roots),
                    if same_name { " (a root of the same name but another key: a different CA)" } else { "" }
                ),
                Some(root_fix(ctx, &top_issuer, Some(root))),
            )
        };
        step.judge(severity, why, fix);
    } else if let Some(c) = failed("purpose") {
        step.judge(severity, format!("not a server certificate: {}", c.detail), None);
    } else if let Some(c) = failed("crls").filter(|_| crl_given) {
        step.judge(
            severity,
            format!(
                "a CA without a CRL: {}; psql says 'certificate verify failed: unable to get certificate CRL'",
                c.detail
            ),
            Some("sslcrl must hold the CRL of every CA in the chain, the root included (pgharden pki crl writes them all to PKI_DIR/crls.pem)".into()),
        );
    } else if let Some(c) = failed("revocation").filter(|_| crl_given) {
        step.judge(severity, format!("revoked: {}", c.detail), Some(reissue_fix(settings)));
    } else if verifies {
        let crl_words = if crl_given {
            ", and no certificate of it is revoked"
        } else {
            " (no sslcrl: revocation not checked)"
        };
        step.judge(Verdict::Ok, format!("the chain leads to a root of sslrootcert{crl_words}"), None);
    } else {
        step.judge(
            Verdict::Warn,
            format!(
                "the chain would verify, but sslmode={} does not check it: anyone on the path can pose as the server",
                settings.sslmode
            ),
            Some("sslmode=verify-full".into()),
        );
    }
}

fn judge_host(step: &mut Step, settings: &Settings, leaf_der: &[u8]) {
    let host = host_name(settings);
    let Ok((_, leaf)) = X509Certificate::from_der(leaf_der) else {
        step.judge(Verdict::Fail, "the served certificate cannot be parsed", None);
        return;
    };
    let check = match pgharden_pki::hostname::check_host(&leaf, &host) {
        Ok(c) => c,
        Err(e) => {
            step.judge(Verdict::Fail, format!("libpq stops the check: {e}"), None);
            return;
        }
    };
    let listed: Vec<String> =
        check.names_checked.iter().map(|n| format!("{:?} {}", n.kind, n.value)).collect();
    step.saw(format!(
        "host is '{host}'; libpq examined: {}",
        if listed.is_empty() { "no name".into() } else { listed.join(", ") }
    ));
    if check.used_cn_fallback {
        step.saw("the certificate has no SAN of the host's type, so libpq fell back to the subject CN");
    }
    let full = settings.sslmode == SslMode::VerifyFull;
    if check.matched {
        step.judge(
            Verdict::Ok,
            format!("'{host}' matches '{}'", check.matched_name.clone().unwrap_or_default()),
            None,
        );
        return;
    }
    let sans: Vec<String> = check
        .names_checked
        .iter()
        .filter(|n| !matches!(n.kind, pgharden_pki::hostname::NameKind::CommonName))
        .map(|n| n.value.clone())
        .collect();
    let why = format!(
        "host not in the SANs: '{host}' is not among the certificate's names; libpq compares the SANs of the host's type (DNS names for a name, IP addresses for an address) and the CN only when there is none. {} ({})",
        if full {
            "sslmode=verify-full checks the name, require and verify-ca do not: that is why they connect and verify-full does not"
        } else {
            "This sslmode does not check the name, so it connects, but verify-full would refuse it"
        },
        check.libpq_message.clone().unwrap_or_default()
    );
    let fix = match sans.first() {
        Some(name) => format!(
            "connect with host={name} (a name the certificate holds), or issue a certificate for '{host}': pgharden pki server --host {host}, then pgharden apply"
        ),
        None => format!(
            "issue a certificate for '{host}': pgharden pki server --host {host}, then pgharden apply"
        ),
    };
    step.judge(if full { Verdict::Fail } else { Verdict::Warn }, why, Some(fix));
}
