"""The MNIST loader on the real files, on corrupted copies, and through its search order."""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from sepbench.core import data
from sepbench.core.data import FILES, MnistChecksumError, MnistNotFoundError, download_mnist, find_mnist_dir, load_mnist


def test_real_files_load_with_expected_shapes(mnist_dir):
    x_train, y_train = load_mnist("train", mnist_dir)
    x_test, y_test = load_mnist("test", mnist_dir)
    assert x_train.shape == (60_000, 28, 28, 1) and y_train.shape == (60_000,)
    assert x_test.shape == (10_000, 28, 28, 1) and y_test.shape == (10_000,)
    assert x_train.dtype == np.float32 and y_train.dtype == np.int64
    assert 0.0 == x_test.min() and x_test.max() == 1.0
    # label histograms: every digit present, none more than 12% or less than 8% of the split
    for y in (y_train, y_test):
        share = np.bincount(y, minlength=10) / len(y)
        assert share.min() > 0.08 and share.max() < 0.12
    assert np.bincount(y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_limit_gives_a_prefix(mnist_dir):
    x, y = load_mnist("test", mnist_dir, limit=50)
    x_all, y_all = load_mnist("test", mnist_dir)
    assert x.shape == (50, 28, 28, 1)
    np.testing.assert_array_equal(x, x_all[:50])
    np.testing.assert_array_equal(y, y_all[:50])
    with pytest.raises(ValueError, match="limit"):
        load_mnist("test", mnist_dir, limit=0)


def test_unknown_split(mnist_dir):
    with pytest.raises(ValueError, match="unknown MNIST split 'val'"):
        load_mnist("val", mnist_dir)  # type: ignore[arg-type]


@pytest.fixture
def mnist_copy(mnist_dir, tmp_path) -> Path:
    copy = tmp_path / "mnist"
    copy.mkdir()
    for f in FILES.values():
        shutil.copy(mnist_dir / f.name, copy / f.name)
    return copy


def test_flipped_byte_names_file_and_checksums(mnist_copy):
    path = mnist_copy / FILES[("test", "images")].name
    raw = bytearray(path.read_bytes())
    raw[1000] ^= 0xFF
    path.write_bytes(bytes(raw))
    with pytest.raises(MnistChecksumError) as info:
        load_mnist("test", mnist_copy)
    msg = str(info.value)
    assert path.name in msg and FILES[("test", "images")].md5 in msg and data.md5_of(path) in msg


def test_truncated_file_is_called_truncated(mnist_copy):
    path = mnist_copy / FILES[("train", "labels")].name
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(MnistChecksumError, match="truncated"):
        load_mnist("train", mnist_copy)


def test_wrong_file_in_place(mnist_copy):
    # the test labels where the train labels should be
    shutil.copy(mnist_copy / FILES[("test", "labels")].name, mnist_copy / FILES[("train", "labels")].name)
    with pytest.raises(MnistChecksumError, match=FILES[("train", "labels")].md5):
        load_mnist("train", mnist_copy)


def test_missing_directory_offline_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    monkeypatch.setenv("SEPBENCH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SEPBENCH_OFFLINE", "1")
    with pytest.raises(MnistNotFoundError) as info:
        find_mnist_dir()
    msg = str(info.value)
    assert "SEPBENCH_MNIST_DIR" in msg and str(tmp_path / "cache" / "mnist") in msg and "--download" in msg
    assert "SEPBENCH_OFFLINE=1" in msg
    assert not (tmp_path / "cache" / "mnist").exists()  # nothing was fetched


def test_not_found_downloads_by_default_from_the_configured_mirrors(local_mirror, tmp_path, monkeypatch):
    """As keras.datasets.mnist.load_data: a user with a network gets the data without asking."""
    _, url = local_mirror
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    monkeypatch.delenv("SEPBENCH_OFFLINE", raising=False)
    monkeypatch.setenv("SEPBENCH_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("SEPBENCH_MNIST_MIRRORS", f"http://127.0.0.1:9/, {url}")
    x, y = load_mnist("test")
    assert x.shape == (10_000, 28, 28, 1) and np.bincount(y)[1] == 1135
    assert find_mnist_dir() == tmp_path / "cache" / "mnist"


def test_an_explicit_directory_without_the_files_never_downloads(local_mirror, tmp_path, monkeypatch):
    _, url = local_mirror
    monkeypatch.setenv("SEPBENCH_MNIST_MIRRORS", url)
    monkeypatch.setenv("SEPBENCH_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(MnistNotFoundError, match="data_dir argument"):
        find_mnist_dir(tmp_path / "empty")
    assert not (tmp_path / "cache").exists()


def test_bad_mirror_setting_is_named(monkeypatch):
    monkeypatch.setenv("SEPBENCH_MNIST_MIRRORS", "ftp://example.org/mnist")
    with pytest.raises(data.MnistError, match="SEPBENCH_MNIST_MIRRORS: not a URL: ftp://example.org/mnist/"):
        data.mirror_urls()


def test_search_order(mnist_copy, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("SEPBENCH_CACHE_DIR", str(cache))
    # env var beats cache
    monkeypatch.setenv(data.ENV_VAR, str(mnist_copy))
    assert find_mnist_dir() == mnist_copy
    # explicit beats env var; a bad explicit dir is an error, not a silent fallback
    with pytest.raises(MnistNotFoundError, match="data_dir argument"):
        find_mnist_dir(tmp_path / "nowhere")
    # a bad env var is an error too
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path / "empty"))
    with pytest.raises(MnistNotFoundError, match="SEPBENCH_MNIST_DIR"):
        find_mnist_dir()
    # the cache is used when nothing is given
    monkeypatch.delenv(data.ENV_VAR)
    shutil.copytree(mnist_copy, cache / "mnist")
    assert find_mnist_dir() == cache / "mnist"


@pytest.fixture
def local_mirror(mnist_copy):
    """A real HTTP server on loopback serving a directory (no internet needed)."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(mnist_copy))
    handler.log_message = lambda *a, **k: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield mnist_copy, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def test_download_verifies_and_falls_back_to_next_mirror(local_mirror, tmp_path):
    served, url = local_mirror
    bad = tmp_path / "bad-mirror"
    bad.mkdir()
    target = tmp_path / "dl"
    # first mirror is unreachable, second serves the real files
    out = download_mnist(target, mirrors=("http://127.0.0.1:9/", url), timeout=5)
    assert out == target
    x, y = load_mnist("test", target)
    assert x.shape == (10_000, 28, 28, 1)


def test_download_rejects_a_corrupt_mirror(local_mirror, tmp_path):
    served, url = local_mirror
    path = served / FILES[("test", "labels")].name
    path.write_bytes(path.read_bytes()[:-10])
    target = tmp_path / "dl"
    with pytest.raises(MnistNotFoundError, match="wrong checksum"):
        download_mnist(target, mirrors=(url,), timeout=5)
    assert not (target / FILES[("test", "labels")].name).exists()  # nothing half-written or wrong is kept
    assert not [p for p in target.iterdir() if p.name.startswith(".")]


def _serve(handler_cls) -> tuple[http.server.ThreadingHTTPServer, str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler_cls)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


class _Stall(http.server.BaseHTTPRequestHandler):
    """Answers the headers, then never sends a byte of the body."""

    def do_GET(self):  # noqa: N802 - http.server's name
        self.send_response(200)
        self.send_header("Content-Length", "9912422")
        self.end_headers()
        threading.Event().wait(30)

    def log_message(self, *args):
        pass


def test_every_mirror_failing_is_one_message_naming_each_url_and_what_to_do(local_mirror, tmp_path):
    """A 404, a stalled connection (timed out) and a refused one, then nothing left to try."""
    served, _ = local_mirror
    empty = tmp_path / "empty-mirror"
    empty.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(empty))
    handler.log_message = lambda *a, **k: None  # type: ignore[method-assign]
    missing, missing_url = _serve(handler)
    stall, stall_url = _serve(_Stall)
    try:
        with pytest.raises(MnistNotFoundError) as info:
            download_mnist(tmp_path / "dl", mirrors=(missing_url, stall_url, "http://127.0.0.1:9/"), timeout=1.0)
    finally:
        missing.shutdown()
        stall.shutdown()
    msg = str(info.value)
    name = FILES[("train", "images")].name
    assert f"{missing_url}{name}" in msg and "404" in msg
    assert f"{stall_url}{name}" in msg and "timed out" in msg.lower()
    assert f"http://127.0.0.1:9/{name}" in msg
    assert "SEPBENCH_MNIST_DIR" in msg and "SEPBENCH_MNIST_MIRRORS" in msg
    assert not [p for p in (tmp_path / "dl").iterdir()]  # nothing partial kept


def test_swapped_files_are_named_for_what_they_are(mnist_copy):
    test_labels, train_labels = FILES[("test", "labels")].name, FILES[("train", "labels")].name
    (mnist_copy / test_labels).write_bytes((mnist_copy / train_labels).read_bytes())
    with pytest.raises(MnistChecksumError, match=f"it is the canonical {train_labels}"):
        load_mnist("test", mnist_copy)


class _Hostile(http.server.BaseHTTPRequestHandler):
    """Answers 200 with ``headers``, then writes the blocks ``body()`` yields until the client hangs up."""

    headers_sent: dict[str, str] = {}

    def body(self):
        return iter(())

    def do_GET(self):  # noqa: N802 - http.server's name
        self.send_response(200)
        for key, value in self.headers_sent.items():
            self.send_header(key, value)
        self.end_headers()
        try:
            for block in self.body():
                self.wfile.write(block)
                self.wfile.flush()
        except OSError:  # the client stopped reading
            pass

    def log_message(self, *args):
        pass


class _Endless(_Hostile):
    """A body without end and without a Content-Length (it would fill the disk)."""

    def body(self):
        while True:
            yield b"\0" * 65536


class _Trickle(_Hostile):
    """One byte every 0.2 s: never a read timeout, never done."""

    def body(self):
        for _ in range(600):
            yield b"\0"
            time.sleep(0.2)


class _Announces(_Hostile):
    """Announces a terabyte."""

    headers_sent = {"Content-Length": str(2**40)}


@pytest.mark.parametrize(
    "handler, expected",
    [
        (_Endless, "more than the 4,542 bytes expected"),
        (_Trickle, "not finished in 2 s"),
        (_Announces, "announces 1,099,511,627,776 bytes"),
    ],
)
def test_a_mirror_is_read_within_a_size_and_a_time_limit(handler, expected, tmp_path, mnist_dir):
    """Only the test labels are fetched (the first files pass, from the real folder): each limit stops
    the download with the URL and the limit named, and nothing is kept."""
    server, url = _serve(handler)
    target = tmp_path / "dl"
    target.mkdir()
    for key in (("train", "images"), ("train", "labels"), ("test", "images")):
        shutil.copy(mnist_dir / FILES[key].name, target)
    start = time.monotonic()
    try:
        with pytest.raises(MnistNotFoundError) as info:
            download_mnist(target, mirrors=(url,), timeout=5, deadline=2)
    finally:
        server.shutdown()
    assert expected in str(info.value) and f"{url}{FILES[('test', 'labels')].name}" in str(info.value)
    assert time.monotonic() - start < 10
    assert sorted(p.name for p in target.iterdir()) == sorted(
        FILES[k].name for k in (("train", "images"), ("train", "labels"), ("test", "images"))
    )


def test_default_mirrors_are_https_and_file_urls_are_refused_clearly(monkeypatch):
    assert data.MIRRORS and all(u.startswith("https://") for u in data.MIRRORS)
    monkeypatch.setenv("SEPBENCH_MNIST_MIRRORS", "file:///srv/mnist")
    with pytest.raises(data.MnistError, match="a folder, not a mirror: point SEPBENCH_MNIST_DIR at"):
        data.mirror_urls()


def test_the_sha256_sums_are_those_of_the_canonical_files(mnist_dir):
    """The SHA-256 sums in the code are the published ones; the files in the data folder have them."""
    for f in FILES.values():
        assert data.digests_of(mnist_dir / f.name) == (f.md5, f.sha256)


def test_a_file_with_the_canonical_md5_but_another_sha256_is_refused(mnist_copy, monkeypatch):
    """What an md5 collision would look like: the SHA-256 decides."""
    f = FILES[("test", "labels")]
    forged = data.MnistFile(f.name, f.md5, "0" * 64, f.size, f.count)
    with pytest.raises(MnistChecksumError, match="canonical md5 but not the canonical SHA-256"):
        data.verify_file(mnist_copy / f.name, forged)


@pytest.mark.parametrize(
    "value, off",
    [*((v, True) for v in ("1", "true", "TRUE", "yes", "on", " On ")), *((v, False) for v in ("", "0", "false", "no", "off", "OFF"))],
)
def test_offline_reads_every_yes_and_no(value, off, monkeypatch):
    monkeypatch.setenv("SEPBENCH_OFFLINE", value)
    assert data.offline() is off


def test_offline_refuses_a_value_that_is_neither(monkeypatch):
    monkeypatch.setenv("SEPBENCH_OFFLINE", "maybe")
    with pytest.raises(data.MnistError, match=r"^SEPBENCH_OFFLINE='maybe': give 1 \(yes\) or 0 \(no\)"):
        data.offline()


def test_mirror_setting_is_split_and_each_url_ends_in_a_slash(monkeypatch):
    monkeypatch.delenv("SEPBENCH_MNIST_MIRRORS", raising=False)
    assert data.mirror_urls() == data.MIRRORS
    monkeypatch.setenv("SEPBENCH_MNIST_MIRRORS", " https://a.example/mnist, http://127.0.0.1:8000/m/  https://b.example/x/ ")
    assert data.mirror_urls() == ("https://a.example/mnist/", "http://127.0.0.1:8000/m/", "https://b.example/x/")
    monkeypatch.setenv("SEPBENCH_MNIST_MIRRORS", "ftp://x, gopher://y")
    with pytest.raises(data.MnistError, match=r"not a URL: ftp://x/, gopher://y/ \("):
        data.mirror_urls()


class _RedirectWithBody(http.server.BaseHTTPRequestHandler):
    """/x -> 302 to /real/x with a body that never ends (requests would read it all); /real/x: the file."""

    served: Path = Path()

    def do_GET(self):  # noqa: N802 - http.server's name
        try:
            if self.path.startswith("/real/"):
                body = (self.served / Path(self.path).name).read_bytes()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            if self.path.startswith("/bad/"):
                self.send_response(302)
                self.send_header("Location", "http://[::1")
                self.end_headers()
                return
            self.send_response(302)
            self.send_header("Location", "/real" + self.path)
            self.end_headers()
            while True:
                self.wfile.write(b"\0" * 65536)
        except OSError:
            pass

    def log_message(self, *args):
        pass


class _SlowHeaders(http.server.BaseHTTPRequestHandler):
    """A header line every 0.3 s, for ever: each read is quick, the response never starts."""

    def do_GET(self):  # noqa: N802 - http.server's name
        try:
            self.send_response_only(200)
            for i in range(1000):
                self.wfile.write(f"X-Slow-{i}: 1\\r\\n".encode())
                self.wfile.flush()
                time.sleep(0.3)
        except OSError:
            pass

    def log_message(self, *args):
        pass


def test_a_redirect_is_followed_without_reading_its_body_and_a_bad_one_is_that_mirrors_failure(mnist_dir, tmp_path):
    from sepbench.util.download import DownloadError, fetch

    handler = type("H", (_RedirectWithBody,), {"served": mnist_dir})
    server, url = _serve(handler)
    name = FILES[("test", "labels")].name
    try:
        n = fetch(url + name, tmp_path / "f", max_bytes=FILES[("test", "labels")].size, deadline_s=20, read_timeout_s=5)
        assert n == FILES[("test", "labels")].size and data.digests_of(tmp_path / "f")[0] == FILES[("test", "labels")].md5
        with pytest.raises(DownloadError, match=r"redirect to a bad URL|Invalid IPv6"):
            fetch(url + "bad/" + name, tmp_path / "g", max_bytes=10, deadline_s=5, read_timeout_s=5)
    finally:
        server.shutdown()


def test_the_deadline_covers_a_response_whose_headers_never_end(tmp_path):
    from sepbench.util.download import DownloadError, fetch

    server, url = _serve(_SlowHeaders)
    start = time.monotonic()
    try:
        with pytest.raises(DownloadError, match=r"no response in 1 s; stopped"):
            fetch(url + "x", tmp_path / "f", max_bytes=10, deadline_s=1, read_timeout_s=5)
    finally:
        server.shutdown()
    assert time.monotonic() - start < 8


def test_a_mirrors_credentials_never_reach_a_message(monkeypatch, tmp_path):
    """A mirror given with a user and password (or a token) is named in errors without them: the messages
    reach terminals and CI logs."""
    from sepbench.util.download import without_credentials

    assert without_credentials("https://u:s3cret@host:8/a and http://tok3n@h/b, https://plain/c") == (
        "https://***@host:8/a and http://***@h/b, https://plain/c"
    )
    monkeypatch.setenv("SEPBENCH_MNIST_MIRRORS", "ftp://user:s3cret@example.org/mnist")
    with pytest.raises(data.MnistError, match=r"not a URL: ftp://\*\*\*@example.org/mnist/") as bad:
        data.mirror_urls()
    assert "s3cret" not in str(bad.value)
    with pytest.raises(MnistNotFoundError) as refused:
        download_mnist(tmp_path / "dl", mirrors=("http://user:s3cret@127.0.0.1:9/",), timeout=1.0)
    assert "s3cret" not in str(refused.value) and "http://***@127.0.0.1:9/" in str(refused.value)
