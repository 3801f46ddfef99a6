//! The plain-words text form of an [`Inspection`]: one section of aligned "label: value" lines
//! per item.
//!
//! It renders the typed fields only, never re-reads the file, and escapes every value from the
//! file with `pgharden_text` so that a hostile certificate can neither add a line nor drive a
//! terminal.

use std::fmt::Write as _;

use super::{Inspection, IssuerLink, Item};

/// One item's block of "label: value" lines. Every value is escaped with [`pgharden_text::line`] as
/// it is added, so a value from the file (a subject, a SAN, a PEM label) can neither start a line of
/// its own nor reach the terminal as a control sequence; each element of a list gets its own line.
struct Section {
    title: String,
    rows: Vec<(&'static str, Vec<String>)>,
}

impl Section {
    fn new(title: &str) -> Self {
        Self { title: pgharden_text::line(title).into_owned(), rows: Vec::new() }
    }
    fn row(&mut self, label: &'static str, value: impl AsRef<str>) {
        self.rows.push((label, vec![pgharden_text::line(value.as_ref()).into_owned()]));
    }
    fn opt(&mut self, label: &'static str, value: Option<impl AsRef<str>>) {
        if let Some(v) = value {
            self.row(label, v);
        }
    }
    fn list(&mut self, label: &'static str, values: &[String]) {
        if !values.is_empty() {
            let lines = values.iter().map(|v| pgharden_text::line(v).into_owned()).collect();
            self.rows.push((label, lines));
        }
    }
    fn render(&self, out: &mut String) {
        let _ = writeln!(out, "{}", self.title);
        let width = self.rows.iter().map(|(l, _)| l.len()).max().unwrap_or(0) + 1;
        for (label, values) in &self.rows {
            let mut lines = values.iter();
            let first = lines.next().map_or("", String::as_str);
            let _ = writeln!(out, "  {:<width$} {first}", format!("{label}:"));
            for line in lines {
                let _ = writeln!(out, "  {:<width$} {line}", "");
            }
        }
    }
}

fn yes_no(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

fn items_list(items: &[usize]) -> String {
    items.iter().map(|i| format!("#{i}")).collect::<Vec<_>>().join(", ")
}

fn link_text(link: &IssuerLink) -> String {
    let check = match link.signature_verified {
        Some(true) => "signature verified",
        Some(false) => "signature does NOT verify",
        None => "signature not checked: unsupported algorithm",
    };
    format!("#{} ({check})", link.item)
}

fn empty_dash(s: &str) -> String {
    if s.is_empty() { "(empty)".to_string() } else { s.to_string() }
}

impl Inspection {
    /// Plain-words report: aligned "label: value" lines, a blank line between items.
    ///
    /// Everything taken from the file, the file name included, is escaped
    /// ([`pgharden_text::line`]): the text holds no control character but the `\n` ending each
    /// line, so a hostile certificate cannot add lines to the report or drive a terminal. The
    /// structured fields (and so the JSON form) keep the original characters.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        let n = self.items.len();
        let file = pgharden_text::line(&self.file);
        let _ = writeln!(out, "{file}: {n} item{}", if n == 1 { "" } else { "s" });
        for w in &self.warnings {
            let _ = writeln!(out, "WARNING: {}", pgharden_text::line(w));
        }
        for item in &self.items {
            out.push('\n');
            item_section(item).render(&mut out);
        }
        out
    }
}

fn item_section(item: &Item) -> Section {
    match item {
        Item::Certificate(c) => {
            let mut s = Section::new(&format!("#{} certificate: {}", c.index, c.role));
            s.row("Subject", empty_dash(&c.subject));
            s.row("Issuer", empty_dash(&c.issuer));
            s.row("Serial", c.serial.clone());
            s.row("Version", c.version.to_string());
            s.row("Not before", c.not_before.clone());
            s.row("Not after", c.not_after.clone());
            s.row("Status", c.status.clone());
            s.row("Key", c.key.description.clone());
            s.row("Signature", c.signature_algorithm.clone());
            s.row(
                "Self-signed",
                match (c.self_signed, c.self_signature_verifies) {
                    (false, _) => "no".to_string(),
                    (true, Some(true)) => "yes (signature verifies)".to_string(),
                    (true, Some(false)) => "yes, but the signature does NOT verify".to_string(),
                    (true, None) => "yes (signature not checked)".to_string(),
                },
            );
            s.row(
                "CA",
                match &c.basic_constraints {
                    None => "no basicConstraints extension".to_string(),
                    Some(bc) => format!(
                        "{}{}{}",
                        yes_no(bc.ca),
                        bc.path_len.map(|p| format!(", path length {p}")).unwrap_or_default(),
                        if bc.critical { " (critical)" } else { "" }
                    ),
                },
            );
            s.list("Key usage", &c.key_usage);
            s.list("Extended key usage", &c.extended_key_usage);
            s.list("Alternative names", &c.subject_alt_names);
            s.opt("Subject key ID", c.subject_key_id.clone());
            s.opt("Authority key ID", c.authority_key_id.clone());
            s.list("CRL distribution", &c.crl_distribution_points);
            s.list("Other extensions", &c.other_extensions);
            s.row("SHA-256 fingerprint", c.sha256_fingerprint.clone());
            s.row("Public key SHA-256", c.spki_sha256.clone());
            s.opt("Issued by", c.issued_by.as_ref().map(link_text));
            if !c.issued.is_empty() {
                // `#N` alone reads like a count; name what the numbers are.
                s.row("Issuer of", format!("certificate {} in this list", items_list(&c.issued)));
            }
            s.list("Note", &c.notes);
            s
        }
        Item::CertificateRequest(r) => {
            let mut s = Section::new(&format!("#{} certificate request (CSR)", r.index));
            s.row("Subject", empty_dash(&r.subject));
            s.row("Key", r.key.description.clone());
            s.row("Signature", r.signature_algorithm.clone());
            s.row(
                "Self-signature",
                match r.signature_verifies {
                    Some(true) => "verifies",
                    Some(false) => "does NOT verify",
                    None => "not checked (unsupported algorithm)",
                },
            );
            s.list("Alternative names", &r.subject_alt_names);
            s.list("Requested", &r.requested_extensions);
            s.row("Public key SHA-256", r.spki_sha256.clone());
            s.list("Note", &r.notes);
            s
        }
        Item::Crl(c) => {
            let mut s = Section::new(&format!("#{} certificate revocation list (CRL)", c.index));
            s.row("Issuer", empty_dash(&c.issuer));
            s.row("This update", c.this_update.clone());
            s.row("Next update", c.next_update.clone().unwrap_or_else(|| "(none)".to_string()));
            s.row("Status", c.status.clone());
            s.opt("CRL number", c.crl_number.clone());
            s.opt("Authority key ID", c.authority_key_id.clone());
            s.row("Signature", c.signature_algorithm.clone());
            s.row("Revoked", c.revoked_count.to_string());
            let entries: Vec<String> = c
                .revoked
                .iter()
                .map(|r| {
                    format!(
                        "serial {} on {}{}",
                        r.serial,
                        r.revocation_date,
                        r.reason.as_ref().map(|x| format!(", {x}")).unwrap_or_default()
                    )
                })
                .collect();
            s.list("Revoked entries", &entries);
            s.opt("Issued by", c.issued_by.as_ref().map(link_text));
            s.list("Note", &c.notes);
            s
        }
        Item::PrivateKey(k) => {
            let what = k.key.as_ref().map_or("encrypted".to_string(), |key| key.description.clone());
            let mut s = Section::new(&format!("#{} private key: {what}", k.index));
            s.row("Format", k.format.clone());
            s.row("Encrypted", yes_no(k.encrypted));
            if let Some(key) = &k.key {
                s.row("Algorithm", key.description.clone());
            }
            s.opt("Encryption", k.encryption.as_ref().map(|e| e.description.clone()));
            s.row(
                "Public key SHA-256",
                k.spki_sha256.clone().unwrap_or_else(|| {
                    if k.encrypted {
                        "(not available without the passphrase)".to_string()
                    } else {
                        "(not available: see the notes)".to_string()
                    }
                }),
            );
            if !k.matches.is_empty() {
                s.row("Matches", items_list(&k.matches));
            }
            s.list("Note", &k.notes);
            s
        }
        Item::PublicKey(k) => {
            let mut s = Section::new(&format!("#{} public key: {}", k.index, k.key.description));
            s.row("Format", k.format.clone());
            s.row("Public key SHA-256", k.spki_sha256.clone());
            if !k.matches.is_empty() {
                s.row("Matches", items_list(&k.matches));
            }
            s
        }
        Item::Unknown(u) => {
            let mut s =
                Section::new(&format!("#{} other block: {}", u.index, u.pem_label.as_deref().unwrap_or("?")));
            s.opt("PEM type", u.pem_label.clone());
            s.row("Note", u.description.clone());
            s
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may panic on failure
mod tests {
    use crate::inspect::inspect_bytes_at;
    use crate::inspect::testutil::*;
    use rcgen::{DistinguishedName, DnType, KeyPair, SanType};

    #[test]
    fn hostile_values_are_escaped_in_the_text_and_kept_in_the_data() {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut p = leaf_params();
        let mut name = DistinguishedName::new();
        name.push(DnType::OrganizationName, "Example\r\nSubject: CN=trusted");
        name.push(DnType::CommonName, "evil\u{1b}[2J\u{1b}[H\u{202e}");
        p.distinguished_name = name;
        p.subject_alt_names = vec![SanType::DnsName("a\u{1b}[2J\nDNS:trusted".try_into().unwrap())];
        let pem = p.self_signed(&key).unwrap().pem();
        let file = "dir\n/evil\u{1b}.pem";
        let inspection = inspect_bytes_at(file, pem.as_bytes(), NOW).unwrap();
        let c = cert(&inspection.items[0]);
        assert!(c.subject.contains("\r\nSubject: CN=trusted"), "the data keeps the original: {}", c.subject);
        assert_eq!(c.subject_alt_names, ["DNS:a\u{1b}[2J\nDNS:trusted"]);

        let text = inspection.render_text();
        assert!(!text.chars().any(|ch| ch.is_control() && ch != '\n'), "{text:?}");
        assert!(!text.contains('\u{202e}'), "{text:?}");
        assert!(!text.lines().any(|l| l.trim_start().starts_with("Subject: CN=trusted")), "{text}");
        assert!(!text.lines().any(|l| l.trim_start().starts_with("DNS:trusted")), "{text}");
        assert!(text.contains("O=Example\\r\\nSubject: CN=trusted"), "{text}");
        assert!(text.contains("CN=evil\\x1b[2J\\x1b[H\\u{202e}"), "{text}");
        assert!(text.contains("DNS:a\\x1b[2J\\nDNS:trusted"), "{text}");
        assert!(text.starts_with("dir\\n/evil\\x1b.pem: 1 item\n"), "{text}");
        assert_eq!(text.lines().filter(|l| l.trim_start().starts_with("Subject:")).count(), 1, "{text}");
    }
}
