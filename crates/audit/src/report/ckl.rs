//! The DISA STIG Viewer 2.x checklist (`.ckl`), built from the user's XCCDF 1.1 benchmark.
//!
//! Owns: reading the benchmark (`--benchmark FILE`, a DISA `*-xccdf.xml`), matching its rules to
//! findings by STIG version id (`PGS9-00-000100`, `CD12-…`, `CD16-…`), and writing the checklist
//! XML: one `VULN` per benchmark rule, its status derived from the findings. Must not: carry DISA
//! text of its own (everything STIG-worded comes from the benchmark), resolve external entities
//! or fetch anything the benchmark names, or call a rule `NotAFinding` unless every finding on it
//! passed: anything undecided is `Not_Reviewed`.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::net::IpAddr;

use quick_xml::Reader;
use quick_xml::XmlVersion;
use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::{BytesStart, Event};
use sha2::{Digest, Sha256};

use super::{bare_stig_id, severity_word, status_word};
use crate::model::{Finding, Report, Status};

/// Nesting deeper than this is not a benchmark (DISA's are 3 levels deep).
const MAX_DEPTH: usize = 64;

/// FINDING_DETAILS of a rule no finding covers.
const NOT_CHECKED: &str = "not checked automatically by pgharden";

/// Why a checklist could not be built from the benchmark.
#[derive(Debug, thiserror::Error)]
pub enum CklError {
    /// The benchmark is not well-formed XML.
    #[error("the benchmark is not well-formed XML (near byte {position}): {source}")]
    Xml {
        /// The byte offset the parser stopped at.
        position: u64,
        /// The parser's error.
        #[source]
        source: quick_xml::Error,
    },
    /// An entity other than the five XML ones and character references.
    #[error("the benchmark uses the entity &{0}; which is not predefined (DTD entities are not read)")]
    UnknownEntity(String),
    /// The document ends before its elements close, or has no root element.
    #[error("the benchmark ends before its root element is closed")]
    Truncated,
    /// Elements nested deeper than any benchmark.
    #[error("the benchmark nests elements more than {MAX_DEPTH} deep")]
    TooDeep,
    /// The root element is not an XCCDF `Benchmark`.
    #[error("not an XCCDF benchmark: the root element is <{0}>, not <Benchmark>")]
    NotABenchmark(String),
    /// A benchmark without a single `Rule`.
    #[error("the benchmark has no rules")]
    NoRules,
    /// A `Rule` lacks something a checklist entry needs.
    #[error("benchmark rule {rule:?} has no {what}")]
    MissingField {
        /// The rule's `id` attribute (its `<version>` when the id is what is missing).
        rule: String,
        /// The missing part (`<version>`, `id attribute`, …).
        what: &'static str,
    },
}

/// Renders a STIG Viewer checklist of `report` against `benchmark_xml` (the XCCDF text).
///
/// Each benchmark rule becomes a `VULN` whose status follows the findings whose `stig.pgs9`,
/// `stig.cd12` or `stig.cd16` equals the rule's `<version>`: `Open` if any failed, `NotAFinding`
/// if all passed, otherwise (or with no finding) `Not_Reviewed`.
pub fn ckl(report: &Report, benchmark_xml: &str) -> Result<String, CklError> {
    let root = parse_tree(benchmark_xml)?;
    let benchmark = Benchmark::from_tree(&root)?;
    Ok(write_checklist(report, &benchmark))
}

// ---------------------------------------------------------------------------------------------
// A minimal element tree of the benchmark.

#[derive(Debug, Default)]
struct Element {
    /// Local name (namespace prefix dropped: `dc:identifier` → `identifier`).
    name: String,
    attrs: Vec<(String, String)>,
    children: Vec<Self>,
    /// The element's own character data, references resolved.
    text: String,
}

impl Element {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    fn child(&self, name: &str) -> Option<&Self> {
        self.children.iter().find(|c| c.name == name)
    }

    fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Self> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.trim())
    }
}

