//! `pgharden quickstart`: the README's first command. Every step of the job on a local throwaway
//! cluster, with a progress line per step, ending in proof and a psql command to try.

use std::io::IsTerminal;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use pgharden_cluster::db::Db;
use pgharden_cluster::demo::Demo;
use pgharden_cluster::{Locator, Material, ProfileOptions, Request, Session, Sql};
use pgharden_pki::{ClientRequest, InitOptions, Pki, ServerRequest};

use crate::cli::QuickstartArgs;
use crate::invocation;
use crate::output::{self, Outcome};

const HOSTS: [&str; 2] = ["localhost", "127.0.0.1"];
const DEMO_ROLE: &str = "alice";
/// The demo role's connection limit: CD16-00-000100 makes an unlimited one (-1) a finding.
const DEMO_CONNECTION_LIMIT: u32 = 10;

/// A numbered step with a spinner on a terminal and a plain line otherwise.
struct Steps {
    total: usize,
    done: usize,
    terminal: bool,
}

impl Steps {
    fn run<T>(&mut self, what: &str, f: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<T> {
        self.done += 1;
        let label = format!("[{}/{}] {what}", self.done, self.total);
        let bar = if self.terminal { ProgressBar::new_spinner() } else { ProgressBar::hidden() };
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg}") {
            bar.set_style(style);
        }
        bar.set_message(label.clone());
        bar.enable_steady_tick(std::time::Duration::from_millis(100));
        let start = Instant::now();
        let result = f();
        bar.finish_and_clear();
        let mark = if result.is_ok() { output::good("ok") } else { output::bad("FAILED") };
        anstream::eprintln!("{label} ... {mark} ({} ms)", start.elapsed().as_millis());
        result
    }
}

