//! The xtask's changes to progenitor's output, each counted against what the spec's
//! operations require, so that a rewrite that silently stops matching fails the generation.

use crate::spec::Spec;
use crate::{Result, err};

/// Applies the rewrites of progenitor's output, failing unless each changed as many places as
/// the operations of `spec` require.
pub(super) fn apply_rewrites(spec: &Spec, file: &mut syn::File) -> Result<()> {
    let applied = Rewrites {
        constructors: remove_panicking_constructor(file),
        urls: prebuilt_urls(file),
        api_version_headers: drop_api_version_header(file),
        inlined_header_maps: inline_header_params(file),
        empty_header_maps: drop_empty_header_maps(file),
        decodes: glue_decoding(file),
        client_debug: underive_client_debug(file),
    };
    let expected = Rewrites::expected(spec);
    if applied != expected {
        return err(format!(
            "{}: the xtask's rewrites of progenitor's output did not apply as the operations \
             require (progenitor's output changed, or the spec has a layout the xtask does not \
             know): {}",
            spec.name,
            expected.mismatches(&applied)
        ));
    }
    Ok(())
}

/// How many places each rewrite of progenitor's output changed; [`Rewrites::expected`] is
/// how many the operations of a spec require, and `generate` fails when they differ, so a
/// rewrite that silently stops matching (a new progenitor, a new spec layout) is an error,
/// not a header note about something that did not happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rewrites {
    /// Progenitor's panicking `Client::new` removed: one.
    pub constructors: usize,
    /// Request URLs built by `client_glue::hooks`: one per operation.
    pub urls: usize,
    /// `api-version` header appends removed: one per operation.
    pub api_version_headers: usize,
    /// Header maps replaced by `RequestBuilder::header`: one per operation whose header
    /// parameters are all required (at least one, none named `Accept` or `Content-Type`).
    pub inlined_header_maps: usize,
    /// Empty header maps removed: one per operation without header parameters.
    pub empty_header_maps: usize,
    /// Answers decoded by `client_glue::hooks::decode`: one per 2xx response with a JSON
    /// schema (failure responses are undeclared by the shaping, shape.rs).
    pub decodes: usize,
    /// `Debug` taken off the `Client`'s derive (the glue's own prints the base URL without
    /// credentials or query): one.
    pub client_debug: usize,
}

impl Rewrites {
    /// What the operations of `spec` (shaped) require.
    pub fn expected(spec: &Spec) -> Rewrites {
        let mut expected = Rewrites {
            constructors: 1,
            urls: spec.operations.len(),
            api_version_headers: spec.operations.len(),
            inlined_header_maps: 0,
            empty_header_maps: 0,
            decodes: 0,
            client_debug: 1,
        };
        for op in &spec.operations {
            let item = spec
                .json
                .get("paths")
                .and_then(|p| p.get(&op.path))
                .unwrap_or(&serde_json::Value::Null);
            let operation = item.get(&op.method).unwrap_or(&serde_json::Value::Null);
            let headers =
                crate::refs::header_parameters(&spec.json, item.get("parameters"), operation);
            if headers.is_empty() {
                expected.empty_header_maps += 1;
            } else if headers.iter().all(|(name, required)| {
                *required
                    && !name.eq_ignore_ascii_case("accept")
                    && !name.eq_ignore_ascii_case("content-type")
            }) {
                expected.inlined_header_maps += 1;
            }
            let responses = operation.get("responses").and_then(|r| r.as_object());
            for (status, response) in responses.into_iter().flatten() {
                let response = crate::refs::deref(&spec.json, response);
                let json_schema = response
                    .pointer("/content/application~1json/schema")
                    .is_some();
                if status.starts_with('2') && json_schema {
                    expected.decodes += 1;
                }
            }
        }
        expected
    }

