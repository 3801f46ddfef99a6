//! The automated checks pgharden knows, by name. The catalogue maps STIG rules to these; the
//! `checks` module implements each as a small function over the gathered evidence.
//!
//! Owns: the list and a one-line statement of what each check verifies. Must not: implement them.

use serde::{Deserialize, Serialize};

macro_rules! check_ids {
    ($($name:ident => $what:literal,)*) => {
        /// An automated check.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum CheckId { $($name,)* }

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
    TlsCiphers => "ssl_ciphers excludes NULL, export, RC4, 3DES and MD5 suites",
    ServerCertificate => "the server certificate chain is valid, unexpired and its key file has a safe mode and owner",
    CrlConfigured => "ssl_crl_file (or ssl_crl_dir) is set, and every CRL in it is current",
    ClientCaConfigured => "ssl_ca_file is set, so client certificates are verified",
    HbaNoTrust => "no pg_hba.conf line uses trust",
    HbaNoWeakPassword => "no pg_hba.conf line uses password or md5",
    HbaTcpOnlyTls => "every TCP pg_hba.conf line is hostssl, or a hostnossl reject",
    HbaClientCertificates => "every hostssl line that accepts connections demands a client certificate (cert, or clientcert=verify-full)",
    PlaintextRefused => "over the network, a plaintext startup is refused by pg_hba.conf",
    CertificateRequired => "over the network, TLS without a client certificate is refused",
    TlsVersionsRefused => "over the network, TLS 1.0 and 1.1 handshakes are refused",
    PasswordEncryption => "password_encryption = scram-sha-256",
    NoMd5Passwords => "no role has an MD5 password hash (pg_authid)",
    LogConnections => "log_connections = on",
    LogDisconnections => "log_disconnections = on",
    LogLinePrefix => "log_line_prefix records time, user, database, application, session and client (%m %u %d %a %c %r or equivalents)",
    LogDestination => "logs go to the logging collector's files or to syslog",
    LogFileMode => "log_file_mode is 0600 (or stricter) and the log directory is not readable by others",
    LogTimezone => "log_timezone is UTC",
    LogLevels => "log_min_messages, log_min_error_statement and client_min_messages are at the STIG levels",
    PgauditLoaded => "pgaudit is in shared_preload_libraries and installed",
    PgauditClasses => "pgaudit.log covers ddl, role, read and write",
    PgauditSettings => "pgaudit.log_catalog, log_parameter and log_level are as Appendix B",
    PgcryptoInstalled => "the pgcrypto extension is installed",
    DataDirectoryMode => "PGDATA is 0700 (or 0750) and owned by the cluster owner",
    ConfigFileModes => "postgresql.conf, pg_hba.conf and pg_ident.conf are owned by the cluster owner and not writable by others",
    SuperuserCount => "only the bootstrap superuser (and an explicit short list) has SUPERUSER",
    FipsMode => "the host runs in FIPS mode (/proc/sys/crypto/fips_enabled = 1)",
}
