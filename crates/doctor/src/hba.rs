//! Step 7: the pg_hba.conf line this connection matches, and the later lines it shadows for it.
//!
//! Owns: describing the connection as the server sees it (TCP from the client address of step 2,
//! TLS or not, a client certificate the server accepts or not) and judging the match — a `host`
//! line that takes the connection before a `hostssl … cert` line, a reject, no line at all, a
//! method that sends no or a weak password — with the exact fix. Also whether a plaintext
//! connection would be admitted, for step 8's downgrade risk. Must not: evaluate rules itself
//! (`pgharden_conf::hba::evaluate_as` does, as the server's check_hba).

use pgharden_conf::hba::{self, ConnType, Connection, Method, Outcome, Rule};
use pgharden_pgconn::{Settings, SslMode};

use crate::client::ClientOutcome;
use crate::network::NetFacts;
use crate::server::Facts;
use crate::{Step, Verdict};

/// Step 7, and for step 8 whether this connection would be admitted in plaintext.
#[derive(Debug)]
pub(crate) struct HbaOutcome {
    pub(crate) step: Step,
    /// `None`: not known (no server files); `Some(None)`: refused; `Some(Some(line))`: the line
    /// that admits it.
    pub(crate) plaintext: Option<Option<String>>,
}

fn rule_words(server: &Facts, rule: &Rule) -> String {
    format!("{} `{}`", rule.at, server.line_text(&rule.at.file, rule.at.line))
}

pub(crate) fn step(
    settings: &Settings,
    net: &NetFacts,
    client: &ClientOutcome,
    server: Option<&Facts>,
) -> HbaOutcome {
    let mut step = Step::new(7, "pg-hba", "the pg_hba.conf line this connection matches");
    let Some(server) = server else {
        step.judge(
            Verdict::Skipped,
            "which line matches needs the server's files",
            Some("run again with --pgdata DIR (the server's data directory)".into()),
        );
        return HbaOutcome { step, plaintext: None };
    };
    let rules = match &server.hba.value {
        Ok((rules, _)) => rules,
        Err(e) => {
            step.judge(Verdict::Skipped, format!("{}: {e}", server.hba.path.display()), None);
            return HbaOutcome { step, plaintext: None };
        }
    };
    let Some(address) = net.local else {
        step.judge(Verdict::Skipped, "the client address is unknown (no TCP connection, step 2)", None);
        return HbaOutcome { step, plaintext: None };
    };
    let ssl = settings.sslmode != SslMode::Disable && net.ssl_accepted == Some(true);
    let cert = client.sent && client.accepted != Some(false);
    let conn = Connection::tcp(&settings.dbname, &settings.user, address);
    let conn = if ssl { conn.with_ssl(cert) } else { conn };
    step.saw(format!(
        "connection: TCP from {address}, user '{}', database '{}', {}, {}",
        settings.user,
        settings.dbname,
        if ssl { "TLS" } else { "no TLS" },
        if cert {
            "with a client certificate the server accepts"
        } else {
            "without a usable client certificate"
        }
    ));
    step.saw(format!("{} ({} rules, PostgreSQL {})", server.hba.path.display(), rules.len(), server.major));
    let plain = Connection::tcp(&settings.dbname, &settings.user, address);
    let plaintext_admitted = match hba::evaluate_as(server.major, rules, &plain) {
        e if matches!(e.outcome, Outcome::Authenticate(_)) => e
            .matched
            .as_ref()
            .and_then(|at| rules.iter().find(|r| &r.at == at))
            .map(|r| rule_words(server, r)),
        _ => None,
    };
    let eval = hba::evaluate_as(server.major, rules, &conn);
    let matched = eval.matched.as_ref().and_then(|at| rules.iter().position(|r| &r.at == at));
    let Some(index) = matched else {
        step.saw(eval.why.clone());
        let (verdict, why) = if eval.is_certain() {
            (
                Verdict::Fail,
                "no line matches: the server refuses with 'no pg_hba.conf entry for host ...'".to_string(),
            )
        } else {
            (Verdict::Warn, format!("undecidable from the files alone: {}", eval.why))
        };
        step.judge(
            verdict,
            why,
            Some(format!(
                "add a line before the others in {}: hostssl {} {} {address}/32 cert, then reload: {}",
                server.hba.path.display(),
                settings.dbname,
                settings.user,
                server.reload_command()
            )),
        );
        return HbaOutcome { step, plaintext: Some(plaintext_admitted) };
    };
    let rule = &rules[index];
    step.saw(format!("matches {}", rule_words(server, rule)));
    let shadowed: Vec<&Rule> = rules[index + 1..]
        .iter()
        .filter(|r| hba::evaluate_as(server.major, std::slice::from_ref(*r), &conn).matched.is_some())
        .collect();
    for r in &shadowed {
        step.saw(format!(
            "shadows {} (it would match too, but the first match decides)",
            rule_words(server, r)
        ));
    }
    let reload = server.reload_command();
    let strong = shadowed.iter().find(|r| r.conn_type == ConnType::HostSsl && r.requires_client_cert());
    if let (Some(strong), ConnType::Host | ConnType::HostNoSsl) = (strong, rule.conn_type) {
        step.judge(
            Verdict::Fail,
            format!(
                "a host line shadowing hostssl: {} takes this connection before {} can demand a certificate; the certificate is never checked, and plaintext is admitted by this line too",
                rule.at, strong.at
            ),
            Some(format!(
                "remove the shadowing line, then reload: sed -i '{}d' '{}' && {reload}",
                rule.at.line,
                rule.at.file.display()
            )),
        );
        return HbaOutcome { step, plaintext: Some(plaintext_admitted) };
    }
    match &eval.outcome {
        Outcome::Reject => step.judge(
            Verdict::Fail,
            format!("{} rejects the connection: the server says 'pg_hba.conf rejects connection'", rule.at),
            None,
        ),
        Outcome::CertificateRequired if client.step.verdict == Verdict::Fail => step.judge(
            Verdict::Fail,
            format!("{} demands a client certificate the server accepts, and the one of step 6 is not", rule.at),
            Some("the fix of step 6".into()),
        ),
        Outcome::CertificateRequired => step.judge(
            Verdict::Fail,
            format!(
                "{} demands a client certificate the server accepts, and this connection has none: the server says 'connection requires a valid client certificate'",
                rule.at
            ),
            Some(format!(
                "sslcert=FILE sslkey=FILE naming a client certificate of the server's CA whose CN is the role (pgharden pki client --dir PKI_DIR --role {})",
                settings.user
            )),
        ),
        Outcome::Authenticate(Method::Trust) => step.judge(
            Verdict::Warn,
            format!("{} admits the connection without any authentication (trust)", rule.at),
            Some(format!("cert (or scram-sha-256) instead of trust on {}, then reload: {reload}", rule.at)),
        ),
        Outcome::Authenticate(m @ (Method::Password | Method::Md5)) => step.judge(
            Verdict::Warn,
            format!("{} authenticates with {}: a weak password exchange", rule.at, m.keyword()),
            Some(format!("scram-sha-256 (or cert) instead of {} on {}, then reload: {reload}", m.keyword(), rule.at)),
        ),
        Outcome::Authenticate(m) => {
            step.judge(Verdict::Ok, format!("{} admits it to {} authentication", rule.at, m.keyword()), None);
        }
        Outcome::ImplicitReject | Outcome::Undecidable => {
            step.judge(Verdict::Warn, eval.why.clone(), None);
        }
    }
    HbaOutcome { step, plaintext: Some(plaintext_admitted) }
}
