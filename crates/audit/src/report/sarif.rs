//! The SARIF 2.1.0 report, for code-scanning dashboards and CI annotations.
//!
//! Owns: the mapping of findings onto SARIF: one `reportingDescriptor` per distinct rule, one
//! `result` per finding (`kind` fail / review / pass), locations naming the audited cluster and,
//! when evidence starts with `PATH:LINE`, the configuration file line. Must not: invent URLs
//! (no `informationUri` / `helpUri` until the project has one), or drop findings: a rule that
//! could not be checked is a `review` result, never a pass.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{bare_stig_id, path_line, pretty_json, severity_word, target_label};
use crate::model::{Area, Finding, Report, Scope, Severity, Status};

const SCHEMA: &str = "https://json.schemastore.org/sarif-2.1.0.json";
const VERSION: &str = "2.1.0";
const TOOL_NAME: &str = "pgharden";
/// The `uriBaseId` relative configuration-file paths in evidence are resolved against.
const PGDATA: &str = "PGDATA";

/// Renders `report` as a SARIF 2.1.0 log with one run (pretty JSON, ending with a newline).
pub fn sarif(report: &Report) -> String {
    let data_dir_uri = report.target.data_dir.as_deref().filter(|dir| dir.starts_with('/')).map(|dir| {
        let mut uri = file_uri(dir);
        if !uri.ends_with('/') {
            uri.push('/');
        }
        uri
    });

    let mut rules: Vec<Descriptor<'_>> = Vec::new();
    let mut index_of: BTreeMap<&str, usize> = BTreeMap::new();
    for finding in &report.findings {
        match index_of.get(finding.rule.as_str()) {
            Some(&i) => {
                // Several findings of one rule: the first fix any of them carries is the help.
                if rules[i].help.is_none() {
                    rules[i].help = finding.fix.as_deref().map(Text::new);
                }
            }
            None => {
                index_of.insert(&finding.rule, rules.len());
                rules.push(Descriptor::of(finding));
            }
        }
    }

    let target = target_label(&report.target);
    let results = report
        .findings
        .iter()
        .map(|finding| {
            let rule_index = index_of.get(finding.rule.as_str()).copied().unwrap_or(0);
            SarifResult::of(finding, rule_index, &target, data_dir_uri.is_some())
        })
        .collect();

    let log = Log {
        schema: SCHEMA,
        version: VERSION,
        runs: vec![Run {
            tool: Tool { driver: Driver { name: TOOL_NAME, version: &report.version, rules } },
            original_uri_base_ids: data_dir_uri
                .map(|uri| BTreeMap::from([(PGDATA, ArtifactLocation { uri, uri_base_id: None })])),
            results,
            properties: RunProperties {
                report_format: report.format,
                generated_at: &report.generated_at,
                target: TargetProperties {
                    data_dir: report.target.data_dir.as_deref(),
                    host: report.target.host.as_deref(),
                    port: report.target.port,
                    server_version: report.target.server_version.as_deref(),
                    host_name: report.target.host_name.as_deref(),
                },
            },
        }],
    };
    pretty_json(&log)
}

#[derive(Serialize)]
struct Log<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: Vec<Run<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Run<'a> {
    tool: Tool<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    original_uri_base_ids: Option<BTreeMap<&'static str, ArtifactLocation>>,
    results: Vec<SarifResult<'a>>,
    properties: RunProperties<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RunProperties<'a> {
    report_format: u32,
    generated_at: &'a str,
    target: TargetProperties<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TargetProperties<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    data_dir: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    host: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    port: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    server_version: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    host_name: Option<&'a str>,
}

#[derive(Serialize)]
struct Tool<'a> {
    driver: Driver<'a>,
}

#[derive(Serialize)]
struct Driver<'a> {
    name: &'static str,
    version: &'a str,
    rules: Vec<Descriptor<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Descriptor<'a> {
    id: &'a str,
    name: String,
    short_description: Text,
    full_description: Text,
    #[serde(skip_serializing_if = "Option::is_none")]
    help: Option<Text>,
    default_configuration: Configuration,
    properties: RuleProperties<'a>,
}

