"""How the page's static files are stored for serving: WhiteNoise's compressed manifest
storage, with ES module imports rewritten too.

The page's scripts are ES modules importing one another (`import ... from "./i18n.js"`).
Under hashed names (`app.3f2a....js`) those relative imports must name the hashed files as
well, or the browser would load the unhashed (and never-expiring) ones; Django's manifest
storage rewrites them when asked.
"""
from __future__ import annotations

from whitenoise.storage import CompressedManifestStaticFilesStorage


class HashedCompressedStaticFiles(CompressedManifestStaticFilesStorage):
    support_js_module_import_aggregation = True
