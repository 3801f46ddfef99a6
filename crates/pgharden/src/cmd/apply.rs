//! `pgharden apply`: plan, confirm, apply, and prove that a second plan is empty — and say, in
//! the text, the JSON and the exit status, what of the profile stays unmet (pgaudit missing). With
//! a server key passphrase, the key is installed encrypted (the plan never shows the passphrase).

use std::io::{IsTerminal, Write};

use anyhow::{Context, bail};
use pgharden_cluster::plan::{Unmet, UnmetKind};
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
    let again = session.plan(pki.as_ref(), &req).context("checking the result")?;
    if args.json {
        output::json(&serde_json::json!({
            "format": 1,
            "applied": applied,
            "remaining": again.changes(),
            "unmet": again.unmet(),
            "debian_conventions": again.debian_conventions,
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
        output::print(&text)?;
    }
    Ok(verdict(again.unmet(), again.is_empty(), args))
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
