"""Built-in scoring components, one family per module, each a REINVENT-4-style file:
a params dataclass, a scorer class whose ``__call__(mols)`` returns raw values, and ``create``."""
