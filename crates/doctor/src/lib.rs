//! `pgharden doctor`: a connection that fails, or succeeds weaker than it looks, explained step by
//! step as a DBA would — what each step saw, its verdict, and the fix.
//!
//! The steps, in the order a connection goes through them:
//! 1. `resolve`: the host name and the addresses it resolves to (or `hostaddr`);
//! 2. `tcp`: the TCP connection, and the client address the server sees;
//! 3. `ssl-request`: the server's answer to an SSLRequest (`S` or `N`);
//! 4. `server-chain`: the chain served against `sslrootcert` (absent file, wrong CA, expired,
//!    intermediate not sent, revoked, a CA without a CRL in `sslcrl`);
//! 5. `host-name`: the host name against the certificate's names by libpq's rules (SANs of the
//!    host's type, the CN only when there is none), and why `verify-full` fails where `require`
//!    works;
//! 6. `client-cert`: the client certificate and key (libpq's key file mode rule, clientAuth, and —
//!    with the server's files — issued by a CA of `ssl_ca_file`, revoked per `ssl_crl_file`, a CA
//!    whose CRL is missing);
//! 7. `pg-hba`: with the server's files, the pg_hba.conf line this connection matches and the later
//!    lines it shadows for it (a `host` line before `hostssl … cert`);
//! 8. `sslmode`: what the sslmode risks (plaintext, downgrade, no server authentication);
//!
//! and finally a real connection with `pgharden-pgconn`, its error mapped to the step that explains
//! it ([`Report::connection`]).
//!
//! Owns: the steps, their verdicts and fixes, and the report ([`Report`], text and serde forms).
//! Must not: print, change any file, or send a password anywhere but in the final connection
//! (which is the one the user asked for). Probes are `pgharden-wire`'s, certificate rules
//! `pgharden-pki`'s, pg_hba.conf evaluation `pgharden-conf`'s, conninfo and libpq's client rules
//! `pgharden-pgconn`'s; this crate only puts their facts in order.

#![warn(missing_docs)]

mod client;
mod connect;
mod hba;
mod network;
mod render;
mod server;
mod server_cert;
mod sslmode;

use std::path::PathBuf;
use std::time::Duration;

use pgharden_pgconn::{Conninfo, Env, HostName, Settings};
use serde::Serialize;

pub use server::ServerFiles;

/// The version of the `--json` form.
pub const FORMAT: u32 = 1;

/// A step's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Nothing wrong here.
    Ok,
    /// Works, but weaker than it looks (or would fail under a stricter sslmode).
    Warn,
    /// This step makes the connection fail, or leaves it unprotected.
    Fail,
    /// Not checked: nothing to check, or the facts are missing (the reason says which).
    Skipped,
}

impl Verdict {
    /// The word printed for it.
    pub fn word(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Warn => "warn",
            Self::Fail => "FAIL",
            Self::Skipped => "skipped",
        }
    }
}

/// One step: what it saw, the verdict, why, and the fix.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// 1 to 8, in the order of the connection.
    pub number: u8,
    /// A stable name: `resolve`, `tcp`, `ssl-request`, `server-chain`, `host-name`,
    /// `client-cert`, `pg-hba`, `sslmode`.
    pub id: &'static str,
    /// What the step looks at, in words.
    pub title: &'static str,
    /// The facts it saw, one per line.
    pub saw: Vec<String>,
    /// Its verdict.
    pub verdict: Verdict,
    /// Why, in a sentence or two.
    pub why: String,
    /// The fix: a command that runs as printed, or an exact setting; `None` when nothing is to fix.
    pub fix: Option<String>,
}

impl Step {
    fn new(number: u8, id: &'static str, title: &'static str) -> Self {
        Self { number, id, title, saw: Vec::new(), verdict: Verdict::Skipped, why: String::new(), fix: None }
    }

    fn saw(&mut self, fact: impl Into<String>) -> &mut Self {
        self.saw.push(fact.into());
        self
    }

