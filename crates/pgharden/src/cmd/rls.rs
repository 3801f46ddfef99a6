//! `pgharden rls label` and `pgharden rls check`: row-level security by security label (STIG
//! supplement Appendix D). Connects, calls `pgharden_cluster::rls`, prints; `check` prints the
//! Appendix D results table (per member, `current_user` and the rows it sees, aligned as psql does).

use anyhow::Context;
use pgharden_cluster::db::Db;
use pgharden_cluster::rls::{self, CheckReport, Column, LabelReport};
use pgharden_text::line;

use crate::cli::RlsCommand;
use crate::output::{self, Outcome};

pub(crate) fn run(cmd: RlsCommand) -> anyhow::Result<Outcome> {
    match cmd {
        RlsCommand::Label { conninfo, table, column, json } => {
            let mut db = connect(&conninfo)?;
            let report = rls::label(&mut db, &table, &column)
                .with_context(|| format!("labelling the rows of {table} by column {column}"))?;
            if json {
                output::json(&report)?;
            } else {
                output::print(&label_text(&report))?;
            }
            Ok(Outcome::Success)
        }
        RlsCommand::Check { conninfo, table, json } => {
            let mut db = connect(&conninfo)?;
            let report = rls::check(&mut db, &table).with_context(|| format!("checking {table}"))?;
            if json {
                output::json(&report)?;
            } else {
                output::print(&check_text(&report))?;
            }
            Ok(if report.problems.is_empty() { Outcome::Success } else { Outcome::Found })
        }
    }
}

fn connect(conninfo: &str) -> anyhow::Result<Db> {
    let settings = Db::settings(conninfo)?;
    Db::remote(&settings).with_context(|| format!("connecting as {} to {}", settings.user, settings.dbname))
}

fn label_text(r: &LabelReport) -> String {
    let mut text = format!(
        "Row-level security on {} by the security label in column {} (policy {}{}):\n",
        line(&r.table),
        line(&r.column),
        line(&r.policy),
        if r.replaced { ", replaced" } else { ", new" }
    );
    for s in &r.statements {
        text.push_str(&format!("  {}\n", line(s)));
    }
    text.push_str(&format!(
        "Before this run row-level security was {} and {}. The policy as stored:\n  USING {}\n",
        if r.was_enabled { "enabled" } else { "disabled" },
        if r.was_forced { "forced" } else { "not forced" },
        pgharden_text::block(&r.using).replace('\n', "\n  ")
    ));
    text.push_str(&format!(
        "A row is now visible to (and writable by) members of the role its {} names, the owner included; \
         a label naming no role, or NULL, hides it. Superusers and BYPASSRLS roles still see every row.\n",
        line(&r.column)
    ));
    for p in &r.other_policies {
        if p.permissive {
            text.push_str(&format!(
                "{} policy {} ({} for {}) is permissive: the rows it allows stay visible whatever their label\n",
                output::bad("warning:"),
                line(&p.name),
                line(&p.command),
                line(&p.roles)
            ));
        }
    }
    text.push_str(&format!(
        "Prove it with: {} CONNINFO --table {}\n",
        crate::invocation::command(&["rls", "check"]),
        crate::invocation::quote(&r.table)
    ));
    text
}

