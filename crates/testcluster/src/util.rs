//! Small helpers shared by the modules: environment scrubbing, quoting, log tails.

use std::process::Command;

/// Remove every variable from the child's environment that could change what a
/// PostgreSQL binary connects to, reads, or prints: all `PG*` (libpq and server
/// defaults such as PGDATA, PGPORT, PGOPTIONS, PGSERVICE), and the locale
/// variables (so messages are untranslated and tests can match on them).
pub(crate) fn clean_env(cmd: &mut Command) {
    for (key, _) in std::env::vars_os() {
        let Some(k) = key.to_str() else { continue };
        if k.starts_with("PG") || k.starts_with("LC_") || k == "LANG" || k == "LANGUAGE" {
            cmd.env_remove(&key);
        }
    }
}

/// A shell-like rendering of a command line for error messages.
pub(crate) fn command_line(cmd: &Command) -> String {
    let mut out = String::new();
    for (k, v) in cmd.get_envs() {
        if let Some(v) = v {
            out.push_str(&shell_quote(&k.to_string_lossy()));
            out.push('=');
            out.push_str(&shell_quote(&v.to_string_lossy()));
            out.push(' ');
        }
    }
    out.push_str(&shell_quote(&cmd.get_program().to_string_lossy()));
    for a in cmd.get_args() {
        out.push(' ');
        out.push_str(&shell_quote(&a.to_string_lossy()));
    }
    out
}

fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
    if plain { s.to_owned() } else { format!("'{}'", s.replace('\'', r"'\''")) }
}

/// The last `n` lines of `text`.
pub(crate) fn tail_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(n);
    lines[start..].join("\n")
}

/// Quote a value for a libpq conninfo string (`key='value'`).
pub(crate) fn conninfo_value(v: &str) -> String {
    format!("'{}'", v.replace('\\', r"\\").replace('\'', r"\'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("abc"), "abc");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(conninfo_value(r"a'b\c"), r"'a\'b\\c'");
        assert_eq!(tail_lines("1\n2\n3\n", 2), "2\n3");
    }
}
