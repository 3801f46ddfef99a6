//! `audit` on a hardened cluster of each major: its exit code and every verdict. With pgaudit
//! nothing fails; without it, exactly the rules that need pgaudit fail, and they say so.

use super::pg_test;
use crate::support::audit_json;

pg_test!(
    /// The audit of a hardened cluster, rule by rule.
    audit,
    "audit of the hardened cluster: exit code and every verdict (nothing NOT CHECKED; without pgaudit only its rules fail)",
    |pg| {
        let (_pki, cluster) = pg.hardened();
        let (code, report) = audit_json(&cluster, &[]);
        let findings = report["findings"].as_array().expect("findings");
        let with = |s: &str| findings.iter().filter(|f| f["status"] == s).collect::<Vec<_>>();
        let unknown: Vec<_> = with("not-checked").iter().map(|f| f["rule"].clone()).collect();
        assert!(unknown.is_empty(), "NOT CHECKED on {}: {unknown:?}", pg.install.version());
        let failed = with("fail");
        if pg.has_pgaudit() {
            let rules: Vec<_> = failed.iter().map(|f| (&f["rule"], &f["evidence"])).collect();
            assert!(rules.is_empty(), "failing on {}: {rules:#?}", pg.install.version());
            assert_eq!(code, 0);
            pg.note(format!("exit 0: {} pass, 0 fail", with("pass").len()));
        } else {
            assert_eq!(code, 1, "a failing rule is exit 1");
            let not_pgaudit: Vec<_> = failed
                .iter()
                .filter(|f| !f["evidence"].to_string().contains("pgaudit"))
                .map(|f| (&f["rule"], &f["evidence"]))
                .collect();
            assert!(not_pgaudit.is_empty(), "failing for another reason than pgaudit: {not_pgaudit:#?}");
            assert!(!failed.is_empty(), "without pgaudit, Appendix B's rules must fail");
            pg.note(format!("exit 1: the {} rules that need pgaudit fail, nothing else", failed.len()));
        }
    }
);
