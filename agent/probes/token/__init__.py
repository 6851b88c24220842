"""token: digital-signature USB tokens (PKCS#11), their certificates, the signing middleware, the CA's
OCSP/CRL endpoints — everything that must work for a commune officer to sign a document.

Reads only public objects: no PIN, no login, no private key is ever touched. The only data that leaves
the machine is the metadata below; ``hash_names: true`` replaces subject names and token labels by a
salted hash. OCSP requests carry only the certificate's serial and its issuer's hashes.

Measurements (tag ``module`` = configured module name everywhere):

- ``token_module`` (tags module, path): loaded (1/0), slots, tokens (present and initialised),
  ca_certs (certificates in the CA bundle), plus result/ok/reason.
  Result codes: ok; module_not_found (no file at path); module_error (the library failed to load or
  answer); module_timeout; module_busy (the previous round is still stuck in the library);
  ca_bundle_error (the configured CA bundle cannot be read).
- ``token`` (tags module, token = label, serial, reader = slot description): present (1/0),
  certificates (end-entity certificates on the token), plus result/ok/reason. When no token is
  present the module gets one point with present=0 and only the ``module`` tag.
  Result codes: ok; no_token; no_certificate.
- ``token_cert`` (tags module, token, subject = common name, issuer = issuer common name, serial = hex):
  not_before, not_after (unix seconds, int), days_left (float, negative when expired), expired (1/0),
  can_sign (1/0: key usage allows digitalSignature or nonRepudiation), chain_valid (1/0, only when a
  CA bundle is configured), key_usage (text), ocsp_url, crl_url (text, first of each), plus
  result/ok/reason. Result codes: ok; expired; not_yet_valid; chain_invalid; bad_certificate.
- ``token_endpoint`` (tags module, kind = ocsp|crl, url, and serial for ocsp): response_ms,
  first_byte_ms (float), status_code (int), ocsp_response (text: successful, unauthorized, ...),
  cert_status (text: good, revoked, unknown), plus result/ok/reason. Result codes: ok; revoked;
  ocsp_error (the responder answered but not "successful"); bad_response; http_status; timeout;
  dns_error; connect_refused; connect_error; reset.
- ``token_middleware`` (tags name, and port when configured): process_running (1/0, when a process
  is configured), port_open (1/0, when a port is configured), connect_ms, plus result/ok/reason.
  Result codes: ok; process_not_running; port_closed; port_timeout.

On Windows, when no module is configured, certificates of the current user's personal store ("MY")
are reported as ``token_cert`` points with module=windows-store (untested here: no Windows in CI).

The PC's clock, which signing also needs, is checked by the ``clock`` probe (agent.probes.clock).
"""

from agent.probes.token.config import Middleware, TokenConfig, TokenModule
from agent.probes.token.probe import TokenProbe
from agent.probes.token.results import TokenResult

__all__ = ["Middleware", "TokenConfig", "TokenModule", "TokenProbe", "TokenResult"]
