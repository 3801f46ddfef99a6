//! The automated checks pgharden knows, by name. The catalogue maps STIG rules to these; the
//! `checks` module implements each as a small function over the gathered evidence.
//!
//! Owns: the list and a one-line statement of what each check verifies. Must not: implement them.

use serde::{Deserialize, Serialize};

macro_rules! check_ids {
    ($($name:ident => $what:literal,)*) => {
        /// An automated check.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum CheckId {
            // Each variant's doc is the sentence `what` returns, so the two cannot drift apart.
            $(#[doc = concat!("Passes when ", $what, ".")] $name,)*
        }

        impl CheckId {
            /// Every check.
            pub const ALL: &'static [CheckId] = &[$(CheckId::$name,)*];

            /// What the check verifies, in a sentence.
            pub fn what(self) -> &'static str {
                match self { $(CheckId::$name => $what,)* }
            }
        }
    };
}

check_ids! {
    SslOn => "ssl = on",
    TlsMinVersion => "ssl_min_protocol_version is TLSv1.2 or later",
    TlsCiphers => "ssl_ciphers excludes NULL, export, RC4, 3DES and MD5 suites, and static RSA key exchange",
    ServerCertificate => "every certificate in ssl_cert_file is valid now and for the warning window, with an approved key size and signature, and the key file has a safe mode and owner",
    ServedCertificate => "over the network, the server serves the certificate in ssl_cert_file (it did not keep an old one after refusing a reload)",
    ServerKeyUnlock => "the server key is either unencrypted (then its mode and owner alone protect it, and the evidence says so) or encrypted with an ssl_passphrase_command that does not hold the passphrase itself and ssl_passphrase_command_supports_reload on, so every start and reload can unlock it",
    TlsFileModes => "ssl_cert_file, ssl_key_file, ssl_ca_file, the CRLs and the directories holding them belong to the cluster owner or root and no other account can write them",
    CrlConfigured => "ssl_crl_file or ssl_crl_dir is set, readable, and every CRL in it is current for the warning window",
    ClientCaConfigured => "ssl_ca_file is set, so client certificates are verified",
    HbaNoTrust => "no pg_hba.conf line uses trust",
    HbaNoWeakPassword => "no pg_hba.conf line uses password or md5",
    HbaTcpOnlyTls => "every TCP pg_hba.conf line is hostssl or hostgssenc, or a reject",
    HbaClientCertificates => "every hostssl line that accepts connections demands a client certificate (cert, or clientcert=verify-full)",
    HbaStrongAuthentication => "every TCP line that accepts connections uses a client certificate or the organization's authentication (gss, sspi, ldap)",
    IdentMappings => "no pg_ident.conf map lets a certificate become another role than its name says (a regex to a fixed role, a name to a superuser) unless approved",
    HbaFileAccepted => "the server accepts pg_hba.conf and what it includes as they are on disk (pg_hba_file_rules shows no error), so the lines judged are the ones in force and a restart succeeds",
    IdentFileAccepted => "the server accepts pg_ident.conf and what it includes as they are on disk (pg_ident_file_mappings shows no error), so the maps judged are the ones in force and survive a restart",
    PlaintextRefused => "over the network, a plaintext startup is refused by pg_hba.conf",
    CertificateRequired => "over the network, TLS without a client certificate is refused",
    TlsVersionsRefused => "over the network, TLS 1.0 and 1.1 handshakes are refused",
    TlsSuitesAccepted => "over the network, every cipher suite the server accepts has forward secrecy and no anonymous, NULL, EXPORT, RC4, DES, 3DES, unapproved cipher, MD5 or SHA-1 MAC",
    TlsGroupsAccepted => "over the network, every key-exchange group the server accepts is NIST-approved and DHE primes have at least 2048 bits",
    PasswordEncryption => "password_encryption = scram-sha-256, in every session",
    NoMd5Passwords => "no role has an MD5 password hash (pg_authid)",
    LogConnections => "log_connections logs every connection (on)",
    LogDisconnections => "log_disconnections = on",
    LogConnectionsOrDisconnections => "log_connections or log_disconnections is on",
    LogPrefixTime => "log_line_prefix has %m (time with milliseconds)",
    LogPrefixWho => "log_line_prefix has %m %u %d (when, who, which database)",
    LogPrefixSession => "log_line_prefix has %m %u %d %c (and the session id)",
    LogPrefixStatement => "log_line_prefix has %m %u %d %s (and the session start)",
    LogPrefixClient => "log_line_prefix has %m %u %d %p %r %a (process, client and application)",
    LogDestination => "log_destination includes stderr or syslog",
    LogFileMode => "log_file_mode is 0600 (or stricter), the log directory is closed to others, and every log file on disk belongs to the cluster owner with no more than that mode",
    LogTimezone => "log_timezone is UTC (any of its names)",
    LogLevels => "log_min_messages and log_min_error_statement log errors with their statements, in every session",
    ClientMinMessages => "client_min_messages = error, in every session",
    PgauditLoaded => "pgaudit is in shared_preload_libraries and installed",
    PgauditClasses => "pgaudit.log covers ddl, role, read and write, in every session",
    PgauditWriteClasses => "pgaudit.log covers ddl, write and role, in every session",
    PgauditRoleClass => "pgaudit.log covers role, in every session",
    PgauditSettings => "pgaudit.log_catalog is on, and log_level is log whenever log_client is on",
    PgauditFiles => "pgaudit's installed files and their directories belong to root and no other account can write them",
    InstallationFiles => "the installation's bin, lib, include and share directories and its programs belong to root and no other account can write them",
    PgcryptoInstalled => "the pgcrypto extension is installed",
    DataDirectoryMode => "PGDATA is 0700, owned by the cluster owner, and nothing in it is owned by another account or open to others",
    ConfigFileModes => "postgresql.conf, every included file, postgresql.auto.conf, pg_hba.conf and pg_ident.conf are 0600 (or stricter), owned by the cluster owner, in directories no other account can write",
    SuperuserCount => "only the bootstrap superuser and approved roles have SUPERUSER",
    AdminAttributes => "no role but superusers and approved administrators has CREATEROLE, CREATEDB or BYPASSRLS",
    ConnectionLimits => "every login role that is not a superuser has a connection limit",
    SessionTimeouts => "statement_timeout and tcp_keepalives_idle, _interval and _count are not zero, in every session",
    PublicCreate => "PUBLIC may not CREATE in any schema or database",
    UntrustedLanguages => "no untrusted procedural language is installed unless approved",
    DefinerSearchPath => "every SECURITY DEFINER function outside the system schemas fixes its search_path",
    ApprovedExtensions => "every installed extension is one the profile installs (plpgsql, pgaudit, pgcrypto) or approved",
    FipsMode => "the host runs in FIPS mode (/proc/sys/crypto/fips_enabled = 1)",
}
