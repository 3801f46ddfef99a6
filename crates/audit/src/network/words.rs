//! A probe report in plain words: the text `pgharden probe` prints.
//!
//! Owns: the layout — per target the answers (SSLRequest, GSSENCRequest, direct TLS, the two
//! startups), then SSLv2/SSLv3 and each TLS version's verdict with, when accepted, its suites in
//! the server's order as a table (IANA name, OpenSSL name, key exchange, forward secrecy,
//! weaknesses), its groups and DHE prime size, then the chain's facts and verdicts — and the words
//! for each typed answer. Everything that came from the server (messages, reasons, certificate
//! fields) and the target as given is escaped with [`pgharden_text::line`], so a hostile server can
//! neither drive the terminal nor add a line to the report; no Rust `Debug` text is ever printed.
//! Must not: probe, or decide anything the typed report does not already say.

use std::fmt::Write as _;

use pgharden_text::line;
use pgharden_wire::suites::Kx;
use pgharden_wire::{
    AuthRequest, DirectTlsAnswer, Legacy, Scan, StartupAnswer, StartupReply, Suite, Verdict, VersionScan,
};

use super::chain::{ChainFacts, ChainSource, ChainVerdict};
use super::revocation::{CertRevocation, RevocationStatus};
use super::{ProbeReport, Probed};

/// The label column's width.
const LABEL: usize = 19;

pub(super) fn render(r: &ProbeReport) -> String {
    let mut out = format!("Probe of {} ({})\n", line(&r.target), line(&r.address));
    let ssl = |a: &Probed<pgharden_wire::SslAnswer>| words(a, |a| a.to_string());
    row(&mut out, "SSLRequest:", &ssl(&r.ssl_request));
    row(&mut out, "GSSENCRequest:", &ssl(&r.gssenc_request));
    row(&mut out, "direct TLS (17+):", &words(&r.direct_tls, direct_words));
    row(&mut out, "plaintext startup:", &words(&r.plaintext_startup, startup_words));
    row(&mut out, "TLS, no client certificate:", &words(&r.certless_startup, startup_words));
    match &r.scan {
        Ok(scan) => scan_text(&mut out, scan),
        Err(e) => row(&mut out, "TLS scan:", &format!("error: {}", line(e))),
    }
    match &r.chain {
        Ok(c) => chain_text(&mut out, c),
        Err(e) => row(&mut out, "certificate chain:", &format!("error: {}", line(e))),
    }
    out
}

/// One `label: value` line; `value` is already escaped.
fn row(out: &mut String, label: &str, value: &str) {
    let _ = writeln!(out, "  {label:<LABEL$} {value}");
}

/// An answer in words, escaped, or the error that prevented it.
fn words<T>(answer: &Probed<T>, say: impl Fn(&T) -> String) -> String {
    match answer {
        Ok(a) => line(&say(a)).into_owned(),
        Err(e) => format!("error: {}", line(e)),
    }
}

/// A StartupMessage's answer in words (not escaped).
pub fn startup_words(answer: &StartupAnswer) -> String {
    match &answer.reply {
        StartupReply::Authentication(AuthRequest::Ok) => {
            "admitted without a password (trust, or an identity already proven)".to_string()
        }
        StartupReply::Authentication(req) => {
            format!("past pg_hba.conf: the server asks for a {} next", req.describe())
        }
        StartupReply::Refused(m) if m.code == "28000" => {
            format!("refused by pg_hba.conf: {} (SQLSTATE {})", m.message, m.code)
        }
        StartupReply::Refused(m) => format!("past pg_hba.conf, then: {} (SQLSTATE {})", m.message, m.code),
        StartupReply::TlsAlert(a) => format!("refused in the TLS handshake: {} alert", a.name()),
        _ => "an answer this version of pgharden does not know".to_string(),
    }
}

