//! Checks on who may connect and what roles may do: pg_hba.conf (with its includes), pg_ident.conf
//! maps, role attributes, password hashes, PUBLIC's CREATE, untrusted languages.
//!
//! Owns: those judgements, with the approvals of the policy. Must not: gather evidence.

use pgharden_conf::hba::{ConnType, Method, Rule};
use pgharden_conf::ident::Mapping;

use crate::evidence::Evidence;
use crate::model::Policy;

use super::{Outcome, fail, pass, unknown, verdict};

/// The rules on disk, unless the server refuses the file (then they are not what is in force).
fn rules_in_force(ev: &Evidence) -> Result<&[Rule], Outcome> {
    if let Some(refused) = super::acceptance::refusal(&ev.hba_reading, "pg_hba.conf") {
        return Err(refused);
    }
    ev.hba_rules.as_deref().map_err(unknown)
}

fn hba_lines(ev: &Evidence, what: &str, bad: impl Fn(&Rule) -> bool) -> Outcome {
    let rules = match rules_in_force(ev) {
        Ok(r) => r,
        Err(o) => return o,
    };
    let offending: Vec<String> = rules
        .iter()
        .filter(|r| bad(r))
        .map(|r| format!("{}:{}: allows {what}", r.at.file.display(), r.at.line))
        .collect();
    verdict(offending, || format!("no pg_hba.conf line allows {what} ({} lines)", rules.len()))
}

fn is_tcp(r: &Rule) -> bool {
    r.conn_type != ConnType::Local
}

fn accepts(r: &Rule) -> bool {
    r.effective_method() != Method::Reject
}

pub(super) fn no_trust(ev: &Evidence) -> Outcome {
    hba_lines(ev, "trust", |r| r.effective_method() == Method::Trust)
}

pub(super) fn no_weak_password(ev: &Evidence) -> Outcome {
    hba_lines(ev, "password or md5", |r| matches!(r.effective_method(), Method::Password | Method::Md5))
}

/// TCP lines are hostssl or hostgssenc (GSSAPI encryption is encryption in transit), or reject.
pub(super) fn tcp_only_encrypted(ev: &Evidence) -> Outcome {
    hba_lines(ev, "TCP without TLS or GSSAPI encryption", |r| {
        matches!(r.conn_type, ConnType::Host | ConnType::HostNoSsl | ConnType::HostNoGssEnc) && accepts(r)
    })
}

pub(super) fn client_certificates(ev: &Evidence) -> Outcome {
    hba_lines(ev, "TLS without a client certificate", |r| {
        r.conn_type == ConnType::HostSsl && accepts(r) && !r.requires_client_cert()
    })
}

/// CD16-00-000200: "All records must use an auth-method of gss, sspi, ldap or cert" — for the
/// network; local lines authenticate by the operating system.
pub(super) fn strong_authentication(ev: &Evidence) -> Outcome {
    hba_lines(ev, "network logins without a certificate, gss, sspi or ldap", |r| {
        is_tcp(r)
            && accepts(r)
            && !r.requires_client_cert()
            && !matches!(r.effective_method(), Method::Gss | Method::Sspi | Method::Ldap)
    })
}

/// pg_ident.conf maps that pg_hba.conf lines use (`map=`): a line may keep the name (`\1` from a
/// regex, or the same literal), or name one system user for one ordinary role. A regex to a fixed
/// role lets every matching certificate become that role; a name to a superuser, a group or `all`
/// hands out more than the certificate says — each a finding unless approved (`MAP:ROLE`).
pub(super) fn ident_mappings(ev: &Evidence, policy: &Policy) -> Outcome {
    let rules = match rules_in_force(ev) {
        Ok(r) => r,
        Err(o) => return o,
    };
    let mut used: Vec<&str> = rules.iter().filter(|r| accepts(r)).filter_map(|r| r.option("map")).collect();
    used.sort_unstable();
    used.dedup();
    if used.is_empty() {
        return pass("no pg_hba.conf line uses a pg_ident.conf map: each certificate's CN is its role");
    }
    if let Some(refused) = super::acceptance::refusal(&ev.ident_reading, "pg_ident.conf") {
        return refused;
    }
    let mappings = match &ev.ident_mappings {
        Ok(m) => m,
        Err(why) => return unknown(why),
    };
    if let Err(why) = &ev.roles {
        return unknown(why);
    }
    let major = match &ev.major {
        Ok(m) => *m,
        Err(why) => return unknown(why),
    };
    let mut problems = Vec::new();
    let mut checked = 0;
    for m in mappings.iter().filter(|m| used.contains(&m.map.as_str())) {
        checked += 1;
        let approved =
            policy.approved_mappings.iter().any(|(map, role)| *map == m.map && *role == m.role.text);
        if approved {
            continue;
        }
        if let Some(why) = mapping_problem(ev, major, m) {
            problems.push(format!(
                "{}:{}: map {} maps {} to {}: {why}",
                m.at.file.display(),
                m.at.line,
                m.map,
                m.system.render(),
                m.role.render()
            ));
        }
    }
    verdict(problems, || {
        format!(
            "{checked} lines of the maps {} keep each name or map it to one ordinary role",
            used.join(", ")
        )
    })
}

