//! aim-engine: the host side of the AIM operator. It observes the cluster, asks a WebAssembly
//! policy what to do, checks the answer and applies it. The CLI lives in [`cli`].
// `deny` rather than `forbid`: loading a precompiled policy artifact (policy::cache) is the one
// audited exception, allowed on that function alone.
#![deny(unsafe_code)]

pub mod cli;
pub mod cluster;
pub mod controller;
pub mod observe;
pub mod operator;
pub mod policy;
pub mod render;
pub mod snapshot;
pub mod text;