fn direct_words(answer: &DirectTlsAnswer) -> String {
    match answer {
        DirectTlsAnswer::Negotiated(f) => {
            let alpn = f.alpn.as_deref().map_or("no ALPN".to_string(), |a| format!("ALPN {a}"));
            format!("supported ({}, {}, {alpn})", f.negotiated_version, f.cipher_suite)
        }
        DirectTlsAnswer::Alert { alert } => format!("refused: {} alert", alert.name()),
        DirectTlsAnswer::NotSupported { reason } => format!("not supported ({reason})"),
    }
}

/// A version's verdict in words: how many suites it accepts, or why none.
pub fn verdict_words(v: &VersionScan) -> String {
    match &v.verdict {
        Verdict::Accepted => {
            let n = v.suites.len();
            format!("accepted, {n} cipher suite{} in the server's order", if n == 1 { "" } else { "s" })
        }
        Verdict::Refused { alert } => format!("refused: {} alert", alert.name()),
        Verdict::OtherVersion { version } => {
            let named = pgharden_wire::TlsVersionName::from_code(*version)
                .map_or_else(|| format!("0x{version:04x}"), |n| n.name().to_string());
            format!("refused: the server answered with {named}")
        }
        Verdict::Closed { reset: true } => "refused: the server reset the connection".to_string(),
        Verdict::Closed { reset: false } => "refused: the server closed the connection".to_string(),
        Verdict::NoSharedSuite { alert } => {
            format!("spoken, but no cipher suite in common with any known ({} alert)", alert.name())
        }
    }
}

fn legacy_words(l: &Legacy) -> String {
    if l.accepted { format!("SPOKEN ({})", l.answer) } else { format!("not spoken ({})", l.answer) }
}

fn scan_text(out: &mut String, scan: &Scan) {
    row(out, "SSLv2:", &line(&legacy_words(&scan.sslv2)));
    row(out, "SSLv3:", &line(&legacy_words(&scan.sslv3)));
    for v in &scan.versions {
        row(out, &format!("{}:", v.version), &verdict_words(v));
        if !v.is_accepted() {
            continue;
        }
        suite_table(out, &v.suites);
        if !v.groups.is_empty() {
            let names: Vec<String> = v.groups.iter().map(|g| pgharden_wire::group_name(*g)).collect();
            let _ = writeln!(out, "      groups: {}", names.join(", "));
        }
        if let Some(bits) = v.dhe_bits {
            let _ = writeln!(out, "      DHE prime: {bits} bits");
        }
    }
    row(out, "TLS scan:", &format!("{} handshakes", scan.handshakes));
}

/// The key exchange in the words a DBA knows from `openssl ciphers -v`.
pub(super) fn kx_words(kx: Kx) -> &'static str {
    match kx {
        Kx::Rsa => "RSA",
        Kx::RsaExport => "RSA (export)",
        Kx::Dhe => "DHE",
        Kx::DheExport => "DHE (export)",
        Kx::Ecdhe => "ECDHE",
        Kx::Psk => "PSK",
        Kx::RsaPsk => "RSA-PSK",
        Kx::DhePsk => "DHE-PSK",
        Kx::EcdhePsk => "ECDHE-PSK",
        Kx::Srp => "SRP",
        Kx::Tls13 => "(EC)DHE (TLS 1.3)",
    }
}

/// One table row's cells.
fn suite_cells(code: u16) -> [String; 6] {
    match Suite::by_code(code) {
        Some(s) => {
            let weak: Vec<&str> = s.weaknesses().iter().map(|w| w.label()).collect();
            [
                format!("0x{code:04x}"),
                s.name.to_string(),
                s.openssl.to_string(),
                kx_words(s.kx).to_string(),
                if s.forward_secrecy() { "yes" } else { "no forward secrecy" }.to_string(),
                if weak.is_empty() { "none".to_string() } else { weak.join(", ") },
            ]
        }
        None => {
            let unknown = "unknown".to_string();
            [
                format!("0x{code:04x}"),
                unknown.clone(),
                unknown.clone(),
                unknown.clone(),
                unknown.clone(),
                unknown,
            ]
        }
    }
}

