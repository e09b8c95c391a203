#!/usr/bin/env python3
"""Redis CPU of the callsign_attempts functions: usec_per_call from INFO commandstats.

usage: tools/bench/attempts_lua_profile.py [LIBRARY_FILE...]   env: CALLSIGN_BENCH_CALLS (2000),
       CALLSIGN_BENCH_ROUNDS (3)

Each library (default: the one built from shared_state/lua, as shared_state/CMakeLists.txt
joins it) is loaded into its own redis-server on a free loopback port in a temp dir, for each
round; the libraries take turns, and the minimum per scenario over the rounds is printed
(other work on the machine only ever adds time). Every server is stopped by its pid.
Scenarios: settle with the shipped verify limits (user 5, agent 30, ip 100, 15 min) and full
logs, and with the bench limits (1,000,000: the two-window estimate); login_record failures.
docs/shared-state-redis.md, "Cost".
"""
import os, socket, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CALLS = int(os.environ.get('CALLSIGN_BENCH_CALLS', '2000'))
ROUNDS = int(os.environ.get('CALLSIGN_BENCH_ROUNDS', '3'))
W, NOW = 900000, 1800000000000 + 10 * 900000


def shipped_library():
    lua = os.path.join(ROOT, 'shared_state', 'lua')
    attempts = open(os.path.join(lua, 'attempts.lua')).read().split('\n', 1)
    return attempts[0] + '\n' + open(os.path.join(lua, 'rate_window.lua')).read() + attempts[1]


class conn:
    def __init__(self, port):
        self.s = socket.create_connection(('127.0.0.1', port))
        self.f = self.s.makefile('rb')

    @staticmethod
    def enc(args):
        out = [b'*%d\r\n' % len(args)]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b'$%d\r\n%s\r\n' % (len(a), a))
        return b''.join(out)

    def read(self):
        line = self.f.readline()
        t, rest = line[:1], line[1:-2]
        if t in (b'+', b':'):
            return rest
        if t == b'-':
            raise RuntimeError(rest.decode())
        if t == b'$':
            n = int(rest)
            return None if n < 0 else self.f.read(n + 2)[:-2]
        if t == b'*':
            n = int(rest)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise RuntimeError(line)

    def __call__(self, *args):
        self.s.sendall(self.enc(args))
        return self.read()

    def pipeline(self, cmds):
        self.s.sendall(b''.join(self.enc(c) for c in cmds))
        return [self.read() for _ in cmds]


