//! The text and JSON renderers over a hand-made report with every status and every area.

use pgharden_audit::model::REPORT_FORMAT;
use pgharden_audit::report;
use pgharden_audit::{Area, Report, Status};

fn sample() -> Report {
    serde_json::from_str(include_str!("fixtures/report-sample.json")).expect("sample report")
}

#[test]
fn sample_covers_every_status_and_area() {
    let r = sample();
    for status in [Status::Pass, Status::Fail, Status::NotChecked, Status::Manual] {
        assert!(r.findings.iter().any(|f| f.status == status), "{status:?}");
    }
    for area in [
        Area::Tls,
        Area::Authentication,
        Area::Logging,
        Area::Audit,
        Area::Encryption,
        Area::Files,
        Area::Privileges,
        Area::Host,
        Area::Other,
    ] {
        assert!(r.findings.iter().any(|f| f.area == area), "{area:?}");
    }
}

#[test]
fn text_without_colour_has_no_escape_bytes() {
    let out = report::text(&sample(), false);
    assert!(!out.contains('\u{1b}'), "{out}");
    // The escape in the evidence is shown, not sent.
    assert!(out.contains("\\x1b[31m(run as the cluster owner)"), "{out}");
}

#[test]
fn text_keeps_hostile_values_on_their_line() {
    let mut r = sample();
    let injected = "ssl = off\r\n  PASS         high    tls.ssl  fake\u{202e}\u{1b}[2J";
    r.findings[0].evidence = vec![injected.into()];
    r.findings[0].title = "title\nPASS".into();
    r.target.server_version = Some("16.4\n\u{9b}2J".into());
    for colour in [false, true] {
        let out = report::text(&r, colour);
        let plain = strip_ansi(&out);
        assert!(!plain.chars().any(|c| c.is_control() && c != '\n'), "{plain:?}");
        assert_eq!(plain.lines().filter(|l| l.contains("fake")).count(), 1, "{plain}");
        assert!(
            plain.contains("ssl = off\\r\\n  PASS         high    tls.ssl  fake\\u{202e}\\x1b[2J"),
            "{plain}"
        );
        assert!(!plain.lines().any(|l| l == "PASS" || l.starts_with("  PASS         high    tls.ssl  fake")));
        assert!(plain.starts_with("pgharden 0.1.0 audit of "), "{plain}");
        assert!(plain.lines().next().unwrap_or("").contains("PostgreSQL 16.4\\n\\u{9b}2J"), "{plain}");
    }
}

#[test]
fn text_groups_by_area_in_enum_order() {
    let out = report::text(&sample(), false);
    let headings =
        ["TLS", "Authentication", "Logging", "Audit", "Encryption", "Files", "Privileges", "Host", "Other"];
    let positions: Vec<usize> = headings
        .iter()
        .map(|h| out.find(&format!("\n{h}\n")).unwrap_or_else(|| panic!("no heading {h} in\n{out}")))
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{out}");
    // A finding sits under its own area.
    let tls = positions[0];
    let auth = positions[1];
    let ssl_line = out.find("tls.ssl ").expect("tls.ssl line");
    assert!(tls < ssl_line && ssl_line < auth, "{out}");
}

