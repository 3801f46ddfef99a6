//! The password file (`~/.pgpass` or `passfile`/`PGPASSFILE`), as libpq's `passwordFromFile` reads it.
//!
//! Owns: the file's permission rule (ignored, with a warning, unless it is a plain file without any
//! group or other permission bits), its line format `host:port:db:user:password` with `\:` and `\\`
//! escapes and `*` wildcards, and first-match-wins lookup.
//! Must not: decide which host name stands for a Unix socket (the caller passes `localhost` where
//! libpq does) or print anything; warnings are returned.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use zeroize::Zeroizing;

use crate::secret::Secret;

/// What to look up: the four key fields, already defaulted as libpq does (empty port → `5432`,
/// default socket directory or empty host → `localhost`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PgpassEntry<'a> {
    pub host: &'a str,
    pub port: &'a str,
    pub dbname: &'a str,
    pub user: &'a str,
}

/// Look `entry` up in the password file at `path`. Returns the password (`None` if the file is
/// missing, unusable, or has no matching line, or the matching password is empty) and a warning
/// in libpq's words when the file was ignored.
pub(crate) fn lookup(path: &Path, entry: &PgpassEntry<'_>) -> (Option<Secret>, Option<String>) {
    let Ok(meta) = std::fs::metadata(path) else {
        return (None, None);
    };
    if !meta.is_file() {
        return (None, Some(format!("WARNING: password file \"{}\" is not a plain file", path.display())));
    }
    if meta.permissions().mode() & 0o077 != 0 {
        return (
            None,
            Some(format!(
                "WARNING: password file \"{}\" has group or world access; permissions should be u=rw (0600) or less",
                path.display()
            )),
        );
    }
    let Ok(bytes) = std::fs::read(path).map(Zeroizing::new) else {
        return (None, None);
    };
    (find(&bytes, entry), None)
}

/// The first line matching `entry`, de-escaped.
fn find(contents: &[u8], entry: &PgpassEntry<'_>) -> Option<Secret> {
    for raw in contents.split(|b| *b == b'\n') {
        let line = strip_crlf(raw);
        if line.is_empty() || line[0] == b'#' {
            continue;
        }
        let rest = [entry.host, entry.port, entry.dbname, entry.user]
            .iter()
            .try_fold(line, |rest, token| match_field(rest, token.as_bytes()));
        if let Some(rest) = rest {
            let password = unescape_password(rest);
            // An empty password is no password (libpq then reports "no password supplied").
            return std::str::from_utf8(&password).ok().filter(|p| !p.is_empty()).map(Secret::from);
        }
    }
    None
}

fn strip_crlf(mut line: &[u8]) -> &[u8] {
    while let [head @ .., b'\r' | b'\n'] = line {
        line = head;
    }
    line
}

/// libpq's `pwdfMatchesString`: does the field at the start of `buf` match `token`? Returns the
/// text after the field's `:`. A field of exactly `*` matches anything; `\` escapes the next byte.
fn match_field<'a>(buf: &'a [u8], token: &[u8]) -> Option<&'a [u8]> {
    if buf.starts_with(b"*:") {
        return Some(&buf[2..]);
    }
    let (mut i, mut t, mut escaped) = (0, 0, false);
    while i < buf.len() {
        if buf[i] == b'\\' && !escaped {
            i += 1;
            escaped = true;
        }
        let c = buf.get(i).copied();
        if c == Some(b':') && t == token.len() && !escaped {
            return Some(&buf[i + 1..]);
        }
        escaped = false;
        if t == token.len() || c != Some(token[t]) {
            return None;
        }
        i += 1;
        t += 1;
    }
    None
}

/// The password field: up to the first unescaped `:`, with `\x` read as `x`.
fn unescape_password(field: &[u8]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(field.len()));
    let mut i = 0;
    while i < field.len() && field[i] != b':' {
        if field[i] == b'\\' && i + 1 < field.len() {
            i += 1;
        }
        out.push(field[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    fn key<'a>(host: &'a str, port: &'a str, dbname: &'a str, user: &'a str) -> PgpassEntry<'a> {
        PgpassEntry { host, port, dbname, user }
    }

    fn found(contents: &str, entry: PgpassEntry<'_>) -> Option<String> {
        find(contents.as_bytes(), &entry).map(|s| s.expose().to_owned())
    }

    #[test]
    fn matching_rules() {
        let file = "\
# comment line:*:*:*:nope
db.example.com:5432:app:alice:first
*:5432:*:bob:bob\\:pw\\\\x:ignored
localhost:*:*:*:local\r
h\\:colon:1:d:u:escaped
*:*:*:*:
";
        assert_eq!(found(file, key("db.example.com", "5432", "app", "alice")), Some("first".into()));
        assert_eq!(found(file, key("db.example.com", "5433", "app", "alice")), None);
        assert_eq!(found(file, key("other", "5432", "x", "bob")), Some("bob:pw\\x".into()));
        assert_eq!(found(file, key("localhost", "1", "d", "carol")), Some("local".into()));
        assert_eq!(found(file, key("h:colon", "1", "d", "u")), Some("escaped".into()));
        // The last line matches anything but has an empty password: no password.
        assert_eq!(found(file, key("nowhere", "1", "d", "z")), None);
        // Fields compare exactly (case-sensitively, no prefix matches).
        assert_eq!(found(file, key("DB.example.com", "5432", "app", "alice")), None);
        assert_eq!(found(file, key("db.example.co", "5432", "app", "alice")), None);
        // A `*` inside a field is literal.
        assert_eq!(found("a*:1:d:u:p\n", key("ab", "1", "d", "u")), None);
        assert_eq!(found("a*:1:d:u:p\n", key("a*", "1", "d", "u")), Some("p".into()));
    }

    #[test]
    fn permissions_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pgpass");
        fs::write(&path, "*:*:*:*:secret\n").unwrap();
        let entry = key("h", "5432", "d", "u");
        for mode in [0o640, 0o604, 0o660, 0o610] {
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
            let (pw, warning) = lookup(&path, &entry);
            assert!(pw.is_none(), "mode {mode:o}");
            assert_eq!(
                warning.unwrap(),
                format!(
                    "WARNING: password file \"{}\" has group or world access; permissions should be u=rw (0600) or less",
                    path.display()
                )
            );
        }
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(lookup(&path, &entry).0.map(|s| s.expose().to_owned()), Some("secret".into()));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o400)).unwrap();
        assert!(lookup(&path, &entry).0.is_some());
        // A directory is not a plain file; a missing file is silently ignored.
        let (pw, warning) = lookup(dir.path(), &entry);
        assert!(pw.is_none() && warning.unwrap().contains("is not a plain file"));
        assert_eq!(lookup(&dir.path().join("missing"), &entry), (None, None));
    }
}
