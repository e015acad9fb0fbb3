//! A plain-text listing of a generated crate's public surface: each operation's method with
//! its HTTP route, and each type with its wire names. Snapshotted with insta, so that a spec
//! edit that changes what users call shows up in review as a small, readable diff.

use crate::{Result, err};
use quote_free::tokens_to_string;
use std::fmt::Write as _;

/// Describes the generated code in `code` (the content of a `generated.rs`).
pub fn describe(code: &str) -> Result<String> {
    let file: syn::File = match syn::parse_str(code) {
        Ok(f) => f,
        Err(e) => return err(format!("generated code does not parse: {e}")),
    };
    let mut out = String::new();
    out.push_str("# Operations\n");
    for item in &file.items {
        let syn::Item::Impl(imp) = item else { continue };
        if imp.trait_.is_some() {
            continue;
        }
        for f in imp.items.iter().filter_map(|i| match i {
            syn::ImplItem::Fn(f) => Some(f),
            _ => None,
        }) {
            if !matches!(f.vis, syn::Visibility::Public(_)) {
                continue;
            }
            let route = doc_lines(&f.attrs)
                .iter()
                .flat_map(|d| d.lines())
                .find_map(route_of)
                .unwrap_or_default();
            let args: Vec<String> = f
                .sig
                .inputs
                .iter()
                .filter_map(|a| match a {
                    syn::FnArg::Typed(t) => Some(format!(
                        "{}: {}",
                        tokens_to_string(&t.pat),
                        tokens_to_string(&t.ty)
                    )),
                    syn::FnArg::Receiver(_) => None,
                })
                .collect();
            let ret = match &f.sig.output {
                syn::ReturnType::Default => "()".to_string(),
                syn::ReturnType::Type(_, t) => tokens_to_string(t),
            };
            let _ = writeln!(
                out,
                "{route}\n    fn {}({}) -> {ret}",
                f.sig.ident,
                args.join(", ")
            );
        }
    }
    out.push_str("\n# Types\n");
    for item in &file.items {
        let syn::Item::Mod(m) = item else { continue };
        if m.ident != "types" {
            continue;
        }
        let Some((_, items)) = &m.content else {
            continue;
        };
        for item in items {
            describe_type(item, &mut out);
        }
    }
    Ok(out)
}

fn describe_type(item: &syn::Item, out: &mut String) {
    match item {
        syn::Item::Struct(s) => {
            let _ = writeln!(out, "struct {}", s.ident);
            for field in &s.fields {
                let name = field
                    .ident
                    .as_ref()
                    .map(|i| i.to_string())
                    .unwrap_or_else(|| "0".to_string());
                let wire = serde_rename(&field.attrs).unwrap_or_else(|| name.clone());
                let _ = writeln!(
                    out,
                    "    {wire}{}: {}",
                    if wire == name {
                        String::new()
                    } else {
                        format!(" (field {name})")
                    },
                    tokens_to_string(&field.ty)
                );
            }
        }
        syn::Item::Enum(e) => {
            let _ = writeln!(out, "enum {}", e.ident);
            for v in &e.variants {
                let wire = serde_rename(&v.attrs).unwrap_or_else(|| v.ident.to_string());
                let payload = match &v.fields {
                    syn::Fields::Unit => String::new(),
                    fields => format!("({})", tokens_to_string(fields)),
                };
                let _ = writeln!(out, "    {wire}{payload}");
            }
        }
        _ => {}
    }
}

fn doc_lines(attrs: &[syn::Attribute]) -> Vec<String> {
    attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(s),
                    ..
                }) => Some(s.value()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// progenitor documents each method with "Sends a `POST` request to `/path`".
fn route_of(line: &str) -> Option<String> {
    let rest = line.trim().strip_prefix("Sends a `")?;
    let (method, rest) = rest.split_once('`')?;
    let path = rest.split('`').nth(1)?;
    Some(format!("{method} {path}"))
}

fn serde_rename(attrs: &[syn::Attribute]) -> Option<String> {
    for a in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        let text = tokens_to_string(&a.meta);
        if let Some(pos) = text.find("rename = \"") {
            let rest = &text[pos + "rename = \"".len()..];
            if let Some(end) = rest.find('"') {
                return Some(rest[..end].to_string());
            }
        }
    }
    None
}

mod quote_free {
    use proc_macro2::TokenStream;
    use quote::ToTokens;

    /// Token text with the spaces `TokenStream::to_string` puts around punctuation removed.
    pub fn tokens_to_string<T: ToTokens>(t: &T) -> String {
        let mut ts = TokenStream::new();
        t.to_tokens(&mut ts);
        let s = ts.to_string();
        let s = s
            .replace(":: std :: option :: ", "")
            .replace(":: std :: string :: ", "")
            .replace(":: std :: vec :: ", "")
            .replace(":: std :: collections :: ", "")
            .replace(":: serde_json :: ", "serde_json :: ");
        s.replace(" :: ", "::")
            .replace(":: ", "::")
            .replace(" < ", "<")
            .replace("< ", "<")
            .replace(" >", ">")
            .replace(" ,", ",")
            .replace("& '", "&'")
            .replace("& ", "&")
            .replace(" (", "(")
            .replace("( ", "(")
            .replace(" )", ")")
            .replace(",>", ">")
            .replace(" <", "<")
    }
}
