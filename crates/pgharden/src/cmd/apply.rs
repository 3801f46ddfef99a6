//! `pgharden apply`: plan, confirm, apply, and prove that a second plan is empty — and say, in
//! the text, the JSON and the exit status, what of the profile stays unmet (pgaudit missing), and,
//! once applied, how clients connect at the chosen protection level. With a server key passphrase,
//! the key is installed encrypted (the plan never shows the passphrase).

use std::io::{IsTerminal, Write};

use anyhow::{Context, bail};
use pgharden_cluster::plan::{Level, Unmet, UnmetKind};
use pgharden_cluster::{Locator, Material, Plan, ProfileOptions, Request, Session};
use pgharden_pki::Pki;
use serde::Serialize;

use crate::cli::ApplyArgs;
use crate::output::{self, Outcome};

#[derive(Serialize)]
struct PlanJson<'a> {
    format: u32,
    changes: Vec<pgharden_cluster::plan::Change>,
    /// What of the profile is not met however the plan is applied (also in `plan.unmet`).
    unmet: &'a [Unmet],
    plan: &'a Plan,
}

pub(crate) fn run(args: &ApplyArgs) -> anyhow::Result<Outcome> {
    let target = match (&args.pgdata, &args.conninfo) {
        (Some(dir), _) => Locator::PgData(dir.clone()),
        (None, Some(c)) => Locator::Conninfo(c.clone()),
        (None, None) => bail!("give --pgdata DIR or a CONNINFO"),
    };
    let mut session = Session::open(target, &args.write_dirs).context("opening the cluster")?;
    let pki = args.pki.as_deref().map(Pki::open).transpose()?;
    let tls = match (&pki, &args.cert, &args.key) {
        (Some(pki), _, _) => Material::for_hosts(pki, &args.hosts)?,
        (None, Some(cert), Some(key)) => Material::from_files(
            cert,
            key,
            args.ca.as_deref(),
            &args.crls,
            &args.hosts,
            time::OffsetDateTime::now_utc(),
        )?,
        _ => bail!("give --pki DIR, or --cert FILE --key FILE --ca FILE from another CA"),
    };
    let tls = match crate::passphrase::server_key(args.server_key_passphrase_file.as_deref())? {
        Some(pass) => tls.with_key_passphrase(pass),
        None => tls,
    };
    let req = Request {
        tls,
        profile: ProfileOptions {
            allow: args.allow.clone(),
            syslog: args.syslog,
            pgaudit_installed: false,
            statement_timeout: args.statement_timeout,
            debian_conventions: !args.no_debian_conventions,
            log_file: None,
            level: args.level,
        },
    };
    let plan = session.plan(pki.as_ref(), &req).context("planning")?;
    if args.plan || plan.is_empty() {
        show_plan(&plan, args.json)?;
        return Ok(verdict(plan.unmet(), true, args));
    }
    if !args.json {
        output::print(&plan.render_text())?;
    }
    confirm(args.yes)?;
    let applied = session.apply(&plan).context("applying")?;
    let port = session.cluster.postmaster.as_ref().map(|p| p.port);
    let again = session.plan(pki.as_ref(), &req).context("checking the result")?;
    if args.json {
        output::json(&serde_json::json!({
            "format": 1,
            "applied": applied,
            "remaining": again.changes(),
            "unmet": again.unmet(),
            "debian_conventions": again.debian_conventions,
            "level": again.level,
            "clients": client_connection(args, port),
        }))?;
    } else {
        let mut text = format!("\nApplied: {} file(s) written", applied.files.len());
        text.push_str(match (applied.restarted, applied.reloaded) {
            (true, _) => ", server restarted",
            (false, true) => ", server reloaded",
            _ => "",
        });
        text.push_str(&format!(", {} SQL statement(s) run.\n", applied.sql.len()));
        for b in &applied.backups {
            text.push_str(&format!(
                "  previous version kept: {}\n",
                pgharden_text::line(&b.display().to_string())
            ));
        }
        for w in &applied.warnings {
            text.push_str(&format!("Warning: {}\n", pgharden_text::line(w)));
        }
        match (again.is_empty(), again.unmet().is_empty()) {
            (true, true) => text.push_str("Checked: a second plan finds nothing left to change.\n"),
            (true, false) => text.push_str(&format!(
                "Checked: a second plan finds nothing left that apply can change, but the stig profile is \
                 NOT complete:\n{}",
                again.render_unmet()
            )),
            (false, _) => text
                .push_str(&format!("Warning: a second plan still finds changes:\n{}", again.render_text())),
        }
        text.push_str(&client_words(args, port));
        output::print(&text)?;
    }
    Ok(verdict(again.unmet(), again.is_empty(), args))
}

/// How a client connects at the applied level: the libpq connection string (without `user=`, which
/// the reader adds) and what it proves. At `mutual` the client certificate comes from `pgharden
/// client`; `None` for the connection string when the root CA of the server certificate is not
/// known (a certificate from another CA: pgharden was given its chain, not its root).
#[derive(Serialize)]
struct ClientConnection {
    level: Level,
    sslmode: &'static str,
    conninfo: Option<String>,
    /// What the client must add or do, in words.
    needs: String,
}

