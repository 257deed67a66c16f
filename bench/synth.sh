#!/usr/bin/env bash
# bench/synth.sh — time `immunis synth --patients N --out DIR` and report people/s,
# resources/s, MB/s and peak RSS. Until cmd/immunis wires the subcommand it runs the same code
# through bench/synthmain. Usage: bench/synth.sh [N] [extra synth flags…]
# Environment: OUT (output directory, default /tmp/immunis-synth-bench), LIMIT (seconds, default 30).
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-100000}"
shift || true
OUT="${OUT:-/tmp/immunis-synth-bench}"
LIMIT="${LIMIT:-30}"
BIN="$(mktemp -d)/synthmain"
TIMES="$(mktemp)"
trap 'rm -rf "$(dirname "$BIN")" "$TIMES"' EXIT

go build -o "$BIN" ./bench/synthmain
rm -rf "$OUT"
/usr/bin/time -v -o "$TIMES" "$BIN" --patients "$N" --out "$OUT" "$@"

wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,p,":"); s=0; for(i=1;i<=n;i++) s=s*60+p[i]; print s}' "$TIMES")
rss_kb=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$TIMES")
cpu=$(awk -F': ' '/Percent of CPU this job got/ {print $2}' "$TIMES")
resources=$(grep -o '"count": [0-9]*' "$OUT/manifest.json" | head -4 | awk '{s+=$2} END {print s}')
bytes=$(du -sb "$OUT" | awk '{print $1}')

awk -v n="$N" -v w="$wall" -v r="$resources" -v b="$bytes" -v rss="$rss_kb" -v cpu="$cpu" -v limit="$LIMIT" 'BEGIN {
	printf "synth bench: %d people, %d resources, %.1f MB in %.2f s (CPU %s)\n", n, r, b/1e6, w, cpu
	printf "  %.0f people/s  %.0f resources/s  %.1f MB/s  peak RSS %.1f MB\n", n/w, r/w, b/1e6/w, rss/1024
	if (w > limit) { printf "  FAIL: slower than %d s\n", limit; exit 1 }
	printf "  ok: within %d s\n", limit
}'
