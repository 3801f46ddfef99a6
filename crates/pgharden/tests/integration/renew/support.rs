//! The renewal tests' harness: a PKI and a hardened PostgreSQL 15 cluster whose server, every
//! `pgharden` run and every client share one [`FakeClock`], and the ways to look at what a renewal
//! left behind (ledger, data directory files, the served certificate, a session kept open).
//!
//! It owns no assertion about renew's output beyond "it ran and printed JSON": the groups decide
//! what must hold. It must not read the real clock where the fake one applies.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use pgharden_testcluster::{Cluster, ClusterOptions, FakeClock};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::revocation_list::CertificateRevocationList;

use crate::support::{Bounded, Psql, TestPki, openssl, pgharden, run_bounded};

pub(super) const HOUR: i64 = 3600;
pub(super) const DAY: i64 = 86_400;

/// How long one pgharden run may take on a loaded two-core machine before it counts as hung.
pub(super) const RUN_LIMIT: Duration = Duration::from_secs(240);
/// How long a query in a kept session may take.
const QUERY_LIMIT: Duration = Duration::from_secs(60);

/// The role that logs in with a client certificate.
pub(super) const ROLE: &str = "alice";

/// The files renew and apply own in the data directory, and the configuration they edit.
pub(super) const WATCHED: [&str; 7] = [
    "server.pem",
    "root.crt",
    "root.crl",
    "postgresql.conf",
    "postgresql.auto.conf",
    "pg_hba.conf",
    "pg_ident.conf",
];

/// A hardened cluster, its PKI, and the clock they all read. Fields drop in this order: the
/// server stops before its clock's file goes.
pub(super) struct Rig {
    pub cluster: Cluster,
    pub pki: TestPki,
    pub clock: FakeClock,
}

impl Rig {
    /// `pki init`, a server certificate for localhost and 127.0.0.1 and a client certificate for
    /// alice (each `--valid` when given), a cluster with the role alice, `apply`, and the server
    /// restarted by testcluster so that it runs under the clock (apply restarts it with pg_ctl and
    /// a fixed environment when it adds pgaudit).
    pub(super) fn new(server_valid: Option<&str>, client_valid: Option<&str>) -> Self {
        let clock = FakeClock::new().expect("libfaketime must be installed (apt-get install libfaketime)");
        let tmp = tempfile::tempdir().expect("tempdir");
        let pki = TestPki { dir: tmp.path().join("pki"), tmp };
        let cluster = Cluster::start(ClusterOptions::for_tests().unwrap().envs(clock.env()))
            .unwrap_or_else(|e| panic!("{e}"));
        cluster.psql(&format!("CREATE ROLE {ROLE} LOGIN")).unwrap();
        let mut rig = Self { cluster, pki, clock };
        let dir = rig.pki.dir.to_str().unwrap().to_owned();
        rig.ok(&["pki", "init", "--dir", &dir, "--no-passphrase"]);
        let mut server = vec!["pki", "server", "--dir", &dir, "--host", "localhost", "--host", "127.0.0.1"];
        server.extend(server_valid.iter().flat_map(|v| ["--valid", *v]));
        rig.ok(&server);
        let mut client = vec!["pki", "client", "--dir", &dir, "--role", ROLE];
        client.extend(client_valid.iter().flat_map(|v| ["--valid", *v]));
        rig.ok(&client);
        let data = rig.cluster.data_dir().to_str().unwrap().to_owned();
        let hosts = ["--host", "localhost", "--host", "127.0.0.1"];
        let mut apply = vec!["apply", "--pgdata", &data, "--pki", &dir];
        apply.extend(hosts);
        apply.push("--yes");
        rig.ok(&apply);
        rig.restart();
        let login = rig.login(Some(&rig.pki.p("crls.pem")));
        assert!(login.ok && login.stdout == ROLE, "alice must log in after apply: {}", login.stderr);
        rig
    }

    /// Stop the server, whoever started it, and start it again under the clock; it must come up.
    pub(super) fn restart(&mut self) {
        self.cluster.restart().unwrap_or_else(|e| panic!("the server does not start again: {e}"));
        let pid = self.pid();
        let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
        let preload = format!("LD_PRELOAD={}", self.clock.library().display());
        assert!(
            String::from_utf8_lossy(&environ).split('\0').any(|v| v == preload),
            "postmaster {pid} does not run under the fake clock"
        );
    }

    /// Move every clock to the real time plus `offset` seconds.
    pub(super) fn at(&self, offset: i64) {
        self.clock.set(offset).unwrap();
    }

