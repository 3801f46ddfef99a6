//! `pgharden pki …`: thin glue from flags to `pgharden_pki`, and the words and tables it prints.
//!
//! Every value taken from the ledger, a certificate or a path goes through [`output::shown`] before it
//! is laid out: a subject or a hand-edited ledger must not add lines to what a DBA reads.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::{Context, bail};
use comfy_table::{Table, presets};
use indicatif::{ProgressBar, ProgressStyle};
use pgharden_pki::{
    ClientRequest, InitOptions, Issued, Kind, Passphrase, Pki, Purpose, Reason, ServerRequest, Status, Trust,
};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::cli::{PassphraseArgs, PkiCommand};
use crate::output::{self, Outcome, shown};
use crate::passphrase;

pub(crate) fn run(cmd: PkiCommand) -> anyhow::Result<Outcome> {
    match cmd {
        PkiCommand::Init { dir, key_type, org, passphrase, no_passphrase, days, crl_days, force } => {
            let pass = if no_passphrase {
                None
            } else {
                Some(passphrase::choose(passphrase.passphrase_file.as_deref())?)
            };
            let opts = InitOptions {
                key_type: key_type.into(),
                organization: org,
                days,
                crl_days,
                passphrase: pass,
                force,
            };
            init(&dir.dir, &opts)
        }
        PkiCommand::Server { dir, hosts, name, days, valid, key_type, force, passphrase, json } => {
            let mut pki = Pki::open(&dir.dir)?;
            let pass = unlock(&pki, &passphrase)?;
            let req = ServerRequest { hosts, name, days, valid, key_type: key_type.map(Into::into), force };
            let issued = pki.issue_server(&req, pass.as_ref())?;
            report_issued(&pki, &[issued], json)
        }
        PkiCommand::Client { dir, roles, cn, name, days, valid, key_type, force, passphrase, json } => {
            if roles.len() > 1 && (cn.is_some() || name.is_some()) {
                bail!("--cn and --name apply to a single certificate; give one --role with them");
            }
            let mut pki = Pki::open(&dir.dir)?;
            let pass = unlock(&pki, &passphrase)?;
            let base = ClientRequest {
                cn,
                name,
                days,
                valid,
                key_type: key_type.map(Into::into),
                force,
                ..Default::default()
            };
            let issued = issue_clients(&mut pki, &roles, &base, pass.as_ref())?;
            report_issued(&pki, &issued, json)
        }
        PkiCommand::Revoke { dir, serial, cert, reason, passphrase } => {
            let reason = Reason::parse(&reason)?;
            let serial = match (serial, cert) {
                (Some(s), _) => s,
                (None, Some(file)) => pgharden_pki::serial_of_file(&file)?,
                (None, None) => bail!("give --serial HEX or --cert FILE"),
            };
            let mut pki = Pki::open(&dir.dir)?;
            let pass = unlock(&pki, &passphrase)?;
            revoke(&mut pki, &serial, reason, pass.as_ref())
        }
        PkiCommand::Crl { dir, passphrase } => {
            let mut pki = Pki::open(&dir.dir)?;
            let pass = unlock(&pki, &passphrase)?;
            let written = pki.reissue_crls(pass.as_ref())?;
            let days = pki.ledger().crl_days;
            let mut text = format!("Re-issued every CRL, valid for {days} days:\n");
            for path in written {
                text.push_str(&format!("  {}\n", shown(path.display())));
            }
            text.push_str(
                "Deploy crls.pem to the server's ssl_crl_file and to clients' sslcrl, then reload.\n",
            );
            output::print(&text)?;
            Ok(Outcome::Success)
        }
        PkiCommand::List { dir, json } => list(&dir.dir, json),
        PkiCommand::Show { file, json } => {
            let inspection = pgharden_pki::inspect::inspect_file(&file)?;
            if json {
                output::json(&inspection)?;
            } else {
                output::print(&inspection.render_text())?;
            }
            Ok(Outcome::Success)
        }
        PkiCommand::Verify { dir, file, host, client, json } => {
            let trust = Trust::from_pki_dir(&dir.dir)?;
            let purpose = if client { Purpose::Client } else { Purpose::Server };
            let report = pgharden_pki::verify_file(&trust, &file, purpose, host.as_deref())?;
            if json {
                output::json(&report)?;
            } else {
                let mut text = colour_verdict(&report.render_text());
                if let Some(hint) = client_certificate_hint(&trust, &file, &report) {
                    text.push_str(hint);
                }
                output::print(&text)?;
            }
            Ok(if report.ok { Outcome::Success } else { Outcome::Found })
        }
    }
}

