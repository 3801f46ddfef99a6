//! `pgharden`: the command line. Parses arguments, calls the library crates, prints, and turns the
//! outcome into an exit code scripts can rely on. No domain logic lives here.

mod cli;
mod cmd;
mod invocation;
mod output;
mod passphrase;
mod systemd;

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

use crate::cli::{Cli, Command};
use crate::output::Outcome;

fn main() -> ExitCode {
    // When started as the owner-side helper (by this very binary, running as root), serve and
    // exit before anything else runs.
    pgharden_privsep::serve_if_helper();
    let cli = Cli::parse();
    // The audit and the probe give a verdict, which they compute before printing and keep when
    // the reader goes away; any error that still reaches here from them is an error (exit 2),
    // never a pass. Other commands treat a closed pipe as success, as ripgrep does.
    let verdict = matches!(cli.command, Command::Audit(_) | Command::Probe(_) | Command::Doctor(_));
    match run(cli) {
        Ok(Outcome::Success) => ExitCode::from(0),
        Ok(Outcome::Found) => ExitCode::from(1),
        Err(err) if !verdict && output::is_broken_pipe(&err) => ExitCode::from(0),
        Err(err) => {
            output::error(&err);
            ExitCode::from(2)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Command::Pki(cmd) => cmd::pki::run(cmd),
        Command::Client(args) => cmd::client::run(&args),
        Command::Apply(args) => cmd::apply::run(&args),
        Command::Quickstart(args) => cmd::quickstart::run(&args),
        Command::Audit(args) => cmd::audit::run(&args),
        Command::Probe(args) => cmd::probe::run(&args),
        Command::Doctor(args) => cmd::doctor::run(&args),
        Command::Lock(args) => cmd::lock::lock(&args),
        Command::Restore(args) => cmd::lock::restore(&args),
        Command::Rls(cmd) => cmd::rls::run(cmd),
        Command::Hba(cmd) => cmd::hba::run(cmd),
        Command::Renew(args) => cmd::renew::run(&args),
        Command::Deploy(args) => cmd::deploy::run(&args),
        Command::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "pgharden", &mut out);
            output::write_stdout(&out)?;
            Ok(Outcome::Success)
        }
        Command::Man(args) => cmd::man::run(&args),
    }
}
