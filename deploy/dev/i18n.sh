#!/usr/bin/env bash
# Message catalogs: `i18n.sh check` lists untranslated strings; `i18n.sh compile`
# rebuilds every .mo from its .po; `i18n.sh extract` writes messages.pot to compare.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
py="${PYTHON:-$root/.venv/bin/python}"
cd "$root"
case "${1:-compile}" in
  extract) "$py" -m babel.messages.frontend extract -k _ -k N_ --no-location \
             -o controller/locale/messages.pot controller ;;
  compile) # Only catalogs whose .po is newer than its .mo: Babel stamps the current
           # time into every .mo it writes, so recompiling all would churn every file.
           for po in controller/locale/*/LC_MESSAGES/*.po agent/locale/*/LC_MESSAGES/*.po; do
             [ -f "$po" ] || continue
             mo="${po%.po}.mo"
             [ "${2:-}" = "--all" ] || [ ! -f "$mo" ] || [ "$po" -nt "$mo" ] || continue
             "$py" -m babel.messages.frontend compile -i "$po" -o "$mo"
           done ;;
  check)   exec "$root/.venv/bin/pytest" -q tests/test_catalog.py ;;
  *) echo "usage: $0 extract|compile|check" >&2; exit 2 ;;
esac
