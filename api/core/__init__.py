"""What every domain shares, defined once: time, identifiers, errors, request dependencies."""
