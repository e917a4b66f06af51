//! Expansion of `#[derive(RlpEncodable)]`.

use proc_macro2::TokenStream;
use quote::quote;

use crate::model::Model;

pub(crate) fn expand(model: &Model<'_>) -> TokenStream {
    let Model { ident, krate, .. } = model;
    let mut generics = model.generics.clone();
    for param in generics.type_params_mut() {
        param.bounds.push(syn::parse_quote!(#krate::Encodable));
    }
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();

    let (encode, length) = if model.transparent {
        let member = model.members();
        let member2 = model.members();
        (
            quote! { #(#krate::Encodable::encode(&self.#member, out);)* },
            quote! { #(#krate::Encodable::length(&self.#member2))* },
        )
    } else {
        let payload = payload_length(model);
        let present = present_optionals(model);
        let required = &model.required;
        let optional_writes = model.optional.iter().enumerate().map(|(i, member)| {
            quote! {
                if __present > #i {
                    match &self.#member {
                        ::core::option::Option::Some(v) => #krate::Encodable::encode(v, out),
                        ::core::option::Option::None => #krate::bytes::BufMut::put_u8(out, 0x80),
                    }
                }
            }
        });
        (
            quote! {
                #present
                let __payload: usize = #payload;
                #krate::Header::list(__payload).encode(out);
                #(#krate::Encodable::encode(&self.#required, out);)*
                #(#optional_writes)*
            },
            quote! {
                #present
                let __payload: usize = #payload;
                #krate::header_length(__payload) + __payload
            },
        )
    };

    quote! {
        #[automatically_derived]
        impl #impl_generics #krate::Encodable for #ident #ty_generics #where_clause {
            #[inline]
            fn encode<__B: #krate::bytes::BufMut + ?::core::marker::Sized>(&self, out: &mut __B) {
                #encode
            }

            #[inline]
            fn length(&self) -> usize {
                #length
            }
        }
    }
}

/// `let __present = …;`: how many trailing optional fields are written (up to the last `Some`).
fn present_optionals(model: &Model<'_>) -> TokenStream {
    if model.optional.is_empty() {
        return quote! { let __present: usize = 0; };
    }
    let checks = model.optional.iter().enumerate().rev().map(|(i, member)| {
        let count = i + 1;
        quote! { if self.#member.is_some() { #count } else }
    });
    quote! { let __present: usize = #(#checks)* { 0 }; }
}

/// Expression for the list payload length; `__present` must be in scope.
fn payload_length(model: &Model<'_>) -> TokenStream {
    let krate = &model.krate;
    let required = &model.required;
    let optional = model.optional.iter().enumerate().map(|(i, member)| {
        quote! {
            + if __present > #i {
                self.#member.as_ref().map_or(1, #krate::Encodable::length)
            } else {
                0
            }
        }
    });
    quote! { 0 #(+ #krate::Encodable::length(&self.#required))* #(#optional)* }
}
