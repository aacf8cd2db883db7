"""Pure proposal: verdicts in, a minimized, resource-scoped policy (and its renderings) out."""
