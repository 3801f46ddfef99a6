//! What the network says, without credentials: the facts `pgharden probe` prints and the network
//! rules of the audit judge.
//!
//! Owns: running the `pgharden-wire` probes against one server and keeping their answers as typed
//! data — the SSLRequest and GSSENCRequest answers, the TLS scan (every version, suite and group
//! accepted), the chain served (inspected, checked under verify-ca and verify-full against a root,
//! and against CRLs for revocation), direct TLS (PostgreSQL 17+), and whether pg_hba.conf refuses a
//! plaintext startup and a TLS startup without a client certificate. No password is ever sent.
//! Submodules: `chain` (the chain's verdicts), `revocation` (per-certificate CRL status), `words`
//! (the text rendering), `json` (the `--json` form, schema format [`FORMAT`]), `many` (many targets
//! at once, and the summary).
//! Must not: judge STIG rules (that is `checks`), or print.

mod chain;
mod json;
mod many;
mod revocation;
mod words;

use std::path::PathBuf;
use std::time::Duration;

use pgharden_wire::{
    DirectTlsAnswer, ProbeTarget, Scan, SslAnswer, StartupAnswer, StartupReply, TlsVersionName,
};
use serde::Serialize;

use crate::evidence::{Missing, NetworkFacts};

pub use chain::{ChainFacts, ChainSource, ChainVerdict, FailedCheck};
pub use many::{ProbeResult, ProbeRun, Summary, TargetSuite, TargetVersion, probe_many};
pub use revocation::{CertRevocation, RevocationStatus};
pub use words::{startup_words, verdict_words};

/// The version of the `--json` schema (documented in the README, "Proving it").
pub const FORMAT: u32 = 2;

/// A probe's answer, or why there was none (the error in words).
pub type Probed<T> = Result<T, String>;

/// Everything `pgharden probe` reports about one target.
#[derive(Debug, Clone, Serialize)]
pub struct ProbeReport {
    /// The target as given (`host:port`).
    pub target: String,
    /// The address probed.
    pub address: String,
    /// The answer to an SSLRequest: accepted (`S`), refused (`N`) or an ErrorResponse.
    #[serde(serialize_with = "json::probed")]
    pub ssl_request: Probed<SslAnswer>,
    /// The answer to a GSSENCRequest.
    #[serde(serialize_with = "json::probed")]
    pub gssenc_request: Probed<SslAnswer>,
    /// Every version, suite and group the server accepts.
    #[serde(serialize_with = "json::scan")]
    pub scan: Probed<Scan>,
    /// The chain served, and what it is worth.
    #[serde(serialize_with = "json::probed")]
    pub chain: Probed<ChainFacts>,
    /// A TLS ClientHello sent straight away, without an SSLRequest (PostgreSQL 17's direct TLS).
    #[serde(serialize_with = "json::direct_tls")]
    pub direct_tls: Probed<DirectTlsAnswer>,
    /// A StartupMessage as `--user`/`--dbname` without TLS.
    #[serde(serialize_with = "json::startup")]
    pub plaintext_startup: Probed<StartupAnswer>,
    /// The same inside TLS, without a client certificate.
    #[serde(serialize_with = "json::startup")]
    pub certless_startup: Probed<StartupAnswer>,
}

/// Probe options.
#[derive(Debug, Clone)]
pub struct ProbeOptions {
    /// The host name or address to connect to.
    pub host: String,
    /// The TCP port.
    pub port: u16,
    /// The role named in the startup messages.
    pub user: String,
    /// The database named in the startup messages.
    pub dbname: String,
    /// Roots to check the served chain against (verify-ca and verify-full).
    pub sslrootcert: Option<PathBuf>,
    /// CRLs (PEM, any number) to check the served chain's revocation against.
    pub sslcrl: Option<PathBuf>,
    /// The deadline of each probe, connect included.
    pub timeout: Duration,
}

impl ProbeOptions {
    /// `host:port` as user and database `postgres`, no root, no CRL, the wire's default timeout.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Self {
            host: host.into(),
            port,
            user: "postgres".into(),
            dbname: "postgres".into(),
            sslrootcert: None,
            sslcrl: None,
            timeout: pgharden_wire::DEFAULT_TIMEOUT,
        }
    }

    /// The target as given, `host:port` (`[v6]:port` for an IPv6 address).
    pub fn label(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    fn target(&self) -> Result<ProbeTarget, Box<pgharden_wire::Error>> {
        let target = ProbeTarget::lookup(&self.host, self.port).map_err(Box::new)?;
        Ok(target.with_server_name(self.host.clone()).with_timeout(self.timeout))
    }
}

/// Resolve the target and send it one SSLRequest. Every later probe starts the same way, so when
/// this fails (nothing listening, no route, no such name, no answer in time) a report would hold
/// only errors: the caller reports the target as not answering instead.
pub(crate) fn first_contact(opts: &ProbeOptions) -> Result<(), Box<pgharden_wire::Error>> {
    pgharden_wire::ssl_request(&opts.target()?).map_err(Box::new)?;
    Ok(())
}

/// Run every probe.
pub fn probe(opts: &ProbeOptions) -> Result<ProbeReport, Box<pgharden_wire::Error>> {
    let target = opts.target()?;
    let text = |e: pgharden_wire::Error| e.to_string();
    let scan = pgharden_wire::scan(&target).map_err(text);
    let chain = chain::read(&target, &scan, opts);
    Ok(ProbeReport {
        target: opts.label(),
        address: target.addr.to_string(),
        ssl_request: pgharden_wire::ssl_request(&target).map_err(text),
        gssenc_request: pgharden_wire::gssenc_request(&target).map_err(text),
        scan,
        chain,
        direct_tls: pgharden_wire::direct_tls(&target, &["postgresql"]).map_err(text),
        plaintext_startup: pgharden_wire::plaintext_startup(&target, &opts.user, &opts.dbname).map_err(text),
        certless_startup: pgharden_wire::tls_startup(&target, &opts.user, &opts.dbname, None, None)
            .map(|a| a.answer)
            .map_err(text),
    })
}