/// What a map line hands out beyond the certificate's own name. From PostgreSQL 16 the role column
/// takes `all`, `+group` and `/regex`; before, they are literal role names.
fn mapping_problem(ev: &Evidence, major: u32, m: &Mapping) -> Option<String> {
    let role = &m.role;
    if major >= 16 {
        if role.is_keyword("all") {
            return Some("every role".into());
        }
        if role.member_check().is_some() {
            return Some("any member of a group".into());
        }
        if role.regex_pattern().is_some() {
            return Some("any role the pattern matches".into());
        }
    }
    if m.system.regex_pattern().is_some() {
        return if role.text.contains("\\1") {
            None
        } else {
            Some("a regular expression to a fixed role: every matching certificate becomes it".into())
        };
    }
    if m.system.text != role.text && ev.is_superuser(&role.text) == Some(true) {
        return Some("a certificate of another name becomes a superuser".into());
    }
    None
}

pub(super) fn no_md5(ev: &Evidence) -> Outcome {
    match &ev.md5_roles {
        Ok(list) if list.is_empty() => pass("no roles with MD5 password hashes"),
        Ok(list) => fail(format!("roles with MD5 password hashes: {}", list.join(", "))),
        Err(why) => unknown(why),
    }
}

pub(super) fn pgcrypto(ev: &Evidence) -> Outcome {
    let dbs = match &ev.databases {
        Ok(d) => d,
        Err(why) => return unknown(why),
    };
    let without: Vec<&str> = dbs
        .iter()
        .filter(|d| !d.extensions.iter().any(|e| e == "pgcrypto"))
        .map(|d| d.name.as_str())
        .collect();
    if without.is_empty() {
        pass(format!("pgcrypto is installed in every database ({})", dbs.len()))
    } else {
        fail(format!("pgcrypto is not installed in {}", without.join(", ")))
    }
}

pub(super) fn superusers(ev: &Evidence, policy: &Policy) -> Outcome {
    let roles = match &ev.roles {
        Ok(r) => r,
        Err(why) => return unknown(why),
    };
    let extra: Vec<&str> = roles
        .iter()
        .filter(|r| r.superuser && !r.bootstrap && !policy.approved_superusers.contains(&r.name))
        .map(|r| r.name.as_str())
        .collect();
    let all: Vec<&str> = roles.iter().filter(|r| r.superuser).map(|r| r.name.as_str()).collect();
    if extra.is_empty() {
        pass(format!("superusers: {} (the bootstrap superuser and approved roles)", all.join(", ")))
    } else {
        fail(format!(
            "superusers besides the bootstrap one that are not approved (--approved-superuser): {}",
            extra.join(", ")
        ))
    }
}

/// CD16-00-004600: "If any nonadministrative role has the attribute Superuser, Create role,
/// Create DB or Bypass RLS, this is a finding."
pub(super) fn admin_attributes(ev: &Evidence, policy: &Policy) -> Outcome {
    let roles = match &ev.roles {
        Ok(r) => r,
        Err(why) => return unknown(why),
    };
    let problems: Vec<String> = roles
        .iter()
        .filter(|r| !r.superuser && !policy.approved_admins.contains(&r.name))
        .filter_map(|r| {
            let attrs: Vec<&str> =
                [(r.createrole, "CREATEROLE"), (r.createdb, "CREATEDB"), (r.bypassrls, "BYPASSRLS")]
                    .iter()
                    .filter(|(on, _)| *on)
                    .map(|(_, n)| *n)
                    .collect();
            (!attrs.is_empty()).then(|| {
                format!(
                    "role {} has {} and is not an approved administrator (--approved-admin)",
                    r.name,
                    attrs.join(", ")
                )
            })
        })
        .collect();
    verdict(problems, || {
        "no role but the superusers and approved administrators has CREATEROLE, CREATEDB or BYPASSRLS".into()
    })
}

