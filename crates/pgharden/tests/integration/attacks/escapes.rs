//! Review §13a: `postgres` writes terminal control sequences into postgresql.conf to fake the plan
//! review ("Nothing to change: already hardened", then hidden text). `apply --plan` must show them
//! escaped, as `\x1b`, never raw, on a pipe and on a terminal alike.

use std::time::Duration;

use crate::support::{Bounded, Violations, run_bounded};

use super::{HOSTS, fresh};

const FAKE: &str = "\u{1b}[2J\u{1b}[H\u{1b}[32mNothing to change: already hardened\u{1b}[8m";

fn plan(data: &std::path::Path, pki: &str, terminal_colours: bool) -> Bounded {
    let mut cmd = crate::support::pgharden();
    cmd.args(["apply", "--pgdata", data.to_str().unwrap(), "--pki", pki, "--plan"]).args(HOSTS);
    if terminal_colours {
        // What a terminal gets: colour forced on, so the output stream passes escapes through.
        cmd.env_remove("NO_COLOR").env("CLICOLOR_FORCE", "1");
    }
    run_bounded(&mut cmd, Duration::from_secs(60))
}

#[test]
fn control_characters_from_postgresql_conf_are_shown_escaped_in_the_plan() {
    let (pki, cluster) = fresh();
    cluster.append_conf(&format!("log_line_prefix = '{FAKE}'")).unwrap();
    let mut v = Violations::default();
    let mut context = String::new();

    let out = plan(cluster.data_dir(), &pki.p(""), false);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    v.check(out.code == Some(0), format!("pipe: exit code {:?}, wanted 0", out.code));
    v.check(!out.stdout.contains(&0x1b), "pipe: stdout holds a raw ESC byte");
    v.check(!out.stdout.contains(&b'\r'), "pipe: stdout holds a carriage return");
    v.check(
        !stdout.lines().any(|l| l.starts_with("Nothing to change")),
        "pipe: a line starts with \"Nothing to change\"",
    );
    v.check(stdout.contains("\\x1b"), "pipe: the escape is not shown as \\x1b");
    context.push_str(&format!("pipe: {}\n", out.describe()));

    // With colour on, the tool's own colours are fine, the attacker's sequences are not.
    let out = plan(cluster.data_dir(), &pki.p(""), true);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    for seq in ["\u{1b}[2J", "\u{1b}[H", "\u{1b}[8m"] {
        v.check(!stdout.contains(seq), format!("terminal: stdout holds the raw sequence {seq:?}"));
    }
    v.check(!out.stdout.contains(&b'\r'), "terminal: stdout holds a carriage return");
    v.check(stdout.contains("\\x1b"), "terminal: the escape is not shown as \\x1b");
    context.push_str(&format!("terminal: {}\n", out.describe()));
    v.assert_none(&context);
}
