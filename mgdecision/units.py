"""Elemental magnesium in a salt (the serum unit conversion lives with the reader: ``convert_serum``)."""

from __future__ import annotations

from .kb import knowledge, norm

__all__ = ["elemental_mg", "salt_form"]


def salt_form(name: str) -> str | None:
    """Canonical salt key ("glycinate", "oxide", "l-threonate" ...) for a form name, or None."""
    words = norm(name)
    names = knowledge().form_names
    for candidate in (words, words.removeprefix("magnesium ").removeprefix("mg ")):
        if candidate in names:
            return names[candidate]
    return None


def elemental_mg(form: str, salt_mg: float) -> float:
    """Elemental magnesium (mg) in ``salt_mg`` mg of a salt, from the stoichiometric fractions.

    ``elemental_mg("oxide", 400)`` is 241.2. Raises ``ValueError`` for an unknown form.
    """
    key = salt_form(form)
    if key is None:
        known = ", ".join(sorted(k for k in knowledge().dosing["elemental"] if k != "source"))
        raise ValueError(f"unknown magnesium form {form!r}; known forms: {known}")
    return float(salt_mg) * float(knowledge().dosing["elemental"][key])
