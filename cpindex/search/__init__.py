"""Search: name keys, nickname table, query rules and the candidate-then-score engine."""
