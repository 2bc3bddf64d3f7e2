"""Similar customers (lookalikes): who, outside a segment, looks most like its members.

Model (``ws.similar(segment, target=None, size=0.2)``):

* **Data**: a bounded sample of up to ``sample`` members of the segment and up to ``sample`` customers of
  the audience (``target``, default everyone, minus the members), chosen in the database. A saved segment
  with a recorded ``as_of`` (the RFM segments) is evaluated at that date unless ``as_of`` is given.
* **Features**: ``using``, or ``features.default_features`` (customer attributes, attributes one step up,
  counts and sums over directly related tables) minus two kinds of **leakage**, listed in ``.excluded``:

  - every feature that reads what the segment's definition reads: its attributes, and every relationship
    path it uses (``sum(orders.amount) >= 1000`` leaves out ``count(orders)`` and ``sum(orders.discount)``
    too), followed through saved measures and referenced segments (``Session.bind``'s typed tree);
  - every feature that alone nearly determines membership: a depth-3 tree on that feature only, fitted
    on three quarters of the sample, scores a ROC AUC above ``max_single_auc`` (0.95) on the last quarter
    (``birth_date`` when the definition reads ``age``).

  A model that learns the definition back finds customers who *almost meet the rule*, not customers who
  resemble the members; ``using=[...]`` puts any feature back on purpose. Text becomes indicators of its
  most frequent values, booleans 0/1, dates day numbers, missing numbers stay missing; the key is never
  a feature.
* **Model**: scikit-learn ``HistGradientBoostingClassifier`` (100 trees of at most 15 leaves). The score
  is the model's member probability corrected for the sample's class ratio (prior shift of the log-odds),
  i.e. as if members and non-members were equally common.
* **Quality**: ROC AUC on a stratified held-out quarter of the sample, told in words (``.verdict``).
  Below ``min_auc`` (0.6) the members look like everyone else on the features left: the result is
  *no similar customers* (an empty frame that says why) rather than a confident list. At 0.99 or more the
  members are perfectly separable by the features left, which is said as such (the features left are
  then a near-definition of the segment). Feature importance is the drop in held-out AUC when the
  feature's columns are shuffled (3 repeats). The model is then refitted on the whole sample.
* **Scoring**: every customer of the audience is streamed from the database in chunks and scored; the
  best ``size`` are kept (a fraction of the audience, 0.2 by default, or a number of customers), best
  first, each with its score and band. ``min_score`` filters further only when given.
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

from ..backends.base import plain_rows, plain_value
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
MIN_AUC = 0.6  # below: members look like everyone else on the features left ("no similar customers")
SEPARABLE_AUC = 0.99  # at or above: the features left (almost) define the segment
MAX_SINGLE_AUC = 0.95  # a default feature that alone separates this well is left out (leakage)


def band(score: float) -> str:
    """The band name of a similarity score."""
    for lo, hi, name in BANDS:
        if lo <= score < hi:
            return name
    return BANDS[-1][2]


def quality(auc: float) -> str:
    """The held-out AUC in words."""
    if math.isnan(auc):
        return "not measured"
    if auc >= SEPARABLE_AUC:
        return "perfectly separable"
    if auc >= 0.8:
        return "good"
    if auc >= 0.7:
        return "fair"
    if auc >= MIN_AUC:
        return "weak"
    return "no signal"


@dataclass
class SimilarInfo:
    segment: str
    target: str
    auc: float
    importances: pd.DataFrame
    bands: pd.DataFrame  # every scored customer per band
    scored: int
    size: float | int
    min_score: float | None
    include_members: bool
    sample_sizes: dict[str, int]
    key: str  # the key column(s) as text ("region, account_no" for a composite key)
    features: list[str] = field(default_factory=list)
    excluded: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["feature", "reason"]))
    verdict: str = ""
    audience: int = 0
    as_of: dt.datetime | None = None
    notes: list[str] = field(default_factory=list)
    save: Callable[..., Any] | None = field(default=None, repr=False)  # ws.segment
    keys: tuple[str, ...] = ()  # the key columns, first in the frame


class Lookalikes(pd.DataFrame):
    """The chosen customers (key, similarity, band), best first, with ``.auc``, ``.verdict``,
    ``.importances``, ``.excluded``, ``.bands``, ``.save(name)`` and ``.chart()``. Derived frames are plain
    DataFrames."""

    _metadata = ["info"]
    info: SimilarInfo

    @property
    def _constructor(self):
        return pd.DataFrame

    @property
    def auc(self) -> float:
        return self.info.auc

    @property
    def quality(self) -> str:
        return quality(self.info.auc)

    @property
    def verdict(self) -> str:
        """One sentence: how many were chosen, and how far to trust them."""
        return self.info.verdict

    @property
    def importances(self) -> pd.DataFrame:
        return self.info.importances

    @property
    def excluded(self) -> pd.DataFrame:
        """Features left out of the model (feature, reason): read by the definition, or alone decisive."""
        return self.info.excluded

    @property
    def bands(self) -> pd.DataFrame:
        return self.info.bands

    def definition(self) -> str:
        """A key-list definition of the chosen customers (a snapshot)."""
        keys = list(self.info.keys or (self.info.key,))
        rows = plain_rows(self[keys])
        if not rows:
            return "false"
        return to_text(F.key_list_condition(keys, rows))

    def save(self, name: str, **kwargs: Any) -> Any:
        """Save the chosen customers as a static segment (a snapshot defined by their keys)."""
        save = self.info.save
        if save is None:
            raise SegmentError("saving needs a workspace with a catalog (ws.segment)")
        if not len(self):
            raise SegmentError(f"nothing to save: {self.verdict}")
        description = kwargs.pop("description", None) or (
            f"customers similar to {self.info.segment} (AUC {self.auc:.2f}), snapshot"
        )
        # A static segment stores the members at creation: the key list is only how they are selected.
        return save(name, self.definition(), description=description, type="static", **kwargs)

    def chart(self):
        """Customers per similarity band, and the top feature importances (shown offline; ``.altair``)."""
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
        title = f"Similar to {self.info.segment} (held-out AUC {self.auc:.2f})"
        chart = (
            bands.properties(width=220, title="Scored audience")
            | imp.properties(width=260, title="Importance")
        ).properties(title=title)
        return display.OfflineChart(chart, title)

    def __repr__(self) -> str:
        i = self.info
        lines = [f"Similar to {i.segment} in {i.target}: {self.verdict}"]
        if len(self):
            shown = pd.DataFrame(self).head(10).copy()
            shown["similarity"] = shown["similarity"].round(3)
            lines += ["", shown.to_string(index=False)]
            if len(self) > 10:
                lines.append(f"... {len(self) - 10:,} more")
        if len(i.importances):
            imp = i.importances.head(5).copy()
            imp["importance"] = imp["importance"].round(3)
            lines += ["", "Importance (drop in held-out AUC when shuffled):", imp.to_string(index=False)]
        if len(i.excluded):
            lines += [
                "",
                "Left out of the model (using=[...] puts them back):",
                i.excluded.to_string(index=False),
            ]
        lines += [f"note: {n}" for n in i.notes]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        i = self.info
        title = (
            f"<b>Similar</b> to <code>{html.escape(i.segment)}</code> in {html.escape(i.target)}: "
            f"{html.escape(self.verdict)}"
        )
        parts = []
        if i.scored:
            parts.append(
                display.table(
                    i.bands,
                    bars={"customers": float(i.bands["customers"].max() or 1)},
                    formats={"customers": "{:,}"},
                )
            )
        if len(i.importances):
            parts.append(
                display.table(
                    i.importances.head(8),
                    bars={"importance": float(i.importances["importance"].clip(lower=0).max() or 1)},
                    formats={"importance": "{:.3f}"},
                )
            )
        if len(self):
            parts.append(display.table(pd.DataFrame(self).head(8), formats={"similarity": "{:.3f}"}))
        excluded = ""
        if len(i.excluded):
            excluded = (
                "<div style='color:#777;margin-top:4px'>left out of the model (<code>using=[...]</code> puts "
                "them back):</div>" + display.table(i.excluded)
            )
        notes = "".join(f"<div style='color:#777'>{html.escape(n)}</div>" for n in i.notes)
        return display.card(title, display.row(*parts), excluded, notes)


def similar(
    session: Session,
    catalog: Catalog | None,
    segment: Any,
    target: Any = None,
    *,
    save: Callable[..., Any] | None = None,
    size: float | int = 0.2,
    min_score: float | None = None,
    include_members: bool = False,
    using: Sequence[str] | None = None,
    sample: int = DEFAULT_SAMPLE,
    as_of: Any = None,
    chunk_size: int = 50_000,
    random_state: int = 0,
    min_auc: float = MIN_AUC,
    max_single_auc: float = MAX_SINGLE_AUC,
) -> Lookalikes:
    """Score the audience by similarity to ``segment`` and keep the best (see the module docstring).

    >>> sim = ws.similar("vip")            # the most similar 20% of everyone else
    >>> sim.verdict, sim.excluded          # how far to trust it; what the model was not allowed to use
    """
    try:
        from sklearn.ensemble import HistGradientBoostingClassifier
        from sklearn.metrics import roc_auc_score
        from sklearn.model_selection import train_test_split
        from sklearn.tree import DecisionTreeClassifier
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
    notes: list[str] = []
    if as_of is None and (recorded := F.recorded_as_of(catalog, segment)) is not None:
        as_of = recorded
        notes.append(f"{str(segment).strip()} is evaluated as of {recorded} (recorded with the segment)")
    as_of_dt: dt.datetime = as_datetime(as_of)
    seed, seed_label = F.resolve_definition(session, catalog, segment)
    tgt, tgt_label = (
        (F.everyone(), "everyone") if target is None else F.resolve_definition(session, catalog, target)
    )
    outside = F.except_(tgt, seed)
    audience = (
        F.and_(tgt, seed) if include_members and target is not None else tgt if include_members else outside
    )
    keys = session.model.customer_entity().keys
    key = ", ".join(keys)

    excluded: list[dict[str, str]] = []
    if using is not None:
        feats = F.make_features(session, list(using))
    else:
        feats = []
        read = F.definition_reads(session, seed)
        for f in F.make_features(session, F.default_features(session)):
            shared = read & F.feature_reads(session, f)
            if shared:
                names = sorted({F.describe_read(r) for r in shared}, key=lambda x: (len(x), x))
                excluded.append({"feature": f.expr, "reason": f"the definition reads {names[-1]}"})
            else:
                feats.append(f)
    if not feats:
        raise SegmentError(
            "similar has no feature left: the definition reads every default one; name some with using=[...]"
        )

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
    idx_tr, idx_te = train_test_split(
        np.arange(len(y)), test_size=0.25, stratify=y, random_state=random_state
    )

    # Leakage, second kind: a default feature that alone nearly determines membership.
    if using is None:
        keep_cols: list[int] = []
        for expr, cols in _groups(columns).items():
            tree = DecisionTreeClassifier(max_depth=3, min_samples_leaf=20, random_state=random_state)
            with _one_thread():
                tree.fit(X[np.ix_(idx_tr, cols)], y[idx_tr])
                single = float(roc_auc_score(y[idx_te], tree.predict_proba(X[np.ix_(idx_te, cols)])[:, 1]))
            if single > max_single_auc:
                excluded.append(
                    {"feature": expr, "reason": f"alone separates members (held-out AUC {single:.3f})"}
                )
            else:
                keep_cols += cols
        columns = [columns[j] for j in keep_cols]
        X = X[:, keep_cols]
    excluded_frame = pd.DataFrame(excluded, columns=["feature", "reason"])
    used = list(dict.fromkeys(c.feature.expr for c in columns))

    def model() -> Any:
        return HistGradientBoostingClassifier(
            max_iter=100, learning_rate=0.1, max_leaf_nodes=15, min_samples_leaf=20,
            early_stopping=False, random_state=random_state,
        )  # fmt: skip

    auc = math.nan
    importances = pd.DataFrame(columns=["feature", "importance"])
    if columns:
        with _one_thread():
            held = model().fit(X[idx_tr], y[idx_tr])
            auc = float(roc_auc_score(y[idx_te], held.decision_function(X[idx_te])))
            importances = _importances(held, X[idx_te], y[idx_te], columns, roc_auc_score, random_state)

    n_audience = session.count(A.Definition(audience), as_of=as_of_dt)
    k = math.ceil(size * n_audience) if isinstance(size, float) else int(size)
    info = dict(
        segment=seed_label, target=tgt_label, auc=auc, importances=importances, size=size, min_score=min_score,
        include_members=include_members, sample_sizes={"members": len(pos), "non_members": len(neg)},
        key=key, features=used, excluded=excluded_frame, audience=n_audience, as_of=as_of_dt, notes=notes,
        save=save, keys=keys,
    )  # fmt: skip
    empty_bands = pd.DataFrame(
        {
            "band": [b[2] for b in BANDS],
            "range": [f"{lo:.2f}-{hi:.2f}" for lo, hi, _ in BANDS],
            "customers": np.zeros(len(BANDS), dtype=np.int64),
        }
    )
    if not columns or auc < min_auc:
        why = (
            "every feature left out (see .excluded)"
            if not columns
            else f"on the {len(used)} features left, members look like everyone else "
            f"(held-out ROC AUC {auc:.2f}, below {min_auc:.2f})"
        )
        out = Lookalikes(pd.DataFrame({**{k: [] for k in keys}, "similarity": [], "band": []}))
        out.info = SimilarInfo(**info, bands=empty_bands, scored=0, verdict=f"no similar customers: {why}")
        return out

    with _one_thread():
        final = model().fit(X, y)
    # Prior shift: the score is the member probability as if members and non-members were equally common
    # (the same as class weights "balanced", without weighted binning, which is slow).
    shift = math.log(len(pos) / len(neg))
    top_keys: np.ndarray = np.empty(0, dtype=object)
    top_scores: np.ndarray = np.empty(0, dtype=float)
    edges = [b[0] for b in BANDS] + [1.0 + 1e-9]
    band_counts = np.zeros(len(BANDS), dtype=np.int64)
    scored = 0
    feats_used = [f for f in feats if f.expr in used]
    for chunk in F.iter_frames(session, audience, feats_used, chunk_size=chunk_size, as_of=as_of_dt):
        if not len(chunk):
            continue
        Xc, _ = F.design_matrix(chunk, feats_used, columns)
        with _one_thread():
            scores = 1.0 / (1.0 + np.exp(-(final.decision_function(Xc) - shift)))
        scored += len(scores)
        band_counts += np.histogram(scores, bins=edges)[0]
        keep = scores >= min_score if min_score is not None else np.ones(len(scores), dtype=bool)
        top_keys = np.concatenate([top_keys, _chunk_keys(chunk, keys)[keep]])
        top_scores = np.concatenate([top_scores, scores[keep]])
        if len(top_scores) > k:  # keep only the best k so memory stays bounded by k + one chunk
            idx = np.argpartition(-top_scores, k - 1)[:k]
            top_keys, top_scores = top_keys[idx], top_scores[idx]
    order = np.lexsort((np.array([str(k) for k in top_keys]), -top_scores))  # ties: by the key's text
    top_keys, top_scores = top_keys[order], top_scores[order]
    out = Lookalikes(
        pd.DataFrame(
            {
                **(
                    {keys[0]: [plain_value(v) for v in top_keys]}
                    if len(keys) == 1
                    else {k: [plain_value(t[i]) for t in top_keys] for i, k in enumerate(keys)}
                ),
                "similarity": top_scores,
                "band": [band(s) for s in top_scores],
            }
        )
    )
    bands = empty_bands.assign(customers=band_counts)
    out.info = SimilarInfo(
        **info, bands=bands, scored=scored, verdict=_verdict(len(out), scored, k, auc, min_score, importances)
    )
    return out


def _verdict(
    chosen: int, scored: int, k: int, auc: float, min_score: float | None, importances: pd.DataFrame
) -> str:
    what = f"{chosen:,} of {scored:,} scored customers chosen"
    if scored == 0:
        return f"{what}: the audience is empty"
    if chosen == 0:
        return f"{what}: no score reaches min_score {min_score}"
    if chosen < k and min_score is not None:
        what += f" (min_score {min_score} kept fewer than the {k:,} asked for)"
    q = quality(auc)
    if q == "perfectly separable":
        top = ", ".join(importances["feature"].head(3))
        return (
            f"{what}; held-out ROC AUC {auc:.3f}: members are perfectly separable by {top}, so the "
            f"lookalikes are the customers nearest that boundary, not a looser likeness"
        )
    return f"{what}; held-out ROC AUC {auc:.3f} ({q})"


def _groups(columns: list[F.Column]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = {}
    for j, c in enumerate(columns):
        groups.setdefault(c.feature.expr, []).append(j)
    return groups


def _one_thread():
    """Run scikit-learn's OpenMP code on one thread: on a busy machine its spinning worker threads make
    small models 30x slower (measured: 42 s vs 1.3 s for one fit at load 10 on 2 cores)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1)


def _chunk_keys(chunk: pd.DataFrame, keys: Sequence[str]) -> np.ndarray:
    """The chunk's keys as one object array: values, or tuples for a composite key."""
    columns = [chunk[_key_column(chunk, k)].to_numpy(dtype=object) for k in keys]
    if len(columns) == 1:
        return columns[0]
    out = np.empty(len(chunk), dtype=object)
    for i, key in enumerate(zip(*columns, strict=True)):  # (a slice assignment would unpack the tuples)
        out[i] = key
    return out


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
    rows = []
    for name, cols in _groups(columns).items():
        drops = []
        for _ in range(3):
            Xp = X.copy()
            perm = rng.permutation(len(X))
            Xp[:, cols] = X[perm][:, cols]
            drops.append(base - auc_fn(y, model.decision_function(Xp)))
        rows.append({"feature": name, "importance": float(np.mean(drops))})
    frame = pd.DataFrame(rows, columns=["feature", "importance"])
    return frame.sort_values("importance", ascending=False, kind="stable").reset_index(drop=True)
