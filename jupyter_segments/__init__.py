"""jupyter-segments: customer segmentation in notebooks, compiled to SQL for your own database.

>>> import jupyter_segments as js
>>> ws = js.connect("duckdb:///shop.duckdb")
>>> ws.customers("customers", key="customer_id")
>>> ws.count("sum(orders.amount) >= 1000")
"""

from .errors import SegmentError
from .workspace import Workspace, connect, connect_demo

__version__ = "0.1.0"
__all__ = ["SegmentError", "Workspace", "connect", "connect_demo", "load_ipython_extension"]


def load_ipython_extension(ipython):  # pragma: no cover - exercised through IPython in tests
    """``%load_ext jupyter_segments``."""
    # Late: the magics load IPython, which `import jupyter_segments` outside a notebook does not need.
    from .magics import load_ipython_extension as load

    load(ipython)
