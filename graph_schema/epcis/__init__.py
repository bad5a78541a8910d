"""GS1 EPCIS 2.0: the standard's events validated, normalised, mapped onto the graph and stored."""
