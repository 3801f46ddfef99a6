//! `pgharden doctor` against one real PostgreSQL 15 cluster hardened by `pgharden apply`: for each
//! failure the TLS guides describe, psql fails with libpq's one line, doctor names the cause in
//! the right step, and doctor's fix makes psql connect.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use pgharden_testcluster::Cluster;
use serde_json::Value;

use crate::support::{Psql, TestPki, harden, pgharden, psql};

const PROBE: &str = "SELECT current_user, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()";

struct Doctor {
    code: Option<i32>,
    json: Value,
    text: String,
}

impl Doctor {
    fn step(&self, id: &str) -> &Value {
        self.json["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == id)
            .unwrap_or_else(|| panic!("no step {id}: {:#}", self.json))
    }

    /// The step's verdict, why and fix, after asserting the verdict.
    fn expect(&self, id: &str, verdict: &str, words: &str) -> String {
        let step = self.step(id);
        assert_eq!(step["verdict"], verdict, "step {id}:\n{}", self.text);
        let why = step["why"].as_str().unwrap();
        assert!(why.contains(words), "step {id} should say {words:?}: {why}\n{}", self.text);
        assert_eq!(self.code, Some(1), "a problem found is exit 1:\n{}", self.text);
        step["fix"].as_str().unwrap_or_else(|| panic!("step {id} has no fix:\n{}", self.text)).to_string()
    }
}

/// `doctor CONNINFO --pgdata DIR`, text and `--json`, with HOME an empty directory as for psql.
fn doctor(cluster: &Cluster, home: &Path, conninfo: &str) -> Doctor {
    let run = |json: bool| {
        let mut cmd = pgharden();
        cmd.args(["doctor", conninfo, "--pgdata", cluster.data_dir().to_str().unwrap(), "--timeout", "10"]);
        if json {
            cmd.arg("--json");
        }
        for (k, _) in std::env::vars() {
            if k.starts_with("PG") {
                cmd.env_remove(k);
            }
        }
        cmd.env("HOME", home).output().unwrap()
    };
    let out = run(false);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let jout = run(true);
    let json: Value = serde_json::from_slice(&jout.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&jout.stderr)));
    assert_eq!(out.status.code(), jout.status.code(), "text and --json agree:\n{text}");
    eprintln!("=== {conninfo}\n{text}");
    Doctor { code: out.status.code(), json, text }
}

/// psql until it connects (a reload someone else sent is in effect), or its last failure.
fn psql_eventually(cluster: &Cluster, conninfo: &str) -> Psql {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let p = psql(cluster, conninfo, PROBE);
        if p.ok || Instant::now() > deadline {
            return p;
        }
        std::thread::yield_now();
    }
}

/// Run a fix doctor printed, exactly as printed.
fn run_fix(fix: &str) {
    let command = fix.rsplit_once(": ").map_or(fix, |(_, c)| c);
    let out = Command::new("sh").args(["-c", command]).output().unwrap();
    assert!(out.status.success(), "{command}: {}", String::from_utf8_lossy(&out.stderr));
}

struct Conn<'a> {
    pki: &'a TestPki,
    port: u16,
}

impl Conn<'_> {
    /// bob over verify-full with everything right, and `extra` appended (later keywords win).
    fn bob(&self, extra: &str) -> String {
        format!(
            "host=localhost port={} dbname=postgres user=bob sslmode=verify-full sslrootcert={} sslcrl={} sslcert={} sslkey={} {extra}",
            self.port,
            self.pki.p("root/ca.crt"),
            self.pki.p("crls.pem"),
            self.pki.p("clients/bob/client.crt"),
            self.pki.p("clients/bob/client.key"),
        )
    }
}

fn reharden(cluster: &Cluster, pki: &TestPki) {
    harden(cluster, pki);
}