fn parse_tree(xml: &str) -> Result<Element, CklError> {
    let mut reader = Reader::from_str(xml);
    let xml_error = |reader: &Reader<&[u8]>, source: quick_xml::Error| CklError::Xml {
        position: reader.error_position(),
        source,
    };
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        let event = reader.read_event().map_err(|e| xml_error(&reader, e))?;
        match event {
            Event::Start(start) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(CklError::TooDeep);
                }
                let element = open_element(&start).map_err(|e| xml_error(&reader, e))?;
                stack.push(element);
            }
            Event::Empty(start) => {
                let element = open_element(&start).map_err(|e| xml_error(&reader, e))?;
                close_element(&mut stack, &mut root, element);
            }
            Event::End(_) => {
                // quick-xml checks that end names match their start tags.
                let element = stack.pop().ok_or(CklError::Truncated)?;
                close_element(&mut stack, &mut root, element);
            }
            Event::Text(text) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&text.xml10_content());
                }
            }
            Event::CData(data) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&data.xml10_content());
                }
            }
            Event::GeneralRef(reference) => {
                let resolved: Cow<'_, str> =
                    match reference.resolve_char_ref().map_err(|e| xml_error(&reader, e))? {
                        Some(c) => Cow::Owned(c.to_string()),
                        None => {
                            let name: &str = &reference;
                            Cow::Borrowed(
                                resolve_predefined_entity(name)
                                    .ok_or_else(|| CklError::UnknownEntity(name.to_owned()))?,
                            )
                        }
                    };
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&resolved);
                }
            }
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err(CklError::Truncated);
    }
    root.ok_or(CklError::Truncated)
}

fn open_element(start: &BytesStart<'_>) -> Result<Element, quick_xml::Error> {
    let mut element = Element { name: start.local_name().as_ref().to_owned(), ..Element::default() };
    for attr in start.attributes() {
        let attr = attr?;
        let value = attr.normalized_value(XmlVersion::Implicit1_0)?.into_owned();
        element.attrs.push((attr.key.local_name().as_ref().to_owned(), value));
    }
    Ok(element)
}

