//! `pgharden probe HOST[:PORT]... [--targets FILE]`: the network's facts, no credentials.
//!
//! Owns: reading the targets (arguments and a targets file, whose errors name the file and line),
//! checking `--sslrootcert`/`--sslcrl` before any target is probed, printing the reports and the
//! summary so a closed pipe keeps the exit code, and the exit code: 0 when every target answered;
//! an error (exit 2) when none did, or — after every report and the summary are printed — when
//! some of several did not. Must not: probe or summarise itself (that is
//! `pgharden_audit::network`).

use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use pgharden_audit::network::{self, ProbeOptions, ProbeResult};

use crate::cli::ProbeArgs;
use crate::output::{self, Outcome};

pub(crate) fn run(args: &ProbeArgs) -> anyhow::Result<Outcome> {
    let targets = targets(args)?;
    check_files(args)?;
    let options: Vec<ProbeOptions> = targets
        .into_iter()
        .map(|(host, port)| ProbeOptions {
            user: args.user.clone(),
            dbname: args.dbname.clone(),
            sslrootcert: args.sslrootcert.clone(),
            sslcrl: args.sslcrl.clone(),
            timeout: Duration::from_secs(args.timeout),
            ..ProbeOptions::new(host, port)
        })
        .collect();
    let run = network::probe_many(&options, usize::from(args.jobs));
    if run.summary.answered == 0 {
        let reasons: Vec<String> = run
            .results
            .iter()
            .filter_map(|r| match r {
                ProbeResult::Failed { target, error } => Some(format!("probing {target}: {error}")),
                ProbeResult::Answered(_) => None,
            })
            .collect();
        bail!("{}", reasons.join("; "));
    }
    let text = if args.json {
        let mut text = output::json_text(&run)?;
        text.push('\n');
        text
    } else {
        run.render_text()
    };
    output::print_keeping_verdict(&text)?;
    if !run.summary.failed.is_empty() {
        bail!(
            "{} of {} targets did not answer: {}",
            run.summary.failed.len(),
            run.summary.targets,
            run.summary.failed.join(", ")
        );
    }
    Ok(Outcome::Success)
}

/// The targets of the command line, then those of `--targets`, in that order.
fn targets(args: &ProbeArgs) -> anyhow::Result<Vec<(String, u16)>> {
    let mut out = Vec::new();
    for t in &args.target {
        out.push(split_target(t).with_context(|| format!("bad target {t:?}"))?);
    }
    if let Some(file) = &args.targets {
        out.extend(read_targets(file)?);
    }
    if out.is_empty() {
        bail!("no target: give HOST[:PORT] or a --targets file with at least one");
    }
    Ok(out)
}

/// One target per line; `#` starts a comment; blank lines are ignored.
fn read_targets(file: &Path) -> anyhow::Result<Vec<(String, u16)>> {
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let mut out = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let entry = raw.split_once('#').map_or(raw, |(before, _)| before).trim();
        if entry.is_empty() {
            continue;
        }
        let parsed = if entry.contains(char::is_whitespace) {
            Err(anyhow::anyhow!("one target per line"))
        } else {
            split_target(entry)
        };
        let target = parsed.with_context(|| {
            format!("{}:{}: bad target \"{}\"", file.display(), n + 1, pgharden_text::line(entry))
        })?;
        out.push(target);
    }
    Ok(out)
}

/// A root or CRL file that cannot be used is an error before anything is probed, not one per target.
fn check_files(args: &ProbeArgs) -> anyhow::Result<()> {
    let mut trust = pgharden_pki::Trust::default();
    if let Some(root) = &args.sslrootcert {
        trust.add_certs(root, true).context("--sslrootcert")?;
    }
    if let Some(crl) = &args.sslcrl {
        trust.add_crls(crl).context("--sslcrl")?;
    }
    Ok(())
}

/// `host`, `host:port`, `[v6]:port` or a bare IPv6 address.
pub(crate) fn split_target(target: &str) -> anyhow::Result<(String, u16)> {
    if target.is_empty() {
        bail!("an empty target");
    }
    if let Some(rest) = target.strip_prefix('[') {
        let (addr, tail) = rest.split_once(']').context("an IPv6 address in [ ] needs its closing ]")?;
        let port = match tail.strip_prefix(':') {
            Some(p) => p.parse().with_context(|| format!("bad port in {target:?}"))?,
            None if tail.is_empty() => 5432,
            None => bail!("unexpected {tail:?} after ]"),
        };
        return Ok((addr.to_string(), port));
    }
    match target.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => {
            if host.is_empty() {
                bail!("no host before the port");
            }
            Ok((host.to_string(), port.parse().with_context(|| format!("bad port in {target:?}"))?))
        }
        _ => Ok((target.to_string(), 5432)),
    }
}
