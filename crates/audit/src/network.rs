//! What the network says, without credentials: the facts `pgharden probe` prints and the network
//! rules of the audit judge.
//!
//! Owns: running the `pgharden-wire` probes against one server and summarising them — the
//! SSLRequest and GSSENCRequest answers, which TLS versions are accepted, the negotiated version and
//! suite, the chain served (expiry, key, signature, SANs) and whether it verifies against a root
//! under verify-ca and verify-full, direct TLS (PostgreSQL 17+), and whether pg_hba.conf refuses a
//! plaintext startup and a TLS startup without a client certificate. No password is ever sent.
//! Must not: judge STIG rules (that is `checks`).

use std::path::{Path, PathBuf};

use pgharden_wire::{DirectTlsAnswer, StartupAnswer, StartupReply, Target, TlsVersionName};
use serde::Serialize;

use crate::evidence::{Missing, NetworkFacts};

/// The certificate chain as served, explained.
#[derive(Debug, Clone, Serialize)]
pub struct ChainFacts {
    pub negotiated_version: String,
    pub cipher_suite: String,
    /// `pgharden pki show` of the chain, in words (values from the certificates escaped).
    pub certificates: String,
    /// The same, as data: the certificates' fields with their original characters (for `--json`).
    pub inspection: Option<pgharden_pki::inspect::Inspection>,
    /// verify-ca / verify-full outcomes against `--sslrootcert`, when given.
    pub verify_ca: Option<String>,
    pub verify_full: Option<String>,
}

/// Everything `pgharden probe` reports.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeReport {
    pub format: u32,
    pub target: String,
    pub ssl_request: String,
    pub gssenc_request: String,
    pub tls_versions: Vec<(String, String)>,
    pub chain: Option<ChainFacts>,
    pub chain_error: Option<String>,
    pub direct_tls: String,
    pub plaintext_startup: String,
    pub plaintext_refused: Option<bool>,
    pub certless_startup: String,
    pub certless_refused: Option<bool>,
    /// The versions as data, for the audit (`Err`: the version probe failed, and why).
    #[serde(skip)]
    pub versions: Result<Vec<(TlsVersionName, bool)>, String>,
    /// The first certificate served (DER), for the audit to compare with `ssl_cert_file`.
    #[serde(skip)]
    pub served_leaf: Result<Vec<u8>, String>,
    /// Every version, suite and group the server accepts (`Err`: the scan failed, and why).
    #[serde(skip)]
    pub scan: Result<pgharden_wire::Scan, String>,
}

/// Probe options.
#[derive(Debug, Clone)]
pub struct ProbeOptions {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub dbname: String,
    pub sslrootcert: Option<PathBuf>,
}

fn version_name(v: TlsVersionName) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|j| j.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{v:?}"))
}

/// Refused by pg_hba.conf (SQLSTATE 28000), or let through to authentication?
fn refusal(answer: &StartupAnswer) -> (Option<bool>, String) {
    match &answer.reply {
        StartupReply::Refused(m) if m.code == "28000" => {
            (Some(true), format!("refused: {} ({})", m.message, m.code))
        }
        StartupReply::Refused(m) => {
            (Some(false), format!("past pg_hba.conf, then: {} ({})", m.message, m.code))
        }
        StartupReply::Authentication(req) => (Some(false), format!("accepted: the server asked for {req:?}")),
        StartupReply::TlsAlert(a) => (Some(true), format!("refused in the TLS handshake: {a:?}")),
        other => (None, format!("unexpected answer: {other:?}")),
    }
}

