#!/usr/bin/env bash
# What the tests need beyond Python, installed when missing: Chromium (the report's browser
# tests print report.html and check its console) and Node.js with npm, then the reference IAM
# evaluator the proposals are checked against (@cloud-copilot/iam-simulate, pinned in
# tests/reference_evaluator/package.json). System packages come from apt-get, through sudo
# when not root; elsewhere install Chromium and Node.js yourself, or set RIGHTSIZER_CHROMIUM.
set -euo pipefail
cd "$(dirname "$0")/.."
as_root=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then as_root="sudo"; fi
if [ -z "${RIGHTSIZER_CHROMIUM:-}" ] && ! command -v chromium >/dev/null 2>&1; then
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "install-test-tools: no chromium and no apt-get: install Chromium or set" \
             "RIGHTSIZER_CHROMIUM" >&2
    else
        # Stale or unreachable package lists are not fatal: the cached ones may still do.
        $as_root apt-get update -qq || true
        $as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
    fi
fi
if ! command -v npm >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    $as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm || true
fi
npm install --prefix tests/reference_evaluator --no-audit --no-fund --silent
