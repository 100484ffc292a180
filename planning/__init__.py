"""Travel times, response coverage and location models on the road graph of :mod:`gis`.

The travel-time engine and location models land with the coverage and
placement issues.
"""

__all__: list[str] = []
