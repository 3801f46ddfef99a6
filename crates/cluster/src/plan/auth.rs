//! The authentication files of the plan: pg_hba.conf (the profile's lines for its level first —
//! mutual TLS, or SCRAM over TLS at a lower level — every other operator line commented out once)
//! and pg_ident.conf (the `pgharden` map of mutual TLS: each client certificate's CN to its role,
//! written as pg_ident's tokenizer reads it back; removed at a lower level, which maps nothing).
//!
//! Owns: which pg_hba.conf lines are the profile's, which pgharden wrote itself at any level
//! (replaced, never commented again, so switching levels back and forth piles nothing up), and
//! reading a CN out of an RFC 4514 subject.
//! Must not: write anything (the plan's caller does), or guess a CN it cannot read exactly.

use pgharden_conf::Token;
use pgharden_conf::hba::{AuthOption, ConnType, HbaFile, Method, Position, Record, Rule, RuleSpec};
use pgharden_conf::ident::{IdentFile, REMOVED_MARKER};
use pgharden_pki::{Kind, Pki, Status};

use super::{FILE_MODE, FileChange, mode_now, text_change};
use crate::discover::Cluster;
use crate::error::{Error, Result};
use crate::files::Files;
use crate::profile::{IDENT_MAP, Level, ProfileOptions};

/// The rules of the profile at its level, as pg_hba.conf lines: the owner's `local … peer`; for
/// each allowed network `hostssl` lines for all databases and replication (`cert` with
/// `clientcert=verify-full map=pgharden` at `mutual`, `scram-sha-256` at a lower level); and
/// `hostnossl … reject` at every level.
pub(crate) fn hba_specs(opts: &ProfileOptions, owner_role: &str) -> Vec<RuleSpec> {
    let (method, options) = match opts.level {
        Level::Mutual => (Method::Cert, cert_options()),
        Level::VerifyServer | Level::Encrypt => (Method::ScramSha256, Vec::new()),
    };
    let mut specs = vec![RuleSpec {
        conn_type: ConnType::Local,
        databases: vec![Token::keyword("all")],
        users: vec![Token::literal(owner_role)],
        address: None,
        method: Method::Peer,
        options: vec![],
    }];
    for net in &opts.allow {
        for db in ["all", "replication"] {
            specs.push(RuleSpec {
                conn_type: ConnType::HostSsl,
                databases: vec![Token::keyword(db)],
                users: vec![Token::keyword("all")],
                address: Some(net.clone()),
                method: method.clone(),
                options: options.clone(),
            });
        }
    }
    for net in ["0.0.0.0/0", "::/0"] {
        specs.push(RuleSpec {
            conn_type: ConnType::HostNoSsl,
            databases: vec![Token::keyword("all")],
            users: vec![Token::keyword("all")],
            address: Some(net.into()),
            method: Method::Reject,
            options: vec![],
        });
    }
    specs
}

