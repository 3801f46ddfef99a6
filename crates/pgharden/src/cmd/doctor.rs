//! `pgharden doctor CONNINFO [--pgdata DIR] [--json]`: a failing connection explained step by step.
//!
//! Owns: reading the server's files as the data directory's owner when run as root (so root never
//! reads through a file the owner controls) or as this process otherwise, printing the report so
//! a closed pipe keeps the verdict, and the exit code: 0 every step ok and connected, 1 a problem
//! found. Must not: diagnose itself (that is `pgharden_doctor`).

use std::time::Duration;

use anyhow::Context;
use pgharden_cluster::Files;
use pgharden_doctor::{Options, ServerFiles};
use pgharden_pgconn::Env;
use pgharden_privsep::Account;

use crate::cli::DoctorArgs;
use crate::output::{self, Outcome};

pub(crate) fn run(args: &DoctorArgs) -> anyhow::Result<Outcome> {
    let files = match &args.pgdata {
        Some(dir) => {
            anyhow::ensure!(dir.is_dir(), "--pgdata {}: not a directory", dir.display());
            let files = if Account::current().is_root() {
                Files::for_data_dir(dir).with_context(|| format!("reading {} as its owner", dir.display()))?
            } else {
                Files::as_self()
            };
            Some((dir.clone(), files))
        }
        None => None,
    };
    let opts = Options {
        conninfo: &args.conninfo,
        env: Env::from_process(),
        server: files.as_ref().map(|(dir, files)| ServerFiles { pgdata: dir.clone(), source: files }),
        timeout: Duration::from_secs(args.timeout),
    };
    let report = pgharden_doctor::diagnose(&opts)?;
    let text = if args.json {
        let mut text = output::json_text(&report)?;
        text.push('\n');
        text
    } else {
        report.render_text()
    };
    output::print_keeping_verdict(&text)?;
    Ok(if report.problem_found() { Outcome::Found } else { Outcome::Success })
}
