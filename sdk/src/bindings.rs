//! The `aim:policy@0.1.0` bindings, generated from `../wit` for the `policy` world (every
//! interface). A component built with them exports all four interfaces; the host uses only those
//! its metadata claims, so a policy that implements only `paths` behaves as one built for the
//! `paths-policy` world. The export macros are public so that [`crate::export!`] can be used
//! from the policy's own crate.

// The generated bindings implement the canonical ABI with `unsafe` code; none is written by hand.
#![allow(unsafe_code, missing_docs, clippy::all)]

wit_bindgen::generate!({
    path: "../wit",
    world: "policy",
    pub_export_macro: true,
    default_bindings_module: "aim_policy::bindings",
});
