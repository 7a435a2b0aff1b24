#!/usr/bin/env bash
# Packs LocalFeat and LocalFeat.Cuda into build/packages/ (a folder feed; samples/nuget.config points at it).
# Needs the native libraries of scripts/setup.sh (build/native). Extra arguments go to dotnet pack,
# e.g. scripts/pack.sh -p:Version=0.1.1-dev
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/build/packages"
BUILD="$ROOT/build/native"
fail() { printf '[pack] error: %s\n' "$*" >&2; exit 1; }
log() { printf '[pack] %s\n' "$*" >&2; }

for lib in "$BUILD/lib/liblocalfeat_kernels_host.so" "$BUILD/lib/liblocalfeat_iosinit.so"; do
  [ -f "$lib" ] || fail "$lib is missing: run scripts/setup.sh first (it builds the native libraries)"
done

# The package must carry the patched libLibTorchSharp.so made from the TorchSharp version it depends on,
# whether or not this machine needs it: re-run the (idempotent) patch from that version's original.
torchsharp_version=$(sed -nE 's:.*<TorchSharpVersion>([^<]+)</TorchSharpVersion>.*:\1:p' "$ROOT/Directory.Build.props")
packages=$(dotnet nuget locals global-packages --list | sed -E 's/^global-packages: //')
original="$packages/torchsharp/$torchsharp_version/runtimes/linux-x64/native/libLibTorchSharp.so"
[ -f "$original" ] || fail "$original is missing: run scripts/setup.sh first (it restores TorchSharp $torchsharp_version)"
LOCALFEAT_FORCE_PATCH=1 "$ROOT/scripts/patch-torchsharp.sh" "$original" "$BUILD/lib/liblocalfeat_iosinit.so" "$BUILD/torchsharp"

mkdir -p "$OUT"
for project in bindings/LocalFeat.Cuda src/LocalFeat; do
  log "packing $project"
  dotnet pack "$ROOT/$project" -c Release -o "$OUT" --nologo -v quiet -clp:ErrorsOnly "$@"
done
log "packages in $OUT:"
ls -1 "$OUT"/*.nupkg >&2
