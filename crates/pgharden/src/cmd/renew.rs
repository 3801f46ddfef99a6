//! `pgharden renew`: what is due in the PKI, re-issued, deployed with a reload, proven.

use anyhow::bail;

use crate::cli::RenewArgs;
use crate::output::Outcome;

pub fn run(args: &RenewArgs) -> anyhow::Result<Outcome> {
    if args.systemd {
        return crate::systemd::run(args);
    }
    bail!("renew: in progress")
}
