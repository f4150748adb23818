"""Fuzzing harness: mutated real model files linted in watched worker processes."""
