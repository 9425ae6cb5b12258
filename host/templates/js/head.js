// {{name}}: an aim-engine policy (world `{{world}}`).
//
{{summary}}
//
// `./build.sh` builds `policy.wasm`; `aim-engine policy test policy.wasm fixtures/` checks it
// against the fixtures. See README.md.
//
// Component model mapping (componentize-js): records are objects with camelCase fields, an
// absent option is `undefined`, enums are their kebab-case names, and the error of a `result`
// is thrown: `throw reject(...)`, and an error of the default policy arrives as an exception.

import * as defaults from 'aim:policy/defaults@0.1.0';
import {
  label, makeRfc1123Compliant, name, namespace, objects, reject, sanitizeLabelValue, setLabel,
  warn,
} from './aim-policy.js';

// The label naming the team that owns a service.
const TEAM_LABEL = 'example.com/team';

export const metadata = {
  info() {
    return { name: '{{name}}', version: '0.1.0', implements: [{{interfaces}}] };
  },
};
