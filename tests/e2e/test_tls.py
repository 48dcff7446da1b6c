"""HTTPS: `quipu serve --tls-cert --tls-key` (http.tls_cert / http.tls_key in
node.json) with a self-signed certificate for 127.0.0.1 made by the openssl
CLI; the client over https with --cacert and the key in QUIPU_KEY; plaintext
refused on a non-loopback address unless --insecure-plaintext; bad or
half-given TLS files refused at start with exit 1 and the file's name.
"""
import os
import shutil
import subprocess

import pytest
import requests

from conftest import QUIPU, Server, create_key

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI")


def make_cert(directory, name="server"):
    """A self-signed EC certificate for IP 127.0.0.1 and its key: (cert, key) paths."""
    cert = os.path.join(directory, name + "-cert.pem")
    key = os.path.join(directory, name + "-key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60)
    os.chmod(key, 0o600)
    return cert, key


def start_failure(data, *extra):
    """Starts the server (either runner) expecting it to refuse: (exit code, output)."""
    server = Server(data, *extra)
    out = subprocess.run(server.command(), capture_output=True, text=True, timeout=60)
    return out.returncode, out.stdout + out.stderr


@pytest.fixture
def tls(tmp_dir):
    """A running HTTPS server, its certificate and an admin key."""
    cert, key = make_cert(tmp_dir)
    data = os.path.join(tmp_dir, "data")
    admin = create_key(data, "admin", "admin")
    server = Server(data, "--tls-cert", cert, "--tls-key", key).start()
    yield server, cert, admin
    assert server.stop() == 0


def test_https_serves_and_logs_https(tls):
    server, cert, _ = tls
    assert server.scheme == "https"
    assert "listening on https://127.0.0.1:%d " % server.port in server.read_log()
    r = requests.get("https://127.0.0.1:%d/healthz" % server.port, verify=cert, timeout=10)
    assert r.status_code == 200, r.text
    # Unverified, the self-signed certificate is refused by the client.
    with pytest.raises(requests.exceptions.SSLError):
        requests.get("https://127.0.0.1:%d/healthz" % server.port, timeout=10)


def test_plain_http_to_the_tls_port_gets_no_200(tls):
    server, _, _ = tls
    try:
        r = requests.get("http://127.0.0.1:%d/healthz" % server.port, timeout=10)
    except requests.exceptions.RequestException:
        return  # the TLS handshake fails and the connection closes: what we want
    assert r.status_code != 200


def test_client_over_https_with_cacert_and_key_in_env(tls):
    server, cert, admin = tls
    url = "https://127.0.0.1:%d" % server.port
    env = dict(os.environ, QUIPU_KEY=admin)
    env.pop("QUIPU_CACERT", None)
    out = subprocess.run([QUIPU, "client", "--url", url, "--cacert", cert, "audit"],
                         capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stderr
    assert '"invariant_ok": true' in out.stdout
    # Without the certificate to trust, the client refuses the server.
    out = subprocess.run([QUIPU, "client", "--url", url, "audit"],
                         capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 1
    # QUIPU_CACERT does what --cacert does, for the load generator too.
    env["QUIPU_CACERT"] = cert
    out = subprocess.run([QUIPU, "client", "--url", url, "load", "--batch", "10",
                          "--connections", "1", "--duration", "1", "--accounts", "10"],
                         capture_output=True, text=True, timeout=60, env=env)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "failed 0" in out.stdout


def test_plaintext_off_loopback_is_refused(tmp_dir):
    rc, text = start_failure(os.path.join(tmp_dir, "data"), "--listen", "0.0.0.0:0")
    assert rc == 1, text
    assert "refusing plaintext HTTP on 0.0.0.0:0" in text
    assert "--tls-cert" in text and "--insecure-plaintext" in text


def test_plaintext_off_loopback_with_insecure_plaintext(tmp_dir):
    data = os.path.join(tmp_dir, "data")
    server = Server(data, "--listen", "0.0.0.0:0", "--insecure-plaintext").start()
    try:
        assert server.scheme == "http"
        assert "listening on http://0.0.0.0:%d " % server.port in server.read_log()
        assert "--insecure-plaintext: serving plaintext HTTP" in server.read_log()
    finally:
        assert server.stop() == 0


def test_tls_off_loopback_needs_no_flag(tmp_dir):
    cert, key = make_cert(tmp_dir)
    data = os.path.join(tmp_dir, "data")
    server = Server(data, "--listen", "0.0.0.0:0", "--tls-cert", cert, "--tls-key", key).start()
    try:
        assert server.scheme == "https"
    finally:
        assert server.stop() == 0


def test_bad_tls_files_are_refused_naming_them(tmp_dir):
    cert, key = make_cert(tmp_dir)
    other_cert, other_key = make_cert(tmp_dir, "other")
    data = os.path.join(tmp_dir, "data")
    garbage = os.path.join(tmp_dir, "garbage.pem")
    with open(garbage, "w") as f:
        f.write("this is not a certificate\n")
    missing = os.path.join(tmp_dir, "missing.pem")
    cert_as_key = os.path.join(tmp_dir, "cert-as-key.pem")
    shutil.copy(cert, cert_as_key)
    os.chmod(cert_as_key, 0o600)
    open_key = os.path.join(tmp_dir, "open-key.pem")
    shutil.copy(key, open_key)
    os.chmod(open_key, 0o644)
    cases = [
        (("--tls-cert", cert, "--tls-key", open_key), open_key, "chmod 600"),
        (("--tls-cert", garbage, "--tls-key", key), garbage, "it is not PEM"),
        (("--tls-cert", missing, "--tls-key", key), missing, "cannot open it"),
        (("--tls-cert", cert, "--tls-key", cert_as_key), cert_as_key, "not a PEM private key"),
        (("--tls-cert", cert, "--tls-key", other_key), other_key, "refused by GnuTLS"),
        (("--tls-cert", cert), "--tls-key", "the key is missing"),
        (("--tls-key", key), "--tls-cert", "the certificate is missing"),
    ]
    for extra, named, why in cases:
        rc, text = start_failure(data, *extra)
        assert rc == 1, (extra, text)
        assert named in text and why in text, (extra, text)
    assert other_cert  # made only for its key, which does not match cert
