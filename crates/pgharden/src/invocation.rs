//! How printed commands name this binary and quote their arguments, so that every command line
//! pgharden prints at run time (next steps, hints in errors) runs as printed when pasted into a shell.
//!
//! Owns: the program name (`pgharden` only when that name on PATH is this very binary, else its
//! real path, relative to the working directory when it lies below it); the POSIX-shell quoting
//! is `pgharden_text::shell_word`, shared with the libraries that print commands.
//! Must not: decide what a command does or which arguments it takes (the printers do that), or
//! escape text for the terminal (quoting here already keeps every byte of a value on its line).

use std::path::{Path, PathBuf};

/// `program` followed by `args`, each quoted for a POSIX shell.
pub(crate) fn command<S: AsRef<str>>(args: &[S]) -> String {
    let mut line = program();
    for arg in args {
        line.push(' ');
        line.push_str(&quote(arg.as_ref()));
    }
    line
}

/// This binary as a user can run it from the current directory: `pgharden` when the shell would
/// find this very binary under that name, else its path (quoted).
pub(crate) fn program() -> String {
    let Ok(exe) = std::env::current_exe() else { return "pgharden".to_string() };
    let exe = exe.canonicalize().unwrap_or(exe);
    let path = std::env::var_os("PATH").unwrap_or_default();
    let cwd = std::env::current_dir().ok();
    name_for(&exe, &path, cwd.as_deref())
}

/// The name of `exe` given the search `path` and the working directory `cwd`.
fn name_for(exe: &Path, path: &std::ffi::OsStr, cwd: Option<&Path>) -> String {
    // The shell runs the first `pgharden` on PATH (empty entries mean the current directory).
    let first = std::env::split_paths(path)
        .map(|dir| if dir.as_os_str().is_empty() { PathBuf::from(".") } else { dir })
        .map(|dir| dir.join("pgharden"))
        .find(|candidate| is_executable(candidate));
    if let Some(found) = first
        && found.canonicalize().is_ok_and(|f| f == exe)
    {
        return "pgharden".to_string();
    }
    let cwd = cwd.and_then(|c| c.canonicalize().ok());
    if let Some(rel) = cwd.as_deref().and_then(|c| exe.strip_prefix(c).ok())
        && !rel.as_os_str().is_empty()
    {
        return quote(&format!("./{}", rel.to_string_lossy()));
    }
    quote(&exe.to_string_lossy())
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// `value` as one word of a POSIX shell (the quoting every printer shares).
pub(crate) use pgharden_text::shell_word as quote;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_binary_is_named_as_the_shell_finds_it() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = std::env::temp_dir().join(format!("pgharden-invocation-{}", std::process::id()));
        let bin = tmp.join("my bin");
        std::fs::create_dir_all(&bin).unwrap();
        let exe = bin.join("pgharden");
        std::fs::write(&exe, b"").unwrap();
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        let exe = exe.canonicalize().unwrap();
        let on_path = std::env::join_paths([bin.clone()]).unwrap();
        assert_eq!(name_for(&exe, &on_path, None), "pgharden");
        let elsewhere = std::ffi::OsString::from("/nonexistent");
        assert_eq!(name_for(&exe, &elsewhere, Some(&tmp)), "'./my bin/pgharden'");
        let gone = Path::new("/nonexistent/cwd");
        assert_eq!(name_for(&exe, &elsewhere, Some(gone)), quote(&exe.to_string_lossy()));
        std::fs::remove_dir_all(&tmp).unwrap();
    }
}
