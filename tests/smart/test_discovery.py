import pytest
import requests
import responses

from app.smart import discovery
from app.smart.errors import DiscoveryFailed, IssNotAllowed

ISS = "https://ehr.example.org/fhir"
CONFIG = {"authorization_endpoint": "https://ehr.example.org/auth/authorize",
          "token_endpoint": "https://ehr.example.org/auth/token", "issuer": "https://ehr.example.org/fhir",
          "jwks_uri": "https://ehr.example.org/auth/jwks", "code_challenge_methods_supported": ["S256"],
          "capabilities": ["launch-ehr", "client-public"]}


@pytest.fixture(autouse=True)
def _empty_cache():
    discovery._CACHE.clear()


def test_iss_must_be_on_the_allow_list():
    with pytest.raises(IssNotAllowed) as err:
        discovery.check_iss("https://attacker.example/fhir", (ISS,), require_https=True)
    assert "not registered" in err.value.message
    assert discovery.check_iss(ISS + "/", (ISS,), require_https=True) == ISS


def test_production_refuses_plain_http_iss():
    with pytest.raises(IssNotAllowed, match="not HTTPS"):
        discovery.check_iss("http://ehr.example.org/fhir", ("http://ehr.example.org/fhir",), require_https=True)


@responses.activate
def test_discovery_reads_endpoints():
    responses.get(f"{ISS}/.well-known/smart-configuration", json=CONFIG)
    config = discovery.discover(ISS, requests.Session(), (1, 1), require_https=True)
    assert config.token_endpoint == CONFIG["token_endpoint"]
    assert config.jwks_uri == CONFIG["jwks_uri"]
    assert discovery.SmartConfiguration.from_dict(config.as_dict()) == config


@responses.activate
@pytest.mark.parametrize("doc", [
    {**CONFIG, "code_challenge_methods_supported": ["plain"]},
    {k: v for k, v in CONFIG.items() if k != "token_endpoint"},
    {**CONFIG, "authorization_endpoint": "javascript:alert(1)"},
    {**CONFIG, "token_endpoint": "http://ehr.example.org/token"},
    ["not", "an", "object"],
])
def test_discovery_refuses_unsafe_or_broken_configuration(doc):
    responses.get(f"{ISS}/.well-known/smart-configuration", json=doc)
    with pytest.raises(DiscoveryFailed):
        discovery.discover(ISS, requests.Session(), (1, 1), require_https=True)


@responses.activate
def test_discovery_down_is_a_clear_error():
    responses.get(f"{ISS}/.well-known/smart-configuration", body=requests.ConnectionError("refused"))
    with pytest.raises(DiscoveryFailed) as err:
        discovery.discover(ISS, requests.Session(), (1, 1), require_https=True)
    assert "could not be read" in err.value.message
