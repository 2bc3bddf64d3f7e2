"""Segment intelligence: RFM scores and segments, suggested segments, segment comparison, lookalikes.

Aggregates, scores, overlaps and distributions run in the user's database through compiled SQL; only the
models of ``suggest`` and ``similar`` (scikit-learn, the ``ml`` extra) train on a bounded sample.
The ``Workspace`` methods ``rfm``, ``rfm_segments``, ``suggest``, ``compare`` and ``similar`` delegate here.
"""

from .rfm import RFM_RULES, RfmRule, RfmScores, rules_frame

__all__ = ["RFM_RULES", "RfmRule", "RfmScores", "rules_frame"]
