//! `pgharden deploy`: a certificate from another CA, installed with a reload and proven.

use anyhow::{Context, bail};
use pgharden_cluster::{Locator, Material, Session};
use pgharden_text::line;

use crate::cli::DeployArgs;
use crate::output::{self, Outcome};

pub(crate) fn run(args: &DeployArgs) -> anyhow::Result<Outcome> {
    let target = match (&args.pgdata, &args.conninfo) {
        (Some(dir), _) => Locator::PgData(dir.clone()),
        (None, Some(c)) => Locator::Conninfo(c.clone()),
        (None, None) => bail!("give --pgdata DIR or a CONNINFO"),
    };
    let material = Material::from_files(
        &args.cert,
        &args.key,
        args.ca.as_deref(),
        &args.crls,
        &args.hosts,
        time::OffsetDateTime::now_utc(),
    )?;
    let mut session = Session::open(target, &args.write_dirs).context("opening the cluster")?;
    let (plan, result) = pgharden_renew::deploy(&mut session, &material, args.plan, None, &[])?;
    if args.json {
        output::json(&serde_json::json!({
            "format": 1,
            "plan": args.plan,
            "changes": plan.changes(),
            "result": result,
        }))?;
        return Ok(Outcome::Success);
    }
    let mut text = if plan.is_empty() {
        format!(
            "Nothing to change: {} already holds this certificate and key.\n",
            line(&session.cluster.data_dir.display().to_string())
        )
    } else {
        plan.render_text()
    };
    if let Some(r) = &result {
        text.push_str(&format!(
            "Deployed: {} written{}; the server serves certificate {} (postmaster pid {}).\n",
            if r.changed.is_empty() { "nothing".to_string() } else { r.changed.join(", ") },
            if r.reloaded { ", server reloaded" } else { "" },
            r.served_serial.as_deref().unwrap_or("? (no TCP listener to check)"),
            r.postmaster_pid.map_or("?".into(), |p| p.to_string())
        ));
    }
    output::print(&text)?;
    Ok(Outcome::Success)
}
