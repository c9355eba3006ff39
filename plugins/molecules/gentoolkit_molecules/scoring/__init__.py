"""REINVENT-4-style scoring: components score molecules, transforms map raw values to [0, 1],
an aggregation combines them into one total per molecule.

``build_scoring_function(config)`` is the entry point; ``PMO_ORACLES`` holds the PMO benchmark's
objectives as scoring configs.
"""
