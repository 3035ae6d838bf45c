"""The CDS Hooks service: the hook's authentication (auth), its answer (service), its cards, and what it keeps (store).

No Flask: `app/web/cds.py` binds it to HTTP.
"""

from .auth import Caller, CdsAuthError, JwksCache, verify
from .cards import Links
from .service import SERVICE_ID, CdsRequestInvalid, PatientView, discovery

__all__ = ["SERVICE_ID", "Caller", "CdsAuthError", "CdsRequestInvalid", "JwksCache", "Links", "PatientView",
           "discovery", "verify"]
