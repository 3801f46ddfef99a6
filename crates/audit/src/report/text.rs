//! The terminal report: findings grouped by [`Area`], one line each, evidence and fix beneath.
//!
//! Owns: the layout of the human-readable report and its colours. Must not: decide whether to
//! colour (the caller knows if stdout is a terminal and passes `colour`), print, or let text from
//! the evidence reach the output raw: every value (target fields, rule, title, evidence, fix) goes
//! through [`pgharden_text::line`] before the renderer pads and colours it, so a hostile setting
//! value or server message can neither drive a terminal nor add a line to the report — on a pipe as
//! much as on a terminal. One evidence string is one line; a fix keeps its own line breaks.

use std::fmt::Write as _;

use owo_colors::OwoColorize;

use super::{severity_word, status_word, stig_ids, target_label};
use crate::model::{Area, Finding, Report, Severity, Status};

/// How far evidence and fix lines are indented under their finding.
const DETAIL_INDENT: &str = "      ";

/// Renders `report` as a table grouped by area (in [`Area`] order), ending with a summary line.
/// With `colour` false the output contains no escape bytes at all.
pub fn text(report: &Report, colour: bool) -> String {
    let mut out = String::new();
    header(&mut out, report);

    let mut areas: Vec<Area> = report.findings.iter().map(group).collect();
    areas.sort();
    areas.dedup();

    if !report.problems.is_empty() {
        out.push_str("\nCould not gather:\n");
        for problem in &report.problems {
            let _ = writeln!(out, "  {}", clean(problem));
        }
    }

    let widths = Widths::of(&report.findings);
    for area in areas {
        out.push('\n');
        let heading = area_name(area);
        if colour {
            let _ = writeln!(out, "{}", heading.bold());
        } else {
            let _ = writeln!(out, "{heading}");
        }
        for finding in report.findings.iter().filter(|f| group(f) == area) {
            finding_lines(&mut out, finding, &widths, colour);
        }
    }
    if report.findings.is_empty() {
        out.push_str("\nNo findings.\n");
    }
    out.push('\n');
    summary(&mut out, &report.findings);
    out
}

fn header(out: &mut String, report: &Report) {
    let _ = write!(
        out,
        "{} {} audit of {}",
        clean(&report.tool),
        clean(&report.version),
        clean(&target_label(&report.target))
    );
    if let Some(version) = &report.target.server_version {
        let _ = write!(out, ", PostgreSQL {}", clean(version));
    }
    if !report.generated_at.is_empty() {
        let _ = write!(out, ", {}", clean(&report.generated_at));
    }
    out.push('\n');
    if let Some(p) = &report.policy {
        policy_line(out, p);
    }
}

/// What the rules were judged with, when it is more than the defaults.
fn policy_line(out: &mut String, p: &crate::model::Policy) {
    let mut parts = vec![format!("expiry warning window {} days", p.warn_days)];
    let list =
        |name: &str, items: &[String]| (!items.is_empty()).then(|| format!("{name}: {}", items.join(", ")));
    let mappings: Vec<String> = p.approved_mappings.iter().map(|(m, r)| format!("{m}:{r}")).collect();
    parts.extend(list("approved superusers", &p.approved_superusers));
    parts.extend(list("approved mappings", &mappings));
    parts.extend(list("approved administrators", &p.approved_admins));
    parts.extend(list("approved languages", &p.approved_languages));
    parts.extend(list("approved extensions", &p.approved_extensions));
    let _ = writeln!(out, "Judged with {}", clean(&parts.join("; ")));
}

/// Column widths shared by every line, so the table lines up across areas.
struct Widths {
    rule: usize,
    stig: usize,
}

impl Widths {
    fn of(findings: &[Finding]) -> Self {
        let rule = findings.iter().map(|f| clean(&f.rule).chars().count()).max().unwrap_or(0);
        let stig = findings.iter().map(|f| stig_column(f).chars().count()).max().unwrap_or(0);
        Self { rule, stig }
    }
}

