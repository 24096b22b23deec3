"""Friction: the signals of a hard journey (loops, back-and-forth, errors, waits) and abandoned carts."""
