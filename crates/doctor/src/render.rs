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
    // libpq's messages have lines of their own (a hint after the error): each is escaped alone,
    // and the later ones are marked as continuations so a server's text cannot pose as a step.
    for (i, l) in c.result.lines().enumerate() {
        let _ = writeln!(out, "   {}{}", if i == 0 { "" } else { "| " }, line(l));
    }
    let _ = writeln!(out, "   {}", line(&c.meaning));
    let fails = report.steps.iter().filter(|s| s.verdict == Verdict::Fail).count();
    let warns = report.steps.iter().filter(|s| s.verdict == Verdict::Warn).count();
    let _ = writeln!(out, "\nSummary: {fails} failed, {warns} warned");
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may panic on failure
mod tests {
    use crate::{Connection, Report, Step, Verdict};

    fn report(fact: &str) -> Report {
        let mut step = Step::new(4, "server-chain", "server certificate chain against sslrootcert");
        step.saw(fact);
        step.judge(Verdict::Fail, "wrong CA", Some("sslrootcert=FILE".into()));
        Report {
            format: crate::FORMAT,
            conninfo: "host=db".into(),
            pgdata: None,
            steps: vec![step],
            connection: Connection {
                connected: false,
                result: "x\n4. fake [ok]".into(),
                explained_by: Some("server-chain"),
                meaning: "m".into(),
            },
        }
    }

    #[test]
    fn text_escapes_what_certificates_and_servers_say() {
        let r = report("served #1: 'CN=evil\r\n5. host name [ok]\u{1b}[2J'");
        let text = r.render_text();
        assert!(!text.chars().any(|c| c.is_control() && c != '\n'), "{text:?}");
        assert_eq!(
            text.lines().filter(|l| l.contains("[ok]")).count(),
            2,
            "both stay inside their lines: {text}"
        );
        assert!(text.lines().all(|l| !l.starts_with("5.") && !l.starts_with("4. fake")), "{text}");
        assert!(text.contains("4. server certificate chain against sslrootcert [FAIL]"), "{text}");
        assert!(text.contains("   fix: sslrootcert=FILE"), "{text}");
        assert!(text.contains("\n   x\n   | 4. fake [ok]\n"), "a continuation, marked: {text}");
        assert!(r.problem_found());
    }

    #[test]
    fn json_keeps_ids_and_verdicts_stable() {
        let v = serde_json::to_value(report("fact")).unwrap();
        assert_eq!(v["format"], 1);
        assert_eq!(v["steps"][0]["id"], "server-chain");
        assert_eq!(v["steps"][0]["verdict"], "fail");
        assert_eq!(v["connection"]["explained_by"], "server-chain");
    }
}
