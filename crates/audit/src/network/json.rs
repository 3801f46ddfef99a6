//! The `--json` form of a probe report (schema format [`FORMAT`](super::FORMAT), documented in the
//! README under "Proving it").
//!
//! Owns: how typed answers become JSON — a probe that failed is `{"probe_error": "…"}` in place of
//! its answer; suite and group codes are `"0xc02c"` strings beside their names; alerts are
//! `{"code": 70, "name": "protocol_version"}`; strings keep the server's original characters
//! (the printer escapes control characters as JSON escapes). Must not: change what a report says.

use pgharden_wire::suites::{Auth, Cipher, Kx, Mac};
use pgharden_wire::{
    Alert, DirectTlsAnswer, Legacy, Scan, ServerMessage, StartupAnswer, StartupReply, Suite, SuiteWeakness,
    TlsVersionName, Verdict, VersionScan,
};
use serde::{Serialize, Serializer};

use super::Probed;

#[derive(Serialize)]
struct ProbeError<'a> {
    probe_error: &'a str,
}

/// The answer, or `{"probe_error": "…"}`.
pub(super) fn probed<T: Serialize, S: Serializer>(v: &Probed<T>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Ok(t) => t.serialize(s),
        Err(e) => ProbeError { probe_error: e }.serialize(s),
    }
}

/// `null` when not asked for, else as [`probed`].
pub(super) fn probed_opt<T: Serialize, S: Serializer>(
    v: &Option<Probed<T>>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match v {
        None => s.serialize_none(),
        Some(p) => probed(p, s),
    }
}

#[derive(Serialize)]
struct AlertView {
    code: u8,
    name: &'static str,
}

fn alert(a: &Alert) -> AlertView {
    AlertView { code: a.description, name: a.name() }
}

#[derive(Serialize)]
struct ScanView<'a> {
    sslv2: &'a Legacy,
    sslv3: &'a Legacy,
    versions: Vec<VersionView>,
    handshakes: u32,
}

#[derive(Serialize)]
struct VersionView {
    version: TlsVersionName,
    /// `accepted`, `refused`, `other-version`, `closed`, `no-shared-suite`.
    verdict: &'static str,
    alert: Option<AlertView>,
    /// `other-version`: the version the server answered with (`"0x0301"`).
    answered_version: Option<String>,
    /// `closed`: whether the connection was reset rather than closed.
    reset: Option<bool>,
    suites: Vec<SuiteView>,
    groups: Vec<GroupView>,
    dhe_bits: Option<u16>,
}

#[derive(Serialize)]
pub(super) struct SuiteView {
    pub code: String,
    pub name: String,
    pub openssl_name: Option<&'static str>,
    pub key_exchange: Option<Kx>,
    pub authentication: Option<Auth>,
    pub cipher: Option<Cipher>,
    pub cipher_bits: Option<u16>,
    pub mac: Option<Mac>,
    pub forward_secrecy: Option<bool>,
    pub weaknesses: Vec<SuiteWeakness>,
}

#[derive(Serialize)]
struct GroupView {
    code: String,
    name: String,
}

pub(super) fn suite(code: u16) -> SuiteView {
    let known = Suite::by_code(code);
    SuiteView {
        code: format!("0x{code:04x}"),
        name: pgharden_wire::suites::name_of(code),
        openssl_name: known.map(|s| s.openssl),
        key_exchange: known.map(|s| s.kx),
        authentication: known.map(|s| s.auth),
        cipher: known.map(|s| s.cipher),
        cipher_bits: known.map(|s| s.bits),
        mac: known.map(|s| s.mac),
        forward_secrecy: known.map(Suite::forward_secrecy),
        weaknesses: known.map(Suite::weaknesses).unwrap_or_default(),
    }
}

fn version(v: &VersionScan) -> VersionView {
    let (verdict, al, answered, reset) = match &v.verdict {
        Verdict::Accepted => ("accepted", None, None, None),
        Verdict::Refused { alert: a } => ("refused", Some(alert(a)), None, None),
        Verdict::OtherVersion { version } => ("other-version", None, Some(format!("0x{version:04x}")), None),
        Verdict::Closed { reset } => ("closed", None, None, Some(*reset)),
        Verdict::NoSharedSuite { alert: a } => ("no-shared-suite", Some(alert(a)), None, None),
    };
    VersionView {
        version: v.version,
        verdict,
        alert: al,
        answered_version: answered,
        reset,
        suites: v.suites.iter().map(|c| suite(*c)).collect(),
        groups: v
            .groups
            .iter()
            .map(|g| GroupView { code: format!("0x{g:04x}"), name: pgharden_wire::group_name(*g) })
            .collect(),
        dhe_bits: v.dhe_bits,
    }
}

pub(super) fn scan<S: Serializer>(v: &Probed<Scan>, s: S) -> Result<S::Ok, S::Error> {
    let view = v.as_ref().map(|scan| ScanView {
        sslv2: &scan.sslv2,
        sslv3: &scan.sslv3,
        versions: scan.versions.iter().map(version).collect(),
        handshakes: scan.handshakes,
    });
    probed(&view.map_err(Clone::clone), s)
}

#[derive(Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
enum DirectView<'a> {
    Negotiated { version: TlsVersionName, cipher_suite: &'a str, alpn: Option<&'a str> },
    Alert { alert: AlertView },
    NotSupported { reason: &'a str },
}

pub(super) fn direct_tls<S: Serializer>(v: &Probed<DirectTlsAnswer>, s: S) -> Result<S::Ok, S::Error> {
    let view = v.as_ref().map(|a| match a {
        DirectTlsAnswer::Negotiated(f) => DirectView::Negotiated {
            version: f.negotiated_version,
            cipher_suite: &f.cipher_suite,
            alpn: f.alpn.as_deref(),
        },
        DirectTlsAnswer::Alert { alert: a } => DirectView::Alert { alert: alert(a) },
        DirectTlsAnswer::NotSupported { reason } => DirectView::NotSupported { reason },
    });
    probed(&view.map_err(Clone::clone), s)
}

#[derive(Serialize)]
struct StartupView<'a> {
    /// `authentication`, `refused`, `tls-alert`, `unknown`.
    reply: &'static str,
    /// `authentication`: the method asked for (`sasl`, `md5`, `ok`, …) and its details.
    authentication: Option<&'a pgharden_wire::AuthRequest>,
    /// `refused`: the server's ErrorResponse.
    error: Option<&'a ServerMessage>,
    /// `tls-alert`: the alert.
    alert: Option<AlertView>,
    /// Whether pg_hba.conf refused (`null`: the answer does not say).
    refused_by_hba: Option<bool>,
    notices: &'a [ServerMessage],
}

pub(super) fn startup<S: Serializer>(v: &Probed<StartupAnswer>, s: S) -> Result<S::Ok, S::Error> {
    let view = v.as_ref().map(|a| {
        let mut view = StartupView {
            reply: "unknown",
            authentication: None,
            error: None,
            alert: None,
            refused_by_hba: super::refused_by_hba(a),
            notices: &a.notices,
        };
        match &a.reply {
            StartupReply::Authentication(req) => {
                (view.reply, view.authentication) = ("authentication", Some(req));
            }
            StartupReply::Refused(m) => (view.reply, view.error) = ("refused", Some(m)),
            StartupReply::TlsAlert(al) => (view.reply, view.alert) = ("tls-alert", Some(alert(al))),
            _ => {}
        }
        view
    });
    probed(&view.map_err(Clone::clone), s)
}
