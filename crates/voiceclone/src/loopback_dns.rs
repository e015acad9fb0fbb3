//! Name resolution for a plain-http base URL: its one name, `localhost`, goes to this
//! machine's loopback addresses without asking the system's resolver.
//!
//! Plain http is accepted only to this machine, because the key then never crosses a network
//! (`ClientBuilder::build`). `localhost` is this machine by its name only: on a system whose
//! hosts file has no `localhost` line the name goes to DNS, and a search domain with a
//! wildcard record answers with an address elsewhere, which would get the key in clear.
//! IP literals are never resolved, so a loopback literal needs nothing here.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// IPv4 first: what a simulator or local proxy binds most often. hyper falls back to the
/// other address at once when the first refuses the connection. (The port is not used:
/// reqwest sets the URL's port on each address.)
const LOOPBACK: [SocketAddr; 2] = [
    SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
    SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), 0),
];

/// Resolves every name to [`LOOPBACK`]: the client of a plain-http base asks only for the
/// base's host, which the builder has checked is `localhost` (or a literal, not resolved).
#[derive(Debug)]
pub(crate) struct LoopbackOnly;

impl Resolve for LoopbackOnly {
    fn resolve(&self, name: Name) -> Resolving {
        tracing::debug!(
            name = name.as_str(),
            "plain-http base: the name resolved to this machine's loopback addresses, not by \
             the system's resolver"
        );
        let addrs: Addrs = Box::new(LOOPBACK.into_iter());
        Box::pin(std::future::ready(Ok(addrs)))
    }
}
