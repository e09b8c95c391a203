#!/usr/bin/env python3
"""The Debian package (issue 20): tools/package packages the tree under test (--build-dir, no
second build), dpkg-deb -c and -I show what the package must hold, dpkg -x unpacks it into a temp
root, and the unpacked callsignd serves /readyz and the unpacked web pages from a temp state
directory, then exits 0 on SIGTERM."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from harness import Server, check, parse_args, run_cases  # noqa: E402

ARGS, REST = parse_args()
BUILD = REST[REST.index("--build-dir") + 1]
SOURCE = REST[REST.index("--source-dir") + 1]
WORK = tempfile.mkdtemp(prefix="callsign-package-")
STATE = {}

# Libraries every Debian system has; the sanitizer runtimes only come with the ASan tree under test.
BASE = {"libc6", "libstdc++6", "libgcc-s1"}
SANITIZER_RUNTIMES = {"libasan8", "libubsan1"}


def run(*cmd, **kw):
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, **kw)
    check(out.returncode == 0, "%s failed (%d): %s%s" % (" ".join(cmd), out.returncode, out.stdout[-2000:],
                                                         out.stderr[-2000:]))
    return out.stdout


def runtime_packages():
    names = set()
    with open(os.path.join(SOURCE, "tools", "packages.txt")) as f:
        for line in f:
            fields = line.split()
            if len(fields) >= 2 and fields[0] == "runtime":
                names.add(fields[1])
    return names


def build_package():
    out = run(os.path.join(SOURCE, "tools", "package"), "--build-dir", BUILD, "--out", os.path.join(WORK, "out"))
    deb = out.strip().splitlines()[-1]
    check(re.fullmatch(r".*/callsign_[0-9.]+_[a-z0-9]+\.deb", deb) and os.path.isfile(deb), "no .deb: %r" % out)
    STATE["deb"] = deb
    print("     %s: %d KiB" % (os.path.basename(deb), os.path.getsize(deb) // 1024), flush=True)


def contents():
    listing = run("dpkg-deb", "-c", STATE["deb"])
    entries = {}
    for line in listing.splitlines():
        fields = line.split()
        entries[fields[5].split(" -> ")[0]] = (fields[0], fields[1])
    for path, mode in [("./usr/bin/callsignd", "-rwxr-xr-x"), ("./usr/bin/callsign", "-rwxr-xr-x"),
                       ("./etc/callsign/callsign.toml", "-rw-r--r--"),
                       ("./lib/systemd/system/callsign.service", "-rw-r--r--"),
                       ("./usr/share/callsign/web/dashboard.html", "-rw-r--r--"),
                       ("./usr/share/callsign/web/static/common.js", "-rw-r--r--"),
                       ("./usr/share/doc/callsign/nginx/login-gate.conf", "-rw-r--r--"),
                       ("./usr/share/doc/callsign/operations.md", "-rw-r--r--"),
                       ("./usr/share/doc/callsign/copyright", "-rw-r--r--")]:
        check(path in entries, "the package lacks %s" % path)
        check(entries[path] == (mode, "root/root"), "%s is %s, expected %s root/root" % (path, entries[path], mode))
    # Nothing but the documented trees: no build directory or staging path leaked in.
    roots = ("./usr/bin/callsignd", "./usr/bin/callsign", "./usr/share/callsign/", "./usr/share/doc/callsign/",
             "./etc/callsign/", "./lib/systemd/system/callsign.service")
    strays = [p for p in entries if not any(p.startswith(r) or r.startswith(p) for r in roots)]
    check(not strays, "unexpected paths in the package: %s" % strays[:5])


def control():
    info = run("dpkg-deb", "-I", STATE["deb"])
    fields = dict(re.findall(r"^ ([A-Za-z-]+): (.*)$", info, re.M))
    check(fields.get("Package") == "callsign", "Package: %r" % fields.get("Package"))
    depends = [d.strip() for d in fields.get("Depends", "").split(",") if d.strip()]
    names = {d.split()[0] for d in depends}
    # dpkg-shlibdeps writes versioned library dependencies; nobody types "libc6 (>= 2.3x)" by hand.
    check(any(re.fullmatch(r"libc6 \(>= [0-9.]+\)", d) for d in depends), "no computed libc6 dependency: %s" % depends)
    for needed in ("adduser", "libsystemd0", "librocksdb7.8", "libssl3"):
        check(needed in names, "Depends lacks %s: %s" % (needed, depends))
    # The package and the Dockerfile read one list: every library the package depends on is a
    # `runtime` package of tools/packages.txt (what the image installs).
    unlisted = sorted(names - runtime_packages() - BASE - SANITIZER_RUNTIMES - {"adduser"})
    check(not unlisted, "Depends names packages tools/packages.txt does not list as runtime: %s" % unlisted)
    control_dir = os.path.join(WORK, "control")
    run("dpkg-deb", "-e", STATE["deb"], control_dir)
    with open(os.path.join(control_dir, "conffiles")) as f:
        check(f.read().split() == ["/etc/callsign/callsign.toml"], "conffiles is not the example config alone")
    for script in ("postinst", "prerm", "postrm"):
        path = os.path.join(control_dir, script)
        check(os.access(path, os.X_OK), "%s is missing or not executable" % script)
        run("sh", "-n", path)
    with open(os.path.join(control_dir, "postinst")) as f:
        check("adduser --system" in f.read(), "postinst does not create the callsign system user")


def installed_server_answers():
    root = os.path.join(WORK, "root")
    run("dpkg", "-x", STATE["deb"], root)
    with open(os.path.join(root, "etc", "callsign", "callsign.toml")) as f:
        config = f.read()
    check('web_root = "/usr/share/callsign/web"' in config, "the example config does not name the packaged pages")
    # The unpacked root stands in for /: the pages come from it, the state from a temp dir.
    config = config.replace('"/usr/share/callsign/web"', '"%s/usr/share/callsign/web"' % root)
    server = Server(os.path.join(root, "usr", "bin", "callsignd"), config_text=config,
                    data_dir=os.path.join(WORK, "state"))
    try:
        status, _, body = server.request("GET", "/readyz")
        check(status == 200 and b"ready" in body, "/readyz: %d %r" % (status, body[:200]))
        status, _, body = server.request("GET", "/")
        check(status == 200 and b"<html" in body.lower(), "the packaged dashboard page: %d" % status)
        check(os.path.isfile(os.path.join(WORK, "state", "master.key")), "no master.key in the state dir")
    finally:
        server.cleanup()
    out = subprocess.run([os.path.join(root, "usr", "bin", "callsign"), "--help"], capture_output=True, text=True)
    check(out.returncode == 0 and "keys" in out.stdout + out.stderr, "the packaged callsign --help: %d" % out.returncode)


try:
    code = run_cases([("tools/package --build-dir makes a .deb", build_package),
                      ("dpkg-deb -c: binaries, pages, config, unit, docs", contents),
                      ("dpkg-deb -I: computed Depends, conffiles, maintainer scripts", control),
                      ("the unpacked callsignd answers /readyz and serves its pages", installed_server_answers)])
finally:
    shutil.rmtree(WORK, ignore_errors=True)
sys.exit(code)
