"""``make conf``: the builtin group YAML under ``benchmark/conf/`` rewritten from the code's
defaults (:mod:`benchmark.run.group_yaml`); ``check=true`` only names the files that differ, exit 1.
"""

from __future__ import annotations

import sys

from benchmark.paths import CONF_DIR
from benchmark.run.app import GROUPS
from benchmark.run.group_yaml import sync


def main(argv: list[str]) -> int:
    check = "check=true" in argv
    changed = sync(CONF_DIR, GROUPS, write=not check)
    for path in changed:
        print(f"{'differs from the code' if check else 'rewritten from the code'}: {path}")
    return 1 if check and changed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