/// The STIG ids, short: PGS9 and CD12 share their numbering, so `PGS9-00-000100` and
/// `CD12-00-000100` show as `PGS9/CD12-00-000100`; CD16 has its own.
fn stig_column(finding: &Finding) -> String {
    let stig = &finding.stig;
    let suffix = |id: &Option<String>, family: &str| {
        id.as_deref().map(super::bare_stig_id).and_then(|id| id.strip_prefix(family)).map(str::to_owned)
    };
    let ids = match (suffix(&stig.pgs9, "PGS9"), suffix(&stig.cd12, "CD12")) {
        (Some(pgs9), Some(cd12)) if pgs9 == cd12 && !pgs9.is_empty() => {
            let mut ids = vec![format!("PGS9/CD12{pgs9}")];
            ids.extend(stig.cd16.as_deref().map(super::bare_stig_id).map(str::to_owned));
            ids
        }
        _ => stig_ids(stig).into_iter().map(str::to_owned).collect(),
    };
    if ids.is_empty() { "-".to_owned() } else { clean(&ids.join(" ")).into_owned() }
}

fn finding_lines(out: &mut String, finding: &Finding, widths: &Widths, colour: bool) {
    // Pad before colouring: escape sequences have no width on screen.
    let word = format!("{:<11}", status_word(finding.status));
    let word = if colour {
        match finding.status {
            Status::Pass => word.green().to_string(),
            Status::Fail => word.red().to_string(),
            Status::NotChecked => word.yellow().to_string(),
            Status::Manual => word.blue().to_string(),
        }
    } else {
        word
    };
    let _ = writeln!(
        out,
        "  {word}  {:<6}  {:<rule_w$}  {:<stig_w$}  {}",
        severity_word(finding.severity),
        clean(&finding.rule),
        stig_column(finding),
        clean(&finding.title),
        rule_w = widths.rule,
        stig_w = widths.stig,
    );
    for evidence in &finding.evidence {
        let _ = writeln!(out, "{DETAIL_INDENT}{}", clean(evidence));
    }
    if finding.status == Status::Fail
        && let Some(fix) = &finding.fix
    {
        let mut lines = fix.lines();
        if let Some(first) = lines.next() {
            let _ = writeln!(out, "{DETAIL_INDENT}fix: {}", clean(first));
        }
        for line in lines {
            let _ = writeln!(out, "{DETAIL_INDENT}     {}", clean(line));
        }
    }
}

fn summary(out: &mut String, findings: &[Finding]) {
    let count = |status: Status| findings.iter().filter(|f| f.status == status).count();
    let failing = |severity: Severity| {
        findings.iter().filter(|f| f.status == Status::Fail && f.severity == severity).count()
    };
    let _ = writeln!(
        out,
        "Summary: {} findings: {} pass, {} fail, {} not checked, {} manual. \
         Failing by severity: {} high, {} medium, {} low.",
        findings.len(),
        count(Status::Pass),
        count(Status::Fail),
        count(Status::NotChecked),
        count(Status::Manual),
        failing(Severity::High),
        failing(Severity::Medium),
        failing(Severity::Low),
    );
}

/// Host rules (FIPS mode, packages) form their own group whatever their area, so a reader sees at
/// once what `--scope cluster` leaves out.
fn group(f: &Finding) -> Area {
    if f.scope == crate::model::Scope::Host { Area::Host } else { f.area }
}

fn area_name(area: Area) -> &'static str {
    match area {
        Area::Tls => "TLS",
        Area::Authentication => "Authentication",
        Area::Logging => "Logging",
        Area::Audit => "Audit",
        Area::Encryption => "Encryption",
        Area::Files => "Files",
        Area::Privileges => "Privileges",
        Area::Host => "Host",
        Area::Other => "Other",
    }
}

/// Text safe for any output: control characters (CR and LF included) and the format characters
/// that reorder or hide text are shown as escapes.
fn clean(s: &str) -> std::borrow::Cow<'_, str> {
    pgharden_text::line(s)
}

#[cfg(test)]
mod tests {
    use super::clean;

    #[test]
    fn clean_escapes_controls() {
        assert_eq!(clean("a\u{1b}[31mb\tc"), "a\\x1b[31mb\\tc");
        assert_eq!(clean("x\u{202e}y"), "x\\u{202e}y");
        assert_eq!(clean("one\r\nSubject: CN=trusted"), "one\\r\\nSubject: CN=trusted");
        assert_eq!(clean("plain é"), "plain é");
    }
}
