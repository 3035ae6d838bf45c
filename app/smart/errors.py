"""What can go wrong in a SMART launch, each with a message a clinician can act on (no tokens, no PHI)."""


class LaunchError(Exception):
    """A launch could not complete. `message` is shown to the user; `code` goes to logs and audit."""

    code = "launch_failed"
    status = 400
    message = "Sepsis Sentinel could not be opened. Please open it again from the patient's chart."

    def __init__(self, message: str | None = None, *, detail: str = ""):
        super().__init__(message or self.message)
        if message:
            self.message = message
        self.detail = detail  # for logs: never tokens or PHI


class IssNotAllowed(LaunchError):
    code = "iss_not_allowed"
    status = 403
    message = ("This EHR is not registered with Sepsis Sentinel at this site. "
               "Ask your deployment team to add its FHIR address to the allow-list.")


class DiscoveryFailed(LaunchError):
    code = "discovery_failed"
    status = 502
    message = "The EHR's SMART configuration could not be read. Please try again, or contact the deployment team."


class StateInvalid(LaunchError):
    code = "state_invalid"
    status = 400
    message = ("This sign-in link is not valid any more (it was already used, has expired, or was started in "
               "another browser). Please open Sepsis Sentinel again from the patient's chart.")


class AuthorizationDenied(LaunchError):
    code = "authorization_denied"
    status = 403
    message = "The EHR did not authorize Sepsis Sentinel. Please open it again from the patient's chart."


class TokenExchangeFailed(LaunchError):
    code = "token_exchange_failed"
    status = 502
    message = "The EHR refused to complete sign-in. Please open Sepsis Sentinel again from the patient's chart."


class IdTokenInvalid(LaunchError):
    code = "id_token_invalid"
    status = 403
    message = ("Your identity from the EHR could not be verified, so Sepsis Sentinel did not open. "
               "Please open it again; if this keeps happening, contact the deployment team.")


class ContextMissing(LaunchError):
    code = "context_missing"
    status = 400
    message = "The EHR did not say which patient is open. Please open Sepsis Sentinel from a patient's chart."


class TooManyLaunches(LaunchError):
    """More launches begun and not finished than the site allows (from this address, or in all): a flood of
    unauthenticated /launch requests must not fill the database."""

    code = "too_many_launches"
    status = 429
    message = ("Too many sign-ins were started from this computer and not finished. Please wait a few minutes, "
               "then open Sepsis Sentinel again from the patient's chart.")


class SessionExpired(LaunchError):
    code = "session_expired"
    status = 401
    message = "Your Sepsis Sentinel session has ended. Please open it again from the patient's chart."


class NotForPatients(LaunchError):
    """The signed-in user is a Patient or RelatedPerson: the app is a clinical tool and opens no session."""

    code = "not_for_patients"
    status = 403
    title = "Sepsis Sentinel is for the care team"
    relaunch = False
    message = ("Sepsis Sentinel helps the nurses and doctors caring for a patient in hospital: it shows a sepsis "
               "risk estimate and treatment steps that need a clinician to interpret them. It is not available to "
               "patients or their family. If you have a question about your care, or a relative's, please ask "
               "the care team.")


class BackendError(LaunchError):
    """SMART Backend Services (the screening's system access) failed. Nobody is at a screen when it happens, so the
    message is for the deployment team. `temporary` says whether trying again later may work (network, 5xx) or
    someone has to fix a registration, a key or a setting first."""

    code = "backend_failed"
    status = 502
    temporary = False
    message = ("Sepsis Sentinel could not get access to the EHR for background screening. "
               "Ask the deployment team to check the backend client registration.")


class BackendKeyInvalid(BackendError):
    code = "backend_key_invalid"
    message = ("The background screening's signing key is missing or unusable. Ask the deployment team to set "
               "SENTINEL_BACKEND_KEY_FILE or SENTINEL_BACKEND_KEY.")


class BackendUnsupported(BackendError):
    code = "backend_unsupported"
    message = ("The EHR does not offer SMART Backend Services with signed assertions (private_key_jwt, ES384 or "
               "RS384), so background screening cannot run. Ask the EHR team to enable it.")


class BackendTokenRefused(BackendError):
    code = "backend_token_refused"
    message = ("The EHR refused the background screening's access request. Ask the deployment team to check the "
               "client id, the registered JWKS URL and the granted system scopes.")


class BackendTokenUnavailable(BackendError):
    code = "backend_token_unavailable"
    temporary = True
    message = "The EHR's token endpoint could not be reached; background screening will try again."
