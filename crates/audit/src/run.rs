//! Turning evidence into findings: every catalogue rule, judged by its checks.
//!
//! Owns: combining a rule's checks (any failure fails the rule; missing evidence makes it "not
//! checked"; a rule that also needs a person's judgement stays "manual" even when its checks pass,
//! with their evidence attached), filtering by scope, and the exit-code threshold.
//! Must not: gather evidence or render.

use serde::{Deserialize, Serialize};

use crate::catalogue::{RULES, Rule};
use crate::checks;
use crate::evidence::Evidence;
use crate::model::{Finding, Scope, Severity, Status, StigIds};

/// Which rules an audit reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScopeFilter {
    /// Every rule, the host's too.
    All,
    /// Only rules about the cluster (leave out host rules such as FIPS mode).
    Cluster,
}

pub use crate::model::{DEFAULT_WARN_DAYS, Policy};

/// Judge every catalogue rule in scope.
pub fn evaluate(ev: &Evidence, scope: ScopeFilter, policy: &Policy) -> Vec<Finding> {
    RULES
        .iter()
        .filter(|r| scope == ScopeFilter::All || r.scope == Scope::Cluster)
        .map(|r| judge(r, ev, policy))
        .collect()
}

/// One rule's finding.
pub fn judge(rule: &Rule, ev: &Evidence, policy: &Policy) -> Finding {
    let (status, mut evidence) = if rule.checks.is_empty() {
        (Status::Manual, Vec::new())
    } else {
        let outcomes: Vec<checks::Outcome> =
            rule.checks.iter().map(|c| checks::run(*c, ev, policy)).collect();
        let combined = checks::all(&outcomes);
        let status = match (combined.status, rule.manual) {
            (Status::Pass, Some(_)) => Status::Manual,
            (s, _) => s,
        };
        (status, combined.evidence)
    };
    if let (Some(what), Status::Manual) = (rule.manual, status) {
        evidence.push(format!("to review: {what}"));
    }
    Finding {
        rule: rule.id.to_string(),
        title: rule.title.to_string(),
        area: rule.area,
        scope: rule.scope,
        severity: rule.severity,
        stig: StigIds {
            srg: rule.srg.to_string(),
            pgs9: rule.pgs9.map(str::to_string),
            cd12: rule.cd12.map(str::to_string),
            cd16: rule.cd16.map(str::to_string),
        },
        fix: (status != Status::Pass).then(|| rule.fix.to_string()),
        status,
        evidence,
    }
}

/// Whether any finding fails at or above `threshold` (the exit code 1 condition).
pub fn fails_at(findings: &[Finding], threshold: Severity) -> bool {
    findings.iter().any(|f| f.status == Status::Fail && f.severity >= threshold)
}

/// The findings at or above `threshold` that could not be checked: unless the operator allows
/// them, they make the exit code 1 as a failure does (a gate must not pass on missing evidence).
pub fn not_checked_at(findings: &[Finding], threshold: Severity) -> Vec<&Finding> {
    findings.iter().filter(|f| f.status == Status::NotChecked && f.severity >= threshold).collect()
}
