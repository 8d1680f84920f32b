"""Notebooks not yet brought to the claims standard (their results still typed in prose, their checks plain asserts).

Shared by the prose test and the full-profile dry run; nothing else may be listed, and an entry leaves when its
notebook is converted (every check a ``check(...)``, every result printed by code).
"""

NOT_YET_CONVERTED = {}
