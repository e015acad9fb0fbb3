//! Helpers shared by this crate's integration tests (each test file that needs them says
//! `mod support;`).

pub mod rss;
