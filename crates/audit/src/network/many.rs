//! Many targets in one run, and what they add up to.
//!
//! Owns: probing a list of targets concurrently on at most `jobs` std threads (each probe bounded by
//! its own target's timeout, so a dead target costs that, not the run), keeping the results in the
//! order given, and the summary — targets answered and not, versions older than TLS 1.2 accepted,
//! suites without forward secrecy, weak suites. Must not: print, or decide the exit code.

use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use pgharden_text::line;
use pgharden_wire::{Suite, SuiteWeakness, TlsVersionName};
use serde::{Serialize, Serializer};

use super::{FORMAT, ProbeOptions, ProbeReport};

/// One target's outcome.
#[derive(Debug, Clone)]
pub enum ProbeResult {
    /// The target answered; what it said.
    Answered(Box<ProbeReport>),
    /// Nothing answered the first SSLRequest (or the name did not resolve): why.
    Failed {
        /// The target as given (`host:port`).
        target: String,
        /// Why nothing answered.
        error: String,
    },
}

impl ProbeResult {
    /// The target as given (`host:port`).
    pub fn target(&self) -> &str {
        match self {
            Self::Answered(r) => &r.target,
            Self::Failed { target, .. } => target,
        }
    }

    /// The report in words (a failure is its target and the reason).
    pub fn render_text(&self) -> String {
        match self {
            Self::Answered(r) => r.render_text(),
            Self::Failed { target, error } => {
                format!("Probe of {}\n  did not answer: {}\n", line(target), line(error))
            }
        }
    }
}

#[derive(Serialize)]
struct Answered<'a> {
    answered: bool,
    #[serde(flatten)]
    report: &'a ProbeReport,
}

#[derive(Serialize)]
struct Failed<'a> {
    target: &'a str,
    answered: bool,
    error: &'a str,
}

impl Serialize for ProbeResult {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Answered(report) => Answered { answered: true, report }.serialize(s),
            Self::Failed { target, error } => Failed { target, answered: false, error }.serialize(s),
        }
    }
}

/// A version older than TLS 1.2 that a target accepts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetVersion {
    /// The target as given (`host:port`).
    pub target: String,
    /// The version accepted.
    pub version: TlsVersionName,
}

/// A suite a target accepts at a version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetSuite {
    /// The target as given (`host:port`).
    pub target: String,
    /// The version it was accepted at.
    pub version: TlsVersionName,
    /// The IANA code point (`0x1301`).
    #[serde(serialize_with = "hex_code")]
    pub code: u16,
    /// The IANA name.
    pub name: String,
    /// OpenSSL's name for it; `None` when OpenSSL has none.
    pub openssl_name: Option<&'static str>,
    /// Everything wrong with it.
    pub weaknesses: Vec<SuiteWeakness>,
}

fn hex_code<S: Serializer>(code: &u16, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("0x{code:04x}"))
}

/// What the targets add up to.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    /// How many targets were probed.
    pub targets: usize,
    /// How many answered.
    pub answered: usize,
    /// The targets that did not answer, in the order given.
    pub failed: Vec<String>,
    /// Versions older than TLS 1.2 accepted.
    pub old_versions: Vec<TargetVersion>,
    /// Suites accepted without forward secrecy (a static key exchange).
    pub without_forward_secrecy: Vec<TargetSuite>,
    /// Suites with a weakness other than the lack of forward secrecy (anonymous, NULL, EXPORT, RC4,
    /// DES, 3DES, a cipher NIST does not approve, an MD5 or SHA-1 MAC).
    pub weak: Vec<TargetSuite>,
}

impl Summary {
    fn of(results: &[ProbeResult]) -> Self {
        let mut s = Self { targets: results.len(), ..Self::default() };
        for r in results {
            match r {
                ProbeResult::Failed { target, .. } => s.failed.push(target.clone()),
                ProbeResult::Answered(report) => {
                    s.answered += 1;
                    s.add(report);
                }
            }
        }
        s
    }

    fn add(&mut self, report: &ProbeReport) {
        let Ok(scan) = &report.scan else { return };
        for v in scan.versions.iter().filter(|v| v.is_accepted()) {
            if v.version < TlsVersionName::Tls1_2 {
                self.old_versions.push(TargetVersion { target: report.target.clone(), version: v.version });
            }
            for code in &v.suites {
                let suite = Suite::by_code(*code);
                let weaknesses = suite.map(Suite::weaknesses).unwrap_or_default();
                let entry = TargetSuite {
                    target: report.target.clone(),
                    version: v.version,
                    code: *code,
                    name: pgharden_wire::suites::name_of(*code),
                    openssl_name: suite.map(|s| s.openssl),
                    weaknesses: weaknesses.clone(),
                };
                if weaknesses.iter().any(|w| *w != SuiteWeakness::NoForwardSecrecy) {
                    self.weak.push(entry.clone());
                }
                if suite.is_some_and(|s| !s.forward_secrecy()) {
                    self.without_forward_secrecy.push(entry);
                }
            }
        }
    }

