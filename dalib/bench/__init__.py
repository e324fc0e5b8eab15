"""The benchmark harness: runs, grids, results and tables."""
