//! Which hosts a provider must not be asked to fetch from, and which a plain-HTTP base URL
//! may name.

use std::net::{Ipv4Addr, Ipv6Addr};

use url::Host;

/// Name suffixes that never name a public host: special-use and private-use domains.
const PRIVATE_SUFFIXES: &[&str] = &[
    ".localhost",
    ".local",
    ".internal",
    ".home.arpa",
    ".arpa",
    ".lan",
    ".localdomain",
    ".intranet",
    ".corp",
    ".private",
];

/// True for every host a provider should not be asked to fetch from: loopback, private,
/// link-local, unique-local, site-local, multicast, reserved, documentation, benchmarking and
/// metadata addresses, in every IPv4 and IPv6 spelling that reaches them (IPv4-mapped,
/// -compatible and -translated IPv6, NAT64, 6to4), single-label names (`http://intranet/`),
/// `localhost` and its subdomains, and special-use suffixes (`.internal`, `.local`, ...).
///
/// Numeric IPv4 spellings (`2130706433`, `0x7f.1`, `0177.0.0.1`) arrive here already as
/// `Host::Ipv4`: the `url` crate normalizes them while parsing. Names are not resolved
/// here: for storage URLs (downloads, presigned uploads) the addresses a name resolves to
/// are checked again by `public_dns`; for a reference-audio URL, which the vendor fetches,
/// a public name that resolves to a private address is the vendor's fetcher to refuse.
pub(crate) fn is_private_host(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(d) => {
            // Every trailing dot: the `url` crate keeps `127.0.0.1..` and `localhost..` as
            // names (only one trailing dot makes an IPv4 literal), and a resolver may not.
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            if let Ok(Host::Ipv4(ip)) = Host::parse(&d) {
                return is_private_v4(ip);
            }
            !d.contains('.') || d == "localhost" || PRIVATE_SUFFIXES.iter().any(|s| d.ends_with(s))
        }
        Host::Ipv4(ip) => is_private_v4(*ip),
        Host::Ipv6(ip) => is_private_v6(*ip),
    }
}

/// True for hosts a plain-HTTP base URL may name: a loopback IP literal (127/8, ::1, or
/// 127/8 mapped into IPv6) or exactly `localhost`; not `*.localhost`, not `localhost.`.
pub(crate) fn is_loopback_host(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        Host::Ipv4(ip) => ip.is_loopback(),
        Host::Ipv6(ip) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
    }
}

/// IPv4 special-purpose ranges (IANA registry; RFC 6890 and successors).
fn is_private_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    a == 0 // "this network" 0/8
        || a == 10 // private 10/8
        || (a == 100 && (64..128).contains(&b)) // shared (CGNAT) 100.64/10, incl. 100.100.100.200 metadata
        || a == 127 // loopback 127/8
        || (a == 169 && b == 254) // link-local 169.254/16, incl. 169.254.169.254 metadata
        || (a == 172 && (16..32).contains(&b)) // private 172.16/12
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments 192.0.0/24
        || (a == 192 && b == 0 && c == 2) // TEST-NET-1 192.0.2/24
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast 192.88.99/24
        || (a == 192 && b == 168) // private 192.168/16
        || (a == 198 && (18..20).contains(&b)) // benchmarking 198.18/15
        || (a == 198 && b == 51 && c == 100) // TEST-NET-2 198.51.100/24
        || (a == 203 && b == 0 && c == 113) // TEST-NET-3 203.0.113/24
        || a >= 224 // multicast 224/4, reserved 240/4, broadcast 255.255.255.255
}

