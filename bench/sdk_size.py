"""What `pip install plaudit-sdk` adds beyond OpenTelemetry's own packages (target ≤ 25 MB).

    python bench/sdk_size.py [--json]

Builds the plaudit-sdk wheel from clients/python (no upload), installs it alone into a fresh venv
(pip fetches its dependencies from the package index), and sizes every installed distribution
from its RECORD. OpenTelemetry's share is the opentelemetry-* distributions with everything they
require (protobuf, requests, …); what is left is what choosing Plaudit's SDK costs on top of
OpenTelemetry. pip itself is the venv's tooling and is left out. Sizes in MB of 10^6 bytes.
"""

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
SDK = REPO / "clients" / "python"
MB = 1_000_000
TARGET_MB = 25.0
TOOLING = frozenset({"pip", "setuptools", "wheel"})

# Run by the fresh venv's interpreter: every distribution's installed bytes and what it requires.
_SIZES = r"""
import json, re
from importlib import metadata

def key(name):
    return re.sub(r"[-_.]+", "-", name).lower()

found = {}
for dist in metadata.distributions():
    size = 0
    for file in dist.files or ():
        path = file.locate()
        if path.is_file():
            size += path.stat().st_size
    needs = []
    for requirement in dist.requires or ():
        if "extra ==" in requirement:
            continue
        needs.append(key(re.split(r"[\s;<>=!~\[(]", requirement, maxsplit=1)[0]))
    found[key(dist.metadata["Name"])] = {"bytes": size, "requires": needs}
print(json.dumps(found))
"""


def build_wheel(out: Path) -> Path:
    """The plaudit-sdk wheel, built by pip from clients/python."""
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check",
         "--no-deps", "--wheel-dir", str(out), str(SDK)],
        check=True,
    )  # fmt: skip
    return next(out.glob("plaudit_sdk-*.whl"))


def install_alone(workdir: Path) -> Path:
    """A fresh venv holding plaudit-sdk and its dependencies only; answers its python."""
    wheel = build_wheel(workdir / "wheel")
    venv = workdir / "sdk-venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(wheel)],
        check=True,
    )
    return python


def distribution_sizes(python: Path) -> dict[str, dict[str, Any]]:
    """{name: {"bytes", "requires"}} of every distribution in `python`'s environment."""
    answer = subprocess.run([str(python), "-c", _SIZES], capture_output=True, text=True, check=True)
    sizes: dict[str, dict[str, Any]] = json.loads(answer.stdout)
    return sizes


def opentelemetry_share(sizes: dict[str, dict[str, Any]]) -> set[str]:
    """The opentelemetry-* distributions and everything they require, transitively."""
    share = {name for name in sizes if name.startswith("opentelemetry")}
    todo = list(share)
    while todo:
        for needed in sizes[todo.pop()]["requires"]:
            if needed in sizes and needed not in share:
                share.add(needed)
                todo.append(needed)
    return share


def measure(python: Path) -> dict[str, Any]:
    """Beyond-OpenTelemetry MB, OpenTelemetry's MB, and each of ours."""
    sizes = {k: v for k, v in distribution_sizes(python).items() if k not in TOOLING}
    otel = opentelemetry_share(sizes)
    ours = {k: round(v["bytes"] / MB, 2) for k, v in sizes.items() if k not in otel}
    return {
        "beyond_opentelemetry_mb": round(sum(ours.values()), 1),
        "opentelemetry_mb": round(sum(sizes[k]["bytes"] for k in otel) / MB, 1),
        "target_mb": TARGET_MB,
        "ours": dict(sorted(ours.items(), key=lambda item: -item[1])),
        "opentelemetry": sorted(otel),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="JSON on stdout")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="plaudit-sdk-size-") as workdir:
        print("building the wheel and installing it into a fresh venv…", file=sys.stderr)
        report = measure(install_alone(Path(workdir)))
    if options.json:
        print(json.dumps(report, indent=2))
        return
    print(f"plaudit-sdk installs {report['beyond_opentelemetry_mb']} MB beyond OpenTelemetry's "
          f"own {report['opentelemetry_mb']} MB (target ≤ {TARGET_MB:g} MB)")  # fmt: skip
    for name, size in report["ours"].items():
        print(f"  {name:<28} {size:>6.2f} MB")
    print(f"  OpenTelemetry's share: {', '.join(report['opentelemetry'])}")


if __name__ == "__main__":
    main()
