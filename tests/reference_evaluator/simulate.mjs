// Reads simulations as JSON lines on stdin ({policies, action, resource, account, principal,
// context}) and writes one JSON line per simulation on stdout: {"result": "Allowed" | ...}.
// Used by tests/test_reference_evaluator.py; the evaluator is @cloud-copilot/iam-simulate.
import { runSimulation } from '@cloud-copilot/iam-simulate';
import { createInterface } from 'node:readline';

const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (!line.trim()) continue;
  const c = JSON.parse(line);
  const simulation = {
    request: {
      principal: c.principal, action: c.action,
      resource: { resource: c.resource, accountId: c.account }, contextVariables: c.context || {},
    },
    identityPolicies: c.policies.map((policy, i) => ({ name: `p${i}`, policy })),
    serviceControlPolicies: [], resourceControlPolicies: [],
  };
  if (c.resourcePolicy) simulation.resourcePolicy = c.resourcePolicy;
  if (c.boundary && c.boundary.length) {
    simulation.permissionBoundaryPolicies = c.boundary.map((policy, i) => ({ name: `b${i}`, policy }));
  }
  try {
    const r = await runSimulation(simulation, {});
    process.stdout.write(JSON.stringify({ result: r.overallResult ?? r.resultType }) + '\n');
  } catch (error) {
    process.stdout.write(JSON.stringify({ result: 'Error', error: String(error) }) + '\n');
  }
}