fn close_element(stack: &mut [Element], root: &mut Option<Element>, element: Element) {
    match stack.last_mut() {
        Some(parent) => parent.children.push(element),
        // A second root is a syntax error quick-xml reports; keep the first.
        None => {
            if root.is_none() {
                *root = Some(element);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The benchmark as a checklist needs it.

#[derive(Debug)]
struct Benchmark {
    id: String,
    title: String,
    description: String,
    version: String,
    release_info: String,
    notice: String,
    source: String,
    target_key: String,
    uuid: String,
    rules: Vec<BenchRule>,
}

#[derive(Debug)]
struct BenchRule {
    group_id: String,
    group_title: String,
    rule_id: String,
    severity: String,
    weight: String,
    version: String,
    title: String,
    /// The rule's `<description>`: DISA packs `<VulnDiscussion>…` and friends into it as text.
    description: String,
    fix_text: String,
    check_content: String,
    check_content_ref: String,
    legacy_ids: Vec<String>,
    ccis: Vec<String>,
}

impl Benchmark {
    fn from_tree(root: &Element) -> Result<Self, CklError> {
        if root.name != "Benchmark" {
            return Err(CklError::NotABenchmark(root.name.clone()));
        }
        let mut rules = Vec::new();
        collect_rules(root, None, &mut rules)?;
        if rules.is_empty() {
            return Err(CklError::NoRules);
        }
        let text = |name: &str| root.child_text(name).unwrap_or_default().to_owned();
        let release_info = root
            .children_named("plain-text")
            .find(|p| p.attr("id") == Some("release-info"))
            .map(|p| p.text.trim().to_owned())
            .unwrap_or_default();
        let target_key = first_target_key(root).unwrap_or_default();
        let id = root.attr("id").unwrap_or_default().to_owned();
        let version = text("version");
        let uuid = name_uuid(&["pgharden-ckl", &id, &version, &release_info]);
        Ok(Self {
            title: text("title"),
            description: text("description"),
            notice: root.child("notice").and_then(|n| n.attr("id")).unwrap_or_default().to_owned(),
            source: root
                .child("reference")
                .and_then(|r| r.child_text("source"))
                .unwrap_or_default()
                .to_owned(),
            id,
            version,
            release_info,
            target_key,
            uuid,
            rules,
        })
    }
}

/// Every `Rule` under `element`, in document order, with its nearest enclosing `Group`.
fn collect_rules(
    element: &Element,
    group: Option<&Element>,
    rules: &mut Vec<BenchRule>,
) -> Result<(), CklError> {
    for child in &element.children {
        match child.name.as_str() {
            "Group" => collect_rules(child, Some(child), rules)?,
            "Rule" => rules.push(BenchRule::from_element(child, group)?),
            _ => {}
        }
    }
    Ok(())
}

impl BenchRule {
    fn from_element(rule: &Element, group: Option<&Element>) -> Result<Self, CklError> {
        let rule_id = rule.attr("id").unwrap_or_default().to_owned();
        let missing = |what| CklError::MissingField { rule: rule_id.clone(), what };
        if rule_id.is_empty() {
            return Err(CklError::MissingField {
                rule: rule.child_text("version").unwrap_or("(unnamed)").to_owned(),
                what: "id attribute",
            });
        }
        let version = rule
            .child_text("version")
            .filter(|v| !v.is_empty())
            .ok_or_else(|| missing("<version>"))?
            .to_owned();
        let check = rule.child("check");
        let idents = |system: &str| -> Vec<String> {
            rule.children_named("ident")
                .filter(|i| i.attr("system").is_some_and(|s| s.ends_with(system)))
                .map(|i| i.text.trim().to_owned())
                .filter(|i| !i.is_empty())
                .collect()
        };
        Ok(Self {
            group_id: group.and_then(|g| g.attr("id")).unwrap_or(&rule_id).to_owned(),
            group_title: group.and_then(|g| g.child_text("title")).unwrap_or_default().to_owned(),
            severity: rule.attr("severity").unwrap_or("medium").to_owned(),
            weight: rule.attr("weight").unwrap_or("10.0").to_owned(),
            title: rule.child_text("title").unwrap_or_default().to_owned(),
            description: rule.child("description").map(|d| d.text.clone()).unwrap_or_default(),
            fix_text: rule.child_text("fixtext").unwrap_or_default().to_owned(),
            check_content: check.and_then(|c| c.child_text("check-content")).unwrap_or_default().to_owned(),
            check_content_ref: check
                .and_then(|c| c.child("check-content-ref"))
                .and_then(|r| r.attr("name"))
                .unwrap_or_default()
                .to_owned(),
            legacy_ids: idents("/legacy"),
            ccis: idents("/cci"),
            rule_id,
            version,
        })
    }

    /// A part of the packed description (`VulnDiscussion`, `Mitigations`, …). Without the
    /// packing, the whole description is the discussion.
    fn description_part(&self, tag: &str) -> &str {
        let open = format!("<{tag}>");
        let close = format!("</{tag}>");
        match self.description.find(&open) {
            Some(start) => {
                let rest = &self.description[start + open.len()..];
                rest.find(&close).map_or(rest, |end| &rest[..end]).trim()
            }
            None if tag == "VulnDiscussion" && !self.description.contains("<VulnDiscussion") => {
                self.description.trim()
            }
            None => "",
        }
    }
}

/// The DISA product key (`<reference><dc:identifier>`) of the first rule that has one.
fn first_target_key(element: &Element) -> Option<String> {
    for child in &element.children {
        let found = match child.name.as_str() {
            "Rule" => child
                .child("reference")
                .and_then(|r| r.child_text("identifier"))
                .filter(|k| !k.is_empty())
                .map(str::to_owned),
            "Group" => first_target_key(child),
            _ => None,
        };
        if found.is_some() {
            return found;
        }
    }
    None
}

/// A stable name-based UUID (RFC 9562 version 8, SHA-256 of the parts): the same benchmark and
/// rule give the same ids in every checklist, so STIG Viewer merges re-imports.
fn name_uuid(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0u8]);
    }
    let digest = hasher.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x80;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

// ---------------------------------------------------------------------------------------------
// Writing the checklist.

/// STIG Viewer's status words.
fn ckl_status(findings: &[&Finding]) -> &'static str {
    if findings.is_empty() {
        "Not_Reviewed"
    } else if findings.iter().any(|f| f.status == Status::Fail) {
        "Open"
    } else if findings.iter().all(|f| f.status == Status::Pass) {
        "NotAFinding"
    } else {
        "Not_Reviewed"
    }
}

fn finding_details(findings: &[&Finding]) -> String {
    if findings.is_empty() {
        return NOT_CHECKED.to_owned();
    }
    let mut out = String::new();
    for (i, finding) in findings.iter().enumerate() {
        if i > 0 {
            out.push_str("\n\n");
        }
        let _ = write!(
            out,
            "pgharden {}: {} ({}) {}",
            finding.rule,
            status_word(finding.status),
            severity_word(finding.severity),
            finding.title
        );
        for evidence in &finding.evidence {
            out.push('\n');
            out.push_str(evidence);
        }
        if let Some(fix) = &finding.fix
            && finding.status == Status::Fail
        {
            out.push_str("\nFix: ");
            out.push_str(fix);
        }
    }
    out
}

fn write_checklist(report: &Report, benchmark: &Benchmark) -> String {
    let mut x = XmlOut::default();
    x.raw("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x.raw(&format!(
        "<!--{} {}: STIG Viewer 2.x checklist-->\n",
        comment_safe(&report.tool),
        comment_safe(&report.version)
    ));
    x.open("CHECKLIST");
    write_asset(&mut x, report, benchmark);
    x.open("STIGS");
    x.open("iSTIG");
    write_stig_info(&mut x, benchmark);
    for rule in &benchmark.rules {
        let findings: Vec<&Finding> =
            report.findings.iter().filter(|f| matches_rule(f, &rule.version)).collect();
        write_vuln(&mut x, benchmark, rule, &findings);
    }
    x.close("iSTIG");
    x.close("STIGS");
    x.close("CHECKLIST");
    x.out
}