fn suite_table(out: &mut String, suites: &[u16]) {
    let head = ["code", "IANA name", "OpenSSL name", "key exchange", "forward secrecy", "weaknesses"]
        .map(str::to_string);
    let rows: Vec<[String; 6]> =
        std::iter::once(head).chain(suites.iter().map(|c| suite_cells(*c))).collect();
    let widths: Vec<usize> = (0..6).map(|i| rows.iter().map(|r| r[i].len()).max().unwrap_or(0)).collect();
    for r in &rows {
        let cells: Vec<String> = r.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        let _ = writeln!(out, "      {}", cells.join("  ").trim_end());
    }
}

fn chain_text(out: &mut String, c: &ChainFacts) {
    let source = match &c.source {
        ChainSource::Handshake { version, cipher_suite, group } => {
            let group = group.as_deref().map(|g| format!(", {g}")).unwrap_or_default();
            format!("a {version} handshake ({cipher_suite}{group})")
        }
        ChainSource::Scan { version } => {
            format!("the scan's {version} ServerHello (no TLS 1.2/1.3 handshake completed)")
        }
    };
    row(out, "chain read from:", &line(&source));
    for (label, verdict) in [("verify-ca:", &c.verify_ca), ("verify-full:", &c.verify_full)] {
        if let Some(v) = verdict {
            row(out, label, &words(v, verify_words));
        }
    }
    match &c.revocation {
        Some(Ok(list)) => {
            row(out, "revocation:", &format!("{} certificate(s) against --sslcrl", list.len()));
            for r in list {
                let _ = writeln!(out, "      {}", revocation_words(r));
            }
        }
        Some(Err(e)) => row(out, "revocation:", &format!("error: {}", line(e))),
        None => {}
    }
    match &c.inspection {
        Ok(i) => {
            out.push_str("\nCertificates served:\n");
            // Already escaped value by value; `block` only guards the layout it keeps.
            out.push_str(&pgharden_text::block(&i.render_text()));
        }
        Err(e) => row(out, "certificates:", &format!("unreadable: {}", line(e))),
    }
}

fn verify_words(v: &ChainVerdict) -> String {
    match (v.accepted, v.crls_checked) {
        (true, true) => "accepted (revocation checked against --sslcrl)".to_string(),
        (true, false) => "accepted (no CRLs given)".to_string(),
        (false, _) => {
            let failed: Vec<String> = v.failed.iter().map(|f| format!("{}: {}", f.check, f.detail)).collect();
            format!("refused: {}", failed.join("; "))
        }
    }
}

/// One certificate's status, escaped.
fn revocation_words(r: &CertRevocation) -> String {
    let status = match &r.status {
        RevocationStatus::Revoked { crl_issuer, revoked_at, reason, crl_stale } => {
            let reason = reason.as_deref().map(|x| format!(", {x}")).unwrap_or_default();
            let stale = if *crl_stale { "; that CRL is stale" } else { "" };
            format!("REVOKED on {revoked_at}{reason} (CRL of {crl_issuer}{stale})")
        }
        RevocationStatus::NotRevoked { crl_issuer, next_update } => {
            let next = next_update.as_deref().map(|n| format!(", next update {n}")).unwrap_or_default();
            format!("not revoked (CRL of {crl_issuer}{next})")
        }
        RevocationStatus::CrlStale { crl_issuer, next_update } => format!(
            "CRL stale: the CRL of {crl_issuer} was due for its next update on {next_update}; \
             PostgreSQL and libpq refuse the chain"
        ),
        RevocationStatus::NoCrl { issuer } => format!("no CRL from its issuer {issuer} was given"),
        RevocationStatus::CrlNotVerified { issuer } => {
            format!("unknown: a CRL names {issuer}, but its signature does not verify with that CA's key")
        }
        RevocationStatus::IssuerUnknown { issuer } => {
            format!("unknown: its issuer {issuer} is neither served nor in --sslrootcert")
        }
    };
    line(&format!("#{} {} (serial {}): {status}", r.position, r.subject, r.serial)).into_owned()
}