/// CD16-00-000100: "A value of -1 indicates Unlimited and is a finding." Superusers are left out:
/// PostgreSQL does not apply a role's connection limit to them.
pub(super) fn connection_limits(ev: &Evidence) -> Outcome {
    let roles = match &ev.roles {
        Ok(r) => r,
        Err(why) => return unknown(why),
    };
    let max = ev.setting("max_connections").map(str::to_string).unwrap_or_else(|_| "?".into());
    let problems: Vec<String> = roles
        .iter()
        .filter(|r| r.login && !r.superuser && r.connlimit < 0)
        .map(|r| format!("role {} may open unlimited connections (ALTER ROLE … CONNECTION LIMIT n)", r.name))
        .collect();
    verdict(problems, || {
        let limited: Vec<String> = roles
            .iter()
            .filter(|r| r.login && !r.superuser)
            .map(|r| format!("{} {}", r.name, r.connlimit))
            .collect();
        format!(
            "max_connections = {max}; every login role has a limit: {}",
            if limited.is_empty() { "(no ordinary login roles)".into() } else { limited.join(", ") }
        )
    })
}

/// CD16-00-007700: CREATE for PUBLIC on a schema or database lets every role create objects.
pub(super) fn public_create(ev: &Evidence) -> Outcome {
    let dbs = match &ev.databases {
        Ok(d) => d,
        Err(why) => return unknown(why),
    };
    let mut problems = Vec::new();
    for d in dbs {
        for s in &d.public_create_schemas {
            problems.push(format!(
                "database {}: PUBLIC may CREATE in schema {s} (REVOKE CREATE ON SCHEMA {s} FROM PUBLIC)",
                d.name
            ));
        }
        if d.public_create_database {
            problems.push(format!(
                "database {}: PUBLIC may CREATE schemas (REVOKE CREATE ON DATABASE … FROM PUBLIC)",
                d.name
            ));
        }
    }
    verdict(problems, || format!("PUBLIC may not CREATE in any schema or database ({} databases)", dbs.len()))
}

/// CD16-00-006800: untrusted procedural languages need the AO's authorization.
pub(super) fn untrusted_languages(ev: &Evidence, policy: &Policy) -> Outcome {
    let dbs = match &ev.databases {
        Ok(d) => d,
        Err(why) => return unknown(why),
    };
    let mut problems = Vec::new();
    for d in dbs {
        for l in d.untrusted_languages.iter().filter(|l| !policy.approved_languages.contains(l)) {
            problems.push(format!("database {}: untrusted language {l} is installed (--approved-language {l} if the AO authorized it)", d.name));
        }
    }
    verdict(problems, || format!("no unapproved untrusted language in {} databases", dbs.len()))
}

/// CD16-00-006900: privilege elevation that "can be invoked in ways other than intended". A
/// SECURITY DEFINER function that does not fix its search_path runs whatever objects its caller
/// puts first on the path, with its owner's privileges (PostgreSQL's "Writing SECURITY DEFINER
/// Functions Safely").
pub(super) fn definer_search_path(ev: &Evidence) -> Outcome {
    let dbs = match &ev.databases {
        Ok(d) => d,
        Err(why) => return unknown(why),
    };
    let problems: Vec<String> = dbs
        .iter()
        .flat_map(|d| {
            d.definers_without_search_path.iter().map(move |f| {
                format!(
                    "database {}: SECURITY DEFINER function {f} does not set search_path (ALTER FUNCTION … SET search_path = …)",
                    d.name
                )
            })
        })
        .collect();
    verdict(problems, || {
        format!("every SECURITY DEFINER function fixes its search_path ({} databases)", dbs.len())
    })
}

/// The extensions the hardening profile itself installs; others need the ISSM's approval.
const PROFILE_EXTENSIONS: &[&str] = &["plpgsql", "pgaudit", "pgcrypto"];

/// CD16-00-003200 / 003400: "If any extensions exist that are not approved, this is a finding."
pub(super) fn approved_extensions(ev: &Evidence, policy: &Policy) -> Outcome {
    let dbs = match &ev.databases {
        Ok(d) => d,
        Err(why) => return unknown(why),
    };
    let approved =
        |e: &String| PROFILE_EXTENSIONS.contains(&e.as_str()) || policy.approved_extensions.contains(e);
    let problems: Vec<String> = dbs
        .iter()
        .flat_map(|d| {
            d.extensions.iter().filter(|e| !approved(e)).map(move |e| {
                format!(
                    "database {}: extension {e} is not approved (--approved-extension {e} if it is)",
                    d.name
                )
            })
        })
        .collect();
    verdict(problems, || {
        let mut all: Vec<&str> = dbs.iter().flat_map(|d| d.extensions.iter().map(String::as_str)).collect();
        all.sort_unstable();
        all.dedup();
        format!("installed extensions, all approved: {}", all.join(", "))
    })
}