/// IPv6 special-purpose ranges, and the IPv4 address inside every form that embeds one.
fn is_private_v6(ip: Ipv6Addr) -> bool {
    let seg = ip.segments();
    let [s0, s1, s2, s3, s4, s5, ..] = seg;
    let low_v4 = {
        let [.., a, b, c, d] = ip.octets();
        Ipv4Addr::new(a, b, c, d)
    };
    if s0 == 0 && s1 == 0 && s2 == 0 && s3 == 0 {
        return match (s4, s5) {
            // IPv4-mapped ::ffff:a.b.c.d: reaches a.b.c.d.
            (0, 0xffff) => is_private_v4(low_v4),
            // IPv4-translated ::ffff:0:a.b.c.d (SIIT): reaches a.b.c.d.
            (0xffff, 0) => is_private_v4(low_v4),
            // ::/96: unspecified, loopback and the deprecated IPv4-compatible ::a.b.c.d,
            // refused whatever they embed. The rest of ::/64 (`::1:0:0:1`) is no global
            // unicast either (outside 2000::/3).
            _ => true,
        };
    }
    // NAT64 well-known prefix 64:ff9b::/96 reaches its embedded IPv4 address.
    if (s0, s1, s2, s3, s4, s5) == (0x64, 0xff9b, 0, 0, 0, 0) {
        return is_private_v4(low_v4);
    }
    // Global unicast is 2000::/3 (RFC 4291 2.4; IANA allocates from nothing else): every
    // other block is reserved, local, multicast or special-purpose (the rest of 0000::/8 such
    // as `0:0:0:1::1`, 0100::/8 beyond discard-only 100::/64, NAT64 local-use 64:ff9b:1::/48,
    // SRv6 5f00::/16, unique-local fc00::/7, link-local fe80::/10, site-local fec0::/10,
    // multicast ff00::/8, and blocks a stack may route locally). Listing the special ranges
    // one by one left the unlisted ones public.
    if (s0 & 0xe000) != 0x2000 {
        return true;
    }
    // 6to4 2002::/16 embeds the IPv4 address in bits 16..48.
    if s0 == 0x2002 {
        let [h, l] = [s1.to_be_bytes(), s2.to_be_bytes()];
        let [a, b] = h;
        let [c, d] = l;
        return is_private_v4(Ipv4Addr::new(a, b, c, d));
    }
    // The special-purpose ranges inside 2000::/3.
    match s0 {
        // IETF protocol assignments 2001::/23 (Teredo, benchmarking, ORCHID), and
        // documentation 2001:db8::/32.
        0x2001 => s1 < 0x200 || s1 == 0xdb8,
        // Documentation 3fff::/20.
        0x3fff => s1 < 0x1000,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use crate::error::{Error, ErrorKind};

    fn field_of(r: Result<impl std::fmt::Debug, Error>) -> String {
        match r.unwrap_err().kind() {
            ErrorKind::InvalidInput { field, .. } => field.clone(),
            other => panic!("{other:?}"),
        }
    }

    /// Every special-purpose range, by its first, an inner and (where it matters) its last
    /// address; numeric IPv4 spellings the `url` crate normalizes; and public neighbours.
    #[test]
    fn private_hosts_every_range() {
        let refused = [
            // IPv4 special-purpose ranges.
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "10.255.255.255",
            "100.64.0.1",
            "100.127.255.255",
            "127.0.0.1",
            "127.255.255.254",
            "169.254.0.1",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.1",
            "192.0.0.192",
            "192.0.2.1",
            "192.88.99.1",
            "192.168.0.1",
            "192.168.255.255",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "254.1.1.1",
            "255.255.255.255",
            // Numeric forms the url crate turns into Host::Ipv4.
            "2130706433",
            "0x7f.1",
            "0x7f000001",
            "0177.0.0.1",
            "127.1",
            "017700000001",
            "0xa9fea9fe",
            "0xA9.0xFE.0xA9.0xFE",
            "0",
            "10.1",
            // IPv6: loopback, unspecified, mapped / compatible / translated IPv4.
            "[::1]",
            "[::]",
            "[0:0:0:0:0:0:0:1]",
            "[::ffff:127.0.0.1]",
            "[::ffff:7f00:1]",
            "[::ffff:169.254.169.254]",
            "[::ffff:10.0.0.1]",
            "[::127.0.0.1]",
            "[::a9fe:a9fe]",
            "[::8.8.8.8]",
            "[::ffff:0:127.0.0.1]",
            "[::ffff:0:a00:1]",
            // NAT64 (well-known prefix with a private IPv4, local-use prefix), 6to4.
            "[64:ff9b::127.0.0.1]",
            "[64:ff9b::a9fe:a9fe]",
            "[64:ff9b::10.0.0.1]",
            "[64:ff9b:1::808:808]",
            "[64:ff9b:1:ffff::1]",
            "[2002:7f00:1::]",
            "[2002:a9fe:a9fe::1]",
            "[2002:c0a8:101::1]",
            "[2002:a00:1::]",
            // Unique-local, link-local, site-local, multicast, documentation, discard,
            // IETF protocol assignments (Teredo, benchmarking, ORCHID), SRv6.
            "[fc00::1]",
            "[fd00:ec2::254]",
            "[fdff:ffff::1]",
            "[fe80::1]",
            "[febf::1]",
            "[fec0::1]",
            "[feff::1]",
            "[ff02::1]",
            "[ff05::1:3]",
            "[ff0e::1]",
            "[2001:db8::1]",
            "[2001:db8:ffff:ffff::1]",
            "[100::1]",
            "[2001::1]",
            "[2001:2::1]",
            "[2001:10::1]",
            "[2001:1ff::1]",
            "[3fff::1]",
            "[3fff:fff:ffff::1]",
            "[5f00::1]",
            // Names.
            "localhost",
            "LOCALHOST",
            "localhost.",
            "api.localhost",
            "intranet",
            "intranet.",
            "metadata",
            "metadata.google.internal",
            "metadata.azure.internal",
            "printer.local",
            "nas.home.arpa",
            "host.lan",
            "box.localdomain",
            "1.0.0.127.in-addr.arpa",
            // More than one trailing dot: still names to the `url` crate.
            "localhost..",
            "127.0.0.1..",
            "10.0.0.1...",
            "0x7f.1..",
            "api.localhost..",
            "intranet..",
            "metadata.google.internal..",
            // IDNA maps these to the names above.
            "ｌｏｃａｌｈｏｓｔ",
            "localhost。",
            "127。0。0。1",
        ];
        for host in refused {
            let url = format!("https://{host}/a.wav");
            assert_eq!(
                field_of(crate::provider::vmeg::rules::audio_url(&url, false)),
                "audio_url",
                "{host}"
            );
            assert!(
                crate::provider::vmeg::rules::audio_url(&url, true).is_ok(),
                "{host} opted in"
            );
        }
        let allowed = [
            "8.8.8.8",
            "1.1.1.1",
            "93.184.216.34",
            "9.255.255.255",
            "11.0.0.1",
            "100.63.255.255",
            "100.128.0.1",
            "126.255.255.255",
            "128.0.0.1",
            "169.253.1.1",
            "169.255.0.1",
            "172.15.255.255",
            "172.32.0.1",
            "192.0.1.1",
            "192.0.3.1",
            "192.88.98.1",
            "192.167.1.1",
            "192.169.0.1",
            "198.17.255.255",
            "198.20.0.1",
            "198.51.99.1",
            "203.0.112.1",
            "223.255.255.255",
            "[2606:4700::1]",
            "[2001:4860:4860::8888]",
            "[2a00:1450:4001::1]",
            "[64:ff9b::808:808]",
            "[64:ff9b::8.8.8.8]",
            "[2002:808:808::1]",
            "[::ffff:8.8.8.8]",
            "[2001:200::1]",
            "cdn.example.com",
            "a.b.example.co.uk",
            "localhost.example.com",
            "xn--nxasmq6b.com",
        ];
        for host in allowed {
            let url = format!("https://{host}/a.wav");
            assert!(
                crate::provider::vmeg::rules::audio_url(&url, false).is_ok(),
                "{host}"
            );
        }
    }

    /// IPv6 is public only inside global unicast 2000::/3 (less its special ranges); every
    /// other block is refused, also the ones no list names. The embedded-IPv4 forms keep
    /// their own reading (their IPv4 address decides).
    #[test]
    fn ipv6_outside_global_unicast_is_private() {
        let v6 = |s: &str| Host::Ipv6(s.parse::<Ipv6Addr>().unwrap());
        for private in [
            // The rest of 0000::/8 beyond ::/96 and the IPv4-mapped and -translated forms.
            "0:0:0:1::1",
            "::1:0:0:1",
            "::1:2:3:4",
            "::fffe:0:0",
            "0:0:1::",
            "1::1",
            "ff:ffff::1",
            // 0100::/8 outside discard-only 100::/64.
            "100:0:0:1::1",
            "101::1",
            "1ff::1",
            // NAT64 beside the well-known /96 (which embeds an IPv4 address).
            "64:ff9b:2::1",
            "64:ff9c::1",
            "64:ff9b:0:0:1::808:808",
            // Every other block outside 2000::/3.
            "200::1",
            "400::1",
            "800::1",
            "1000::1",
            "1fff:ffff::1",
            "4000::1",
            "5eff::1",
            "5f01::1",
            "6000::1",
            "8000::1",
            "a000::1",
            "c000::1",
            "e000::1",
            "f000::1",
            "f800::1",
            "fbff::1",
        ] {
            assert!(is_private_host(&v6(private)), "{private}");
        }
        for public in [
            "2000::1",
            "2001:200::1",
            "2400:cb00::1",
            "2606:4700::1",
            "3ffe::1",
            "3fff:1000::1",
            "3fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            // Embedded public IPv4: as before.
            "::ffff:8.8.8.8",
            "::ffff:0:8.8.8.8",
            "64:ff9b::8.8.8.8",
            "2002:808:808::1",
        ] {
            assert!(!is_private_host(&v6(public)), "{public}");
        }
    }

    #[test]
    fn loopback_detection() {
        assert!(is_loopback_host(&Host::Domain("localhost")));
        assert!(is_loopback_host(&Host::Ipv4(Ipv4Addr::new(127, 0, 0, 2))));
        assert!(!is_loopback_host(&Host::Ipv4(Ipv4Addr::new(10, 0, 0, 1))));
        assert!(is_private_host(&Host::Ipv4(Ipv4Addr::new(100, 64, 0, 1))));
        assert!(!is_private_host(&Host::Ipv4(Ipv4Addr::new(8, 8, 8, 8))));
    }
}
