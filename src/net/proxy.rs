//! The client's address behind a load balancer (`--trusted-proxy CIDR`).
//!
//! Per-address limits (rate limits, sign-in throttles, stored records per anonymous
//! client) key on the client's IP address. Behind a load balancer or TLS terminator
//! every connection comes from the proxy, so the proxy's `X-Forwarded-For` is read —
//! but only on connections from a configured trusted network, never from anyone
//! else (a client may send any header it likes).
//!
//! Each proxy appends the address it received the connection from to the list, so
//! the list is read from the right: addresses of trusted proxies are skipped, and the
//! first one that is not a trusted proxy is the client. Anything left of it was
//! written by the client and is ignored. An entry that is not an address stops the
//! walk at the last trusted hop.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use hyper::HeaderMap;
use ipnet::IpNet;

/// The networks whose connections carry the client's address in `X-Forwarded-For`.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Arc<[IpNet]>);

/// A `--trusted-proxy` value that is neither an address nor a CIDR.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{0:?} is not a network: give an address (10.0.0.5) or a CIDR block (10.0.0.0/8, fd00::/8)"
)]
pub struct BadNetwork(String);

/// Reads one `--trusted-proxy` value: a CIDR block or a single address.
pub fn parse_network(s: &str) -> Result<IpNet, BadNetwork> {
    let s = s.trim();
    if let Ok(net) = s.parse::<IpNet>() {
        return Ok(net.trunc());
    }
    s.parse::<IpAddr>()
        .map(IpNet::from)
        .map_err(|_| BadNetwork(s.to_owned()))
}

impl TrustedProxies {
    pub fn new(networks: impl IntoIterator<Item = IpNet>) -> Self {
        Self(networks.into_iter().collect())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether connections from `ip` come through a trusted proxy.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|n| n.contains(&ip))
    }

    /// The client's address for a connection from `peer` carrying `headers`.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = canonical(peer);
        if !self.trusts(client) {
            return client;
        }
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        for hop in hops.iter().rev() {
            let Some(ip) = hop_address(hop) else {
                break;
            };
            client = ip;
            if !self.trusts(ip) {
                break;
            }
        }
        client
    }
}

/// An IPv4 address mapped into IPv6 (`::ffff:10.0.0.1`) as the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// One `X-Forwarded-For` entry: an address, with or without a port (`[::1]:443`).
fn hop_address(hop: &str) -> Option<IpAddr> {
    hop.parse::<IpAddr>()
        .or_else(|_| hop.parse::<SocketAddr>().map(|s| s.ip()))
        .ok()
        .map(canonical)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn proxies(nets: &[&str]) -> TrustedProxies {
        TrustedProxies::new(nets.iter().map(|n| parse_network(n).expect("net")))
    }

    fn xff(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", v.parse().expect("value"));
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn networks_parse_as_cidr_or_single_addresses() {
        assert_eq!(
            parse_network("10.1.2.3/8").map(|n| n.to_string()),
            Ok("10.0.0.0/8".into())
        );
        assert_eq!(
            parse_network(" 192.0.2.7 ").map(|n| n.to_string()),
            Ok("192.0.2.7/32".into())
        );
        assert_eq!(
            parse_network("fd00::1").map(|n| n.to_string()),
            Ok("fd00::1/128".into())
        );
        assert!(parse_network("10.0.0.0/33").is_err());
        assert!(parse_network("proxy.internal").is_err());
    }

    #[test]
    fn the_header_counts_only_on_connections_from_a_trusted_proxy() {
        let p = proxies(&["10.0.0.0/8"]);
        let forged = xff(&["198.51.100.1"]);
        assert_eq!(p.client(ip("203.0.113.9"), &forged), ip("203.0.113.9"));
        assert_eq!(p.client(ip("10.0.0.2"), &forged), ip("198.51.100.1"));
        assert_eq!(
            p.client(ip("10.0.0.2"), &HeaderMap::new()),
            ip("10.0.0.2"),
            "no header: the proxy itself"
        );
        let none = TrustedProxies::default();
        assert_eq!(none.client(ip("10.0.0.2"), &forged), ip("10.0.0.2"));
    }

    #[test]
    fn the_list_is_read_from_the_right_past_trusted_hops_only() {
        let p = proxies(&["10.0.0.0/8", "fd00::/8"]);
        // The client wrote "1.1.1.1" itself; the edge proxy saw 203.0.113.5; an inner
        // proxy (10.0.0.9) passed it on.
        let h = xff(&["1.1.1.1, 203.0.113.5", "10.0.0.9"]);
        assert_eq!(p.client(ip("10.0.0.2"), &h), ip("203.0.113.5"));
        // Ports, brackets and mapped addresses.
        let h = xff(&["[2001:db8::7]:4711, 10.0.0.3:80"]);
        assert_eq!(p.client(ip("::ffff:10.0.0.2"), &h), ip("2001:db8::7"));
        // Every hop trusted: the leftmost.
        let h = xff(&["10.1.1.1, 10.2.2.2"]);
        assert_eq!(p.client(ip("10.0.0.2"), &h), ip("10.1.1.1"));
        // Garbage stops the walk at the last trusted hop.
        let h = xff(&["203.0.113.5, unknown, 10.0.0.4"]);
        assert_eq!(p.client(ip("10.0.0.2"), &h), ip("10.0.0.4"));
    }
}
