#![allow(clippy::unwrap_used)] // a test that cannot unwrap has failed
//! `ledger.json` fuzzing, kept repeatable: a real PKI (root, both intermediates, a server and a
//! client certificate, one revoked) is made once; each case replaces its ledger with a JSON-aware
//! mutation — type swaps, 2^64, 10^400, negative numbers, 100 KB strings, path traversal in `path`,
//! bad dates, 1,000 duplicate entries, deep nesting, `format` changes — and then opens the PKI,
//! lists it (as text would and as `--json` does), verifies the server certificate and re-issues
//! every CRL in a copy of the directory.
//!
//! Nothing may panic; an open that fails must name ledger.json.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use pgharden_pki::{ClientRequest, InitOptions, KeyType, Pki, Purpose, Reason, ServerRequest, Trust};
use proptest::prelude::*;
use serde_json::Value;

/// Far above what one case needs; a hang exceeds it.
const BOUND: Duration = Duration::from_secs(20);

struct Fixture {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    ledger: Value,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pki");
    let opts = InitOptions { key_type: KeyType::P256, ..InitOptions::default() };
    let mut pki = Pki::init(&dir, &opts).unwrap();
    let req =
        ServerRequest { hosts: vec!["db.example.com".into(), "127.0.0.1".into()], ..Default::default() };
    pki.issue_server(&req, None).unwrap();
    pki.issue_client(&ClientRequest { role: "bob".into(), ..Default::default() }, None).unwrap();
    let alice =
        pki.issue_client(&ClientRequest { role: "alice".into(), ..Default::default() }, None).unwrap();
    pki.revoke(&alice.entry.serial, Reason::KeyCompromise, None).unwrap();
    drop(pki);
    let ledger = serde_json::from_slice(&fs::read(dir.join("ledger.json")).unwrap()).unwrap();
    Fixture { _tmp: tmp, dir, ledger }
});

// ---------------------------------------------------------------------------
// JSON-aware mutations
// ---------------------------------------------------------------------------

/// A value that serde_json's `Value` cannot hold, written into the text in place of a marker.
const RAW: &[&str] = &[
    "18446744073709551616",
    "18446744073709551615",
    "-1",
    "-9223372036854775809",
    "1e400",
    "-1e400",
    "1.5",
    "0",
    "4294967296",
    "4294967295",
];

#[derive(Debug, Clone)]
enum Replacement {
    Null,
    Bool(bool),
    Int(i64),
    Raw(usize),
    Str(String),
    /// A string of this many bytes.
    Long(usize),
    EmptyArray,
    EmptyObject,
    /// `[[[…]]]` this deep.
    Nested(usize),
}

#[derive(Debug, Clone)]
enum Mutation {
    /// Replace the value at a path (chosen by walking with these indices).
    Replace { walk: Vec<usize>, with: Replacement },
    /// Remove a member of an object on the path.
    Remove { walk: Vec<usize> },
    /// Add an unknown member.
    Extra { walk: Vec<usize> },
    /// The certificate list repeated to `copies` entries.
    Duplicate { copies: usize },
    /// A certificate's `path` pointing outside the PKI.
    Traversal { entry: usize, path: usize },
    /// A certificate's date that is no date.
    BadDate { entry: usize, field: usize, date: usize },
    /// The schema version.
    Format(i64),
}

const PATHS: &[&str] = &[
    "../../../../../../etc/shadow",
    "/etc/shadow",
    "servers/../../outside.crt",
    "",
    ".",
    "servers/db.example.com/server.crt\u{0}.pem",
    "\u{1b}[2J\r\nSubject: CN=trusted",
];

const DATE_FIELDS: &[&str] = &["not_before", "not_after"];

const DATES: &[&str] = &[
    "2025-13-45T99:99:99Z",
    "not a date",
    "",
    "+275760-09-13T00:00:00Z",
    "-9999-01-01T00:00:00Z",
    "9999-12-31T23:59:60Z",
    "2025-01-01",
    "1970-01-01T00:00:00+25:00",
];

fn replacement() -> impl Strategy<Value = Replacement> {
    prop_oneof![
        Just(Replacement::Null),
        any::<bool>().prop_map(Replacement::Bool),
        prop_oneof![Just(i64::MIN), Just(-1i64), Just(0), Just(i64::MAX), any::<i64>()]
            .prop_map(Replacement::Int),
        (0..RAW.len()).prop_map(Replacement::Raw),
        prop_oneof![
            Just("root".to_string()),
            Just("server-ca".to_string()),
            Just("zz".to_string()),
            Just("\u{1b}[2J\r\n".to_string()),
            ".{0,12}",
        ]
        .prop_map(Replacement::Str),
        prop_oneof![Just(100_000usize), Just(1_000)].prop_map(Replacement::Long),
        Just(Replacement::EmptyArray),
        Just(Replacement::EmptyObject),
        prop_oneof![Just(10usize), Just(200), Just(200_000)].prop_map(Replacement::Nested),
    ]
}

