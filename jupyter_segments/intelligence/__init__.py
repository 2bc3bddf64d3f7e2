"""Segment intelligence: RFM scores and segments, suggested segments, segment comparison, lookalikes.

Aggregates, scores, overlaps and distributions run in the user's database through compiled SQL; only the
models of ``suggest`` and ``similar`` (scikit-learn, the ``ml`` extra) train on a bounded sample.
The ``Workspace`` methods ``rfm``, ``rfm_segments``, ``suggest``, ``compare`` and ``similar`` delegate here;
scikit-learn is imported only when a model is trained.
"""

from .compare import Comparison, compare
from .rfm import RFM_RULES, RfmRule, RfmScores, rules_frame
from .similar import BANDS, Lookalikes, similar
from .suggest import Suggestion, Suggestions, suggest

__all__ = [
    "BANDS",
    "RFM_RULES",
    "Comparison",
    "Lookalikes",
    "RfmRule",
    "RfmScores",
    "Suggestion",
    "Suggestions",
    "compare",
    "rules_frame",
    "similar",
    "suggest",
]
