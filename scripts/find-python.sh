#!/usr/bin/env bash
# Prints the path of a Python interpreter of the wanted minor version (default 3.12).
# Looks on PATH, then in pyenv's versions, then asks uv; CI's shell may have none of them set up.
set -euo pipefail
want="${1:-3.12}"
is_wanted() { "$1" -c "import sys; sys.exit(0 if '%d.%d' % sys.version_info[:2] == '$want' else 1)" 2>/dev/null; }
for candidate in "python$want" python3 python; do
  path=$(command -v "$candidate" 2>/dev/null) || continue
  if is_wanted "$path"; then echo "$path"; exit 0; fi
done
for root in "${PYENV_ROOT:-}" "$HOME/.pyenv" /root/.pyenv /opt/pyenv; do
  [ -n "$root" ] && [ -d "$root/versions" ] || continue
  for path in $(ls -d "$root"/versions/"$want"* 2>/dev/null | sort -V -r); do
    if is_wanted "$path/bin/python"; then echo "$path/bin/python"; exit 0; fi
  done
done
for path in /usr/bin/python$want /usr/local/bin/python$want; do
  if [ -x "$path" ] && is_wanted "$path"; then echo "$path"; exit 0; fi
done
if command -v uv >/dev/null 2>&1; then
  path=$(uv python find "$want" 2>/dev/null) && is_wanted "$path" && { echo "$path"; exit 0; }
fi
echo "find-python: no Python $want found (looked on PATH, in pyenv versions and via uv)" >&2
exit 1