pub(crate) fn run(args: &QuickstartArgs) -> anyhow::Result<Outcome> {
    let demo = Demo::at(&args.dir, args.port, args.pgbin.as_deref())?;
    let port = demo.port;
    let mut steps = Steps { total: 8, done: 0, terminal: std::io::stderr().is_terminal() };
    let pki_dir = demo.dir.join("pki");
    let fresh = !demo.exists();
    steps.run(
        &format!("cluster in {} (PostgreSQL from {})", demo.data_dir.display(), demo.bindir.display()),
        || {
            if fresh {
                demo.init()?;
            }
            demo.start().context("starting the demo server")
        },
    )?;
    let pki = steps
        .run("certificates: root CA, server and client intermediates, server and client leaves", || {
            build_pki(&pki_dir, &demo)
        })?;
    let mut session = steps.run("discover the cluster and create the demo role", || {
        let session = Session::open(Locator::PgData(demo.data_dir.clone()), &[])?;
        let mut sql = session.connect("postgres")?;
        // A demo made by an earlier pgharden has the role without a limit: it gets one too.
        sql.execute(&format!(
            "DO $$ BEGIN \
               IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{DEMO_ROLE}') THEN \
                 CREATE ROLE {DEMO_ROLE} LOGIN CONNECTION LIMIT {DEMO_CONNECTION_LIMIT}; \
               ELSIF (SELECT rolconnlimit FROM pg_roles WHERE rolname = '{DEMO_ROLE}') = -1 THEN \
                 ALTER ROLE {DEMO_ROLE} CONNECTION LIMIT {DEMO_CONNECTION_LIMIT}; \
               END IF; \
             END $$"
        ))?;
        Ok(session)
    })?;
    let hosts: Vec<String> = HOSTS.iter().map(|h| h.to_string()).collect();
    let req = Request { tls: Material::for_hosts(&pki, &hosts)?, profile: ProfileOptions::default() };
    let (summary, unmet) =
        steps.run("apply the stig profile (TLS, pg_hba/pg_ident, logging, pgaudit, pgcrypto)", || {
            let plan = session.plan(Some(&pki), &req)?;
            if plan.is_empty() {
                return Ok(("already applied".to_string(), plan.render_unmet()));
            }
            let applied = session.apply(&plan)?;
            let again = session.plan(Some(&pki), &req)?;
            if !again.is_empty() {
                bail!("a second plan still finds changes:\n{}", again.render_text());
            }
            let summary = format!(
                "{} files, {} SQL statements, {}",
                applied.files.len(),
                applied.sql.len(),
                if applied.restarted { "restarted" } else { "reloaded" }
            );
            Ok((summary, again.render_unmet()))
        })?;
    let base = format!(
        "host=localhost port={port} dbname=postgres user={DEMO_ROLE} sslrootcert={} sslcrl={}",
        pki_dir.join("root/ca.crt").display(),
        pki_dir.join("crls.pem").display()
    );
    let client = pki_dir.join("clients").join(DEMO_ROLE);
    let with_cert = format!(
        "{base} sslmode=verify-full sslcert={} sslkey={}",
        client.join("client.crt").display(),
        client.join("client.key").display()
    );
    let tls = steps.run("prove: verify-full with a client certificate connects", || {
        let mut conn = connect(&with_cert)?;
        let rows =
            conn.query("SELECT current_user, version, cipher FROM pg_stat_ssl WHERE pid = pg_backend_pid()")?;
        let col = |i: usize| rows.first().and_then(|r| r.get(i).cloned().flatten()).unwrap_or_default();
        if col(0).is_empty() {
            bail!("pg_stat_ssl has no row for this connection: it is not encrypted");
        }
        Ok(format!("{} over {} ({})", col(0), col(1), col(2)))
    })?;
    let plain = steps.run("prove: plaintext is refused", || refused(&format!("{base} sslmode=disable")))?;
    let certless = steps.run("prove: TLS without a client certificate is refused", || {
        refused(&format!("{base} sslmode=verify-full sslcert=/nonexistent sslkey=/nonexistent"))
    })?;
    let pgaudit = unmet.is_empty();
    let audit = steps.run("audit against the STIG catalogue (cluster scope)", || {
        let source = pgharden_audit::gather::Source::PgData(demo.data_dir.clone());
        let gathered = pgharden_audit::gather::gather(&source);
        if let Some(why) = &gathered.unreachable {
            bail!("the audit reached nothing: {why}");
        }
        let gathered = pgharden_audit::gather::with_probe(gathered);
        let findings = pgharden_audit::run::evaluate(
            &gathered.evidence,
            pgharden_audit::run::ScopeFilter::Cluster,
            &Default::default(),
        );
        audit_summary(&findings, pgaudit, &demo)
    })?;
    let direct = session.cluster.major >= 17 && psql_speaks_direct_tls();
    let uri = format!(
        "postgresql://{DEMO_ROLE}@localhost:{port}/postgres?sslmode=verify-full&sslrootcert={}&sslcert={}&sslkey={}&sslcrl={}{}",
        pki_dir.join("root/ca.crt").display(),
        client.join("client.crt").display(),
        client.join("client.key").display(),
        pki_dir.join("crls.pem").display(),
        if direct { "&sslnegotiation=direct" } else { "" }
    );
    let data = demo.data_dir.to_string_lossy();
    let pki_arg = pki_dir.to_string_lossy();
    let plan = invocation::command(&[
        "apply",
        "--pgdata",
        &data,
        "--pki",
        &pki_arg,
        "--host",
        "localhost",
        "--host",
        "127.0.0.1",
        "--plan",
    ]);
    let audit_cmd = invocation::command(&["audit", "--pgdata", &data, "--scope", "cluster"]);
    let port_arg = port.to_string();
    let client_cmd =
        invocation::command(&["client", "--pki", &pki_arg, "--role", DEMO_ROLE, "--port", &port_arg]);
    let stop = demo.stop_argv().iter().map(|a| invocation::quote(a)).collect::<Vec<_>>().join(" ");
    output::print(&format!(
        "\nThe demo cluster in {} has the STIG mutual-TLS posture ({summary}).\n\
         \x20 {DEMO_ROLE} connected: {tls}\n\
         \x20 plaintext refused: {plain}\n\
         \x20 no certificate refused: {certless}\n\
         \x20 audit: {audit}\n\n\
         Connect with psql:\n  psql {}\n\
         Install {DEMO_ROLE}'s certificate in your ~/.postgresql and get a shorter URI (the demo listens on port {port}):\n  {client_cmd}\n\
         Plan again (nothing to do):\n  {plan}\n\
         Audit again, with manual rules (add --scope all for the host rules too: the FIPS mode rules fail on a host not in FIPS mode):\n  {audit_cmd}\n\
         Stop the server:\n  {stop}\n{}",
        output::shown(demo.dir.display()),
        invocation::quote(&uri),
        if unmet.is_empty() {
            String::new()
        } else {
            format!("\n{unmet}  (--allow-missing-pgaudit accepts this.)\n")
        }
    ))?;
    if !pgaudit && !args.allow_missing_pgaudit {
        return Ok(Outcome::Found);
    }
    Ok(Outcome::Success)
}

