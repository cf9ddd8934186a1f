"""One record at a time in its own view, named by the URL's `open` parameter: a row chosen, a pasted link and a
reload all show the same one, and closing the view clears the URL and the row selection that opened it."""

from __future__ import annotations

import streamlit as st

OPEN = "open"


class LinkedView:
    """The record a page shows in its own view. The URL alone says which; the session only remembers it, to
    tell a newly chosen row from the one already open."""

    def __init__(self, name: str) -> None:
        self._remembered = f"{name}_open"
        self._round = f"{name}_round"

    @property
    def current(self) -> str | None:
        return st.query_params.get(OPEN)

    @property
    def selection_round(self) -> int:
        """Part of the table's key: a new round draws the table with no row selected."""
        return st.session_state.get(self._round, 0)

    def choose(self, record_id: str | None) -> bool:
        """Open the row the operator chose; True when it is another record than the one in view."""
        if not record_id or record_id == st.session_state.get(self._remembered):
            return False
        self.open(record_id)
        return True

    def open(self, record_id: str) -> None:
        st.session_state[self._remembered] = record_id
        st.query_params[OPEN] = record_id

    def close(self) -> None:
        st.session_state.pop(self._remembered, None)
        st.query_params.pop(OPEN, None)
        st.session_state[self._round] = self.selection_round + 1

    def remember(self, record_id: str) -> None:
        st.session_state[self._remembered] = record_id
