"""{{name}}: an aim-engine policy (world `{{world}}`).

{{summary}}

`./build.sh` builds `policy.wasm`; `aim-engine policy test policy.wasm fixtures/` checks it
against the fixtures. See README.md.

Component model mapping (componentize-py): records are dataclasses with snake_case fields, an
absent option is None, enums are Python enums, and the error of a `result` is raised as
`componentize_py_types.Err` (see `reject` in aim_policy.py).
"""

import json

import wit_world
from wit_world.exports import metadata
from wit_world.imports import defaults, types

from aim_policy import (
    label,
    make_rfc1123_compliant,
    name,
    namespace,
    objects,
    reject,
    sanitize_label_value,
    set_label,
    unsupported,
    warn,
)

# The label naming the team that owns a service.
TEAM_LABEL = "example.com/team"


class Metadata(wit_world.exports.Metadata):
    def info(self) -> metadata.PolicyInfo:
        return metadata.PolicyInfo(
            name="{{name}}",
            version="0.1.0",
            implements=[{{interfaces}}],
        )
