"""Shared fixtures: services are session-scoped factories in tests/fixtures."""

pytest_plugins = ["tests.fixtures.cluster", "tests.fixtures.kafka", "tests.fixtures.ray_cluster",
                  "tests.fixtures.prometheus", "tests.fixtures.s3",
                  "tests.fixtures.state_backends"]
