"""Geodata in: scenario layers, validation, coordinates, road network."""
