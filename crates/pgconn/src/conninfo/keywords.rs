//! libpq's table of connection options (`PQconninfoOptions` in fe-connect.c), as of PostgreSQL 18.
//!
//! Owns: which keywords exist, which environment variable feeds each, and each compiled-in default.
//! Must not: interpret values; that is `settings.rs`'s job.

/// One libpq connection option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Keyword {
    /// The keyword as written in a conninfo string.
    pub name: &'static str,
    /// The `PG*` environment variable that supplies a default, if any.
    pub env: Option<&'static str>,
    /// libpq's compiled-in default, if any.
    pub default: Option<&'static str>,
    /// Whether the value is a secret (never printed).
    pub secret: bool,
}

const fn kw(name: &'static str, env: Option<&'static str>, default: Option<&'static str>) -> Keyword {
    Keyword { name, env, default, secret: false }
}

const fn secret(name: &'static str, env: Option<&'static str>) -> Keyword {
    Keyword { name, env, default: None, secret: true }
}

/// Every keyword libpq 14–18 accepts, in libpq's order (which is also the order
/// [`Conninfo`](super::Conninfo) prints them in). Keywords that only newer libpq versions know are
/// accepted too: pgharden is the client, so the newest client's vocabulary applies.
pub const KEYWORDS: &[Keyword] = &[
    kw("service", Some("PGSERVICE"), None),
    kw("user", Some("PGUSER"), None),
    secret("password", Some("PGPASSWORD")),
    kw("passfile", Some("PGPASSFILE"), None),
    kw("channel_binding", Some("PGCHANNELBINDING"), Some("prefer")),
    kw("connect_timeout", Some("PGCONNECT_TIMEOUT"), None),
    kw("dbname", Some("PGDATABASE"), None),
    kw("host", Some("PGHOST"), None),
    kw("hostaddr", Some("PGHOSTADDR"), None),
    kw("port", Some("PGPORT"), Some("5432")),
    kw("client_encoding", Some("PGCLIENTENCODING"), None),
    kw("options", Some("PGOPTIONS"), None),
    kw("application_name", Some("PGAPPNAME"), None),
    kw("fallback_application_name", None, None),
    kw("keepalives", None, None),
    kw("keepalives_idle", None, None),
    kw("keepalives_interval", None, None),
    kw("keepalives_count", None, None),
    kw("tcp_user_timeout", None, None),
    kw("sslmode", Some("PGSSLMODE"), Some("prefer")),
    kw("sslnegotiation", Some("PGSSLNEGOTIATION"), Some("postgres")),
    kw("sslcompression", Some("PGSSLCOMPRESSION"), Some("0")),
    kw("sslcert", Some("PGSSLCERT"), None),
    kw("sslkey", Some("PGSSLKEY"), None),
    kw("sslcertmode", Some("PGSSLCERTMODE"), Some("allow")),
    secret("sslpassword", None),
    kw("sslkeylogfile", None, None),
    kw("sslrootcert", Some("PGSSLROOTCERT"), None),
    kw("sslcrl", Some("PGSSLCRL"), None),
    kw("sslcrldir", Some("PGSSLCRLDIR"), None),
    kw("sslsni", Some("PGSSLSNI"), Some("1")),
    kw("requirepeer", Some("PGREQUIREPEER"), None),
    kw("require_auth", Some("PGREQUIREAUTH"), None),
    kw("min_protocol_version", Some("PGMINPROTOCOLVERSION"), None),
    kw("max_protocol_version", Some("PGMAXPROTOCOLVERSION"), None),
    kw("ssl_min_protocol_version", Some("PGSSLMINPROTOCOLVERSION"), Some("TLSv1.2")),
    kw("ssl_max_protocol_version", Some("PGSSLMAXPROTOCOLVERSION"), None),
    kw("gssencmode", Some("PGGSSENCMODE"), Some("disable")),
    kw("krbsrvname", Some("PGKRBSRVNAME"), None),
    kw("gsslib", Some("PGGSSLIB"), None),
    kw("gssdelegation", Some("PGGSSDELEGATION"), Some("0")),
    kw("replication", None, None),
    kw("target_session_attrs", Some("PGTARGETSESSIONATTRS"), Some("any")),
    kw("load_balance_hosts", Some("PGLOADBALANCEHOSTS"), Some("disable")),
    secret("scram_client_key", None),
    secret("scram_server_key", None),
    kw("oauth_issuer", None, None),
    kw("oauth_client_id", None, None),
    secret("oauth_client_secret", None),
    kw("oauth_scope", None, None),
];

/// The index of `name` in [`KEYWORDS`].
pub(crate) fn lookup(name: &str) -> Option<usize> {
    KEYWORDS.iter().position(|k| k.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique() {
        for (i, k) in KEYWORDS.iter().enumerate() {
            assert_eq!(lookup(k.name), Some(i), "{} listed twice", k.name);
        }
    }
}
