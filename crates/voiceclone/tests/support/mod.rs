//! Helpers shared by this crate's integration tests (each test file that needs them says
//! `mod support;`).

#![allow(dead_code)] // each test file uses its own part

pub mod fake;
pub mod rss;
pub mod wav;
