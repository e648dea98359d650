"""`make demo`: the local defaults (SQLite, in-process tasks) with DEBUG off.

The demo is what people try the portal with, so it answers like the product: an officer who
opens another officer's application, or a mistyped address, gets the friendly 404 page, not
Django's technical page listing every URL pattern (and, for a 500, settings and local values).
A developer who wants those pages runs the local settings, whose DEBUG stays on.
"""

import os

from credscope_site.config import development_audit_chain_key, development_secret_key

from ._paths import VAR_DIR

# Forced, not defaulted: manage.py or runserver's reloader may already have loaded the local
# settings in this process tree, which set DEBUG=true in the environment the demo inherits.
os.environ["DEBUG"] = "false"
# The random key generated once per machine into var/, as under DEBUG: the demo needs no
# secret of its own, and base.py requires one whenever DEBUG is off.
os.environ.setdefault("SECRET_KEY", development_secret_key(VAR_DIR))
# Likewise the audit chain's key: the same file the local settings use, so the demo's trail,
# written by make demo's set-up commands, verifies under the demo server.
os.environ.setdefault("AUDIT_CHAIN_KEY", development_audit_chain_key(VAR_DIR))
os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost")

from .base import *  # noqa: F403

# Served by WhiteNoise straight from static/ (no collectstatic step in the demo).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
