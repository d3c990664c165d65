"""The browser client's own tests, its size budget, and the copy the server ships."""

import gzip
import json
import shutil
import subprocess
import tarfile
from pathlib import Path

import httpx
import pytest

from tests.browser.conftest import Demo
from tests.conftest import repo_root

CLIENT = repo_root() / "clients" / "js"
SHIPPED = repo_root() / "src" / "plaudit" / "server" / "static" / "plaudit-feedback.js"
BUDGET_BYTES = 5 * 1024


@pytest.fixture(scope="module")
def built() -> Path:
    """`npm test` (which builds first) passed; answers the fresh bundle."""
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is needed to build and test clients/js")
    if not (CLIENT / "node_modules").is_dir():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=CLIENT, check=True)
    result = subprocess.run([npm, "test"], cwd=CLIENT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return CLIENT / "dist" / "plaudit-feedback.js"


def test_the_bundle_fits_the_size_budget(built: Path) -> None:
    size = len(gzip.compress(built.read_bytes(), compresslevel=9))
    assert size <= BUDGET_BYTES, f"{size} bytes gzipped; the budget is {BUDGET_BYTES}"


def test_the_shipped_copy_is_the_fresh_build(built: Path) -> None:
    assert SHIPPED.read_bytes() == built.read_bytes(), (
        "src/plaudit/server/static/plaudit-feedback.js is stale: "
        "in clients/js run `npm run build`, then copy dist/plaudit-feedback.js (and index.d.ts "
        "as plaudit-feedback.d.ts) into src/plaudit/server/static/"
    )
    declarations = SHIPPED.with_name("plaudit-feedback.d.ts").read_bytes()
    assert declarations == (CLIENT / "dist" / "index.d.ts").read_bytes()


def test_the_server_serves_the_client_with_cache_headers(demo: Demo) -> None:
    url = f"{demo.url}/sdk/plaudit-feedback.js"
    answer = httpx.get(url)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/javascript")
    assert "max-age=" in answer.headers["cache-control"]
    assert answer.content == SHIPPED.read_bytes()
    again = httpx.get(url, headers={"if-none-match": answer.headers["etag"]})
    assert again.status_code == 304
    assert again.content == b""


def test_npm_pack_holds_the_bundle_and_its_types_only(built: Path, tmp_path: Path) -> None:
    """What `npm publish` would upload: the ES module, its declarations, and npm's own files."""
    npm = shutil.which("npm")
    assert npm is not None
    result = subprocess.run(
        [npm, "pack", "--json", "--pack-destination", str(tmp_path)],
        cwd=CLIENT, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    packed = json.loads(result.stdout)[0]
    files = sorted(f["path"] for f in packed["files"])
    assert files == ["README.md", "dist/index.d.ts", "dist/plaudit-feedback.js", "package.json"]
    tarball = tmp_path / packed["filename"]
    with tarfile.open(tarball) as archive:
        manifest = json.load(archive.extractfile("package/package.json"))  # type: ignore[arg-type]
    assert manifest["type"] == "module"
    assert manifest["exports"]["."] == {
        "types": "./dist/index.d.ts",
        "import": "./dist/plaudit-feedback.js",
    }
    assert "dependencies" not in manifest
    print(f"\n{packed['filename']}: {tarball.stat().st_size} bytes packed, "
          f"{packed['unpackedSize']} unpacked")  # fmt: skip
