#!/usr/bin/env python3
"""tests/tidy/tidy.py — determinism checks over Dromos core code (docs/determinism.md).

Subcommands:

  symbols      For each core static library, lists its undefined symbols
               (`nm -A -u`) and fails on any that neither the library's
               allow-lists name nor a core library defines (deny by default). Also fails when a core library
               references a symbol defined only in an exempt library (the real
               env, the daemon) or, outside sim/, in the simulator.
  sources      Greps core source folders for banned calls (getenv(, time(,
               rand(, fopen(, socket( ...), banned headers, and address-derived
               values (pointer casts to integers, "%p"): a second net behind
               `symbols`, and the only one for pointer-keyed ordering.
  expect-fail  Runs a command that must fail with exit status 1 and print each
               --want pattern and no --reject pattern: the negative tests prove
               the two checks above catch planted calls.

Exit status: 0 clean, 1 violations found, 2 usage or tool error.
A source line may opt out of `sources` with a comment `tidy:allow <reason>`.
"""
import argparse
import fnmatch
import os
import re
import subprocess
import sys

# ---- hints: what to use instead (shared by both checks) ----------------------

HINTS = [
    (r"^(time|clock|clock_gettime|gettimeofday|timespec_get|ftime|localtime.*|mktime)$",
     "clock: use dr_env_now() / dr_env_wall()"),
    (r"^(rand|srand|rand_r|random|srandom|.rand48.*|arc4random.*|getrandom|getentropy)$",
     "randomness: use dr_env_random() / dr_env_rng()"),
    (r"^(getenv|secure_getenv|setenv|unsetenv|putenv|clearenv|environ|__environ)$",
     "environment variables: read them in src/daemon and pass values in"),
    (r"^(sleep|usleep|nanosleep|clock_nanosleep|pause|select|poll|epoll_.*)$",
     "blocking: use dr_env_timer_add()"),
    (r"^(socket|connect|accept4?|bind|listen|send|sendto|sendmsg|recv|recvfrom|recvmsg|"
     r"getaddrinfo|gethostbyname.*|shutdown|setsockopt|gethostname|uname)$",
     "network/host: use dr_env_connect()/dr_env_listen()/dr_env_host_info()"),
    (r"^(open|open64|openat|creat|fopen|fopen64|freopen|fdopen|opendir|readdir|closedir|"
     r"read|write|pread|pread64|pwrite|pwrite64|close|fsync|fdatasync|ftruncate|unlink|rename|"
     r"mkdir|rmdir|stat|lstat|fstat|stat64|fstat64|lstat64|__xstat|__fxstat|__lxstat|statvfs|"
     r"fread|fgets|getline|scandir|realpath|getcwd|chdir|access|mmap|mmap64|munmap|"
     r"tmpfile|mkstemp|mkdtemp|dup|dup2|pipe|pipe2|ioctl|fcntl|flock)$",
     "files: use dr_env_open()/dr_env_pread()/... (src/env/env.h)"),
    (r"^(fork|vfork|exec.*|fexecve|posix_spawn.*|system|popen|kill|raise|waitpid|wait|getpid|"
     r"getppid|setsid|sigaction|signal)$",
     "processes: use dr_env_spawn()/dr_env_signal()"),
    (r"^(pthread_.*|thrd_.*|mtx_.*|cnd_.*|__tls_get_addr)$",
     "threads: core code is single-threaded"),
    (r"^(stdout|stdin|printf|vprintf|puts|putchar|scanf|getchar)$",
     "standard streams: log through dr_log() or write to a FILE * you were given"),
]


def hint(name):
    for pattern, text in HINTS:
        if re.match(pattern, name):
            return text
    return "not on this library's allow-list (tests/tidy/allow/)"


# ---- symbols -------------------------------------------------------------------

def load_list(path):
    """Reads an allow-list: one symbol or fnmatch pattern per line, '#' comments."""
    entries = []
    with open(path, encoding="utf-8") as f:
        for raw in f:
            line = raw.split("#", 1)[0].strip()
            if line:
                entries.extend(line.split())
    return entries


def load_conf(path):
    """Reads libraries.conf: 'core NAME LIST...', 'exempt NAME', 'default LIST...'."""
    core, exempt, default = {}, [], None
    with open(path, encoding="utf-8") as f:
        for lineno, raw in enumerate(f, 1):
            words = raw.split("#", 1)[0].split()
            if not words:
                continue
            kind = words[0]
            if kind == "core" and len(words) >= 2:
                core[words[1]] = [w for w in words[2:] if w != "-"]
            elif kind == "exempt" and len(words) == 2:
                exempt.append(words[1])
            elif kind == "default":
                default = [w for w in words[1:] if w != "-"]
            else:
                raise SystemExit(f"tidy: {path}:{lineno}: cannot parse '{raw.strip()}'")
    if default is None:
        raise SystemExit(f"tidy: {path}: no 'default' line")
    return core, exempt, default


