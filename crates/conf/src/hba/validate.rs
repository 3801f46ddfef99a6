//! What a given PostgreSQL major version refuses (or silently reads differently) when it loads
//! pg_hba.conf, from `parse_hba_line` and `parse_hba_auth_opt` of versions 14 to 18.
//!
//! A single refused line makes the server keep the previous pg_hba.conf on reload (and refuse to
//! start at boot), so every problem here names its file and line. Checks that depend on the build
//! assume a Linux build with SSL, GSSAPI, PAM and OpenLDAP (Debian's and PGDG's packages): `sspi`
//! and `bsd` are refused. Checks that need the network (RADIUS server names) or the server state
//! (`hostssl` with `ssl = off`) are not made. Checks that need a setting take it from
//! [`ServerSettings`]; when the caller does not know it, the line gets a warning saying what
//! could not be checked (an `oauth` line without a known `oauth_validator_libraries`).

use std::path::Path;

use super::server::split_directories;
use super::{ConnType, Method, Record, Rule, ServerSettings};
use crate::error::{Location, Problem, Severity, excerpt};
use crate::tokens::Item;
use crate::{NEWEST_MAJOR, OLDEST_MAJOR, pg_regex};

pub(super) fn validate(records: &[&Record], server: &ServerSettings, root: &Path) -> Vec<Problem> {
    let major = server.major;
    let mut problems = Vec::new();
    if !(OLDEST_MAJOR..=NEWEST_MAJOR).contains(&major) {
        problems.push(Problem::warning(
            Location::new(root, 0),
            format!("pgharden knows the rules of PostgreSQL {OLDEST_MAJOR} to {NEWEST_MAJOR}, not {major}"),
        ));
    }
    for record in records {
        match record {
            Record::Rule(rule) => check_rule(rule, server, &mut problems),
            Record::Invalid { at, message } => problems.push(Problem::error(at.location(), message.clone())),
            Record::Include { at, kind, .. } if major < 16 => problems.push(Problem::error(
                at.location(),
                format!(
                    "invalid connection type \"{}\" (include directives need PostgreSQL 16)",
                    kind.keyword()
                ),
            )),
            Record::Include { .. } => {}
        }
    }
    let has_rules = records.iter().any(|r| matches!(r, Record::Rule(_)));
    if !has_rules && problems.iter().all(|p| p.severity == Severity::Warning) {
        problems.push(Problem::error(Location::new(root, 0), "configuration file contains no entries"));
    }
    problems
}

fn check_rule(rule: &Rule, server: &ServerSettings, out: &mut Vec<Problem>) {
    let major = server.major;
    let at = rule.at.location();
    let mut error = |m: String| out.push(Problem::error(at.clone(), m));
    // hba.c gives up on a line at its first problem; the method is checked before the options.
    if let Some(m) = method_problem(rule, major) {
        error(m);
        return;
    }
    for option in &rule.options {
        if let Some(m) = option_problem(rule, major, &option.name, &option.value) {
            error(m);
        }
    }
    let mandatory = mandatory_problems(rule, major);
    let complete = mandatory.is_empty();
    for m in mandatory {
        error(m);
    }
    // hba.c asks for the validator once scope and issuer are there.
    if complete && rule.effective_method() == Method::OAuth && major >= 18 {
        out.extend(
            oauth_validator_problem(rule, server.oauth_validator_libraries.as_deref())
                .map(|(severity, message)| Problem { at: at.clone(), severity, message }),
        );
    }
    for m in ldap_scheme_warnings(rule) {
        out.push(Problem::warning(at.clone(), m));
    }
    regex_problems(rule, major, &at, out);
}

fn method_problem(rule: &Rule, major: u32) -> Option<String> {
    let method = rule.effective_method();
    let local = rule.conn_type == ConnType::Local;
    match method {
        Method::Unknown(word) => Some(format!("invalid authentication method \"{}\"", excerpt(&word))),
        Method::OAuth if major < 18 => {
            Some("invalid authentication method \"oauth\" (oauth needs PostgreSQL 18)".into())
        }
        Method::Sspi | Method::Bsd => Some(format!(
            "invalid authentication method \"{method}\": not supported by this build (Linux builds lack it)"
        )),
        Method::Gss if local => Some("gssapi authentication is not supported on local sockets".into()),
        Method::Peer if !local => Some("peer authentication is only supported on local sockets".into()),
        Method::Cert if rule.conn_type != ConnType::HostSsl => {
            Some("cert authentication is only supported on hostssl connections".into())
        }
        _ => None,
    }
}

