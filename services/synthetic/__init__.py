"""`chibo generate`: a synthetic city's year, written through the application layer, with the figures it must give."""
