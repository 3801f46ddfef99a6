//! Certificates from another CA — the openssl CLI plays step-ca, Vault or certbot here — installed
//! by `pgharden deploy` (the hook those tools run after they renew) and by `apply --cert`, on real
//! PostgreSQL 15: a reload, not a restart, the new serial served, a bad pair refused untouched.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use pgharden_testcluster::Cluster;

use crate::support::{TestPki, harden, pgharden, psql, served_serial};

/// A CA made with the openssl CLI: root, an intermediate, and leaves it signs.
struct OpensslCa {
    dir: PathBuf,
    _tmp: tempfile::TempDir,
}

impl OpensslCa {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_path_buf();
        let ca = Self { dir, _tmp: tmp };
        ca.run(&[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "root.key",
            "-out",
            "root.crt",
            "-subj",
            "/CN=Other Root CA",
            "-days",
            "30",
        ]);
        ca.write(
            "ca.ext",
            "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n",
        );
        ca.run(&["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "mid.key"]);
        ca.sign("mid", "/CN=Other Issuing CA", ("root.crt", "root.key"), "ca.ext", "20");
        ca
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn write(&self, name: &str, text: &str) {
        fs::write(self.path(name), text).unwrap();
    }

    /// Sign `NAME.key` (already made) as `subject` by `issuer` (certificate, key) with the
    /// extensions in `ext` for `days`; returns the certificate's file name, `NAME.crt`.
    fn sign(&self, name: &str, subject: &str, issuer: (&str, &str), ext: &str, days: &str) -> String {
        let (key, csr, crt) = (format!("{name}.key"), format!("{name}.csr"), format!("{name}.crt"));
        self.run(&["req", "-new", "-key", &key, "-subj", subject, "-out", &csr]);
        self.run(&[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            issuer.0,
            "-CAkey",
            issuer.1,
            "-CAcreateserial",
            "-days",
            days,
            "-extfile",
            ext,
            "-out",
            &crt,
        ]);
        crt
    }

    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("openssl").args(args).current_dir(&self.dir).output().expect("openssl CLI");
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A server leaf for localhost and 127.0.0.1 (an RSA key in PKCS#1 form, as `genrsa
    /// -traditional` writes it, or a SEC1 EC key), with the chain file `NAME.chain.pem`.
    fn server(&self, name: &str, rsa: bool) -> (PathBuf, PathBuf, String) {
        let key = format!("{name}.key");
        if rsa {
            self.run(&["genrsa", "-traditional", "-out", &key, "2048"]);
        } else {
            self.run(&["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", &key]);
        }
        self.write(
            "leaf.ext",
            "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n\
             extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n",
        );
        let crt = self.sign(name, "/CN=localhost", ("mid.crt", "mid.key"), "leaf.ext", "10");
        let chain = format!(
            "{}{}",
            fs::read_to_string(self.path(&crt)).unwrap(),
            fs::read_to_string(self.path("mid.crt")).unwrap()
        );
        self.write(&format!("{name}.chain.pem"), &chain);
        let serial = self.run(&["x509", "-in", &crt, "-noout", "-serial"]);
        let serial = serial.trim().trim_start_matches("serial=").to_ascii_lowercase();
        (self.path(&format!("{name}.chain.pem")), self.path(&key), serial)
    }
}

fn deploy(cluster: &Cluster, cert: &Path, key: &Path, extra: &[&str]) -> (i32, String) {
    let out = pgharden()
        .args(["deploy", "--pgdata", cluster.data_dir().to_str().unwrap()])
        .args(["--cert", cert.to_str().unwrap(), "--key", key.to_str().unwrap(), "--host", "localhost"])
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

fn alice_connects(cluster: &Cluster, pki: &TestPki, root: &Path) -> crate::support::Psql {
    let conninfo = format!(
        "host=localhost port={} dbname=postgres user=alice sslmode=verify-full sslrootcert={} sslcert={} sslkey={}",
        cluster.port(),
        root.display(),
        pki.p("clients/alice/client.crt"),
        pki.p("clients/alice/client.key"),
    );
    psql(cluster, &conninfo, "SELECT current_user")
}

fn hardened() -> (TestPki, Cluster) {
    let pki = TestPki::new("p256");
    let cluster = Cluster::start_default().unwrap_or_else(|e| panic!("{e}"));
    cluster.psql("CREATE ROLE alice LOGIN").unwrap();
    harden(&cluster, &pki);
    (pki, cluster)
}

#[test]
fn deploy_installs_another_cas_certificate_with_a_reload_and_proves_it() {
    let (pki, cluster) = hardened();
    let ca = OpensslCa::new();
    let pid = cluster.psql("SELECT pg_postmaster_start_time()").unwrap();
    let (cert, key, serial) = ca.server("db", true);

    let (code, text) = deploy(&cluster, &cert, &key, &["--plan"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("server.pem") && text.contains("reloaded (no restart needed)"), "{text}");
    assert_ne!(served_serial(&cluster), serial, "--plan changes nothing");

    let (code, text) = deploy(&cluster, &cert, &key, &[]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains(&format!("serves certificate {serial}")), "{text}");
    assert_eq!(served_serial(&cluster), serial, "s_client sees the new certificate");
    assert_eq!(cluster.psql("SELECT pg_postmaster_start_time()").unwrap(), pid, "reloaded, not restarted");
    // The pgharden client certificates still log in; the server chain now leads to the other root.
    let other_root = ca.path("root.crt");
    let c = alice_connects(&cluster, &pki, &other_root);
    assert!(c.ok && c.stdout == "alice", "{}", c.stderr);
    let mode = crate::support::mode(&cluster.data_dir().join("server.pem"));
    assert_eq!(mode, 0o600);

    let (code, text) = deploy(&cluster, &cert, &key, &["--json"]);
    assert_eq!(code, 0, "{text}");
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["changes"].as_array().unwrap().len(), 0, "a second deploy has nothing to do: {text}");
}

#[test]
fn a_certbot_style_deploy_hook_follows_the_lineage_links_and_a_bad_pair_changes_nothing() {
    let (_pki, cluster) = hardened();
    let ca = OpensslCa::new();
    let (cert, key, serial) = ca.server("web", false);
    // certbot's live/ directory holds links into archive/.
    let lineage = ca.path("live");
    fs::create_dir(&lineage).unwrap();
    std::os::unix::fs::symlink(&cert, lineage.join("fullchain.pem")).unwrap();
    std::os::unix::fs::symlink(&key, lineage.join("privkey.pem")).unwrap();
    let hook = format!(
        "{} deploy --pgdata \"$PGDATA\" --cert \"$RENEWED_LINEAGE/fullchain.pem\" --key \"$RENEWED_LINEAGE/privkey.pem\" --host localhost",
        env!("CARGO_BIN_EXE_pgharden")
    );
    let out = Command::new("sh")
        .arg("-c")
        .arg(&hook)
        .env("RENEWED_LINEAGE", &lineage)
        .env("PGDATA", cluster.data_dir())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(served_serial(&cluster), serial);

    // The next renewal comes with the wrong key: refused before anything is touched.
    let before = fs::read(cluster.data_dir().join("server.pem")).unwrap();
    let (other_cert, _other_key, _) = ca.server("other", false);
    let (code, text) = deploy(&cluster, &other_cert, &key, &[]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("does not belong") && text.contains("web.key"), "{text}");
    assert_eq!(fs::read(cluster.data_dir().join("server.pem")).unwrap(), before);
    // A certificate that does not name the host clients use is refused too.
    let (code, text) = deploy(&cluster, &cert, &key, &["--host", "db.example.com"]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("db.example.com"), "{text}");
    assert_eq!(served_serial(&cluster), serial);
}

#[test]
fn apply_takes_certificates_ca_and_crl_from_another_ca() {
    let ca = OpensslCa::new();
    let (cert, key, serial) = ca.server("db", false);
    // A client certificate from the same CA, and the CA's CRL (DER, as many CAs publish it).
    ca.write("client.ext", "basicConstraints=critical,CA:FALSE\nextendedKeyUsage=clientAuth\n");
    ca.run(&["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "alice.key"]);
    ca.sign("alice", "/CN=alice", ("mid.crt", "mid.key"), "client.ext", "5");
    ca.write("openssl.cnf", &format!(
        "[ca]\ndefault_ca=x\n[x]\ndatabase={0}/index.txt\ncrlnumber={0}/crlnumber\ndefault_md=sha256\ndefault_crl_days=7\n",
        ca.dir.display()
    ));
    ca.write("index.txt", "");
    ca.write("crlnumber", "01\n");
    for (name, key) in [("mid", "mid.key"), ("root", "root.key")] {
        ca.run(&[
            "ca",
            "-config",
            "openssl.cnf",
            "-gencrl",
            "-keyfile",
            key,
            "-cert",
            &format!("{name}.crt"),
            "-out",
            &format!("{name}.crl"),
        ]);
    }
    ca.run(&["crl", "-in", "mid.crl", "-outform", "DER", "-out", "mid.crl.der"]);
    ca.write(
        "clients-ca.pem",
        &format!(
            "{}{}",
            fs::read_to_string(ca.path("root.crt")).unwrap(),
            fs::read_to_string(ca.path("mid.crt")).unwrap()
        ),
    );
    let chain = format!(
        "{}{}",
        fs::read_to_string(ca.path("alice.crt")).unwrap(),
        fs::read_to_string(ca.path("mid.crt")).unwrap()
    );
    ca.write("alice.chain.pem", &chain);
    fs::set_permissions(ca.path("alice.key"), std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();

    let cluster = Cluster::start_default().unwrap_or_else(|e| panic!("{e}"));
    cluster.psql("CREATE ROLE alice LOGIN").unwrap();
    let out = pgharden()
        .args(["apply", "--pgdata", cluster.data_dir().to_str().unwrap(), "--yes"])
        .args(["--host", "localhost", "--host", "127.0.0.1"])
        .args(["--cert", cert.to_str().unwrap(), "--key", key.to_str().unwrap()])
        .args(["--ca", ca.path("clients-ca.pem").to_str().unwrap()])
        .args([
            "--crl",
            ca.path("root.crl").to_str().unwrap(),
            "--crl",
            ca.path("mid.crl.der").to_str().unwrap(),
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}\n{}", cluster.log());
    assert!(text.contains("a second plan finds nothing"), "{text}");
    assert_eq!(served_serial(&cluster), serial);
    let crl = fs::read_to_string(cluster.data_dir().join("root.crl")).unwrap();
    assert_eq!(crl.matches("BEGIN X509 CRL").count(), 2, "the DER CRL was converted to PEM: {crl}");
    let conninfo = format!(
        "host=localhost port={} dbname=postgres user=alice sslmode=verify-full sslrootcert={} sslcert={} sslkey={}",
        cluster.port(),
        ca.path("root.crt").display(),
        ca.path("alice.chain.pem").display(),
        ca.path("alice.key").display(),
    );
    let c = psql(&cluster, &conninfo, "SELECT current_user");
    assert!(c.ok && c.stdout == "alice", "{}", c.stderr);
}
