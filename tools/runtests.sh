#!/bin/sh
# runtests.sh -- runs the C unit tests given as arguments, then the busted
# specs, and prints one closing line: "N passed, N failed" (both added up).
passed=0; failed=0
for t in "$@"; do
  echo "== $t"
  out=$("$t" 2>&1); rc=$?
  echo "$out"
  line=$(echo "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -n 1)
  if [ -z "$line" ]; then
    echo "$t: crashed or printed no result (exit $rc)"; failed=$((failed + 1)); continue
  fi
  p=$(echo "$line" | cut -d' ' -f1); f=$(echo "$line" | cut -d' ' -f3)
  passed=$((passed + p)); failed=$((failed + f))
done
echo "== busted spec/"
LUA=${EMBER:-./ember}; [ -x "$LUA" ] || LUA=lua5.4
out=$($LUA "$(command -v busted)" -o utfTerminal spec 2>&1); rc=$?
echo "$out"
line=$(echo "$out" | grep -E '[0-9]+ successes? / [0-9]+ failures? / [0-9]+ errors?' | tail -n 1)
if [ -z "$line" ]; then
  echo "busted: crashed or printed no summary (exit $rc)"; failed=$((failed + 1))
else
  s=$(echo "$line" | grep -oE '[0-9]+ success' | grep -oE '[0-9]+')
  f=$(echo "$line" | grep -oE '[0-9]+ failure' | grep -oE '[0-9]+')
  e=$(echo "$line" | grep -oE '[0-9]+ error' | grep -oE '[0-9]+')
  passed=$((passed + s)); failed=$((failed + f + e))
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