/// pg_hba.conf: the profile's lines first; every other active line commented out (kept for the
/// record), so the file is a fixpoint: a second run finds exactly the profile's lines active.
/// A line that says what one of the profile's says (the owner's `local … peer`, however it is laid
/// out), and a line pgharden wrote for a network no longer allowed, is removed instead: the first
/// would otherwise show as disabled while an identical line stays active, the second would pile
/// up a commented copy at every re-plan. An operator's line is disabled once and stays so (a
/// commented line is no record).
pub(super) fn hba_change(
    cluster: &Cluster,
    files: &Files,
    opts: &ProfileOptions,
    owner_role: &str,
) -> Result<Option<FileChange>> {
    let mut hba = HbaFile::load_from(&cluster.hba_file, files)
        .map_err(|e| Error::bad(&cluster.hba_file, e.to_string()))?;
    let specs = hba_specs(opts, owner_role);
    let text = hba.to_string();
    let in_place = hba.records().len() == specs.len()
        && hba.records().iter().zip(&specs).all(|(r, s)| matches!(r, Record::Rule(rule) if s.matches(rule)));
    if in_place {
        return Ok(None);
    }
    let mut remove = Vec::new();
    let mut disable = Vec::new();
    for record in hba.records() {
        match record {
            Record::Rule(rule) if specs.iter().any(|s| s.matches(rule)) || written_by_pgharden(rule) => {
                remove.push(rule.at.clone());
            }
            other => disable.push(other.at().clone()),
        }
    }
    // New lines go where the first old record was (after the file's header comments); the old
    // records, now N lines further down, are commented out or removed in place (removed from the
    // bottom up, so the line numbers above stay right).
    for spec in specs.iter().rev() {
        let pos = if hba.records().is_empty() { Position::End } else { Position::Top };
        hba.insert(pos, spec).map_err(|e| Error::bad(&cluster.hba_file, e.to_string()))?;
    }
    let shifted = |mut at: pgharden_conf::hba::RuleRef| {
        at.line += specs.len();
        at.last_line += specs.len();
        at
    };
    for at in disable {
        hba.disable(&shifted(at)).map_err(|e| Error::bad(&cluster.hba_file, e.to_string()))?;
    }
    for at in remove.into_iter().rev() {
        hba.remove(&shifted(at)).map_err(|e| Error::bad(&cluster.hba_file, e.to_string()))?;
    }
    let problems: Vec<String> = hba.validate(cluster.major).iter().map(ToString::to_string).collect();
    if !problems.is_empty() {
        return Err(Error::Rejected {
            reason: format!("the new pg_hba.conf would be refused: {}", problems.join("; ")),
        });
    }
    Ok(Some(text_change(
        &cluster.hba_file,
        "client authentication",
        &text,
        hba.to_string(),
        mode_now(files, &cluster.hba_file)?,
        FILE_MODE,
    )))
}

/// A rule of the shape pgharden writes at some level, for all databases or replication, for every
/// user (whatever its network): mutual TLS through the `pgharden` map, or a lower level's
/// `hostssl … scram-sha-256` without options. The second shape is also what an operator may have
/// written by hand; such a line is removed rather than commented out (its words are the profile's,
/// and the file's previous version is kept as a backup), so that going from a lower level back to
/// `mutual` and down again never piles up commented copies.
fn written_by_pgharden(rule: &Rule) -> bool {
    let keyword = |items: &[pgharden_conf::Item], words: &[&str]| match items {
        [item] => item.token().is_some_and(|t| !t.quoted && words.contains(&t.text.as_str())),
        _ => false,
    };
    let profile_method = (rule.method == Method::Cert && rule.options == cert_options())
        || (rule.method == Method::ScramSha256 && rule.options.is_empty());
    rule.conn_type == ConnType::HostSsl
        && profile_method
        && keyword(&rule.databases, &["all", "replication"])
        && keyword(&rule.users, &["all"])
}

/// The options of the profile's `hostssl … cert` lines.
fn cert_options() -> Vec<AuthOption> {
    vec![
        AuthOption { name: "clientcert".into(), value: "verify-full".into() },
        AuthOption { name: "map".into(), value: IDENT_MAP.into() },
    ]
}

