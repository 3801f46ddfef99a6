//! `pgharden probe HOST[:PORT]`: the network's facts, no credentials.
//!
//! Owns: the first contact that decides whether there is anything to report (a target nothing
//! answers at is an error, exit 2, not a report of errors), and printing the report so a closed
//! pipe keeps the exit code. Must not: probe or summarise itself (that is
//! `pgharden_audit::network`).

use anyhow::Context;
use pgharden_audit::network::{self, ProbeOptions};

use crate::cli::ProbeArgs;
use crate::output::{self, Outcome};

pub fn run(args: &ProbeArgs) -> anyhow::Result<Outcome> {
    let (host, port) = split_target(&args.target)?;
    first_contact(&host, port).with_context(|| format!("probing {}", args.target))?;
    let opts = ProbeOptions {
        host,
        port,
        user: args.user.clone(),
        dbname: args.dbname.clone(),
        sslrootcert: args.sslrootcert.clone(),
    };
    let report = network::probe(&opts).with_context(|| format!("probing {}", args.target))?;
    let text = if args.json {
        let mut text = output::json_text(&report)?;
        text.push('\n');
        text
    } else {
        report.render_text()
    };
    output::print_keeping_verdict(&text)?;
    Ok(Outcome::Success)
}

/// Resolve the target and send it one SSLRequest. Every later probe starts the same way, so when
/// this fails (nothing listening, no route, no such name, no answer in time, not a PostgreSQL
/// server) the report would hold only errors: that is an error, with the reason.
fn first_contact(host: &str, port: u16) -> anyhow::Result<()> {
    let target = pgharden_wire::Target::lookup(host, port)?;
    pgharden_wire::ssl_request(&target).context("the first contact (an SSLRequest) failed")?;
    Ok(())
}

/// `host`, `host:port`, `[v6]:port` or a bare IPv6 address.
pub fn split_target(target: &str) -> anyhow::Result<(String, u16)> {
    if let Some(rest) = target.strip_prefix('[') {
        let (addr, tail) = rest.split_once(']').context("an IPv6 address in [ ] needs its closing ]")?;
        let port = match tail.strip_prefix(':') {
            Some(p) => p.parse().with_context(|| format!("bad port in {target:?}"))?,
            None => 5432,
        };
        return Ok((addr.to_string(), port));
    }
    match target.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => {
            Ok((host.to_string(), port.parse().with_context(|| format!("bad port in {target:?}"))?))
        }
        _ => Ok((target.to_string(), 5432)),
    }
}