/// When a certificate checked as a server's fails only because its extendedKeyUsage names
/// clientAuth, it is a client certificate checked the wrong way: say how to check it as one.
fn client_certificate_hint(
    trust: &Trust,
    file: &Path,
    report: &pgharden_pki::Report,
) -> Option<&'static str> {
    let purpose_failed = |r: &pgharden_pki::Report| r.checks.iter().any(|c| c.name == "purpose" && !c.ok);
    if report.ok || !matches!(report.purpose, Purpose::Server) || !purpose_failed(report) {
        return None;
    }
    let as_client = pgharden_pki::verify_file(trust, file, Purpose::Client, None).ok()?;
    (!purpose_failed(&as_client)).then_some(
        "hint: this is a client certificate (extendedKeyUsage clientAuth); check it as one with --client\n",
    )
}

/// The passphrase, asked for only when the CA keys are encrypted.
fn unlock(pki: &Pki, args: &PassphraseArgs) -> anyhow::Result<Option<Passphrase>> {
    if !pki.needs_passphrase() {
        return Ok(None);
    }
    Ok(Some(passphrase::obtain(args.passphrase_file.as_deref())?))
}

fn init(dir: &Path, opts: &InitOptions) -> anyhow::Result<Outcome> {
    let spinner = spinner(&format!("generating {} CA keys", opts.key_type));
    let pki = Pki::init(dir, opts).with_context(|| format!("creating the PKI in {}", dir.display()))?;
    spinner.finish_and_clear();
    let protection = if opts.passphrase.is_some() { "CA keys encrypted" } else { "CA keys NOT encrypted" };
    let mut text = format!("Created a {} PKI in {} ({protection}):\n", opts.key_type, shown(dir.display()));
    for kind in [Kind::Root, Kind::ServerCa, Kind::ClientCa] {
        if let Some(e) = pki.ledger().ca(kind) {
            text.push_str(&format!(
                "  {:<23} {:<22} valid until {}\n",
                kind.label(),
                shown(e.path.display()),
                date(e.not_after)
            ));
        }
    }
    text.push_str(&format!(
        "  {:<23} {}\nNext: {} --host HOSTNAME\n",
        "CRLs (all three)",
        pgharden_pki::CRL_BUNDLE,
        crate::invocation::command(&["pki", "server", "--dir", &dir.to_string_lossy()])
    ));
    output::print(&text)?;
    Ok(Outcome::Success)
}

fn issue_clients(
    pki: &mut Pki,
    roles: &[String],
    base: &ClientRequest,
    pass: Option<&Passphrase>,
) -> anyhow::Result<Vec<Issued>> {
    let bar = if roles.len() > 1 { progress(roles.len() as u64) } else { ProgressBar::hidden() };
    let reqs: Vec<ClientRequest> =
        roles.iter().map(|role| ClientRequest { role: role.clone(), ..base.clone() }).collect();
    let issued = pki.issue_clients(&reqs, pass, &mut |done| bar.set_position(done as u64))?;
    bar.finish_and_clear();
    Ok(issued)
}

fn report_issued(pki: &Pki, issued: &[Issued], json: bool) -> anyhow::Result<Outcome> {
    if json {
        output::json(&issued)?;
        return Ok(Outcome::Success);
    }
    let mut text = String::new();
    for i in issued {
        let e = &i.entry;
        text.push_str(&format!("Issued {} certificate {}\n", e.kind.label(), shown(&e.subject)));
        if !e.sans.is_empty() {
            let names: Vec<String> = e.sans.iter().map(shown).collect();
            text.push_str(&format!("  names:       {}\n", names.join(", ")));
        }
        if let Some(role) = &e.role {
            text.push_str(&format!("  role:        {}\n", shown(role)));
        }
        text.push_str(&format!("  serial:      {}\n", shown(&e.serial)));
        text.push_str(&format!("  valid until: {}\n", date(e.not_after)));
        text.push_str(&format!("  certificate: {}\n", shown(i.cert_path.display())));
        text.push_str(&format!("  key:         {} (mode 0600)\n", shown(i.key_path.display())));
        if let Some(old) = &i.replaced {
            let old = shown(old);
            let revoke = crate::invocation::command(&[
                "pki",
                "revoke",
                "--dir",
                &pki.dir().to_string_lossy(),
                "--serial",
                &old,
                "--reason",
                "superseded",
            ]);
            text.push_str(&format!("  replaced {old}, which stays valid until revoked: {revoke}\n"));
        }
    }
    output::print(&text)?;
    Ok(Outcome::Success)
}