impl<'a> Descriptor<'a> {
    fn of(finding: &'a Finding) -> Self {
        let ids: Vec<&str> = [&finding.stig.pgs9, &finding.stig.cd12, &finding.stig.cd16]
            .into_iter()
            .filter_map(|id| id.as_deref().map(bare_stig_id))
            .collect();
        let mut full = finding.title.clone();
        if !ids.is_empty() {
            full.push_str(&format!(" (STIG {}", ids.join(", ")));
            if !finding.stig.srg.is_empty() {
                full.push_str(&format!("; {}", finding.stig.srg));
            }
            full.push(')');
        }
        Descriptor {
            id: &finding.rule,
            name: pascal_case(&finding.rule),
            short_description: Text::new(&finding.title),
            full_description: Text::new(&full),
            help: finding.fix.as_deref().map(Text::new),
            default_configuration: Configuration { level: level(finding.severity) },
            properties: RuleProperties {
                srg: &finding.stig.srg,
                pgs9: finding.stig.pgs9.as_deref().map(bare_stig_id),
                cd12: finding.stig.cd12.as_deref().map(bare_stig_id),
                cd16: finding.stig.cd16.as_deref().map(bare_stig_id),
                severity: severity_word(finding.severity),
                security_severity: security_severity(finding.severity),
                area: area_tag(finding.area),
                scope: match finding.scope {
                    Scope::Cluster => "cluster",
                    Scope::Host => "host",
                },
                tags: vec!["security", "stig", area_tag(finding.area)],
            },
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RuleProperties<'a> {
    srg: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pgs9: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cd12: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cd16: Option<&'a str>,
    severity: &'static str,
    /// GitHub code scanning's numeric severity (CVSS-like bands).
    #[serde(rename = "security-severity")]
    security_severity: &'static str,
    area: &'static str,
    scope: &'static str,
    tags: Vec<&'static str>,
}

#[derive(Serialize)]
struct Configuration {
    level: &'static str,
}

#[derive(Serialize)]
struct Text {
    text: String,
}

impl Text {
    fn new(text: &str) -> Self {
        Self { text: text.to_owned() }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult<'a> {
    rule_id: &'a str,
    rule_index: usize,
    kind: &'static str,
    level: &'static str,
    message: Text,
    locations: Vec<Location>,
    properties: ResultProperties<'a>,
}

impl<'a> SarifResult<'a> {
    fn of(finding: &'a Finding, rule_index: usize, target: &str, have_pgdata: bool) -> Self {
        let (kind, level) = match finding.status {
            Status::Fail => ("fail", level(finding.severity)),
            Status::Pass => ("pass", "none"),
            Status::NotChecked | Status::Manual => ("review", "none"),
        };
        let mut message = finding.title.clone();
        for evidence in &finding.evidence {
            message.push('\n');
            message.push_str(evidence);
        }
        let logical = || vec![Logical { name: target.to_owned(), kind: "resource" }];
        let mut locations: Vec<Location> = finding
            .evidence
            .iter()
            .filter_map(|evidence| path_line(evidence))
            .filter_map(|(path, line)| {
                let artifact = if path.starts_with('/') {
                    ArtifactLocation { uri: file_uri(path), uri_base_id: None }
                } else if have_pgdata {
                    ArtifactLocation { uri: percent_encode_path(path), uri_base_id: Some(PGDATA) }
                } else {
                    return None;
                };
                Some(Location {
                    physical_location: Some(Physical {
                        artifact_location: artifact,
                        region: Region { start_line: line },
                    }),
                    logical_locations: logical(),
                })
            })
            .collect();
        if locations.is_empty() {
            locations.push(Location { physical_location: None, logical_locations: logical() });
        }
        SarifResult {
            rule_id: &finding.rule,
            rule_index,
            kind,
            level,
            message: Text { text: message },
            locations,
            properties: ResultProperties {
                status: match finding.status {
                    Status::Pass => "pass",
                    Status::Fail => "fail",
                    Status::NotChecked => "not-checked",
                    Status::Manual => "manual",
                },
                evidence: &finding.evidence,
                fix: finding.fix.as_deref(),
            },
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResultProperties<'a> {
    /// pgharden's own status: SARIF's `review` covers both "not checked" and "manual".
    status: &'static str,
    evidence: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    fix: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Location {
    #[serde(skip_serializing_if = "Option::is_none")]
    physical_location: Option<Physical>,
    logical_locations: Vec<Logical>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Physical {
    artifact_location: ArtifactLocation,
    region: Region,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ArtifactLocation {
    uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    uri_base_id: Option<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: u32,
}

#[derive(Serialize)]
struct Logical {
    name: String,
    kind: &'static str,
}

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low => "note",
    }
}

fn security_severity(severity: Severity) -> &'static str {
    match severity {
        Severity::High => "8.0",
        Severity::Medium => "5.5",
        Severity::Low => "3.0",
    }
}

fn area_tag(area: Area) -> &'static str {
    match area {
        Area::Tls => "tls",
        Area::Authentication => "authentication",
        Area::Logging => "logging",
        Area::Audit => "audit",
        Area::Encryption => "encryption",
        Area::Files => "files",
        Area::Privileges => "privileges",
        Area::Host => "host",
        Area::Other => "other",
    }
}

/// `tls.min-protocol` → `TlsMinProtocol`: SARIF's `name` is an identifier-like word.
fn pascal_case(id: &str) -> String {
    id.split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// `file://` URI of an absolute path.
fn file_uri(path: &str) -> String {
    format!("file://{}", percent_encode_path(path))
}

/// Percent-encodes everything in a path but unreserved characters and `/` (RFC 3986).
fn percent_encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for byte in path.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_uris() {
        assert_eq!(pascal_case("tls.min-protocol"), "TlsMinProtocol");
        assert_eq!(pascal_case("pgs9_000100"), "Pgs9000100");
        assert_eq!(
            file_uri("/etc/postgresql/16/main/pg hba.conf"),
            "file:///etc/postgresql/16/main/pg%20hba.conf"
        );
    }
}
