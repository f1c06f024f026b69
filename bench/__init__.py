"""Benchmark of the runtime's streaming path against a paced fake upstream and a raw relay (`make bench`)."""
