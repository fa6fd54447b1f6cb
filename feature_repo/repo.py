"""The module the ``feast`` CLI reads (``feast -c feature_repo apply``): every Feast object as a module global.

Feast imports each ``.py`` file of this folder and collects the objects it finds; the objects themselves are built
by :func:`feature_repo.definitions.build_definitions` from the contract in :mod:`feature_repo.views`, the same call
``omniseq features apply`` makes. The offline folder comes from ``OMNISEQ_OFFLINE_DIR`` (default ``run/offline``
relative to the repository root, not the current directory).
"""

import os
from pathlib import Path

from feature_repo.definitions import build_definitions

_REPO_ROOT = Path(__file__).resolve().parent.parent
_offline = Path(os.environ.get("OMNISEQ_OFFLINE_DIR", "run/offline"))
_defs = build_definitions(_offline if _offline.is_absolute() else _REPO_ROOT / _offline)

user, item, store = _defs.entities
user_hybrid_seq_v1 = _defs.feature_views["user_hybrid_seq_v1"]
user_hybrid_seq_v2 = _defs.feature_views["user_hybrid_seq_v2"]
user_online_agg_10m_v1 = _defs.feature_views["user_online_agg_10m_v1"]
user_online_agg_1h_v1 = _defs.feature_views["user_online_agg_1h_v1"]
user_instore_agg_v1 = _defs.feature_views["user_instore_agg_v1"]
sasrec_online = _defs.services["sasrec_online"]
sasrec_online_v2 = _defs.services["sasrec_online_v2"]
store_encoder = _defs.services["store_encoder"]
store_encoder_v2 = _defs.services["store_encoder_v2"]
ranking_context = _defs.services["ranking_context"]
