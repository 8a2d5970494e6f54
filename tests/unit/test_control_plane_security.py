"""The decisions behind the control plane's security: where a JobManager may listen
without a token, where tokens and TLS material come from, and how bad files are reported."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.security.certificates import self_signed_certificate
from weir.config import ConfigError
from weir.config.rest_ssl import RestSslOptions
from weir.jobmanager.bind_policy import bind_refusal, insecure_warning, is_loopback
from weir.rpc.credentials import (
    ServerTls,
    read_token_file,
    resolve_tls_ca,
    resolve_token,
)

# ------------------------------------------------------------------ where to listen


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "localhost", "LOCALHOST", "::1",
                                  "[::1]", "::ffff:127.0.0.1"])
def test_loopback_addresses(host: str) -> None:
    assert is_loopback(host)
    assert bind_refusal(host, has_token=False, insecure=False) is None


@pytest.mark.parametrize("host", ["0.0.0.0", "", "::", "10.0.0.7", "192.0.2.2",
                                  "jm.example.com", "::ffff:10.0.0.7"])
def test_other_addresses_need_a_token_or_insecure(host: str) -> None:
    assert not is_loopback(host)

    refusal = bind_refusal(host, has_token=False, insecure=False)

    assert refusal is not None
    assert refusal.startswith(f"refusing to listen on {host or 'all interfaces'} without a token")
    for way_out in ("--token-file", "WEIR_TOKEN", "--insecure"):
        assert way_out in refusal
    assert bind_refusal(host, has_token=True, insecure=False) is None
    assert bind_refusal(host, has_token=False, insecure=True) is None


def test_the_insecure_warning_says_what_it_allows() -> None:
    warning = insecure_warning("0.0.0.0")
    assert "anyone who can reach 0.0.0.0 can submit jobs" in warning
    assert "--token-file" in warning


# ------------------------------------------------------------------ tokens


def test_token_sources_in_order(tmp_path: Path) -> None:
    flag_file = tmp_path / "flag-token"
    flag_file.write_text("from-flag-file\n")
    env_file = tmp_path / "env-token"
    env_file.write_text("  from-env-file  \n")
    environ = {"WEIR_TOKEN": "from-env", "WEIR_TOKEN_FILE": str(env_file)}

    assert resolve_token("from-flag", str(flag_file), environ) == "from-flag"
    assert resolve_token(None, str(flag_file), environ) == "from-flag-file"
    assert resolve_token(None, None, environ) == "from-env"
    assert resolve_token(None, None, {"WEIR_TOKEN_FILE": str(env_file)}) == "from-env-file"
    assert resolve_token(None, None, {"WEIR_TOKEN": ""}) is None
    assert resolve_token("", None, {}) is None


@pytest.mark.parametrize(("content", "problem"), [
    ("", "is empty"),
    ("\n  \n", "is empty"),
    ("two words", "one word of printable ASCII"),
    ("t\u00f6ken", "one word of printable ASCII"),
    ("tok\x1ben", "one word of printable ASCII"),
])
def test_unusable_token_files(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "token"
    path.write_text(content)

    with pytest.raises(ConfigError, match=problem):
        read_token_file(str(path))


def test_a_missing_token_file(tmp_path: Path) -> None:
    path = tmp_path / "absent"
    with pytest.raises(ConfigError, match=f"cannot read the token file {path}: No such file"):
        resolve_token(None, None, {"WEIR_TOKEN_FILE": str(path)})


# ------------------------------------------------------------------ TLS


def test_tls_options_from_flags_and_keys() -> None:
    keys = {"security.ssl.rest.cert": "/c.pem", "security.ssl.rest.key": "/k.pem"}

    assert RestSslOptions.from_configuration({}) is None
    assert RestSslOptions.from_configuration(keys) == RestSslOptions("/c.pem", "/k.pem")
    assert RestSslOptions.from_configuration(keys, cert="/flag.pem", ca="/ca.pem") == \
        RestSslOptions("/flag.pem", "/k.pem", "/ca.pem")
    assert RestSslOptions.from_configuration({**keys, "security.ssl.rest.enabled": "false"}) \
        is None


@pytest.mark.parametrize(("configuration", "missing"), [
    ({"security.ssl.rest.cert": "/c.pem"}, "the private key (--tls-key"),
    ({"security.ssl.rest.key": "/k.pem"}, "the certificate (--tls-cert"),
    ({"security.ssl.rest.enabled": "true"}, "the certificate (--tls-cert"),
])
def test_incomplete_tls_options(configuration: dict[str, str], missing: str) -> None:
    with pytest.raises(ConfigError, match=rf"{re.escape(missing)}.*is not given"):
        RestSslOptions.from_configuration(configuration)


def test_server_tls_trusts_a_self_signed_certificate_itself(tmp_path: Path) -> None:
    files = self_signed_certificate(tmp_path)

    tls = ServerTls.load(RestSslOptions(str(files.cert), str(files.key)))

    assert tls.certificate_chain == files.cert.read_bytes()
    assert tls.trusted_certificates == files.cert.read_bytes()
    assert tls.private_key == files.key.read_bytes()


def test_server_tls_with_a_key_of_another_certificate(tmp_path: Path) -> None:
    mine, other = self_signed_certificate(tmp_path, "mine"), self_signed_certificate(tmp_path,
                                                                                     "other")
    with pytest.raises(ConfigError, match=f"cannot use the TLS certificate {mine.cert} with "
                                          f"the key {other.key}"):
        ServerTls.load(RestSslOptions(str(mine.cert), str(other.key)))


def test_server_tls_with_a_file_that_is_not_pem(tmp_path: Path) -> None:
    files = self_signed_certificate(tmp_path)
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate\n")

    with pytest.raises(ConfigError, match=f"the TLS CA {junk} is not a PEM file"):
        ServerTls.load(RestSslOptions(str(files.cert), str(files.key), str(junk)))


def test_client_ca_sources_in_order(tmp_path: Path) -> None:
    first, second, third = (self_signed_certificate(tmp_path, name).cert
                            for name in ("first", "second", "third"))
    configuration = {"security.ssl.rest.ca": str(third)}

    assert resolve_tls_ca(str(first), {"WEIR_TLS_CA": str(second)}, configuration) == \
        first.read_bytes()
    assert resolve_tls_ca(None, {"WEIR_TLS_CA": str(second)}, configuration) == \
        second.read_bytes()
    assert resolve_tls_ca(None, {}, configuration) == third.read_bytes()
    assert resolve_tls_ca(None, {}, {}) is None
    with pytest.raises(ConfigError, match="cannot read WEIR_TLS_CA /nowhere.pem"):
        resolve_tls_ca(None, {"WEIR_TLS_CA": "/nowhere.pem"})