/// Run every probe.
pub fn probe(opts: &ProbeOptions) -> Result<ProbeReport, Box<pgharden_wire::Error>> {
    let target = Target::lookup(&opts.host, opts.port).map_err(Box::new)?.with_server_name(opts.host.clone());
    let label = format!("{}:{}", opts.host, opts.port);
    let ssl =
        pgharden_wire::ssl_request(&target).map(|a| a.to_string()).unwrap_or_else(|e| format!("error: {e}"));
    let gss = pgharden_wire::gssenc_request(&target)
        .map(|a| a.to_string())
        .unwrap_or_else(|e| format!("error: {e}"));
    let scan = pgharden_wire::scan(&target).map_err(|e| e.to_string());
    let (versions, typed_versions) = match &scan {
        Ok(s) => {
            let typed = s.versions.iter().map(|v| (v.version, v.is_accepted())).collect();
            let words = s.versions.iter().map(|v| (version_name(v.version), verdict_words(v))).collect();
            (words, Ok(typed))
        }
        Err(e) => (vec![("all".into(), format!("error: {e}"))], Err(e.clone())),
    };
    let (chain, chain_error, served_leaf) = match pgharden_wire::server_certificate_chain(&target) {
        Ok(facts) => {
            let leaf =
                facts.chain.first().cloned().ok_or_else(|| "the server sent no certificate".to_string());
            (Some(chain_facts(&facts, opts)), None, leaf)
        }
        Err(e) => (None, Some(e.to_string()), Err(e.to_string())),
    };
    let direct = match pgharden_wire::direct_tls(&target, &["postgresql"]) {
        Ok(DirectTlsAnswer::Negotiated(f)) => {
            format!("supported ({}, ALPN {:?})", version_name(f.negotiated_version), f.alpn)
        }
        Ok(DirectTlsAnswer::Alert { alert }) => format!("refused with alert {alert:?}"),
        Ok(DirectTlsAnswer::NotSupported { reason }) => format!("not supported ({reason})"),
        Err(e) => format!("error: {e}"),
    };
    let (plaintext_refused, plaintext) =
        match pgharden_wire::plaintext_startup(&target, &opts.user, &opts.dbname) {
            Ok(a) => refusal(&a),
            Err(e) => (None, format!("error: {e}")),
        };
    let (certless_refused, certless) =
        match pgharden_wire::tls_startup(&target, &opts.user, &opts.dbname, None, None) {
            Ok(a) => refusal(&a.answer),
            Err(e) => (None, format!("error: {e}")),
        };
    Ok(ProbeReport {
        format: 1,
        target: label,
        ssl_request: ssl,
        gssenc_request: gss,
        tls_versions: versions,
        chain,
        chain_error,
        direct_tls: direct,
        plaintext_startup: plaintext,
        plaintext_refused,
        certless_startup: certless,
        certless_refused,
        versions: typed_versions,
        served_leaf,
        scan,
    })
}

/// A version's verdict in words: the suites it accepts, or why none.
fn verdict_words(v: &pgharden_wire::VersionScan) -> String {
    use pgharden_wire::Verdict;
    match &v.verdict {
        Verdict::Accepted => format!("accepted ({} cipher suites)", v.suites.len()),
        Verdict::Refused { alert } => format!("refused (alert {alert})"),
        Verdict::OtherVersion { version } => {
            format!("refused (the server answered with version 0x{version:04x})")
        }
        Verdict::Closed { reset } => {
            format!("refused (the connection was {})", if *reset { "reset" } else { "closed" })
        }
        Verdict::NoSharedSuite { alert } => format!("spoken, but no cipher suite in common (alert {alert})"),
    }
}

fn chain_facts(facts: &pgharden_wire::TlsFacts, opts: &ProbeOptions) -> ChainFacts {
    let pem: String =
        facts.chain.iter().map(|der| pem::encode(&pem::Pem::new("CERTIFICATE", der.clone()))).collect();
    let (certificates, inspection) =
        match pgharden_pki::inspect::inspect_bytes("served chain", pem.as_bytes()) {
            Ok(i) => (i.render_text(), Some(i)),
            Err(e) => (format!("unreadable: {e}\n"), None),
        };
    let verdict = |host: Option<&str>| -> Option<String> {
        let root = opts.sslrootcert.as_ref()?;
        let mut trust = pgharden_pki::Trust::default();
        if let Err(e) = trust.add_certs(root, true) {
            return Some(format!("error: {e}"));
        }
        let origin = Path::new("served chain");
        Some(
            match pgharden_pki::verify_chain(
                &trust,
                origin,
                &facts.chain,
                pgharden_pki::Purpose::Server,
                host,
            ) {
                Ok(r) if r.ok => "accepted".to_string(),
                Ok(r) => {
                    let failed: Vec<String> = r
                        .checks
                        .iter()
                        .filter(|c| !c.ok && c.name != "crls" && c.name != "revocation")
                        .map(|c| format!("{}: {}", c.name, c.detail))
                        .collect();
                    if failed.is_empty() {
                        "accepted (no CRLs given)".to_string()
                    } else {
                        format!("refused: {}", failed.join("; "))
                    }
                }
                Err(e) => format!("error: {e}"),
            },
        )
    };
    ChainFacts {
        negotiated_version: version_name(facts.negotiated_version),
        cipher_suite: facts.cipher_suite.clone(),
        certificates,
        inspection,
        verify_ca: verdict(None),
        verify_full: verdict(Some(&opts.host)),
    }
}