/// Refused by pg_hba.conf (SQLSTATE 28000, or a TLS alert instead of an answer), let through to
/// authentication, or neither (`None`: an answer that says nothing about pg_hba.conf).
pub(crate) fn refused_by_hba(answer: &StartupAnswer) -> Option<bool> {
    match &answer.reply {
        StartupReply::Refused(m) => Some(m.code == "28000"),
        StartupReply::Authentication(_) => Some(false),
        StartupReply::TlsAlert(_) => Some(true),
        _ => None,
    }
}

fn refusal_fact(answer: &Probed<StartupAnswer>) -> crate::evidence::Fact<(bool, String)> {
    match answer {
        Ok(a) => match refused_by_hba(a) {
            Some(refused) => Ok((refused, startup_words(a))),
            None => Err(Missing::ProbeFailed(startup_words(a))),
        },
        Err(e) => Err(Missing::ProbeFailed(e.clone())),
    }
}

impl ProbeReport {
    /// The first certificate served (DER), or why there is none.
    pub fn served_leaf(&self) -> Probed<Vec<u8>> {
        let chain = self.chain.as_ref().map_err(Clone::clone)?;
        chain.der.first().cloned().ok_or_else(|| "the server sent no certificate".to_string())
    }

    /// The versions and whether each is accepted, from the scan.
    pub fn versions(&self) -> Probed<Vec<(TlsVersionName, bool)>> {
        let scan = self.scan.as_ref().map_err(Clone::clone)?;
        Ok(scan.versions.iter().map(|v| (v.version, v.is_accepted())).collect())
    }

    /// The facts for the audit's network rules.
    pub fn facts(&self) -> NetworkFacts {
        NetworkFacts {
            target: self.target.clone(),
            plaintext_refused: refusal_fact(&self.plaintext_startup),
            certless_refused: refusal_fact(&self.certless_startup),
            tls_versions: self.versions().map_err(Missing::ProbeFailed),
            served_leaf: self.served_leaf().map_err(Missing::ProbeFailed),
            scan: self.scan.clone().map_err(Missing::ProbeFailed),
        }
    }

    /// The facts in words (the `words` module has the layout and the escaping).
    pub fn render_text(&self) -> String {
        words::render(self)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may panic on failure
mod tests {
    use pgharden_wire::{ServerMessage, StartupAnswer, StartupReply};

    use super::*;

    const EVIL: &str = "x\u{1b}[2J\r\n  verify-full:        accepted\u{202e}";

    fn hostile_report() -> ProbeReport {
        let refused = ServerMessage {
            severity: "FATAL".into(),
            severity_untranslated: None,
            code: "28000".into(),
            message: EVIL.into(),
            detail: None,
            hint: None,
            fields: vec![],
        };
        ProbeReport {
            target: "db\u{1b}[H:5432".into(),
            address: "127.0.0.1:5432".into(),
            ssl_request: Err(EVIL.into()),
            gssenc_request: Ok(SslAnswer::Refused),
            scan: Err(EVIL.into()),
            chain: Err(format!("bad\ncertificate chain: fine{EVIL}")),
            direct_tls: Ok(DirectTlsAnswer::NotSupported { reason: EVIL.into() }),
            plaintext_startup: Ok(StartupAnswer { reply: StartupReply::Refused(refused), notices: vec![] }),
            certless_startup: Err(EVIL.into()),
        }
    }

    #[test]
    fn render_text_escapes_what_the_server_sent() {
        let report = hostile_report();
        let text = report.render_text();
        assert!(!text.chars().any(|c| c.is_control() && c != '\n'), "{text:?}");
        assert_eq!(text.lines().filter(|l| l.trim_start().starts_with("verify-full:")).count(), 0, "{text}");
        assert_eq!(text.lines().filter(|l| l.contains("certificate chain:")).count(), 1, "{text}");
        assert!(text.contains("x\\x1b[2J\\r\\n  verify-full:"), "{text}");
        assert!(text.starts_with("Probe of db\\x1b[H:5432 (127.0.0.1:5432)\n"), "{text}");
        assert!(text.contains("refused by pg_hba.conf: x\\x1b"), "{text}");
    }

    #[test]
    fn facts_come_from_the_typed_answers() {
        let facts = hostile_report().facts();
        let (refused, words) = facts.plaintext_refused.unwrap();
        assert!(refused && words.starts_with("refused by pg_hba.conf: "), "{words}");
        assert!(facts.certless_refused.is_err() && facts.tls_versions.is_err() && facts.served_leaf.is_err());
    }

    #[test]
    fn json_puts_a_probe_error_in_place_of_the_answer() {
        let v = serde_json::to_value(hostile_report()).unwrap();
        assert_eq!(v["ssl_request"]["probe_error"], EVIL);
        assert_eq!(v["gssenc_request"]["answer"], "refused");
        assert_eq!(v["plaintext_startup"]["reply"], "refused");
        assert_eq!(v["plaintext_startup"]["error"]["message"], EVIL, "the original characters");
        assert_eq!(v["plaintext_startup"]["refused_by_hba"], true);
        assert_eq!(v["direct_tls"]["outcome"], "not-supported");
    }
}
