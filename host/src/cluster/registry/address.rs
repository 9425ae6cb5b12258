//! Which hosts registry reads may reach. An image reference is written by whoever writes an
//! AIMService or AIMModel, and a registry's auth challenge and redirects name further URLs, so
//! without a check they would let a namespace user make the operator send requests into the
//! cluster's own network: the apiserver, cloud metadata endpoints, node services. Loopback,
//! link-local, private and other non-public addresses are therefore refused unless the admin
//! allows them (`--registry-allow-private-networks`, for in-cluster and test registries).
//!
//! The check happens where addresses are known: host names are resolved by [`PublicResolver`],
//! which drops refused addresses before any connection is made (so DNS cannot swap in a private
//! address after a check), and IP literals, which are never resolved, by [`check_url`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Whether `ip` is an address on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let refused = ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        // Shared address space (carrier-grade NAT), often used for cluster networks.
        || (a == 100 && (64..128).contains(&b))
        // IETF protocol assignments and benchmarking.
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (18..20).contains(&b))
        // Reserved for future use.
        || a >= 240;
    !refused
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    // An IPv4 address in IPv6 clothing is judged as IPv4: mapped (::ffff:a.b.c.d) and NAT64.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let segments = ip.segments();
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [.., hi, lo] = segments;
        let v4 = Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
        return is_public_v4(v4);
    }
    let first = segments[0];
    let refused = ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        // Deprecated IPv4-compatible addresses (::a.b.c.d).
        || segments[..6] == [0; 6]
        // Unique local (fc00::/7), link-local (fe80::/10) and the old site-local (fec0::/10).
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || (first & 0xffc0) == 0xfec0
        // Documentation (2001:db8::/32).
        || (first == 0x2001 && segments[1] == 0x0db8);
    !refused
}

/// The IP address a URL's host is written as, if it is one (such hosts are never resolved).
fn literal_ip(url: &Url) -> Option<IpAddr> {
    let host = url.host_str()?;
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    bare.parse().ok()
}

/// Why a URL may not be read, if it may not.
pub fn check_url(url: &Url, allow_private: bool) -> Result<(), String> {
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{url} names no host"));
    }
    if let Some(ip) = literal_ip(url).filter(|ip| !allow_private && !is_public(*ip)) {
        return Err(refused(&ip.to_string()));
    }
    match url.scheme() {
        "https" => Ok(()),
        // Plain HTTP only to the loopback interface (local and test registries), and only where
        // those are allowed at all.
        "http" if allow_private && is_loopback_host(url) => Ok(()),
        scheme => Err(format!(
            "{url}: registries are read over https only ({scheme} is allowed for loopback registries only)"
        )),
    }
}

/// The message for a refused destination.
pub fn refused(host: &str) -> String {
    format!(
        "{host} is a loopback, link-local or private address, which registry reads may not reach \
         (the operator's --registry-allow-private-networks allows them)"
    )
}

/// Whether the URL's host is the loopback interface (`localhost`, `127.0.0.0/8`, `::1`).
pub fn is_loopback_host(url: &Url) -> bool {
    match literal_ip(url) {
        Some(ip) => ip.is_loopback(),
        None => url
            .host_str()
            .is_some_and(|name| name.eq_ignore_ascii_case("localhost")),
    }
}

/// Resolves host names with the system resolver and keeps only the addresses registry reads may
/// reach.
#[derive(Debug, Clone, Copy)]
pub struct PublicResolver {
    pub allow_private: bool,
}

impl Resolve for PublicResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let lookup = host.clone();
            let found: Vec<SocketAddr> =
                tokio::task::spawn_blocking(move || (lookup.as_str(), 0).to_socket_addrs())
                    .await??
                    .collect();
            let reachable: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|address| allow_private || is_public(address.ip()))
                .collect();
            if reachable.is_empty() && !found.is_empty() {
                return Err(refused(&host).into());
            }
            Ok(Box::new(reachable.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_public() {
        for public in [
            "8.8.8.8",
            "140.82.112.3",
            "2606:4700::1111",
            "64:ff9b::808:808",
        ] {
            assert!(is_public(public.parse().unwrap()), "{public}");
        }
        for refused in [
            "127.0.0.1",
            "10.96.0.1",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "192.0.0.8",
            "198.18.0.1",
            "240.0.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "::10.0.0.1",
            "2001:db8::1",
        ] {
            assert!(!is_public(refused.parse().unwrap()), "{refused}");
        }
    }

    fn url(text: &str) -> Url {
        text.parse().unwrap()
    }

    #[test]
    fn literal_private_hosts_and_plain_http_are_refused_unless_allowed() {
        assert!(check_url(&url("https://ghcr.io/v2/"), false).is_ok());
        assert!(check_url(&url("https://10.0.0.1/v2/"), false).is_err());
        assert!(check_url(&url("https://[fe80::1]/v2/"), false).is_err());
        assert!(check_url(&url("http://127.0.0.1:5000/v2/"), false).is_err());
        assert!(check_url(&url("http://127.0.0.1:5000/v2/"), true).is_ok());
        assert!(check_url(&url("http://localhost:5000/v2/"), true).is_ok());
        assert!(check_url(&url("https://10.0.0.1/v2/"), true).is_ok());
        // Plain HTTP never leaves the host, allowed or not.
        assert!(check_url(&url("http://10.0.0.1/v2/"), true).is_err());
        assert!(check_url(&url("http://ghcr.io/v2/"), false).is_err());
    }

    #[tokio::test]
    async fn names_resolving_only_to_loopback_are_refused_unless_allowed() {
        let name = || "localhost".parse::<Name>().unwrap();
        let refused = PublicResolver {
            allow_private: false,
        }
        .resolve(name())
        .await;
        let error = refused.err().unwrap().to_string();
        assert!(error.contains("localhost is a loopback"), "{error}");
        let allowed = PublicResolver {
            allow_private: true,
        }
        .resolve(name())
        .await
        .unwrap();
        assert!(allowed.into_iter().all(|a| a.ip().is_loopback()));
    }
}
