//! Which spec generates which crates. Adding a vendor means adding one entry here.

/// One spec and the files generated from it.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    /// The spec, relative to the workspace root.
    pub spec: &'static str,
    /// The generated client, relative to the workspace root.
    pub output: &'static str,
    /// The client crate's name as a Rust path (`vmeg_client`): the mocks' types come from it.
    pub client_crate: &'static str,
    /// The generated httpmock extension (the `*-client-mock` crate), relative to the root.
    pub mock_output: &'static str,
}

impl Target {
    /// Every file generated from this target's spec.
    pub fn outputs(&self) -> [&'static str; 2] {
        [self.output, self.mock_output]
    }
}

pub const TARGETS: &[Target] = &[
    Target {
        spec: "specs/vmeg.yaml",
        output: "crates/vmeg-client/src/generated.rs",
        client_crate: "vmeg_client",
        mock_output: "crates/vmeg-client-mock/src/generated.rs",
    },
    Target {
        spec: "specs/jimmyai.yaml",
        output: "crates/jimmyai-client/src/generated.rs",
        client_crate: "jimmyai_client",
        mock_output: "crates/jimmyai-client-mock/src/generated.rs",
    },
];
