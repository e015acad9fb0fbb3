//! Generating the typed httpmock extension of a client (the `*-client-mock` crates):
//! progenitor's `Generator::httpmock`, run with the clients' settings over the same shaped
//! spec, so that every `when`/`then` method takes the client's own types.

use crate::codegen::{self, GENERATOR, Prepared};
use crate::spec::Operation;
use crate::targets::Target;
use crate::{Result, err};
use std::path::Path;

/// What the xtask changes in progenitor's httpmock output; listed in the generated header.
const NOTES: &[&str] = &[
    "a path is matched by a pattern given to `When::path_matches` as a string, not a `regex::Regex` built and unwrapped here",
    "a path parameter's value is percent-encoded as the client sends it (`client_glue::hooks::encode_segment`) and regex-escaped (`regex::escape`): an id with `.` or `+` matches only itself",
    "each operation's `When`/`Then` wrapper and `MockServerExt` method is documented with its operation id, method and path",
    "`httpmock` is re-exported: a `MockServer` of another httpmock version is another type, without these methods",
];

/// Generates one target's mock file content from its spec on disk.
pub fn generate_target(root: &Path, target: &Target) -> Result<String> {
    let text = match std::fs::read_to_string(root.join(target.spec)) {
        Ok(t) => t,
        Err(e) => return err(format!("{}: cannot read: {e}", target.spec)),
    };
    let generated = generate(target.spec, &text, target.client_crate)?;
    // The crate the mocks go into must depend on what the rewrites call, or its first path
    // parameter fails to compile there, far from the cause.
    let manifest_path = Path::new(target.mock_output)
        .parent()
        .and_then(Path::parent)
        .map(|dir| dir.join("Cargo.toml"));
    let Some(manifest_path) = manifest_path else {
        return err(format!("{}: no crate directory", target.mock_output));
    };
    let manifest = match std::fs::read_to_string(root.join(&manifest_path)) {
        Ok(t) => t,
        Err(e) => return err(format!("{}: cannot read: {e}", manifest_path.display())),
    };
    let missing = missing_dependencies(&generated, &manifest);
    if !missing.is_empty() {
        return err(format!(
            "{}: the mocks call {}, which {} does not list under [dependencies]",
            target.mock_output,
            missing.join(" and "),
            manifest_path.display()
        ));
    }
    Ok(generated)
}

/// The crates the generated mocks call that `manifest` (a `Cargo.toml`) does not list under
/// `[dependencies]`.
fn missing_dependencies(generated: &str, manifest: &str) -> Vec<&'static str> {
    let mut section = "";
    let mut listed = Vec::new();
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line;
        } else if section == "[dependencies]"
            && let Some((name, _)) = line.split_once('=')
        {
            listed.push(name.trim());
        }
    }
    [
        ("::regex::", "regex"),
        ("::client_glue::", "client-glue"),
        ("::httpmock", "httpmock"),
    ]
    .into_iter()
    .filter(|(called, dep)| generated.contains(called) && !listed.contains(dep))
    .map(|(_, dep)| dep)
    .collect()
}

