//! Shared pieces of the benchmarks: a fixed-body loopback server, the hand-written
//! reqwest baseline every timing is divided by, and the statistics.
//!
//! - [`server`]: answers each known path with a fixed body, so that the server's cost is
//!   small and the same for every client variant.
//! - [`raw`]: what a careful hand-written client must do anyway (auth and idempotency
//!   headers, the same body, the envelope decoded into hand-written structs, code checked).
//! - [`stats`]: medians, ratios and their spread.
//! - [`child`]: the same servers in a child process, so the measured process is the client alone.
//! - [`proc`]: CPU time and peak RSS from `/proc`.
//! - [`variants`]: the four measured calls made the (a), (b) and (c) ways.

pub mod child;
pub mod proc;
pub mod raw;
pub mod server;
pub mod stats;
pub mod variants;

/// The API key every benchmark client sends (the fixed-body server does not check it).
pub const KEY: &str = "bench-key";
