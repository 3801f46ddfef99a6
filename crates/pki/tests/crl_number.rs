#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed
//! CRL numbers refuse to wrap: once a CA's number is `u64::MAX`, re-issuing its CRL or revoking a
//! certificate it issued fails with an error naming the CA and the ledger, and nothing on disk changes.

use std::fs;
use std::path::{Path, PathBuf};

use pgharden_pki::ledger::CrlNumberExhausted;
use pgharden_pki::{ClientRequest, Error, InitOptions, KeyType, Kind, Pki, Reason};

/// Every file of the PKI with its bytes, so "nothing changed" can be checked whole.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().is_some_and(|n| n != ".lock") {
                out.push((path.clone(), fs::read(&path).unwrap()));
            }
        }
    }
    out.sort();
    out
}

fn set_crl_number(dir: &Path, ca: &str, value: u64) {
    let path = dir.join("ledger.json");
    let mut doc: serde_json::Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    doc["crl_numbers"][ca] = serde_json::Value::from(value);
    fs::write(&path, serde_json::to_vec_pretty(&doc).unwrap()).unwrap();
}

fn new_pki() -> (tempfile::TempDir, PathBuf, String) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pki");
    let mut pki =
        Pki::init(&dir, &InitOptions { key_type: KeyType::P256, ..InitOptions::default() }).unwrap();
    let bob = pki.issue_client(&ClientRequest { role: "bob".into(), ..Default::default() }, None).unwrap();
    (tmp, dir, bob.entry.serial)
}

#[test]
fn an_exhausted_crl_number_changes_nothing() {
    let (_tmp, dir, bob) = new_pki();

    // The root at u64::MAX: `pki crl` is refused before any CA gets a new CRL.
    set_crl_number(&dir, "root", u64::MAX);
    let before = snapshot(&dir);
    let err = Pki::open(&dir).unwrap().reissue_crls(None).unwrap_err();
    let Error::CrlNumber { ledger, exhausted } = &err else { panic!("{err:?}") };
    assert_eq!(*exhausted, CrlNumberExhausted { ca: Kind::Root });
    assert_eq!(ledger, &dir.join("ledger.json"));
    let msg = err.to_string();
    assert!(
        msg.ends_with(
            "ledger.json: the CRL number of root has reached 18446744073709551615; it cannot grow further: start a new CA"
        ),
        "{msg}"
    );
    assert_eq!(snapshot(&dir), before, "nothing on disk changed");

    // The client CA at u64::MAX, checked up front too: the root's CRL is not re-issued alone.
    set_crl_number(&dir, "root", 5);
    set_crl_number(&dir, "client_ca", u64::MAX);
    let before = snapshot(&dir);
    let err = Pki::open(&dir).unwrap().reissue_crls(None).unwrap_err();
    assert!(err.to_string().contains("the CRL number of client-ca has reached"), "{err}");
    assert_eq!(snapshot(&dir), before, "no CRL written");

    // Revoking bob needs a new client CA CRL: refused, and bob is not recorded as revoked.
    let err = Pki::open(&dir).unwrap().revoke(&bob, Reason::KeyCompromise, None).unwrap_err();
    assert!(
        matches!(err, Error::CrlNumber { exhausted: CrlNumberExhausted { ca: Kind::ClientCa }, .. }),
        "{err}"
    );
    assert_eq!(snapshot(&dir), before, "no revocation recorded");
    assert!(Pki::open(&dir).unwrap().ledger().find(&bob).unwrap().revoked.is_none());
}

#[test]
fn the_last_number_is_used_then_refused() {
    let (_tmp, dir, bob) = new_pki();
    set_crl_number(&dir, "client_ca", u64::MAX - 1);
    let mut pki = Pki::open(&dir).unwrap();
    pki.revoke(&bob, Reason::Superseded, None).unwrap();
    assert_eq!(pki.ledger().crl_numbers.client_ca, u64::MAX);
    let crl = pgharden_pki::inspect::inspect_file(&pki.crl_path(Kind::ClientCa)).unwrap();
    let pgharden_pki::inspect::Item::Crl(c) = &crl.items[0] else { panic!("{crl:?}") };
    assert_eq!(c.crl_number.as_deref(), Some("18446744073709551615"));
    let err = pki.reissue_crls(None).unwrap_err();
    assert!(err.to_string().contains("client-ca"), "{err}");
    assert_eq!(pki.ledger().crl_numbers.client_ca, u64::MAX, "the number did not wrap");
}
