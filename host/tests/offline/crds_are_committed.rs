//! The CRDs committed under `deploy/crds/` are exactly what `aim-engine crds` generates, so the
//! chart and the test control plane never install a stale schema.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::path::Path;

#[test]
fn committed_crds_match_the_generated_ones() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/crds");
    let generated = aim_engine::cli::crds::render_files().expect("CRDs render");
    assert_eq!(generated.len(), 10, "one CRD per AIM kind");
    let mut committed: Vec<String> = std::fs::read_dir(&dir)
        .expect("deploy/crds exists")
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".yaml"))
        .collect();
    committed.sort();
    let mut expected: Vec<String> = generated.iter().map(|(name, _)| name.clone()).collect();
    expected.sort();
    let hint = "regenerate with `cargo run -p aim-engine -- crds --output-dir deploy/crds`";
    assert_eq!(committed, expected, "the set of CRD files differs; {hint}");
    for (name, yaml) in generated {
        let on_disk = std::fs::read_to_string(dir.join(&name)).expect("readable");
        assert!(on_disk == yaml, "deploy/crds/{name} is stale; {hint}");
    }
}
