"""The web module (docs/web.md) against the real binary: `quipu node` with
{"web": {"root": ...}} serves the files of that directory at
GET /web/{app}/{file} without a key, typed by extension, and nothing else;
a bad root or an unknown key stops the node at start, naming the key.
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
    n = web_node(os.path.join(tmp_dir, "home"), {"root": root}).start()
    yield n, files
    n.stop()


def get(node, path, method="GET"):
    c = http.client.HTTPConnection("127.0.0.1", node.port, timeout=10)
    c.request(method, path)
    r = c.getresponse()
    body = r.read().decode()
    c.close()
    return r.status, r.getheader("Content-Type"), body


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
    assert doc["paths"]["/web/{app}/{file}"]["get"]["security"] == []


@pytest.mark.parametrize("web,message", [
    ({}, "modules.web.root"),  # the default, <home>/web, does not exist
    ({"root": "/nonexistent/dir"}, "modules.web.root /nonexistent/dir is not a directory"),
    ({"root": 3}, "modules.web.root must be a non-empty string"),
    ({"dir": "x"}, "unknown key modules.web.dir"),
])
def test_bad_settings_stop_the_node(tmp_dir, web, message):
    home = os.path.join(tmp_dir, "home")
    web_node(home, web)
    r = subprocess.run([QUIPU, "node", "--home", home], capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert message in r.stdout + r.stderr
