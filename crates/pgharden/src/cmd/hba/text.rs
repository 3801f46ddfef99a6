//! The text form of `pgharden hba explain`: every line with what it did, the result with the
//! server's own words for a refusal, the shadowed lines with a fix, and the problems the server
//! would have. Must not: decide anything (the parent module has the explanation ready).

use std::path::Path;

use super::Explanation;
use crate::output::{bad, dim, good, shown};

/// The explanation for a person.
pub(super) fn render(e: &Explanation) -> String {
    let mut out = String::new();
    let d = &e.connection;
    let includes = if e.includes_followed {
        "include directives followed"
    } else {
        "include directives exist from 16 on and are not followed"
    };
    out.push_str(&format!(
        "pg_hba.conf: {} (PostgreSQL {}, {includes})\n",
        shown(e.hba_file.display()),
        e.major
    ));
    let via = match d.address {
        None => "local: Unix socket".to_owned(),
        Some(a) => {
            let enc = if d.ssl {
                if d.client_cert { "TLS with a client certificate" } else { "TLS, no client certificate" }
            } else if d.gss_encrypted {
                "GSSAPI encryption"
            } else {
                "plaintext"
            };
            format!("host: TCP from {a}, {enc}")
        }
    };
    let what =
        if d.replication { "replication".to_owned() } else { format!("database {}", shown(&d.database)) };
    out.push_str(&format!("Connection: user {}, {what}, {via}\n", shown(&d.user)));
    if e.membership.role_exists == Some(false) {
        out.push_str(&format!(
            "{} role {} does not exist on the server: authentication fails whichever line matches\n",
            bad("note:"),
            shown(&d.user)
        ));
    }
    if let (Some(why), false) = (&e.membership.why_unknown, e.membership.asked.is_empty()) {
        out.push_str(&format!(
            "{}\n",
            dim(&format!(
                "Role membership unknown ({}): +group and samerole lines are undecidable",
                shown(why)
            ))
        ));
    }
    out.push_str("\nLines in the order the server tries them:\n");
    if e.lines.is_empty() {
        out.push_str("  (none: every connection is refused)\n");
    }
    for l in &e.lines {
        let at = if l.file == e.hba_file {
            format!("line {}", l.line)
        } else {
            format!("{}:{}", shown(l.file.display()), l.line)
        };
        let mark = match l.verdict {
            "matches" => good("=>"),
            "no_match" => "  ".to_owned(),
            "undecidable" => "? ".to_owned(),
            _ => dim("  "),
        };
        let text = format!("{at}  {}", shown(&l.text));
        let reason = shown(&l.reason);
        let line = if l.verdict == "not_tried" && !l.would_also_match {
            dim(&format!("{text}\n       {reason}"))
        } else {
            format!("{text}\n       {reason}")
        };
        out.push_str(&format!("{mark} {line}\n"));
    }
    let verdict = if e.outcome == "authenticate" { good(&e.summary) } else { bad(&e.summary) };
    out.push_str(&format!("\nResult: {verdict}\n"));
    if let Some(m) = &e.server_message {
        out.push_str(&format!("  the server logs and the client sees: {}\n", shown(m)));
    }
    out.push_str("\nLines no connection can reach (earlier lines take every connection they would):\n");
    if e.shadowed.is_empty() {
        out.push_str("  none\n");
    }
    let at = |f: &Path, n: usize| {
        if f == e.hba_file { format!("line {n}") } else { format!("{}:{n}", shown(f.display())) }
    };
    for s in &e.shadowed {
        out.push_str(&format!("  {}  {}\n", at(&s.file, s.line), shown(&s.text)));
        match s.by.as_slice() {
            [one] => {
                let why = if s.text.starts_with("hostssl ") && one.text.starts_with("host ") {
                    " (a host line takes TLS and plaintext connections alike)"
                } else {
                    ""
                };
                let by = at(&one.file, one.line);
                out.push_str(&format!("      shadowed by {by}  {}{why}\n", shown(&one.text)));
                out.push_str(&format!(
                    "      fix: move it above {by}, or delete it if {by} is what you mean\n"
                ));
            }
            several => {
                let names: Vec<String> = several.iter().map(|b| at(&b.file, b.line)).collect();
                out.push_str(&format!(
                    "      taken between {}: each takes one kind (TLS, GSSAPI, plaintext) of its connections\n",
                    names.join(" and ")
                ));
                for b in several {
                    out.push_str(&format!("        {}  {}\n", at(&b.file, b.line), shown(&b.text)));
                }
                out.push_str(&format!(
                    "      fix: move it above {}, or delete it if those lines are what you mean\n",
                    names.first().map_or("them", String::as_str)
                ));
            }
        }
    }
    if !e.problems.is_empty() {
        out.push_str("\nWhat the server would refuse or misread in these files");
        if e.problems.iter().any(|p| p.severity == "error") {
            // hba.c loads the file whole or not at all.
            out.push_str(
                " (with an error the server takes none of it: a reload keeps the rules loaded before, a start fails)",
            );
        }
        out.push_str(":\n");
        for p in &e.problems {
            out.push_str(&format!(
                "  {}:{}: {}: {}\n",
                shown(p.file.display()),
                p.line,
                p.severity,
                shown(&p.message)
            ));
        }
    }
    out
}
