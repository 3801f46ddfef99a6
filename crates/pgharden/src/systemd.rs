//! `pgharden renew --systemd`: a service and a timer that run renew unattended.

use anyhow::bail;

use crate::cli::RenewArgs;
use crate::output::Outcome;

pub fn run(_args: &RenewArgs) -> anyhow::Result<Outcome> {
    bail!("renew --systemd: in progress")
}
