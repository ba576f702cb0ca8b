"""Example SSMs/FSMs."""