    fn judge(&mut self, verdict: Verdict, why: impl Into<String>, fix: Option<String>) {
        self.verdict = verdict;
        self.why = why.into();
        self.fix = fix;
    }
}

/// The final, real connection attempt.
#[derive(Debug, Clone, Serialize)]
pub struct Connection {
    /// Whether it connected.
    pub connected: bool,
    /// For a connection: `SELECT current_user, ssl, version` from `pg_stat_ssl`; for a failure,
    /// the error in libpq's words.
    pub result: String,
    /// The step that explains the failure (or the weakness), when one does.
    pub explained_by: Option<&'static str>,
    /// What the error means, in words.
    pub meaning: String,
}

/// Everything doctor found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The `--json` format version, [`FORMAT`].
    pub format: u32,
    /// The connection examined, as libpq resolved it (passwords shown as `***`).
    pub conninfo: String,
    /// The data directory whose files were read, when given.
    pub pgdata: Option<PathBuf>,
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// The real connection attempt.
    pub connection: Connection,
}

impl Report {
    /// Whether a problem was found: a step failed or warned, or the connection failed (exit 1).
    pub fn problem_found(&self) -> bool {
        !self.connection.connected
            || self.steps.iter().any(|s| matches!(s.verdict, Verdict::Fail | Verdict::Warn))
    }

    /// The step with this id.
    pub fn step(&self, id: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.id == id)
    }

    /// The report in words (server-sent and file-sourced text escaped).
    pub fn render_text(&self) -> String {
        render::text(self)
    }
}

/// Why doctor could not run at all (exit 2).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The connection string or the environment is unusable.
    #[error("the connection string: {0}")]
    Conninfo(#[from] pgharden_pgconn::Error),
    /// The connection names only Unix sockets, where TLS does not apply.
    #[error(
        "{0} is a Unix socket: TLS, certificates and host lines do not apply there; give host=NAME (a TCP host) to examine a network connection"
    )]
    UnixSocket(String),
}

/// What to examine.
#[derive(Debug)]
pub struct Options<'a> {
    /// The connection string (keyword/value or URI), as psql takes it.
    pub conninfo: &'a str,
    /// The environment libpq would read (`PG*`, `HOME`).
    pub env: Env,
    /// The server's files, for the steps that need them (`ssl_ca_file`, `ssl_crl_file`,
    /// pg_hba.conf); `None` skips those parts.
    pub server: Option<ServerFiles<'a>>,
    /// The deadline of each probe.
    pub timeout: Duration,
}

/// Run every step, then the real connection.
pub fn diagnose(opts: &Options<'_>) -> Result<Report, Error> {
    let settings = Conninfo::parse(opts.conninfo)?.resolve(&opts.env)?;
    let Some(host) = settings.hosts.first() else {
        return Err(Error::UnixSocket("the connection".into()));
    };
    if matches!(host.name, HostName::Unix(_)) && host.hostaddr.is_none() {
        return Err(Error::UnixSocket(host.host_str()));
    }
    let server = opts.server.as_ref().map(server::Facts::load);
    let mut steps = Vec::new();
    let net = network::steps(&settings, opts.timeout, &mut steps);
    let default_root = opts.env.home().map(|h| h.join(".postgresql").join("root.crt"));
    let chain = server_cert::steps(&settings, &net, server.as_ref(), default_root.as_deref(), &mut steps);
    let client = client::step(&settings, server.as_ref());
    let hba = hba::step(&settings, &net, &client, server.as_ref());
    steps.push(client.step);
    steps.push(hba.step);
    steps.push(sslmode::step(&settings, &net, chain.root_file_exists, hba.plaintext.as_ref()));
    let connection = connect::attempt(&settings, &steps);
    Ok(Report {
        format: FORMAT,
        conninfo: settings.to_string(),
        pgdata: opts.server.as_ref().map(|s| s.pgdata.clone()),
        steps,
        connection,
    })
}

/// The first host's name as the user gave it (for messages and the host-name check).
fn host_name(settings: &Settings) -> String {
    settings.hosts.first().map(pgharden_pgconn::Host::host_str).unwrap_or_default()
}
