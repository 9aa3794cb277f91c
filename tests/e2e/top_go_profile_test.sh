#!/usr/bin/env bash
# `heapscope top` on a heap profile written by Go's own runtime/pprof
# (tests/go/heapgen): names the allocating functions, agrees row for row
# with `go tool pprof -top`, emits JSON that parses, and fails with one line
# on stderr for truncated, empty, missing and foreign files. `heapscope
# leaks` on a series of Go's profiles names the leaking function the
# compiler inlined, with a source line for each frame of the inline chain.
#
# usage: top_go_profile_test.sh HEAPSCOPE HEAPGEN_SOURCE_DIR WORK_DIR
set -euo pipefail

if [[ $# -ne 3 ]]; then
  echo "usage: $0 HEAPSCOPE HEAPGEN_SOURCE_DIR WORK_DIR" >&2
  exit 2
fi
heapscope=$1
heapgen_src=$2
work=$3
mkdir -p "$work"

command -v go >/dev/null || { echo "FAIL: go is not installed (apt-get install golang-go)" >&2; exit 1; }

# Build offline: stdlib only, caches under the build tree.
export GOCACHE="$work/gocache" GOPATH="$work/gopath" GOFLAGS=-mod=mod GO111MODULE=on GOPROXY=off
(cd "$heapgen_src" && go build -o "$work/heapgen" .)
profile="$work/heap.pb.gz"
rm -f "$profile"
"$work/heapgen" "$profile"

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "ok: $*"; }
fail() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }

# The table rows: the lines after the "flat flat% sum% cum cum%" header.
rows() { sed -n '/^ *flat  *flat%/,$p' | tail -n +2; }

# 1. The text report names the allocating functions, biggest first.
out=$("$heapscope" top "$profile")
first=$(printf '%s\n' "$out" | rows | head -1 | awk '{print $6}')
if [[ $first == main.allocateLargeBuffers ]] && grep -q 'main.allocateSmallRecords' <<<"$out" &&
   grep -q '^Type: inuse_space$' <<<"$out"; then
  pass "inuse_space top names main.allocateLargeBuffers first and main.allocateSmallRecords"
else
  fail "unexpected inuse_space report:"$'\n'"$out"
fi

out=$("$heapscope" top --sample alloc_objects -n 3 "$profile")
first=$(printf '%s\n' "$out" | rows | head -1 | awk '{print $6}')
if [[ $first == main.allocateSmallRecords ]] && [[ $(printf '%s\n' "$out" | rows | wc -l) -eq 3 ]]; then
  pass "--sample alloc_objects -n 3 shows 3 rows, main.allocateSmallRecords first"
else
  fail "unexpected alloc_objects report:"$'\n'"$out"
fi

# 2. Row for row the same table as go tool pprof (no node dropping there).
for sample in inuse_space alloc_space inuse_objects alloc_objects; do
  ours=$("$heapscope" top -n 0 --sample "$sample" "$profile" | rows)
  theirs=$(go tool pprof -top -nodefraction=0 -sample_index="$sample" "$profile" 2>/dev/null | rows)
  if [[ -n $ours && $ours == "$theirs" ]]; then
    pass "$sample table equals go tool pprof -top"
  else
    fail "$sample table differs from go tool pprof -top:"$'\n'"$(diff <(echo "$ours") <(echo "$theirs") || true)"
  fi
done

# 3. JSON parses and carries the same leader; stdin works.
if "$heapscope" top --format json - <"$profile" | python3 -c '
import json, sys
report = json.load(sys.stdin)
assert report["sample_type"] == "inuse_space", report["sample_type"]
assert report["unit"] == "bytes", report["unit"]
assert report["rows"][0]["function"] == "main.allocateLargeBuffers", report["rows"][0]
assert report["total"] >= sum(r["flat"] for r in report["rows"])
'; then
  pass "--format json parses (read from stdin)"
else
  fail "--format json did not parse or had the wrong content"
fi

# 4. Leak trends over Go's own profiles: rememberSession is inlined into
# serveRequests (one location, two lines in Go's profile); each of the two
# frames gets its own line of main.go.
series="$work/series"
rm -rf "$series"
mkdir -p "$series"
"$work/heapgen" -series "$series" 8
heapgen_go="$heapgen_src/main.go"
remember_line=$(grep -n 'retained = append(retained, make(\[\]byte, 32<<10))' "$heapgen_go" | cut -d: -f1)
serve_line=$(grep -n '^		rememberSession()$' "$heapgen_go" | cut -d: -f1)
if "$heapscope" leaks --format json "$series"/heap.*.pb.gz | python3 -c '
import json, sys
report = json.load(sys.stdin)
leader = report["suspects"][0]
assert leader["verdict"] == "growing", leader
assert leader["frames"][:2] == ["main.rememberSession", "main.serveRequests"], leader["frames"]
want = [f"main.go:{sys.argv[1]}", f"main.go:{sys.argv[2]}"]
got = [s.rsplit("/", 1)[-1] for s in leader["sources"][:2]]
assert got == want, (got, want)
' "$remember_line" "$serve_line"; then
  pass "leaks over Go's profiles: main.rememberSession (inlined) leads, main.go:$remember_line and :$serve_line"
else
  fail "leaks over Go's profiles did not name main.rememberSession with a line per inlined frame"
fi

# 5. Bad inputs: non-zero exit, nothing on stdout, exactly one line on stderr.
expect_error() {
  local what=$1 pattern=$2
  shift 2
  local stdout_file="$work/err.stdout" stderr_file="$work/err.stderr" status=0
  "$heapscope" top "$@" >"$stdout_file" 2>"$stderr_file" || status=$?
  local lines
  lines=$(wc -l <"$stderr_file")
  if [[ $status -ne 0 && ! -s $stdout_file && $lines -eq 1 ]] &&
     grep -qE "^heapscope: $pattern" "$stderr_file"; then
    pass "$what: exit $status, $(cat "$stderr_file")"
  else
    fail "$what: exit $status, stdout $(wc -c <"$stdout_file") bytes, stderr:"$'\n'"$(cat "$stderr_file")"
  fi
}

size=$(wc -c <"$profile")
head -c $((size / 2)) "$profile" >"$work/truncated.pb.gz"
expect_error "truncated gzip" ".*truncated" "$work/truncated.pb.gz"
# A truncated inflated protobuf, not just a truncated gzip stream. The cut
# lands in the string table, which Go writes last: inside a field, or at a
# field boundary, leaving strings that are referenced but missing.
gzip -dc "$profile" >"$work/heap.pb"
head -c $(( $(wc -c <"$work/heap.pb") - 7 )) "$work/heap.pb" >"$work/truncated.pb"
expect_error "truncated protobuf" ".*(truncated protobuf at byte|invalid profile: string index)" "$work/truncated.pb"
: >"$work/empty.pb.gz"
expect_error "empty file" ".*empty file" "$work/empty.pb.gz"
expect_error "missing file" "cannot open .*No such file" "$work/does-not-exist.pb.gz"
printf 'these are just words, not a profile\n' >"$work/legacy.txt"
expect_error "text file" ".*not a profile.proto file" "$work/legacy.txt"
expect_error "unknown sample type" \
  ".*unknown sample type \"cpu\"; this profile has: alloc_objects, alloc_space, inuse_objects, inuse_space" \
  --sample cpu "$profile"

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