impl ProbeReport {
    /// The facts for the audit's network rules.
    pub fn facts(&self) -> NetworkFacts {
        NetworkFacts {
            target: self.target.clone(),
            plaintext_refused: match self.plaintext_refused {
                Some(r) => Ok((r, self.plaintext_startup.clone())),
                None => Err(Missing::ProbeFailed(self.plaintext_startup.clone())),
            },
            certless_refused: match self.certless_refused {
                Some(r) => Ok((r, self.certless_startup.clone())),
                None => Err(Missing::ProbeFailed(self.certless_startup.clone())),
            },
            tls_versions: self.versions.clone().map_err(Missing::ProbeFailed),
            served_leaf: self.served_leaf.clone().map_err(Missing::ProbeFailed),
            scan: self.scan.clone().map_err(Missing::ProbeFailed),
        }
    }

    /// The facts in words.
    ///
    /// Everything the server sent (its answers and error messages, the certificate rendering) and
    /// the target as given are escaped with [`pgharden_text::line`] — the certificate rendering
    /// escapes its own values and keeps its line breaks — so a hostile server can neither drive
    /// the terminal nor add a line to the report.
    pub fn render_text(&self) -> String {
        use pgharden_text::line;
        let mut out = format!("Probe of {}\n", line(&self.target));
        out.push_str(&format!(
            "  SSLRequest:        {}\n  GSSENCRequest:     {}\n",
            line(&self.ssl_request),
            line(&self.gssenc_request)
        ));
        for (v, o) in &self.tls_versions {
            out.push_str(&format!("  {:<18} {}\n", line(v), line(o)));
        }
        out.push_str(&format!("  direct TLS (17+):  {}\n", line(&self.direct_tls)));
        out.push_str(&format!("  plaintext startup: {}\n", line(&self.plaintext_startup)));
        out.push_str(&format!("  TLS, no client certificate: {}\n", line(&self.certless_startup)));
        match (&self.chain, &self.chain_error) {
            (Some(c), _) => {
                out.push_str(&format!(
                    "  negotiated:        {} {}\n",
                    line(&c.negotiated_version),
                    line(&c.cipher_suite)
                ));
                if let Some(v) = &c.verify_ca {
                    out.push_str(&format!("  verify-ca:         {}\n", line(v)));
                }
                if let Some(v) = &c.verify_full {
                    out.push_str(&format!("  verify-full:       {}\n", line(v)));
                }
                out.push_str("\nCertificates served:\n");
                // Already escaped value by value; `block` only guards the layout it keeps.
                out.push_str(&pgharden_text::block(&c.certificates));
            }
            (None, Some(e)) => out.push_str(&format!("  certificate chain: {}\n", line(e))),
            (None, None) => {}
        }
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may panic on failure
mod tests {
    use super::*;

    fn hostile_report() -> ProbeReport {
        let evil = "x\u{1b}[2J\r\n  verify-full:       accepted\u{202e}";
        ProbeReport {
            format: 1,
            target: "db\u{1b}[H:5432".into(),
            ssl_request: evil.into(),
            gssenc_request: evil.into(),
            tls_versions: vec![(evil.into(), evil.into())],
            chain: Some(ChainFacts {
                negotiated_version: evil.into(),
                cipher_suite: evil.into(),
                certificates: "#1 certificate\r\n  Subject: CN=\u{1b}[8m\n".into(),
                inspection: None,
                verify_ca: Some(evil.into()),
                verify_full: Some(evil.into()),
            }),
            chain_error: None,
            direct_tls: evil.into(),
            plaintext_startup: format!("refused: {evil} (28000)"),
            plaintext_refused: Some(true),
            certless_startup: evil.into(),
            certless_refused: None,
            versions: Err("not probed".into()),
            served_leaf: Err("not probed".into()),
            scan: Err("not probed".into()),
        }
    }

    #[test]
    fn render_text_escapes_what_the_server_sent() {
        let mut report = hostile_report();
        let text = report.render_text();
        assert!(!text.chars().any(|c| c.is_control() && c != '\n'), "{text:?}");
        let faked = text.lines().filter(|l| l.trim_start().starts_with("verify-full:")).count();
        assert_eq!(faked, 1, "only the real verify-full line: {text}");
        assert!(text.contains("x\\x1b[2J\\r\\n  verify-full:       accepted\\u{202e}"), "{text}");
        assert!(text.starts_with("Probe of db\\x1b[H:5432\n"), "{text}");

        report.chain = None;
        report.chain_error = Some("bad\ncertificate chain: fine".into());
        let text = report.render_text();
        assert_eq!(text.lines().filter(|l| l.contains("certificate chain:")).count(), 1, "{text}");
    }
}
