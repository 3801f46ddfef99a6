//! `pgharden apply`: plan, confirm, apply, and prove that a second plan is empty.

use std::io::{IsTerminal, Write};

use anyhow::{Context, bail};
use pgharden_cluster::{Material, Plan, ProfileOptions, Request, Session, Target};
use pgharden_pki::Pki;
use serde::Serialize;

use crate::cli::ApplyArgs;
use crate::output::{self, Outcome};

#[derive(Serialize)]
struct PlanJson<'a> {
    format: u32,
    changes: Vec<pgharden_cluster::plan::Change>,
    plan: &'a Plan,
}

pub fn run(args: &ApplyArgs) -> anyhow::Result<Outcome> {
    let target = match (&args.pgdata, &args.conninfo) {
        (Some(dir), _) => Target::PgData(dir.clone()),
        (None, Some(c)) => Target::Conninfo(c.clone()),
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
    let req = Request {
        tls,
        profile: ProfileOptions {
            allow: args.allow.clone(),
            syslog: args.syslog,
            pgaudit_installed: false,
            statement_timeout: args.statement_timeout,
        },
    };
    let plan = session.plan(pki.as_ref(), &req).context("planning")?;
    if args.plan {
        return show_plan(&plan, args.json);
    }
    if plan.is_empty() {
        if args.json {
            output::json(&PlanJson { format: 1, changes: vec![], plan: &plan })?;
        } else {
            output::print(&plan.render_text())?;
        }
        return Ok(Outcome::Success);
    }
    if !args.json {
        output::print(&plan.render_text())?;
    }
    confirm(args.yes)?;
    let applied = session.apply(&plan).context("applying")?;
    let again = session.plan(pki.as_ref(), &req).context("checking the result")?;
    if args.json {
        output::json(&serde_json::json!({ "format": 1, "applied": applied, "remaining": again.changes() }))?;
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
        if again.is_empty() {
            text.push_str("Checked: a second plan finds nothing left to change.\n");
        } else {
            text.push_str(&format!("Warning: a second plan still finds changes:\n{}", again.render_text()));
        }
        output::print(&text)?;
    }
    Ok(if again.is_empty() { Outcome::Success } else { Outcome::Found })
}

fn show_plan(plan: &Plan, json: bool) -> anyhow::Result<Outcome> {
    if json {
        output::json(&PlanJson { format: 1, changes: plan.changes(), plan })?;
    } else {
        output::print(&plan.render_text())?;
    }
    Ok(Outcome::Success)
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
