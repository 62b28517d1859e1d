"""The data plane: a department system reads exactly what its grant allows."""
