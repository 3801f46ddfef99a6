//! The plan in words: settings, file diffs, SQL, what the server will do, notes, what of the
//! profile stays unmet, and the protection level with the audit rules a lower one fails — every
//! value that came from the cluster escaped.
//! Must not: compute anything (the plan is made in the parent module).

use std::path::Path;

use super::Plan;

impl Plan {
    /// The plan in words and diffs. Everything that came from the cluster's files or catalogs is
    /// escaped ([`pgharden_text`]): the owner writes those files, and a plan a DBA reviews must not
    /// be redrawn by escape sequences or faked by a line break in a value.
    pub fn render_text(&self) -> String {
        let mut out = self.render_changes();
        out.push_str(&self.render_level());
        out.push_str(&self.render_conventions());
        out
    }

    /// The "Protection level:" section: one line at `mutual`; at a lower level what the server and
    /// the clients do, the audit rules it fails and how to have the STIG's instead. Empty for a
    /// plan of the TLS files alone.
    pub fn render_level(&self) -> String {
        self.level.as_ref().map(super::LevelSummary::render).unwrap_or_default()
    }

    /// "stig profile", or at a lower level "stig profile at the LEVEL level": what the
    /// one-line verdicts say the cluster has.
    fn profile_words(&self) -> String {
        match &self.level {
            Some(l) if !l.costs.is_empty() => {
                format!("stig profile at the {} level (lower than the STIG's, see below)", l.level)
            }
            _ => "stig profile".to_string(),
        }
    }

    /// The "Debian conventions kept:" section (empty on other clusters): what is kept, what it
    /// costs in the audit, and the flag that takes the STIG's way instead.
    pub fn render_conventions(&self) -> String {
        use pgharden_text::line;
        if self.debian_conventions.is_empty() {
            return String::new();
        }
        let mut out = String::from("\nDebian conventions kept:\n");
        for c in &self.debian_conventions {
            out.push_str(&format!("  - {}\n", line(&c.kept)));
            if c.costs.is_empty() {
                out.push_str("    costs no STIG rule\n");
            } else {
                out.push_str(&format!("    costs (the audit fails): {}\n", c.costs.join(", ")));
            }
            if let Some(instead) = &c.instead {
                out.push_str(&format!("    instead: {}\n", line(instead)));
            }
        }
        out
    }

    fn render_changes(&self) -> String {
        use pgharden_text::{block, line};
        let path = |p: &Path| line(&p.display().to_string()).into_owned();
        if self.is_empty() && self.unmet.is_empty() {
            return format!(
                "Nothing to change: {} already has the {}.\n",
                path(&self.cluster.data_dir),
                self.profile_words()
            );
        }
        if self.is_empty() {
            return format!(
                "Nothing left that apply can change in {}, but it does NOT have the whole {}:\n{}",
                path(&self.cluster.data_dir),
                self.profile_words(),
                self.render_unmet()
            );
        }
        let mut out = format!(
            "Plan for the cluster in {} (PostgreSQL {}, owner {}):\n",
            path(&self.cluster.data_dir),
            self.cluster.major,
            line(&self.cluster.owner.name)
        );
        if !self.settings.is_empty() {
            out.push_str("\nSettings:\n");
            for s in &self.settings {
                let when = if s.restart { "restart" } else { "reload" };
                out.push_str(&format!(
                    "  {:<28} {} -> {}  [{when}; {}]\n",
                    line(&s.name),
                    line(s.from.as_deref().unwrap_or("(default)")),
                    line(&s.to),
                    line(&s.why)
                ));
            }
        }
        for f in &self.files {
            let mode = match f.from_mode {
                Some(old) if old != f.mode => format!("mode {old:04o} \u{2192} {:04o}", f.mode),
                _ => format!("mode {:04o}", f.mode),
            };
            out.push_str(&format!("\n{} ({}, {mode}):\n{}", path(&f.path), line(&f.what), block(&f.diff)));
            if !f.diff.ends_with('\n') {
                out.push('\n');
            }
        }
        if !self.sql.is_empty() {
            out.push_str("\nSQL:\n");
            for a in &self.sql {
                out.push_str(&format!(
                    "  [{}] {}  -- {}\n",
                    line(&a.database),
                    line(&a.statement),
                    line(&a.why)
                ));
            }
        }
        out.push_str(&match &self.restart {
            Some(why) => format!("\nThe server will be restarted: {}.\n", line(why)),
            None => "\nThe server will be reloaded (no restart needed).\n".to_string(),
        });
        for n in &self.notes {
            out.push_str(&format!("Note: {}\n", line(n)));
        }
        if !self.unmet.is_empty() {
            out.push_str(&format!(
                "\nEven once applied, the stig profile will NOT be complete:\n{}",
                self.render_unmet()
            ));
        }
        out
    }
}
