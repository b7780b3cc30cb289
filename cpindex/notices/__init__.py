"""Notices about a child (issue 18): practitioners tell the people working with a child.

`rules` checks what a sender gives; `store` reads and writes the `notice` table;
`accounts` links an index practitioner (an involvement's practitioner row) to the user
account that receives its notices. The HTTP side is cpindex.api.notices.
"""