/// pg_ident.conf: the `pgharden` map holds exactly the profile's lines (none at a lower level, whose
/// hba lines name no map); other maps are untouched.
pub(super) fn ident_change(
    cluster: &Cluster,
    files: &Files,
    pki: Option<&Pki>,
    level: Level,
) -> Result<Option<FileChange>> {
    let path = &cluster.ident_file;
    // PostgreSQL starts without a pg_ident.conf; any other failure to read it is an error.
    let old = files.read_text_if_exists(path)?.unwrap_or_default();
    let mut ident = IdentFile::parse(&old, path);
    let mut wanted: Vec<(Token, Token)> = Vec::new();
    if level.client_certificates() {
        wanted.push((Token::regex("^(.*)$"), Token::literal("\\1")));
    }
    let clients =
        if level.client_certificates() { pki.map(Pki::list).unwrap_or_default() } else { Vec::new() };
    for l in clients {
        if l.entry.kind != Kind::Client || !matches!(l.status, Status::Valid) {
            continue;
        }
        // The CN as requested; only certificates from before requests were recorded need the
        // rendered subject.
        let cn = l.entry.request.as_ref().map(|r| r.cn.clone()).or_else(|| common_name(&l.entry.subject));
        let (Some(role), Some(cn)) = (l.entry.role.clone(), cn) else { continue };
        let pair = (Token::literal(&cn), Token::literal(&role));
        if cn != role && !wanted.contains(&pair) {
            wanted.push(pair);
        }
    }
    let current: Vec<(Token, Token)> =
        ident.mappings().filter(|m| m.map == IDENT_MAP).map(|m| (m.system.clone(), m.role.clone())).collect();
    if current == wanted {
        return Ok(None);
    }
    for (system, role) in &current {
        ident.remove(IDENT_MAP, system, role);
    }
    for (system, role) in &wanted {
        ident.add(IDENT_MAP, system, role).map_err(|e| Error::bad(path, e.to_string()))?;
    }
    let problems: Vec<String> = ident.validate(cluster.major).iter().map(ToString::to_string).collect();
    if !problems.is_empty() {
        return Err(Error::Rejected {
            reason: format!("the new pg_ident.conf would be refused: {}", problems.join("; ")),
        });
    }
    Ok(Some(text_change(
        path,
        "certificate name to role map",
        &old,
        without_removed_copies(&ident.to_string()),
        mode_now(files, path)?,
        FILE_MODE,
    )))
}

/// The text of pg_ident.conf without the `pgharden` map's lines that pgharden itself commented
/// out (`#pgharden … # removed by pgharden`): the map is pgharden's, so such a copy records nothing
/// an operator wrote, and keeping it would pile up a copy each time a level without the map is
/// applied and `mutual` again (or a client certificate comes and goes). The file's previous version
/// is kept as a backup.
fn without_removed_copies(text: &str) -> String {
    text.split_inclusive('\n')
        .filter(|line| {
            let line = line.trim_end();
            let copy = line
                .strip_prefix('#')
                .and_then(|rest| rest.strip_prefix(IDENT_MAP))
                .is_some_and(|rest| rest.starts_with([' ', '\t']));
            !(copy && line.ends_with(REMOVED_MARKER))
        })
        .collect()
}

/// The CN of an RFC 4514 subject such as `CN=bob,O=Example` or `CN=Smith\, John,O=Example`, its
/// escapes undone (`\,` `\+` `\"` `\\` and the other specials, `\XX` hex bytes of UTF-8). `None`
/// when there is no CN, more than one (which one the server reads depends on the order the
/// subject was rendered in, so none is guessed), a hex-encoded (`#…`) value, or a broken escape.
fn common_name(subject: &str) -> Option<String> {
    let mut found = None;
    for attribute in rfc4514_attributes(subject)? {
        let (kind, value) = attribute;
        if kind.eq_ignore_ascii_case("CN") || kind == "2.5.4.3" {
            if found.is_some() {
                return None;
            }
            found = Some(value);
        }
    }
    found
}

