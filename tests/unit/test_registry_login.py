"""login/logout (through the fake registry) and the docker config.json credential store with helpers."""

from __future__ import annotations

import base64
import json
import os
import stat
import sys
from pathlib import Path

import pytest

from dockernb.config import default_credentials_file
from dockernb.errors import CredentialHelperFailed, InvalidConfig, RegistryAuthRequired, RegistryUnreachable
from dockernb.registry import DockerConfigFile, MemoryCredentials, RegistryClient, login_server
from dockernb.registry.credentials import AuthConfig, convert_to_hostname
from dockernb.spec.reference import INDEX_SERVER
from dockernb.testing.registry import MemoryRegistry
from tests.unit.registry_fakes import config, image

pytestmark = pytest.mark.rootless  # also run by Debian's python3 3.11.2, unprivileged

HELPER = f"""#!{sys.executable}
# a docker-credential-helpers protocol implementation keeping secrets in a JSON file beside it
import json, os, sys
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "secrets.json")
data = json.load(open(path)) if os.path.exists(path) else {{}}
action, payload = sys.argv[1], sys.stdin.read()
if action == "store":
    entry = json.loads(payload); data[entry["ServerURL"]] = entry
elif action == "get":
    if payload not in data:
        print("credentials not found in native keychain"); sys.exit(1)
    print(json.dumps(data[payload])); sys.exit(0)
elif action == "erase":
    if payload not in data:
        print("credentials not found in native keychain"); sys.exit(1)
    del data[payload]
json.dump(data, open(path, "w"))
"""


def test_login_checks_before_saving() -> None:
    reg = MemoryRegistry(auth="bearer", users={"student": "pw"})
    creds = MemoryCredentials()
    c = RegistryClient(config(), creds, transport=reg.transport())
    with pytest.raises(RegistryAuthRequired) as info:
        c.login("registry.test", "student", "wrong")
    assert str(info.value) == 'Get "https://registry.test/v2/": unauthorized: incorrect username or password'
    assert creds.entries == {}
    result = c.login("https://registry.test/v1/", "student", "pw")
    assert result.status == "Login Succeeded" and result.server == "registry.test" and not result.plaintext
    assert creds.entries == {"registry.test": AuthConfig("student", "pw")}
    token_query = reg.token_requests[-1]
    assert token_query["offline_token"] == ["true"] and token_query["client_id"] == ["docker"]
    assert "scope" not in token_query
    image(reg, repo="private/app")
    from dockernb.spec.reference import parse_reference

    assert c.resolve(parse_reference("registry.test/private/app")).config  # the new login is used at once
    out = c.logout("registry.test")
    assert out.message == "Removing login credentials for registry.test" and out.was_logged_in
    assert creds.entries == {}


def test_login_basic_and_open_registries() -> None:
    reg = MemoryRegistry(auth="basic", users={"student": "pw"})
    c = RegistryClient(config(), MemoryCredentials(), transport=reg.transport())
    with pytest.raises(RegistryAuthRequired) as info:
        c.login("registry.test", "student", "wrong")
    assert str(info.value) == "login attempt to https://registry.test/v2/ failed with status: 401 Unauthorized"
    assert c.login("registry.test", "student", "pw").status == "Login Succeeded"
    open_reg = MemoryRegistry()
    assert RegistryClient(config(), transport=open_reg.transport()).login("registry.test", "a", "b").server


def test_login_to_an_unreachable_registry() -> None:
    reg = MemoryRegistry()
    reg.down.add("127.0.0.1:5999")
    c = RegistryClient(config(), transport=reg.transport())
    with pytest.raises(RegistryUnreachable) as info:
        c.login("127.0.0.1:5999", "a", "b")
    assert str(info.value) == 'Get "http://127.0.0.1:5999/v2/": dial tcp 127.0.0.1:5999: connect: connection refused'


def test_server_names() -> None:
    for hub in ("", "docker.io", "index.docker.io", INDEX_SERVER):
        assert login_server(hub) == INDEX_SERVER
    assert login_server("http://127.0.0.1:5001/v2/") == "127.0.0.1:5001"
    assert convert_to_hostname("https://h:1/x/y") == "h:1"