    /// The binary under test, on the fake clock.
    pub(super) fn pgharden(&self) -> Command {
        let mut cmd = pgharden();
        cmd.envs(self.clock.env());
        cmd
    }

    /// Run pgharden with `args`, bounded by [`RUN_LIMIT`].
    pub(super) fn run(&self, args: &[&str]) -> Bounded {
        run_bounded(self.pgharden().args(args), RUN_LIMIT)
    }

    /// Run pgharden with `args`; it must exit 0.
    pub(super) fn ok(&self, args: &[&str]) -> Bounded {
        let out = self.run(args);
        assert_eq!(out.code, Some(0), "pgharden {args:?}: {}", out.describe());
        out
    }

    /// `renew --pki PKI --pgdata DATA --json EXTRA…` with its exit code and its report.
    pub(super) fn renew_with(&self, extra: &[&str]) -> (Bounded, serde_json::Value) {
        let data = self.cluster.data_dir().to_str().unwrap();
        let pki = self.pki.p("");
        let mut args = vec!["renew", "--pki", &pki, "--pgdata", data, "--json"];
        args.extend(extra);
        let out = self.run(&args);
        let report = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("renew {extra:?} printed no JSON report ({e}): {}", out.describe()));
        (out, report)
    }

    /// [`Rig::renew_with`] that must succeed; the report.
    pub(super) fn renew(&self, extra: &[&str]) -> serde_json::Value {
        let (out, report) = self.renew_with(extra);
        assert_eq!(out.code, Some(0), "renew {extra:?}: {}", out.describe());
        assert_eq!(report["format"], 1, "{report:#}");
        report
    }

    /// `pki list --json`.
    pub(super) fn ledger(&self) -> Vec<serde_json::Value> {
        let out = self.ok(&["pki", "list", "--dir", &self.pki.p(""), "--json"]);
        let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        list.as_array().unwrap_or_else(|| panic!("pki list --json is not an array: {list}")).clone()
    }

    /// The one valid certificate of `kind` named `name` in the ledger.
    pub(super) fn current(&self, kind: &str, name: &str) -> serde_json::Value {
        let ledger = self.ledger();
        let valid: Vec<&serde_json::Value> = ledger
            .iter()
            .filter(|e| e["kind"] == kind && e["name"] == name && e["status"] == "valid")
            .collect();
        assert_eq!(valid.len(), 1, "exactly one valid {kind} certificate {name}: {ledger:#?}");
        valid[0].clone()
    }

    /// The ledger entry with `serial`.
    pub(super) fn entry(&self, serial: &str) -> serde_json::Value {
        let ledger = self.ledger();
        ledger
            .into_iter()
            .find(|e| e["serial"] == serial)
            .unwrap_or_else(|| panic!("{serial} is not in the ledger"))
    }

    /// A file in the data directory.
    pub(super) fn data(&self, name: &str) -> PathBuf {
        self.cluster.data_dir().join(name)
    }

    /// The running postmaster's pid.
    pub(super) fn pid(&self) -> u32 {
        self.cluster.pid().expect("the server runs")
    }

    /// `sslmode=verify-full` as alice with the PKI's own certificate files (and `crl` as sslcrl,
    /// when given), on the fake clock, selecting current_user.
    pub(super) fn login(&self, crl: Option<&str>) -> Psql {
        let mut conninfo = format!(
            "{} sslrootcert={} sslcert={} sslkey={}",
            self.conninfo(),
            self.pki.p("root/ca.crt"),
            self.pki.p(&format!("clients/{ROLE}/client.crt")),
            self.pki.p(&format!("clients/{ROLE}/client.key")),
        );
        if let Some(crl) = crl {
            conninfo.push_str(&format!(" sslcrl={crl}"));
        }
        self.psql(&conninfo, None)
    }

    /// `sslmode=verify-full` as alice with what `pgharden client` installed in `home`.
    pub(super) fn login_from_home(&self, home: &Path) -> Psql {
        self.psql(&self.conninfo(), Some(home))
    }

    /// host, port, user, database and `sslmode=verify-full`.
    pub(super) fn conninfo(&self) -> String {
        format!(
            "host=localhost port={} user={ROLE} dbname=postgres sslmode=verify-full connect_timeout=30",
            self.cluster.port()
        )
    }

    fn psql(&self, conninfo: &str, home: Option<&Path>) -> Psql {
        let mut cmd = self.cluster.psql_command();
        cmd.envs(self.clock.env()).args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", conninfo]);
        cmd.args(["-c", "SELECT current_user"]);
        if let Some(home) = home {
            cmd.env("HOME", home);
        }
        let out = run_bounded(&mut cmd, RUN_LIMIT);
        assert!(!out.hung, "psql hung: {}", out.describe());
        Psql {
            ok: out.code == Some(0),
            stdout: String::from_utf8_lossy(&out.stdout).trim().to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// The serial of the certificate the server sends, as `openssl s_client -starttls postgres`
    /// sees it (normalised, see [`serial`]).
    pub(super) fn served_serial(&self) -> String {
        let connect = format!("127.0.0.1:{}", self.cluster.port());
        let mut cmd = Command::new("openssl");
        cmd.args(["s_client", "-connect", &connect, "-starttls", "postgres"]);
        let out = run_bounded(&mut cmd, RUN_LIMIT);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let begin = text.find("-----BEGIN CERTIFICATE-----");
        let end = text.find("-----END CERTIFICATE-----");
        let (Some(begin), Some(end)) = (begin, end) else {
            panic!("openssl s_client shows no certificate: {}", out.describe());
        };
        let pem = &text[begin..end + "-----END CERTIFICATE-----".len()];
        let block = pem_blocks_of(pem.as_bytes(), "s_client output").remove(0);
        let (_, cert) = X509Certificate::from_der(&block.1).unwrap();
        serial(&hex_lower(cert.raw_serial()))
    }

    /// Every regular file below the PKI directory but its lock, with its bytes.
    pub(super) fn pki_tree(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        let mut out = BTreeMap::new();
        tree(&self.pki.dir, &mut out);
        out.retain(|p, _| p.file_name().is_none_or(|n| n != ".lock"));
        out
    }

    /// [`WATCHED`] files of the data directory, with bytes and modification time.
    pub(super) fn data_files(&self) -> BTreeMap<String, (Vec<u8>, SystemTime)> {
        WATCHED
            .iter()
            .filter_map(|name| {
                let path = self.data(name);
                let meta = std::fs::metadata(&path).ok()?;
                Some((name.to_string(), (std::fs::read(&path).unwrap(), meta.modified().unwrap())))
            })
            .collect()
    }

    /// The server's own log files (logging_collector writes them in DATA/log) and testcluster's.
    pub(super) fn server_log(&self) -> String {
        let mut text = self.cluster.log();
        if let Ok(entries) = std::fs::read_dir(self.data("log")) {
            let mut paths: Vec<PathBuf> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
            paths.sort();
            for p in paths {
                text.push_str(&String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()));
            }
        }
        text
    }
}

