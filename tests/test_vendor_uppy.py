"""The committed Uppy bundle (static/vendor/uppy/) is the one the lockfile pins,
and runs under the portal's Content-Security-Policy."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "static" / "vendor" / "uppy"
ASSETS = ROOT / "assets" / "uppy"
BANNER = re.compile(r"^/\*! Bundled by assets/uppy \(make vendor-uppy\): (?P<packages>[^;]+); ")


def _banner_versions(path: Path) -> dict[str, str]:
    first_line = path.read_text(encoding="utf-8").split("\n", 1)[0]
    match = BANNER.match(first_line)
    assert match, f"{path.name} does not start with the build's banner (run make vendor-uppy)"
    return dict(entry.rsplit("@", 1) for entry in match["packages"].split())


def _locked_versions() -> dict[str, str]:
    lock = json.loads((ASSETS / "package-lock.json").read_text(encoding="utf-8"))
    return {path.removeprefix("node_modules/"): entry["version"]
            for path, entry in lock["packages"].items()
            if path.startswith("node_modules/") and "/node_modules/" not in path[1:]}


@pytest.mark.parametrize("name", ["uppy.min.js", "uppy.min.css"])
def test_bundle_banner_names_the_versions_the_lockfile_pins(name):
    locked = _locked_versions()
    bundled = _banner_versions(VENDOR / name)
    stale = {package: (version, locked.get(package)) for package, version in bundled.items()
             if locked.get(package) != version}
    assert not stale, f"{name} was built from other versions than package-lock.json pins " \
                      f"(bundled, locked): {stale}; run make vendor-uppy"


def test_bundle_holds_each_direct_dependency_at_its_pinned_version():
    manifest = json.loads((ASSETS / "package.json").read_text(encoding="utf-8"))
    locked = _locked_versions()
    bundled = _banner_versions(VENDOR / "uppy.min.js")
    for package, pinned in {**manifest["dependencies"], **manifest["devDependencies"]}.items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", pinned), f"{package} is not pinned exactly: {pinned}"
        assert locked[package] == pinned, f"package-lock.json is out of step for {package}"
    for package, pinned in manifest["dependencies"].items():
        assert bundled.get(package) == pinned, f"{package} {pinned} is not in the bundle"


def test_bundle_needs_no_eval_under_script_src_self():
    script = (VENDOR / "uppy.min.js").read_text(encoding="utf-8")
    assert "eval(" not in script
    assert "new Function" not in script
    # The one Function() call left is lodash's global lookup, reached only where
    # neither `global` nor `self` exists (never in a browser).
    calls = [script[max(0, m.start() - 2):m.end() + 16]
             for m in re.finditer(r"(?<![\w$.])Function\(", script)]
    assert all(call == '||Function("return this")()' for call in calls), calls


def test_stylesheet_loads_images_from_the_portal_only():
    css = (VENDOR / "uppy.min.css").read_text(encoding="utf-8")
    assert "data:" not in css  # default-src 'self' refuses data: images
    urls = set(re.findall(r"url\(([^)]*)\)", css))
    assert urls and all(re.fullmatch(r"uppy-[0-9a-f]{12}\.svg", url) for url in urls), urls
    assert all((VENDOR / url).is_file() for url in urls)


def test_licences_cover_every_bundled_package():
    licences = (VENDOR / "LICENSES.txt").read_text(encoding="utf-8")
    bundled = {**_banner_versions(VENDOR / "uppy.min.js"),
               **_banner_versions(VENDOR / "uppy.min.css")}
    for package, version in bundled.items():
        assert re.search(rf"^{re.escape(package)} {re.escape(version)} \(", licences, re.M), package