def is_sim(name):
    """The simulator and libraries built from sim/ (scenarios) may use sim/."""
    return name == "sim" or name.startswith("sim_")


def lib_name(path):
    base = os.path.basename(path)
    m = re.match(r"^lib(?:dr_)?(.+)\.a$", base)
    return m.group(1) if m else base


def find_libs(build_root):
    """Every libdr_*.a under build_root, outside tests/, bench/ and fuzz/."""
    found = {}
    skip = {"tests", "bench", "fuzz", "meson-private", "meson-logs", "meson-info"}
    for dirpath, dirnames, filenames in os.walk(build_root):
        rel = os.path.relpath(dirpath, build_root)
        if rel.split(os.sep)[0] in skip:
            dirnames[:] = []
            continue
        dirnames[:] = sorted(d for d in dirnames if not d.endswith(".p"))
        for fn in sorted(filenames):
            if fn.startswith("libdr_") and fn.endswith(".a"):
                found.setdefault(lib_name(fn), os.path.join(dirpath, fn))
    return found


def run_nm(nm, args, path):
    try:
        out = subprocess.run([nm, *args, path], check=True, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError) as e:
        detail = getattr(e, "stderr", "") or str(e)
        raise SystemExit(f"tidy: {nm} {' '.join(args)} {path} failed: {detail.strip()}")
    return out.stdout


def undefined(nm, path):
    """Yields (object, symbol) for each undefined symbol of a static library."""
    for line in run_nm(nm, ["-A", "-u"], path).splitlines():
        # "lib.a:obj.o:                 U sym" (thin archives name obj by its path)
        m = re.match(r"^(.*):\s+[Uuw]\s+(\S+)$", line)
        if not m:
            continue
        where = m.group(1)
        obj = where[len(path) + 1:] if where.startswith(path + ":") else where
        yield os.path.basename(obj), m.group(2).split("@")[0]


def defined(nm, path):
    names = set()
    for line in run_nm(nm, ["-g", "--defined-only"], path).splitlines():
        parts = line.split()
        if len(parts) == 3:
            names.add(parts[2])
    return names


def cmd_symbols(a):
    core, exempt, default = load_conf(a.conf)
    allow_cache = {}

    def allowed_patterns(lists):
        pats = []
        for name in ["common", *lists]:
            if name not in allow_cache:
                path = os.path.join(a.allow_dir, name + ".txt")
                if not os.path.exists(path):
                    raise SystemExit(f"tidy: allow-list '{path}' is missing")
                allow_cache[name] = load_list(path)
            pats.extend(allow_cache[name])
        return pats

    def is_exempt(name):
        return any(fnmatch.fnmatchcase(name, e) for e in exempt)

    def lists_of(name):
        if name in core:
            return core[name]
        for pattern, lists in core.items():  # in file order
            if fnmatch.fnmatchcase(name, pattern):
                return lists
        return default

    # Which libraries, and where.
    libs = {}
    exempt_paths = {}
    if a.build_root:
        found = find_libs(a.build_root)
        names = set(found) | {n for n in core if not any(c in n for c in "*?[")}
        for name in sorted(names):
            if is_exempt(name):
                if name in found:
                    exempt_paths[name] = found[name]
                    print(f"tidy: exempt {name}: touches the real world by design")
            elif name in found:
                libs[name] = found[name]
            else:
                print(f"tidy: skip {name}: libdr_{name}.a is not built (yet)")
        for e in exempt:
            if not any(fnmatch.fnmatchcase(n, e) for n in found):
                print(f"tidy: exempt {e}: libdr_{e}.a is not built (yet)")
    for spec in a.exempt_lib or []:
        name, _, path = spec.partition("=")
        if not path or not os.path.exists(path):
            raise SystemExit(f"tidy: --exempt-lib {spec}: expected NAME=PATH of a library")
        exempt_paths[name] = path
    for spec in a.lib or []:
        name, _, path = spec.partition("=") if "=" in spec else (lib_name(spec), "", spec)
        if not os.path.exists(path):
            raise SystemExit(f"tidy: --lib {spec}: no such file")
        libs[name] = path

    # Symbols that only exempt libraries (and, outside sim, the simulator) define.
    forbidden = {}
    for n, p in sorted(exempt_paths.items()):
        for s in defined(a.nm, p):
            forbidden.setdefault(s, n)
    sim_defs = defined(a.nm, libs["sim"]) if "sim" in libs else set()
    # The project's own code (generated protobuf-c code has no dr_ prefix).
    own = set()
    for p in libs.values():
        own |= defined(a.nm, p)

    bad = 0
    for name in sorted(libs):
        path = libs[name]
        lists = lists_of(name)
        pats = allowed_patterns(lists)
        exact = {p for p in pats if not any(c in p for c in "*?[")}
        globs = [p for p in pats if p not in exact]
        seen = 0
        for obj, sym in undefined(a.nm, path):
            seen += 1
            if sym in forbidden:
                why = f"defined by exempt library {forbidden[sym]}: core code must not call it"
            elif not is_sim(name) and sym in sim_defs:
                why = "defined by the simulator: only sim/, tests/, bench/ and src/daemon use sim/"
            elif sym in own or sym in exact or any(fnmatch.fnmatchcase(sym, g) for g in globs):
                continue
            else:
                why = hint(sym)
            bad += 1
            print(f"tidy: FAIL {name} ({os.path.basename(path)}): {obj}: {sym} -- {why}")
        print(f"tidy: checked {name}: {seen} undefined symbols, allow-lists "
              f"{'+'.join(['common', *lists])}")
    if bad:
        print(f"tidy: {bad} banned symbol reference(s); see docs/determinism.md")
        return 1
    print(f"tidy: ok, {len(libs)} core libraries clean")
    return 0


