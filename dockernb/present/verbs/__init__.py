"""Per-group verb grammars: each module has SPECS (verb -> Verb) and ARGUMENTS (verb -> adder)."""
