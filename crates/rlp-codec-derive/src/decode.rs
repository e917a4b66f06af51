//! Expansion of `#[derive(RlpDecodable)]`.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{GenericParam, Lifetime};

use crate::model::Model;

pub(crate) fn expand(model: &Model<'_>) -> syn::Result<TokenStream> {
    let Model { ident, krate, .. } = model;
    let (_, ty_generics, _) = model.generics.split_for_impl();

    // The input lifetime: the struct's own lifetime when it has one (so `&'a [u8]` fields borrow
    // from the input), a fresh one otherwise.
    let mut lifetimes = model.generics.lifetimes();
    let de: Lifetime = match (lifetimes.next(), lifetimes.next()) {
        (None, _) => syn::parse_quote!('__de),
        (Some(l), None) => l.lifetime.clone(),
        (Some(_), Some(extra)) => {
            return Err(syn::Error::new_spanned(
                extra,
                "RlpDecodable supports at most one lifetime parameter",
            ));
        }
    };
    let mut generics = model.generics.clone();
    if model.generics.lifetimes().next().is_none() {
        generics.params.insert(
            0,
            GenericParam::Lifetime(syn::LifetimeParam::new(de.clone())),
        );
    }
    for param in generics.type_params_mut() {
        param.bounds.push(syn::parse_quote!(#krate::Decodable<#de>));
    }
    let (impl_generics, _, where_clause) = generics.split_for_impl();

    let body = if model.transparent {
        let member = model.members();
        quote! { ::core::result::Result::Ok(Self { #(#member: #krate::Decodable::decode(rlp)?),* }) }
    } else {
        let required = &model.required;
        let optional = &model.optional;
        let finish = if model.ignore_extra {
            quote! { __list.skip_rest()?; }
        } else {
            quote! { __list.finish()?; }
        };
        quote! {
            let mut __list = rlp.list()?;
            let __value = Self {
                #(#required: #krate::Decodable::decode(&mut __list)?,)*
                #(#optional: if __list.is_empty() {
                    ::core::option::Option::None
                } else {
                    ::core::option::Option::Some(#krate::Decodable::decode(&mut __list)?)
                },)*
            };
            #finish
            ::core::result::Result::Ok(__value)
        }
    };

    // The fewest bytes an encoding takes: the wrapped field's, or a list header and the
    // required fields' (trailing optional ones may be absent). `Vec<Self>` sizes its
    // allocation from it.
    let types = &model.required_types;
    let min_length = if model.transparent {
        quote! { 0 #(+ <#types as #krate::Decodable<#de>>::MIN_LENGTH)* }
    } else {
        quote! { 1 #(+ <#types as #krate::Decodable<#de>>::MIN_LENGTH)* }
    };

    Ok(quote! {
        #[automatically_derived]
        impl #impl_generics #krate::Decodable<#de> for #ident #ty_generics #where_clause {
            const MIN_LENGTH: usize = #min_length;

            #[inline]
            fn decode(rlp: &mut #krate::Rlp<#de>) -> ::core::result::Result<Self, #krate::DecodeError> {
                #body
            }
        }
    })
}
