"""`python -m bench` runs every bench/bench_*.py module's main(); `python -m bench NAME [args]` runs one."""

from __future__ import annotations

import importlib
import pkgutil
import sys

import bench

PREFIX = "bench_"


def benchmark_names() -> list[str]:
    return sorted(
        module.name[len(PREFIX) :] for module in pkgutil.iter_modules(bench.__path__) if module.name.startswith(PREFIX)
    )


def run(argv: list[str]) -> int:
    names = benchmark_names()
    if argv and not argv[0].startswith("-"):
        name, rest = argv[0], argv[1:]
        if name not in names:
            print(f"bench: no benchmark named {name!r}; known: {', '.join(names)}", file=sys.stderr)
            return 2
        return importlib.import_module(f"bench.{PREFIX}{name}").main(rest) or 0
    status = 0
    for name in names:
        print(f"== {name} ==", flush=True)
        status = importlib.import_module(f"bench.{PREFIX}{name}").main([]) or status
    return status


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