# ---- sources -------------------------------------------------------------------

BANNED_CALLS = sorted(set("""
    getenv secure_getenv setenv unsetenv putenv clearenv
    time clock clock_gettime gettimeofday timespec_get ftime localtime localtime_r mktime
    rand srand rand_r random srandom drand48 erand48 lrand48 nrand48 mrand48 jrand48 srand48
    arc4random arc4random_uniform getrandom getentropy
    sleep usleep nanosleep clock_nanosleep
    socket connect accept accept4 bind listen sendto recvfrom sendmsg recvmsg getaddrinfo
    gethostbyname gethostname uname select poll epoll_create epoll_create1 epoll_wait
    open open64 openat creat fopen fopen64 freopen fdopen opendir readdir scandir
    read write pread pwrite fsync fdatasync ftruncate mmap munmap tmpfile mkstemp mkdtemp
    fork vfork execv execve execvp execvpe execl execlp execle fexecve posix_spawn posix_spawnp
    system popen kill waitpid setsid sigaction signal
    pthread_create pthread_mutex_lock thrd_create
""".split()))

BANNED_HEADERS = {
    "sys/socket.h": "network", "netinet/in.h": "network", "netdb.h": "network",
    "arpa/inet.h": "network", "sys/epoll.h": "blocking", "poll.h": "blocking",
    "pthread.h": "threads", "threads.h": "threads", "dirent.h": "files", "fcntl.h": "files",
    "unistd.h": "files, processes, sleep", "sys/mman.h": "files", "sys/stat.h": "files",
    "sys/statvfs.h": "files", "spawn.h": "processes", "sys/wait.h": "processes",
    "sys/time.h": "clock", "sys/random.h": "randomness", "sys/utsname.h": "host facts",
    "event2/event.h": "libevent (src/env/real only)", "event.h": "libevent (src/env/real only)",
}

CALL_RE = re.compile(r"(?<![\w.>$])(" + "|".join(map(re.escape, BANNED_CALLS)) + r")\s*\(")
INCLUDE_RE = re.compile(r'^\s*#\s*include\s*[<"]([^>"]+)[>"]')
PTRCAST_RE = re.compile(r"\(\s*(?:const\s+)?u?intptr_t\s*\)")
# "(T *)(uintptr_t)p" only drops a const qualifier: the address stays a pointer.
PTR_BACK_RE = re.compile(r"\(\s*(?:const\s+|volatile\s+)*\w+(?:\s+\w+)*\s*\*+\s*\)\s*$")
PCT_P_RE = re.compile(r"%[-+ #0]*\d*p")


def strip_c(text):
    """Returns (code, code_with_strings): comments blanked in both, string and
    character literal contents also blanked in the first. Newlines are kept,
    so line numbers still match."""
    code, keep = [], []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            blank = re.sub(r"[^\n]", " ", text[i:j])
            code.append(blank); keep.append(blank); i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            blank = " " * (j - i)
            code.append(blank); keep.append(blank); i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            lit = text[i:j]
            code.append(c + re.sub(r"[^\n]", " ", lit[1:-1]) + (c if len(lit) > 1 else ""))
            keep.append(lit); i = j
        else:
            code.append(c); keep.append(c); i += 1
    return "".join(code), "".join(keep)


