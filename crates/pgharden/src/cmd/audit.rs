//! `pgharden audit`: gather evidence once, judge every catalogue rule, render, set the exit code.

use std::io::IsTerminal;

use anyhow::{Context, bail};
use indicatif::ProgressBar;
use pgharden_audit::gather::{self, Source};
use pgharden_audit::run::{self, ScopeFilter};
use pgharden_audit::{Report, Severity};

use crate::cli::{AuditArgs, AuditScope, FailOn, Format};
use crate::output::{self, Outcome};

pub fn run(args: &AuditArgs) -> anyhow::Result<Outcome> {
    let source = match (&args.pgdata, &args.conninfo) {
        (Some(dir), _) => Source::PgData(dir.clone()),
        (None, Some(c)) => Source::Conninfo(c.clone()),
        (None, None) => bail!("give --pgdata DIR or a CONNINFO"),
    };
    let benchmark = match &args.benchmark {
        Some(path) => {
            let bytes =
                pgharden_pki::files::read(path).with_context(|| format!("reading {}", path.display()))?;
            Some(String::from_utf8(bytes).with_context(|| format!("{}: not UTF-8", path.display()))?)
        }
        None => None,
    };
    let spinner =
        if std::io::stderr().is_terminal() { ProgressBar::new_spinner() } else { ProgressBar::hidden() };
    spinner.enable_steady_tick(std::time::Duration::from_millis(100));
    spinner.set_message("gathering evidence: settings, roles, files");
    let mut gathered = gather::gather(&source);
    if let Some(why) = &gathered.unreachable {
        spinner.finish_and_clear();
        bail!("the audit reached nothing, so it judges nothing: {why}");
    }
    if !args.no_probe {
        if let Some((host, port)) = &gathered.probe {
            let host = output::shown(host);
            spinner.set_message(format!("probing {host}:{port}: TLS versions, certificates, pg_hba answers"));
        }
        gathered = gather::with_probe(gathered);
    }
    spinner.set_message("judging the rules");
    let scope = match args.scope {
        AuditScope::All => ScopeFilter::All,
        AuditScope::Cluster => ScopeFilter::Cluster,
    };
    let findings = run::evaluate(&gathered.evidence, scope, &Default::default());
    spinner.finish_and_clear();
    let report = Report {
        format: pgharden_audit::model::REPORT_FORMAT,
        tool: "pgharden".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        generated_at: now(),
        target: gathered.target,
        findings,
        problems: gathered.evidence.problems.clone(),
    };
    let text = match args.format {
        Format::Text => {
            let colour = args.output.is_none()
                && std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none();
            pgharden_audit::report::text(&report, colour)
        }
        Format::Json => output::safe_json(pgharden_audit::report::json(&report)),
        Format::Sarif => output::safe_json(pgharden_audit::report::sarif(&report)),
        Format::Ckl => {
            let xml = benchmark.as_deref().context("--format ckl needs --benchmark XCCDF")?;
            pgharden_audit::report::ckl(&report, xml).context("building the checklist")?
        }
    };
    match &args.output {
        // Atomically, and never through a link planted at the name (a report in /tmp, say).
        Some(path) => pgharden_privsep::local::write_named(path, text.as_bytes(), 0o644)
            .map(drop)
            .with_context(|| format!("writing {}", path.display()))?,
        None => output::print(&text)?,
    }
    let threshold = match args.fail_on {
        FailOn::Low => Severity::Low,
        FailOn::Medium => Severity::Medium,
        FailOn::High => Severity::High,
    };
    Ok(if run::fails_at(&report.findings, threshold) { Outcome::Found } else { Outcome::Success })
}

fn now() -> String {
    let t = time::OffsetDateTime::now_utc();
    t.format(&time::format_description::well_known::Rfc3339).unwrap_or_else(|_| t.to_string())
}
