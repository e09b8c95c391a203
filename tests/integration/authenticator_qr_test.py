"""Integration: the QR code of an authenticator enrollment (POST /v1/me/authenticator, `qr_svg`)
decodes to exactly the `otpauth_uri` of the same reply. The SVG is rendered by rsvg-convert
(Debian librsvg2-bin) and decoded by zbarimg (Debian zbar-tools), neither of them callsign code.
Users with short and long ids and emails give QR codes of different versions; a re-enrollment's
new QR code decodes to its new URI, not the old one."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile

from harness import Server, bearer, check, json_headers, mint_token, parse_args, run_cases

ARGS, _ = parse_args()


def decode_svg(svg, work, name):
    """The text zbarimg reads from `svg` rendered to PNG (white background, 8 px per unit)."""
    svg_path = os.path.join(work, name + ".svg")
    png_path = os.path.join(work, name + ".png")
    with open(svg_path, "w") as f:
        f.write(svg)
    out = subprocess.run(["rsvg-convert", "--format", "png", "--zoom", "8", "--background-color", "white",
                          "--output", png_path, svg_path], capture_output=True, text=True, timeout=60)
    check(out.returncode == 0, "rsvg-convert: %s" % out.stderr)
    out = subprocess.run(["zbarimg", "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", png_path],
                         capture_output=True, timeout=60)
    check(out.returncode == 0, "zbarimg found no QR code (exit %d): %s" % (out.returncode, out.stderr.decode()))
    return out.stdout.decode("utf-8").rstrip("\n")


def enroll(server, token):
    status, _, body = server.json("POST", "/v1/me/authenticator", headers=bearer(token))
    check(status == 201, "enroll: %d %r" % (status, body))
    return body


def test_qr_decodes_to_otpauth_uri():
    server = Server(ARGS.callsignd, "")
    work = tempfile.mkdtemp(prefix="callsign-qr-")
    try:
        admin = mint_token(ARGS.callsign, server.data_dir, "admin", "ops-1")
        people = [("qr-a", "a@example.com"),
                  ("qr-customer-with-a-much-longer-identifier-0123456789",
                   "first.middle.last+support-tag@customers.example.org")]
        uris = set()
        for user, email in people:
            status, _, body = server.json("PUT", "/v1/users/" + user, json.dumps({"email": email, "phone_support": True}),
                                          json_headers(admin))
            check(status in (200, 201), "PUT user %s: %d %r" % (user, status, body))
            customer = mint_token(ARGS.callsign, server.data_dir, "customer", user)
            for attempt in range(2):  # enrolling again replaces the pending secret and its QR code
                reply = enroll(server, customer)
                decoded = decode_svg(reply["qr_svg"], work, "%s-%d" % (user[:8], attempt))
                check(decoded == reply["otpauth_uri"],
                      "QR of %s decodes to %r, the reply's URI is %r" % (user, decoded, reply["otpauth_uri"]))
                check(decoded.startswith("otpauth://totp/") and "secret=" + reply["secret"] in decoded,
                      "decoded URI %r lacks the secret" % decoded)
                uris.add(decoded)
        check(len(uris) == 2 * len(people), "two enrollments decoded to the same URI")
    finally:
        shutil.rmtree(work, ignore_errors=True)
        code = server.stop(signal.SIGTERM)
        server.cleanup()
        check(code == 0, "callsignd exited with %s" % code)


if __name__ == "__main__":
    for tool, package in (("rsvg-convert", "librsvg2-bin"), ("zbarimg", "zbar-tools")):
        if shutil.which(tool) is None:
            print("FAIL: %s is not installed (Debian %s; ./tools/setup test)" % (tool, package))
            sys.exit(1)
    sys.exit(run_cases([("qr_decodes_to_otpauth_uri", test_qr_decodes_to_otpauth_uri)]))
