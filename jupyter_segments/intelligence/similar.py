"""Similar customers (lookalikes): who, outside a segment, looks most like its members.

Model (``ws.similar(segment, target=None, size=0.2)``):

* **Data**: a bounded sample of up to ``sample`` members of the segment and up to ``sample`` customers of
  the audience (``target``, default everyone, minus the members), chosen in the database.
* **Features**: ``using`` or ``features.default_features`` (customer attributes, attributes one step up,
  counts and sums over directly related tables); text as indicators of its most frequent values, booleans
  0/1, dates as day numbers, missing numbers left missing. The customer key is never a feature.
* **Model**: scikit-learn ``HistGradientBoostingClassifier`` (100 trees of at most 15 leaves). The score
  is the model's member probability corrected for the sample's class ratio (prior shift of the log-odds),
  i.e. as if members and non-members were equally common.
  **Quality**: ROC AUC on a stratified held-out quarter of the sample; feature importance is the drop in
  held-out AUC when the feature's columns are shuffled (permutation importance, 3 repeats). The model is
  then refitted on the whole sample.
* **Scoring**: every customer of the audience is streamed from the database in chunks
  (``iter_members``-style) and scored; only the best ``size`` are kept (a fraction of the audience, 0.2 by
  default, or a number of customers), and never any below ``min_score`` (0.4).
* **Bands**: below 0.55 not similar, 0.55-0.7 somewhat similar, 0.7-0.85 similar, 0.85-1 very similar.

``save(name)`` stores the chosen customers as a *static* catalog segment (members frozen at creation);
its definition is the key list (``customer_id in (...)``), since a lookalike model is not a DSL rule.
Re-run ``similar`` to refresh it.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..catalog.store import Catalog
from ..dsl import ast as A
from ..dsl import to_text
from ..errors import SegmentError
from ..session import Session, as_datetime
from . import display
from . import features as F

BANDS: tuple[tuple[float, float, str], ...] = (
    (0.0, 0.55, "not similar"),
    (0.55, 0.70, "somewhat similar"),
    (0.70, 0.85, "similar"),
    (0.85, 1.0, "very similar"),
)
DEFAULT_SAMPLE = 5_000


def band(score: float) -> str:
    """The band name of a similarity score."""
    for lo, hi, name in BANDS:
        if lo <= score < hi:
            return name
    return BANDS[-1][2]


@dataclass
class SimilarInfo:
    segment: str
    target: str
    auc: float
    importances: pd.DataFrame
    bands: pd.DataFrame  # every scored customer per band
    scored: int
    size: float | int
    min_score: float
    include_members: bool
    sample_sizes: dict[str, int]
    key: str
    features: list[str] = field(default_factory=list)
    save: Callable[..., Any] | None = field(default=None, repr=False)  # ws.segment


class Lookalikes(pd.DataFrame):
    """The chosen customers (key, similarity, band), best first, with ``.auc``, ``.importances``,
    ``.bands``, ``.save(name)`` and ``.chart()``. Derived frames are plain DataFrames."""

    _metadata = ["info"]
    info: SimilarInfo

    @property
    def _constructor(self):
        return pd.DataFrame

    @property
    def auc(self) -> float:
        return self.info.auc

    @property
    def importances(self) -> pd.DataFrame:
        return self.info.importances

    @property
    def bands(self) -> pd.DataFrame:
        return self.info.bands

    def definition(self) -> str:
        """A key-list definition of the chosen customers (a snapshot)."""
        keys = [_plain(k) for k in self[self.info.key]]
        if not keys:
            return "false"
        return to_text(A.InList(A.Name((self.info.key,)), tuple(A.Literal(k) for k in keys)))

    def save(self, name: str, **kwargs: Any) -> Any:
        """Save the chosen customers as a static segment (a snapshot defined by their keys)."""
        save = self.info.save
        if save is None:
            raise SegmentError("saving needs a workspace with a catalog (ws.segment)")
        description = kwargs.pop("description", None) or (
            f"customers similar to {self.info.segment} (AUC {self.auc:.2f}), snapshot"
        )
        # A static segment stores the members at creation: the key list is only how they are selected.
        return save(name, self.definition(), description=description, type="static", **kwargs)

    def chart(self):
        """Altair: customers per similarity band, and the top feature importances."""
        import altair as alt

        bands = (
            alt.Chart(self.bands)
            .mark_bar()
            .encode(
                x=alt.X("band:N", sort=[b[2] for b in BANDS]),
                y="customers:Q",
                color=alt.Color("band:N", sort=[b[2] for b in BANDS]),
            )
        )
        imp = (
            alt.Chart(self.importances.head(10))
            .mark_bar()
            .encode(x="importance:Q", y=alt.Y("feature:N", sort="-x"))
        )
        return (
            bands.properties(width=220, title="Scored audience")
            | imp.properties(width=260, title="Importance")
        ).properties(title=f"Similar to {self.info.segment} (held-out AUC {self.auc:.2f})")

    def _repr_html_(self) -> str:
        i = self.info
        quality = (
            "good" if i.auc >= 0.8 else "fair" if i.auc >= 0.7 else "weak: members are hard to tell apart"
        )
        title = (
            f"<b>Similar</b> to <code>{html.escape(i.segment)}</code> in {html.escape(i.target)}: "
            f"{len(self):,} of {i.scored:,} scored customers chosen; held-out ROC AUC <b>{i.auc:.3f}</b> ({quality})"
        )
        bands = display.table(
            i.bands, bars={"customers": float(i.bands["customers"].max() or 1)}, formats={"customers": "{:,}"}
        )
        imp = display.table(
            i.importances.head(8),
            bars={"importance": float(i.importances["importance"].clip(lower=0).max() or 1)},
            formats={"importance": "{:.3f}"},
        )
        head = display.table(pd.DataFrame(self).head(8), formats={"similarity": "{:.3f}"})
        return display.card(title, display.row(bands, imp, head))


def _plain(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    return v


def similar(
    session: Session,
    catalog: Catalog | None,
    segment: Any,
    target: Any = None,
    *,
    save: Callable[..., Any] | None = None,
    size: float | int = 0.2,
    min_score: float = 0.4,
    include_members: bool = False,
    using: Sequence[str] | None = None,
    sample: int = DEFAULT_SAMPLE,
    as_of: Any = None,
    chunk_size: int = 50_000,
    random_state: int = 0,
) -> Lookalikes:
    """Score the audience by similarity to ``segment`` and keep the best (see the module docstring)."""
    try:
        from sklearn.ensemble import HistGradientBoostingClassifier
        from sklearn.metrics import roc_auc_score
        from sklearn.model_selection import train_test_split
    except ImportError:  # pragma: no cover - the ml extra is installed in tests
        raise SegmentError("similar needs scikit-learn: pip install 'jupyter-segments[ml]'") from None
    if isinstance(size, float) and size > 1 and size.is_integer():
        size = int(size)  # "--size 50" from the command line arrives as 50.0: a number of customers
    if isinstance(size, bool) or not (
        isinstance(size, int) and size >= 1 or isinstance(size, float) and 0 < size <= 1
    ):
        raise SegmentError(
            "size is a fraction of the audience (0 < size <= 1) or a number of customers (>= 1)"
        )
    as_of_dt: dt.datetime = as_datetime(as_of)
    seed, seed_label = F.resolve_definition(session, catalog, segment)
    tgt, tgt_label = (
        (F.everyone(), "everyone") if target is None else F.resolve_definition(session, catalog, target)
    )
    outside = F.except_(tgt, seed)
    audience = (
        F.and_(tgt, seed) if include_members and target is not None else tgt if include_members else outside
    )
    feats = F.make_features(session, list(using) if using is not None else F.default_features(session))
    if not feats:
        raise SegmentError("similar needs at least one feature (using=[...])")
    key = session.model.customer_entity().key
    assert key is not None

    n_pos = session.count(A.Definition(seed), as_of=as_of_dt)
    n_neg = session.count(A.Definition(outside), as_of=as_of_dt)
    if n_pos < 20 or n_neg < 20:
        raise SegmentError(
            f"need at least 20 members and 20 non-members to learn from (have {n_pos} and {n_neg})"
        )
    pos = F.sample_frame(session, seed, feats, max_rows=sample, population=n_pos, as_of=as_of_dt)
    neg = F.sample_frame(session, outside, feats, max_rows=sample, population=n_neg, as_of=as_of_dt)
    frame = pd.concat([pos, neg], ignore_index=True)
    y = np.r_[np.ones(len(pos)), np.zeros(len(neg))]
    X, columns = F.design_matrix(frame, feats)
    if not columns:
        raise SegmentError("none of the features has usable values")

    def model() -> Any:
        return HistGradientBoostingClassifier(
            max_iter=100, learning_rate=0.1, max_leaf_nodes=15, min_samples_leaf=20,
            early_stopping=False, random_state=random_state,
        )  # fmt: skip

    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, stratify=y, random_state=random_state)
    with _one_thread():
        held = model().fit(X_tr, y_tr)
        auc = float(roc_auc_score(y_te, held.decision_function(X_te)))
        importances = _importances(held, X_te, y_te, columns, roc_auc_score, random_state)
        final = model().fit(X, y)
    # Prior shift: the score is the member probability as if members and non-members were equally common
    # (the same as class weights "balanced", without weighted binning, which is slow).
    shift = math.log(len(pos) / len(neg))

    n_audience = session.count(A.Definition(audience), as_of=as_of_dt)
    k = math.ceil(size * n_audience) if isinstance(size, float) else int(size)
    top_keys: np.ndarray = np.empty(0, dtype=object)
    top_scores: np.ndarray = np.empty(0, dtype=float)
    edges = [b[0] for b in BANDS] + [1.0 + 1e-9]
    band_counts = np.zeros(len(BANDS), dtype=np.int64)
    scored = 0
    for chunk in F.iter_frames(session, audience, feats, chunk_size=chunk_size, as_of=as_of_dt):
        if not len(chunk):
            continue
        Xc, _ = F.design_matrix(chunk, feats, columns)
        with _one_thread():
            scores = 1.0 / (1.0 + np.exp(-(final.decision_function(Xc) - shift)))
        scored += len(scores)
        band_counts += np.histogram(scores, bins=edges)[0]
        keep = scores >= min_score
        keys = chunk[_key_column(chunk, key)].to_numpy(dtype=object)[keep]
        top_keys = np.concatenate([top_keys, keys])
        top_scores = np.concatenate([top_scores, scores[keep]])
        if len(top_scores) > k:  # keep only the best k so memory stays bounded by k + one chunk
            idx = np.argpartition(-top_scores, k - 1)[:k]
            top_keys, top_scores = top_keys[idx], top_scores[idx]
    order = np.lexsort((top_keys.astype(str), -top_scores))
    top_keys, top_scores = top_keys[order], top_scores[order]
    out = Lookalikes(
        pd.DataFrame(
            {
                key: [_plain(v) for v in top_keys],
                "similarity": top_scores,
                "band": [band(s) for s in top_scores],
            }
        )
    )
    out.info = SimilarInfo(
        segment=seed_label,
        target=tgt_label,
        auc=auc,
        importances=importances,
        bands=pd.DataFrame(
            {
                "band": [b[2] for b in BANDS],
                "range": [f"{lo:.2f}-{hi:.2f}" for lo, hi, _ in BANDS],
                "customers": band_counts,
            }
        ),
        scored=scored,
        size=size,
        min_score=min_score,
        include_members=include_members,
        sample_sizes={"members": len(pos), "non_members": len(neg)},
        key=key,
        features=[f.expr for f in feats],
        save=save,
    )
    return out


def _one_thread():
    """Run scikit-learn's OpenMP code on one thread: on a busy machine its spinning worker threads make
    small models 30x slower (measured: 42 s vs 1.3 s for one fit at load 10 on 2 cores)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1)


def _key_column(frame: pd.DataFrame, key: str) -> str:
    for c in frame.columns:
        if str(c).lower() == key.lower():
            return str(c)
    return str(frame.columns[0])


def _importances(
    model: Any, X: np.ndarray, y: np.ndarray, columns: list[F.Column], auc_fn: Any, seed: int
) -> pd.DataFrame:
    """Permutation importance per feature (its indicator columns shuffled together), in held-out AUC."""
    rng = np.random.default_rng(seed)
    base = auc_fn(y, model.decision_function(X))
    groups: dict[str, list[int]] = {}
    for j, c in enumerate(columns):
        groups.setdefault(c.feature.expr, []).append(j)
    rows = []
    for name, cols in groups.items():
        drops = []
        for _ in range(3):
            Xp = X.copy()
            perm = rng.permutation(len(X))
            Xp[:, cols] = X[perm][:, cols]
            drops.append(base - auc_fn(y, model.decision_function(Xp)))
        rows.append({"feature": name, "importance": float(np.mean(drops))})
    frame = pd.DataFrame(rows, columns=["feature", "importance"])
    return frame.sort_values("importance", ascending=False, kind="stable").reset_index(drop=True)
