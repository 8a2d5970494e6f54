"""``security.ssl.internal.*``: TLS between TaskManagers, parsed from the configuration."""

from __future__ import annotations

import pytest

from weir.config import ConfigError
from weir.config.internal_ssl import InternalSslOptions

ENABLED = {"security.ssl.internal.enabled": "true",
           "security.ssl.internal.cert": "/etc/weir/internal.crt",
           "security.ssl.internal.key": "/etc/weir/internal.key",
           "security.ssl.internal.ca": "/etc/weir/ca.crt"}


@pytest.mark.parametrize("configuration", [
    {}, {"security.ssl.internal.enabled": "false"},
    {**ENABLED, "security.ssl.internal.enabled": "false"},  # files alone do not turn it on
])
def test_tls_between_taskmanagers_is_off_unless_enabled(configuration):
    assert InternalSslOptions.from_configuration(configuration) is None


def test_enabled_tls_names_its_files_and_verifies_hostnames_by_default():
    assert InternalSslOptions.from_configuration(ENABLED) == InternalSslOptions(
        "/etc/weir/internal.crt", "/etc/weir/internal.key", "/etc/weir/ca.crt", True)
    relaxed = {**ENABLED, "security.ssl.verify-hostname": "false"}
    assert InternalSslOptions.from_configuration(relaxed).verify_hostname is False


@pytest.mark.parametrize("missing", ["security.ssl.internal.cert", "security.ssl.internal.key",
                                     "security.ssl.internal.ca"])
def test_enabled_tls_without_a_file_names_the_missing_key(missing):
    with pytest.raises(ConfigError, match=missing):
        InternalSslOptions.from_configuration({**ENABLED, missing: " "})