/// `parse_hba_auth_opt` for one option.
fn option_problem(rule: &Rule, major: u32, name: &str, value: &str) -> Option<String> {
    let method = rule.effective_method();
    let only_for = |allowed: &[Method], list: &str| {
        (!allowed.contains(&method)).then(|| {
            format!(
                "authentication option \"{}\" is only valid for authentication methods {list}",
                excerpt(name)
            )
        })
    };
    match name {
        "map" if major >= 18 => only_for(
            &[Method::Ident, Method::Peer, Method::Gss, Method::Sspi, Method::Cert, Method::OAuth],
            "ident, peer, gssapi, sspi, cert, and oauth",
        ),
        "map" => only_for(
            &[Method::Ident, Method::Peer, Method::Gss, Method::Sspi, Method::Cert],
            "ident, peer, gssapi, sspi, and cert",
        ),
        "clientcert" => clientcert_problem(rule, major, value),
        "clientname" if rule.conn_type != ConnType::HostSsl => {
            Some("clientname can only be configured for \"hostssl\" rows".into())
        }
        "clientname" => (!matches!(value, "CN" | "DN"))
            .then(|| format!("invalid value for clientname: \"{}\"", excerpt(value))),
        "pamservice" | "pam_use_hostname" => only_for(&[Method::Pam], "pam"),
        "ldapport" => only_for(&[Method::Ldap], "ldap").or_else(|| {
            (atoi(value) == 0).then(|| format!("invalid LDAP port number: \"{}\"", excerpt(value)))
        }),
        "ldapurl"
        | "ldaptls"
        | "ldapscheme"
        | "ldapserver"
        | "ldapbinddn"
        | "ldapbindpasswd"
        | "ldapsearchattribute"
        | "ldapsearchfilter"
        | "ldapbasedn"
        | "ldapprefix"
        | "ldapsuffix" => only_for(&[Method::Ldap], "ldap"),
        "krb_realm" | "include_realm" => only_for(&[Method::Gss, Method::Sspi], "gssapi and sspi"),
        "compat_realm" | "upn_username" => only_for(&[Method::Sspi], "sspi"),
        "radiusports" => only_for(&[Method::Radius], "radius").or_else(|| {
            value
                .split(',')
                .any(|p| atoi(p) == 0)
                .then(|| format!("invalid RADIUS port number: \"{}\"", excerpt(value)))
        }),
        "radiusservers" | "radiussecrets" | "radiusidentifiers" => only_for(&[Method::Radius], "radius"),
        "issuer" | "scope" | "validator" | "delegate_ident_mapping" if major >= 18 => {
            only_for(&[Method::OAuth], "oauth")
        }
        _ => Some(format!("unrecognized authentication option name: \"{}\"", excerpt(name))),
    }
}

/// clientcert (PostgreSQL 12 added verify-ca / verify-full; 14 removed `1`, `0` and `no-verify`):
/// only on hostssl rows; `verify-full` or `verify-ca`; `cert` accepts only `verify-full`.
fn clientcert_problem(rule: &Rule, major: u32, value: &str) -> Option<String> {
    if rule.conn_type != ConnType::HostSsl {
        return Some("clientcert can only be configured for \"hostssl\" rows".into());
    }
    match value {
        v if clientcert_values(major).contains(&v) => (v == "verify-ca"
            && rule.effective_method() == Method::Cert)
            .then(|| "clientcert only accepts \"verify-full\" when using \"cert\" authentication".into()),
        "1" | "0" | "no-verify" => Some(format!(
            "invalid value for clientcert: \"{value}\" (removed in PostgreSQL 14; use verify-ca or verify-full, or omit it)"
        )),
        _ => Some(format!("invalid value for clientcert: \"{}\"", excerpt(value))),
    }
}

/// The clientcert values a major version accepts: the same for every version from 14 to 18.
pub(crate) fn clientcert_values(major: u32) -> &'static [&'static str] {
    if major >= 14 {
        &["verify-ca", "verify-full"]
    } else {
        &["1", "0", "verify-ca", "verify-full", "no-verify"]
    }
}

/// Options a method requires, and LDAP's mode rules.
fn mandatory_problems(rule: &Rule, major: u32) -> Vec<String> {
    let has = |n: &str| rule.option(n).is_some();
    let requires =
        |m: &str, arg: &str| format!("authentication method \"{m}\" requires argument \"{arg}\" to be set");
    let mut out = Vec::new();
    match rule.effective_method() {
        Method::Ldap => {
            let search =
                ["ldapbasedn", "ldapbinddn", "ldapbindpasswd", "ldapsearchattribute", "ldapsearchfilter"];
            if has("ldapprefix") || has("ldapsuffix") {
                if search.iter().any(|n| has(n)) {
                    out.push("cannot mix options for simple bind and search+bind modes".into());
                }
            } else if !has("ldapbasedn") && !has("ldapurl") {
                out.push(
                    "authentication method \"ldap\" requires argument \"ldapbasedn\", \"ldapprefix\", or \"ldapsuffix\" to be set"
                        .into(),
                );
            }
            if has("ldapsearchattribute") && has("ldapsearchfilter") {
                out.push("cannot use ldapsearchattribute together with ldapsearchfilter".into());
            }
        }
        Method::Radius => out.extend(radius_problems(rule)),
        Method::OAuth if major >= 18 => {
            for arg in ["scope", "issuer"] {
                if !has(arg) {
                    out.push(requires("oauth", arg));
                }
            }
            if rule.option("delegate_ident_mapping") == Some("1") && has("map") {
                out.push("map cannot be used in combination with delegate_ident_mapping".into());
            }
        }
        _ => {}
    }
    out
}

