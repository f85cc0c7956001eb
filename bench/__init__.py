"""Benchmarks for issue 9: each figure beside a bare baseline measured in the same run."""
