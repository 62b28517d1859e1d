"""Column-wise helpers the code-standard validators share: Arrow text, stdnum's compaction, byte matrices."""

from collections.abc import Collection

import numpy as np
import pandas as pd
import pyarrow as pa
from stdnum import util as stdnum_util

# Arrow-backed strings with NA for missing, under pandas 2 and 3 alike (astype(str) turns
# None into "None" under pandas 2); the string kernels then run in Arrow, not per row.
TEXT = "string[pyarrow]"

# The characters str.strip() removes: everything for which str.isspace() is true.
_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680"
    "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a"
    "\u2028\u2029\u202f\u205f\u3000"
)
# Non-ASCII characters that can turn into ASCII in stdnum's compact(): those its clean()
# maps (full-width and mathematical digits, Unicode dashes and spaces, ...) and those whose
# str.upper() is ASCII ('ß' -> 'SS', 'ﬀ' -> 'FF'). Every other non-ASCII character stays
# non-ASCII, so a value holding one can never be valid.
_FOLD = {
    **{c: c.upper() for c in "ßıŉſǰẖẗẘẙẚﬀﬁﬂﬃﬄﬅﬆ"},
    **{c: r for c, r in stdnum_util._char_map.items() if not c.isascii()},
}


def stdnum_compact(values: pd.Series, deletechars: str = "") -> pd.Series:
    """Vectorised ``stdnum.util.clean(value, deletechars).upper().strip()``, as a str Series.

    Exact wherever the result can be valid; a value holding a character that can never
    become ASCII keeps it, which is all a validity check needs.
    """
    # Positional index: rows are put back with where(), which aligns on labels.
    text = values.astype(TEXT).reset_index(drop=True)
    foreign = text.str.contains(r"[^\x00-\x7f]").fillna(False)
    if foreign.any():
        # Rare (full-width digits typed with a Chinese IME): fold only the characters present.
        rows = text[foreign]
        for char in set(rows.str.cat()) & _FOLD.keys():
            rows = rows.str.replace(char, _FOLD[char], regex=False)
        text = text.where(~foreign, rows)
    for char in deletechars:
        text = text.str.replace(char, "", regex=False)
    return text.str.upper().str.strip(_WHITESPACE)


def char_matrix(values: pd.Series, width: int) -> np.ndarray:
    """The bytes of non-null ASCII strings of exactly ``width`` characters, one row each."""
    if values.empty:
        return np.empty((0, width), dtype=np.uint8)
    # Arrow keeps the strings back to back in one buffer: read it in place.
    array = pa.array(values, type=pa.large_string())
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int64)[array.offset : array.offset + len(array) + 1]
    data = np.frombuffer(array.buffers()[2], dtype=np.uint8)
    return data[offsets[0] : offsets[-1]].reshape(-1, width)


def unknown_codes(values: pd.Series, known: Collection[str], reason: str) -> pd.Series:
    """None for a known code, a missing or an empty value; ``reason`` for any other value."""
    text = values.astype(TEXT)
    unknown = (text != "").fillna(False) & ~text.str.strip().isin(list(known))
    reasons = np.full(len(values), None, dtype=object)
    reasons[unknown.fillna(False).to_numpy(dtype=bool)] = reason
    return pd.Series(reasons, index=values.index, dtype=object)
