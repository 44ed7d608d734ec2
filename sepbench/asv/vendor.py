"""Make ``asv publish`` HTML work offline: replace its CDN scripts and styles by local copies.

ASV's pages load jQuery, flot, Bootstrap and friends from CDNs, so on a machine without internet
(an air-gapped benchmark box, this project's CI) they render nothing.  :func:`vendor` fetches the
same packages from the npm registry (``npm pack``, cached under ``<cache>/asv-vendor``), copies the
files into ``<html>/vendor/`` and rewrites the pages to use them.  Where the page pins a file
with a Subresource Integrity hash and the npm file has the same bytes, the hash is checked and kept;
where npm only has another build of the same library (flot ships no ``.min.js``; stupidtable
1.0.1 is not on npm, 1.1.3 is), the hash is dropped and the substitution is recorded in
``vendor/MANIFEST.json`` with each file's sha256.

Usage: ``python -m sepbench.asv.vendor .asv/html`` (``nox -s publish -- --offline``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from sepbench.util.atomic import atomic_write_text
from sepbench.util.paths import cache_dir

# URL prefix on the page -> (npm package@version, path inside the package, exact build?)
VENDORED: dict[str, tuple[str, str, bool]] = {
    "https://code.jquery.com/jquery-3.3.1.min.js": ("jquery@3.3.1", "dist/jquery.min.js", True),
    "https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.min.js": ("flot@0.8.3", "jquery.flot.js", False),
    "https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.time.min.js": ("flot@0.8.3", "jquery.flot.time.js", False),
    "https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.selection.min.js": ("flot@0.8.3", "jquery.flot.selection.js", False),
    "https://cdnjs.cloudflare.com/ajax/libs/flot/0.8.3/jquery.flot.categories.min.js": ("flot@0.8.3", "jquery.flot.categories.js", False),
    "https://cdn.jsdelivr.net/npm/flot-orderbars@1.0.0/js/jquery.flot.orderBars.js": (
        "flot-orderbars@1.0.0",
        "js/jquery.flot.orderBars.js",
        True,
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/stupidtable/1.0.1/stupidtable.min.js": (
        "stupid-table-plugin@1.1.3",
        "stupidtable.min.js",
        False,
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/blueimp-md5/2.19.0/js/md5.min.js": ("blueimp-md5@2.19.0", "js/md5.min.js", True),
    "https://cdn.jsdelivr.net/npm/bootstrap@3.1.1/dist/js/bootstrap.min.js": ("bootstrap@3.1.1", "dist/js/bootstrap.min.js", True),
    "https://cdn.jsdelivr.net/npm/bootstrap@3.1.1/dist/css/bootstrap.min.css": ("bootstrap@3.1.1", "dist/css/bootstrap.min.css", True),
}
_TAG = re.compile(r"<(script|link)\b[^>]*?(?:src|href)=\"(https://[^\"]+)\"[^>]*>", re.S)


class VendorError(RuntimeError):
    """A package could not be fetched, or a file does not match the page's integrity hash."""


def _package_dir(spec: str, store: Path) -> Path:
    """The unpacked npm package ``name@version`` (fetched once with ``npm pack``)."""
    target = store / spec.replace("/", "_")
    if (target / "package.json").is_file():
        return target
    npm = shutil.which("npm")
    if npm is None:
        raise VendorError(f"cannot fetch {spec}: npm is not installed (needed once to make the published HTML work offline)")
    with tempfile.TemporaryDirectory() as tmp:
        proc = subprocess.run([npm, "pack", "--silent", "--pack-destination", tmp, spec], capture_output=True, text=True, timeout=300)
        tarballs = list(Path(tmp).glob("*.tgz"))
        if proc.returncode != 0 or not tarballs:
            raise VendorError(f"npm pack {spec} failed: {proc.stderr.strip()[-500:]}")
        partial = store / (target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        with tarfile.open(tarballs[0]) as tar:
            tar.extractall(partial, filter="data")
        shutil.rmtree(target, ignore_errors=True)
        (partial / "package").rename(target)
        shutil.rmtree(partial, ignore_errors=True)
    return target


def _sri_ok(data: bytes, integrity: str) -> bool:
    for token in integrity.split():
        algo, _, want = token.partition("-")
        if algo in ("sha256", "sha384", "sha512") and base64.b64encode(hashlib.new(algo, data).digest()).decode() == want:
            return True
    return False


def vendor(html_dir: str | Path, store: Path | None = None) -> dict[str, dict]:
    """Rewrite every ``*.html`` under ``html_dir`` to local copies in ``vendor/``; returns the manifest."""
    html_dir = Path(html_dir)
    pages = sorted(html_dir.glob("*.html"))
    if not (html_dir / "index.html").is_file():
        raise VendorError(f"{html_dir}: no index.html (run `asv publish` first)")
    store = store or cache_dir() / "asv-vendor"
    store.mkdir(parents=True, exist_ok=True)
    out = html_dir / "vendor"
    out.mkdir(exist_ok=True)
    manifest: dict[str, dict] = {}
    for page in pages:
        text = page.read_text()

        def replace(match: re.Match, page: Path = page) -> str:  # bound now: called within this iteration only
            tag, url = match.group(0), match.group(2)
            if url not in VENDORED:
                if url.startswith("https://") and match.group(1) == "script":
                    raise VendorError(f"{page.name}: unknown CDN script {url}; add it to sepbench.asv.vendor.VENDORED")
                return tag
            spec, rel, exact = VENDORED[url]
            data = (_package_dir(spec, store) / rel).read_bytes()
            integrity = re.search(r'integrity="([^"]+)"', tag)
            if exact and integrity and not _sri_ok(data, integrity.group(1)):
                raise VendorError(f"{spec}/{rel} does not match the integrity hash the page pins for {url}")
            name = f"{spec.replace('@', '-')}-{Path(rel).name}"
            (out / name).write_bytes(data)
            manifest[name] = {
                "replaces": url,
                "npm": spec,
                "file": rel,
                "sha256": hashlib.sha256(data).hexdigest(),
                "integrity_checked": bool(exact and integrity),
            }
            tag = tag.replace(url, f"vendor/{name}")
            if not exact:
                tag = re.sub(r'\s+integrity="[^"]*"', "", tag)
            return tag

        new = _TAG.sub(replace, text)
        if new != text:
            atomic_write_text(page, new)
    atomic_write_text(out / "MANIFEST.json", json.dumps(manifest, indent=2, sort_keys=True))
    return manifest


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    html_dir = Path(args[0]) if args else Path(".asv/html")
    try:
        manifest = vendor(html_dir)
    except (VendorError, OSError) as exc:
        print(f"asv_vendor: error: {exc}", file=sys.stderr)
        return 2
    checked = sum(1 for m in manifest.values() if m["integrity_checked"])
    print(
        f"{html_dir}: {len(manifest)} CDN files replaced by local copies in vendor/ ({checked} checked against the page's integrity hashes)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
