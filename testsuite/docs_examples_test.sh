#!/usr/bin/env bash
# docs_examples_test.sh: runs the EXAMPLES of the manuals (docs/dpcc.1.md, then docs/dprun.1.md,
# whose examples run what dpcc's made) exactly as the pages print them, so that they cannot
# drift from what the tools do. Each indented line (with its \ continuations) is one command,
# run in a scratch folder holding a link to examples/, with dpcc, dprun and cc as the build has
# them; any command failing fails the test.
#   bash testsuite/docs_examples_test.sh BUILD_DIR SOURCE_DIR
set -u
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ln -s "$src/examples" "$tmp/examples"
mkdir -p "$tmp/bin"
ln -s "$build/dpcc" "$tmp/bin/dpcc"
ln -s "$build/dprun" "$tmp/bin/dprun"
failures=0 passes=0
for page in dpcc dprun; do
    # the EXAMPLES section's indented lines, continuations joined
    commands=$(sed -n '/^## EXAMPLES/,/^## /p' "$src/docs/$page.1.md" |
               sed -n 's/^    //p' | sed -e ':a' -e '/\\$/N; s/\\\n *//; ta')
    while IFS= read -r cmd; do
        [[ -z $cmd ]] && continue
        if (cd "$tmp" && PATH=$tmp/bin:$PATH bash -c "$cmd") >"$tmp/log" 2>&1; then
            passes=$((passes + 1))
        else
            echo "FAIL: docs/$page.1.md: $cmd"
            tail -n 5 "$tmp/log"
            failures=$((failures + 1))
        fi
    done <<<"$commands"
done
echo "$passes passed, $failures failed"
[[ $passes -gt 0 && $failures -eq 0 ]]