fn check_text(r: &CheckReport) -> String {
    let mut text = format!(
        "Row-level security on {}: {}, {}; policy {} on column {} \
         (checked as {}, in a transaction that was rolled back)\n",
        line(&r.table),
        if r.enabled { "enabled" } else { "NOT ENABLED" },
        if r.forced { "forced" } else { "NOT FORCED" },
        line(&r.policy),
        line(&r.column),
        line(&r.checked_as)
    );
    for l in &r.labels {
        text.push_str(&format!("\nLabel {} ({}):\n", line(&l.label), plural(l.rows, "row")));
        if l.members.is_empty() {
            text.push_str("  no role that can log in is a member\n");
        }
        for m in &l.members {
            text.push_str(&format!("current_user: {}", line(&m.role)));
            if m.bypasses_rls {
                text.push_str(&format!(" {}", output::dim("(superuser or BYPASSRLS: sees every row)")));
            }
            text.push('\n');
            match &m.error {
                Some(e) => {
                    text.push_str(&format!("  {} {}\n", output::bad("could not read the table:"), line(e)));
                }
                None => text.push_str(&aligned(&r.columns, &m.rows)),
            }
        }
    }
    if !r.hidden.is_empty() {
        text.push_str("\nVisible to no role (only to superusers and BYPASSRLS roles):\n");
        for h in &r.hidden {
            let what = match &h.label {
                Some(l) => format!("labelled {} (no such role)", line(l)),
                None => "with no label (NULL)".to_string(),
            };
            text.push_str(&format!("  {} {what}\n", plural(h.rows, "row")));
        }
    }
    if r.problems.is_empty() {
        text.push_str(&format!(
            "\n{} every member sees exactly the rows of its labels\n",
            output::good("ok:")
        ));
    } else {
        text.push('\n');
        for p in &r.problems {
            text.push_str(&format!("{} {}\n", output::bad("problem:"), line(p)));
        }
    }
    text
}

fn plural(n: u64, word: &str) -> String {
    if n == 1 { format!("1 {word}") } else { format!("{n} {word}s") }
}

/// Rows as psql's aligned format prints them: centred headers, numbers right-aligned, NULL empty,
/// a `+` where a value continues on the next line, no padding after the last column, `(N rows)`.
fn aligned(columns: &[Column], rows: &[Vec<Option<String>>]) -> String {
    // Each physical line of a value is escaped: the table's data is anyone's who could write a row.
    let cells: Vec<Vec<Vec<String>>> = rows
        .iter()
        .map(|row| {
            (0..columns.len())
                .map(|i| {
                    let value = row.get(i).and_then(|v| v.as_deref()).unwrap_or("");
                    value.split('\n').map(|l| line(l).into_owned()).collect()
                })
                .collect()
        })
        .collect();
    let names: Vec<String> = columns.iter().map(|c| line(&c.name).into_owned()).collect();
    let width = |s: &str| s.chars().count();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, _)| {
            cells
                .iter()
                .flat_map(|row| row[i].iter().map(|l| width(l)))
                .chain([width(&names[i])])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let last = columns.len().saturating_sub(1);
    let mut out = String::new();
    let header: Vec<String> = names
        .iter()
        .zip(&widths)
        .map(|(name, w)| {
            let pad = w - width(name);
            format!(" {}{}{} ", " ".repeat(pad / 2), name, " ".repeat(pad - pad / 2))
        })
        .collect();
    out.push_str(&header.join("|"));
    out.push('\n');
    out.push_str(&widths.iter().map(|w| "-".repeat(w + 2)).collect::<Vec<_>>().join("+"));
    out.push('\n');
    for row in &cells {
        let height = row.iter().map(Vec::len).max().unwrap_or(1);
        for at in 0..height {
            for (i, (column, w)) in columns.iter().zip(&widths).enumerate() {
                let value = row[i].get(at).map(String::as_str).unwrap_or("");
                let continues = at + 1 < row[i].len();
                let pad = " ".repeat(w - width(value));
                if i > 0 {
                    out.push('|');
                }
                out.push(' ');
                if column.numeric {
                    out.push_str(&pad);
                    out.push_str(value);
                } else {
                    out.push_str(value);
                    if i < last || continues {
                        out.push_str(&pad);
                    }
                }
                if continues {
                    out.push('+');
                } else if i < last {
                    out.push(' ');
                }
            }
            out.push('\n');
        }
    }
    out.push_str(&format!("({})\n", plural(rows.len() as u64, "row")));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn col(name: &str, numeric: bool) -> Column {
        Column { name: name.into(), type_name: String::new(), numeric }
    }

    #[test]
    fn the_table_is_aligned_as_psql_aligns_it() {
        let columns = [col("id", true), col("name", false), col("note", false)];
        let rows = vec![
            vec![Some("1".into()), Some("bob".into()), Some("a".into())],
            vec![Some("22".into()), Some("multi\nline".into()), None],
        ];
        assert_eq!(
            aligned(&columns, &rows),
            " id | name  | note \n----+-------+------\n  1 | bob   | a\n 22 | multi+| \n    | line  | \n(2 rows)\n"
        );
    }
}