fn revoke(pki: &mut Pki, serial: &str, reason: Reason, pass: Option<&Passphrase>) -> anyhow::Result<Outcome> {
    let entry = pki.revoke(serial, reason, pass)?;
    let crl = pki.crl_path(entry.kind.issuer());
    output::print(&format!(
        "Revoked {} {} (serial {}, {}).\nRe-issued {} and {}.\n\
         Deploy it to the server's ssl_crl_file and reload (pgharden apply does both).\n",
        entry.kind.label(),
        shown(&entry.subject),
        shown(&entry.serial),
        reason.name(),
        shown(crl.display()),
        shown(pki.dir().join(pgharden_pki::CRL_BUNDLE).display()),
    ))?;
    Ok(Outcome::Success)
}

fn list(dir: &Path, json: bool) -> anyhow::Result<Outcome> {
    let pki = Pki::open(dir)?;
    let listed = pki.list();
    if json {
        output::json(&listed)?;
        return Ok(Outcome::Success);
    }
    let terminal = std::io::stdout().is_terminal();
    let mut table = Table::new();
    table.load_preset(if terminal { presets::UTF8_HORIZONTAL_ONLY } else { presets::NOTHING });
    table.set_header(["KIND", "NAME", "SUBJECT", "SERIAL", "EXPIRES", "STATUS"]);
    for l in &listed {
        let status = match l.status {
            Status::Valid => output::good(l.status.label()),
            Status::Replaced => output::dim(l.status.label()),
            _ => output::bad(l.status.label()),
        };
        // A newline in a cell would make comfy-table draw a second row of text.
        table.add_row([
            l.entry.kind.label().to_string(),
            shown(&l.entry.name),
            shown(&l.entry.subject),
            shown(&l.entry.serial),
            date(l.entry.not_after),
            if terminal { status } else { l.status.label().to_string() },
        ]);
    }
    output::print(&format!("{table}\n"))?;
    Ok(Outcome::Success)
}

/// Colour the marks `Report::render_text` writes, where it writes them (a check's mark opens its
/// line, the verdict is the last line): the same words inside an escaped subject stay plain.
fn colour_verdict(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    for line in text.split_inclusive('\n') {
        let coloured = if let Some(rest) = line.strip_prefix("  [ok  ]") {
            format!("  [{}]{rest}", output::good("ok  "))
        } else if let Some(rest) = line.strip_prefix("  [FAIL]") {
            format!("  [{}]{rest}", output::bad("FAIL"))
        } else if let Some(rest) = line.strip_prefix("ACCEPTED") {
            format!("{}{rest}", output::good("ACCEPTED"))
        } else if let Some(rest) = line.strip_prefix("REJECTED") {
            format!("{}{rest}", output::bad("REJECTED"))
        } else {
            line.to_string()
        };
        out.push_str(&coloured);
    }
    out
}

fn date(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

fn spinner(msg: &str) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_message(msg.to_string());
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

fn progress(len: u64) -> ProgressBar {
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} certificates {eta}") {
        bar.set_style(style);
    }
    bar
}

#[cfg(test)]
mod tests {
    use super::colour_verdict;

    #[test]
    fn only_the_renderers_marks_are_coloured() {
        let text = "f.crt\n  subject: CN=ACCEPTED [ok  ] [FAIL]\n  [ok  ] validity    fine\n  [FAIL] chain       no\nREJECTED: libpq would refuse this server certificate\n";
        let out = colour_verdict(text);
        assert!(out.contains("  subject: CN=ACCEPTED [ok  ] [FAIL]\n"), "values stay plain: {out:?}");
        assert!(out.contains(&format!("  [{}] validity", crate::output::good("ok  "))), "{out:?}");
        assert!(out.contains(&format!("  [{}] chain", crate::output::bad("FAIL"))), "{out:?}");
        assert!(out.ends_with(&format!(
            "{}: libpq would refuse this server certificate\n",
            crate::output::bad("REJECTED")
        )));
        let first_escape = out.find('\u{1b}').unwrap();
        let subject_end = out.find("[FAIL]\n").unwrap();
        assert!(first_escape > subject_end, "nothing coloured on the subject line: {out:?}");
    }
}
