//! Cipher suites as facts: every suite the scanner offers, by IANA code, with its IANA and OpenSSL
//! names, the oldest protocol version that can use it, and its key exchange, authentication,
//! cipher and MAC — from which forward secrecy and the weaknesses a STIG reviewer cares about follow.
//!
//! Owns: the table (module `table`, generated from the openssl CLI) and judgements on one suite. Must not:
//! talk to a server.

mod table;

use serde::Serialize;

use crate::version::TlsVersionName;

/// The key exchange of a suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kx {
    /// Static RSA key transport: no forward secrecy.
    Rsa,
    /// RSA with a 512-bit export key.
    RsaExport,
    /// Ephemeral finite-field Diffie-Hellman.
    Dhe,
    /// Ephemeral finite-field Diffie-Hellman with a 512-bit export group.
    DheExport,
    /// Ephemeral elliptic-curve Diffie-Hellman.
    Ecdhe,
    /// Pre-shared key, no certificate.
    Psk,
    /// RSA key transport plus a pre-shared key.
    RsaPsk,
    /// Ephemeral finite-field Diffie-Hellman plus a pre-shared key.
    DhePsk,
    /// Ephemeral elliptic-curve Diffie-Hellman plus a pre-shared key.
    EcdhePsk,
    /// Secure Remote Password: a password-derived exchange.
    Srp,
    /// TLS 1.3: always (EC)DHE (pgharden never offers PSK-only resumption).
    Tls13,
}

/// How the server authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Auth {
    /// An RSA certificate.
    Rsa,
    /// An ECDSA certificate.
    Ecdsa,
    /// A DSA certificate.
    Dss,
    /// No authentication at all: anyone in the middle can pose as the server.
    Anonymous,
    /// Knowledge of the pre-shared key.
    Psk,
    /// The SRP password verifier alone (the SRP suites signed by a certificate count as `Rsa`/`Dss`).
    Srp,
    /// TLS 1.3: by the certificate, whatever its key.
    Certificate,
}

/// The bulk cipher and its mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cipher {
    /// No encryption: records are sent in the clear.
    Null,
    /// RC4 stream cipher: broken (RFC 7465 forbids it).
    Rc4,
    /// RC2 in CBC mode.
    Rc2,
    /// Single DES in CBC mode: 56-bit key.
    Des,
    /// Triple DES (EDE) in CBC mode: 112-bit security, 64-bit blocks (Sweet32).
    TripleDes,
    /// IDEA in CBC mode.
    Idea,
    /// SEED in CBC mode.
    Seed,
    /// AES in CBC mode.
    AesCbc,
    /// AES in GCM mode (AEAD).
    AesGcm,
    /// AES in CCM mode with a 16-byte tag (AEAD).
    AesCcm,
    /// AES in CCM mode with an 8-byte tag (AEAD).
    AesCcm8,
    /// Camellia in CBC mode.
    CamelliaCbc,
    /// ARIA in GCM mode (AEAD).
    AriaGcm,
    /// ChaCha20 with Poly1305 (AEAD).
    Chacha20Poly1305,
}

/// The record MAC (`Aead` for AEAD ciphers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mac {
    /// The cipher is AEAD: it authenticates the records itself.
    Aead,
    /// HMAC-MD5.
    Md5,
    /// HMAC-SHA1.
    Sha1,
    /// HMAC-SHA256.
    Sha256,
    /// HMAC-SHA384.
    Sha384,
}

/// The oldest protocol a suite can be negotiated in (TLS 1.3 suites only in TLS 1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum MinVersion {
    /// SSL 3.0 and later.
    Ssl3,
    /// TLS 1.0 and later.
    Tls1_0,
    /// TLS 1.2 and later (AEAD and SHA-256 suites).
    Tls1_2,
    /// TLS 1.3 only.
    Tls1_3,
}

/// One cipher suite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Suite {
    /// The IANA code sent on the wire (`0xc030`).
    pub code: u16,
    /// The IANA name (`TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384`), as sslyze and testssl print it.
    pub name: &'static str,
    /// OpenSSL's name (`ECDHE-RSA-AES256-GCM-SHA384`), as `ssl_ciphers` spells it.
    pub openssl: &'static str,
    /// The oldest protocol it can be negotiated in.
    pub min: MinVersion,
    /// Its key exchange.
    pub kx: Kx,
    /// How the server authenticates in it.
    pub auth: Auth,
    /// Its bulk cipher.
    pub cipher: Cipher,
    /// Key bits of the cipher (112 for 3DES, 40 for EXPORT).
    pub bits: u16,
    /// Its record MAC.
    pub mac: Mac,
}

/// Why a suite fails the STIG's "NIST-approved, FIPS-validated" bar, in the order a report lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SuiteWeakness {
    /// No server authentication.
    Anonymous,
    /// No encryption.
    Null,
    /// 40- or 56-bit keys.
    Export,
    /// RC4, broken.
    Rc4,
    /// Single DES.
    Des,
    /// Triple DES: 64-bit blocks (Sweet32), no longer approved by NIST for new encryption.
    TripleDes,
    /// RC2, IDEA, SEED: not NIST-approved.
    Unapproved,
    /// A session key recorded today decrypts later once the server key leaks.
    NoForwardSecrecy,
    /// An HMAC-MD5 record MAC.
    Md5Mac,
    /// An HMAC-SHA1 record MAC (CBC suites).
    Sha1Mac,
}

impl SuiteWeakness {
    /// Plain words.
    pub fn label(self) -> &'static str {
        match self {
            Self::Anonymous => "anonymous (no server authentication)",
            Self::Null => "NULL encryption",
            Self::Export => "EXPORT-grade key",
            Self::Rc4 => "RC4",
            Self::Des => "single DES",
            Self::TripleDes => "3DES (64-bit blocks)",
            Self::Unapproved => "a cipher NIST does not approve",
            Self::NoForwardSecrecy => "no forward secrecy",
            Self::Md5Mac => "MD5 MAC",
            Self::Sha1Mac => "SHA-1 MAC",
        }
    }
}

