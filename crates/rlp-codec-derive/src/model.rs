//! What the derives need from a struct: its fields split into required and trailing optional
//! ones, and the `#[rlp(...)]` options.

use proc_macro2::Span;
use syn::{
    Data, DeriveInput, Fields, GenericArgument, Generics, Ident, Member, Path, PathArguments, Type,
};

/// A parsed struct, ready for expansion.
pub(crate) struct Model<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) generics: &'a Generics,
    /// Path of the `devp2p_rlp_codec` crate in generated code.
    pub(crate) krate: Path,
    pub(crate) transparent: bool,
    pub(crate) ignore_extra: bool,
    /// Fields that are always present, in order.
    pub(crate) required: Vec<Member>,
    /// Their types, in the same order.
    pub(crate) required_types: Vec<&'a Type>,
    /// Trailing `Option` fields, in order.
    pub(crate) optional: Vec<Member>,
}

impl<'a> Model<'a> {
    pub(crate) fn parse(input: &'a DeriveInput) -> syn::Result<Self> {
        let Data::Struct(data) = &input.data else {
            return Err(syn::Error::new_spanned(
                &input.ident,
                "RLP derives support structs only; implement enums by hand",
            ));
        };
        let mut model = Self {
            ident: &input.ident,
            generics: &input.generics,
            krate: syn::parse_quote!(::devp2p_rlp_codec),
            transparent: false,
            ignore_extra: false,
            required: Vec::new(),
            required_types: Vec::new(),
            optional: Vec::new(),
        };
        for attr in input.attrs.iter().filter(|a| a.path().is_ident("rlp")) {
            attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("transparent") {
                    model.transparent = true;
                } else if meta.path.is_ident("ignore_extra") {
                    model.ignore_extra = true;
                } else if meta.path.is_ident("crate") {
                    let lit: syn::LitStr = meta.value()?.parse()?;
                    model.krate = lit.parse()?;
                } else {
                    return Err(meta.error("expected `transparent`, `ignore_extra` or `crate`"));
                }
                Ok(())
            })?;
        }
        let fields = match &data.fields {
            Fields::Named(f) => &f.named,
            Fields::Unnamed(f) => &f.unnamed,
            Fields::Unit => return model.check(),
        };
        for (index, field) in fields.iter().enumerate() {
            if let Some(attr) = field.attrs.iter().find(|a| a.path().is_ident("rlp")) {
                return Err(syn::Error::new_spanned(
                    attr,
                    "no `#[rlp(...)]` field attributes exist",
                ));
            }
            let member = field.ident.clone().map_or_else(
                || {
                    Member::Unnamed(syn::Index {
                        index: index as u32,
                        span: Span::call_site(),
                    })
                },
                Member::Named,
            );
            if is_option(&field.ty) {
                model.optional.push(member);
            } else if model.optional.is_empty() {
                model.required.push(member);
                model.required_types.push(&field.ty);
            } else {
                return Err(syn::Error::new_spanned(
                    field,
                    "a required field cannot follow an `Option` field: optional fields are trailing",
                ));
            }
        }
        model.check()
    }

    fn check(self) -> syn::Result<Self> {
        if self.transparent && (self.required.len() != 1 || !self.optional.is_empty()) {
            return Err(syn::Error::new_spanned(
                self.ident,
                "`#[rlp(transparent)]` needs exactly one field, not an `Option`",
            ));
        }
        if self.transparent && self.ignore_extra {
            return Err(syn::Error::new_spanned(
                self.ident,
                "`ignore_extra` applies to lists, not to `transparent` wrappers",
            ));
        }
        Ok(self)
    }

    /// All fields in declaration order.
    pub(crate) fn members(&self) -> impl Iterator<Item = &Member> {
        self.required.iter().chain(&self.optional)
    }
}

/// Whether `ty` is spelled `Option<T>` (possibly with a path such as `core::option::Option<T>`,
/// in parentheses, or in the invisible group a `macro_rules!` type fragment becomes).
fn is_option(ty: &Type) -> bool {
    let path = match ty {
        Type::Path(path) => path,
        Type::Group(group) => return is_option(&group.elem),
        Type::Paren(paren) => return is_option(&paren.elem),
        _ => return false,
    };
    path.qself.is_none()
        && path.path.segments.last().is_some_and(|seg| {
            seg.ident == "Option"
                && matches!(&seg.arguments, PathArguments::AngleBracketed(args)
                    if args.args.len() == 1
                        && matches!(args.args.first(), Some(GenericArgument::Type(_))))
        })
}
