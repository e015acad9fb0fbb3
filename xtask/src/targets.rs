//! Which spec generates which crate. Adding a vendor means adding one line here.

/// One spec and the file generated from it.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    /// The spec, relative to the workspace root.
    pub spec: &'static str,
    /// The generated file, relative to the workspace root.
    pub output: &'static str,
}

pub const TARGETS: &[Target] = &[
    Target {
        spec: "specs/vmeg.yaml",
        output: "crates/vmeg-client/src/generated.rs",
    },
    Target {
        spec: "specs/jimmyai.yaml",
        output: "crates/jimmyai-client/src/generated.rs",
    },
];