fn tree(dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        if meta.is_dir() {
            tree(&path, out);
        } else if meta.is_file() {
            out.insert(path.clone(), std::fs::read(&path).unwrap());
        }
    }
}

/// The actions of a report with `"action": kind`.
pub(super) fn actions<'a>(report: &'a serde_json::Value, kind: &str) -> Vec<&'a serde_json::Value> {
    report["actions"]
        .as_array()
        .unwrap_or_else(|| panic!("the report has no actions array: {report:#}"))
        .iter()
        .filter(|a| a["action"] == kind)
        .collect()
}

/// The CAs of the report's `crl` actions, sorted.
pub(super) fn crl_cas(report: &serde_json::Value) -> Vec<String> {
    let mut cas: Vec<String> =
        actions(report, "crl").iter().map(|a| a["ca"].as_str().unwrap_or("?").to_string()).collect();
    cas.sort();
    cas
}

/// The report's only cluster.
pub(super) fn only_cluster(report: &serde_json::Value) -> &serde_json::Value {
    let clusters = report["clusters"].as_array().unwrap_or_else(|| panic!("no clusters array: {report:#}"));
    assert_eq!(clusters.len(), 1, "{report:#}");
    &clusters[0]
}

/// Whether the report names `data` as a cluster (as given or canonicalized).
pub(super) fn same_dir(value: &serde_json::Value, data: &Path) -> bool {
    let Some(named) = value.as_str() else { return false };
    let named = Path::new(named);
    named == data || named.canonicalize().ok() == data.canonicalize().ok()
}

/// File names of a deploy action's `files` (paths in the data directory).
pub(super) fn file_names(action: &serde_json::Value) -> Vec<String> {
    action["files"]
        .as_array()
        .unwrap_or_else(|| panic!("no files array: {action}"))
        .iter()
        .map(|f| {
            let f = f.as_str().unwrap_or_default();
            Path::new(f).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
        })
        .collect()
}