fn matches_rule(finding: &Finding, version: &str) -> bool {
    let version = bare_stig_id(version);
    [&finding.stig.pgs9, &finding.stig.cd12, &finding.stig.cd16]
        .into_iter()
        .flatten()
        .any(|id| bare_stig_id(id) == version)
}

fn write_asset(x: &mut XmlOut, report: &Report, benchmark: &Benchmark) {
    let target = &report.target;
    let host_ip = target
        .host
        .as_deref()
        .filter(|h| h.trim_matches(['[', ']']).parse::<IpAddr>().is_ok())
        .map(|h| h.trim_matches(['[', ']']).to_owned());
    let host_name = target.host_name.clone().or_else(|| {
        target.host.clone().filter(|h| host_ip.is_none() && !h.starts_with('/') && !h.is_empty())
    });
    let fqdn = host_name.clone().filter(|h| h.contains('.'));
    let site = match (&target.host, target.port) {
        (Some(host), Some(port)) if !host.starts_with('/') => format!("{host}:{port}"),
        _ => host_name.clone().unwrap_or_default(),
    };
    let instance = target.data_dir.clone().or_else(|| target.port.map(|p| p.to_string())).unwrap_or_default();
    let mut comment = Vec::new();
    if let Some(version) = &target.server_version {
        comment.push(format!("PostgreSQL {version}"));
    }
    if let Some(dir) = &target.data_dir {
        comment.push(format!("data directory {dir}"));
    }
    comment.push(format!("audited by {} {} at {}", report.tool, report.version, report.generated_at));

    x.open("ASSET");
    x.elem("ROLE", "None");
    x.elem("ASSET_TYPE", "Computing");
    x.elem("HOST_NAME", host_name.as_deref().unwrap_or_default());
    x.elem("HOST_IP", host_ip.as_deref().unwrap_or_default());
    x.elem("HOST_MAC", "");
    x.elem("HOST_FQDN", fqdn.as_deref().unwrap_or_default());
    x.elem("TARGET_COMMENT", &comment.join("; "));
    x.elem("TECH_AREA", "Database");
    x.elem("TARGET_KEY", &benchmark.target_key);
    x.elem("WEB_OR_DATABASE", "true");
    x.elem("WEB_DB_SITE", &site);
    x.elem("WEB_DB_INSTANCE", &instance);
    x.close("ASSET");
}

