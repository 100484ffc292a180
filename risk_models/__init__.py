"""Risk scores for area units: hazard, exposure, vulnerability and response capacity.

Reads the scenario layers from :mod:`gis`; the scoring models land with the
risk-model issue.
"""

__all__: list[str] = []