/// Generates the httpmock extension for a spec's text, its types taken from `client_crate`.
pub fn generate(name: &str, text: &str, client_crate: &str) -> Result<String> {
    let Prepared { spec, openapi, .. } = codegen::prepare(name, text)?;
    // A fresh generator: its type space must not already hold the client's types.
    let settings = codegen::settings();
    let mut generator = progenitor::Generator::new(&settings);
    let tokens = match codegen::catching_panics(|| generator.httpmock(&openapi, client_crate)) {
        Ok(t) => t,
        Err(msg) => return err(format!("{name}: mocks: {msg}")),
    };
    let mut file: syn::File = match syn::parse2(tokens) {
        Ok(f) => f,
        Err(e) => return err(format!("{name}: progenitor produced unparsable mocks: {e}")),
    };
    plain_path_patterns(&mut file);
    // One matcher per path parameter, each rewritten: a shape of progenitor's output the
    // rewrite does not know would leave one matching the raw value, silently.
    let params: usize = spec
        .operations
        .iter()
        .map(|op| op.path.matches('{').count())
        .sum();
    let escaped = escaped_path_params(&mut file);
    if escaped != params {
        return err(format!(
            "{name}: mocks: {escaped} path-parameter matchers rewritten for {params} path parameters; \
             progenitor's output changed shape (xtask/src/mock.rs, escaped_path_params)"
        ));
    }
    document(&mut file, &spec.operations);
    let reexport: syn::Item = syn::parse_quote! {
        /// The httpmock these mocks are built on. Start the server from it
        /// (`httpmock::MockServer` here): a `MockServer` of another httpmock version is another
        /// type, and the mocks' methods are not found on it.
        pub use ::httpmock;
    };
    file.items.insert(0, reexport);
    let body = prettyplease::unparse(&file);
    // Mocks are for tests, but a panic in them should come from httpmock's own checks, not from
    // generated code: anything the rewrites above missed is refused here.
    if body.contains(".unwrap()") || body.contains("regex::Regex") {
        return err(format!(
            "{name}: mocks: progenitor emitted a regex unwrap the xtask does not rewrite (xtask/src/mock.rs)"
        ));
    }
    let notes = NOTES
        .iter()
        .map(|n| format!("// - {n}"))
        .collect::<Vec<_>>()
        .join("\n");
    Ok(format!(
        "// @generated by `cargo xtask codegen` from {name}. Do not edit by hand:\n\
         // edit the spec (or xtask/) and run `cargo xtask codegen`.\n\
         // spec-sha256: {sha}\n\
         // generator: {GENERATOR} (`Generator::httpmock`)\n\
         // What the xtask changed in progenitor's output (xtask/src/mock.rs):\n\
         {notes}\n\n{body}",
        sha = spec.sha256,
    ))
}