#[test]
fn doctor_names_what_psql_hides_and_its_fix_makes_psql_connect() {
    let pki = TestPki::new("p384");
    let cluster = Cluster::start_default().unwrap_or_else(|e| panic!("{e}"));
    cluster.psql("CREATE ROLE bob LOGIN; CREATE ROLE carol LOGIN").unwrap();
    harden(&cluster, &pki);
    let home = tempfile::tempdir().unwrap();
    let c = Conn { pki: &pki, port: cluster.port() };
    let data = cluster.data_dir().to_path_buf();

    // The sound connection: every step ok, exit 0.
    let good = c.bob("");
    assert!(psql(&cluster, &good, PROBE).ok);
    let d = doctor(&cluster, home.path(), &good);
    assert_eq!(d.code, Some(0), "{}", d.text);
    assert_eq!(d.json["connection"]["connected"], true, "{}", d.text);
    assert!(d.text.contains("7. the pg_hba.conf line this connection matches [ok]"), "{}", d.text);

    // Host not in the SANs: verify-full fails, require would connect.
    let bad = c.bob("host=db.example.com hostaddr=127.0.0.1");
    let p = psql(&cluster, &bad, PROBE);
    assert!(!p.ok && p.stderr.contains("does not match host name"), "{}", p.stderr);
    let d = doctor(&cluster, home.path(), &bad);
    let fix = d.expect("host-name", "fail", "host not in the SANs");
    assert!(
        d.step("host-name")["why"].as_str().unwrap().contains("require and verify-ca do not"),
        "{}",
        d.text
    );
    assert!(fix.contains("host=localhost"), "{fix}");
    assert_eq!(d.json["connection"]["explained_by"], "host-name", "{}", d.text);
    assert!(psql(&cluster, &c.bob("host=localhost"), PROBE).ok, "the fix: host=localhost");

    // No sslrootcert: libpq looks for ~/.postgresql/root.crt, which does not exist.
    let bad = c.bob("").replace(&format!("sslrootcert={}", pki.p("root/ca.crt")), "");
    let p = psql(&cluster, &bad, PROBE);
    assert!(!p.ok && p.stderr.contains("root certificate file"), "{}", p.stderr);
    let d = doctor(&cluster, home.path(), &bad);
    let fix = d.expect("server-chain", "fail", "does not exist");
    let server_root = data.join("root.crt");
    assert!(fix.contains(&format!("sslrootcert={}", server_root.display())), "{fix}");
    assert!(psql(&cluster, &format!("{bad} sslrootcert={}", server_root.display()), PROBE).ok);

    // The wrong CA: another PKI's root. psql says "certificate verify failed", as for a missing
    // intermediate.
    let other = TestPki::bare("p384");
    let bad = c.bob(&format!("sslrootcert={}", other.p("root/ca.crt")));
    let p = psql(&cluster, &bad, PROBE);
    assert!(!p.ok && p.stderr.contains("certificate verify failed"), "{}", p.stderr);
    let d = doctor(&cluster, home.path(), &bad);
    let fix = d.expect("server-chain", "fail", "wrong CA");
    assert!(fix.contains(&format!("sslrootcert={}", server_root.display())), "{fix}");
    assert_eq!(d.json["connection"]["explained_by"], "server-chain");
    assert!(psql(&cluster, &c.bob(&format!("sslrootcert={}", server_root.display())), PROBE).ok);

    // A CA without a CRL on the client's side: sslcrl lacks the server intermediate's CRL.
    let bad = c.bob(&format!("sslcrl={}", pki.p("root/crl.pem")));
    let p = psql(&cluster, &bad, PROBE);
    assert!(!p.ok && p.stderr.contains("certificate verify failed"), "{}", p.stderr);
    let d = doctor(&cluster, home.path(), &bad);
    let fix = d.expect("server-chain", "fail", "a CA without a CRL");
    assert!(d.step("server-chain")["why"].as_str().unwrap().contains("Server Intermediate CA"), "{}", d.text);
    assert!(fix.contains("crls.pem"), "{fix}");
    assert!(psql(&cluster, &c.bob(&format!("sslcrl={}", pki.p("crls.pem"))), PROBE).ok);

    // require connects where verify-full fails (no root file: encryption only, no name check);
    // doctor says why that is weaker than it looks.
    let weak = c
        .bob("host=db.example.com hostaddr=127.0.0.1 sslmode=require")
        .replace(&format!("sslrootcert={}", pki.p("root/ca.crt")), "")
        .replace(&format!("sslcrl={}", pki.p("crls.pem")), "");
    let p = psql(&cluster, &weak, PROBE);
    assert!(p.ok && p.stdout == "bob|t", "{}", p.stderr);
    let d = doctor(&cluster, home.path(), &weak);
    d.expect("host-name", "warn", "verify-full would refuse it");
    d.expect("sslmode", "warn", "encryption only");
    assert_eq!(d.json["connection"]["connected"], true, "{}", d.text);

    // Key file mode: a key readable by everyone (root-owned: 0640 is the most libpq allows).
    let key = home.path().join("bob.key");
    fs::copy(pki.path("clients/bob/client.key"), &key).unwrap();
    set_mode(&key, 0o644);
    let bad = c.bob(&format!("sslkey={}", key.display()));
    let p = psql(&cluster, &bad, PROBE);
    assert!(!p.ok && p.stderr.contains("group or world access"), "{}", p.stderr);
    let d = doctor(&cluster, home.path(), &bad);
    let fix = d.expect("client-cert", "fail", "key file mode");
    run_fix(&fix);
    assert!(psql(&cluster, &bad, PROBE).ok, "after `{fix}`");

    // A host line shadowing hostssl … cert: psql only says a password is missing.
    let hba = data.join("pg_hba.conf");
    let before = fs::read_to_string(&hba).unwrap();
    cluster.write_hba(&format!("host all all 127.0.0.1/32 scram-sha-256\n{before}")).unwrap();
    cluster.reload().unwrap();
    let p = psql(&cluster, &good, PROBE);
    assert!(!p.ok && p.stderr.contains("password"), "{}", p.stderr);
    let d = doctor(&cluster, home.path(), &good);
    let fix = d.expect("pg-hba", "fail", "a host line shadowing hostssl");
    assert!(d.text.contains("shadows "), "{}", d.text);
    assert_eq!(d.json["connection"]["explained_by"], "pg-hba", "{}", d.text);
    run_fix(&fix);
    assert_eq!(fs::read_to_string(&hba).unwrap(), before, "the fix removed exactly the shadowing line");
    let p = psql_eventually(&cluster, &good);
    assert!(p.ok, "after `{fix}`: {}", p.stderr);

    // Missing intermediate: the server sends only its own certificate.
    let pem_path = data.join("server.pem");
    let served = fs::read_to_string(&pem_path).unwrap();
    cluster.write_file("server.pem", leaf_only(&served).as_bytes(), 0o600).unwrap();
    cluster.reload().unwrap();
    let p = psql(&cluster, &good, PROBE);
    assert!(!p.ok && p.stderr.contains("certificate verify failed"), "{}", p.stderr);
    let d = doctor(&cluster, home.path(), &good);
    let fix = d.expect("server-chain", "fail", "intermediate not sent");
    assert!(fix.contains(&pem_path.display().to_string()) && fix.contains("pgharden apply"), "{fix}");
    reharden(&cluster, &pki);
    let p = psql_eventually(&cluster, &good);
    assert!(p.ok, "after pgharden apply: {}", p.stderr);

    // A CA without a CRL: the server's ssl_crl_file lacks the client CA's CRL.
    let crl_file = data.join("root.crl");
    let mut partial = fs::read(pki.path("root/crl.pem")).unwrap();
    partial.extend(fs::read(pki.path("server-ca/crl.pem")).unwrap());
    cluster.write_file("root.crl", &partial, 0o600).unwrap();
    cluster.reload().unwrap();
    let p = psql(&cluster, &good, PROBE);
    assert!(!p.ok, "the server refuses bob's certificate: {}", p.stderr);
    let d = doctor(&cluster, home.path(), &good);
    let fix = d.expect("client-cert", "fail", "a CA without a CRL");
    assert!(
        d.step("client-cert")["why"].as_str().unwrap().to_lowercase().contains("client"),
        "names the CA: {}",
        d.text
    );
    assert!(fix.contains(&crl_file.display().to_string()) && fix.contains("pgharden apply"), "{fix}");
    reharden(&cluster, &pki);
    assert!(psql_eventually(&cluster, &good).ok, "after pgharden apply");

    // A revoked client certificate.
    pki.ok(&["pki", "client", "--role", "carol"]);
    let carol = c
        .bob("user=carol")
        .replace("clients/bob/client.crt", "clients/carol/client.crt")
        .replace("clients/bob/client.key", "clients/carol/client.key");
    assert!(psql(&cluster, &carol, PROBE).ok, "{}", psql(&cluster, &carol, PROBE).stderr);
    pki.ok(&["pki", "revoke", "--cert", &pki.p("clients/carol/client.crt")]);
    reharden(&cluster, &pki);
    let p = psql(&cluster, &carol, PROBE);
    assert!(!p.ok && p.stderr.contains("revoked"), "{}", p.stderr);
    let d = doctor(&cluster, home.path(), &carol);
    let fix = d.expect("client-cert", "fail", "revoked");
    assert!(fix.contains("pgharden pki client --dir PKI_DIR --role carol --force"), "{fix}");
    let reissue = fix.rsplit_once(": ").unwrap().1.replace("PKI_DIR", &pki.p(""));
    let args: Vec<&str> = reissue.split_whitespace().skip(1).collect();
    crate::support::ok(&args);
    assert!(psql(&cluster, &carol, PROBE).ok, "after `{reissue}`");

    // Downgrade: prefer connects, and doctor says why that is weaker than it looks.
    let d = doctor(&cluster, home.path(), &c.bob("sslmode=prefer"));
    d.expect("sslmode", "warn", "downgrade");
}

fn set_mode(path: &PathBuf, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// A PEM text with every certificate after the first removed (the key and the leaf are kept).
fn leaf_only(pem: &str) -> String {
    let mut out = String::new();
    let (mut certs, mut keep) = (0, true);
    for line in pem.lines() {
        if line.starts_with("-----BEGIN ") {
            let is_cert = line == "-----BEGIN CERTIFICATE-----";
            certs += usize::from(is_cert);
            keep = !is_cert || certs == 1;
        }
        if keep {
            out.push_str(line);
            out.push('\n');
        }
    }
    assert_eq!(certs, 2, "server.pem holds the leaf and its intermediate: {pem}");
    out
}

#[test]
fn doctor_refuses_what_it_cannot_examine_with_exit_2() {
    let out = pgharden().args(["doctor", "host=/var/run/postgresql"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("/var/run/postgresql is a Unix socket") && err.contains("host=NAME"), "{err}");
    let out = pgharden().args(["doctor", "host=db sslmode=bogus"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("sslmode") && err.contains("bogus"), "names the value: {err}");
}
