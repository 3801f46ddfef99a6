//! The final step: a real connection with `pgharden-pgconn`, and its error mapped to the step
//! that explains it.
//!
//! Owns: the attempt (libpq's semantics, the same settings) and the mapping from libpq's one-line
//! error to a step. Must not: retry with other settings.

use pgharden_pgconn::{BlockingClient, Error, Failure, Settings, TlsError};

use crate::{Connection, Step, Verdict};

pub(crate) fn attempt(settings: &Settings, steps: &[Step]) -> Connection {
    match BlockingClient::connect(settings).and_then(|db| {
        db.query_one(
            "SELECT current_user::text, coalesce(s.ssl, false), coalesce(s.version, '') FROM pg_stat_ssl s WHERE s.pid = pg_backend_pid()",
            &[],
        )
    }) {
        Ok(row) => {
            let (user, ssl, version): (String, bool, String) = (row.get(0), row.get(1), row.get(2));
            let result = if ssl {
                format!("connected as {user} over {version} (pg_stat_ssl)")
            } else {
                format!("connected as {user} WITHOUT TLS (pg_stat_ssl.ssl is false)")
            };
            let weak = steps.iter().find(|s| matches!(s.verdict, Verdict::Fail | Verdict::Warn));
            Connection {
                connected: true,
                meaning: match weak {
                    Some(s) => format!("it connects, but weaker than it looks: see step {} ({})", s.number, s.id),
                    None => "it connects, and every step is sound".into(),
                },
                explained_by: weak.map(|s| s.id),
                result,
            }
        }
        Err(e) => {
            let (ids, meaning) = classify(&e);
            let by = ids.iter().find_map(|id| steps.iter().find(|s| s.id == *id && s.verdict == Verdict::Fail));
            let first = steps.iter().find(|s| s.verdict == Verdict::Fail);
            // An error of no known kind is most likely the first problem found; an error of a
            // known kind whose steps all passed is not explained by an unrelated failure.
            let by = if ids.is_empty() { first } else { by };
            let meaning = match (by, first) {
                (Some(s), _) => format!("{meaning}: step {} ({}) names the cause", s.number, s.id),
                (None, Some(f)) => {
                    format!("{meaning}; no step above names this cause (the first problem found is step {}, {})", f.number, f.id)
                }
                (None, None) => format!("{meaning}; no step above explains it"),
            };
            Connection { connected: false, result: e.to_string(), explained_by: by.map(|s| s.id), meaning }
        }
    }
}

/// The steps that can explain an error, most likely first, and what the error means.
fn classify(e: &Error) -> (Vec<&'static str>, String) {
    let chain = ["server-chain", "host-name"];
    match e {
        Error::Tls(t) => match t {
            TlsError::RootCertMissing(_) | TlsError::NoHomeForRootCert | TlsError::ReadRootCert { .. } => {
                (vec!["server-chain"], "libpq has no usable root certificate".into())
            }
            TlsError::ReadCrl { .. } => (vec!["server-chain"], "the CRL file is unusable".into()),
            _ => (vec!["client-cert"], "the client certificate or key is unusable".into()),
        },
        // The server chose a password method and none was given: pgconn's words for libpq's
        // "fe_sendauth: no password supplied".
        Error::Connect(_) if e.to_string().contains("password missing") => (
            vec!["pg-hba"],
            "the server asks for a password (the pg_hba.conf line it matched wants one) and none was given"
                .into(),
        ),
        Error::Connect(c) => match c.last().map(|a| &a.failure) {
            Some(Failure::Certificate { .. }) => {
                let text = e.to_string();
                if text.contains("does not match host name") {
                    (vec!["host-name"], "the server certificate does not name this host".into())
                } else {
                    (chain.to_vec(), "libpq refused the server's certificate".into())
                }
            }
            Some(Failure::Server { sqlstate, .. }) if sqlstate == "28000" => {
                (vec!["pg-hba", "client-cert"], "the server refused the connection in pg_hba.conf".into())
            }
            Some(Failure::Server { .. }) => {
                (vec!["pg-hba", "client-cert"], "the server refused the connection".into())
            }
            Some(Failure::Tls(m)) if m.contains("certificate") || m.contains("alert") => (
                vec!["client-cert", "server-chain", "ssl-request"],
                "the TLS handshake failed over a certificate".into(),
            ),
            Some(Failure::Tls(_)) => (vec!["ssl-request", "sslmode"], "TLS could not be set up".into()),
            Some(Failure::Resolve(_)) => (vec!["resolve"], "the host name does not resolve".into()),
            Some(Failure::Io(_) | Failure::Timeout) => (vec!["tcp"], "no connection to the server".into()),
            _ => (Vec::new(), "the connection failed".into()),
        },
        _ => (Vec::new(), "the connection failed".into()),
    }
}
