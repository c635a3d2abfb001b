//! What kind of address an IP is: only [`Class::Public`] is reachable for a URL a remote party
//! names. Everything that reaches this machine, the operator's networks, a cloud's metadata
//! service, or nothing routable at all is refused.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The kind of an address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    /// Routable on the internet.
    Public,
    /// This machine: 127.0.0.0/8, ::1.
    Loopback,
    /// "This network" and the unspecified address: 0.0.0.0/8, ::. Connecting to 0.0.0.0
    /// reaches this machine on Linux.
    Unspecified,
    /// The operator's networks: RFC 1918, CGNAT (100.64.0.0/10), unique-local (fc00::/7, which
    /// holds fd00::/8 and a cloud's IPv6 metadata address).
    Private,
    /// Link-local: 169.254.0.0/16 (cloud metadata at 169.254.169.254), fe80::/10.
    LinkLocal,
    /// Multicast and broadcast.
    Multicast,
    /// Documentation, benchmarking, protocol-assignment and reserved ranges: nothing a service
    /// lives at.
    Reserved,
}

impl Class {
    pub fn is_public(self) -> bool {
        self == Class::Public
    }
}

/// Whether a remote-named URL may reach `ip`.
pub fn is_public(ip: IpAddr) -> bool {
    classify(ip).is_public()
}

