//! Values as words of a POSIX shell, so that a command pgharden prints runs as printed when pasted:
//! the binary's next steps and hints, renew's install commands, doctor's fixes.
//!
//! Owns: the quoting. Must not: decide what a command is (its printers do), or escape for the
//! terminal beyond keeping a value on its line (the `$'…'` form already does).

/// `value` as one word of a POSIX shell: as is when it holds only characters no shell treats
/// specially, else in single quotes; with control characters, in bash's `$'…'` so that the
/// printed line stays one line and still means exactly `value`.
///
/// ```
/// assert_eq!(pgharden_text::shell_word("O'Brien"), "'O'\\''Brien'");
/// assert_eq!(pgharden_text::shell_word("/var/lib/postgresql"), "/var/lib/postgresql");
/// ```
pub fn shell_word(value: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "_-./:=@%+,".contains(c);
    if !value.is_empty() && value.chars().all(plain) {
        return value.to_string();
    }
    if !value.chars().any(char::is_control) {
        return format!("'{}'", value.replace('\'', "'\\''"));
    }
    let mut out = String::from("$'");
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("\\x{b:02x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

#[cfg(test)]
mod tests {
    use super::shell_word as quote;

    #[test]
    fn plain_words_stay_and_others_are_quoted() {
        assert_eq!(quote("/var/lib/postgresql/15/main"), "/var/lib/postgresql/15/main");
        assert_eq!(quote("my dir"), "'my dir'");
        assert_eq!(quote("O'Brien"), "'O'\\''Brien'");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("a\nb\u{1b}"), "$'a\\nb\\x1b'");
        assert_eq!(quote("host=/run dbname=postgres"), "'host=/run dbname=postgres'");
    }
}
