//! Host-name resolution for server addresses, done once at start-up as
//! HAProxy does with libc (`init-addr libc`). Kept apart from parsing so
//! that `parse_str` never touches the network and tests stay hermetic.

use std::net::{IpAddr, ToSocketAddrs};

use crate::error::{ConfigError, SectionKind, SectionRef};
use crate::types::{Config, ServerHost};

/// Resolves `name` with the system resolver. HAProxy's default
/// `resolve-prefer` is ipv6, so an IPv6 address is preferred when the
/// resolver returns one, else the first IPv4 address.
pub fn resolve_host(name: &str) -> std::io::Result<IpAddr> {
    let addrs: Vec<IpAddr> = (name, 0u16).to_socket_addrs()?.map(|a| a.ip()).collect();
    addrs
        .iter()
        .find(|a| a.is_ipv6())
        .or_else(|| addrs.first())
        .copied()
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no address"))
}

/// Replaces every server host name of `cfg` by its address. Fails on the
/// first name that does not resolve, naming the server line (HAProxy refuses
/// to start in that case too).
pub fn resolve_servers(cfg: &mut Config) -> Result<(), ConfigError> {
    for be in &mut cfg.backends {
        let kind = if be.from_listen {
            SectionKind::Listen
        } else {
            SectionKind::Backend
        };
        for s in &mut be.servers {
            if let ServerHost::Name(n) = &s.addr.host {
                let ip = resolve_host(n).map_err(|e| ConfigError::At {
                    loc: s.loc.clone(),
                    section: Some(SectionRef {
                        kind,
                        name: Some(be.name.clone()),
                    }),
                    msg: format!(
                        "could not resolve address '{n}' of server '{}': {e}",
                        s.name
                    ),
                })?;
                s.addr.host = ServerHost::Ip(ip);
            }
        }
    }
    Ok(())
}