/// The `type=value` pairs of an RFC 4514 string, split at unescaped `,` and `+`, values unescaped.
fn rfc4514_attributes(subject: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut kind = String::new();
    let mut value: Vec<u8> = Vec::new();
    let mut in_value = false;
    let mut chars = subject.chars().peekable();
    let mut finish = |kind: &mut String, value: &mut Vec<u8>, in_value: &mut bool| -> Option<()> {
        if !*in_value {
            return None;
        }
        let text = String::from_utf8(std::mem::take(value)).ok()?;
        if text.starts_with('#') {
            return None;
        }
        out.push((std::mem::take(kind).trim().to_string(), text));
        *in_value = false;
        Some(())
    };
    while let Some(c) = chars.next() {
        match c {
            '=' if !in_value => in_value = true,
            '\\' if in_value => {
                let first = chars.next()?;
                match first.to_digit(16).zip(chars.peek().and_then(|n| n.to_digit(16))) {
                    Some((hi, lo)) => {
                        chars.next();
                        // Two hex digits are one byte (an invariant: both are below 16).
                        value.push(u8::try_from(hi * 16 + lo).ok()?);
                    }
                    None => {
                        let mut buf = [0u8; 4];
                        value.extend_from_slice(first.encode_utf8(&mut buf).as_bytes());
                    }
                }
            }
            ',' | '+' if in_value => finish(&mut kind, &mut value, &mut in_value)?,
            c if in_value => {
                let mut buf = [0u8; 4];
                value.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
            c => kind.push(c),
        }
    }
    if !subject.trim().is_empty() {
        finish(&mut kind, &mut value, &mut in_value)?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_names_come_out_of_rfc4514_subjects() {
        assert_eq!(common_name("CN=bob@ssl-test.com,O=Example"), Some("bob@ssl-test.com".into()));
        assert_eq!(common_name("O=Example"), None);
        assert_eq!(common_name("CN=Smith\\, John,O=Example"), Some("Smith, John".into()));
        assert_eq!(common_name("O=Example,CN=a\\+b\\\"c\\\\d"), Some("a+b\"c\\d".into()));
        assert_eq!(common_name("CN=J\\C3\\BCrgen"), Some("J\u{fc}rgen".into()), "UTF-8 in hex escapes");
        assert_eq!(common_name("CN=Jürgen+UID=7"), Some("Jürgen".into()), "multi-valued RDN");
        assert_eq!(common_name("CN=a,CN=b"), None, "which CN the server reads is not guessed");
        assert_eq!(common_name("CN=#0403626f62"), None, "hex-encoded values are not guessed");
        assert_eq!(common_name("CN=broken\\"), None);
    }

    #[test]
    fn hba_specs_render_the_profile() {
        let lines: Vec<String> =
            hba_specs(&ProfileOptions::default(), "postgres").iter().map(RuleSpec::render).collect();
        assert!(lines[0].starts_with("local") && lines[0].ends_with("peer"), "{lines:?}");
        assert!(lines.iter().any(|l| l.contains("clientcert=verify-full") && l.contains("map=pgharden")));
        assert!(lines.last().unwrap().contains("reject"));
    }

    #[test]
    fn only_pghardens_own_removed_map_lines_are_dropped() {
        let text = "# MAPNAME SYSTEM PG\n#pgharden  /^(.*)$  \\1 # removed by pgharden\nother a b\n\
                    #pgharden2 x y # removed by pgharden\n# pgharden kept by hand\n";
        assert_eq!(
            without_removed_copies(text),
            "# MAPNAME SYSTEM PG\nother a b\n#pgharden2 x y # removed by pgharden\n# pgharden kept by hand\n"
        );
    }

    #[test]
    fn lower_levels_write_scram_over_tls_and_still_refuse_plaintext() {
        for level in [Level::VerifyServer, Level::Encrypt] {
            let opts = ProfileOptions { level, ..Default::default() };
            let specs = hba_specs(&opts, "postgres");
            let lines: Vec<String> = specs.iter().map(RuleSpec::render).collect();
            let tcp: Vec<&String> = lines.iter().filter(|l| l.starts_with("hostssl")).collect();
            assert_eq!(tcp.len(), 4, "{lines:?}");
            assert!(tcp.iter().all(|l| l.ends_with("scram-sha-256")), "{lines:?}");
            assert!(
                !lines.iter().any(|l| l.contains("map=") || l.contains(" md5") || l.contains("password"))
            );
            assert_eq!(
                lines.iter().filter(|l| l.starts_with("hostnossl") && l.ends_with("reject")).count(),
                2
            );
            // What a lower level writes is recognised as pgharden's, so another level replaces it.
            let hba = HbaFile::parse(&lines.join("\n"), "/x/pg_hba.conf");
            let tcp_rules: Vec<&Rule> = hba.rules().filter(|r| r.conn_type == ConnType::HostSsl).collect();
            assert!(tcp_rules.iter().all(|r| written_by_pgharden(r)), "{lines:?}");
        }
        let operator = HbaFile::parse("hostssl app all 10.0.0.0/8 scram-sha-256\n", "/x/pg_hba.conf");
        assert!(!written_by_pgharden(operator.rules().next().unwrap()), "an operator's own database");
    }
}
