"""Studies: which instrument versions a fieldwork study serves."""
