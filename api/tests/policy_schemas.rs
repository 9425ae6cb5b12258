//! The committed JSON Schemas of the policy documents (`wit/schema/`) match the types. Run with
//! `AIM_UPDATE_SCHEMAS=1` to rewrite them after changing a document type.
// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::path::Path;

#[test]
fn committed_policy_schemas_match_the_types() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit/schema");
    let update = std::env::var_os("AIM_UPDATE_SCHEMAS").is_some();
    for (name, schema) in aim_api::policy::json_schemas() {
        let path = dir.join(format!("{name}.schema.json"));
        let text = serde_json::to_string_pretty(&schema).unwrap() + "\n";
        if update {
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(&path, &text).unwrap();
            continue;
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == text,
            "{} is stale; rerun with AIM_UPDATE_SCHEMAS=1 cargo test -p aim-api --test policy_schemas",
            path.display()
        );
    }
}
