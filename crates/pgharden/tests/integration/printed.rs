//! What pgharden prints for people to read or run, as they meet it: every man page a SUBCOMMANDS
//! section names can be produced, `scripts/quickstart --help` answers without apt or cargo and its
//! summary matches the binary's options, and the help texts say what the commands do.

use std::collections::BTreeSet;
use std::process::Command;

use crate::support::{ok, pgharden};

/// The `pgharden-…(1)` pages a rendered page refers to (roff writes `-` as `\-`).
fn references(roff: &str) -> BTreeSet<String> {
    let text = roff.replace("\\-", "-");
    let mut found = BTreeSet::new();
    for (i, _) in text.match_indices("pgharden-") {
        let rest = &text[i..];
        if let Some(end) = rest.find("(1)") {
            let name = &rest[..end];
            if name.chars().all(|c| c.is_ascii_lowercase() || c == '-') {
                found.insert(name.to_string());
            }
        }
    }
    found
}

#[test]
fn every_man_page_the_pages_refer_to_can_be_produced() {
    let mut pending = vec![Vec::<String>::new()];
    let mut seen = BTreeSet::new();
    while let Some(words) = pending.pop() {
        let mut args = vec!["man".to_string()];
        args.extend(words.iter().cloned());
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let page = ok(&refs);
        let name = std::iter::once("pgharden".to_string())
            .chain(words.iter().cloned())
            .collect::<Vec<_>>()
            .join("-");
        assert!(page.contains(&format!(".TH {name} 1")), "{name}:\n{}", &page[..page.len().min(300)]);
        for reference in references(&page) {
            let sub: Vec<String> =
                reference.trim_start_matches("pgharden-").split('-').map(str::to_string).collect();
            if seen.insert(reference) {
                pending.push(sub);
            }
        }
    }
    for expected in
        ["pgharden-apply", "pgharden-lock", "pgharden-pki-init", "pgharden-pki-verify", "pgharden-man"]
    {
        assert!(seen.contains(expected), "{expected} not among {seen:?}");
    }
    assert!(!seen.contains("pgharden-help"), "no page for clap's help subcommand");

    // --dir writes exactly those pages, plus pgharden.1.
    let tmp = tempfile::tempdir().unwrap();
    let out = ok(&["man", "--dir", tmp.path().to_str().unwrap()]);
    let files: BTreeSet<String> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    let mut wanted: BTreeSet<String> = seen.iter().map(|s| format!("{s}.1")).collect();
    wanted.insert("pgharden.1".to_string());
    assert_eq!(files, wanted, "{out}");
    let text = crate::support::fails(&["man", "pki", "nope"], 2);
    assert!(text.contains("pgharden-pki has no subcommand \"nope\"; it has: init,"), "{text}");
}

/// The long options of a help text: `--name` at the start of an option line.
fn long_options(help: &str) -> BTreeSet<String> {
    help.lines()
        .filter_map(|l| {
            let l = l.trim_start();
            let l = l.strip_prefix("-h, ").or_else(|| l.strip_prefix("-V, ")).unwrap_or(l);
            l.strip_prefix("--").map(|rest| rest.split([' ', '=']).next().unwrap_or_default().to_string())
        })
        .collect()
}

#[test]
fn the_quickstart_script_answers_help_without_building_and_lists_the_real_options() {
    let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    // A copy of the script alone: no target/, no scripts/deps, no cargo on PATH. Help must not
    // need any of them.
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("scripts")).unwrap();
    let script = tmp.path().join("scripts/quickstart");
    std::fs::copy(repo.join("scripts/quickstart"), &script).unwrap();
    for flag in ["--help", "-h"] {
        let out = Command::new("bash").arg(&script).arg(flag).env("PATH", "/usr/bin:/bin").output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        for expected in ["apt-get", "cargo", "pgharden quickstart", "pgharden is not built yet"] {
            assert!(stdout.contains(expected), "{expected:?} missing from:\n{stdout}");
        }
        let binary = ok(&["quickstart", "--help"]);
        assert_eq!(
            long_options(&stdout),
            long_options(&binary),
            "the script's summary and the binary differ"
        );
    }

    // With a built binary next to it, the script shows that binary's own help.
    std::fs::create_dir_all(tmp.path().join("target/release")).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_pgharden"), tmp.path().join("target/release/pgharden")).unwrap();
    let out = Command::new("bash").arg(&script).arg("--help").env("PATH", "/usr/bin:/bin").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && stdout.contains("Usage: pgharden quickstart [OPTIONS]"), "{stdout}");
}

#[test]
fn help_texts_do_not_break_lines_or_name_flags_a_command_lacks() {
    let init = pgharden().args(["pki", "init", "--help"]).env("COLUMNS", "100").output().unwrap();
    let init = String::from_utf8_lossy(&init.stdout);
    assert!(!init.lines().any(|l| l.trim() == "(every"), "{init}");
    assert!(init.contains("DIR/crls.pem\n(every CRL"), "{init}");
    let apply = ok(&["apply", "--help"]);
    assert!(!apply.contains("plus --cn mappings"), "{apply}");
    assert!(apply.contains("`pki client --cn`"), "{apply}");
}

/// `pki init`'s next step runs as printed (HOSTNAME filled in) from a shell without pgharden on
/// PATH, for a directory whose name needs quoting.
#[test]
fn the_next_step_after_pki_init_runs_as_printed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("my pki");
    let out = ok(&["pki", "init", "--dir", dir.to_str().unwrap(), "--no-passphrase"]);
    let next = out.lines().find_map(|l| l.strip_prefix("Next: ")).unwrap();
    assert!(next.contains("--dir '"), "{next}");
    let line = next.replace("HOSTNAME", "db1.example.com");
    let run = Command::new("sh").args(["-c", &line]).env("PATH", "/usr/bin:/bin").output().unwrap();
    assert!(run.status.success(), "{line}: {}", String::from_utf8_lossy(&run.stderr));
    assert!(dir.join("servers/db1.example.com/server.crt").exists(), "{line}");
}
