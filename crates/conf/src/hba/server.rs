//! What pg_hba.conf validation needs to know about the server that will read the file: its major
//! version and the settings some lines depend on (PostgreSQL 18's `oauth` lines need
//! `oauth_validator_libraries`). A setting the caller does not know is `None`, and validation then
//! says it cannot tell rather than guess either way.
//!
//! Owns: the typed settings and how the server splits `oauth_validator_libraries`
//! (`SplitDirectoriesString` with `canonicalize_path`, as `check_oauth_validator` in
//! auth-oauth.c reads it). Must not: read settings from anywhere (the caller has them).

/// The server a pg_hba.conf is validated for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerSettings {
    /// The major version (14 … 18), as `server_version_num / 10000` or `PG_VERSION` gives it.
    pub major: u32,
    /// `oauth_validator_libraries` as the server holds it (`current_setting`); `None` when it is
    /// not known. Only PostgreSQL 18 and later read it.
    pub oauth_validator_libraries: Option<String>,
}

impl ServerSettings {
    /// A server of `major` whose settings are not known.
    pub fn for_major(major: u32) -> Self {
        Self { major, oauth_validator_libraries: None }
    }

    /// The same server, with `oauth_validator_libraries` known.
    pub fn with_oauth_validator_libraries(mut self, value: impl Into<String>) -> Self {
        self.oauth_validator_libraries = Some(value.into());
        self
    }

    /// The libraries `oauth_validator_libraries` names, as the server splits the list: `None`
    /// when the setting is not known, `Some(None)` when the server cannot split it.
    pub fn oauth_validators(&self) -> Option<Option<Vec<String>>> {
        self.oauth_validator_libraries.as_deref().map(split_directories)
    }

    /// Whether PostgreSQL 18 would crash reading an `oauth` line that names no validator: the
    /// setting is not empty but holds only blanks, and `check_oauth_validator` (18.4) then takes
    /// the length of an empty list through a null pointer. Whoever reads pg_hba.conf with these
    /// settings dies: the postmaster on reload or start, a backend asked for `pg_hba_file_rules`.
    pub fn oauth_crashes_the_server(&self) -> bool {
        let blank = self.oauth_validator_libraries.as_deref().is_some_and(|v| !v.is_empty());
        self.major >= 18 && blank && matches!(self.oauth_validators(), Some(Some(list)) if list.is_empty())
    }
}

/// varlena.c's `SplitDirectoriesString(value, ',')`: elements separated by commas with optional
/// blanks around them, `"..."` kept as written with `""` for a quote, each element put through
/// `canonicalize_path`. `None` is a syntax error (an empty unquoted element, an unterminated
/// quote, text after a quoted element). Blanks alone give the empty list.
pub(crate) fn split_directories(value: &str) -> Option<Vec<String>> {
    let blank = |c: char| matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c');
    let mut rest = value.trim_start_matches(blank);
    let mut out = Vec::new();
    if rest.is_empty() {
        return Some(out);
    }
    loop {
        let name = if let Some(quoted) = rest.strip_prefix('"') {
            let (name, after) = quoted_element(quoted)?;
            rest = after;
            name
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            let name = rest[..end].trim_end_matches(blank);
            if name.is_empty() {
                return None;
            }
            rest = &rest[end..];
            name.to_string()
        };
        out.push(canonicalize_path(&name));
        rest = rest.trim_start_matches(blank);
        match rest.strip_prefix(',') {
            Some(after) => rest = after.trim_start_matches(blank),
            None if rest.is_empty() => return Some(out),
            None => return None,
        }
    }
}

/// A quoted element after its opening quote: the name (`""` collapsed) and what follows the
/// closing quote; `None` when the quote is not closed.
fn quoted_element(text: &str) -> Option<(String, &str)> {
    let mut name = String::new();
    let mut rest = text;
    loop {
        let end = rest.find('"')?;
        name.push_str(&rest[..end]);
        match rest[end + 1..].strip_prefix('"') {
            Some(after) => {
                name.push('"');
                rest = after;
            }
            None => return Some((name, &rest[end + 1..])),
        }
    }
}

/// path.c's `canonicalize_path` on Unix: repeated slashes folded, `.` components dropped, `..`
/// removing the component before it where there is one, no trailing slash.
fn canonicalize_path(path: &str) -> String {
    if path.is_empty() {
        return String::new();
    }
    let absolute = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            ".." if absolute => {}
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (absolute, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(v: &str) -> Option<Vec<String>> {
        split_directories(v)
    }

    #[test]
    fn lists_split_as_the_server_splits_them() {
        assert_eq!(split(""), Some(vec![]));
        assert_eq!(split("  "), Some(vec![]));
        assert_eq!(split("foo"), Some(vec!["foo".to_string()]));
        assert_eq!(split(" foo , bar "), Some(vec!["foo".to_string(), "bar".to_string()]));
        assert_eq!(split(r#""b ar", "q""x""#), Some(vec!["b ar".to_string(), "q\"x".to_string()]));
        assert_eq!(split("\"foo,bar\""), Some(vec!["foo,bar".to_string()]));
        assert_eq!(split("foo/, a//b/./c/../d"), Some(vec!["foo".to_string(), "a/b/d".to_string()]));
        assert_eq!(split("/x/../../y"), Some(vec!["/y".to_string()]));
        assert_eq!(split("\"\""), Some(vec![String::new()]), "a quoted empty name is allowed");
        assert_eq!(split("foo,,bar"), None, "an empty unquoted element");
        assert_eq!(split("foo,"), None, "a comma expects another element");
        assert_eq!(split("\"foo"), None, "an unterminated quote");
        assert_eq!(split("\"foo\"bar"), None, "text after a quoted element");
    }
}
