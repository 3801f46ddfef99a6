//! What of the profile apply cannot put in place on this host, however often it runs: today,
//! Appendix B when the pgaudit library is not installed for the server's major version.
//!
//! Owns: the typed record of each unmet part (what, why, and the exact commands that install what
//! is missing on Debian and RHEL), and its text for the plan and the summary. A plan that carries
//! one is not the stig profile, whatever its files say; the caller turns it into the verdict.
//! Must not: install anything, or judge STIG rules (the audit does that).

use serde::Serialize;

/// One part of the profile that is not in place, and what it takes to put it there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unmet {
    /// Which part, as a stable name for scripts (`"pgaudit"`).
    pub kind: UnmetKind,
    /// What is missing, in words.
    pub what: String,
    /// Why it is missing and what follows from that.
    pub why: String,
    /// The commands that install what is missing, one per platform.
    pub install: Vec<InstallCommand>,
}

/// The parts of the profile that can be unmet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum UnmetKind {
    /// STIG Appendix B: pgaudit is not installed, so nothing is audit-logged.
    Pgaudit,
}

/// How to install a package on one platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstallCommand {
    /// The platform and repository, e.g. `Debian/Ubuntu (apt.postgresql.org or the distribution)`.
    pub platform: String,
    /// The command, run as root.
    pub command: String,
}

impl Unmet {
    /// Appendix B on a server of `major` without the pgaudit library.
    pub fn pgaudit(major: u32) -> Self {
        Self {
            kind: UnmetKind::Pgaudit,
            what: "STIG Appendix B: audit logging with pgaudit".into(),
            why: format!(
                "the pgaudit extension is not installed for PostgreSQL {major}, so it cannot be preloaded or \
                 configured: no statement is audit-logged, and `pgharden audit` fails every rule that needs \
                 pgaudit. The rest of the profile is applied as usual"
            ),
            install: vec![
                InstallCommand {
                    platform: "Debian/Ubuntu".into(),
                    command: format!("apt-get install postgresql-{major}-pgaudit"),
                },
                InstallCommand {
                    platform: "RHEL/Rocky/Alma (PGDG repository)".into(),
                    command: format!("dnf install {}", pgdg_pgaudit_package(major)),
                },
            ],
        }
    }

    /// The unmet part as text: a `NOT MET` headline, why, and how to install what is missing.
    pub fn render(&self) -> String {
        use pgharden_text::line;
        let mut out = format!("NOT MET: {}\n  {}.\n", line(&self.what), line(&self.why));
        out.push_str("  Install it, then run apply again:\n");
        let labels: Vec<String> = self.install.iter().map(|i| format!("{}:", line(&i.platform))).collect();
        let width = labels.iter().map(|l| l.chars().count()).max().unwrap_or(0);
        for (label, i) in labels.iter().zip(&self.install) {
            out.push_str(&format!("    {label:<width$} {}\n", line(&i.command)));
        }
        out
    }
}

/// PGDG's package of pgaudit for `major`: named after the pgaudit release up to PostgreSQL 15
/// (`pgaudit16_14`, `pgaudit17_15`), after the server alone from 16 on (`pgaudit_16`).
fn pgdg_pgaudit_package(major: u32) -> String {
    match major {
        14 => "pgaudit16_14".into(),
        15 => "pgaudit17_15".into(),
        _ => format!("pgaudit_{major}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_commands_name_each_majors_real_packages() {
        let command = |major: u32, platform: usize| Unmet::pgaudit(major).install[platform].command.clone();
        assert_eq!(command(15, 0), "apt-get install postgresql-15-pgaudit");
        assert_eq!(command(14, 1), "dnf install pgaudit16_14");
        assert_eq!(command(15, 1), "dnf install pgaudit17_15");
        for major in [16, 17, 18] {
            assert_eq!(command(major, 1), format!("dnf install pgaudit_{major}"));
        }
    }

    #[test]
    fn the_text_says_not_met_and_how_to_fix_it() {
        let text = Unmet::pgaudit(16).render();
        assert!(text.starts_with("NOT MET: STIG Appendix B"), "{text}");
        assert!(text.contains("not installed for PostgreSQL 16"), "{text}");
        assert!(text.contains("apt-get install postgresql-16-pgaudit\n"), "{text}");
        assert!(text.contains("dnf install pgaudit_16\n"), "{text}");
        let json = serde_json::to_value(Unmet::pgaudit(16)).unwrap();
        assert_eq!(json["kind"], "pgaudit");
        assert_eq!(json["install"][1]["command"], "dnf install pgaudit_16");
    }
}
