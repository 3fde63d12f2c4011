"""The search area: the search page (``/search``), the palette's passages by meaning and the
record pages' "Related by meaning" panel, over ``stratus.knowledge.selectors``."""
