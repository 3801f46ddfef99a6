//! `pgharden renew`: what is due in the PKI, re-issued, deployed with a reload, proven.

use anyhow::Context;
use pgharden_cluster::{Locator, Session};
use pgharden_pki::Threshold;
use pgharden_renew::{Action, Options, Report};
use pgharden_text::line;

use crate::cli::RenewArgs;
use crate::output::{self, Outcome};
use crate::passphrase;

pub(crate) fn run(args: &RenewArgs) -> anyhow::Result<Outcome> {
    if args.systemd {
        return crate::systemd::run(args);
    }
    let threshold: Threshold = args.threshold.parse()?;
    // Every cluster is opened (and so checked) before anything is re-issued.
    let mut sessions = Vec::new();
    for target in targets(args) {
        let what = match &target {
            Locator::PgData(d) => d.display().to_string(),
            Locator::Conninfo(_) => "the CONNINFO cluster".to_string(),
        };
        sessions.push(Session::open(target, &args.write_dirs).with_context(|| format!("opening {what}"))?);
    }
    let opts = Options { threshold, plan: args.plan };
    let mut ask = || {
        passphrase::obtain(args.passphrase.passphrase_file.as_deref())
            .map_err(|e| pgharden_renew::Error::Passphrase(format!("{e:#}")))
    };
    let mut report = pgharden_renew::renew(&args.pki, &mut sessions, &opts, &mut ask)?;
    // The install commands name this binary as the user can run it.
    for d in &mut report.redistribute {
        d.command = crate::invocation::command(&d.args);
    }
    if args.json {
        output::json(&report)?;
    } else {
        output::print(&render(&report))?;
    }
    if !report.errors.is_empty() {
        anyhow::bail!("{} cluster(s) could not be brought up to date (see above)", report.errors.len());
    }
    Ok(Outcome::Success)
}

fn targets(args: &RenewArgs) -> Vec<Locator> {
    let mut out: Vec<Locator> = args.pgdata.iter().cloned().map(Locator::PgData).collect();
    out.extend(args.conninfo.iter().cloned().map(Locator::Conninfo));
    out
}

/// The report in words.
fn render(r: &Report) -> String {
    let mut out = String::new();
    let when = |t: Option<time::OffsetDateTime>| {
        t.and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
            .unwrap_or_else(|| "nothing scheduled".into())
    };
    if r.actions.is_empty() {
        out.push_str(&format!("Nothing is due (threshold {}).\n", r.threshold));
    } else {
        out.push_str(if r.plan { "Due (nothing changed: --plan):\n" } else { "Done:\n" });
        for a in &r.actions {
            out.push_str(&format!("  {}\n", describe(a)));
        }
    }
    for c in &r.clusters {
        let served = c.served_serial.as_deref().unwrap_or("(no TCP listener)");
        let pid = c.postmaster_pid.map_or("?".to_string(), |p| p.to_string());
        out.push_str(&format!(
            "Cluster {}: serves certificate {served}, postmaster pid {pid}{}{}\n",
            line(&c.data_dir.display().to_string()),
            if c.reloaded { ", reloaded" } else { "" },
            match c.client_certificate_accepted {
                Some(true) => ", a client certificate is accepted",
                Some(false) => ", a client certificate is REFUSED",
                None => "",
            }
        ));
    }
    if !r.redistribute.is_empty() {
        out.push_str("Re-issued client certificates; each must be installed where it is used:\n");
        for d in &r.redistribute {
            out.push_str(&format!("  {}:  {}\n", line(&d.role), line(&d.command)));
        }
    }
    for n in &r.notes {
        out.push_str(&format!("Note: {}\n", line(n)));
    }
    for w in &r.warnings {
        out.push_str(&format!("Warning: {}\n", line(w)));
    }
    for e in &r.errors {
        out.push_str(&format!("Error: {}\n", line(e)));
    }
    out.push_str(&format!("Next due: {}\n", when(r.next_due)));
    out
}

fn describe(a: &Action) -> String {
    match a {
        Action::Crl { reason, .. } => format!("CRL: {}", line(reason)),
        Action::Certificate { reason, new_serial, .. } => match new_serial {
            Some(s) => format!("certificate: {} -> new serial {s}", line(reason)),
            None => format!("certificate: {}", line(reason)),
        },
        Action::Deploy { cluster, files, settings, .. } => {
            let names: Vec<String> = files
                .iter()
                .filter_map(|f| f.file_name().map(|n| line(&n.to_string_lossy()).into_owned()))
                .collect();
            let mut s = format!("deploy to {}: {}", line(&cluster.display().to_string()), names.join(", "));
            if !settings.is_empty() {
                s.push_str(&format!(" (and {})", line(&settings.join(", "))));
            }
            s
        }
        Action::Reload { cluster, reason } => {
            format!("reload {}: {}", line(&cluster.display().to_string()), line(reason))
        }
    }
}
