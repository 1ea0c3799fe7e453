"""ftp's offline guard in a child interpreter: this folder is on PYTHONPATH in every process
ftp starts while its guard is on (``ftp.offline.install_guard``), so Python runs this file
at startup. It turns the guard on when ``FTP_OFFLINE_GUARD=1``, then runs the
``sitecustomize`` it shadows (the distribution's or a user's), as if this one were not here.
"""

import os
import sys


def _guard() -> None:
    if os.environ.get("FTP_OFFLINE_GUARD") != "1":
        return
    try:
        from ftp.offline import go_offline
    except ImportError:  # another interpreter without ftp: nothing to guard with
        return
    go_offline()


def _chain() -> None:
    import importlib.machinery
    import importlib.util

    here = os.path.dirname(os.path.abspath(__file__))
    rest = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    sys.modules["sitecustomize"] = module
    spec.loader.exec_module(module)


_guard()
_chain()