    /// The summary in words.
    pub fn render_text(&self) -> String {
        let mut out = format!(
            "Summary: {} target{}, {} answered, {} did not answer\n",
            self.targets,
            if self.targets == 1 { "" } else { "s" },
            self.answered,
            self.failed.len()
        );
        for t in &self.failed {
            let _ = writeln!(out, "  did not answer: {}", line(t));
        }
        let old: Vec<String> =
            self.old_versions.iter().map(|v| format!("{} {}", line(&v.target), v.version)).collect();
        list(&mut out, "versions older than TLS 1.2 accepted", &old);
        list(&mut out, "suites without forward secrecy", &suite_lines(&self.without_forward_secrecy, false));
        list(&mut out, "weak suites", &suite_lines(&self.weak, true));
        out
    }
}

fn suite_lines(suites: &[TargetSuite], with_weaknesses: bool) -> Vec<String> {
    suites
        .iter()
        .map(|s| {
            let mut l =
                format!("{} {} {} ({})", line(&s.target), s.version, s.name, s.openssl_name.unwrap_or("?"));
            if with_weaknesses {
                let words: Vec<&str> = s.weaknesses.iter().map(|w| w.label()).collect();
                let _ = write!(l, ": {}", words.join(", "));
            }
            l
        })
        .collect()
}

fn list(out: &mut String, what: &str, items: &[String]) {
    if items.is_empty() {
        let _ = writeln!(out, "  {what}: none");
        return;
    }
    let _ = writeln!(out, "  {what}: {}", items.len());
    for i in items {
        let _ = writeln!(out, "    {i}");
    }
}

/// The reports of a run, in the order the targets were given, and their summary.
#[derive(Debug, Clone)]
pub struct ProbeRun {
    /// One result per target.
    pub results: Vec<ProbeResult>,
    /// What they add up to.
    pub summary: Summary,
}

impl ProbeRun {
    /// A run of these results, summed up.
    pub fn new(results: Vec<ProbeResult>) -> Self {
        Self { summary: Summary::of(&results), results }
    }

    /// Every report in words, a blank line between them, then the summary.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        for r in &self.results {
            out.push_str(&r.render_text());
            out.push('\n');
        }
        out.push_str(&self.summary.render_text());
        out
    }
}

#[derive(Serialize)]
struct RunView<'a> {
    format: u32,
    targets: &'a [ProbeResult],
    summary: &'a Summary,
}

impl Serialize for ProbeRun {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        RunView { format: FORMAT, targets: &self.results, summary: &self.summary }.serialize(s)
    }
}

/// First contact, then every probe, for one target.
fn probe_one(opts: &ProbeOptions) -> ProbeResult {
    let failed = |error: String| ProbeResult::Failed { target: opts.label(), error };
    if let Err(e) = super::first_contact(opts) {
        return failed(format!("the first contact (an SSLRequest) failed: {e}"));
    }
    match super::probe(opts) {
        Ok(report) => ProbeResult::Answered(Box::new(report)),
        Err(e) => failed(e.to_string()),
    }
}

/// Probe every target, at most `jobs` at a time; the results come in the order of `targets`.
pub fn probe_many(targets: &[ProbeOptions], jobs: usize) -> ProbeRun {
    let next = AtomicUsize::new(0);
    let slots: Mutex<Vec<Option<ProbeResult>>> = Mutex::new(vec![None; targets.len()]);
    let workers = jobs.clamp(1, targets.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(opts) = targets.get(i) else { break };
                    let result = probe_one(opts);
                    let mut slots = slots.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    if let Some(slot) = slots.get_mut(i) {
                        *slot = Some(result);
                    }
                }
            });
        }
    });
    let slots = slots.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    let results = slots
        .into_iter()
        .zip(targets)
        .map(|(r, opts)| {
            r.unwrap_or_else(|| ProbeResult::Failed {
                target: opts.label(),
                error: "the probe stopped unexpectedly".to_string(),
            })
        })
        .collect();
    ProbeRun::new(results)
}
