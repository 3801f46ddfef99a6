//! Shared helpers: run the binary, make a PKI, call openssl and psql, craft certificates.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use tempfile::TempDir;

/// The binary under test, with the environment cleared of anything that would change its behaviour.
pub fn pgharden() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pgharden"));
    cmd.env_remove("PGHARDEN_CA_PASSPHRASE").env_remove("PGHARDEN_PKI_DIR").env("NO_COLOR", "1");
    cmd
}

/// Run and return the output, whatever the exit code.
pub fn run(args: &[&str]) -> Output {
    pgharden().args(args).output().expect("running pgharden")
}

/// Run, insist on success, return stdout.
pub fn ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "pgharden {args:?} failed with {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Run, insist on exit code `code`, return stderr (and stdout appended).
pub fn fails(args: &[&str], code: i32) -> String {
    let out = run(args);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stderr), String::from_utf8_lossy(&out.stdout));
    assert_eq!(out.status.code(), Some(code), "pgharden {args:?} should exit {code}:\n{text}");
    text
}

/// A PKI in a temporary directory.
pub struct TestPki {
    pub tmp: TempDir,
    pub dir: PathBuf,
}

impl TestPki {
    /// `pki init --no-passphrase` with `key_type`, a server certificate for localhost/127.0.0.1 and
    /// client certificates for `bob` and (CN `alice@example.com`) `alice`.
    pub fn new(key_type: &str) -> TestPki {
        let pki = TestPki::bare(key_type);
        pki.ok(&["pki", "server", "--host", "localhost", "--host", "127.0.0.1"]);
        pki.ok(&["pki", "client", "--role", "bob"]);
        pki.ok(&["pki", "client", "--role", "alice", "--cn", "alice@example.com"]);
        pki
    }

    /// Only the hierarchy.
    pub fn bare(key_type: &str) -> TestPki {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("pki");
        ok(&["pki", "init", "--dir", dir.to_str().unwrap(), "--key-type", key_type, "--no-passphrase"]);
        TestPki { tmp, dir }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    pub fn p(&self, rel: &str) -> String {
        self.path(rel).to_string_lossy().into_owned()
    }

    fn with_dir<'a>(&'a self, args: &[&'a str], dir: &'a str) -> Vec<&'a str> {
        let mut v = args.to_vec();
        v.insert(2.min(v.len()), dir);
        v.insert(2.min(v.len()), "--dir");
        v
    }

    /// `pgharden <args> --dir DIR`, must succeed.
    pub fn ok(&self, args: &[&str]) -> String {
        let dir = self.dir.to_string_lossy().into_owned();
        ok(&self.with_dir(args, &dir))
    }

    /// `pgharden <args> --dir DIR`, must exit with `code`.
    pub fn fails(&self, args: &[&str], code: i32) -> String {
        let dir = self.dir.to_string_lossy().into_owned();
        fails(&self.with_dir(args, &dir), code)
    }

    /// Serial of an issued certificate, as the ledger has it.
    pub fn serial(&self, rel: &str) -> String {
        let text = self.ok(&["pki", "list", "--json"]);
        let list: serde_json::Value = serde_json::from_str(&text).unwrap();
        list.as_array()
            .unwrap()
            .iter()
            .rev()
            .find(|e| e["path"] == rel)
            .unwrap_or_else(|| panic!("{rel} not in the ledger"))["serial"]
            .as_str()
            .unwrap()
            .to_string()
    }
}

/// Run `openssl` with arguments; returns (success, combined output).
pub fn openssl(args: &[&str]) -> (bool, String) {
    let out =
        Command::new("openssl").args(args).output().expect("openssl is installed (apt-get install openssl)");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// `openssl verify` of a leaf against the PKI, with the intermediate untrusted and optionally every CRL.
pub fn openssl_verify(
    pki: &TestPki,
    leaf: &str,
    intermediate: &str,
    purpose: &str,
    crls: bool,
) -> (bool, String) {
    let root = pki.p("root/ca.crt");
    let inter = pki.p(intermediate);
    let leaf = pki.p(leaf);
    let crl = pki.p("crls.pem");
    let mut args = vec!["verify", "-CAfile", &root, "-untrusted", &inter, "-purpose", purpose];
    if crls {
        args.extend(["-crl_check_all", "-CRLfile", &crl]);
    }
    args.push(&leaf);
    openssl(&args)
}

/// The permission bits of a file.
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o7777
}

/// Result of a psql connection attempt.
#[derive(Debug)]
pub struct Psql {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

/// Connect with psql using `conninfo` and run `sql`.
pub fn psql(cluster: &testcluster::Cluster, conninfo: &str, sql: &str) -> Psql {
    let out = cluster
        .psql_command()
        .args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", conninfo, "-c", sql])
        .output()
        .expect("running psql");
    Psql {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).trim().to_string(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Put the PKI's server certificate, root and CRLs in the cluster's data directory and point the
/// server at them (`ssl_*` settings), for tests that do by hand what `apply` will automate.
pub fn install_server_tls(cluster: &testcluster::Cluster, pki: &TestPki, server: &str) {
    let read = |rel: &str| fs::read(pki.path(rel)).unwrap();
    cluster.write_file("server.crt", &read(&format!("servers/{server}/server.crt")), 0o600).unwrap();
    cluster.write_file("server.key", &read(&format!("servers/{server}/server.key")), 0o600).unwrap();
    cluster.write_file("root.crt", &read("root/ca.crt"), 0o600).unwrap();
    cluster.write_file("crls.pem", &read("crls.pem"), 0o600).unwrap();
    cluster
        .append_conf(
            "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n\
             ssl_ca_file = 'root.crt'\nssl_crl_file = 'crls.pem'\nssl_min_protocol_version = 'TLSv1.2'\n",
        )
        .unwrap();
}

/// Load the unencrypted key of a CA in a test PKI, for crafting unusual certificates.
pub fn ca_issuer(pki: &TestPki, ca: &str) -> rcgen::Issuer<'static, rcgen::KeyPair> {
    let (key, _) = pgharden_pki::key::load_key(&pki.path(&format!("{ca}/ca.key")), None).unwrap();
    let pem = fs::read_to_string(pki.path(&format!("{ca}/ca.crt"))).unwrap();
    rcgen::Issuer::from_ca_cert_pem(&pem, key).unwrap()
}

/// `pgharden apply --pgdata … --pki … --host localhost --host 127.0.0.1 --yes`, which must succeed.
pub fn harden(cluster: &testcluster::Cluster, pki: &TestPki) {
    let out = pgharden()
        .args(["apply", "--pgdata", cluster.data_dir().to_str().unwrap(), "--pki", &pki.p("")])
        .args(["--host", "localhost", "--host", "127.0.0.1", "--yes"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "apply failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
