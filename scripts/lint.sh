#!/usr/bin/env bash
# `make lint`: bans the C calls that have caused decades of CVEs, and raw
# heap calls outside the allocator wrapper (src/base/alloc.c), so that every
# allocation can have a fault injected; then the structural rules of
# scripts/lint_c.py.  Prints each offending line.
set -uo pipefail
cd "$(dirname "$0")/.."
status=0
banned='\b(strcpy|strcat|sprintf|vsprintf|gets|atoi|atol|atoll|atof|strtok|strncpy)\s*\('
if grep -rnE "$banned" src tests/unit tests/fuzz bench 2>/dev/null --include='*.c' --include='*.h'; then
  echo "lint: banned call above (use snprintf, strtoull with checks, qp_u128_parse, memcpy with a bound)" >&2
  status=1
fi
heap='\b(malloc|calloc|realloc|free)\s*\('
if grep -rnE "$heap" src --include='*.c' --include='*.h' | grep -v '^src/base/alloc.c' | grep -v 'lint-ok'; then
  echo "lint: raw heap call above (use qp_malloc/qp_calloc/qp_realloc/qp_free from base/alloc.h)" >&2
  status=1
fi
# Functions over 70 lines, lines over 100 columns, includes of another
# module's private headers (scripts/lint_c.py says which).
/usr/bin/python3 scripts/lint_c.py || status=1
# The C copies of the OpenAPI documents match their JSON (the node serves the copies).
bash scripts/gen-openapi.sh --check || status=1
[ $status -eq 0 ] && echo "lint: ok"
exit $status
