#!/usr/bin/env python3
"""src/proto/gen_proto.py — builds Dromos's Mesos v1 protos at build time.

Reads the mesos-go v1 .proto files (Debian's golang-github-mesos-mesos-go-dev,
Mesos 1.4), strips what only the Go generator needs (the gogo.proto import,
`option (gogoproto.*)` lines and `(gogoproto.*)` field options, go_package),
rewrites the imports to flat names, applies src/proto/additions.txt and runs
protoc-c. Field names, numbers, labels, defaults and enum values are kept as
they are: the gogo options change no wire fact.

Usage: gen_proto.py SRC_DIR ADDITIONS OUT_DIR PROTOC_C
Writes OUT_DIR/<name>.proto, OUT_DIR/<name>.pb-c.c and OUT_DIR/<name>.pb-c.h.
"""
import os
import re
import subprocess
import sys

FILES = {
    # name: path under SRC_DIR
    "mesos": "mesos.proto",
    "allocator": "allocator/allocator.proto",
    "maintenance": "maintenance/maintenance.proto",
    "quota": "quota/quota.proto",
    "scheduler": "scheduler/scheduler.proto",
    "executor": "executor/executor.proto",
    "master": "master/master.proto",
    "agent": "agent/agent.proto",
}

IMPORT_RE = re.compile(r'^\s*import\s+"([^"]+)"\s*;\s*$')
GOGO_OPTION_LINE_RE = re.compile(r'^\s*option\s+\(gogoproto\.[a-z_]+\)\s*=\s*[^;]+;\s*(//.*)?$')
GO_PACKAGE_RE = re.compile(r'^\s*option\s+go_package\s*=')
FIELD_OPTIONS_RE = re.compile(r'\[([^\[\]]*)\]')


def die(msg):
    sys.stderr.write("gen_proto.py: %s\n" % msg)
    sys.exit(1)


def strip_field_options(line):
    """Drops (gogoproto.*) entries from a field's [...] options."""
    def repl(m):
        parts = [p.strip() for p in m.group(1).split(",")]
        kept = [p for p in parts if p and not p.startswith("(gogoproto.")]
        return "[" + ", ".join(kept) + "]" if kept else ""
    code, sep, comment = line.partition("//")
    if "(gogoproto." not in code:
        return line
    code = FIELD_OPTIONS_RE.sub(repl, code)
    code = re.sub(r"\s+;", ";", code)
    return code + sep + comment


def clean(text, name):
    out = []
    for line in text.split("\n"):
        m = IMPORT_RE.match(line)
        if m:
            path = m.group(1)
            if "gogo" in path:
                continue
            base = os.path.basename(path)
            if base[:-len(".proto")] not in FILES:
                die("%s: unexpected import %s" % (name, path))
            out.append('import "%s";' % base)
            continue
        if GOGO_OPTION_LINE_RE.match(line) or GO_PACKAGE_RE.match(line):
            continue
        out.append(strip_field_options(line))
    text = "\n".join(out)
    if "gogoproto" in re.sub(r"//.*", "", text):
        die("%s: a gogoproto option survived stripping" % name)
    return text


def strip_comment(line):
    return line.split("//", 1)[0]


def find_block_end(lines, scope):
    """Returns the index of the line holding the closing brace of the block
    named by scope (["Call", "Type"]), [] meaning the end of the file."""
    if not scope:
        return len(lines)
    stack = []  # names of open blocks ("" for anonymous ones)
    for i, line in enumerate(lines):
        code = strip_comment(line)
        for tok in re.finditer(r"(message|enum|oneof)\s+(\w+)\s*\{|\{|\}", code):
            if tok.group(0) == "}":
                if stack == scope:
                    return i
                stack.pop()
            elif tok.group(0) == "{":
                stack.append("")
            else:
                stack.append(tok.group(2))
    die("scope %s not found" % ".".join(scope))


def apply_additions(texts, path):
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split(None, 2)
            if len(parts) != 3 or parts[0] not in texts:
                die("%s:%d: expected '<file> <scope> <text>'" % (path, lineno))
            name, scope, add = parts
            lines = texts[name].split("\n")
            at = find_block_end(lines, [] if scope == "." else scope.split("."))
            lines.insert(at, "  " + add + "  // Dromos addition (additions.txt:%d)" % lineno)
            texts[name] = "\n".join(lines)


def main():
    if len(sys.argv) != 5:
        die("usage: gen_proto.py SRC_DIR ADDITIONS OUT_DIR PROTOC_C")
    src_dir, additions, out_dir, protoc_c = sys.argv[1:]
    texts = {}
    for name, rel in FILES.items():
        p = os.path.join(src_dir, rel)
        try:
            with open(p, encoding="utf-8") as f:
                texts[name] = clean(f.read(), name)
        except OSError as e:
            die("cannot read %s: %s" % (p, e))
    apply_additions(texts, additions)
    os.makedirs(out_dir, exist_ok=True)
    for name, text in texts.items():
        with open(os.path.join(out_dir, name + ".proto"), "w", encoding="utf-8") as f:
            f.write(text)
    cmd = [protoc_c, "--c_out=" + out_dir, "-I", out_dir] + \
          [os.path.join(out_dir, n + ".proto") for n in FILES]
    r = subprocess.run(cmd)
    if r.returncode != 0:
        die("protoc-c failed: %s" % " ".join(cmd))


if __name__ == "__main__":
    main()
