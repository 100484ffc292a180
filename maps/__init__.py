"""Interactive and static maps and reports of riskplan results.

The map builders land with the maps issue.
"""

__all__: list[str] = []
