//! Checks on what the server accepts over the network, from the wire crate's scan: every cipher
//! suite accepted at any version (forward secrecy; no anonymous, NULL, EXPORT, RC4, DES, 3DES,
//! unapproved cipher, MD5 or SHA-1 MAC), and the key-exchange groups (NIST-approved curves,
//! FFDHE and DHE primes of at least 2048 bits). The settings that decide them are reported beside
//! each verdict, as the server's version names them: the setting is what to change, the scan is
//! what the server does. Suites: `ssl_ciphers` (TLS 1.2 and older) and, from PostgreSQL 18,
//! `ssl_tls13_ciphers` (before 18, TLS 1.3 suites are OpenSSL's defaults). Groups: `ssl_groups`
//! from 18, `ssl_ecdh_curve` before; `ssl_dh_params_file` for DHE.
//!
//! Owns: those judgements. Must not: scan or render the scan.

use pgharden_wire::scan::Scan;
use pgharden_wire::{Suite, group_name};

use crate::evidence::{Evidence, NetworkFacts};

use super::{Outcome, unknown, verdict};

/// Groups SP 800-186 and SP 800-56A approve for key agreement.
const APPROVED_GROUPS: &[u16] =
    &[0x001d, 0x001e, 0x0017, 0x0018, 0x0019, 0x0100, 0x0101, 0x0102, 0x0103, 0x0104];
/// The smallest DHE prime accepted.
const MIN_DHE_BITS: u16 = 2048;

fn scan_of(ev: &Evidence) -> Result<(&NetworkFacts, &Scan), Outcome> {
    let net = ev.network.as_ref().map_err(unknown)?;
    let scan = net.scan.as_ref().map_err(unknown)?;
    Ok((net, scan))
}

/// The settings `names` as the server runs with them, for the evidence (nothing when the settings
/// or the version are unknown).
fn settings_shown(ev: &Evidence, names: impl Fn(u32) -> Vec<&'static str>) -> Vec<String> {
    let (Ok(settings), Ok(major)) = (&ev.settings, &ev.major) else { return Vec::new() };
    names(*major)
        .into_iter()
        .map(|name| match settings.get(name) {
            Some(s) => format!("{name} = '{}'", pgharden_text::line(&s.value)),
            None => format!("{name}: the server does not show it"),
        })
        .collect()
}

fn suite_settings(major: u32) -> Vec<&'static str> {
    if major >= 18 { vec!["ssl_ciphers", "ssl_tls13_ciphers"] } else { vec!["ssl_ciphers"] }
}

fn group_settings(major: u32) -> Vec<&'static str> {
    let groups = if major >= 18 { "ssl_groups" } else { "ssl_ecdh_curve" };
    vec![groups, "ssl_dh_params_file"]
}

/// Every accepted suite is fit for the STIG; a failure names each suite, its version and why.
pub(super) fn accepted_suites(ev: &Evidence) -> Outcome {
    let (net, scan) = match scan_of(ev) {
        Ok(x) => x,
        Err(o) => return o,
    };
    let mut problems = Vec::new();
    let mut count = 0;
    for (version, code) in scan.accepted() {
        count += 1;
        let Some(suite) = Suite::by_code(code) else {
            problems.push(format!(
                "{version} {}: a suite pgharden does not know",
                pgharden_wire::suites::name_of(code)
            ));
            continue;
        };
        let weak = suite.weaknesses();
        if !weak.is_empty() {
            let words: Vec<&str> = weak.iter().map(|w| w.label()).collect();
            problems.push(format!("{version} {} ({}): {}", suite.name, suite.openssl, words.join(", ")));
        }
    }
    if scan.sslv2.accepted || scan.sslv3.accepted {
        problems.insert(
            0,
            format!("{} speaks {}", net.target, if scan.sslv2.accepted { "SSLv2" } else { "SSLv3" }),
        );
    }
    if !problems.is_empty() {
        problems.insert(
            0,
            format!("{}: {} of {count} accepted cipher suites are weak", net.target, problems.len()),
        );
    }
    let mut out = verdict(problems, || {
        format!(
            "{}: all {count} accepted cipher suites have forward secrecy and approved algorithms",
            net.target
        )
    });
    out.evidence.extend(settings_shown(ev, suite_settings));
    if let Some(major) = ev.major.as_ref().ok().copied().filter(|m| *m < 18) {
        out.evidence.push(format!(
            "TLS 1.3 suites: PostgreSQL {major} has no setting for them (OpenSSL's defaults; ssl_tls13_ciphers came in 18)"
        ));
    }
    out
}

/// Every accepted group is approved and DHE primes are large enough.
pub(super) fn accepted_groups(ev: &Evidence) -> Outcome {
    let (net, scan) = match scan_of(ev) {
        Ok(x) => x,
        Err(o) => return o,
    };
    let mut problems = Vec::new();
    let mut seen = Vec::new();
    for v in scan.versions.iter().filter(|v| v.is_accepted()) {
        for g in &v.groups {
            if !seen.contains(g) {
                seen.push(*g);
            }
            if !APPROVED_GROUPS.contains(g) {
                problems.push(format!(
                    "{} accepts group {}, which NIST does not approve",
                    v.version,
                    group_name(*g)
                ));
            }
        }
        if let Some(bits) = v.dhe_bits.filter(|b| *b < MIN_DHE_BITS) {
            problems
                .push(format!("{}: DHE with a {bits}-bit prime (at least {MIN_DHE_BITS} needed)", v.version));
        }
    }
    let names: Vec<String> = seen.iter().map(|g| group_name(*g)).collect();
    let listed = if names.is_empty() { "none (no ECDHE)".to_string() } else { names.join(", ") };
    let mut out = verdict(problems, || format!("{}: accepted groups {listed}", net.target));
    out.evidence.extend(settings_shown(ev, group_settings));
    out
}