fn write_stig_info(x: &mut XmlOut, b: &Benchmark) {
    x.open("STIG_INFO");
    let si = |x: &mut XmlOut, name: &str, data: Option<&str>| {
        x.open("SI_DATA");
        x.elem("SID_NAME", name);
        if let Some(data) = data.filter(|d| !d.is_empty()) {
            x.elem("SID_DATA", data);
        }
        x.close("SI_DATA");
    };
    si(x, "version", Some(&b.version));
    si(x, "classification", Some("UNCLASSIFIED"));
    si(x, "customname", None);
    si(x, "stigid", Some(&b.id));
    si(x, "description", Some(&b.description));
    si(x, "filename", None);
    si(x, "releaseinfo", Some(&b.release_info));
    si(x, "title", Some(&b.title));
    si(x, "uuid", Some(&b.uuid));
    si(x, "notice", Some(&b.notice));
    si(x, "source", Some(&b.source));
    x.close("STIG_INFO");
}

fn write_vuln(x: &mut XmlOut, b: &Benchmark, rule: &BenchRule, findings: &[&Finding]) {
    x.open("VULN");
    let data = |x: &mut XmlOut, attribute: &str, value: &str| {
        x.open("STIG_DATA");
        x.elem("VULN_ATTRIBUTE", attribute);
        x.elem("ATTRIBUTE_DATA", value);
        x.close("STIG_DATA");
    };
    let stig_ref = format!("{} :: Version {}, {}", b.title, b.version, b.release_info);
    let stig_uuid = name_uuid(&["pgharden-ckl-rule", &b.uuid, &rule.rule_id]);
    data(x, "Vuln_Num", &rule.group_id);
    data(x, "Severity", &rule.severity);
    data(x, "Group_Title", &rule.group_title);
    data(x, "Rule_ID", &rule.rule_id);
    data(x, "Rule_Ver", &rule.version);
    data(x, "Rule_Title", &rule.title);
    data(x, "Vuln_Discuss", rule.description_part("VulnDiscussion"));
    data(x, "IA_Controls", rule.description_part("IAControls"));
    data(x, "Check_Content", &rule.check_content);
    data(x, "Fix_Text", &rule.fix_text);
    data(x, "False_Positives", rule.description_part("FalsePositives"));
    data(x, "False_Negatives", rule.description_part("FalseNegatives"));
    data(x, "Documentable", rule.description_part("Documentable"));
    data(x, "Mitigations", rule.description_part("Mitigations"));
    data(x, "Potential_Impact", rule.description_part("PotentialImpacts"));
    data(x, "Third_Party_Tools", rule.description_part("ThirdPartyTools"));
    data(x, "Mitigation_Control", rule.description_part("MitigationControl"));
    data(x, "Responsibility", rule.description_part("Responsibility"));
    data(x, "Security_Override_Guidance", rule.description_part("SeverityOverrideGuidance"));
    data(x, "Check_Content_Ref", &rule.check_content_ref);
    data(x, "Weight", &rule.weight);
    data(x, "Class", "Unclass");
    data(x, "STIGRef", &stig_ref);
    data(x, "TargetKey", &b.target_key);
    data(x, "STIG_UUID", &stig_uuid);
    for legacy in &rule.legacy_ids {
        data(x, "LEGACY_ID", legacy);
    }
    for cci in &rule.ccis {
        data(x, "CCI_REF", cci);
    }
    x.elem("STATUS", ckl_status(findings));
    x.elem("FINDING_DETAILS", &finding_details(findings));
    x.elem("COMMENTS", "pgharden");
    x.elem("SEVERITY_OVERRIDE", "");
    x.elem("SEVERITY_JUSTIFICATION", "");
    x.close("VULN");
}