def test_default_file_location(tmp_path: Path) -> None:
    assert default_credentials_file({"DOCKER_CONFIG": "/x/y", "HOME": "/h"}) == Path("/x/y/config.json")
    assert default_credentials_file({"HOME": "/h"}) == Path("/h/.docker/config.json")
    from dockernb.config import load_config

    cfg = load_config(env={"HOME": str(tmp_path), "DOCKERNB_ROOT": str(tmp_path / "root"),
                           "DOCKER_CONFIG": str(tmp_path / "dc")}, uid=1000)  # fmt: skip
    assert cfg.credentials_file == tmp_path / "dc" / "config.json"
    client = RegistryClient.from_config(cfg)
    assert isinstance(client.credentials, DockerConfigFile) and client.credentials.path == cfg.credentials_file


def test_config_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "docker" / "config.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"psFormat": "{{.ID}}", "auths": {"https://old.test/v2/": {"auth": "b2xkOnB3"}}}))
    store = DockerConfigFile(path)
    assert store.get("old.test") == AuthConfig("old", "pw")  # matched through its hostname, as docker does
    assert store.store("127.0.0.1:5001", AuthConfig("student", "pw")) == str(path)
    doc = json.loads(path.read_text())
    assert doc["psFormat"] == "{{.ID}}"
    assert base64.b64decode(doc["auths"]["127.0.0.1:5001"]["auth"]) == b"student:pw"
    assert "\n\t\"auths\"" in path.read_text()  # docker's tab indentation
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert store.get("127.0.0.1:5001") == AuthConfig("student", "pw") and store.is_logged_in("127.0.0.1:5001")
    store.store("old.test", AuthConfig("new", "pw2"))
    assert list(json.loads(path.read_text())["auths"]) == ["127.0.0.1:5001", "old.test"]
    store.erase("127.0.0.1:5001")
    assert store.get("127.0.0.1:5001") is None and not store.is_logged_in("127.0.0.1:5001")
    store.store("t.test", AuthConfig(identity_token="refresh"))
    assert json.loads(path.read_text())["auths"]["t.test"] == {"identitytoken": "refresh"}
    assert store.get("t.test") == AuthConfig(identity_token="refresh")
    fresh = DockerConfigFile(tmp_path / "new" / "config.json")
    fresh.store("x.test", AuthConfig("u", "p"))
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o700
    assert "p" not in repr(AuthConfig("u", "p")).replace("password", "")


@pytest.mark.parametrize(
    ("content", "message"),
    [("{not json", "Error loading config file"), ("[]", "not a JSON object"),
     ('{"auths": {"h": {"auth": "!!"}}}', "not base64 of user:password")],
)  # fmt: skip
def test_bad_config_files(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "config.json"
    path.write_text(content)
    with pytest.raises(InvalidConfig, match=message):
        DockerConfigFile(path).get("h")


def test_credential_helpers(tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    helper = bindir / "docker-credential-dnbtest"
    helper.write_text(HELPER)
    helper.chmod(0o755)
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"credsStore": "dnbtest", "credHelpers": {"special.test": "missing"}}))
    env = {**os.environ, "PATH": f"{bindir}:{os.environ.get('PATH', '')}"}
    store = DockerConfigFile(path, env=env)
    assert store.get("127.0.0.1:5001") is None
    assert store.store("127.0.0.1:5001", AuthConfig("student", "pw")) == "docker-credential-dnbtest"
    doc = json.loads(path.read_text())
    assert doc["auths"] == {"127.0.0.1:5001": {}}  # the secret stays with the helper
    assert json.loads((bindir / "secrets.json").read_text())["127.0.0.1:5001"]["Secret"] == "pw"
    assert store.get("127.0.0.1:5001") == AuthConfig("student", "pw")
    store.erase("127.0.0.1:5001")
    assert store.get("127.0.0.1:5001") is None and json.loads(path.read_text())["auths"] == {}
    store.erase("127.0.0.1:5001")  # erasing twice is fine, as docker
    with pytest.raises(CredentialHelperFailed) as info:
        store.get("special.test")
    assert str(info.value) == (
        'error getting credentials - err: exec: "docker-credential-missing": executable file not found in $PATH, '
        "out: ``"
    )
    reg = MemoryRegistry(auth="bearer", users={"student": "pw"})
    c = RegistryClient(config(), store, transport=reg.transport())
    result = c.login("registry.test", "student", "pw")
    assert result.stored_in == "docker-credential-dnbtest" and not result.plaintext
    plain = RegistryClient(config(), DockerConfigFile(tmp_path / "plain.json"), transport=reg.transport())
    assert plain.login("registry.test", "student", "pw").plaintext
