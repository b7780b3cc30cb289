"""A small table of English given-name nicknames, both ways (Bill <-> William).

A nickname search scores slightly below an exact name so the formal name ranks first.
"""

from __future__ import annotations

from functools import lru_cache

from cpindex.search.keys import fold

__all__ = ["NICKNAMES", "name_variants"]

# formal name -> nicknames
NICKNAMES: dict[str, tuple[str, ...]] = {
    "William": ("Will", "Bill", "Billy", "Liam", "Willy"),
    "Elizabeth": ("Liz", "Lizzie", "Beth", "Betty", "Eliza", "Libby", "Elsie"),
    "Alexander": ("Alex", "Xander", "Sandy", "Alfie"),
    "Katherine": ("Kate", "Katie", "Kat", "Kathy", "Kitty"),
    "Catherine": ("Kate", "Katie", "Cathy", "Cat"),
    "Margaret": ("Maggie", "Meg", "Peggy", "Daisy"),
    "Robert": ("Rob", "Bob", "Bobby", "Robbie"),
    "Richard": ("Rich", "Rick", "Ricky", "Dick"),
    "Thomas": ("Tom", "Tommy"),
    "James": ("Jim", "Jimmy", "Jamie"),
    "Joseph": ("Joe", "Joey"),
    "Jonathan": ("Jon", "Jonny"),
    "Daniel": ("Dan", "Danny"),
    "Matthew": ("Matt", "Matty"),
    "Michael": ("Mike", "Mick", "Mikey"),
    "Christopher": ("Chris", "Kit"),
    "Nicholas": ("Nick", "Nicky"),
    "Anthony": ("Tony", "Ant"),
    "Edward": ("Ed", "Eddie", "Ted", "Teddy", "Ned"),
    "Theodore": ("Theo", "Ted", "Teddy"),
    "Frederick": ("Fred", "Freddie", "Freddy"),
    "Alfred": ("Alf", "Alfie"),
    "Henry": ("Harry", "Hal", "Hank"),
    "Harrison": ("Harry",),
    "Benjamin": ("Ben", "Benny", "Benji"),
    "Samuel": ("Sam", "Sammy"),
    "Joshua": ("Josh",),
    "Zachary": ("Zach", "Zac"),
    "Sebastian": ("Seb", "Bas"),
    "Reginald": ("Reg", "Reggie"),
    "Albert": ("Albie", "Bert"),
    "Archibald": ("Archie",),
    "Charles": ("Charlie", "Chas", "Chuck"),
    "Oliver": ("Ollie", "Olly"),
    "Olivia": ("Liv", "Livvy", "Ollie"),
    "Isabella": ("Bella", "Izzy", "Issy", "Isla"),
    "Isabelle": ("Belle", "Izzy", "Issy"),
    "Amelia": ("Millie", "Amy", "Mia"),
    "Emily": ("Em", "Emmy", "Millie"),
    "Emilia": ("Em", "Milly"),
    "Florence": ("Flo", "Florrie"),
    "Matilda": ("Tilly", "Tilda", "Mattie"),
    "Eleanor": ("Ellie", "Nell", "Nora"),
    "Evelyn": ("Evie", "Eve"),
    "Sophia": ("Sophie", "Soph"),
    "Victoria": ("Vicky", "Tori"),
    "Rebecca": ("Becky", "Becca"),
    "Abigail": ("Abbie", "Abby", "Gail"),
    "Samantha": ("Sam", "Sammy"),
    "Jennifer": ("Jenny", "Jen"),
    "Jessica": ("Jess", "Jessie"),
    "Harriet": ("Hattie", "Hetty"),
    "Phoebe": ("Phebe",),
    "Charlotte": ("Lottie", "Charlie"),
    "Imogen": ("Immy",),
    "Rosemary": ("Rosie",),
    "Bethany": ("Beth",),
    "Caitlin": ("Cait", "Kate"),
    "Muhammad": ("Mo", "Mohammed", "Mohammad"),
    "Dafydd": ("Dai", "Dewi"),
}


def _build_index() -> dict[str, frozenset[str]]:
    groups: dict[str, set[str]] = {}
    for formal, nicks in NICKNAMES.items():
        formal_key = fold(formal)
        groups.setdefault(formal_key, set()).update(fold(n) for n in nicks)
        for nick in nicks:
            groups.setdefault(fold(nick), set()).add(formal_key)
    return {name: frozenset(variants) for name, variants in groups.items()}


_VARIANTS = _build_index()


@lru_cache(maxsize=4096)
def name_variants(folded_given: str) -> frozenset[str]:
    """Folded names that are nickname or formal forms of `folded_given` (itself excluded)."""
    return _VARIANTS.get(folded_given, frozenset()) - {folded_given}
