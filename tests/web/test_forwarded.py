"""`digest web` believes X-Forwarded-For only from the proxies DIGEST_FORWARDED_ALLOW_IPS names
(default: 127.0.0.1): the login throttle and the signup limits count the address it gives."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from digest.errors import ConfigError
from digest.settings import load_settings
from tests.support.admin import TOKEN_FIELD
from tests.support.smtp import free_port


def failed_login_address(tmp_path: Path, **env: str) -> str:
    """Start `digest web`, fail one login with X-Forwarded-For, and read whom it blamed."""
    port = free_port()
    log_path = tmp_path / f"web-{port}.log"
    environment = {**os.environ, "DIGEST_BASE_URL": f"http://127.0.0.1:{port}", **env}
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "digest", "web", "--port", str(port)],
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            deadline = time.monotonic() + 30
            while True:
                try:
                    page = client.get("/admin/login")
                    break
                except httpx.TransportError:
                    assert time.monotonic() < deadline, log_path.read_text()
                    time.sleep(0.2)
            token = TOKEN_FIELD.search(page.text)
            assert token is not None
            data = {"form_token": token.group(1), "email": "x@example.org", "password": "nope"}
            headers = {"X-Forwarded-For": "198.51.100.23"}
            assert client.post("/admin/login", data=data, headers=headers).status_code == 401
    finally:
        server.terminate()
        server.wait(timeout=30)
    found = re.search(r"failed login for 'x@example.org' from (\S+)", log_path.read_text())
    assert found, log_path.read_text()
    return found.group(1)


def test_digest_web_believes_only_the_named_proxies(tmp_path: Path) -> None:
    assert failed_login_address(tmp_path) == "198.51.100.23"  # a proxy on this machine
    elsewhere = failed_login_address(tmp_path, DIGEST_FORWARDED_ALLOW_IPS="10.0.0.0/8")
    assert elsewhere == "127.0.0.1"  # the header of an untrusted peer is ignored


def test_a_bad_proxy_address_is_one_line() -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(forwarded_allow_ips="10.0.0.1, proxy.internal")
    assert str(error.value).startswith("DIGEST_FORWARDED_ALLOW_IPS: 'proxy.internal' is not")
    assert "\n" not in str(error.value)
    assert load_settings(forwarded_allow_ips=" ").forwarded_allow_ips is None
