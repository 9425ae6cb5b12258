//! {{name}}: an aim-engine policy (world `{{world}}`).
//!
{{summary}}
//!
//! `./build.sh` builds `policy.wasm`; `aim-engine policy test policy.wasm fixtures/` checks it
//! against the fixtures. See README.md.

use aim_policy::prelude::*;
{{team_label}}
struct {{type}};

impl Policy for {{type}} {
    const NAME: &'static str = "{{name}}";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
}
