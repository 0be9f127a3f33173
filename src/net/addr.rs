//! Which IP addresses an outbound fetch may reach: only globally routable unicast.
//!
//! Refused (IANA special-purpose registries, RFC 6890 and successors): unspecified,
//! loopback, RFC 1918 private, CGNAT shared space (RFC 6598), link-local, IETF
//! protocol assignments, documentation and benchmarking ranges, 6to4 relay anycast,
//! multicast, reserved and broadcast; for IPv6 also unique-local (RFC 4193),
//! site-local, discard-only, ORCHID and documentation ranges. IPv6 forms that embed an
//! IPv4 address (IPv4-mapped, IPv4-compatible, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`,
//! Teredo `2001::/32`) are judged by — or, where the embedded address cannot be
//! trusted, refused for — the address inside.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// One client's share of the address space, for counting requests per client: an
/// IPv6 client usually holds a whole prefix (a /64 at least, often a /56 or /48), so
/// the first `prefix` bits are one client; an IPv4-mapped address is its IPv4 address.
pub fn client_prefix(ip: IpAddr, prefix: u32) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mask = u128::MAX.checked_shl(128 - prefix.min(128)).unwrap_or(0);
                IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
            }
        },
        IpAddr::V4(_) => ip,
    }
}

/// Whether an outbound fetch may connect to `ip`.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0                                   // "this network" 0.0.0.0/8
        || a == 10                             // private 10/8
        || (a == 100 && (64..128).contains(&b)) // CGNAT 100.64/10
        || a == 127                            // loopback
        || (a == 169 && b == 254)              // link-local
        || (a == 172 && (16..32).contains(&b)) // private 172.16/12
        || (a == 192 && b == 0 && c == 0)      // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2)      // TEST-NET-1
        || (a == 192 && b == 88 && c == 99)    // 6to4 relay anycast
        || (a == 192 && b == 168)              // private 192.168/16
        || (a == 198 && (b == 18 || b == 19))  // benchmarking 198.18/15
        || (a == 198 && b == 51 && c == 100)   // TEST-NET-2
        || (a == 203 && b == 0 && c == 113)    // TEST-NET-3
        || a >= 224) // multicast 224/4, reserved 240/4, broadcast
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    match s {
        // Unspecified, loopback and the deprecated IPv4-compatible ::a.b.c.d.
        [0, 0, 0, 0, 0, 0, _, _] => false,
        // NAT64 well-known prefix: the IPv4 address is in the last 32 bits.
        [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => {
            is_public_v4(Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo)))
        }
        // Local-use NAT64 (RFC 8215) and discard-only (RFC 6666).
        [0x64, 0xff9b, 1, ..] | [0x100, 0, 0, 0, ..] => false,
        // 6to4: the IPv4 address is in bits 16..48.
        [0x2002, hi, lo, ..] => is_public_v4(Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo))),
        // Teredo (2001::/32): tunnels whose far end cannot be checked here.
        [0x2001, 0, ..] => false,
        // ORCHIDv2 (2001:20::/28) and documentation (2001:db8::/32, 3fff::/20).
        [0x2001, b, ..] if (0x20..0x30).contains(&b) => false,
        [0x2001, 0xdb8, ..] => false,
        [a, ..] if (a & 0xfff0) == 0x3ff0 => false,
        // Unique-local fc00::/7, link-local fe80::/10, site-local fec0::/10, multicast.
        [a, ..] if (a & 0xfe00) == 0xfc00 => false,
        [a, ..] if (a & 0xffc0) == 0xfe80 || (a & 0xffc0) == 0xfec0 => false,
        [a, ..] if (a & 0xff00) == 0xff00 => false,
        // Only global unicast (2000::/3) is routable on the Internet.
        [a, ..] => (a & 0xe000) == 0x2000,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    #[test]
    fn refused_addresses() {
        for a in [
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "100.64.0.1",
            "100.127.255.254",
            "127.0.0.1",
            "127.255.255.254",
            "169.254.169.254", // cloud metadata
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.88.99.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::127.0.0.1",
            "::ffff:127.0.0.1",
            "::ffff:10.1.2.3",
            "::ffff:169.254.169.254",
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::1",
            "100::1",
            "2002:7f00:1::1",
            "2002:c0a8:101::1",
            "2001::1",
            "2001:db8::1",
            "2001:20::1",
            "3fff::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
            "ff0e::1",
            "4000::1",
        ] {
            assert!(!is_public(ip(a)), "{a} must be refused");
        }
    }

    #[test]
    fn public_addresses() {
        for a in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.216.34",
            "100.63.255.255",
            "100.128.0.1",
            "172.15.255.255",
            "172.32.0.1",
            "192.0.1.1",
            "192.169.0.1",
            "198.20.0.1",
            "223.255.255.255",
            "2606:4700:4700::1111",
            "2a00:1450:4001:80b::200e",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert!(is_public(ip(a)), "{a} is public");
        }
    }

    proptest! {
        /// An address and its IPv4-mapped IPv6 form are judged alike.
        #[test]
        fn mapped_v4_is_judged_like_v4(n in any::<u32>()) {
            let v4 = Ipv4Addr::from(n);
            prop_assert_eq!(is_public_v4(v4), is_public(IpAddr::V6(v4.to_ipv6_mapped())));
        }

        /// Nothing in the private, loopback or link-local ranges is ever public.
        #[test]
        fn private_ranges_never_public(host in any::<u32>()) {
            for (net, bits) in [(0x0a00_0000_u32, 8), (0x7f00_0000, 8), (0xac10_0000, 12),
                                (0xc0a8_0000, 16), (0xa9fe_0000, 16), (0x6440_0000, 10)] {
                let a = net | (host >> bits);
                prop_assert!(!is_public(IpAddr::V4(Ipv4Addr::from(a))), "{}", Ipv4Addr::from(a));
            }
        }
    }
}