    /// `name: applied N, required M` for each count that differs.
    fn mismatches(&self, applied: &Rewrites) -> String {
        let rows = [
            (
                "panicking constructor removed",
                self.constructors,
                applied.constructors,
            ),
            ("request URLs prebuilt", self.urls, applied.urls),
            (
                "api-version headers dropped",
                self.api_version_headers,
                applied.api_version_headers,
            ),
            (
                "header maps inlined",
                self.inlined_header_maps,
                applied.inlined_header_maps,
            ),
            (
                "empty header maps dropped",
                self.empty_header_maps,
                applied.empty_header_maps,
            ),
            (
                "answers decoded by client_glue",
                self.decodes,
                applied.decodes,
            ),
            (
                "derived Client Debug replaced",
                self.client_debug,
                applied.client_debug,
            ),
        ];
        rows.iter()
            .filter(|(_, want, got)| want != got)
            .map(|(what, want, got)| format!("{what}: applied {got}, required {want}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// progenitor's `Client::new` unwraps `reqwest::ClientBuilder::build()`, which panics when no
/// TLS crypto provider is installed (we build reqwest with ring and no default provider). The
/// generated crates offer a fallible constructor instead, so the panicking one is removed.
fn remove_panicking_constructor(file: &mut syn::File) -> usize {
    let mut removed = 0;
    for item in &mut file.items {
        let syn::Item::Impl(imp) = item else { continue };
        if imp.trait_.is_some() {
            continue;
        }
        let is_client = matches!(&*imp.self_ty, syn::Type::Path(p) if p.path.is_ident("Client"));
        if !is_client {
            continue;
        }
        let before = imp.items.len();
        imp.items
            .retain(|i| !matches!(i, syn::ImplItem::Fn(f) if f.sig.ident == "new"));
        removed += before - imp.items.len();
    }
    removed
}

/// progenitor derives `Debug` for `Client`, which prints `baseurl` as given: a base URL may
/// carry credentials (`https://user:secret@host`) or a token in its query. The derive loses
/// `Debug`; the glue implements it, printing `client_glue::printable_url(&self.baseurl)`.
fn underive_client_debug(file: &mut syn::File) -> usize {
    let mut changed = 0;
    for item in &mut file.items {
        let syn::Item::Struct(st) = item else {
            continue;
        };
        if st.ident != "Client" {
            continue;
        }
        for attr in &mut st.attrs {
            if !attr.path().is_ident("derive") {
                continue;
            }
            let Ok(paths) = attr.parse_args_with(
                syn::punctuated::Punctuated::<syn::Path, syn::Token![,]>::parse_terminated,
            ) else {
                continue;
            };
            let kept: Vec<&syn::Path> = paths.iter().filter(|p| !p.is_ident("Debug")).collect();
            if kept.len() == paths.len() {
                continue;
            }
            *attr = syn::parse_quote!(#[derive(#(#kept),*)]);
            changed += 1;
        }
    }
    changed
}

/// `let url = format!("{}/path/{}", self.baseurl, args..)` becomes
/// `let url = ::client_glue::hooks::request_url(&self.baseurl, self.inner(), &format!("/path/{}", args..))?`:
/// the same URL, without reqwest parsing the whole of it again on every call (about 12,000
/// instructions per call, BENCHMARKS.md). A path without parameters becomes
/// `::client_glue::hooks::static_request_url(&self.baseurl, self.inner(), "/path")?`, built
/// once per client (about 2,500 more); one with parameters
/// `::client_glue::hooks::template_request_url(&self.baseurl, self.inner(), "/path/{}", &[args..])?`
/// (a trailing plain segment is appended to the URL of `/path`, built once per client), its
/// arguments encoded by `client_glue::hooks::encode_segment` (progenitor's `encode_path` plus
/// `\`, without a new string when there is nothing to encode); an argument that would make an
/// empty, `.` or `..` segment is refused there.
fn prebuilt_urls(file: &mut syn::File) -> usize {
    use syn::punctuated::Punctuated;
    use syn::visit_mut::VisitMut;
    use syn::{Expr, Token};

    /// `encode_path(x)` becomes `::client_glue::hooks::encode_segment(x)`: the same text with
    /// `\` encoded too, without a new string when there is nothing to encode.
    fn glue_encoding(arg: Expr) -> Expr {
        if let Expr::Call(call) = &arg
            && let Expr::Path(func) = &*call.func
            && func.path.is_ident("encode_path")
            && call.args.len() == 1
        {
            let inner = &call.args[0];
            return syn::parse_quote!(::client_glue::hooks::encode_segment(#inner));
        }
        arg
    }

    struct Rewrite(usize);
    impl VisitMut for Rewrite {
        fn visit_local_mut(&mut self, local: &mut syn::Local) {
            let is_url = matches!(&local.pat, syn::Pat::Ident(p) if p.ident == "url");
            if is_url
                && let Some(init) = &mut local.init
                && let Expr::Macro(m) = &*init.expr
                && m.mac.path.is_ident("format")
                && let Ok(args) = m
                    .mac
                    .parse_body_with(Punctuated::<Expr, Token![,]>::parse_terminated)
            {
                let mut args = args.into_iter();
                if let (Some(Expr::Lit(lit)), Some(base)) = (args.next(), args.next())
                    && let syn::Lit::Str(fmt) = &lit.lit
                    && let Some(rest) = fmt.value().strip_prefix("{}")
                    && quote::quote!(#base).to_string() == "self . baseurl"
                {
                    let rest_args: Vec<Expr> = args.map(glue_encoding).collect();
                    // Only plain `{}` placeholders, one per argument (no escaped braces).
                    let placeholders = rest.matches("{}").count();
                    let plain = rest.matches(['{', '}']).count() == 2 * placeholders
                        && placeholders == rest_args.len();
                    let rest = syn::LitStr::new(rest, fmt.span());
                    self.0 += 1;
                    *init.expr = if rest_args.is_empty() && plain {
                        // No parameter: the URL is built once per client.
                        syn::parse_quote!(::client_glue::hooks::static_request_url(
                            &self.baseurl,
                            self.inner(),
                            #rest,
                        )?)
                    } else if plain {
                        // The template and its (encoded) arguments: a trailing plain segment
                        // is appended to a URL built once per client.
                        syn::parse_quote!(::client_glue::hooks::template_request_url(
                            &self.baseurl,
                            self.inner(),
                            #rest,
                            &[#(&*(#rest_args)),*],
                        )?)
                    } else {
                        syn::parse_quote!(::client_glue::hooks::request_url(
                            &self.baseurl,
                            self.inner(),
                            &format!(#rest, #(#rest_args),*),
                        )?)
                    };
                }
            }
            syn::visit_mut::visit_local_mut(self, local);
        }
    }
    let mut rewrite = Rewrite(0);
    rewrite.visit_file_mut(file);
    rewrite.0
}

/// Removes the statements that append progenitor's `api-version` header: neither vendor
/// documents it, and adding it to remove it in a hook costs every call.
fn drop_api_version_header(file: &mut syn::File) -> usize {
    use syn::visit_mut::VisitMut;

    struct Drop(usize);
    impl VisitMut for Drop {
        fn visit_block_mut(&mut self, block: &mut syn::Block) {
            let before = block.stmts.len();
            block.stmts.retain(|stmt| {
                let text = quote::quote!(#stmt).to_string();
                !(text.starts_with("header_map . append") && text.contains("\"api-version\""))
            });
            self.0 += before - block.stmts.len();
            syn::visit_mut::visit_block_mut(self, block);
        }
    }
    let mut drop = Drop(0);
    drop.visit_file_mut(file);
    drop.0
}

/// In a method whose header map stays empty (no header parameter; the `api-version` header is
/// already gone), `let mut header_map = HeaderMap::with_capacity(..);` and
/// `.headers(header_map)` are removed: an empty map allocated, merged and dropped on every
/// call.
fn drop_empty_header_maps(file: &mut syn::File) -> usize {
    use syn::visit_mut::VisitMut;

    fn is_header_map_local(stmt: &syn::Stmt) -> bool {
        matches!(stmt, syn::Stmt::Local(l)
            if matches!(&l.pat, syn::Pat::Ident(p) if p.ident == "header_map"))
    }

    struct Unmerge;
    impl VisitMut for Unmerge {
        fn visit_expr_mut(&mut self, expr: &mut syn::Expr) {
            if let syn::Expr::MethodCall(call) = expr
                && call.method == "headers"
                && call.args.len() == 1
                && matches!(call.args.first(), Some(syn::Expr::Path(p)) if p.path.is_ident("header_map"))
            {
                let receiver = (*call.receiver).clone();
                *expr = receiver;
                self.visit_expr_mut(expr);
                return;
            }
            syn::visit_mut::visit_expr_mut(self, expr);
        }
    }

    struct Drop(usize);
    impl VisitMut for Drop {
        fn visit_block_mut(&mut self, block: &mut syn::Block) {
            if block.stmts.iter().any(is_header_map_local) {
                let uses = block
                    .stmts
                    .iter()
                    .filter(|stmt| !is_header_map_local(stmt))
                    .map(|stmt| quote::quote!(#stmt).to_string())
                    .filter(|text| text.contains("header_map"))
                    .collect::<Vec<_>>();
                // Only `.headers(header_map)` may use it: no append, no other use.
                let only_merged = uses.len() == 1
                    && uses[0].matches("header_map").count() == 1
                    && uses[0].contains(". headers (header_map)");
                if only_merged {
                    self.0 += 1;
                    block.stmts.retain(|stmt| !is_header_map_local(stmt));
                    for stmt in &mut block.stmts {
                        Unmerge.visit_stmt_mut(stmt);
                    }
                }
            }
            syn::visit_mut::visit_block_mut(self, block);
        }
    }
    let mut drop = Drop(0);
    drop.visit_file_mut(file);
    drop.0
}

/// `ResponseValue::from_response(response).await` becomes
/// `::client_glue::hooks::decode(self.inner(), response).await`: the same value and errors,
/// without copying the headers, with the client's text filter applied.
fn glue_decoding(file: &mut syn::File) -> usize {
    use syn::visit_mut::VisitMut;

    struct Rewrite(usize);
    impl VisitMut for Rewrite {
        fn visit_expr_mut(&mut self, expr: &mut syn::Expr) {
            if let syn::Expr::Await(awaited) = expr
                && let syn::Expr::Call(call) = &*awaited.base
                && let syn::Expr::Path(func) = &*call.func
                && quote::quote!(#func).to_string() == "ResponseValue :: from_response"
                && call.args.len() == 1
            {
                let response = &call.args[0];
                self.0 += 1;
                *expr =
                    syn::parse_quote!(::client_glue::hooks::decode(self.inner(), #response).await);
                return;
            }
            syn::visit_mut::visit_expr_mut(self, expr);
        }
    }
    let mut rewrite = Rewrite(0);
    rewrite.visit_file_mut(file);
    rewrite.0
}

/// In a method whose header parameters are all required,
/// `let mut header_map = ..; header_map.append("Name", value.try_into()?); .. .headers(header_map)`
/// becomes `.header("Name", HeaderValue::try_from(value)?)` where `.headers(header_map)` was:
/// the same headers in the same order, without a map allocated, merged and dropped on every
/// call. `.headers` replaces headers of the same name, `.header` appends, so a block where a
/// parameter is named like a header the request already has (`Accept`, `Content-Type`) is
/// left as it is, as is one with an optional header (appended under an `if`).
fn inline_header_params(file: &mut syn::File) -> usize {
    use syn::visit_mut::VisitMut;
    use syn::{Expr, Stmt};

    fn is_header_map_local(stmt: &Stmt) -> bool {
        matches!(stmt, Stmt::Local(l)
            if matches!(&l.pat, syn::Pat::Ident(p) if p.ident == "header_map"))
    }

    /// `header_map.append("Name", <value>.try_into()?);` as the name and `<value>`.
    fn append(stmt: &Stmt) -> Option<(syn::LitStr, Expr)> {
        let Stmt::Expr(Expr::MethodCall(call), Some(_)) = stmt else {
            return None;
        };
        let Expr::Path(receiver) = &*call.receiver else {
            return None;
        };
        if !receiver.path.is_ident("header_map") || call.method != "append" || call.args.len() != 2
        {
            return None;
        }
        let Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(name),
            ..
        }) = &call.args[0]
        else {
            return None;
        };
        let Expr::Try(tried) = &call.args[1] else {
            return None;
        };
        let Expr::MethodCall(into) = &*tried.expr else {
            return None;
        };
        if into.method != "try_into" || !into.args.is_empty() {
            return None;
        }
        Some((name.clone(), (*into.receiver).clone()))
    }

    struct Inline(Vec<(syn::LitStr, Expr)>);
    impl VisitMut for Inline {
        fn visit_expr_mut(&mut self, expr: &mut Expr) {
            if let Expr::MethodCall(call) = expr
                && call.method == "headers"
                && call.args.len() == 1
                && matches!(call.args.first(), Some(Expr::Path(p)) if p.path.is_ident("header_map"))
            {
                let mut chain = (*call.receiver).clone();
                self.visit_expr_mut(&mut chain);
                for (name, value) in &self.0 {
                    chain = syn::parse_quote!(#chain.header(
                        #name,
                        ::reqwest::header::HeaderValue::try_from(#value)?
                    ));
                }
                *expr = chain;
                return;
            }
            syn::visit_mut::visit_expr_mut(self, expr);
        }
    }

    struct Rewrite(usize);
    impl VisitMut for Rewrite {
        fn visit_block_mut(&mut self, block: &mut syn::Block) {
            if block.stmts.iter().any(is_header_map_local) {
                let appends: Vec<(syn::LitStr, Expr)> =
                    block.stmts.iter().filter_map(append).collect();
                let others: Vec<String> = block
                    .stmts
                    .iter()
                    .filter(|stmt| !is_header_map_local(stmt) && append(stmt).is_none())
                    .map(|stmt| quote::quote!(#stmt).to_string())
                    .filter(|text| text.contains("header_map"))
                    .collect();
                let merged_once = others.len() == 1
                    && others[0].matches("header_map").count() == 1
                    && others[0].contains(". headers (header_map)");
                let distinct = appends.iter().all(|(name, _)| {
                    let name = name.value();
                    !name.eq_ignore_ascii_case("accept")
                        && !name.eq_ignore_ascii_case("content-type")
                });
                if !appends.is_empty() && merged_once && distinct {
                    self.0 += 1;
                    block
                        .stmts
                        .retain(|stmt| !is_header_map_local(stmt) && append(stmt).is_none());
                    let mut inline = Inline(appends);
                    for stmt in &mut block.stmts {
                        inline.visit_stmt_mut(stmt);
                    }
                }
            }
            syn::visit_mut::visit_block_mut(self, block);
        }
    }
    let mut rewrite = Rewrite(0);
    rewrite.visit_file_mut(file);
    rewrite.0
}

/// A field `Option<::client_glue::List<T>>` (what typify makes of an optional answer array,
/// shape.rs) becomes `::client_glue::List<T>` with `#[serde(default)]`, skipped when empty
/// on output: the list reads `null`, absence and a value that is not an array as empty
/// already, so a `None` would only be a second way to say so.
pub(super) fn plain_lists(file: &mut syn::File) -> usize {
    use syn::visit_mut::VisitMut;

    /// `T` of `::std::option::Option<T>` when `T` is `::client_glue::List<..>`.
    fn optional_list(ty: &syn::Type) -> Option<syn::Type> {
        let syn::Type::Path(p) = ty else { return None };
        let names: Vec<String> = p
            .path
            .segments
            .iter()
            .map(|s| s.ident.to_string())
            .collect();
        if p.path.leading_colon.is_none() || names != ["std", "option", "Option"] {
            return None;
        }
        let syn::PathArguments::AngleBracketed(args) = &p.path.segments.last()?.arguments else {
            return None;
        };
        let [syn::GenericArgument::Type(inner)] = args.args.iter().collect::<Vec<_>>()[..] else {
            return None;
        };
        let syn::Type::Path(list) = inner else {
            return None;
        };
        let names: Vec<String> = list
            .path
            .segments
            .iter()
            .map(|s| s.ident.to_string())
            .collect();
        (list.path.leading_colon.is_some() && names == ["client_glue", "List"])
            .then(|| inner.clone())
    }

    struct Rewrite(usize);
    impl VisitMut for Rewrite {
        fn visit_field_mut(&mut self, field: &mut syn::Field) {
            let Some(list) = optional_list(&field.ty) else {
                return;
            };
            self.0 += 1;
            for attr in &mut field.attrs {
                if !attr.path().is_ident("serde") {
                    continue;
                }
                let Ok(args) = attr.parse_args_with(
                    syn::punctuated::Punctuated::<syn::Meta, syn::Token![,]>::parse_terminated,
                ) else {
                    continue;
                };
                let kept = args.into_iter().filter(|m| {
                    !m.path().is_ident("skip_serializing_if") && !m.path().is_ident("default")
                });
                *attr = syn::parse_quote!(#[serde(
                    #(#kept,)*
                    default,
                    skip_serializing_if = "::client_glue::List::is_empty"
                )]);
            }
            if !field.attrs.iter().any(|a| a.path().is_ident("serde")) {
                field.attrs.push(syn::parse_quote!(#[serde(
                    default,
                    skip_serializing_if = "::client_glue::List::is_empty"
                )]));
            }
            field.ty = list;
        }
    }
    let mut rewrite = Rewrite(0);
    rewrite.visit_file_mut(file);
    rewrite.0
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]
    use super::*;

    /// progenitor's output for a spec of the workspace, before the rewrites.
    fn unrewritten(spec: &str) -> (Spec, String) {
        let root = crate::workspace_root();
        let text = std::fs::read_to_string(root.join(spec)).unwrap();
        let prepared = crate::codegen::prepare(spec, &text).unwrap();
        // Not `run_progenitor`: its panic-hook swap would race with the hook test (generator.rs).
        let tokens = progenitor::Generator::new(&crate::codegen::settings())
            .generate_tokens(&prepared.openapi)
            .unwrap();
        (prepared.spec, tokens.to_string())
    }

    /// A rewrite that stops matching progenitor's output (here: the decoding call renamed, as
    /// a new progenitor might) fails the generation, naming the rewrite and both counts,
    /// instead of leaving the header to claim what did not happen.
    #[test]
    fn a_rewrite_that_does_not_apply_fails_the_generation() {
        for spec in ["specs/jimmyai.yaml", "specs/vmeg.yaml"] {
            let (spec, code) = unrewritten(spec);
            let mut file: syn::File = syn::parse_str(&code).unwrap();
            assert_eq!(apply_rewrites(&spec, &mut file).map_err(|e| e.0), Ok(()));

            let required = Rewrites::expected(&spec);
            assert!(required.decodes > 0 && required.urls > 0, "{required:?}");
            let renamed = code.replace("from_response", "from_response_v2");
            let mut file: syn::File = syn::parse_str(&renamed).unwrap();
            let msg = apply_rewrites(&spec, &mut file).unwrap_err().0;
            assert!(
                msg.contains(&format!(
                    "answers decoded by client_glue: applied 0, required {}",
                    required.decodes
                )),
                "{msg}"
            );

            let renamed = code.replace("\"api-version\"", "\"x-api-version\"");
            let mut file: syn::File = syn::parse_str(&renamed).unwrap();
            let msg = apply_rewrites(&spec, &mut file).unwrap_err().0;
            assert!(
                msg.contains("api-version headers dropped: applied 0"),
                "{msg}"
            );
        }
    }
}