impl Suite {
    /// The suite with IANA code `code`, when the table knows it.
    pub fn by_code(code: u16) -> Option<&'static Self> {
        table::SUITES.binary_search_by_key(&code, |s| s.code).ok().map(|i| &table::SUITES[i])
    }

    /// Every suite the table knows, by code.
    pub fn all() -> &'static [Self] {
        table::SUITES
    }

    /// The suites a ClientHello for `version` may offer: TLS 1.3's own for TLS 1.3, every other
    /// one whose minimum version is at most `version` below it.
    pub fn for_version(version: TlsVersionName) -> Vec<&'static Self> {
        table::SUITES.iter().filter(|s| s.usable_in(version)).collect()
    }

    /// Whether the suite can be negotiated in `version`.
    pub fn usable_in(&self, version: TlsVersionName) -> bool {
        match version {
            TlsVersionName::Tls1_3 => self.min == MinVersion::Tls1_3,
            TlsVersionName::Tls1_2 => self.min < MinVersion::Tls1_3,
            TlsVersionName::Tls1_0 | TlsVersionName::Tls1_1 => self.min < MinVersion::Tls1_2,
        }
    }

    /// Whether a recorded session stays secret when the server's key later leaks.
    pub fn forward_secrecy(&self) -> bool {
        matches!(self.kx, Kx::Dhe | Kx::Ecdhe | Kx::DhePsk | Kx::EcdhePsk | Kx::Tls13)
    }

    /// What is wrong with the suite, worst first; empty for a suite fit for the STIG.
    pub fn weaknesses(&self) -> Vec<SuiteWeakness> {
        let mut out = Vec::new();
        if self.auth == Auth::Anonymous {
            out.push(SuiteWeakness::Anonymous);
        }
        match self.cipher {
            Cipher::Null => out.push(SuiteWeakness::Null),
            Cipher::Rc4 => out.push(SuiteWeakness::Rc4),
            Cipher::Des => out.push(SuiteWeakness::Des),
            Cipher::TripleDes => out.push(SuiteWeakness::TripleDes),
            Cipher::Rc2 | Cipher::Idea | Cipher::Seed => out.push(SuiteWeakness::Unapproved),
            _ => {}
        }
        if matches!(self.kx, Kx::RsaExport | Kx::DheExport) || (self.bits > 0 && self.bits < 64) {
            out.push(SuiteWeakness::Export);
        }
        if !self.forward_secrecy() {
            out.push(SuiteWeakness::NoForwardSecrecy);
        }
        match self.mac {
            Mac::Md5 => out.push(SuiteWeakness::Md5Mac),
            Mac::Sha1 => out.push(SuiteWeakness::Sha1Mac),
            _ => {}
        }
        out.sort();
        out.dedup();
        out
    }
}

/// A suite code the table does not know, named as sslyze would (`0x1234`).
pub fn name_of(code: u16) -> String {
    Suite::by_code(code).map(|s| s.name.to_string()).unwrap_or_else(|| format!("0x{code:04x}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_and_unique() {
        assert!(table::SUITES.windows(2).all(|w| w[0].code < w[1].code));
        assert!(table::SUITES.len() >= 170);
    }

    #[test]
    fn suites_are_judged_by_what_they_are() {
        let s = |code| Suite::by_code(code).unwrap();
        let gcm = s(0xc030);
        assert_eq!(
            (gcm.name, gcm.openssl),
            ("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "ECDHE-RSA-AES256-GCM-SHA384")
        );
        assert!(gcm.forward_secrecy() && gcm.weaknesses().is_empty());
        assert_eq!(
            s(0x009d).weaknesses(),
            [SuiteWeakness::NoForwardSecrecy],
            "AES256-GCM-SHA384 is static RSA"
        );
        assert_eq!(
            s(0x003a).weaknesses(),
            [SuiteWeakness::Anonymous, SuiteWeakness::Sha1Mac],
            "ADH-AES256-SHA"
        );
        assert!(s(0x000a).weaknesses().contains(&SuiteWeakness::TripleDes));
        assert!(s(0x1301).forward_secrecy() && s(0x1301).usable_in(TlsVersionName::Tls1_3));
        assert!(!s(0x1301).usable_in(TlsVersionName::Tls1_2));
        assert!(!s(0xc02c).usable_in(TlsVersionName::Tls1_1), "GCM needs TLS 1.2");
        assert!(s(0xc014).usable_in(TlsVersionName::Tls1_0));
        assert_eq!(name_of(0xfefe), "0xfefe");
    }

    #[test]
    fn the_table_knows_every_suite_this_openssl_can_negotiate() {
        let out = std::process::Command::new("openssl")
            .args(["ciphers", "-V", "ALL:COMPLEMENTOFALL:@SECLEVEL=0"])
            .output()
            .expect("the openssl CLI is needed");
        let text = String::from_utf8_lossy(&out.stdout);
        let mut seen = 0;
        for line in text.lines() {
            let Some(code) = line.split_whitespace().next() else { continue };
            let hex: String = code.replace("0x", "").replace(',', "");
            let code = u16::from_str_radix(&hex, 16).unwrap();
            let known = Suite::by_code(code)
                .unwrap_or_else(|| panic!("openssl negotiates {line} but the table lacks it"));
            assert!(line.contains(known.openssl), "{line} vs {known:?}");
            seen += 1;
        }
        assert!(seen > 100, "openssl listed {seen} suites");
    }
}
