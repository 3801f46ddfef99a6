//! CRLs near their next update: renew re-issues every CA's CRL, deploys them with a reload, and the
//! logins that would have been locked out a few days later keep working, with the postmaster and
//! an open session untouched.

use std::path::Path;

use time::PrimitiveDateTime;
use time::macros::format_description;

use super::support::{
    DAY, ROLE, Rig, Session, actions, crl_cas, crls, crls_by_ca, file_names, only_cluster, same_dir, serial,
};
use crate::support::openssl;

#[test]
fn renew_refreshes_the_crls_with_a_reload_and_the_login_outlives_the_old_ones() {
    let rig = Rig::new(None, None);
    let server = rig.current("server", "localhost");
    let before = crls_by_ca(&rig.pki, &rig.data("root.crl"));
    assert_eq!(before.len(), 3, "apply installs the CRL of every CA");

    // 25 days on, a third of the CRLs' 30 days is no longer left.
    rig.at(25 * DAY);
    let mut session = Session::open(&rig);
    let backend = session.query("SELECT pg_backend_pid()");
    let pid = rig.pid();

    let report = rig.renew(&[]);
    assert_eq!(report["plan"], false, "{report:#}");
    assert_eq!(crl_cas(&report), ["client-ca", "root", "server-ca"], "{report:#}");
    for crl in actions(&report, "crl") {
        assert!(!crl["reason"].as_str().unwrap_or_default().is_empty(), "{crl}");
    }
    assert!(actions(&report, "certificate").is_empty(), "no certificate is due: {report:#}");
    let notes = report["notes"].as_array().expect("notes");
    assert!(
        notes.iter().any(|n| n.as_str().is_some_and(|n| n.contains("crls.pem") && n.contains("root.crl"))),
        "a timer's JSON says that clients keeping CRLs need the new ones: {report:#}"
    );
    let deploys = actions(&report, "deploy");
    assert_eq!(deploys.len(), 1, "{report:#}");
    assert!(same_dir(&deploys[0]["cluster"], rig.cluster.data_dir()), "{report:#}");
    assert!(file_names(deploys[0]).contains(&"root.crl".to_string()), "{report:#}");
    let cluster = only_cluster(&report);
    assert!(same_dir(&cluster["data_dir"], rig.cluster.data_dir()), "{report:#}");
    assert!(cluster["changed"].as_array().unwrap().iter().any(|f| f == "root.crl"), "{report:#}");
    assert_eq!(cluster["reloaded"], true, "{report:#}");
    assert_eq!(cluster["postmaster_pid"], pid, "{report:#}");
    assert_eq!(
        serial(cluster["served_serial"].as_str().unwrap()),
        serial(server["serial"].as_str().unwrap())
    );
    assert_eq!(
        cluster["client_certificate_accepted"], true,
        "renew's proof offers a client certificate: {report:#}"
    );

    // The new CRLs are in the data directory: later next updates, higher numbers.
    let after = crls_by_ca(&rig.pki, &rig.data("root.crl"));
    for (ca, old) in &before {
        let new = &after[ca];
        assert!(new.number > old.number, "{ca}: CRL number {} after {}", new.number, old.number);
        assert!(new.this_update >= old.this_update + 25 * DAY - 600, "{ca}: issued at the moved time");
        assert!(new.next_update >= old.next_update + 25 * DAY - 600, "{ca}: next update moved on");
    }
    // openssl reads the file the server reads the same way.
    let data_crl = rig.data("root.crl");
    let (number, next_update) = openssl_crl(&data_crl);
    let first = &crls(&data_crl)[0];
    assert_eq!((number, next_update), (first.number, first.next_update), "openssl and x509-parser agree");

    // A week later the old CRLs would have expired; the new ones hold.
    rig.at(31 * DAY);
    let login = rig.login(Some(&rig.pki.p("crls.pem")));
    assert!(login.ok && login.stdout == ROLE, "at +31 days alice logs in: {}", login.stderr);
    let login = rig.login(None);
    assert!(login.ok, "without client-side CRLs too: {}", login.stderr);
    assert_eq!(rig.pid(), pid, "a reload, never a restart");
    assert_eq!(session.query("SELECT pg_backend_pid()"), backend, "the session opened before survives");
}

/// `openssl crl -crlnumber -nextupdate` of the first CRL in `path`: (number, next update in Unix
/// seconds).
fn openssl_crl(path: &Path) -> (u128, i64) {
    let (ok, text) = openssl(&["crl", "-in", path.to_str().unwrap(), "-noout", "-crlnumber", "-nextupdate"]);
    assert!(ok, "{text}");
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_else(|| panic!("no {name} in openssl's output: {text}"))
            .trim()
            .to_string()
    };
    let number = u128::from_str_radix(field("crlNumber=").trim_start_matches("0x"), 16).unwrap();
    let format =
        format_description!("[month repr:short] [day padding:space] [hour]:[minute]:[second] [year] GMT");
    let next = PrimitiveDateTime::parse(&field("nextUpdate="), &format)
        .unwrap_or_else(|e| panic!("nextUpdate in {text}: {e}"))
        .assume_utc()
        .unix_timestamp();
    (number, next)
}
