//! `postgresql://` and `postgres://` URIs, as libpq's `conninfo_uri_parse_options` reads them.
//!
//! Owns: `user:password@`, comma-separated `host:port` lists, bracketed IPv6 hosts, `/dbname`,
//! `?keyword=value&…` (with the JDBC alias `ssl=true`), and percent-decoding of every part
//! (which is how a Unix socket directory is written as a host: `%2Fvar%2Frun%2Fpostgresql`).
//! libpq's scanner is reproduced step by step, quirks included: for instance the look-ahead for
//! `@` stops only at `/`, so a `?` does not end the user-info part. Unlike libpq, errors never
//! quote a password: a URI shown in a message has its passwords replaced by `***`.
//! Must not: apply defaults or validate values beyond what libpq's URI parser does.

use super::{Conninfo, KEYWORDS, keywords};
use crate::error::ConninfoError;

const PREFIXES: [&str; 2] = ["postgresql://", "postgres://"];

/// The URI without its scheme, if `s` is a URI.
pub(super) fn strip_prefix(s: &str) -> Option<&str> {
    PREFIXES.iter().find_map(|p| s.strip_prefix(p))
}

/// Parse `rest` (the URI after its scheme) into `info`. `uri` is the whole string, for messages.
pub(super) fn parse(uri: &str, rest: &str, info: &mut Conninfo) -> Result<(), ConninfoError> {
    // Byte offsets below are relative to `b`; `offset` turns them into positions in `uri`.
    let offset = uri.len() - rest.len();
    let b = rest.as_bytes();
    let at = |i: usize| b.get(i).copied().unwrap_or(0);

    let mut p = user_info(rest, info)?;

    // host[:port] pairs separated by commas.
    let mut hosts = String::new();
    let mut ports = String::new();
    let mut prevchar;
    loop {
        let host;
        if at(p) == b'[' {
            p += 1;
            let start = p;
            while at(p) != 0 && at(p) != b']' {
                p += 1;
            }
            if at(p) == 0 {
                return Err(ConninfoError::UriUnterminatedIpv6(shown(uri)));
            }
            if p == start {
                return Err(ConninfoError::UriEmptyIpv6(shown(uri)));
            }
            host = &rest[start..p];
            p += 1;
            let c = at(p);
            if c != 0 && !matches!(c, b':' | b'/' | b'?' | b',') {
                return Err(ConninfoError::UriUnexpectedChar {
                    ch: rest[p..].chars().next().unwrap_or('\0'),
                    position: offset + p + 1,
                    uri: shown(uri),
                });
            }
        } else {
            let start = p;
            while at(p) != 0 && !matches!(at(p), b':' | b'/' | b'?' | b',') {
                p += 1;
            }
            host = &rest[start..p];
        }
        hosts.push_str(host);
        prevchar = at(p);
        if prevchar == b':' {
            p += 1;
            let start = p;
            while at(p) != 0 && !matches!(at(p), b'/' | b'?' | b',') {
                p += 1;
            }
            ports.push_str(&rest[start..p]);
            prevchar = at(p);
        }
        if prevchar != b',' {
            break;
        }
        p += 1;
        hosts.push(',');
        ports.push(',');
    }
    if !hosts.is_empty() {
        store_decoded(info, "host", &hosts)?;
    }
    if !ports.is_empty() {
        store_decoded(info, "port", &ports)?;
    }

    // prevchar is the byte at p: 0 (end), '/' or '?'.
    if prevchar != 0 && prevchar != b'?' {
        p += 1;
        let start = p;
        while at(p) != 0 && at(p) != b'?' {
            p += 1;
        }
        // An empty dbname is not stored: that would force the default (the user name) and hide
        // PGDATABASE, whereas an absent one lets PGDATABASE apply.
        if p > start {
            store_decoded(info, "dbname", &rest[start..p])?;
        }
        prevchar = at(p);
    }
    if prevchar != 0 {
        query(&rest[p + 1..], info)?;
    }
    Ok(())
}

/// Where `user[:password]@` ends, if an `@` comes before the first `/`.
fn user_info_end(rest: &str) -> Option<usize> {
    rest.bytes().take_while(|b| *b != b'/').position(|b| b == b'@')
}

/// `user[:password]` split at the first `:`.
fn split_credentials(creds: &str) -> (&str, Option<&str>) {
    match creds.find(':') {
        Some(colon) => (&creds[..colon], Some(&creds[colon + 1..])),
        None => (creds, None),
    }
}

