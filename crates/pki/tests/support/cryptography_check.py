# Parses PKI files with Python `cryptography` (a strict DER parser that is not ours) and prints what
# it read as JSON, for crates/pki/tests/der_validity.rs to compare with the ledger.
#
# Argument: a JSON list of jobs, each {"kind": "cert"|"crl"|"key", "path": ..., plus
#   "issuer": path of the issuer's certificate (cert, crl), "password": ... and "cert": ... (key)}.
# Output: a JSON list with one object per job: {"path", "error"} when cryptography refused the file,
# else the facts below. Every extension is read (cryptography parses them lazily), and every
# signature is checked against the issuer's key. A warning (cryptography warns about what it will
# refuse in a later release, such as a serial that is not positive) counts as a refusal.
import json
import sys
import warnings

from cryptography import x509
from cryptography.hazmat.primitives import serialization


def load_certs(path):
    with open(path, "rb") as f:
        return x509.load_pem_x509_certificates(f.read())


def extensions(exts):
    # Reading .value of every extension forces cryptography to parse it.
    return [
        {"oid": e.oid.dotted_string, "critical": e.critical, "value": repr(e.value)} for e in exts
    ]


def cert_facts(job):
    chain = load_certs(job["path"])
    issuer = load_certs(job["issuer"])[0] if "issuer" in job else None
    out = []
    for i, cert in enumerate(chain):
        # A chain file is leaf first, then its issuer; its last certificate is signed by "issuer".
        signer = chain[i + 1] if i + 1 < len(chain) else issuer
        if signer is not None:
            cert.verify_directly_issued_by(signer)
        try:
            bc = cert.extensions.get_extension_for_class(x509.BasicConstraints)
            basic = {"ca": bc.value.ca, "path_length": bc.value.path_length, "critical": bc.critical}
        except x509.ExtensionNotFound:
            basic = None
        out.append(
            {
                "serial": format(cert.serial_number, "x"),
                "subject": cert.subject.rfc4514_string(),
                "basic_constraints": basic,
                "extensions": extensions(cert.extensions),
                "signature_checked": signer is not None,
            }
        )
    return {"certificates": out}


def crl_facts(job):
    with open(job["path"], "rb") as f:
        crl = x509.load_pem_x509_crl(f.read())
    issuer = load_certs(job["issuer"])[0]
    revoked = []
    for entry in crl:
        try:
            reason = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason.name
        except x509.ExtensionNotFound:
            reason = None
        revoked.append(
            {
                "serial": format(entry.serial_number, "x"),
                "reason": reason,
                "extensions": extensions(entry.extensions),
            }
        )
    number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    aki = crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    return {
        "number": number,
        "signature_valid": crl.is_signature_valid(issuer.public_key()),
        "aki_is_issuer_ski": aki == ski,
        "extensions": extensions(crl.extensions),
        "revoked": revoked,
    }


def key_facts(job):
    password = job.get("password")
    with open(job["path"], "rb") as f:
        key = serialization.load_pem_private_key(
            f.read(), password=password.encode() if password is not None else None
        )
    spki = serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    cert = load_certs(job["cert"])[0]
    return {"matches_cert": key.public_key().public_bytes(*spki) == cert.public_key().public_bytes(*spki)}


def main():
    warnings.simplefilter("error")
    jobs = json.loads(sys.argv[1])
    results = []
    for job in jobs:
        facts = {"cert": cert_facts, "crl": crl_facts, "key": key_facts}[job["kind"]]
        try:
            result = facts(job)
        except Exception as e:  # the refusal itself is the result
            result = {"error": f"{type(e).__name__}: {e}"}
        result["path"] = job["path"]
        results.append(result)
    json.dump(results, sys.stdout)


main()
