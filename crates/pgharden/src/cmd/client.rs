//! `pgharden client`: install a role's certificate for libpq and print how to connect.
//!
//! The role, subject and paths come from the ledger and the user's home: each is escaped with
//! [`output::shown`] before it is printed.

use std::path::PathBuf;

use anyhow::{Context, bail};
use pgharden_pki::{ClientInstall, Kind, Pki, Status};
use pgharden_privsep::{Account, Actor};
use serde::Serialize;

use crate::cli::ClientArgs;
use crate::output::{self, Outcome, shown};

#[derive(Serialize)]
struct Report<'a> {
    #[serde(flatten)]
    installed: &'a pgharden_pki::Installed,
    connection_uri: String,
}

pub(crate) fn run(args: &ClientArgs) -> anyhow::Result<Outcome> {
    let env_home = std::env::var_os("HOME").filter(|h| !h.is_empty()).map(PathBuf::from);
    let home = match (&args.home, &env_home) {
        (Some(h), _) => h.clone(),
        (None, Some(h)) => h.clone(),
        (None, None) => bail!("HOME is not set; give --home DIR"),
    };
    let own_home = match &env_home {
        Some(h) => same_dir(h, &home),
        None => false,
    };
    let pki = Pki::open(&args.pki)?;
    let host = match &args.host {
        Some(h) => h.clone(),
        None => only_server_host(&pki)?,
    };
    // Everything in the home is done as the home's owner (a helper running as that user when root
    // installs for someone): the files are the user's own, and a link there leads nowhere new.
    let owner =
        Account::of_path(&home).with_context(|| format!("reading the owner of {}", home.display()))?;
    let actor = Actor::new(owner).context("acting as the owner of the home directory")?;
    let req = ClientInstall { role: args.role.clone(), home, force: args.force };
    let installed = pgharden_pki::install_client(&pki, &req, &actor)
        .with_context(|| format!("installing the certificate of role {:?}", args.role))?;
    let mut uri = pgharden_pki::connection_uri(&installed, &host, args.port, &args.dbname, own_home);
    if args.direct_tls {
        // PostgreSQL 17+ and libpq 17+: TLS from the first byte, without the SSLRequest round trip
        // (libpq then insists on ALPN "postgresql", which 17+ servers send).
        uri.push_str("&sslnegotiation=direct");
    }
    if args.json {
        output::json(&Report { installed: &installed, connection_uri: uri })?;
        return Ok(Outcome::Success);
    }
    let mut text = format!(
        "Installed the certificate of role {} ({}) in {} (mode 0600, owner uid {}):\n",
        shown(&installed.role),
        shown(&installed.certificate.subject),
        shown(installed.dir.display()),
        installed.owner.0
    );
    for f in &installed.files {
        text.push_str(&format!("  {}\n", shown(f.display())));
    }
    for b in &installed.backups {
        text.push_str(&format!("  kept the previous file as {}\n", shown(b.display())));
    }
    text.push_str(&format!("Connect with:\n  psql '{}'\n", shown(&uri)));
    output::print(&text)?;
    Ok(Outcome::Success)
}

fn same_dir(a: &std::path::Path, b: &std::path::Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

/// The first name of the PKI's only current server certificate, for the default `--host`.
fn only_server_host(pki: &Pki) -> anyhow::Result<String> {
    let servers: Vec<_> = pki
        .list()
        .into_iter()
        .filter(|l| l.entry.kind == Kind::Server && l.status == Status::Valid)
        .collect();
    match servers.as_slice() {
        [one] => one.entry.sans.first().cloned().context("the server certificate has no host names"),
        [] => bail!("the PKI has no valid server certificate; give --host NAME"),
        many => {
            let names: Vec<_> = many.iter().map(|l| l.entry.name.as_str()).collect();
            bail!("the PKI has several server certificates ({}); give --host NAME", names.join(", "))
        }
    }
}
