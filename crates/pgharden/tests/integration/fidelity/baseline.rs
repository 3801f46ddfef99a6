//! Group F: the hardened baseline itself, and the STIG Viewer checklist. After `apply`, the audit in
//! cluster scope exits 0 with no rule `fail` or `not-checked`; the CKL calls a rule NotAFinding
//! only when its check text is met (CD16-00-006000 wants `client_min_messages = error`,
//! CD16-00-001500 a prefix with `%p`).

use super::{Cases, hardened, reset_system, set_system};
use crate::support::{audit_json, pgharden, run_bounded};

/// The committed excerpt of the CD16 V1R1 benchmark: its header and the Groups V-261860,
/// V-261871 and V-261908 only.
const BENCHMARK: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/tests/integration/fixtures/cd16-excerpt-xccdf.xml");

/// The checklist of the cluster as it is now, against the excerpt.
fn checklist(c: &pgharden_testcluster::Cluster) -> String {
    let mut cmd = pgharden();
    cmd.args(["audit", "--pgdata", c.data_dir().to_str().unwrap(), "--scope", "cluster"]).args([
        "--format",
        "ckl",
        "--benchmark",
        BENCHMARK,
    ]);
    let out = run_bounded(&mut cmd, crate::support::AUDIT_LIMIT);
    assert!(matches!(out.code, Some(0 | 1)), "the checklist run failed: {}", out.describe());
    let xml = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(xml.matches("<VULN>").count(), 3, "one VULN per benchmark rule: {xml}");
    xml
}

/// The STATUS of the VULN whose Vuln_Num is `vuln` (`V-261908`).
fn vuln_status(xml: &str, vuln: &str) -> String {
    let tag = format!("<ATTRIBUTE_DATA>{vuln}</ATTRIBUTE_DATA>");
    let block = xml
        .split("<VULN>")
        .find(|b| b.contains(&tag))
        .unwrap_or_else(|| panic!("no VULN {vuln} in the checklist: {xml}"));
    let start = block.find("<STATUS>").map(|i| i + "<STATUS>".len()).expect("a VULN has a STATUS");
    let end = block[start..].find("</STATUS>").expect("STATUS is closed") + start;
    block[start..end].to_string()
}

fn want_status(xml: &str, vuln: &str, want: &str) {
    let got = vuln_status(xml, vuln);
    assert_eq!(got, want, "{vuln} should be {want} in the checklist");
}

#[test]
fn fidelity_baseline_and_checklist() {
    let (_pki, c) = hardened();
    let mut cases = Cases::new("F, the baseline and the CKL");

    cases.check("baseline: exit 0, nothing fail or not-checked", || {
        let (code, report) = audit_json(&c, &[]);
        let bad: Vec<String> = report["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["status"] == "fail" || f["status"] == "not-checked")
            .map(|f| format!("{} {}: {}", f["rule"], f["status"], f["evidence"]))
            .collect();
        assert!(bad.is_empty(), "the hardened baseline: {bad:#?}");
        assert_eq!(code, 0, "the hardened baseline audits with exit 0");
    });

    cases.check("CKL baseline: V-261908 and V-261871 NotAFinding", || {
        let xml = checklist(&c);
        want_status(&xml, "V-261908", "NotAFinding");
        want_status(&xml, "V-261871", "NotAFinding");
    });

    let was = set_system(&c, "client_min_messages", "notice");
    cases.check("CKL client_min_messages=notice: V-261908 Open", || {
        want_status(&checklist(&c), "V-261908", "Open");
    });
    reset_system(&c, "client_min_messages", &was);

    let was = set_system(&c, "log_line_prefix", "< %m %a %u %d %c %s %r >");
    cases.check("CKL old prefix without %p: V-261871 Open", || {
        want_status(&checklist(&c), "V-261871", "Open");
    });
    reset_system(&c, "log_line_prefix", &was);

    cases.check("CKL mended: V-261908 and V-261871 NotAFinding again", || {
        let xml = checklist(&c);
        want_status(&xml, "V-261908", "NotAFinding");
        want_status(&xml, "V-261871", "NotAFinding");
    });
    cases.finish();
}
