"""Lifecycle core: state machines, operations and workflows, free of Ray and MongoDB."""
