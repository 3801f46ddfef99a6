//! Every automated check, made to fail and made to pass on a real, hardened cluster: the rules that
//! use the check must turn FAIL when the cluster is broken that way, and back when it is mended.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;

use pgharden_audit::CheckId;
use pgharden_audit::catalogue::RULES;
use pgharden_testcluster::Cluster;

use crate::support::{TestPki, pgharden};

/// Status of every rule using `check`, from one `pgharden audit --format json` run.
fn statuses(cluster: &Cluster, check: CheckId) -> Vec<(String, String)> {
    let out = pgharden()
        .args(["audit", "--pgdata", cluster.data_dir().to_str().unwrap(), "--format", "json"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    // Host rules also depend on the host's FIPS mode; judge them only for the FIPS check itself.
    let in_scope = |r: &&pgharden_audit::catalogue::Rule| {
        check == CheckId::FipsMode || r.scope == pgharden_audit::Scope::Cluster
    };
    let rules: Vec<&str> =
        RULES.iter().filter(|r| r.checks.contains(&check)).filter(in_scope).map(|r| r.id).collect();
    assert!(!rules.is_empty(), "{check:?} is used by no rule");
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| rules.contains(&f["rule"].as_str().unwrap()))
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_string(),
                format!("{} {}", f["status"].as_str().unwrap(), f["evidence"]),
            )
        })
        .collect()
}

fn assert_fails(cluster: &Cluster, check: CheckId) {
    let s = statuses(cluster, check);
    assert!(
        s.iter().all(|(_, st)| st.starts_with("fail")),
        "{check:?} should fail every rule using it: {s:#?}"
    );
}

fn assert_holds(cluster: &Cluster, check: CheckId) {
    let s = statuses(cluster, check);
    assert!(
        s.iter().all(|(_, st)| !st.starts_with("fail") && !st.starts_with("not-checked")),
        "{check:?} should hold: {s:#?}"
    );
}

fn sql(cluster: &Cluster, statements: &str) {
    cluster.psql_and_reload(statements).unwrap();
}