/// An RFC 3339 time of a report, in Unix seconds.
pub(super) fn unix(value: &serde_json::Value) -> i64 {
    let text = value.as_str().unwrap_or_else(|| panic!("not a time: {value}"));
    OffsetDateTime::parse(text, &Rfc3339).unwrap_or_else(|e| panic!("{text}: {e}")).unix_timestamp()
}

/// A serial in one spelling: lowercase hex without leading zeros (openssl drops them, a DER
/// integer may carry one).
pub(super) fn serial(hex: &str) -> String {
    let s = hex.trim().trim_start_matches("serial=").to_ascii_lowercase().replace(':', "");
    let s = s.trim_start_matches('0');
    if s.is_empty() { "0".to_string() } else { s.to_string() }
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The PEM blocks of `bytes` as (label, DER); `what` names the source in a failure.
fn pem_blocks_of(bytes: &[u8], what: &str) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for block in x509_parser::pem::Pem::iter_from_buffer(bytes) {
        let block = block.unwrap_or_else(|e| panic!("{what}: a PEM block does not parse: {e:?}"));
        out.push((block.label, block.contents));
    }
    assert!(!out.is_empty(), "{what}: no PEM block");
    out
}

/// The PEM blocks of a file; every one must parse as what its label says (certificates and CRLs
/// by x509-parser, private keys by `openssl pkey`). A half-written file fails here.
pub(super) fn pem_file(path: &Path) -> Vec<(String, Vec<u8>)> {
    let what = path.display().to_string();
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{what}: {e}"));
    let blocks = pem_blocks_of(&bytes, &what);
    for (label, der) in &blocks {
        match label.as_str() {
            "CERTIFICATE" => {
                X509Certificate::from_der(der).unwrap_or_else(|e| panic!("{what}: a certificate: {e}"));
            }
            "X509 CRL" => {
                CertificateRevocationList::from_der(der).unwrap_or_else(|e| panic!("{what}: a CRL: {e}"));
            }
            l if l.ends_with("PRIVATE KEY") => {
                let (ok, text) = openssl(&["pkey", "-in", &what, "-noout"]);
                assert!(ok, "{what}: the private key does not parse: {text}");
            }
            other => panic!("{what}: unexpected PEM block {other}"),
        }
    }
    blocks
}

/// The DER certificates of a PEM file, in order.
pub(super) fn certificates(path: &Path) -> Vec<Vec<u8>> {
    pem_file(path).into_iter().filter(|(l, _)| l == "CERTIFICATE").map(|(_, d)| d).collect()
}

/// The serial of the first certificate in a PEM file, by `openssl x509` (normalised).
pub(super) fn file_serial(path: &Path) -> String {
    let (ok, text) = openssl(&["x509", "-in", path.to_str().unwrap(), "-noout", "-serial"]);
    assert!(ok, "{}: {text}", path.display());
    serial(text.lines().next().unwrap_or_default())
}

/// Whether the private key in `path` belongs to the first certificate in it: their public keys,
/// as `openssl pkey -pubout` and `openssl x509 -pubkey` print them, are the same. Returns the
/// public key.
pub(super) fn key_matches_certificate(path: &Path) -> Result<String, String> {
    let p = path.to_str().unwrap();
    let (ok_key, from_key) = openssl(&["pkey", "-in", p, "-pubout"]);
    let (ok_cert, from_cert) = openssl(&["x509", "-in", p, "-noout", "-pubkey"]);
    if !ok_key || !ok_cert {
        return Err(format!("{p}: openssl cannot read it:\n{from_key}\n{from_cert}"));
    }
    if from_key.trim() != from_cert.trim() {
        return Err(format!("{p}: the key's public key\n{from_key}\nis not the certificate's\n{from_cert}"));
    }
    Ok(from_key.trim().to_string())
}

/// What a CRL says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct CrlFacts {
    /// The issuing CA's subject, DER.
    pub issuer: Vec<u8>,
    pub this_update: i64,
    pub next_update: i64,
    pub number: u128,
    pub der: Vec<u8>,
}

/// Every CRL in a PEM file, in order.
pub(super) fn crls(path: &Path) -> Vec<CrlFacts> {
    pem_file(path)
        .into_iter()
        .filter(|(l, _)| l == "X509 CRL")
        .map(|(_, der)| {
            let (_, crl) = CertificateRevocationList::from_der(&der).unwrap();
            let number =
                crl.crl_number().unwrap_or_else(|| panic!("{}: a CRL without a number", path.display()));
            CrlFacts {
                issuer: crl.issuer().as_raw().to_vec(),
                this_update: crl.last_update().timestamp(),
                next_update: crl
                    .next_update()
                    .unwrap_or_else(|| panic!("{}: a CRL without a next update", path.display()))
                    .timestamp(),
                number: number.to_string().parse().unwrap(),
                der: der.clone(),
            }
        })
        .collect()
}

