//! The address field of host rules: `all`, `samehost`, `samenet`, a CIDR block, an address and
//! a netmask in two fields, or a host name (`.suffix` for a domain). Parsed as hba.c does; the
//! matching is a masked comparison in the same address family (an IPv4 rule never matches an
//! IPv6 client, not even an IPv4-mapped one).

use std::fmt;
use std::net::IpAddr;

use crate::error::excerpt;
use crate::tokens::Item;

/// The address field of a `host*` rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Address {
    /// `all`: every client address.
    All,
    /// `samehost`: any of the server's own addresses.
    SameHost,
    /// `samenet`: any address in a subnet the server is directly connected to.
    SameNet,
    /// An address and mask (from `addr/bits` or `addr mask`); `text` is how it was written.
    Net {
        /// The network address as written (bits outside the mask are ignored when matching).
        addr: IpAddr,
        /// The netmask, in the same family as `addr`.
        mask: IpAddr,
        /// The field as written (`10.0.0.0/8`, or `10.0.0.0 255.0.0.0`).
        text: String,
    },
    /// A host name, or a domain suffix starting with `.`; needs DNS to match.
    Hostname(String),
}

impl Address {
    /// A CIDR block such as `10.0.0.0/8`.
    pub fn cidr(addr: IpAddr, bits: u8) -> Option<Self> {
        let mask = mask_from_bits(addr, bits)?;
        Some(Self::Net { addr, mask, text: format!("{addr}/{bits}") })
    }

    /// True if `client` lies in this network (None for the kinds that need DNS or interfaces).
    pub fn contains(&self, client: IpAddr) -> Option<bool> {
        match self {
            Self::All => Some(true),
            Self::Net { addr, mask, .. } => Some(in_net(client, *addr, *mask)),
            Self::SameHost | Self::SameNet | Self::Hostname(_) => None,
        }
    }

    /// True if every client this address matches is matched by `self` too (conservative: false
    /// when it cannot be told without DNS or interface lists).
    pub fn covers(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::All, _) => true,
            (Self::SameHost, Self::SameHost) | (Self::SameNet, Self::SameNet) => true,
            (Self::Net { addr: a, mask: m, .. }, Self::Net { addr: b, mask: n, .. }) => {
                same_family(*a, *b) && bits(*m) & bits(*n) == bits(*m) && in_net(*b, *a, *m)
            }
            (Self::Hostname(a), Self::Hostname(b)) => {
                let (a, b) = (a.to_ascii_lowercase(), b.to_ascii_lowercase());
                a == b || (a.starts_with('.') && b.ends_with(&a))
            }
            _ => false,
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::All => f.write_str("all"),
            Self::SameHost => f.write_str("samehost"),
            Self::SameNet => f.write_str("samenet"),
            Self::Net { text, .. } => f.write_str(text),
            Self::Hostname(h) => f.write_str(h),
        }
    }
}

/// Reads the address field (and the netmask field after a bare address).
pub(super) fn parse(fields: &mut impl Iterator<Item = Vec<Item>>) -> Result<Address, String> {
    let field = fields.next().ok_or("end-of-line before IP address specification")?;
    let [item] = field.as_slice() else { return Err("multiple values specified for host address".into()) };
    let Item::Token(token) = item else { return super::plain(item).map(Address::Hostname) };
    for (word, address) in
        [("all", Address::All), ("samehost", Address::SameHost), ("samenet", Address::SameNet)]
    {
        if token.is_keyword(word) {
            return Ok(address);
        }
    }
    let text = token.text.as_str();
    let (host, bits) = match text.split_once('/') {
        Some((host, bits)) => (host, Some(bits)),
        None => (text, None),
    };
    let Ok(addr) = host.parse::<IpAddr>() else {
        if bits.is_some() {
            return Err(format!("specifying both host name and CIDR mask is invalid: \"{}\"", excerpt(text)));
        }
        return Ok(Address::Hostname(text.to_owned()));
    };
    match bits {
        Some(bits) => {
            let mask = parse_bits(bits)
                .and_then(|b| mask_from_bits(addr, b))
                .ok_or_else(|| format!("invalid CIDR mask in address \"{}\"", excerpt(text)))?;
            Ok(Address::Net { addr, mask, text: text.to_owned() })
        }
        None => parse_mask(fields, addr, text),
    }
}

fn parse_mask(
    fields: &mut impl Iterator<Item = Vec<Item>>,
    addr: IpAddr,
    text: &str,
) -> Result<Address, String> {
    let field = fields.next().ok_or("end-of-line before netmask specification")?;
    let [item] = field.as_slice() else { return Err("multiple values specified for netmask".into()) };
    let mask_text = super::plain(item)?;
    let mask: IpAddr =
        mask_text.parse().map_err(|_| format!("invalid IP mask \"{}\"", excerpt(&mask_text)))?;
    if !same_family(addr, mask) {
        return Err("IP address and mask do not match".into());
    }
    Ok(Address::Net { addr, mask, text: format!("{text} {mask_text}") })
}

/// `pg_sockaddr_cidr_mask`: a decimal number (strtol: optional sign), nothing after it.
fn parse_bits(bits: &str) -> Option<u8> {
    bits.parse::<i64>().ok().and_then(|b| u8::try_from(b).ok())
}

fn mask_from_bits(addr: IpAddr, bits: u8) -> Option<IpAddr> {
    match addr {
        IpAddr::V4(_) if bits <= 32 => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            Some(IpAddr::from(mask.to_be_bytes()))
        }
        IpAddr::V6(_) if bits <= 128 => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            Some(IpAddr::from(mask.to_be_bytes()))
        }
        _ => None,
    }
}

fn same_family(a: IpAddr, b: IpAddr) -> bool {
    a.is_ipv4() == b.is_ipv4()
}

/// The address as a 128-bit number (IPv4 in the low bits; families are compared separately).
fn bits(addr: IpAddr) -> u128 {
    match addr {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

/// `pg_range_sockaddr`: same family, and `(client ^ addr) & mask == 0`.
fn in_net(client: IpAddr, addr: IpAddr, mask: IpAddr) -> bool {
    same_family(client, addr) && (bits(client) ^ bits(addr)) & bits(mask) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Address {
        let (a, b) = s.split_once('/').unwrap();
        Address::cidr(a.parse().unwrap(), b.parse().unwrap()).unwrap()
    }

    #[test]
    fn matching_is_masked_and_per_family() {
        let ten = net("10.0.0.0/8");
        assert_eq!(ten.contains("10.1.2.3".parse().unwrap()), Some(true));
        assert_eq!(ten.contains("11.0.0.1".parse().unwrap()), Some(false));
        assert_eq!(ten.contains("::ffff:10.1.2.3".parse().unwrap()), Some(false));
        assert_eq!(net("0.0.0.0/0").contains("192.0.2.1".parse().unwrap()), Some(true));
        assert_eq!(net("::/0").contains("192.0.2.1".parse().unwrap()), Some(false));
        assert_eq!(Address::Hostname("db".into()).contains("10.0.0.1".parse().unwrap()), None);
    }

    #[test]
    fn coverage() {
        assert!(net("0.0.0.0/0").covers(&net("10.0.0.0/8")));
        assert!(net("10.0.0.0/8").covers(&net("10.1.0.0/16")));
        assert!(!net("10.1.0.0/16").covers(&net("10.0.0.0/8")));
        assert!(!net("10.0.0.0/8").covers(&net("::/0")));
        assert!(Address::Hostname(".example.com".into()).covers(&Address::Hostname("DB.example.com".into())));
        assert!(!net("0.0.0.0/0").covers(&Address::SameHost));
    }
}