/// `user[:password]@`, if an `@` comes before the first `/`. Returns where the host part starts.
fn user_info(rest: &str, info: &mut Conninfo) -> Result<usize, ConninfoError> {
    let Some(at_sign) = user_info_end(rest) else {
        return Ok(0);
    };
    let (user, password) = split_credentials(&rest[..at_sign]);
    if !user.is_empty() {
        store_decoded(info, "user", user)?;
    }
    if let Some(pw) = password.filter(|pw| !pw.is_empty()) {
        store_decoded(info, "password", pw)?;
    }
    Ok(at_sign + 1)
}

/// `keyword=value&…`: both sides percent-decoded; unknown keywords are refused.
fn query(params: &str, info: &mut Conninfo) -> Result<(), ConninfoError> {
    if params.is_empty() {
        return Ok(());
    }
    let mut segments: Vec<&str> = params.split('&').collect();
    // A trailing `&` ends the list in libpq; an empty parameter elsewhere is an error.
    if segments.len() > 1 && segments.last() == Some(&"") {
        segments.pop();
    }
    for param in segments {
        let mut parts = param.splitn(3, '=');
        let raw_key = parts.next().unwrap_or_default();
        let Some(raw_value) = parts.next() else {
            return Err(ConninfoError::UriMissingSeparator(raw_key.to_owned()));
        };
        if parts.next().is_some() {
            return Err(ConninfoError::UriExtraSeparator(raw_key.to_owned()));
        }
        let key = decode(raw_key)?;
        let value = decode_value(&key, raw_value)?;
        // JDBC compatibility, as in libpq.
        let jdbc_ssl = key.as_str() == "ssl" && value.as_str() == "true";
        let (key, value) = if jdbc_ssl { ("sslmode", "require") } else { (key.as_str(), value.as_str()) };
        if info.store(key, value).is_none() {
            return Err(ConninfoError::InvalidUriParameter(key.to_owned()));
        }
    }
    Ok(())
}

fn store_decoded(info: &mut Conninfo, keyword: &str, raw: &str) -> Result<(), ConninfoError> {
    let value = decode_value(keyword, raw)?;
    // Only called with keywords that exist.
    info.store(keyword, &value).ok_or_else(|| ConninfoError::InvalidOption(keyword.to_owned()))
}

/// The secret keyword `keyword` names, if it names one.
fn secret_keyword(keyword: &str) -> Option<&'static str> {
    keywords::lookup(keyword).map(|i| &KEYWORDS[i]).filter(|k| k.secret).map(|k| k.name)
}

/// [`decode`] for the value of `keyword`; a secret's encoded text is never quoted back.
fn decode_value(keyword: &str, raw: &str) -> Result<zeroize::Zeroizing<String>, ConninfoError> {
    decode(raw).map_err(|e| secret_keyword(keyword).map_or(e, ConninfoError::UriSecretEncoding))
}

/// `uri` as messages quote it: the user-info password and the values of secret query
/// parameters (`password`, `sslpassword`) replaced by `***`. Everything else is kept, so that
/// the error's position still points near the culprit.
fn shown(uri: &str) -> String {
    let Some(rest) = strip_prefix(uri) else {
        return uri.to_owned();
    };
    let mut out = uri[..uri.len() - rest.len()].to_owned();
    let mut tail = rest;
    if let Some(at_sign) = user_info_end(rest) {
        let (user, password) = split_credentials(&rest[..at_sign]);
        out.push_str(user);
        if password.is_some() {
            out.push_str(":***");
        }
        out.push('@');
        tail = &rest[at_sign + 1..];
    }
    let Some(q) = tail.find('?') else {
        out.push_str(tail);
        return out;
    };
    out.push_str(&tail[..=q]);
    let params: Vec<String> = tail[q + 1..]
        .split('&')
        .map(|param| match param.split_once('=') {
            Some((key, _)) if decode(key).is_ok_and(|k| secret_keyword(&k).is_some()) => format!("{key}=***"),
            _ => param.to_owned(),
        })
        .collect();
    out.push_str(&params.join("&"));
    out
}