/// An indenting XML writer for element-only content with escaped text leaves.
#[derive(Default)]
struct XmlOut {
    out: String,
    depth: usize,
}

impl XmlOut {
    fn raw(&mut self, s: &str) {
        self.out.push_str(s);
    }

    fn indent(&mut self) {
        for _ in 0..self.depth {
            self.out.push('\t');
        }
    }

    fn open(&mut self, name: &str) {
        self.indent();
        let _ = writeln!(self.out, "<{name}>");
        self.depth += 1;
    }

    fn close(&mut self, name: &str) {
        self.depth = self.depth.saturating_sub(1);
        self.indent();
        let _ = writeln!(self.out, "</{name}>");
    }

    fn elem(&mut self, name: &str, text: &str) {
        self.indent();
        let _ = write!(self.out, "<{name}>");
        escape_into(&mut self.out, text);
        let _ = writeln!(self.out, "</{name}>");
    }
}

/// XML 1.0 text escaping: markup characters as entities, carriage returns as a character
/// reference (so they survive end-of-line normalisation), and characters XML 1.0 cannot carry
/// at all (C0 controls, U+FFFE, U+FFFF) shown as `\u{…}`.
fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#13;"),
            '\t' | '\n' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {
                out.extend(c.escape_unicode());
            }
            c => out.push(c),
        }
    }
}

/// Text safe inside `<!-- -->`: no `--`, no control characters.
fn comment_safe(s: &str) -> String {
    let mut out: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    while out.contains("--") {
        out = out.replace("--", "- ");
    }
    out.trim_end_matches('-').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        let mut out = String::new();
        escape_into(&mut out, "a<b & 'c' \"d\"\r\n\u{1b}\u{0}");
        assert_eq!(out, "a&lt;b &amp; &apos;c&apos; &quot;d&quot;&#13;\n\\u{1b}\\u{0}");
        assert_eq!(comment_safe("a--b-"), "a- b");
    }

    #[test]
    fn uuid_shape() {
        let u = name_uuid(&["x"]);
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "8");
        assert_eq!(u, name_uuid(&["x"]));
        assert_ne!(u, name_uuid(&["y"]));
    }

    #[test]
    fn rejects_non_benchmarks() {
        assert!(matches!(parse_tree("<a><b></a>"), Err(CklError::Xml { .. })));
        assert!(matches!(parse_tree("<a>"), Err(CklError::Truncated)));
        assert!(matches!(
            parse_tree("<!DOCTYPE a [<!ENTITY e \"x\">]><a>&e;</a>"),
            Err(CklError::UnknownEntity(name)) if name == "e"
        ));
        let deep = "<a>".repeat(100) + &"</a>".repeat(100);
        assert!(matches!(parse_tree(&deep), Err(CklError::TooDeep)));
        let root = parse_tree("<x/>").map_err(|e| e.to_string());
        let root = root.as_ref().map(Benchmark::from_tree);
        assert!(matches!(root, Ok(Err(CklError::NotABenchmark(n))) if n == "x"));
        let empty =
            parse_tree("<Benchmark id=\"b\"></Benchmark>").map(|r| Benchmark::from_tree(&r).map(|_| ()));
        assert!(matches!(empty, Ok(Err(CklError::NoRules))));
    }

    #[test]
    fn description_parts() {
        let rule = BenchRule {
            group_id: String::new(),
            group_title: String::new(),
            rule_id: "r".into(),
            severity: "low".into(),
            weight: "10.0".into(),
            version: "X".into(),
            title: String::new(),
            description: "<VulnDiscussion>Why & how</VulnDiscussion><Documentable>false</Documentable><Mitigations></Mitigations>".into(),
            fix_text: String::new(),
            check_content: String::new(),
            check_content_ref: String::new(),
            legacy_ids: vec![],
            ccis: vec![],
        };
        assert_eq!(rule.description_part("VulnDiscussion"), "Why & how");
        assert_eq!(rule.description_part("Documentable"), "false");
        assert_eq!(rule.description_part("Mitigations"), "");
        assert_eq!(rule.description_part("IAControls"), "");
    }
}
