"""Runtime operators: the few primitives every API operator is built from."""
