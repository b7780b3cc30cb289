"""Council data feeds: who works with which child, linked to the index with Splink.

formats (CSV and FHIR Bundle -> checked rows and named rejects), model (the Splink
columns, comparisons and versioned JSON), link (scores and the three outcomes), store
(one transaction per feed, replacement, the review queue, audit), synthetic (feeds with
planted errors for training, tests and benchmarks/linkage.py), train, cli.
"""
