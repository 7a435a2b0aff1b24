#!/usr/bin/env bash
# Runs every test of LocalFeat: set-up, the native tests (ctest), the .NET tests (dotnet test), and
# prints as its last line "N passed, N failed, N skipped" summed over all of them.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CONFIG="${LOCALFEAT_CONFIG:-Release}"
RESULTS="$ROOT/build/test-results"

if ! "$ROOT/scripts/setup.sh"; then
  echo "setup failed"
  echo "0 passed, 1 failed, 0 skipped"
  exit 1
fi
rm -rf "$RESULTS" && mkdir -p "$RESULTS"

passed=0 failed=0 skipped=0

# ctest: "NN% tests passed, F tests failed out of T"
ctest --test-dir "$ROOT/build/native" --output-on-failure 2>&1 | tee "$RESULTS/ctest.log"
if summary=$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' "$RESULTS/ctest.log" | tail -1); then
  f=$(sed -E 's/.* ([0-9]+) tests failed out of ([0-9]+).*/\1/' <<<"$summary")
  t=$(sed -E 's/.* tests failed out of ([0-9]+).*/\1/' <<<"$summary")
  passed=$((passed + t - f)); failed=$((failed + f))
elif ! grep -q "No tests were found" "$RESULTS/ctest.log"; then
  failed=$((failed + 1))
fi

# dotnet test: counters from the TRX report; skipped tests are those counted in total but not executed.
dotnet test "$ROOT/LocalFeat.sln" -c "$CONFIG" --no-build --nologo \
  --logger "trx;LogFileName=dotnet.trx" --results-directory "$RESULTS" 2>&1 | tee "$RESULTS/dotnet.log"
dotnet_rc=${PIPESTATUS[0]}
trx="$RESULTS/dotnet.trx"
if [ -f "$trx" ]; then
  counters=$(grep -o '<Counters [^>]*>' "$trx")
  attr() { sed -E "s/.* $1=\"([0-9]+)\".*/\1/" <<<"$counters"; }
  passed=$((passed + $(attr passed)))
  failed=$((failed + $(attr failed) + $(attr error) + $(attr timeout) + $(attr aborted)))
  skipped=$((skipped + $(attr total) - $(attr executed)))
elif [ "$dotnet_rc" -ne 0 ]; then
  failed=$((failed + 1))
fi
if [ "$dotnet_rc" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi  # e.g. a crashed test host

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
