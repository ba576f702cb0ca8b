from conftest_runtime import rt  # noqa: F401  (the session runtime fixture)
