"""Integration: the audit journal's signed checkpoints (docs/audit.md, "Checkpoints") verified by
an Ed25519 implementation that is not callsign's: the openssl CLI (`openssl pkeyutl -verify
-rawin`, OpenSSL 3).

Everything is rebuilt from the documents, without callsign code:
- the checkpoint records are read from RocksDB's write-ahead log after a clean stop (a fresh
  database's WAL is not flushed on close; the records are uncompressed JSON there);
- the public key comes from the seed HMAC-SHA256(master_v, "callsign audit-checkpoint" || 0x00)
  of master.key, wrapped as a PKCS#8 Ed25519 key for `openssl pkey -pubout`;
- the signed message is "callsign audit checkpoint" || be64(seq) || entry_hash (32 raw bytes),
  and entry_hash must be the hash `callsign audit export` shows for that entry.
A flipped byte in the message, in the signature, or a key of the wrong label is refused by openssl."""
import glob
import hashlib
import hmac
import json
import os
import re
import signal
import struct
import subprocess
import sys

from harness import Server, check, cli, json_headers, master_key, mint_token, parse_args, run_cases

ARGS, _ = parse_args()
CHECKPOINT = re.compile(rb'\{"v":1,"seq":(\d+),"entry_hash":"([0-9a-f]{64})","time":\d+,"key_version":(\d+),'
                        rb'"signature":"([0-9a-f]{128})"\}')
PKCS8_ED25519_PREFIX = bytes.fromhex("302e020100300506032b657004220420")  # RFC 8410 private key, 32-byte seed follows


def openssl(*args):
    return subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=60)


def public_key_pem(seed, work, name):
    """The Ed25519 public key (PEM file) of `seed`, derived by openssl."""
    der = os.path.join(work, name + ".der")
    pem = os.path.join(work, name + ".pub.pem")
    with open(der, "wb") as f:
        f.write(PKCS8_ED25519_PREFIX + seed)
    out = openssl("pkey", "-inform", "DER", "-in", der, "-pubout", "-out", pem)
    os.remove(der)
    check(out.returncode == 0, "openssl pkey: %s" % out.stderr)
    return pem


def openssl_verifies(pub, message, signature, work):
    msg_path, sig_path = os.path.join(work, "message.bin"), os.path.join(work, "signature.bin")
    with open(msg_path, "wb") as f:
        f.write(message)
    with open(sig_path, "wb") as f:
        f.write(signature)
    out = openssl("pkeyutl", "-verify", "-pubin", "-inkey", pub, "-rawin", "-in", msg_path, "-sigfile", sig_path)
    if out.returncode == 0:
        check("Signature Verified Successfully" in out.stdout, "openssl exit 0 without success: %r" % out.stdout)
        return True
    check("Signature Verification Failure" in out.stdout + out.stderr, "openssl failed otherwise: %r %r"
          % (out.stdout, out.stderr))
    return False


def flipped(data, index):
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1:]


def test_checkpoints_verify_with_openssl():
    server = Server(ARGS.callsignd, "[audit]\ncheckpoint_every = 4\n")
    try:
        admin = mint_token(ARGS.callsign, server.data_dir, "admin", "ops-1")
        for i in range(10):
            status, _, body = server.json("PUT", "/v1/users/cp-%d" % i,
                                          json.dumps({"email": "cp-%d@example.com" % i, "phone_support": True}),
                                          json_headers(admin))
            check(status in (200, 201), "PUT user: %d %r" % (status, body))
        code = server.stop(signal.SIGTERM)  # a clean stop signs a final checkpoint (seq 10)
        check(code == 0, "callsignd exited with %s" % code)

        out = cli(ARGS.callsign, "audit", "export", "--data-dir", server.data_dir)
        check(out.returncode == 0, "audit export: %s" % out.stderr)
        hashes = {}
        for line in out.stdout.splitlines():
            entry = json.loads(line)
            hashes[entry["seq"]] = entry["hash"]
        check(sorted(hashes) == list(range(1, 11)), "exported seqs %r" % sorted(hashes))

        checkpoints = {}
        for path in glob.glob(os.path.join(server.data_dir, "db", "*.log")):
            with open(path, "rb") as f:
                for found in CHECKPOINT.finditer(f.read()):
                    seq, entry_hash, version, signature = found.groups()
                    checkpoints[int(seq)] = (entry_hash.decode(), int(version), bytes.fromhex(signature.decode()))
        # Every 4 entries, and the final one of the clean stop.
        check(sorted(checkpoints) == [4, 8, 10], "checkpoints found in the WAL at seqs %r" % sorted(checkpoints))

        pub = public_key_pem(hmac.new(master_key(server.data_dir, 1), b"callsign audit-checkpoint\x00",
                                      hashlib.sha256).digest(), server.tmp, "checkpoint-v1")
        wrong_label = public_key_pem(hmac.new(master_key(server.data_dir, 1), b"callsign audit-checkpoint",
                                              hashlib.sha256).digest(), server.tmp, "no-separator")
        for seq, (entry_hash, version, signature) in sorted(checkpoints.items()):
            check(version == 1, "checkpoint %d names key version %d" % (seq, version))
            check(entry_hash == hashes[seq], "checkpoint %d entry_hash is not the exported entry's hash" % seq)
            message = b"callsign audit checkpoint" + struct.pack(">Q", seq) + bytes.fromhex(entry_hash)
            check(openssl_verifies(pub, message, signature, server.tmp), "openssl refused checkpoint %d" % seq)
            # Refusals: each part of the message, the signature's halves (R and S), another key.
            for index in (0, len(message) - 40, len(message) - 33, len(message) - 1):
                check(not openssl_verifies(pub, flipped(message, index), signature, server.tmp),
                      "openssl accepted checkpoint %d with message byte %d flipped" % (seq, index))
            for index in (0, 31, 32, 63):  # R is bytes 0-31, S 32-63
                check(not openssl_verifies(pub, message, flipped(signature, index), server.tmp),
                      "openssl accepted checkpoint %d with signature byte %d flipped" % (seq, index))
            check(not openssl_verifies(wrong_label, message, signature, server.tmp),
                  "openssl accepted checkpoint %d under another key" % seq)
            # Another checkpoint's signature does not fit this message.
            for other, (_, _, other_signature) in checkpoints.items():
                if other != seq:
                    check(not openssl_verifies(pub, message, other_signature, server.tmp),
                          "checkpoint %d's signature verified checkpoint %d" % (other, seq))
    finally:
        code = server.stop(signal.SIGTERM)
        server.cleanup()
        check(code == 0, "callsignd exited with %s" % code)


if __name__ == "__main__":
    sys.exit(run_cases([("checkpoints_verify_with_openssl", test_checkpoints_verify_with_openssl)]))
