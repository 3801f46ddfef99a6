//! Protection levels: how much of the STIG's TLS posture `apply` puts in place, and what a lower
//! level costs in the audit.
//!
//! `mutual` (the default) is the STIG's: every TCP login presents a client certificate
//! (`hostssl … cert clientcert=verify-full map=pgharden`). `verify-server` and `encrypt` write
//! `hostssl … scram-sha-256` instead: the server still presents its certificate, plaintext is still
//! refused (`hostnossl … reject`), passwords are hashed with SCRAM (never md5 or password), and no
//! client certificate is asked for. The two lower levels write the SAME server configuration: a
//! server cannot make a client check its certificate. What differs is what the clients must do
//! (`sslmode=verify-full sslrootcert=…` for verify-server, `sslmode=require` for encrypt, which
//! encrypts but does not authenticate the server), and the plan and apply say so.
//!
//! Owns: the levels, the audit rules a lower level fails (as data, checked against a real audit by
//! the integration tests) and the words the plan uses for them.
//! Must not: read or write anything, or decide what the pg_hba.conf lines are (that is `auth`).

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// How much of the STIG's TLS posture to put in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Level {
    /// The STIG's: TLS, and a client certificate for every TCP login (mapped to its role by
    /// pg_ident.conf's `pgharden` map).
    #[default]
    Mutual,
    /// TLS and a SCRAM password; clients verify the server (`sslmode=verify-full` with the root CA
    /// as `sslrootcert`). No client certificate.
    VerifyServer,
    /// TLS and a SCRAM password; clients only require encryption (`sslmode=require`), so nothing
    /// stops a man in the middle who presents a certificate of his own. No client certificate.
    Encrypt,
}

impl Level {
    /// Every level, highest first.
    pub const ALL: [Self; 3] = [Self::Mutual, Self::VerifyServer, Self::Encrypt];

    /// The name `--level` takes.
    pub fn name(self) -> &'static str {
        match self {
            Self::Mutual => "mutual",
            Self::VerifyServer => "verify-server",
            Self::Encrypt => "encrypt",
        }
    }

    /// Whether TCP logins need a client certificate (and so the `pgharden` pg_ident.conf map).
    pub fn client_certificates(self) -> bool {
        self == Self::Mutual
    }

    /// The `sslmode` the level's clients must use.
    pub fn client_sslmode(self) -> &'static str {
        match self {
            Self::Mutual | Self::VerifyServer => "verify-full",
            Self::Encrypt => "require",
        }
    }

    /// The audit rules this level fails (empty for `mutual`).
    pub fn costs(self) -> &'static [LevelCost] {
        if self.client_certificates() { &[] } else { LOWER_LEVEL_COSTS }
    }

    /// What the level is, for the plan: what the server demands and what clients must do.
    pub fn summary(self) -> LevelSummary {
        LevelSummary {
            level: self,
            server: self.server_words().to_string(),
            clients: self.client_words().to_string(),
            costs: self.costs().to_vec(),
        }
    }

    fn server_words(self) -> &'static str {
        match self {
            Self::Mutual => {
                "hostssl … cert clientcert=verify-full map=pgharden: every TCP login presents a client \
                 certificate the server verifies against its CAs and CRLs; hostnossl … reject"
            }
            Self::VerifyServer | Self::Encrypt => {
                "hostssl … scram-sha-256: TLS and a SCRAM password, no client certificate; hostnossl … \
                 reject, so plaintext is still refused (verify-server and encrypt write the same server \
                 configuration: a server cannot make a client check its certificate)"
            }
        }
    }

    fn client_words(self) -> &'static str {
        match self {
            Self::Mutual => {
                "sslmode=verify-full with sslrootcert, and the role's client certificate and key \
                 (pgharden client --pki DIR --role ROLE installs them)"
            }
            Self::VerifyServer => {
                "sslmode=verify-full sslrootcert=ROOT_CA and the role's password: the client checks the \
                 server's certificate and host name, so a man in the middle is refused"
            }
            Self::Encrypt => {
                "sslmode=require and the role's password: the connection is encrypted but the server is \
                 NOT authenticated (libpq does not check its certificate), so a man in the middle who \
                 presents any certificate sees the SCRAM exchange and the session"
            }
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A `--level` that is not one of the three.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a level: give mutual (the STIG's, the default), verify-server or encrypt")]
pub struct LevelError(pub String);

impl FromStr for Level {
    type Err = LevelError;

    fn from_str(text: &str) -> Result<Self, LevelError> {
        Self::ALL.into_iter().find(|l| l.name() == text).ok_or_else(|| LevelError(text.to_string()))
    }
}

/// One audit rule a lower level fails, with the STIG requirements it stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LevelCost {
    /// The audit's rule id (`pgharden audit` reports it).
    pub rule: &'static str,
    /// The STIG ids of the rule (PGS9, CD12, CD16).
    pub stig: &'static [&'static str],
    /// Why a password login fails it, in words.
    pub why: &'static str,
}