def core_files(root, dirs, exclude):
    for d in dirs:
        top = os.path.join(root, d)
        if os.path.isfile(top):
            yield top
            continue
        if not os.path.isdir(top):
            print(f"tidy: skip {d}: no such folder (yet)")
            continue
        for dirpath, dirnames, filenames in os.walk(top):
            rel = os.path.relpath(dirpath, root)
            dirnames[:] = sorted(x for x in dirnames
                                 if os.path.join(rel, x) not in exclude
                                 and not x.startswith("build"))
            for fn in sorted(filenames):
                if fn.endswith((".c", ".h")) and os.path.join(rel, fn) not in exclude:
                    yield os.path.join(dirpath, fn)


def cmd_sources(a):
    exclude = {os.path.normpath(x) for x in a.exclude or []}
    bad = files = 0
    for path in core_files(a.root, a.dirs, exclude):
        files += 1
        with open(path, encoding="utf-8", errors="replace") as f:
            raw = f.read()
        code, with_strings = strip_c(raw)
        raw_lines = raw.split("\n")
        rel = os.path.relpath(path, a.root)
        for lineno, (line, sline) in enumerate(zip(code.split("\n"),
                                                   with_strings.split("\n")), 1):
            if "tidy:allow" in raw_lines[lineno - 1]:
                continue
            found = []
            for m in CALL_RE.finditer(line):
                found.append(f"calls {m.group(1)}() -- {hint(m.group(1))}")
            m = INCLUDE_RE.match(sline)
            if m and m.group(1) in BANNED_HEADERS:
                found.append(f"includes <{m.group(1)}> -- {BANNED_HEADERS[m.group(1)]} "
                             "belong to src/env/real")
            if any(not PTR_BACK_RE.search(line[:m.start()]) for m in PTRCAST_RE.finditer(line)):
                found.append("casts a pointer to an integer -- addresses differ between runs: "
                             "never hash, order or print them (key by ID; see docs/determinism.md)")
            if PCT_P_RE.search(sline) and ('"' in sline):
                if any(PCT_P_RE.search(s) for s in re.findall(r'"(?:[^"\\]|\\.)*"', sline)):
                    found.append('formats "%p" -- addresses differ between runs; print an ID')
            for what in found:
                bad += 1
                print(f"tidy: FAIL {rel}:{lineno}: {what}")
    if bad:
        print(f"tidy: {bad} finding(s) in {files} core source files; a deliberate exception "
              "takes a 'tidy:allow <reason>' comment on its line")
        return 1
    print(f"tidy: ok, {files} core source files clean")
    return 0


# ---- expect-fail -----------------------------------------------------------------

def cmd_expect_fail(a):
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    if not cmd:
        raise SystemExit("tidy: expect-fail: no command")
    p = subprocess.run(cmd, capture_output=True, text=True)
    out = p.stdout + p.stderr
    sys.stdout.write(out)
    problems = []
    if p.returncode != 1:
        problems.append(f"exit status {p.returncode}, expected 1 (violations found)")
    for w in a.want or []:
        if not re.search(w, out, re.M):
            problems.append(f"output lacks /{w}/")
    for r in a.reject or []:
        if re.search(r, out, re.M):
            problems.append(f"output has /{r}/, which must not be reported")
    for pr in problems:
        print(f"expect-fail: NOT OK: {pr}")
    if problems:
        return 1
    print("expect-fail: ok, the check caught what was planted and nothing else")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd_name", required=True)
    s = sub.add_parser("symbols")
    s.add_argument("--conf", required=True)
    s.add_argument("--allow-dir", required=True)
    s.add_argument("--build-root")
    s.add_argument("--lib", action="append", help="[NAME=]PATH of a library to check")
    s.add_argument("--exempt-lib", action="append",
                   help="NAME=PATH of an exempt library whose symbols core code may not use")
    s.add_argument("--nm", default="nm")
    s.set_defaults(fn=cmd_symbols)
    s = sub.add_parser("sources")
    s.add_argument("--root", required=True)
    s.add_argument("--exclude", action="append", help="folder (relative to root) to skip")
    s.add_argument("dirs", nargs="+", help="folders or files (relative to root) to scan")
    s.set_defaults(fn=cmd_sources)
    s = sub.add_parser("expect-fail")
    s.add_argument("--want", action="append")
    s.add_argument("--reject", action="append")
    s.add_argument("cmd", nargs=argparse.REMAINDER)
    s.set_defaults(fn=cmd_expect_fail)
    a = ap.parse_args()
    try:
        sys.exit(a.fn(a))
    except SystemExit as e:
        if isinstance(e.code, str):
            print(e.code)
            sys.exit(2)
        raise


if __name__ == "__main__":
    main()