/// libpq's `conninfo_uri_decode`: `%XX` escapes, `%00` forbidden. Errors quote the encoded text.
fn decode(s: &str) -> Result<zeroize::Zeroizing<String>, ConninfoError> {
    let b = s.as_bytes();
    let mut out = zeroize::Zeroizing::new(Vec::with_capacity(b.len()));
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'%' {
            out.push(b[i]);
            i += 1;
            continue;
        }
        let hex = |j: usize| b.get(j).and_then(|c| (*c as char).to_digit(16));
        let (Some(hi), Some(lo)) = (hex(i + 1), hex(i + 2)) else {
            return Err(ConninfoError::InvalidPercentEncoding(s.to_owned()));
        };
        let byte = (hi << 4 | lo) as u8;
        if byte == 0 {
            return Err(ConninfoError::PercentEncodedNul(s.to_owned()));
        }
        out.push(byte);
        i += 3;
    }
    match std::str::from_utf8(&out) {
        Ok(text) => Ok(zeroize::Zeroizing::new(text.to_owned())),
        Err(_) => Err(ConninfoError::NotUtf8(s.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Render like libpq's `libpq_uri_regress`: set options in libpq order, quoted, then
    /// `(local)` or `(inet)`.
    fn regress(uri: &str) -> Result<String, ConninfoError> {
        let info = match Conninfo::parse(uri) {
            Ok(i) => i,
            Err(crate::Error::Conninfo(e)) => return Err(e),
            Err(e) => panic!("{e}"),
        };
        let mut out = String::new();
        // libpq_uri_regress prints user, password, dbname, host, hostaddr, port, then the rest.
        let order = ["user", "password", "dbname", "host", "hostaddr", "port", "sslmode"];
        for k in order {
            if let Some(v) = info.get(k) {
                out.push_str(&format!("{k}='{v}' "));
            }
        }
        let host = info.get("host").unwrap_or("");
        let local = info.get("hostaddr").is_none() && (host.is_empty() || host.starts_with('/'));
        out.push_str(if local { "(local)" } else { "(inet)" });
        Ok(out)
    }

    /// The cases of PostgreSQL's src/interfaces/libpq/t/001_uri.pl, with the expected output of
    /// its `libpq_uri_regress` program.
    #[test]
    fn libpq_uri_regress_cases() {
        let ok: &[(&str, &str)] = &[
            (
                "postgresql://uri-user:secret@host:12345/db",
                "user='uri-user' password='secret' dbname='db' host='host' port='12345' (inet)",
            ),
            (
                "postgresql://uri-user@host:12345/db",
                "user='uri-user' dbname='db' host='host' port='12345' (inet)",
            ),
            ("postgresql://uri-user@host/db", "user='uri-user' dbname='db' host='host' (inet)"),
            ("postgresql://host:12345/db", "dbname='db' host='host' port='12345' (inet)"),
            ("postgresql://host/db", "dbname='db' host='host' (inet)"),
            ("postgresql://uri-user@host:12345/", "user='uri-user' host='host' port='12345' (inet)"),
            ("postgresql://uri-user@host/", "user='uri-user' host='host' (inet)"),
            ("postgresql://uri-user@", "user='uri-user' (local)"),
            ("postgresql://host:12345/", "host='host' port='12345' (inet)"),
            ("postgresql://host:12345", "host='host' port='12345' (inet)"),
            ("postgresql://host/", "host='host' (inet)"),
            ("postgresql://host", "host='host' (inet)"),
            ("postgresql://", "(local)"),
            ("postgresql://?hostaddr=127.0.0.1", "hostaddr='127.0.0.1' (inet)"),
            ("postgresql://example.com?hostaddr=63.1.2.4", "host='example.com' hostaddr='63.1.2.4' (inet)"),
            ("postgresql://%68ost/", "host='host' (inet)"),
            ("postgresql://host/db?user=uri-user", "user='uri-user' dbname='db' host='host' (inet)"),
            (
                "postgresql://host/db?user=uri-user&port=12345",
                "user='uri-user' dbname='db' host='host' port='12345' (inet)",
            ),
            (
                "postgresql://host/db?u%73er=someotheruser&port=12345",
                "user='someotheruser' dbname='db' host='host' port='12345' (inet)",
            ),
            ("postgresql://host:12345?user=uri-user", "user='uri-user' host='host' port='12345' (inet)"),
            ("postgresql://host?user=uri-user", "user='uri-user' host='host' (inet)"),
            ("postgresql://host?", "host='host' (inet)"),
            ("postgresql://[::1]:12345/db", "dbname='db' host='::1' port='12345' (inet)"),
            ("postgresql://[::1]/db", "dbname='db' host='::1' (inet)"),
            ("postgresql://[2001:db8::1234]/", "host='2001:db8::1234' (inet)"),
            ("postgresql://[200z:db8::1234]/", "host='200z:db8::1234' (inet)"),
            ("postgresql://[::1]", "host='::1' (inet)"),
            ("postgres://", "(local)"),
            ("postgres:///", "(local)"),
            ("postgres:///db", "dbname='db' (local)"),
            ("postgres://uri-user@/db", "user='uri-user' dbname='db' (local)"),
            ("postgres://?host=/path/to/socket/dir", "host='/path/to/socket/dir' (local)"),
            ("postgres://@host", "host='host' (inet)"),
            ("postgres://host:/", "host='host' (inet)"),
            ("postgres://:12345/", "port='12345' (local)"),
            (
                "postgres://otheruser@?host=/no/such/directory",
                "user='otheruser' host='/no/such/directory' (local)",
            ),
            (
                "postgres://otheruser@/?host=/no/such/directory",
                "user='otheruser' host='/no/such/directory' (local)",
            ),
            (
                "postgres://otheruser@:12345?host=/no/such/socket/path",
                "user='otheruser' host='/no/such/socket/path' port='12345' (local)",
            ),
            (
                "postgres://otheruser@:12345/db?host=/path/to/socket",
                "user='otheruser' dbname='db' host='/path/to/socket' port='12345' (local)",
            ),
            (
                "postgres://:12345/db?host=/path/to/socket",
                "dbname='db' host='/path/to/socket' port='12345' (local)",
            ),
            ("postgres://:12345?host=/path/to/socket", "host='/path/to/socket' port='12345' (local)"),
            (
                "postgres://%2Fvar%2Flib%2Fpostgresql/dbname",
                "dbname='dbname' host='/var/lib/postgresql' (local)",
            ),
            ("postgresql://host?sslmode=disable", "host='host' sslmode='disable' (inet)"),
            ("postgresql://host?sslmode=prefer", "host='host' sslmode='prefer' (inet)"),
            ("postgresql://host?ssl=true", "host='host' sslmode='require' (inet)"),
            ("postgresql://host?port=1&", "host='host' port='1' (inet)"),
        ];
        for (uri, want) in ok {
            assert_eq!(regress(uri).as_deref(), Ok(*want), "{uri}");
        }
    }

    #[test]
    fn libpq_uri_regress_errors() {
        use ConninfoError as E;
        let bad: &[(&str, E)] = &[
            ("postgresql://host/db?u%7aer=someotheruser&port=12345", E::InvalidUriParameter("uzer".into())),
            ("postgresql://host?uzer=", E::InvalidUriParameter("uzer".into())),
            ("postgre://", E::MissingEquals("postgre://".into())),
            ("postgres://[::1", E::UriUnterminatedIpv6("postgres://[::1".into())),
            ("postgres://[]", E::UriEmptyIpv6("postgres://[]".into())),
            (
                "postgres://[::1]z",
                E::UriUnexpectedChar { ch: 'z', position: 17, uri: "postgres://[::1]z".into() },
            ),
            ("postgresql://host?zzz", E::UriMissingSeparator("zzz".into())),
            ("postgresql://host?value1&value2", E::UriMissingSeparator("value1".into())),
            ("postgresql://host?key=key=value", E::UriExtraSeparator("key".into())),
            ("postgresql://host?port=1&&", E::UriMissingSeparator(String::new())),
            ("postgres://host?dbname=%XXfoo", E::InvalidPercentEncoding("%XXfoo".into())),
            ("postgresql://a%00b", E::PercentEncodedNul("a%00b".into())),
            ("postgresql://%zz", E::InvalidPercentEncoding("%zz".into())),
            ("postgresql://%1", E::InvalidPercentEncoding("%1".into())),
            ("postgresql://%", E::InvalidPercentEncoding("%".into())),
        ];
        for (uri, want) in bad {
            assert_eq!(regress(uri), Err(want.clone()), "{uri}");
        }
        // Passwords are never quoted back, wherever they are in the URI.
        let bad: &[(&str, E)] = &[
            (
                "postgresql://u:s3cret@[::1]x",
                E::UriUnexpectedChar { ch: 'x', position: 28, uri: "postgresql://u:***@[::1]x".into() },
            ),
            ("postgresql://u:s3cret@[::1", E::UriUnterminatedIpv6("postgresql://u:***@[::1".into())),
            (
                "postgresql://[]?password=s3cret&sslpassword=k3y&user=u",
                E::UriEmptyIpv6("postgresql://[]?password=***&sslpassword=***&user=u".into()),
            ),
            ("postgresql://u:s3%zzcret@h", E::UriSecretEncoding("password")),
            ("postgresql://h?p%61ssword=s3%00cret", E::UriSecretEncoding("password")),
            ("postgresql://h?sslpassword=%", E::UriSecretEncoding("sslpassword")),
        ];
        for (uri, want) in bad {
            assert_eq!(regress(uri), Err(want.clone()), "{uri}");
        }
        // The message texts are libpq's.
        assert_eq!(
            E::UriUnexpectedChar { ch: 'z', position: 17, uri: "postgres://[::1]z".into() }.to_string(),
            "unexpected character \"z\" at position 17 in URI (expected \":\" or \"/\"): \"postgres://[::1]z\""
        );
    }

    /// The URI examples of the libpq manual ("Connection URIs").
    #[test]
    fn libpq_manual_examples() {
        let cases: &[(&str, &str)] = &[
            ("postgresql://", "(local)"),
            ("postgresql://localhost", "host='localhost' (inet)"),
            ("postgresql://localhost:5433", "host='localhost' port='5433' (inet)"),
            ("postgresql://localhost/mydb", "dbname='mydb' host='localhost' (inet)"),
            ("postgresql://user@localhost", "user='user' host='localhost' (inet)"),
            ("postgresql://user:secret@localhost", "user='user' password='secret' host='localhost' (inet)"),
            (
                "postgresql:///mydb?host=localhost&port=5433",
                "dbname='mydb' host='localhost' port='5433' (inet)",
            ),
            ("postgresql://[2001:db8::1234]/database", "dbname='database' host='2001:db8::1234' (inet)"),
            (
                "postgresql:///dbname?host=/var/lib/postgresql",
                "dbname='dbname' host='/var/lib/postgresql' (local)",
            ),
            (
                "postgresql://%2Fvar%2Flib%2Fpostgresql/dbname",
                "dbname='dbname' host='/var/lib/postgresql' (local)",
            ),
        ];
        for (uri, want) in cases {
            assert_eq!(regress(uri).as_deref(), Ok(*want), "{uri}");
        }
        let c =
            Conninfo::parse("postgresql://other@localhost/otherdb?connect_timeout=10&application_name=myapp")
                .unwrap();
        assert_eq!(
            (
                c.get("user"),
                c.get("host"),
                c.get("dbname"),
                c.get("connect_timeout"),
                c.get("application_name")
            ),
            (Some("other"), Some("localhost"), Some("otherdb"), Some("10"), Some("myapp"))
        );
        let c = Conninfo::parse(
            "postgresql://host1:123,host2:456/somedb?target_session_attrs=any&application_name=myapp",
        )
        .unwrap();
        assert_eq!((c.get("host"), c.get("port")), (Some("host1,host2"), Some("123,456")));
        assert_eq!(c.get("target_session_attrs"), Some("any"));
    }

    #[test]
    fn multiple_hosts_and_sockets() {
        let c = Conninfo::parse("postgresql://h1:5433,[::1]:5434,h3/db?application_name=a%20b").unwrap();
        assert_eq!(c.get("host"), Some("h1,::1,h3"));
        assert_eq!(c.get("port"), Some("5433,5434,"));
        assert_eq!(c.get("application_name"), Some("a b"));
        let c = Conninfo::parse("postgresql://%2Fvar%2Frun%2Fpostgresql:5433/postgres").unwrap();
        assert_eq!(c.get("host"), Some("/var/run/postgresql"));
        assert_eq!(c.get("port"), Some("5433"));
        let c = Conninfo::parse("postgresql://u:p%40ss:w@h/d").unwrap();
        assert_eq!((c.get("user"), c.get("password")), (Some("u"), Some("p@ss:w")));
        // The query's host= overrides the authority's.
        let c = Conninfo::parse("postgresql://a/db?host=b").unwrap();
        assert_eq!(c.get("host"), Some("b"));
        // Scheme matching is case-sensitive, as in libpq.
        assert!(Conninfo::parse("POSTGRESQL://h").is_err());
    }
}
