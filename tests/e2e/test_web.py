"""The web module (docs/web.md) against the real binary: `quipu node` with
{"web": {"root": ...}} serves the files of that directory at
GET /web/{app}/{file} and the apps at their roots (/wallet/, /shop/,
/console/, /common/, one directory deep) and the JS client at /clients/js/,
without a key, typed by extension, with the security and cache headers and
304 on a matching If-None-Match, and nothing else; a bad root or an unknown
key stops the node at start, naming the key.
Raw requests (http.client): requests would normalise "/../" away."""
import http.client
import json
import os
import subprocess

import pytest

from conftest import QUIPU
from webauthn_util import Node


def web_node(home, web):
    n = Node(home)
    with open(os.path.join(home, "node.json"), "w") as f:
        json.dump({"listen": "127.0.0.1:0", "modules": {"ledger": {}, "web": web}}, f)
    return n


@pytest.fixture
def site(tmp_dir):
    root = os.path.join(tmp_dir, "site")
    os.makedirs(os.path.join(root, "app"))
    files = {"index.html": "<h1>hi</h1>", "app.js": "export const x = 1;\n",
             "data.json": "{\"a\": 1}", "notes.md": "# not served"}
    for name, text in files.items():
        with open(os.path.join(root, "app", name), "w") as f:
            f.write(text)
    with open(os.path.join(tmp_dir, "secret.txt"), "w") as f:
        f.write("secret")
    os.symlink(os.path.join(tmp_dir, "secret.txt"), os.path.join(root, "app", "link.txt"))
    os.makedirs(os.path.join(root, "wallet", "icons"))
    os.makedirs(os.path.join(root, "shop"))
    os.makedirs(os.path.join(tmp_dir, "clients", "js"))
    apps = {"wallet/index.html": "<h1>wallet</h1>", "wallet/sw.js": "self.x = 1;",
            "wallet/manifest.webmanifest": "{\"name\": \"w\"}",
            "wallet/icons/icon.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00" + bytes(range(256)),
            "wallet/icons/big.png": b"\x00" * (4 * 1024 * 1024 + 1),
            "wallet/icons/ok-big.png": b"\x00" * (2 * 1024 * 1024),
            "shop/index.html": "<h1>shop</h1>", "../clients/js/quipu.mjs": "export {};"}
    for name, data in apps.items():
        with open(os.path.join(root, name), "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
    os.symlink(tmp_dir, os.path.join(root, "wallet", "up"))
    n = web_node(os.path.join(tmp_dir, "home"), {"root": root}).start()
    yield n, files
    n.stop()


def raw(node, path, method="GET", headers=None):
    c = http.client.HTTPConnection("127.0.0.1", node.port, timeout=10)
    c.request(method, path, headers=headers or {})
    r = c.getresponse()
    body = r.read()
    c.close()
    return r, body


def get(node, path, method="GET"):
    r, body = raw(node, path, method)
    return r.status, r.getheader("Content-Type"), body.decode()


CSP = ("default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; "
       "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


def test_apps_at_their_roots(site):
    node = site[0]
    assert get(node, "/wallet/") == (200, "text/html; charset=utf-8", "<h1>wallet</h1>")
    assert get(node, "/shop/") == (200, "text/html; charset=utf-8", "<h1>shop</h1>")
    assert get(node, "/wallet/sw.js") == (200, "text/javascript; charset=utf-8", "self.x = 1;")
    assert get(node, "/wallet/manifest.webmanifest") == (
        200, "application/manifest+json", "{\"name\": \"w\"}")
    assert get(node, "/clients/js/quipu.mjs") == (
        200, "text/javascript; charset=utf-8", "export {};")
    r, body = raw(node, "/wallet")
    assert r.status == 308 and r.getheader("Location") == "/wallet/"
    r, body = raw(node, "/wallet/icons/icon.png")
    assert r.status == 200 and r.getheader("Content-Type") == "image/png"
    assert body == b"\x89PNG\r\n\x1a\n\x00\x00\x00" + bytes(range(256))
    r, body = raw(node, "/wallet/icons/ok-big.png")
    assert r.status == 200 and len(body) == 2 * 1024 * 1024


def test_security_and_cache_headers_and_304(site):
    node = site[0]
    for path in ["/wallet/", "/web/app/app.js", "/wallet/icons/icon.png", "/wallet/nope.js"]:
        r, _ = raw(node, path)
        assert r.getheader("Content-Security-Policy") == CSP, path
        assert r.getheader("X-Content-Type-Options") == "nosniff"
        assert r.getheader("Referrer-Policy") == "no-referrer"
        assert r.getheader("Cache-Control") == "no-cache"
    r, _ = raw(node, "/wallet/")
    etag = r.getheader("ETag")
    assert etag and etag.startswith('"') and etag.endswith('"')
    r, body = raw(node, "/wallet/", headers={"If-None-Match": etag})
    assert r.status == 304 and body == b""
    r, body = raw(node, "/wallet/", headers={"If-None-Match": '"other", ' + etag})
    assert r.status == 304
    r, body = raw(node, "/wallet/", headers={"If-None-Match": '"other"'})
    assert r.status == 200 and body == b"<h1>wallet</h1>"
    path = os.path.join(node.home, "..", "site", "wallet", "index.html")
    with open(path, "w") as f:
        f.write("<h1>wallet 2</h1>")
    r, body = raw(node, "/wallet/", headers={"If-None-Match": etag})
    assert r.status == 200 and body == b"<h1>wallet 2</h1>" and r.getheader("ETag") != etag


@pytest.mark.parametrize("path", [
    "/wallet/up/secret.txt", "/wallet/icons/big.png", "/wallet/../secret.txt",
    "/wallet/icons/../../secret.txt", "/wallet/a/b/c.js", "/console/", "/nope/",
    "/clients/js/../../secret.txt", "/clients/js/missing.mjs", "/wallet/.sw.js",
    "/wallet/%2e%2e/secret.txt",
])
def test_apps_refuse_the_rest(site, path):
    status, _, body = get(site[0], path)
    assert status == 404, path
    assert "secret" not in body


def test_serves_the_files_with_their_type_without_a_key(site):
    node, files = site
    for name, ctype in [("index.html", "text/html; charset=utf-8"),
                        ("app.js", "text/javascript; charset=utf-8"),
                        ("data.json", "application/json")]:
        assert get(node, "/web/app/" + name) == (200, ctype, files[name])


@pytest.mark.parametrize("path", [
    "/web/app/notes.md", "/web/app/link.txt", "/web/app/missing.html", "/web/app/../secret.txt",
    "/web/../secret.txt", "/web/app/..%2f..%2fsecret.txt", "/web/app/.index.html",
    "/web/app/%2e%2e", "/web/app", "/web/app/", "/web/nope/index.html",
])
def test_nothing_else(site, path):
    status, _, body = get(site[0], path)
    assert status == 404 and json.loads(body)["error"]["code"] == "not_found", path
    assert "secret" not in body


def test_get_only(site):
    assert get(site[0], "/web/app/index.html", "DELETE")[0] == 405


def test_openapi_lists_the_route(site):
    doc = site[0].call("GET", "/v1/openapi.json").json()
    for path in ["/web/{app}/{file}", "/{app}/", "/{app}/{file}", "/{app}/{dir}/{file}",
                 "/clients/js/{file}"]:
        assert doc["paths"][path]["get"]["security"] == []


@pytest.mark.parametrize("web,message", [
    ({}, "modules.web.root"),  # the default, <home>/web, does not exist
    ({"root": "/nonexistent/dir"}, "modules.web.root /nonexistent/dir is not a directory"),
    ({"root": 3}, "modules.web.root must be a non-empty string"),
    ({"dir": "x"}, "unknown key modules.web.dir"),
    ({"root": "/tmp", "clients": "/nonexistent/js"},
     "modules.web.clients /nonexistent/js is not a directory"),
])
def test_bad_settings_stop_the_node(tmp_dir, web, message):
    home = os.path.join(tmp_dir, "home")
    web_node(home, web)
    r = subprocess.run([QUIPU, "node", "--home", home], capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert message in r.stdout + r.stderr
