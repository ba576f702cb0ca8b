from conftest_runtime import docker_client, rt  # noqa: F401  (the session fixtures)
