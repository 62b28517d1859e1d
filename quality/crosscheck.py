"""Multi-source cross-checks (多源校核): a verification source's values against the authoritative ones.

Both sides are frames indexed by subject key with one column per element code; comparison is
column-wise. Text is compared after trimming, so a trailing space is not a discrepancy.
"""

from dataclasses import dataclass

import pandas as pd

from quality.rules import TRUE_VALUES

# 人社 参保状态 codes that mean the person is insured and paying (see the demo sources).
ACTIVE_INSURANCE = frozenset({"1"})


@dataclass(frozen=True)
class Difference:
    """One element of one subject on which two departments disagree."""

    subject_key: str
    element: str
    other_value: str | None
    authoritative_value: str | None


def differences(mine: pd.DataFrame, theirs: pd.DataFrame, elements: list[str]) -> list[Difference]:
    """Elements where ``mine`` has a value and ``theirs`` (the authoritative record) has another.

    Subjects absent from ``theirs`` are not compared here: see :func:`unknown_subjects`.
    """
    known = mine.index.isin(theirs.index)
    if not known.any():
        return []
    left = mine[known]
    right = theirs.reindex(left.index)
    found: list[Difference] = []
    for element in elements:
        if element not in left or element not in right:
            continue
        ours = left[element].astype("string").str.strip()
        auth = right[element].astype("string").str.strip()
        differ = (ours.notna() & (ours != auth).fillna(True)).to_numpy()
        for key, value, expected in zip(left.index[differ], ours[differ], auth[differ], strict=True):
            found.append(Difference(key, element, value, None if pd.isna(expected) else expected))
    return found


def unknown_subjects(mine: pd.DataFrame, theirs: pd.DataFrame) -> list[str]:
    """Subjects a verification source knows and the authoritative source does not."""
    return [str(k) for k in mine.index[~mine.index.isin(theirs.index)]]


def deceased_insured(insurance: pd.Series, death_flags: pd.Series) -> pd.Series:
    """Subjects recorded dead by 卫健 whom 人社 still lists as insured: the insurance status, by key."""
    both = insurance.to_frame("insurance").join(death_flags.to_frame("dead"), how="inner")
    hit = both["insurance"].isin(ACTIVE_INSURANCE) & both["dead"].isin(TRUE_VALUES)
    return both.loc[hit, "insurance"]
