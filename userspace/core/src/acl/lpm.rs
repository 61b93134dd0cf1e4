//! Longest-prefix match over IPv4 and IPv6 networks, for `-m ip` ACLs and
//! the `map_ip` converter. A binary trie per family: a lookup descends at
//! most 32 (IPv4) or 128 (IPv6) levels, whatever the number of networks.
//!
//! IPv4-mapped IPv6 samples (`::ffff:a.b.c.d`) are also looked up among the
//! IPv4 networks and IPv4 samples among IPv6 networks in mapped form, so a
//! dual-stack listener matches `10.0.0.0/8` as HAProxy does.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const NONE: u32 = u32::MAX;

/// One family's binary trie: node 0 is the root; children by next bit.
#[derive(Debug, Clone)]
struct BitTrie {
    children: Vec<[u32; 2]>,
    values: Vec<u32>,
    width: u32,
}

impl BitTrie {
    fn new(width: u32) -> Self {
        BitTrie {
            children: vec![[NONE; 2]],
            values: vec![NONE],
            width,
        }
    }

    fn is_empty(&self) -> bool {
        self.children.len() == 1 && self.values[0] == NONE
    }

    /// Inserts `bits` (left-aligned in a u128) with `len` significant bits;
    /// the first value inserted for a network wins.
    fn insert(&mut self, bits: u128, len: u32, value: u32) {
        let mut node = 0usize;
        for i in 0..len {
            let bit = ((bits >> (127 - i)) & 1) as usize;
            if self.children[node][bit] == NONE {
                self.children[node][bit] = self.children.len() as u32;
                self.children.push([NONE; 2]);
                self.values.push(NONE);
            }
            node = self.children[node][bit] as usize;
        }
        if self.values[node] == NONE {
            self.values[node] = value;
        }
    }

    /// The value of the longest network containing `bits`.
    fn lookup(&self, bits: u128, steps: &mut u64) -> Option<u32> {
        let mut node = 0usize;
        let mut best = self.values[0];
        for i in 0..self.width {
            *steps += 1;
            let bit = ((bits >> (127 - i)) & 1) as usize;
            let next = self.children[node][bit];
            if next == NONE {
                break;
            }
            node = next as usize;
            if self.values[node] != NONE {
                best = self.values[node];
            }
        }
        (best != NONE).then_some(best)
    }
}

/// IPv4 and IPv6 networks with a value each (a pattern index).
#[derive(Debug, Clone)]
pub(crate) struct IpTable {
    v4: BitTrie,
    v6: BitTrie,
}

impl Default for IpTable {
    fn default() -> Self {
        IpTable {
            v4: BitTrie::new(32),
            v6: BitTrie::new(128),
        }
    }
}

fn v4_bits(a: Ipv4Addr) -> u128 {
    u128::from(u32::from(a)) << 96
}

fn v6_bits(a: Ipv6Addr) -> u128 {
    u128::from(a)
}

impl IpTable {
    /// Adds a network; `len` is at most 32 for IPv4 and 128 for IPv6.
    pub(crate) fn insert(&mut self, net: IpAddr, len: u32, value: u32) {
        match net {
            IpAddr::V4(a) => self.v4.insert(v4_bits(a), len.min(32), value),
            IpAddr::V6(a) => self.v6.insert(v6_bits(a), len.min(128), value),
        }
    }

    /// The value of the longest network containing `ip` (same family first,
    /// then the IPv4-mapped form in the other family).
    pub(crate) fn lookup(&self, ip: IpAddr, steps: &mut u64) -> Option<u32> {
        match ip {
            IpAddr::V4(a) => self.v4.lookup(v4_bits(a), steps).or_else(|| {
                if self.v6.is_empty() {
                    None
                } else {
                    self.v6.lookup(v6_bits(a.to_ipv6_mapped()), steps)
                }
            }),
            IpAddr::V6(a) => self.v6.lookup(v6_bits(a), steps).or_else(|| {
                a.to_ipv4_mapped()
                    .and_then(|m| self.v4.lookup(v4_bits(m), steps))
            }),
        }
    }
}

/// Parses `ADDR`, `ADDR/LEN` or `A.B.C.D/M.A.S.K` into a network.
/// Host names are refused: the core never resolves names.
pub(crate) fn parse_network(s: &str) -> Result<(IpAddr, u32), String> {
    let (addr, mask) = match s.split_once('/') {
        Some((a, m)) => (a, Some(m)),
        None => (s, None),
    };
    let ip: IpAddr = addr.parse().map_err(|_| {
        if addr.bytes().any(|b| b.is_ascii_alphabetic()) && !addr.contains(':') {
            "host names are not resolved in ACL patterns; write an address".to_string()
        } else {
            "not an IPv4 or IPv6 address".to_string()
        }
    })?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len = match mask {
        None => max,
        Some(m) => {
            if let Ok(n) = m.parse::<u32>() {
                if n > max {
                    return Err(format!("prefix length {n} exceeds {max}"));
                }
                n
            } else if let (IpAddr::V4(_), Ok(mask)) = (ip, m.parse::<Ipv4Addr>()) {
                let bits = u32::from(mask);
                let n = bits.leading_ones();
                if bits.checked_shl(n).unwrap_or(0) != 0 {
                    return Err(format!("netmask '{m}' is not contiguous"));
                }
                n
            } else {
                return Err(format!("bad netmask '{m}'"));
            }
        }
    };
    Ok((ip, len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(nets: &[&str]) -> IpTable {
        let mut t = IpTable::default();
        for (i, n) in nets.iter().enumerate() {
            let (ip, len) = parse_network(n).unwrap();
            t.insert(ip, len, i as u32);
        }
        t
    }

    fn look(t: &IpTable, ip: &str) -> Option<u32> {
        let mut steps = 0;
        t.lookup(ip.parse().unwrap(), &mut steps)
    }

    #[test]
    fn longest_prefix_wins() {
        let t = table(&["10.0.0.0/8", "10.1.0.0/16", "10.1.2.3", "0.0.0.0/0"]);
        assert_eq!(look(&t, "10.1.2.3"), Some(2));
        assert_eq!(look(&t, "10.1.9.9"), Some(1));
        assert_eq!(look(&t, "10.200.0.1"), Some(0));
        assert_eq!(look(&t, "192.0.2.1"), Some(3));
    }

    #[test]
    fn v6_and_mapped() {
        let t = table(&["2001:db8::/32", "127.0.0.0/8"]);
        assert_eq!(look(&t, "2001:db8:1::5"), Some(0));
        assert_eq!(look(&t, "2001:db9::1"), None);
        assert_eq!(look(&t, "::ffff:127.0.0.1"), Some(1));
        let t = table(&["::ffff:192.0.2.0/120"]);
        assert_eq!(look(&t, "192.0.2.77"), Some(0));
    }

    #[test]
    fn parse_forms() {
        assert_eq!(
            parse_network("10.0.0.0/255.255.0.0").unwrap(),
            ("10.0.0.0".parse().unwrap(), 16)
        );
        assert_eq!(parse_network("::1").unwrap().1, 128);
        assert!(parse_network("10.0.0.0/33").is_err());
        assert!(parse_network("10.0.0.0/255.0.255.0").is_err());
        assert!(parse_network("example.com")
            .unwrap_err()
            .contains("host names"));
        assert!(parse_network("10.0.0").is_err());
    }
}