/// The rules `verify-server` and `encrypt` fail: the rules whose checks demand a client
/// certificate on every TCP line (HbaClientCertificates, HbaStrongAuthentication) or try a login
/// without one (CertificateRequired). The integration tests audit a cluster at each level and
/// compare what fails with this list.
pub const LOWER_LEVEL_COSTS: &[LevelCost] = &[
    LevelCost {
        rule: "PGH-AUTH-01",
        stig: &["PGS9-00-000500", "CD12-00-000500", "CD16-00-000200"],
        why: "accounts authenticate through the organization's mechanism (PKI, Kerberos, LDAP), not a \
              password the database keeps",
    },
    LevelCost {
        rule: "PGH-AUTH-06",
        stig: &["PGS9-00-011500", "CD12-00-011500", "CD16-00-003600"],
        why: "organizational users are uniquely identified and authenticated by the organization's \
              mechanism, not a database password",
    },
    LevelCost {
        rule: "PGH-AUTH-08",
        stig: &["PGS9-00-011800", "CD12-00-011800", "CD16-00-004200"],
        why: "PKI-based authentication maps the authenticated identity (the certificate) to the role",
    },
    LevelCost {
        rule: "PGH-TLS-02",
        stig: &["PGS9-00-007000", "CD12-00-007000", "CD16-00-004000"],
        why: "every hostssl line demands a client certificate, validated to a trusted CA and its CRL",
    },
];

/// The level a plan is for, as the plan shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LevelSummary {
    /// The level.
    pub level: Level,
    /// What the server demands, in words.
    pub server: String,
    /// What clients must do, in words.
    pub clients: String,
    /// The audit rules it fails (empty for `mutual`).
    pub costs: Vec<LevelCost>,
}

impl LevelSummary {
    /// The plan's "Protection level" section: for a lower level what it costs and how to have the
    /// STIG's instead; for `mutual` one line.
    pub fn render(&self) -> String {
        if self.costs.is_empty() {
            return format!("\nProtection level: {} (the STIG's): {}.\n", self.level, self.server);
        }
        let mut out = format!(
            "\nProtection level: {} -- LOWER than the STIG's mutual TLS:\n  server: {}\n  clients: {}\n  \
             costs (the audit fails):\n",
            self.level, self.server, self.clients
        );
        for c in &self.costs {
            out.push_str(&format!("    {} ({}): {}\n", c.rule, c.stig.join(", "), c.why));
        }
        out.push_str("  instead: --level mutual (the default): client certificates, and these rules pass\n");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_read_back_from_their_names() {
        for level in Level::ALL {
            assert_eq!(level.name().parse::<Level>(), Ok(level));
        }
        assert_eq!(Level::default(), Level::Mutual);
        let err = "verify-full".parse::<Level>().unwrap_err().to_string();
        assert!(err.contains("verify-server") && err.contains("mutual"), "{err}");
    }

    #[test]
    fn only_lower_levels_cost_rules_and_say_so() {
        assert!(Level::Mutual.costs().is_empty());
        let mutual = Level::Mutual.summary().render();
        assert!(mutual.contains("the STIG's") && !mutual.contains("costs"), "{mutual}");
        for level in [Level::VerifyServer, Level::Encrypt] {
            let text = level.summary().render();
            assert!(text.contains("LOWER") && text.contains("PGH-TLS-02 (PGS9-00-007000"), "{text}");
            assert!(text.contains("--level mutual"), "{text}");
        }
        assert!(Level::Encrypt.summary().clients.contains("NOT authenticated"));
        assert_eq!(Level::VerifyServer.client_sslmode(), "verify-full");
        assert_eq!(Level::Encrypt.client_sslmode(), "require");
    }
}
