//! `pgharden doctor CONNINFO [--pgdata DIR] [--json]`: a failing connection explained step by step.
//!
//! Owns: finding the server's configuration files (`open_local`: the running server's own, a
//! Debian cluster's in /etc/postgresql) and reading them as the data directory's owner when run as root (so root never
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
            // The server's own file names (a Debian cluster keeps them in /etc/postgresql).
            let opened = pgharden_cluster::open_local(dir, &files)
                .with_context(|| format!("finding the configuration files of {}", dir.display()))?;
            Some((opened.cluster, files))
        }
        None => None,
    };
    let opts = Options {
        conninfo: &args.conninfo,
        env: Env::from_process(),
        server: files.as_ref().map(|(cluster, files)| ServerFiles {
            pgdata: cluster.data_dir.clone(),
            config_file: cluster.config_file.clone(),
            hba_file: cluster.hba_file.clone(),
            source: files,
        }),
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
