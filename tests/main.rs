//! Workspace-level integration tests: one binary, one module per concern.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod spec_examples;
mod wire_jimmyai;
mod wire_vmeg;