fn walk() -> impl Strategy<Value = Vec<usize>> {
    proptest::collection::vec(any::<usize>(), 1..5)
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (walk(), replacement()).prop_map(|(walk, with)| Mutation::Replace { walk, with }),
        1 => walk().prop_map(|walk| Mutation::Remove { walk }),
        1 => walk().prop_map(|walk| Mutation::Extra { walk }),
        1 => prop_oneof![Just(0usize), Just(2), Just(1_000)].prop_map(|copies| Mutation::Duplicate { copies }),
        1 => (any::<usize>(), 0..PATHS.len()).prop_map(|(entry, path)| Mutation::Traversal { entry, path }),
        1 => (any::<usize>(), 0..DATE_FIELDS.len(), 0..DATES.len())
            .prop_map(|(entry, field, date)| Mutation::BadDate { entry, field, date }),
        1 => prop_oneof![Just(0i64), Just(2), Just(-1), Just(i64::from(u32::MAX) + 1)].prop_map(Mutation::Format),
    ]
}

/// Follow `walk` down the document: each index picks a member of an object or an element of an
/// array (modulo its size), stopping early at a scalar or an empty container.
fn target<'a>(doc: &'a mut Value, walk: &[usize], stop_before_last: bool) -> &'a mut Value {
    let steps = if stop_before_last { walk.len().saturating_sub(1) } else { walk.len() };
    let mut v = doc;
    for &i in &walk[..steps] {
        let len = match &*v {
            Value::Object(m) => m.len(),
            Value::Array(a) => a.len(),
            _ => 0,
        };
        if len == 0 {
            break;
        }
        v = match v {
            Value::Object(m) => m.values_mut().nth(i % len).unwrap(),
            Value::Array(a) => &mut a[i % len],
            _ => unreachable!("len > 0 only for containers"),
        };
    }
    v
}

/// A marker string a raw piece of JSON replaces once the document is serialized.
fn marker(n: usize) -> String {
    format!("@@raw{n}@@")
}

fn entry_mut(doc: &mut Value, entry: usize) -> Option<&mut serde_json::Map<String, Value>> {
    let list = doc.get_mut("certificates")?.as_array_mut()?;
    let len = list.len();
    if len == 0 {
        return None;
    }
    list[entry % len].as_object_mut()
}

fn mutate(doc: &mut Value, m: &Mutation, raws: &mut Vec<String>) {
    match m {
        Mutation::Replace { walk, with } => {
            let v = target(doc, walk, false);
            *v = match with {
                Replacement::Null => Value::Null,
                Replacement::Bool(b) => Value::Bool(*b),
                Replacement::Int(i) => Value::from(*i),
                Replacement::Raw(i) => {
                    raws.push(RAW[*i].to_string());
                    Value::String(marker(raws.len() - 1))
                }
                Replacement::Str(s) => Value::String(s.clone()),
                Replacement::Long(n) => Value::String("A".repeat(*n)),
                Replacement::EmptyArray => Value::Array(Vec::new()),
                Replacement::EmptyObject => Value::Object(serde_json::Map::new()),
                Replacement::Nested(depth) => {
                    raws.push(format!("{}{}", "[".repeat(*depth), "]".repeat(*depth)));
                    Value::String(marker(raws.len() - 1))
                }
            };
        }
        Mutation::Remove { walk } => {
            if let Value::Object(m) = target(doc, walk, true) {
                let len = m.len();
                if len > 0 {
                    let key = m.keys().nth(walk.last().copied().unwrap_or(0) % len).cloned().unwrap();
                    m.remove(&key);
                }
            }
        }
        Mutation::Extra { walk } => {
            if let Value::Object(m) = target(doc, walk, true) {
                m.insert("unexpected".into(), Value::from("member"));
            }
        }
        Mutation::Duplicate { copies } => {
            if let Some(list) = doc.get_mut("certificates").and_then(Value::as_array_mut) {
                let original = list.clone();
                *list = original
                    .iter()
                    .cycle()
                    .take(if original.is_empty() { 0 } else { *copies })
                    .cloned()
                    .collect();
            }
        }
        Mutation::Traversal { entry, path } => {
            if let Some(e) = entry_mut(doc, *entry) {
                e.insert("path".into(), Value::from(PATHS[*path]));
            }
        }
        Mutation::BadDate { entry, field, date } => {
            if let Some(e) = entry_mut(doc, *entry) {
                e.insert(DATE_FIELDS[*field].into(), Value::from(DATES[*date]));
            }
        }
        Mutation::Format(f) => {
            if let Some(o) = doc.as_object_mut() {
                o.insert("format".into(), Value::from(*f));
            }
        }
    }
}

