//! `pgharden probe HOST[:PORT]`: the network's facts, no credentials.

use anyhow::Context;
use pgharden_audit::network::{self, ProbeOptions};

use crate::cli::ProbeArgs;
use crate::output::{self, Outcome};

pub fn run(args: &ProbeArgs) -> anyhow::Result<Outcome> {
    let (host, port) = split_target(&args.target)?;
    let opts = ProbeOptions {
        host,
        port,
        user: args.user.clone(),
        dbname: args.dbname.clone(),
        sslrootcert: args.sslrootcert.clone(),
    };
    let report = network::probe(&opts).with_context(|| format!("probing {}", args.target))?;
    if args.json {
        output::json(&report)?;
    } else {
        output::print(&report.render_text())?;
    }
    Ok(Outcome::Success)
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