fn client_connection(args: &ApplyArgs, port: Option<u16>) -> ClientConnection {
    let host = args.hosts.first().map(String::as_str).unwrap_or("localhost");
    let root = args.pki.as_ref().map(|dir| dir.join("root").join("ca.crt").display().to_string());
    let mut base = format!("host={}", conninfo_value(host));
    if let Some(port) = port {
        base.push_str(&format!(" port={port}"));
    }
    base.push_str(" dbname=postgres");
    let level = args.level;
    let sslmode = level.client_sslmode();
    let (conninfo, needs) = match level {
        Level::Mutual => (
            None,
            match &args.pki {
                Some(dir) => format!(
                    "a client certificate: {} installs ROLE's in ~/.postgresql and prints its connection \
                     string (sslmode=verify-full)",
                    crate::invocation::command(&[
                        "client",
                        "--pki",
                        &dir.to_string_lossy(),
                        "--role",
                        "ROLE",
                        "--host",
                        host,
                        "--port",
                        &port.unwrap_or(5432).to_string(),
                    ])
                ),
                None => "a client certificate from the CA in --ca, as sslcert and sslkey, with \
                         sslmode=verify-full and sslrootcert set to the root CA of the server certificate"
                    .to_string(),
            },
        ),
        Level::VerifyServer => (
            root.as_ref().map(|r| format!("{base} sslmode=verify-full sslrootcert={}", conninfo_value(r))),
            format!(
                "user=ROLE and the role's password (a SCRAM one: set it with ALTER ROLE … PASSWORD or psql's \
                 \\password; a password stored as MD5 before no longer logs in){}",
                if root.is_some() {
                    ""
                } else {
                    "; sslmode=verify-full, and sslrootcert set to the root CA of the server certificate"
                }
            ),
        ),
        Level::Encrypt => (
            Some(format!("{base} sslmode=require")),
            "user=ROLE and the role's SCRAM password. sslmode=require encrypts but does NOT authenticate the \
             server: use verify-full with sslrootcert (--level verify-server's strings) wherever a man in \
             the middle is possible"
                .to_string(),
        ),
    };
    ClientConnection { level, sslmode, conninfo, needs }
}

/// The "Clients connect with" paragraph printed after apply.
fn client_words(args: &ApplyArgs, port: Option<u16>) -> String {
    let client = client_connection(args, port);
    let mut out = format!("\nClients connect (level {}) with sslmode={}", client.level, client.sslmode);
    match &client.conninfo {
        Some(conninfo) => out.push_str(&format!(
            ":\n  psql {}\n  adding {}\n",
            crate::invocation::quote(conninfo),
            pgharden_text::line(&client.needs)
        )),
        None => out.push_str(&format!(" and {}\n", pgharden_text::line(&client.needs))),
    }
    out
}

/// A value for a libpq connection string: as it is when it has no space, quote or backslash, else
/// in single quotes with `'` and `\` escaped.
fn conninfo_value(value: &str) -> String {
    if !value.is_empty() && !value.contains([' ', '\'', '\\', '\t', '\n']) {
        return value.to_string();
    }
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The exit status: success only when a second plan is empty (`settled`) and nothing is unmet —
/// or what is unmet is pgaudit and the operator accepted that with --allow-missing-pgaudit. Either
/// way, a note on standard error says which it is.
fn verdict(unmet: &[Unmet], settled: bool, args: &ApplyArgs) -> Outcome {
    let accepted = |u: &Unmet| u.kind == UnmetKind::Pgaudit && args.allow_missing_pgaudit;
    let refused: Vec<&str> = unmet.iter().filter(|u| !accepted(u)).map(|u| u.what.as_str()).collect();
    if !refused.is_empty() {
        output::note(&format!(
            "exit status 1: NOT MET: {}; install what is missing and run apply again, or accept it with \
             --allow-missing-pgaudit",
            refused.join("; ")
        ));
        return Outcome::Found;
    }
    if !unmet.is_empty() {
        output::note("--allow-missing-pgaudit: exit status 0 although STIG Appendix B (pgaudit) is NOT met");
    }
    let costs = args.level.costs();
    if !costs.is_empty() {
        output::note(&format!(
            "--level {}: the audit fails {} (client certificates are the STIG's; --level mutual meets them)",
            args.level,
            costs.iter().map(|c| c.rule).collect::<Vec<_>>().join(", ")
        ));
    }
    if settled { Outcome::Success } else { Outcome::Found }
}

fn show_plan(plan: &Plan, json: bool) -> anyhow::Result<()> {
    if json {
        output::json(&PlanJson { format: 1, changes: plan.changes(), unmet: plan.unmet(), plan })?;
    } else {
        output::print(&plan.render_text())?;
    }
    Ok(())
}

/// Ask on a terminal; without one, insist on --yes (a script must say it means it).
fn confirm(yes: bool) -> anyhow::Result<()> {
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        bail!("refusing to change the cluster without --yes (no terminal to ask); review with --plan first");
    }
    eprint!("Apply these changes? [y/N] ");
    std::io::stderr().flush()?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    if matches!(answer.trim(), "y" | "Y" | "yes") { Ok(()) } else { bail!("nothing changed (not confirmed)") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_level_costs_name_the_catalogues_rules_and_stig_ids() {
        for cost in pgharden_cluster::plan::level::LOWER_LEVEL_COSTS {
            let rule = pgharden_audit::catalogue::by_id(cost.rule)
                .unwrap_or_else(|| panic!("{} is not in the catalogue", cost.rule));
            assert_eq!(rule.stig_ids().collect::<Vec<_>>(), cost.stig, "{}", cost.rule);
        }
    }

    #[test]
    fn conninfo_values_are_quoted_as_libpq_reads_them() {
        assert_eq!(conninfo_value("/etc/pki/root/ca.crt"), "/etc/pki/root/ca.crt");
        assert_eq!(conninfo_value("/my pki/ca.crt"), "'/my pki/ca.crt'");
        assert_eq!(conninfo_value("it's\\"), "'it\\'s\\\\'");
        assert_eq!(conninfo_value(""), "''");
    }
}