pub fn classify(ip: IpAddr) -> Class {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

/// IPv4 ranges that are not public, most specific first where they nest.
const V4: &[(u32, u8, Class)] = &[
    (0x0000_0000, 8, Class::Unspecified), // 0.0.0.0/8
    (0x0a00_0000, 8, Class::Private),     // 10.0.0.0/8
    (0x6440_0000, 10, Class::Private),    // 100.64.0.0/10 (CGNAT)
    (0x7f00_0000, 8, Class::Loopback),    // 127.0.0.0/8
    (0xa9fe_0000, 16, Class::LinkLocal),  // 169.254.0.0/16
    (0xac10_0000, 12, Class::Private),    // 172.16.0.0/12
    (0xc000_0000, 24, Class::Reserved),   // 192.0.0.0/24 (protocol assignments)
    (0xc000_0200, 24, Class::Reserved),   // 192.0.2.0/24 (TEST-NET-1)
    (0xc058_6300, 24, Class::Reserved),   // 192.88.99.0/24 (6to4 relay anycast)
    (0xc0a8_0000, 16, Class::Private),    // 192.168.0.0/16
    (0xc612_0000, 15, Class::Reserved),   // 198.18.0.0/15 (benchmarking)
    (0xc633_6400, 24, Class::Reserved),   // 198.51.100.0/24 (TEST-NET-2)
    (0xcb00_7100, 24, Class::Reserved),   // 203.0.113.0/24 (TEST-NET-3)
    (0xe000_0000, 4, Class::Multicast),   // 224.0.0.0/4
    (0xffff_ffff, 32, Class::Multicast),  // 255.255.255.255 (broadcast)
    (0xf000_0000, 4, Class::Reserved),    // 240.0.0.0/4
];

fn classify_v4(ip: Ipv4Addr) -> Class {
    let bits = u32::from(ip);
    V4.iter()
        .find(|(net, len, _)| bits >> (32 - len) == net >> (32 - len))
        .map_or(Class::Public, |(_, _, class)| *class)
}

fn classify_v6(ip: Ipv6Addr) -> Class {
    let bits = u128::from(ip);
    let prefix = |net: u128, len: u32| bits >> (128 - len) == net >> (128 - len);
    if ip.is_unspecified() {
        return Class::Unspecified;
    }
    if ip.is_loopback() {
        return Class::Loopback;
    }
    // Addresses that carry an IPv4 address reach wherever that address does: IPv4-mapped
    // (::ffff:0:0/96), the deprecated IPv4-compatible (::/96) and NAT64 (64:ff9b::/96).
    if prefix(0xffff_0000_0000, 96)
        || prefix(0, 96)
        || prefix(0x0064_ff9b_0000_0000_0000_0000_0000_0000, 96)
    {
        return classify_v4(Ipv4Addr::from(bits as u32));
    }
    // 6to4 (2002::/16) carries the IPv4 address in its next 32 bits.
    if prefix(0x2002 << 112, 16) {
        return classify_v4(Ipv4Addr::from((bits >> 80) as u32));
    }
    if prefix(0xfc00 << 112, 7) {
        return Class::Private;
    }
    if prefix(0xfe80 << 112, 10) || prefix(0xfec0 << 112, 10) {
        return Class::LinkLocal;
    }
    if prefix(0xff00 << 112, 8) {
        return Class::Multicast;
    }
    // Local-use NAT64 (64:ff9b:1::/48), discard-only (100::/64), protocol assignments
    // including Teredo (2001::/23), documentation (2001:db8::/32, 3fff::/20).
    if prefix(0x0064_ff9b_0001 << 80, 48)
        || prefix(0x0100 << 112, 64)
        || prefix(0x2001 << 112, 23)
        || prefix(0x2001_0db8 << 96, 32)
        || prefix(0x3fff << 112, 20)
    {
        return Class::Reserved;
    }
    Class::Public
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_classes() {
        use Class::*;
        let table: &[(&str, Class)] = &[
            // IPv4
            ("8.8.8.8", Public),
            ("1.1.1.1", Public),
            ("93.184.216.34", Public),
            ("0.0.0.0", Unspecified),
            ("0.1.2.3", Unspecified),
            ("10.0.0.1", Private),
            ("10.255.255.255", Private),
            ("100.64.0.1", Private),
            ("100.127.255.254", Private),
            ("100.128.0.1", Public),
            ("127.0.0.1", Loopback),
            ("127.1.2.3", Loopback),
            ("169.254.169.254", LinkLocal),
            ("169.254.0.1", LinkLocal),
            ("172.16.0.1", Private),
            ("172.31.255.255", Private),
            ("172.32.0.1", Public),
            ("192.0.0.170", Reserved),
            ("192.0.2.1", Reserved),
            ("192.88.99.1", Reserved),
            ("192.168.1.1", Private),
            ("198.18.0.1", Reserved),
            ("198.19.255.255", Reserved),
            ("198.51.100.7", Reserved),
            ("203.0.113.9", Reserved),
            ("224.0.0.1", Multicast),
            ("239.255.255.250", Multicast),
            ("240.0.0.1", Reserved),
            ("255.255.255.255", Multicast),
            // IPv6
            ("2606:4700:4700::1111", Public),
            ("2a00:1450:4001::200e", Public),
            ("::", Unspecified),
            ("::1", Loopback),
            ("fc00::1", Private),
            ("fd00::1", Private),
            ("fd00:ec2::254", Private),
            ("fe80::1", LinkLocal),
            ("fec0::1", LinkLocal),
            ("ff02::1", Multicast),
            ("2001:db8::1", Reserved),
            ("2001::1", Reserved),
            ("100::1", Reserved),
            ("64:ff9b:1::1", Reserved),
            ("3fff::1", Reserved),
            // IPv6 carrying IPv4: classified by the IPv4 address inside.
            ("::ffff:127.0.0.1", Loopback),
            ("::ffff:7f00:1", Loopback),
            ("::ffff:10.1.2.3", Private),
            ("::ffff:169.254.169.254", LinkLocal),
            ("::ffff:0.0.0.0", Unspecified),
            ("::ffff:8.8.8.8", Public),
            ("::127.0.0.1", Loopback),
            ("::8.8.8.8", Public),
            ("64:ff9b::127.0.0.1", Loopback),
            ("64:ff9b::a9fe:a9fe", LinkLocal),
            ("64:ff9b::8.8.8.8", Public),
            ("2002:7f00:1::", Loopback),
            ("2002:c0a8:101::1", Private),
            ("2002:808:808::1", Public),
        ];
        for (ip, class) in table {
            let parsed: IpAddr = ip.parse().expect("test address");
            assert_eq!(classify(parsed), *class, "{ip}");
            assert_eq!(is_public(parsed), *class == Public, "{ip}");
        }
    }
}
