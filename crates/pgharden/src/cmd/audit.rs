//! `pgharden audit`: gather evidence once, judge every catalogue rule under the operator's policy,
//! decide the verdict, render, and only then print — so a closed pipe cannot change the exit code.
//! Also `--coverage`, which reads only the catalogue.
//!
//! Owns: the mapping from flags to [`Policy`], the verdict (FAIL and, unless allowed, NOT CHECKED
//! at or above `--fail-on`), and the notes on stderr that explain it. Must not: judge rules or
//! gather evidence itself (that is `pgharden_audit`).

use std::io::IsTerminal;

use anyhow::{Context, bail};
use indicatif::ProgressBar;
use pgharden_audit::coverage;
use pgharden_audit::gather::{self, Gathered, Source};
use pgharden_audit::run::{self, Policy, ScopeFilter};
use pgharden_audit::{Finding, Report, Scope, Severity, Status};

use crate::cli::{AuditArgs, AuditScope, FailOn, Format};
use crate::output::{self, Outcome};

pub(crate) fn run(args: &AuditArgs) -> anyhow::Result<Outcome> {
    if args.coverage {
        return print_coverage(args);
    }
    let source = match (&args.pgdata, &args.conninfo) {
        (Some(dir), _) => Source::PgData(dir.clone()),
        (None, Some(c)) => Source::Conninfo(c.clone()),
        (None, None) => bail!("give --pgdata DIR or a CONNINFO"),
    };
    let benchmark = read_benchmark(args)?;
    let gathered = gather_evidence(&source, args.no_probe)?;
    let server_stopped = gathered.cluster.as_ref().is_some_and(|c| c.postmaster.is_none());
    let scope = match args.scope {
        AuditScope::All => ScopeFilter::All,
        AuditScope::Cluster => ScopeFilter::Cluster,
    };
    let policy = policy(args);
    let findings = run::evaluate(&gathered.evidence, scope, &policy);
    let report = Report {
        format: pgharden_audit::model::REPORT_FORMAT,
        tool: "pgharden".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        generated_at: now(),
        target: gathered.target,
        findings,
        problems: gathered.evidence.problems.clone(),
        policy: Some(policy),
    };
    if !decided_anything(&report.findings) {
        bail!(
            "the audit reached nothing, so it judges nothing: no rule about the cluster could be checked ({})",
            report.problems.join("; ")
        );
    }
    let verdict = Verdict::of(&report.findings, threshold(args.fail_on), args.allow_not_checked);
    let text = render(args, &report, benchmark.as_deref())?;
    match &args.output {
        // Atomically, and never through a link planted at the name (a report in /tmp, say).
        Some(path) => pgharden_privsep::local::write_named(path, text.as_bytes(), 0o644)
            .map(drop)
            .with_context(|| format!("writing {}", path.display()))?,
        None => output::print_keeping_verdict(&text)?,
    }
    explain(&verdict, &report.findings, server_stopped, args.fail_on);
    Ok(verdict.outcome())
}

/// The flags of what the organization approved, as the rules read them.
fn policy(args: &AuditArgs) -> Policy {
    Policy {
        warn_days: args.warn_days,
        approved_superusers: args.approved_superusers.clone(),
        approved_mappings: args.approved_mappings.clone(),
        approved_admins: args.approved_admins.clone(),
        approved_languages: args.approved_languages.clone(),
        approved_extensions: args.approved_extensions.clone(),
    }
}

fn read_benchmark(args: &AuditArgs) -> anyhow::Result<Option<String>> {
    let Some(path) = &args.benchmark else { return Ok(None) };
    let bytes = pgharden_pki::files::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(Some(String::from_utf8(bytes).with_context(|| format!("{}: not UTF-8", path.display()))?))
}

/// Files and SQL facts, then (unless told not to) the network. An audit that reached nothing at
/// all is an error: there is no verdict to give.
fn gather_evidence(source: &Source, no_probe: bool) -> anyhow::Result<Gathered> {
    let spinner =
        if std::io::stderr().is_terminal() { ProgressBar::new_spinner() } else { ProgressBar::hidden() };
    spinner.enable_steady_tick(std::time::Duration::from_millis(100));
    spinner.set_message("gathering evidence: settings, roles, files");
    let mut gathered = gather::gather(source);
    if let Some(why) = &gathered.unreachable {
        spinner.finish_and_clear();
        bail!("the audit reached nothing, so it judges nothing: {why}");
    }
    if !no_probe {
        if let Some((host, port)) = &gathered.probe {
            let host = output::shown(host);
            spinner.set_message(format!("probing {host}:{port}: TLS versions, certificates, pg_hba answers"));
        }
        gathered = gather::with_probe(gathered);
    }
    spinner.finish_and_clear();
    Ok(gathered)
}

/// Whether any rule about the cluster was decided (PASS or FAIL). A host rule (FIPS mode) says
/// nothing about the target, and MANUAL or NOT CHECKED rules say nothing about what was reached.
fn decided_anything(findings: &[Finding]) -> bool {
    findings.iter().any(|f| f.scope == Scope::Cluster && matches!(f.status, Status::Pass | Status::Fail))
}

fn threshold(fail_on: FailOn) -> Severity {
    match fail_on {
        FailOn::Low => Severity::Low,
        FailOn::Medium => Severity::Medium,
        FailOn::High => Severity::High,
    }
}

