"""`make bench`: run every figure module in bench/ and print one table of ratios.

Each module ``bench/fig_*.py`` defines ``run() -> list[Row]``; rows compare dockernb with the
reference engines measured in the same run (see ../shared/anchors for how those are set up).
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

import bench


def main() -> int:
    modules = sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if m.name.startswith("fig_"))
    if not modules:
        print("no figures yet", file=sys.stderr)
        return 0
    failed = 0
    for name in modules:
        mod = importlib.import_module(f"bench.{name}")
        try:
            for row in mod.run():
                print(row)
        except Exception as err:  # a broken figure must not hide the others
            print(f"{name}: FAILED: {err}", file=sys.stderr)
            failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
