//! The report in words: one block per step (what it saw, the verdict and why, the fix), then the
//! real connection.
//!
//! Owns: the layout, and escaping what servers and files supplied (certificate names, error
//! texts, pg_hba.conf lines) so none can add a line of its own. Must not: judge.

use std::fmt::Write as _;

use pgharden_text::line;

use crate::{Report, Verdict};

pub(crate) fn text(report: &Report) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Doctor: {}", line(&report.conninfo));
    if let Some(dir) = &report.pgdata {
        let _ = writeln!(out, "Server files: {}", line(&dir.display().to_string()));
    }
    for step in &report.steps {
        let _ = writeln!(out, "\n{}. {} [{}]", step.number, step.title, step.verdict.word());
        for fact in &step.saw {
            let _ = writeln!(out, "   saw: {}", line(fact));
        }
        if !step.why.is_empty() {
            let _ = writeln!(out, "   {}", line(&step.why));
        }
        if let Some(fix) = &step.fix {
            let _ = writeln!(out, "   fix: {}", line(fix));
        }
    }
    let c = &report.connection;
    let _ = writeln!(out, "\nConnection [{}]", if c.connected { "connected" } else { "FAILED" });
    let _ = writeln!(out, "   {}", line(&c.result));
    let _ = writeln!(out, "   {}", line(&c.meaning));
    let fails = report.steps.iter().filter(|s| s.verdict == Verdict::Fail).count();
    let warns = report.steps.iter().filter(|s| s.verdict == Verdict::Warn).count();
    let _ = writeln!(out, "\nSummary: {fails} failed, {warns} warned");
    out
}