fn render(args: &AuditArgs, report: &Report, benchmark: Option<&str>) -> anyhow::Result<String> {
    Ok(match args.format {
        Format::Text => {
            let colour = args.output.is_none()
                && std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none();
            pgharden_audit::report::text(report, colour)
        }
        Format::Json => output::safe_json(pgharden_audit::report::json(report)),
        Format::Sarif => output::safe_json(pgharden_audit::report::sarif(report)),
        Format::Ckl => {
            let xml = benchmark.context("--format ckl needs --benchmark XCCDF")?;
            pgharden_audit::report::ckl(report, xml).context("building the checklist")?
        }
    })
}

/// The exit-code decision, made from the findings alone before anything is printed.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Verdict {
    /// A rule at or above the threshold failed.
    failed: bool,
    /// Rules at or above the threshold that could not be checked.
    not_checked: Vec<String>,
    /// Whether those count as a failure (they do unless `--allow-not-checked`).
    not_checked_counts: bool,
}

impl Verdict {
    fn of(findings: &[Finding], threshold: Severity, allow_not_checked: bool) -> Self {
        Self {
            failed: run::fails_at(findings, threshold),
            not_checked: run::not_checked_at(findings, threshold).iter().map(|f| f.rule.clone()).collect(),
            not_checked_counts: !allow_not_checked,
        }
    }

    fn outcome(&self) -> Outcome {
        let unproven = self.not_checked_counts && !self.not_checked.is_empty();
        if self.failed || unproven { Outcome::Found } else { Outcome::Success }
    }
}

/// Say on stderr why NOT CHECKED rules weigh (or, when allowed, do not), and when a stopped
/// server is the reason.
fn explain(verdict: &Verdict, findings: &[Finding], server_stopped: bool, fail_on: FailOn) {
    if server_stopped {
        let n = findings.iter().filter(|f| f.status == Status::NotChecked).count();
        output::note(&format!("the server is not running: {} not checked", rules(n)));
    }
    if verdict.not_checked.is_empty() {
        return;
    }
    let n = verdict.not_checked.len();
    let ids = verdict.not_checked.join(", ");
    let above = match fail_on {
        FailOn::Low => String::new(),
        FailOn::Medium => " at or above --fail-on medium".into(),
        FailOn::High => " at or above --fail-on high".into(),
    };
    let was = if n == 1 { "was" } else { "were" };
    if verdict.not_checked_counts {
        output::note(&format!(
            "{} in scope{above} {was} not checked: {ids}; --allow-not-checked to accept that",
            rules(n)
        ));
    } else {
        output::note(&format!(
            "{} in scope{above} {was} not checked, allowed by --allow-not-checked: {ids}",
            rules(n)
        ));
    }
}

fn rules(n: usize) -> String {
    if n == 1 { "1 rule".into() } else { format!("{n} rules") }
}

/// The `--coverage --format json` document (fields in this order).
#[derive(serde::Serialize)]
struct CoverageJson<'a> {
    format: u32,
    families: &'a [coverage::FamilyCoverage],
}

/// `--coverage`: the catalogue's counts per STIG family beside MITRE's InSpec profiles.
fn print_coverage(args: &AuditArgs) -> anyhow::Result<Outcome> {
    let families = coverage::coverage().context("the bundled InSpec coverage table")?;
    let text = match args.format {
        Format::Text => coverage::render_text(&families),
        Format::Json => {
            let value = CoverageJson { format: coverage::COVERAGE_FORMAT, families: &families };
            let mut text = output::json_text(&value)?;
            text.push('\n');
            text
        }
        Format::Sarif | Format::Ckl => bail!("--coverage prints --format text or json"),
    };
    match &args.output {
        Some(path) => pgharden_privsep::local::write_named(path, text.as_bytes(), 0o644)
            .map(drop)
            .with_context(|| format!("writing {}", path.display()))?,
        None => output::print(&text)?,
    }
    Ok(Outcome::Success)
}

fn now() -> String {
    let t = time::OffsetDateTime::now_utc();
    t.format(&time::format_description::well_known::Rfc3339).unwrap_or_else(|_| t.to_string())
}

#[cfg(test)]
mod tests {
    use pgharden_audit::catalogue::RULES;
    use pgharden_audit::run::judge;

    use super::*;

    fn finding(status: Status, severity: Severity) -> Finding {
        let mut f = judge(&RULES[0], &pgharden_audit::evidence::Evidence::empty(), &Policy::default());
        f.status = status;
        f.severity = severity;
        f
    }

    #[test]
    fn not_checked_fails_the_gate_unless_allowed() {
        let findings = [finding(Status::Pass, Severity::High), finding(Status::NotChecked, Severity::Medium)];
        assert_eq!(Verdict::of(&findings, Severity::Low, false).outcome(), Outcome::Found);
        assert_eq!(Verdict::of(&findings, Severity::Low, true).outcome(), Outcome::Success);
        // Below the threshold it does not count either way.
        assert_eq!(Verdict::of(&findings, Severity::High, false).outcome(), Outcome::Success);
        let failing = [finding(Status::Fail, Severity::Low), finding(Status::NotChecked, Severity::Low)];
        assert_eq!(Verdict::of(&failing, Severity::Low, true).outcome(), Outcome::Found);
    }

    #[test]
    fn only_a_decided_cluster_rule_counts_as_reaching_the_target() {
        let mut host = finding(Status::Pass, Severity::High);
        host.scope = Scope::Host;
        let mut manual = finding(Status::Manual, Severity::High);
        manual.scope = Scope::Cluster;
        let mut unchecked = finding(Status::NotChecked, Severity::High);
        unchecked.scope = Scope::Cluster;
        assert!(!decided_anything(&[host.clone(), manual, unchecked.clone()]));
        let mut pass = unchecked;
        pass.status = Status::Pass;
        assert!(decided_anything(&[host, pass]));
    }
}