fn chmod(path: &std::path::Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn each_check_fails_when_broken_and_passes_when_mended() {
    let pki = TestPki::new("p256");
    let cluster = Cluster::start_default().unwrap_or_else(|e| panic!("{e}"));
    crate::support::harden(&cluster, &pki);

    // Settings, broken with ALTER SYSTEM (postgresql.auto.conf wins) and mended with RESET.
    let settings: &[(CheckId, &str, &str)] = &[
        (CheckId::SslOn, "ssl", "off"),
        (CheckId::TlsMinVersion, "ssl_min_protocol_version", "'TLSv1.1'"),
        (CheckId::TlsCiphers, "ssl_ciphers", "'HIGH:MEDIUM:+3DES:!aNULL'"),
        (CheckId::CrlConfigured, "ssl_crl_file", "''"),
        (CheckId::ClientCaConfigured, "ssl_ca_file", "''"),
        (CheckId::PasswordEncryption, "password_encryption", "'md5'"),
        (CheckId::LogConnections, "log_connections", "off"),
        (CheckId::LogDisconnections, "log_disconnections", "off"),
        (CheckId::LogPrefixWho, "log_line_prefix", "'%m '"),
        (CheckId::LogPrefixClient, "log_line_prefix", "'< %m %a %u %d %c %s %r >'"),
        (CheckId::ClientMinMessages, "client_min_messages", "'notice'"),
        (CheckId::SessionTimeouts, "statement_timeout", "0"),
        (CheckId::LogDestination, "log_destination", "'csvlog'"),
        (CheckId::PgauditRoleClass, "pgaudit.log", "'all, -role'"),
        (CheckId::PgauditWriteClasses, "pgaudit.log", "'read'"),
        (CheckId::LogTimezone, "log_timezone", "'America/New_York'"),
        (CheckId::LogLevels, "log_min_messages", "'panic'"),
        (CheckId::LogFileMode, "log_file_mode", "'0644'"),
        (CheckId::PgauditClasses, "pgaudit.log", "'ddl'"),
        (CheckId::PgauditSettings, "pgaudit.log_catalog", "off"),
    ];
    for (check, name, bad) in settings {
        assert_holds(&cluster, *check);
        sql(&cluster, &format!("ALTER SYSTEM SET {name} = {bad}"));
        assert_fails(&cluster, *check);
        sql(&cluster, &format!("ALTER SYSTEM RESET {name}"));
        assert_holds(&cluster, *check);
    }

    // Roles and extensions.
    assert_holds(&cluster, CheckId::SuperuserCount);
    cluster.psql("CREATE ROLE extra_super SUPERUSER").unwrap();
    assert_fails(&cluster, CheckId::SuperuserCount);
    cluster.psql("DROP ROLE extra_super").unwrap();
    assert_holds(&cluster, CheckId::SuperuserCount);

    for (check, break_it, mend) in [
        (CheckId::AdminAttributes, "CREATE ROLE maker CREATEDB", "DROP ROLE maker"),
        (CheckId::ConnectionLimits, "CREATE ROLE many LOGIN", "DROP ROLE many"),
        (
            CheckId::PublicCreate,
            "GRANT CREATE ON SCHEMA public TO PUBLIC",
            "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
        ),
        (
            CheckId::DefinerSearchPath,
            "CREATE FUNCTION public.elevate() RETURNS int LANGUAGE sql SECURITY DEFINER AS 'SELECT 1'",
            "DROP FUNCTION public.elevate()",
        ),
        (CheckId::ApprovedExtensions, "CREATE EXTENSION pg_trgm", "DROP EXTENSION pg_trgm"),
        (
            CheckId::UntrustedLanguages,
            "CREATE LANGUAGE raw HANDLER plpgsql_call_handler",
            "DROP LANGUAGE raw",
        ),
    ] {
        assert_holds(&cluster, check);
        cluster.psql(break_it).unwrap();
        assert_fails(&cluster, check);
        cluster.psql(mend).unwrap();
        assert_holds(&cluster, check);
    }

    assert_holds(&cluster, CheckId::NoMd5Passwords);
    cluster.psql("SET password_encryption = 'md5'; CREATE ROLE old_hash PASSWORD 'secret'").unwrap();
    assert_fails(&cluster, CheckId::NoMd5Passwords);
    cluster.psql("DROP ROLE old_hash").unwrap();
    assert_holds(&cluster, CheckId::NoMd5Passwords);

    assert_holds(&cluster, CheckId::PgcryptoInstalled);
    cluster.psql("DROP EXTENSION pgcrypto").unwrap();
    assert_fails(&cluster, CheckId::PgcryptoInstalled);
    cluster.psql("CREATE EXTENSION pgcrypto").unwrap();
    assert_holds(&cluster, CheckId::PgcryptoInstalled);

    // Files and modes.
    let data = cluster.data_dir().to_path_buf();
    for (check, path, bad, good) in [
        (CheckId::DataDirectoryMode, data.clone(), 0o755, 0o700),
        (CheckId::ConfigFileModes, data.join("postgresql.conf"), 0o646, 0o600),
        (CheckId::ServerCertificate, data.join("server.pem"), 0o644, 0o600),
        (CheckId::TlsFileModes, data.join("root.crt"), 0o666, 0o600),
    ] {
        assert_holds(&cluster, check);
        chmod(&path, bad);
        assert_fails(&cluster, check);
        chmod(&path, good);
        assert_holds(&cluster, check);
    }

    // pg_hba.conf, and what the network then says.
    let hba = data.join("pg_hba.conf");
    let hardened = fs::read_to_string(&hba).unwrap();
    for (checks, line) in [
        (
            vec![CheckId::HbaNoTrust, CheckId::HbaTcpOnlyTls, CheckId::PlaintextRefused],
            "host all all 127.0.0.1/32 trust",
        ),
        (vec![CheckId::HbaNoWeakPassword], "hostssl all all 10.0.0.0/8 md5"),
        (
            vec![CheckId::HbaClientCertificates, CheckId::CertificateRequired],
            "hostssl all all 127.0.0.1/32 scram-sha-256",
        ),
    ] {
        for c in &checks {
            assert_holds(&cluster, *c);
        }
        cluster.write_hba(&format!("local all postgres peer\n{line}\n{hardened}")).unwrap();
        cluster.reload().unwrap();
        for c in &checks {
            assert_fails(&cluster, *c);
        }
        cluster.write_hba(&hardened).unwrap();
        cluster.reload().unwrap();
        for c in &checks {
            assert_holds(&cluster, *c);
        }
    }

    // TLS 1.1 accepted only when both the minimum and OpenSSL's security level allow it.
    assert_holds(&cluster, CheckId::TlsVersionsRefused);
    sql(
        &cluster,
        "ALTER SYSTEM SET ssl_min_protocol_version = 'TLSv1'; ALTER SYSTEM SET ssl_ciphers = 'DEFAULT:@SECLEVEL=0'",
    );
    assert_fails(&cluster, CheckId::TlsVersionsRefused);
    sql(&cluster, "ALTER SYSTEM RESET ssl_min_protocol_version; ALTER SYSTEM RESET ssl_ciphers");
    assert_holds(&cluster, CheckId::TlsVersionsRefused);

    // What the server accepts, from the scan: anonymous suites under ALL, a curve NIST does not
    // approve under ssl_ecdh_curve.
    for check in [CheckId::TlsSuitesAccepted, CheckId::TlsCiphers] {
        assert_holds(&cluster, check);
    }
    sql(&cluster, "ALTER SYSTEM SET ssl_ciphers = 'ALL:@SECLEVEL=0'");
    for check in [CheckId::TlsSuitesAccepted, CheckId::TlsCiphers] {
        assert_fails(&cluster, check);
    }
    sql(&cluster, "ALTER SYSTEM RESET ssl_ciphers");
    assert_holds(&cluster, CheckId::TlsSuitesAccepted);
    assert_holds(&cluster, CheckId::TlsGroupsAccepted);
    sql(&cluster, "ALTER SYSTEM SET ssl_ecdh_curve = 'brainpoolP256r1'");
    assert_fails(&cluster, CheckId::TlsGroupsAccepted);
    sql(&cluster, "ALTER SYSTEM RESET ssl_ecdh_curve");
    assert_holds(&cluster, CheckId::TlsGroupsAccepted);

    // The host's FIPS mode is reported as it is.
    let fips_on =
        fs::read_to_string("/proc/sys/crypto/fips_enabled").map(|t| t.trim() == "1").unwrap_or(false);
    if fips_on {
        assert_holds(&cluster, CheckId::FipsMode);
    } else {
        assert_fails(&cluster, CheckId::FipsMode);
    }
}
