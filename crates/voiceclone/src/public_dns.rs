//! Name resolution for storage URLs (downloads, presigned uploads) that only hands out
//! public addresses.
//!
//! A storage URL comes from the vendor's answer, and its host is checked as written
//! (`validate::is_private_host`): IP literals, `localhost`, single labels and private-use
//! suffixes are refused before any request. A public-looking name can still resolve to a
//! private address (a metadata service at 169.254.169.254, a 10.x host), so the storage
//! client resolves through this resolver, which drops such addresses: a name with no
//! public address fails to connect (a download or a presigned PUT reports it as a refused
//! URL, found by [`refusal_in`]), and the connection only goes to addresses checked here
//! (no second lookup in between). Off with `allow_private_urls` (a local simulator).

use std::net::SocketAddr;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::Host;

/// A resolver (the system's, through tokio) that keeps only public addresses.
#[derive(Debug)]
pub(crate) struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let host = name.as_str().to_owned();
            // The port is not used: reqwest sets the URL's port on each address.
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public = public_only(&host, found)?;
            let addrs: Addrs = Box::new(public.into_iter());
            Ok(addrs)
        })
    }
}

/// The public addresses among `found`, or an error naming `host` when there are none.
pub(crate) fn public_only(
    host: &str,
    found: Vec<SocketAddr>,
) -> Result<Vec<SocketAddr>, PrivateOnly> {
    let public: Vec<SocketAddr> = found
        .into_iter()
        .filter(|a| {
            let ip = match a.ip() {
                std::net::IpAddr::V4(v4) => Host::Ipv4(v4),
                std::net::IpAddr::V6(v6) => Host::Ipv6(v6),
            };
            !crate::validate::is_private_host(&ip)
        })
        .collect();
    if public.is_empty() {
        return Err(PrivateOnly(host.to_owned()));
    }
    Ok(public)
}

/// The refusal of this resolver somewhere in `err`'s sources: the connection was refused
/// here, on purpose, not by the network (a download reports it as a refused URL, a presigned
/// PUT as a refused upload URL; neither as a transport failure to retry).
pub(crate) fn refusal_in<'e>(
    err: &'e (dyn std::error::Error + 'static),
) -> Option<&'e PrivateOnly> {
    std::iter::successors(Some(err), |e| e.source())
        .take(16)
        .find_map(|e| e.downcast_ref::<PrivateOnly>())
}

/// A storage host that resolves to no public address.
#[derive(Debug, thiserror::Error)]
#[error(
    "{0} resolves to no public address (loopback, private or other non-public addresses are refused; allowed only with allow_private_urls)"
)]
pub(crate) struct PrivateOnly(String);

impl PrivateOnly {
    /// The host refused.
    pub(crate) fn host(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;
    use std::str::FromStr;

    #[test]
    fn only_public_addresses_are_kept() {
        let a = |s: &str| SocketAddr::from_str(s).unwrap();
        let kept = public_only(
            "cdn.example.com",
            vec![
                a("169.254.169.254:0"),
                a("93.184.215.14:0"),
                a("10.0.0.7:0"),
                a("[::1]:0"),
                a("[2606:2800:21f:cb07:6820:80da:af6b:8b2c]:0"),
                a("[::ffff:127.0.0.1]:0"),
            ],
        )
        .unwrap();
        assert_eq!(
            kept,
            vec![
                a("93.184.215.14:0"),
                a("[2606:2800:21f:cb07:6820:80da:af6b:8b2c]:0")
            ]
        );
        let e = public_only("metadata.example.com", vec![a("169.254.169.254:0")]).unwrap_err();
        assert!(e.to_string().contains("metadata.example.com"), "{e}");
    }

    /// Through the system's resolver: `localhost` resolves (from the hosts file, no
    /// network) to loopback addresses only, so it is refused.
    #[tokio::test]
    async fn a_name_resolving_only_to_loopback_is_refused() {
        let e = match PublicOnly
            .resolve(Name::from_str("localhost").unwrap())
            .await
        {
            Ok(addrs) => panic!("resolved to {:?}", addrs.collect::<Vec<_>>()),
            Err(e) => e,
        };
        assert!(e.to_string().contains("no public address"), "{e}");
    }
}
