"""SMART App Launch 2.0, client side: discovery, OAuth with PKCE (Authlib), id_token, user context, sessions."""

from .errors import LaunchError, SessionExpired
from .launch import Launched, Launcher, LaunchOptions
from .registration import Registration, load_registration
from .sessions import Sealer, Session, SessionStore

__all__ = ["LaunchError", "Launched", "Launcher", "LaunchOptions", "Registration", "Sealer", "Session",
           "SessionExpired", "SessionStore", "load_registration"]