/// `regex::Regex::new("^/path$").unwrap()` becomes `"^/path$"`: `When::path_matches` takes
/// anything that converts into a regex, and the mock crate then needs no unwrap of its own.
fn plain_path_patterns(file: &mut syn::File) {
    use syn::visit_mut::VisitMut;

    struct Rewrite;
    impl VisitMut for Rewrite {
        fn visit_expr_mut(&mut self, expr: &mut syn::Expr) {
            if let syn::Expr::MethodCall(unwrap) = expr
                && unwrap.method == "unwrap"
                && unwrap.args.is_empty()
                && let syn::Expr::Call(call) = &*unwrap.receiver
                && let syn::Expr::Path(func) = &*call.func
                && quote::quote!(#func).to_string() == "regex :: Regex :: new"
                && call.args.len() == 1
                && let Some(syn::Expr::Lit(pattern)) = call.args.first()
            {
                *expr = syn::Expr::Lit(pattern.clone());
                return;
            }
            syn::visit_mut::visit_expr_mut(self, expr);
        }
    }
    Rewrite.visit_file_mut(file);
}

/// In a path parameter's matcher,
/// `let re = regex::Regex::new(&format!("^/a/{}$", value.to_string())).unwrap(); Self(self.0.path_matches(re))`
/// becomes `Self(self.0.path_matches(format!("^/a/{}$", ::regex::escape(&::client_glue::hooks::encode_segment(&value.to_string())))))`:
/// the value as the client puts it in the path, matched literally.
fn escaped_path_params(file: &mut syn::File) -> usize {
    use syn::visit_mut::VisitMut;

    struct Rewrite(usize);
    impl VisitMut for Rewrite {
        fn visit_block_mut(&mut self, block: &mut syn::Block) {
            if let [syn::Stmt::Local(local), syn::Stmt::Expr(tail, None)] = block.stmts.as_slice()
                && matches!(&local.pat, syn::Pat::Ident(p) if p.ident == "re")
                && let Some(init) = &local.init
                && let syn::Expr::MethodCall(unwrap) = &*init.expr
                && unwrap.method == "unwrap"
                && let syn::Expr::Call(call) = &*unwrap.receiver
                && let Some(syn::Expr::Reference(reference)) = call.args.first()
                && let syn::Expr::Macro(m) = &*reference.expr
                && m.mac.path.is_ident("format")
                && quote::quote!(#tail).to_string() == "Self (self . 0 . path_matches (re))"
                && let Ok(args) = m.mac.parse_body_with(
                    syn::punctuated::Punctuated::<syn::Expr, syn::Token![,]>::parse_terminated,
                )
                && args.len() == 2
                && let (Some(pattern), Some(value)) = (args.first(), args.last())
            {
                let matcher: syn::Expr = syn::parse_quote!(Self(self.0.path_matches(format!(
                    #pattern,
                    ::regex::escape(&::client_glue::hooks::encode_segment(&#value)),
                ))));
                block.stmts = vec![syn::Stmt::Expr(matcher, None)];
                self.0 += 1;
                return;
            }
            syn::visit_mut::visit_block_mut(self, block);
        }
    }
    let mut rewrite = Rewrite(0);
    rewrite.visit_file_mut(file);
    rewrite.0
}

/// Doc comments naming the operation on each `When`/`Then` wrapper and `MockServerExt` method
/// (progenitor writes none), so that the mock crates document every public item.
fn document(file: &mut syn::File, operations: &[Operation]) {
    use heck::ToUpperCamelCase;
    use syn::visit_mut::VisitMut;

    struct Docs<'a>(&'a [Operation]);
    impl Docs<'_> {
        fn by_struct(&self, name: &str) -> Option<(&Operation, &'static str)> {
            self.0.iter().find_map(|op| {
                let camel = op.id.to_upper_camel_case();
                match name.strip_prefix(camel.as_str()) {
                    Some("When") => Some((op, "When")),
                    Some("Then") => Some((op, "Then")),
                    _ => None,
                }
            })
        }
        fn by_method(&self, name: &str) -> Option<&Operation> {
            self.0.iter().find(|op| codegen::rust_name(&op.id) == name)
        }
    }
    fn doc(text: &str) -> syn::Attribute {
        syn::parse_quote!(#[doc = #text])
    }
    impl VisitMut for Docs<'_> {
        fn visit_item_struct_mut(&mut self, item: &mut syn::ItemStruct) {
            if let Some((op, side)) = self.by_struct(&item.ident.to_string()) {
                let text = if side == "When" {
                    format!(
                        " What a mocked `{}` request (`{} {}`) must match; one method per parameter.",
                        op.id,
                        op.method.to_uppercase(),
                        op.path
                    )
                } else {
                    format!(
                        " The mocked answer to `{}` (`{} {}`): one method per declared response.",
                        op.id,
                        op.method.to_uppercase(),
                        op.path
                    )
                };
                item.attrs.push(doc(&text));
            }
        }
        fn visit_trait_item_fn_mut(&mut self, item: &mut syn::TraitItemFn) {
            if let Some(op) = self.by_method(&item.sig.ident.to_string()) {
                let text = format!(
                    " A mock of `{}` (`{} {}`), configured through its typed `When` and `Then`.",
                    op.id,
                    op.method.to_uppercase(),
                    op.path
                );
                item.attrs.push(doc(&text));
            }
        }
    }
    Docs(operations).visit_file_mut(file);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::missing_dependencies;

    const MANIFEST: &str = "[package]\nname = \"x-mock\"\n\n[dependencies]\nx-client = { workspace = true }\nhttpmock = { workspace = true }\n\n[dev-dependencies]\nregex = \"1\"\n";

    /// Review 30-f: a mock crate without the dependencies a path-parameter matcher calls was
    /// found only when that crate failed to compile; codegen now names them.
    #[test]
    fn a_path_parameter_matcher_needs_regex_and_client_glue_in_the_mock_crate() {
        let matcher = "pub use ::httpmock;\nfn p() { ::regex::escape(&::client_glue::hooks::encode_segment(&v)) }";
        // A dev-dependency is not one the library can call.
        assert_eq!(
            missing_dependencies(matcher, MANIFEST),
            ["regex", "client-glue"]
        );
        let listed = MANIFEST.replace(
            "[dev-dependencies]",
            "regex = { workspace = true }\nclient-glue = { workspace = true }\n\n[dev-dependencies]",
        );
        assert!(missing_dependencies(matcher, &listed).is_empty());
        // Without path parameters, the crate needs neither.
        assert!(missing_dependencies("pub use ::httpmock;", MANIFEST).is_empty());
    }

    #[test]
    fn the_mocks_re_export_httpmock() {
        let spec =
            std::fs::read_to_string(crate::workspace_root().join("specs/jimmyai.yaml")).unwrap();
        let out = super::generate("specs/jimmyai.yaml", &spec, "jimmyai_client").unwrap();
        assert!(out.contains("pub use ::httpmock;"), "{out}");
    }
}