/// `check_oauth_validator` (auth-oauth.c): the line's `validator`, or the one library when no
/// validator is named, must be in `oauth_validator_libraries`; `libraries` is `None` when the
/// setting is not known.
fn oauth_validator_problem(rule: &Rule, libraries: Option<&str>) -> Option<(Severity, String)> {
    let error = |m: String| Some((Severity::Error, m));
    let Some(raw) = libraries else {
        return Some((
            Severity::Warning,
            "PostgreSQL 18 accepts an oauth line only when oauth_validator_libraries names its validator, \
             and that setting is not known here"
                .into(),
        ));
    };
    if raw.is_empty() {
        return error("oauth_validator_libraries must be set for authentication method oauth".into());
    }
    let Some(list) = split_directories(raw) else {
        return error("invalid list syntax in parameter \"oauth_validator_libraries\"".into());
    };
    match rule.option("validator") {
        None if list.len() == 1 => None,
        // See `ServerSettings::oauth_crashes_the_server`.
        None if list.is_empty() => error(
            "oauth_validator_libraries holds only blanks: PostgreSQL 18 crashes reading this line \
             (set it to the validator library, or name one with validator=)"
                .into(),
        ),
        None => error(
            "authentication method \"oauth\" requires argument \"validator\" to be set when \
             oauth_validator_libraries contains multiple options"
                .into(),
        ),
        Some(v) if list.iter().any(|l| l == v) => None,
        Some(v) => {
            error(format!("validator \"{}\" is not permitted by oauth_validator_libraries", excerpt(v)))
        }
    }
}

fn radius_problems(rule: &Rule) -> Vec<String> {
    let count = |n: &str| rule.option(n).map_or(0, |v| v.split(',').count());
    let mut out = Vec::new();
    for arg in ["radiusservers", "radiussecrets"] {
        if rule.option(arg).is_none() {
            out.push(format!("authentication method \"radius\" requires argument \"{arg}\" to be set"));
        }
    }
    let servers = count("radiusservers");
    if out.is_empty() {
        for (name, what, min) in [
            ("radiussecrets", "secrets", 1),
            ("radiusports", "ports", 0),
            ("radiusidentifiers", "identifiers", 0),
        ] {
            let n = count(name);
            if !(n == 1 || n == servers || (min == 0 && n == 0)) {
                out.push(format!(
                    "the number of RADIUS {what} ({n}) must be 1 or the same as the number of RADIUS servers ({servers})"
                ));
            }
        }
    }
    out
}

/// An invalid ldapscheme is logged but does not reject the line.
fn ldap_scheme_warnings(rule: &Rule) -> Vec<String> {
    match rule.option("ldapscheme") {
        Some(v) if v != "ldap" && v != "ldaps" => {
            vec![format!("invalid ldapscheme value: \"{}\"", excerpt(v))]
        }
        _ => Vec::new(),
    }
}

fn regex_problems(rule: &Rule, major: u32, at: &Location, out: &mut Vec<Problem>) {
    for item in rule.databases.iter().chain(&rule.users) {
        let Item::Token(token) = item else { continue };
        let Some(pattern) = token.regex_pattern() else { continue };
        if major < 16 {
            out.push(Problem::warning(
                at.clone(),
                format!(
                    "PostgreSQL {major} reads \"{}\" as a literal name (regular expressions need 16)",
                    excerpt(&token.text)
                ),
            ));
        } else if let Err(e) = pg_regex::compile(pattern) {
            out.push(Problem::warning(
                at.clone(),
                format!("{e}; PostgreSQL rejects the file if the regex is invalid"),
            ));
        }
    }
}

/// C's `atoi`: leading blanks, optional sign, digits; anything else ends the number.
fn atoi(s: &str) -> i64 {
    let s = s.trim_start();
    let (sign, digits) = match s.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, s.strip_prefix('+').unwrap_or(s)),
    };
    let end = digits.find(|c: char| !c.is_ascii_digit()).unwrap_or(digits.len());
    digits[..end].parse::<i64>().map_or(0, |n| sign * n)
}
