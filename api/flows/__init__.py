"""Steps that cross domains: the only layer that imports more than one domain."""
