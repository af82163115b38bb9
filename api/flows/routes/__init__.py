"""HTTP of the steps that cross domains, one module per area; the rules are in the flow modules."""
