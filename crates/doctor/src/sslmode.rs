//! Step 8: what the sslmode risks — plaintext, a downgrade an attacker can force, or a server
//! that is not authenticated.
//!
//! Owns: libpq's meaning of each sslmode (`allow` tries plaintext first, `prefer` falls back to
//! it, `require` checks the chain only when a root file exists, `verify-ca` skips the host name)
//! joined with what the server would admit in plaintext (step 7). Must not: probe.

use pgharden_pgconn::{Settings, SslMode};

use crate::network::NetFacts;
use crate::{Step, Verdict};

/// `plaintext`: whether the server admits this connection without TLS (`None`: not known; the
/// inner value is the line that admits it).
pub(crate) fn step(
    settings: &Settings,
    net: &NetFacts,
    root_exists: bool,
    plaintext: Option<&Option<String>>,
) -> Step {
    let mut step = Step::new(8, "sslmode", "sslmode and downgrade risk");
    let mode = settings.sslmode;
    step.saw(format!("sslmode={mode}"));
    if let Some(Some(line)) = plaintext {
        step.saw(format!("the server admits this user and database without TLS: {line}"));
    }
    let strict = "sslmode=verify-full sslrootcert=FILE in the connection string".to_string();
    match mode {
        SslMode::Disable => step.judge(
            Verdict::Fail,
            "sslmode=disable never uses TLS: the session, and any password, cross the network in plaintext",
            Some(strict),
        ),
        SslMode::Allow | SslMode::Prefer => {
            let first = if mode == SslMode::Allow {
                "allow tries plaintext first and uses TLS only if the server refuses plaintext"
            } else {
                "prefer falls back to plaintext whenever TLS fails, and an attacker who answers 'N' to the SSLRequest makes it fail"
            };
            let why = match plaintext {
                Some(Some(_)) => format!("downgrade: {first}; and the server admits this connection in plaintext"),
                Some(None) => format!(
                    "downgrade risk: {first}; this server refuses plaintext for this user and database, so a downgrade fails instead of leaking, but a server that changes its pg_hba.conf (or an impostor) gets it"
                ),
                None => format!("downgrade risk: {first}; the server's files (--pgdata) say whether it admits plaintext"),
            };
            step.judge(Verdict::Warn, why, Some(strict));
        }
        SslMode::Require if !root_exists => step.judge(
            Verdict::Warn,
            "encryption only: require does not authenticate the server without a root certificate file, so anyone on the path can pose as it",
            Some(strict),
        ),
        SslMode::Require | SslMode::VerifyCa => step.judge(
            Verdict::Warn,
            format!("{mode} checks the chain (a root file exists) but not the host name: any certificate of that CA passes for this server"),
            Some(strict),
        ),
        SslMode::VerifyFull if net.ssl_accepted == Some(false) => step.judge(
            Verdict::Fail,
            "verify-full refuses a server without TLS (step 3)",
            None,
        ),
        SslMode::VerifyFull => step.judge(
            Verdict::Ok,
            "verify-full: TLS or nothing, the chain and the host name checked",
            None,
        ),
    }
    step
}