/// The CRLs of `path` by CA (`root`, `server-ca`, `client-ca`, matched on the issuer against the
/// PKI's CA certificates).
pub(super) fn crls_by_ca(pki: &TestPki, path: &Path) -> BTreeMap<String, CrlFacts> {
    let subjects: Vec<(String, Vec<u8>)> = ["root", "server-ca", "client-ca"]
        .iter()
        .map(|ca| {
            let der = certificates(&pki.path(&format!("{ca}/ca.crt"))).remove(0);
            let (_, cert) = X509Certificate::from_der(&der).unwrap();
            (ca.to_string(), cert.subject().as_raw().to_vec())
        })
        .collect();
    let mut out = BTreeMap::new();
    for crl in crls(path) {
        let ca = subjects
            .iter()
            .find(|(_, s)| *s == crl.issuer)
            .unwrap_or_else(|| panic!("{}: a CRL from no CA of the PKI", path.display()));
        assert!(out.insert(ca.0.clone(), crl).is_none(), "{}: two CRLs of the {}", path.display(), ca.0);
    }
    out
}

/// The CRLs the PKI holds now, one file per CA.
pub(super) fn pki_crls(pki: &TestPki) -> BTreeMap<String, CrlFacts> {
    ["root", "server-ca", "client-ca"]
        .iter()
        .map(|ca| {
            let mut one = crls(&pki.path(&format!("{ca}/crl.pem")));
            assert_eq!(one.len(), 1, "{ca}/crl.pem holds one CRL");
            (ca.to_string(), one.remove(0))
        })
        .collect()
}

/// A psql session over TLS kept open across a renewal: it reads statements from a pipe and
/// answers each with one line.
pub(super) struct Session {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    stderr: Arc<Mutex<String>>,
}

impl Session {
    /// Log in as alice with `sslmode=verify-full` and the PKI's files (CRLs included), on the clock.
    pub(super) fn open(rig: &Rig) -> Self {
        let conninfo = format!(
            "{} sslrootcert={} sslcrl={} sslcert={} sslkey={}",
            rig.conninfo(),
            rig.pki.p("root/ca.crt"),
            rig.pki.p("crls.pem"),
            rig.pki.p(&format!("clients/{ROLE}/client.crt")),
            rig.pki.p(&format!("clients/{ROLE}/client.key")),
        );
        let mut cmd = rig.cluster.psql_command();
        cmd.envs(rig.clock.env())
            .args(["-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-d", &conninfo])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("spawning psql");
        let stdin = child.stdin.take();
        let (tx, lines) = mpsc::channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&stderr);
        let mut err = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = std::io::Read::read_to_string(&mut err, &mut text);
            sink.lock().unwrap_or_else(|p| p.into_inner()).push_str(&text);
        });
        Self { child, stdin, lines, stderr }
    }

    /// Run one statement (without its semicolon) that returns one row of one column; its value.
    pub(super) fn query(&mut self, sql: &str) -> String {
        let stdin = self.stdin.as_mut().expect("the session is open");
        writeln!(stdin, "{sql};").and_then(|()| stdin.flush()).unwrap_or_else(|e| {
            panic!("the session is gone ({e}): {}", self.stderr.lock().unwrap_or_else(|p| p.into_inner()))
        });
        self.lines.recv_timeout(QUERY_LIMIT).unwrap_or_else(|e| {
            let status = self.child.try_wait();
            panic!(
                "no answer to {sql:?} ({e}); psql status {status:?}; stderr: {}",
                self.stderr.lock().unwrap_or_else(|p| p.into_inner())
            )
        })
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        // End of input ends psql; kill it if it does not go.
        drop(self.stdin.take());
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A directory holding a `pgharden` that is the binary under test, for running the commands renew
/// prints as an operator would (`pgharden …` found on PATH).
pub(super) fn path_with_pgharden(parent: &Path) -> String {
    let bin = parent.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let link = bin.join("pgharden");
    if !link.exists() {
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_pgharden"), &link).unwrap();
    }
    format!("{}:/usr/local/bin:/usr/bin:/bin", bin.display())
}
