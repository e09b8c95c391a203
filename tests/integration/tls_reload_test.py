"""Integration: SIGHUP reloads the [tls] certificate and key of the real callsignd. New TLS
connections get the new certificate, a keep-alive connection opened before keeps working, and a
certificate or key that does not load leaves the current pair serving, with an error in the log
that names the file but never shows its content. Each reload is audited as tls.reload by the
admin actor "sighup"."""
import http.client
import os
import shutil
import signal
import socket
import ssl
import sys
import time

from harness import Server, audit_entries, check, mint_token, parse_args
from tls_harness import CERT, KEY, OTHER_CERT, OTHER_KEY, WORK, client_context, run_tls_cases, tls_config

ARGS, _ = parse_args()


def der(path):
    with open(path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def served_certificate(port):
    """The leaf certificate the TLS listener presents to a new connection (DER)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            return tls.getpeercert(binary_form=True)


def install(source, target):
    """As a renewal tool does: written beside the target, then renamed over it."""
    shutil.copyfile(source, target + ".new")
    os.replace(target + ".new", target)


def wait_until(predicate, what, timeout=60):
    """Waits for an event the test caused (never a timing assertion: the limit only ends a hang)."""
    deadline = time.time() + timeout
    while not predicate():
        check(time.time() < deadline, "gave up waiting for %s" % what)
        time.sleep(0.1)


def log_messages(server):
    return [r.get("msg") for r in server.log_records()]


def test_sighup_reloads_the_certificate():
    live_cert = os.path.join(WORK, "live-cert.pem")
    live_key = os.path.join(WORK, "live-key.pem")
    install(CERT, live_cert)
    install(KEY, live_key)
    server = Server(ARGS.callsignd, tls_config(cert=live_cert, key=live_key), tls=True)
    try:
        check(served_certificate(server.tls_port) == der(CERT), "the first certificate is not served")
        before = http.client.HTTPSConnection("127.0.0.1", server.tls_port, timeout=30, context=client_context())
        before.request("GET", "/healthz")
        response = before.getresponse()
        check(response.status == 200 and response.read(), "healthz before the reload")

        install(OTHER_CERT, live_cert)
        install(OTHER_KEY, live_key)
        server.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: served_certificate(server.tls_port) == der(OTHER_CERT), "the new certificate")
        check("tls certificate reloaded" in log_messages(server), "no reload line: %r" % log_messages(server))
        # The connection opened before the reload keeps its session and keeps working.
        before.request("GET", "/healthz")
        response = before.getresponse()
        check(response.status == 200 and response.read(), "keep-alive healthz after the reload")
        before.close()

        # A key that does not belong to the certificate, then a certificate file that is not one:
        # each is refused, and the pair loaded last keeps serving.
        refused = "tls certificate not reloaded; the current one keeps serving"
        install(KEY, live_key)
        server.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: log_messages(server).count(refused) == 1, "the mismatched key refused")
        garbage = "not a certificate " + os.urandom(8).hex()
        with open(live_cert, "w") as f:
            f.write(garbage)
        install(OTHER_KEY, live_key)
        server.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: log_messages(server).count(refused) == 2, "the broken certificate refused")
        errors = [r for r in server.log_records() if r.get("msg") == refused]
        check("does not match" in errors[0].get("error", "") and "cert_file" in errors[1].get("error", ""),
              "error lines: %r" % errors)
        check(all(garbage not in str(r) for r in server.log_records()), "the log shows the file's content")
        check(served_certificate(server.tls_port) == der(OTHER_CERT), "a refused pair replaced the serving one")
        # The journal has the three reloads; nothing waits for those entries, so wait for them.
        admin = mint_token(ARGS.callsign, server.data_dir, "admin", "tls-admin")

        def reloads():
            return [e for e in audit_entries(server, admin) if e["action"] == "tls.reload"]
        wait_until(lambda: len(reloads()) == 3, "three tls.reload audit entries")
        entries = reloads()
        check([e["outcome"] for e in entries] == ["reloaded", "rejected", "rejected"], "outcomes %r" % entries)
        check(all(e["actor_type"] == "admin" and e["actor_id"] == "sighup" for e in entries), "actors %r" % entries)
        check(entries[0]["details"].get("subject") and entries[0]["details"].get("not_after"), "%r" % entries[0])
        check("does not match" in entries[1]["details"]["error"] and "cert_file" in entries[2]["details"]["error"],
              "errors %r" % entries[1:])
        check(all(garbage not in str(e) for e in entries), "the journal shows the file's content")
        check(server.proc.poll() is None, "callsignd exited")
    finally:
        server.stop()
        server.cleanup()


CASES = [
    ("sighup_reloads_the_certificate", test_sighup_reloads_the_certificate),
]

if __name__ == "__main__":
    sys.exit(run_tls_cases(CASES))