fn ledger_text(mutations: &[Mutation]) -> String {
    let mut doc = FIXTURE.ledger.clone();
    let mut raws = Vec::new();
    for m in mutations {
        mutate(&mut doc, m, &mut raws);
    }
    let mut text = serde_json::to_string_pretty(&doc).unwrap();
    for (i, raw) in raws.iter().enumerate() {
        text = text.replace(&format!("\"{}\"", marker(i)), raw);
    }
    text
}

// ---------------------------------------------------------------------------
// The property
// ---------------------------------------------------------------------------

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else if entry.file_name() != ".lock" {
            fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn check(ledger: &str) -> Result<(), TestCaseError> {
    let start = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pki");
    copy_dir(&FIXTURE.dir, &dir);
    fs::write(dir.join("ledger.json"), ledger).unwrap();

    match Pki::open(&dir) {
        Err(e) => {
            let msg = e.to_string();
            prop_assert!(msg.contains("ledger.json"), "the error does not name ledger.json: {}", msg);
        }
        Ok(mut pki) => {
            let listed = pki.list();
            prop_assert_eq!(listed.len(), pki.ledger().certificates.len());
            prop_assert!(serde_json::to_string(&listed).is_ok());
            let _ = pki.needs_passphrase();
            // Re-issuing the CRLs reads the ledger's numbers, serials, revocations and days.
            match pki.reissue_crls(None) {
                Ok(written) => prop_assert_eq!(written.len(), 4),
                Err(e) => prop_assert!(!e.to_string().is_empty()),
            }
        }
    }
    // `pki verify`: the trust comes from the CA files, which the ledger must not disturb.
    let trust = Trust::from_pki_dir(&dir).unwrap();
    let server = dir.join("servers/db.example.com/server.crt");
    let report = pgharden_pki::verify_file(&trust, &server, Purpose::Server, Some("db.example.com")).unwrap();
    prop_assert!(!report.render_text().is_empty());
    prop_assert!(start.elapsed() < BOUND, "took {:?}", start.elapsed());
    Ok(())
}

/// Each top-level number at its extremes: the walks above reach them only now and then.
#[test]
fn every_number_at_its_extremes() {
    let with_raw = |set: &dyn Fn(&mut Value), raw: &str| {
        let mut doc = FIXTURE.ledger.clone();
        set(&mut doc);
        serde_json::to_string_pretty(&doc).unwrap().replace(&format!("\"{}\"", marker(0)), raw)
    };
    for raw in RAW {
        for field in ["format", "crl_days"] {
            let text = with_raw(&|doc| doc[field] = Value::String(marker(0)), raw);
            check(&text).unwrap_or_else(|e| panic!("{field} = {raw}: {e}"));
        }
        for ca in ["root", "server_ca", "client_ca"] {
            let text = with_raw(&|doc| doc["crl_numbers"][ca] = Value::String(marker(0)), raw);
            check(&text).unwrap_or_else(|e| panic!("crl_numbers.{ca} = {raw}: {e}"));
        }
    }
}

#[test]
fn the_fixture_ledger_opens_and_its_crls_reissue() {
    let text = ledger_text(&[]);
    check(&text).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("pki");
    copy_dir(&FIXTURE.dir, &dir);
    let pki = Pki::open(&dir).unwrap();
    assert_eq!(pki.list().len(), 6, "3 CAs, a server and two clients");
    // The raw markers put text serde_json's Value cannot hold where they stood.
    let raw = ledger_text(&[Mutation::Replace { walk: vec![usize::MAX], with: Replacement::Raw(0) }]);
    assert!(raw.contains("18446744073709551616"), "{raw}");
    // A path walk reaches the ledger's nested values.
    let mut doc = FIXTURE.ledger.clone();
    let v = target(&mut doc, &[0, 0, 0], false);
    assert!(!v.is_object(), "a walk ends on a leaf or an empty container: {v}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, max_shrink_iters: 100, ..ProptestConfig::default() })]

    #[test]
    fn mutated_ledgers_never_panic(mutations in proptest::collection::vec(mutation(), 1..4)) {
        check(&ledger_text(&mutations))?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 100, max_shrink_iters: 100, ..ProptestConfig::default() })]

    /// Byte-level damage on top: truncation and flips in the JSON text itself.
    #[test]
    fn damaged_ledger_text_never_panics(at in any::<usize>(), xor in 1u8..=255, cut in any::<bool>()) {
        let mut bytes = ledger_text(&[]).into_bytes();
        let i = at % bytes.len();
        if cut {
            bytes.truncate(i);
        } else {
            bytes[i] ^= xor;
        }
        check(&String::from_utf8_lossy(&bytes))?;
    }
}
