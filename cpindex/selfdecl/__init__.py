"""Self-declared involvements (issue 17 item 8): "I am working with this child".

`rules` checks what a practitioner declares; `store` writes and ends declarations. The
HTTP side is cpindex.api.practitioner_role. A declaration is an ordinary involvement (so
every practitioner sees it, and notices reach its author through the account link) that a
`self_declaration` row marks as the author's own: the record serves it with the source
"self-declared".
"""