def spaced(limit, window, expired_first):
    """`limit` times spread over the window before NOW; the first one expired when asked."""
    ts = [NOW - window + 1000 + i * ((window - 2000) // limit) for i in range(limit)]
    if expired_first:
        ts[0] = NOW - window - 5
    return ts


def scenarios(r, library):
    """(name, usec_per_call) for each scenario on the server behind r."""
    out = []

    def reset():
        r('FLUSHALL')
        r('FUNCTION', 'LOAD', 'REPLACE', library)

    def seed(key, limit, window, times):
        for t in times:  # through the library, so the value is in its own format
            r('FCALL', 'callsign_settle', 2, 'cs:fence', key, t, 0, '0', 0, limit, window)

    def settle(counters, claim, step):
        keys = ['cs:fence'] + (['cs:{u:alice}:mark:totp'] if claim else []) + [k for k, _ in counters]
        args = [NOW, 1 if claim else 0, step, NOW - 100]
        for _, limit in counters:
            args += [limit, W]
        return ['FCALL', 'callsign_settle', len(keys)] + keys + args

    def measure(name, make, restore=(), expect=None):
        r('CONFIG', 'RESETSTAT')
        for i in range(0, CALLS, 100):
            batch = []
            for j in range(i, min(CALLS, i + 100)):
                batch += list(restore)
                batch.append(make(j))
            replies = r.pipeline(batch)
        if expect is not None and replies[-1][0] != expect:
            raise RuntimeError(f'{name}: outcome {replies[-1]}')
        stat = r('INFO', 'commandstats').decode()
        line = next(l for l in stat.splitlines() if l.startswith('cmdstat_fcall:'))
        out.append((name, float(line.split('usec_per_call=')[1].split(',')[0])))

    def restoring(keys):
        dumps = [(k, r('DUMP', k)) for k in keys]
        return [('RESTORE', k, 0, d, 'REPLACE') for k, d in dumps]

    shipped = [('cs:w:u', 5), ('cs:w:a', 30), ('cs:w:i', 100)]
    reset()
    for k, l in shipped:
        seed(k, l, W, spaced(l, W, False)[1:])
    measure('settle accepted, logs 4/29/99 of 5/30/100', lambda j: settle(shipped, True, 1000 + j), expect=b'1')
    reset()
    for k, l in shipped:
        seed(k, l, W, spaced(l, W, False))
    measure('settle throttled, logs full', lambda j: settle(shipped, True, 1000 + j), expect=b'0')
    reset()
    for k, l in shipped:
        seed(k, l, W, spaced(l, W, True))
    restore = restoring([k for k, _ in shipped])  # each call starts from the same full logs
    measure('settle failed (replay), logs full', lambda j: settle(shipped, True, 0), restore, b'2')
    measure('settle failed (no claim), logs full', lambda j: settle(shipped, False, '0'), restore, b'3')

    bench = [('cs:w:u', 1000000), ('cs:w:a', 1000000), ('cs:w:i', 1000000)]
    reset()
    for k, l in bench:
        seed(k, l, W, [NOW - W - 10, NOW - 5000, NOW - 4000])
    measure('settle accepted, bench limits (estimates)', lambda j: settle(bench, True, 100000 + j), expect=b'1')
    measure('settle failed (replay), bench limits', lambda j: settle(bench, True, 0), expect=b'2')

    reset()
    seed('cs:w:lip', 5, 60000, spaced(5, 60000, True)[1:])
    seed('cs:w:luser', 10, W, spaced(10, W, True)[1:])
    restore = restoring(['cs:w:lip', 'cs:w:luser'])

    def login(j):
        keys = ['cs:w:lip', 'cs:b:ip', 'cs:w:luser', 'cs:b:user', 'cs:b:ip']
        args = [NOW, 1, 2, 1, 'ip', 5, 60000, NOW + 3600000, 0, 0, 0, 'user', 10, W, NOW + 3600000, 1, 0, 0]
        return ['FCALL', 'callsign_login_record', len(keys)] + keys + args
    measure('login_record failure, 2 rules (4/5, 9/10)', login, restore)
    return out


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def run(library):
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        server = subprocess.Popen(['redis-server', '--port', str(port), '--bind', '127.0.0.1', '--save', '',
                                   '--appendonly', 'no', '--dir', tmp], stdout=subprocess.DEVNULL)
        try:
            for _ in range(100):
                try:
                    r = conn(port)
                    r('PING')
                    break
                except OSError:
                    time.sleep(0.05)
            return scenarios(r, library)
        finally:
            server.terminate()
            if server.wait(10) != 0:
                raise RuntimeError('redis-server exited with %d' % server.returncode)


def main():
    names = sys.argv[1:] or ['shared_state/lua']
    libraries = [open(n).read() if n != 'shared_state/lua' else shipped_library() for n in names]
    best = {}
    for _ in range(ROUNDS):
        for name, library in zip(names, libraries):
            for scenario, usec in run(library):
                best.setdefault(scenario, {})
                best[scenario][name] = min(best[scenario].get(name, float('inf')), usec)
    print('usec_per_call of FCALL, minimum of %d rounds of %d calls' % (ROUNDS, CALLS))
    print('%-44s' % 'scenario' + ''.join('%20s' % os.path.basename(n) for n in names))
    for scenario, by in best.items():
        print('%-44s' % scenario + ''.join('%20.2f' % by[n] for n in names))


if __name__ == '__main__':
    main()
