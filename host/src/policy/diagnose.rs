//! Load failures in words a policy author can act on. wasmtime explains why it refused a file in
//! its own terms (magic numbers, linker items, type indices); here the same refusals are named
//! by their usual cause: not WebAssembly at all, a core module instead of a component, bindings
//! from another version of the `aim:policy` contract, an import the host does not offer. The
//! wasmtime wording is kept at the end for the rare case the guess is wrong.

use wasmtime::Engine;
use wasmtime::component::Component;

use super::error::PolicyError;

/// The contract this host speaks, as it appears in import and export names.
const PACKAGE: &str = "aim:policy";
const CONTRACT: &str = "aim:policy@0.1.0";
/// The interfaces a policy may import from the host.
const HOST_INTERFACES: [&str; 3] = ["defaults", "types", "custom"];
/// How to get the matching WIT, said in every versioning message.
const REGENERATE: &str = "write the matching WIT with `aim-engine policy wit wit/` and rebuild";

const MAGIC: &[u8; 4] = b"\0asm";
/// Binary format version of a core module; a component's layer differs.
const CORE_MODULE_VERSION: [u8; 4] = [1, 0, 0, 0];

/// Why `wasm` did not compile as a component.
pub(super) fn uncompilable(wasm: &[u8], error: &wasmtime::Error) -> PolicyError {
    let detail = if !wasm.starts_with(MAGIC) {
        format!(
            "this is not a WebAssembly file (it does not start with the bytes `\\0asm`{}); \
             give the .wasm the build produced",
            what_it_looks_like(wasm)
        )
    } else if wasm.get(4..8) == Some(CORE_MODULE_VERSION.as_slice()) {
        "this is a core WebAssembly module, not a component. Build a component: Rust with \
         `cargo build --target wasm32-wasip2` (not wasm32-unknown-unknown or wasm32-wasip1), \
         JavaScript with `jco componentize`, Python with `componentize-py componentize`; or wrap \
         a module with `wasm-tools component new`"
            .to_owned()
    } else {
        root_cause(error)
    };
    PolicyError::InvalidComponent { detail }
}

fn what_it_looks_like(bytes: &[u8]) -> &'static str {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(64)]);
    let text = text.trim_start();
    if bytes.starts_with(b"\x7fELF") {
        ", it is a native executable"
    } else if text.starts_with("(component") || text.starts_with("(module") {
        ", it is WebAssembly text: assemble it first"
    } else if bytes.is_empty() {
        ", it is empty"
    } else if std::str::from_utf8(bytes).is_ok() {
        ", it is text"
    } else {
        ""
    }
}

/// Why the host could not satisfy the component's imports.
pub(super) fn unsatisfied_imports(
    component: &Component,
    engine: &Engine,
    error: &wasmtime::Error,
) -> PolicyError {
    let ty = component.component_type();
    let mut problems = Vec::new();
    for (name, _) in ty.imports(engine) {
        if let Some(problem) = import_problem(name) {
            problems.push(problem);
        }
    }
    let detail = if problems.is_empty() {
        // Every name is one the host offers, so a signature differs: WIT edited by hand, or
        // bindings from another revision of the same version.
        format!(
            "its imports do not match what aim-engine provides for {CONTRACT} ({error:#}); {REGENERATE}"
        )
    } else {
        problems.join("; ")
    };
    PolicyError::Incompatible { detail }
}

/// What is wrong with importing `name`, if the name alone tells.
fn import_problem(name: &str) -> Option<String> {
    let (path, version) = name.split_once('@').unwrap_or((name, ""));
    if let Some(interface) = path
        .strip_prefix(PACKAGE)
        .and_then(|rest| rest.strip_prefix('/'))
    {
        if !compatible(version) {
            return Some(format!(
                "it was built against aim:policy@{version}, and this aim-engine speaks {CONTRACT}; {REGENERATE}"
            ));
        }
        if !HOST_INTERFACES.contains(&interface) {
            return Some(format!(
                "it imports {name}, which is not part of {CONTRACT}; {REGENERATE}"
            ));
        }
        return None;
    }
    if path.starts_with("wasi:") {
        return (!version.starts_with("0.2.")).then(|| {
            format!("it imports {name}, and aim-engine provides WASI 0.2 (build for wasm32-wasip2)")
        });
    }
    Some(format!(
        "it imports {name}, which aim-engine does not provide: a policy may import {PACKAGE}/defaults and WASI 0.2"
    ))
}

/// Whether a version of the contract is one this host serves (0.1.x: minors of 0.x break).
fn compatible(version: &str) -> bool {
    version.starts_with("0.1.") || version == "0.1"
}

/// Why a component that linked does not export the `metadata` interface.
pub(super) fn missing_metadata(
    component: &Component,
    engine: &Engine,
    expected: &str,
) -> PolicyError {
    let ty = component.component_type();
    let contract_exports: Vec<&str> = ty
        .exports(engine)
        .map(|(name, _)| name)
        .filter(|name| name.starts_with(PACKAGE))
        .collect();
    let versions: Vec<&str> = contract_exports
        .iter()
        .filter_map(|name| name.split_once('@').map(|(_, v)| v))
        .filter(|version| !compatible(version))
        .collect();
    let detail = match versions.first() {
        Some(version) => format!(
            "it exports {}: it was built against aim:policy@{version}, and this aim-engine speaks {CONTRACT}; {REGENERATE}",
            contract_exports.join(", ")
        ),
        None if contract_exports.is_empty() => format!(
            "it does not export {expected}: it exports nothing of {CONTRACT}. Build it for one of \
             the worlds paths-policy, selection-policy, planner-policy or policy"
        ),
        None => format!(
            "it does not export {expected} (it exports {}): every policy must say what it is",
            contract_exports.join(", ")
        ),
    };
    PolicyError::Incompatible { detail }
}

/// The innermost cause of a wasmtime error: its own words, without the chain of contexts.
fn root_cause(error: &wasmtime::Error) -> String {
    error.root_cause().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contract_imports_of_another_version_are_named_with_the_fix() {
        let problem = import_problem("aim:policy/defaults@2.0.0").unwrap_or_default();
        assert!(problem.contains("aim:policy@2.0.0"), "{problem}");
        assert!(problem.contains("aim-engine policy wit"), "{problem}");
        assert_eq!(import_problem("aim:policy/defaults@0.1.3"), None);
        assert_eq!(import_problem("wasi:cli/stderr@0.2.6"), None);
    }

    #[test]
    fn imports_the_host_does_not_offer_are_named() {
        let problem = import_problem("acme:net/http@1.0.0").unwrap_or_default();
        assert!(problem.contains("acme:net/http@1.0.0"), "{problem}");
        let problem = import_problem("wasi:http/types@0.3.0").unwrap_or_default();
        assert!(problem.contains("WASI 0.2"), "{problem}");
    }

    #[test]
    fn text_and_native_files_are_told_apart() {
        assert_eq!(
            what_it_looks_like(b"(component)"),
            ", it is WebAssembly text: assemble it first"
        );
        assert_eq!(
            what_it_looks_like(b"\x7fELF\x02\x01"),
            ", it is a native executable"
        );
        assert_eq!(what_it_looks_like(b"hello"), ", it is text");
    }
}