#[test]
fn text_finding_lines() {
    let out = report::text(&sample(), false);
    let line = |rule: &str| {
        out.lines()
            .find(|l| l.contains(&format!(" {rule} ")))
            .unwrap_or_else(|| panic!("no line for {rule} in\n{out}"))
            .to_owned()
    };
    let port = line("other.port");
    assert!(port.trim_start().starts_with("FAIL "), "{port}");
    assert!(port.contains(" medium "), "{port}");
    assert!(port.contains(" PGS9/CD12-00-000100 CD16-00-003500 "), "{port}");
    assert!(port.ends_with("The server listens only on the approved port"));
    assert!(line("audit.outcome").trim_start().starts_with("PASS "));
    assert!(line("files.log-perms").trim_start().starts_with("NOT CHECKED "));
    assert!(line("host.updates").trim_start().starts_with("MANUAL "));
    assert!(line("logging.connections").contains(" low "));
    // No STIG id at all shows a dash.
    assert!(line("logging.connections").contains(" - "));
    // Different numbers, or one family only, show in full.
    assert!(line("authentication.cert").contains(" PGS9-00-008000 "));
    // Different numbers, or one family only, show in full.
    assert!(line("authentication.cert").contains(" PGS9-00-008000 "));

    // Evidence and fix beneath, indented; the fix only for failures.
    let after = |rule: &str, n: usize| -> Vec<String> {
        let lines: Vec<&str> = out.lines().collect();
        let i = lines.iter().position(|l| l.contains(&format!(" {rule} "))).expect("line");
        lines[i + 1..i + 1 + n].iter().map(|s| s.to_string()).collect()
    };
    let ssl = after("tls.ssl", 4);
    assert_eq!(ssl[0].trim(), "postgresql.conf:101 ssl = off");
    assert_eq!(ssl[1].trim(), "SHOW ssl -> off");
    assert_eq!(ssl[2].trim(), "fix: ssl = on");
    assert_eq!(ssl[3].trim(), "ssl_cert_file = 'server.crt'");
    assert!(ssl.iter().all(|l| l.starts_with("      ")));
    let outcome = after("audit.outcome", 2);
    assert!(outcome[0].contains("log_line_prefix"));
    assert!(!outcome[1].contains("fix:"));
    assert!(out.contains("      fix: set port = 5432 in postgresql.conf and restart\n"));
}

#[test]
fn text_summary_counts() {
    let out = report::text(&sample(), false);
    let last = out.lines().last().expect("summary");
    assert_eq!(
        last,
        "Summary: 9 findings: 2 pass, 3 fail, 2 not checked, 2 manual. \
         Failing by severity: 1 high, 1 medium, 1 low."
    );
    assert!(out.starts_with(
        "pgharden 0.1.0 audit of db1.example.com:5432 (/var/lib/postgresql/16/main), PostgreSQL 16.4, 2025-01-02T03:04:05Z\n"
    ));
}

#[test]
fn text_with_colour() {
    let out = report::text(&sample(), true);
    assert!(out.contains("\u{1b}[32mPASS"), "green pass");
    assert!(out.contains("\u{1b}[31mFAIL"), "red fail");
    assert!(out.contains("\u{1b}[33mNOT CHECKED"), "yellow not checked");
    assert!(out.contains("\u{1b}[34mMANUAL"), "blue manual");
    // Colour does not change the text once escapes are removed.
    let plain = report::text(&sample(), false);
    assert_eq!(strip_ansi(&out), plain);
}

#[test]
fn text_of_empty_report() {
    let mut r = sample();
    r.findings.clear();
    let out = report::text(&r, false);
    assert!(out.contains("No findings."));
    assert!(out.ends_with(
        "Summary: 0 findings: 0 pass, 0 fail, 0 not checked, 0 manual. \
         Failing by severity: 0 high, 0 medium, 0 low.\n"
    ));
}

#[test]
fn json_round_trips_with_format() {
    let r = sample();
    let out = report::json(&r);
    assert!(out.ends_with("}\n"));
    let back: Report = serde_json::from_str(&out).expect("json parses");
    assert_eq!(back, r);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["format"], REPORT_FORMAT);
    let mut keys: Vec<&str> = v.as_object().expect("object").keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["findings", "format", "generated_at", "target", "tool", "version"]);
    assert_eq!(v["findings"][3]["status"], "not-checked");
    assert_eq!(v["findings"][0]["area"], "other");
    assert_eq!(v["findings"][0]["severity"], "medium");
    assert_eq!(v["findings"][0]["stig"]["pgs9"], "PGS9-00-000100");
}

#[test]
fn json_always_states_the_current_format() {
    let mut r = sample();
    r.format = 99;
    let v: serde_json::Value = serde_json::from_str(&report::json(&r)).expect("json");
    assert_eq!(v["format"], REPORT_FORMAT);
}

#[test]
#[ignore = "prints the sample for a person to read"]
fn show_text() {
    println!("{}", report::text(&sample(), std::env::var_os("COLOUR").is_some()));
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