/// The audit step's line: every rule passes; or, without pgaudit, only rules that need it fail.
fn audit_summary(findings: &[pgharden_audit::Finding], pgaudit: bool, demo: &Demo) -> anyhow::Result<String> {
    use pgharden_audit::Status;
    let count = |s: Status| findings.iter().filter(|f| f.status == s).count();
    let failed: Vec<&pgharden_audit::Finding> =
        findings.iter().filter(|f| f.status == Status::Fail).collect();
    let for_pgaudit = failed.iter().filter(|f| needs_pgaudit(&f.rule)).count();
    if failed.len() > for_pgaudit || (pgaudit && !failed.is_empty()) {
        bail!(
            "{} rule(s) fail after apply; see them with: {}",
            failed.len(),
            invocation::command(&[
                "audit",
                "--pgdata",
                &demo.data_dir.to_string_lossy(),
                "--scope",
                "cluster"
            ])
        );
    }
    let unmet = if for_pgaudit > 0 {
        format!(", {for_pgaudit} fail because pgaudit is not installed (Appendix B)")
    } else {
        String::new()
    };
    Ok(format!(
        "{} rules: {} pass, {} fail{unmet}, {} not checked, {} for a person to review",
        findings.len(),
        count(Status::Pass),
        failed.len(),
        count(Status::NotChecked),
        count(Status::Manual)
    ))
}

/// Whether the rule `id` judges pgaudit (so its failure is explained by pgaudit's absence).
fn needs_pgaudit(id: &str) -> bool {
    use pgharden_audit::CheckId as C;
    pgharden_audit::catalogue::by_id(id).is_some_and(|rule| {
        rule.checks.iter().any(|c| {
            matches!(
                c,
                C::PgauditLoaded
                    | C::PgauditClasses
                    | C::PgauditWriteClasses
                    | C::PgauditRoleClass
                    | C::PgauditSettings
                    | C::PgauditFiles
            )
        })
    })
}

/// Whether the `psql` on PATH links a libpq that knows `sslnegotiation` (17+), so the printed
/// command may ask for direct TLS: asked of that very psql (an older libpq refuses the option
/// before connecting; a newer one tries a socket that does not exist).
fn psql_speaks_direct_tls() -> bool {
    let out = std::process::Command::new("psql")
        .env_remove("PGSERVICE")
        .env_remove("PGSERVICEFILE")
        .args([
            "-X",
            "-w",
            "-d",
            "host=/nonexistent/pgharden-probe sslnegotiation=direct sslmode=require",
            "-c",
            "",
        ])
        .stdin(std::process::Stdio::null())
        .output();
    match out {
        Ok(out) => {
            let err = String::from_utf8_lossy(&out.stderr);
            !err.contains("sslnegotiation") && !err.is_empty()
        }
        Err(_) => false,
    }
}

/// The demo PKI: unencrypted CA keys (said so), a server certificate for localhost, client
/// certificates for the demo role and for the owner.
fn build_pki(dir: &Path, demo: &Demo) -> anyhow::Result<Pki> {
    let mut pki = if dir.join("ledger.json").exists() {
        Pki::open(dir)?
    } else {
        Pki::init(dir, &InitOptions { organization: "pgharden demo".into(), ..Default::default() })?
    };
    let has = |pki: &Pki, name: &str| {
        pki.list().iter().any(|l| l.entry.name == name && l.status == pgharden_pki::Status::Valid)
    };
    if !has(&pki, HOSTS[0]) {
        pki.issue_server(
            &ServerRequest {
                hosts: HOSTS.iter().map(|h| h.to_string()).collect(),
                force: true,
                ..Default::default()
            },
            None,
        )?;
    }
    for role in [DEMO_ROLE, demo.owner.name.as_str()] {
        if !has(&pki, role) {
            pki.issue_client(
                &ClientRequest { role: role.to_string(), force: true, ..Default::default() },
                None,
            )?;
        }
    }
    Ok(pki)
}

fn connect(conninfo: &str) -> pgharden_cluster::Result<Db> {
    Db::remote(&Db::settings(conninfo)?)
}

/// The server's refusal, which must come with SQLSTATE 28000 (invalid authorization).
fn refused(conninfo: &str) -> anyhow::Result<String> {
    match connect(conninfo) {
        Ok(_) => bail!("the connection was accepted: the posture does not hold"),
        Err(e) if e.sqlstate() == Some("28000") => {
            Ok(e.to_string().lines().next().unwrap_or_default().to_string())
        }
        Err(e) => bail!("refused, but not by pg_hba.conf: {e}"),
    }
}
