//! `pgharden renew --systemd`: a service and a timer that run the same renew unattended.
//!
//! Owns: turning renew's arguments into the two units (`spec` checks them, `unit` renders them)
//! and either printing them for an administrator to copy or writing them into a unit directory
//! (`install`). The CA passphrase reaches the service only as the systemd credential
//! [`crate::passphrase::CREDENTIAL`], never in the unit's text or environment.
//! Must not: run systemctl, or start the renew itself.

mod install;
mod spec;
mod unit;

use std::path::Path;

use crate::cli::RenewArgs;
use crate::output::{self, Outcome, shown};

use unit::{SERVICE, TIMER};

/// The commands that load the units and start the timer, for the administrator to run.
const ENABLE: [&str; 2] = ["systemctl daemon-reload", "systemctl enable --now pgharden-renew.timer"];

pub(crate) fn run(args: &RenewArgs) -> anyhow::Result<Outcome> {
    let spec = spec::from_args(args)?;
    if let Some(warning) = too_slow(args)? {
        output::note(&format!("warning: {warning}"));
    }
    let units = [(SERVICE, unit::service(&spec)?), (TIMER, unit::timer(&spec)?)];
    if args.install {
        let written = install::install(&args.unit_dir, &units)?;
        output::print(&installed_text(&written))?;
    } else {
        output::print(&printed_text(&args.unit_dir, &units))?;
    }
    Ok(Outcome::Success)
}

/// The timer's longest gap (its period plus the randomized delay), for the calendar keywords
/// whose period is fixed.
fn timer_gap(on_calendar: &str) -> Option<time::Duration> {
    let period = match on_calendar.trim() {
        "minutely" => time::Duration::minutes(1),
        "hourly" => time::Duration::hours(1),
        "daily" => time::Duration::days(1),
        "weekly" => time::Duration::weeks(1),
        _ => return None,
    };
    Some(period + unit::RANDOMIZED_DELAY)
}

/// A timer that can sleep through the whole renewal window of a certificate (the last share of
/// its life the threshold leaves) lets it expire: say so, with the calendar that would not.
fn too_slow(args: &RenewArgs) -> anyhow::Result<Option<String>> {
    let Some(gap) = timer_gap(&args.on_calendar) else { return Ok(None) };
    let threshold: pgharden_pki::Threshold = args.threshold.parse()?;
    let ledger = pgharden_pki::Ledger::load(&args.pki)?;
    let shortest = ledger
        .certificates
        .iter()
        .filter(|e| !e.kind.is_ca() && e.replaced_by.is_none() && e.revoked.is_none())
        .map(|e| (e.not_after - threshold.due_at(e.not_before, e.not_after), e))
        .min_by_key(|(window, _)| *window);
    Ok(shortest.filter(|(window, _)| *window <= gap).map(|(window, e)| {
        format!(
            "the {} certificate {} is renewed in the last {} hours of its life, but a timer `{}` can wait {} hours \
             between runs: it could expire first; give --on-calendar hourly (or a longer --valid)",
            e.kind.label(),
            e.name,
            window.whole_hours(),
            args.on_calendar,
            gap.whole_hours()
        )
    }))
}

/// Both units, each after a comment naming where it goes, then how to enable them (as comments,
/// so the whole output can be split into the two files as it is).
fn printed_text(unit_dir: &Path, units: &[(&str, String)]) -> String {
    let mut out = String::new();
    for (name, text) in units {
        out.push_str(&format!("# {}\n", shown(unit_dir.join(name).display())));
        out.push_str(text);
        out.push('\n');
    }
    out.push_str("# Then, to start the timer:\n");
    for command in ENABLE {
        out.push_str(&format!("#   {command}\n"));
    }
    out
}

fn installed_text(written: &[std::path::PathBuf]) -> String {
    let mut out = String::new();
    for path in written {
        out.push_str(&format!("Wrote {} (mode {:04o})\n", shown(path.display()), install::UNIT_MODE));
    }
    out.push_str("To start the timer:\n");
    for command in ENABLE {
        out.push_str(&format!("  {command}\n"));
    }
    out
}

#[cfg(test)]
mod tests;
