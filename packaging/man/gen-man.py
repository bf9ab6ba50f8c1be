#!/usr/bin/env python3
"""Writes dvdi-hook(8) to stdout from TEMPLATE and the built BINARY.

The global options and every command (recursively: `dvdi-hook --help`, `dvdi-hook SUB --help`,
`dvdi-hook SUB SUB2 --help` ...) come from the CLI's own --help output, so the man page lists
exactly the commands and flags of that build. The configuration keys are hand-written in the
template; this script fails when they differ from the keys `dvdi-hook config` prints.

Usage: gen-man.py BINARY TEMPLATE
"""
import datetime
import json
import os
import re
import subprocess
import sys
import tempfile

SECTION = re.compile(r"^(\S.*):$")
ENTRY = re.compile(r"^  (\S.*?)(?:\s{2,}(\S.*))?$")


def run(binary, args):
    r = subprocess.run([binary, *args], capture_output=True, text=True, check=False)
    if r.returncode != 0:
        sys.exit(f"gen-man: {binary} {' '.join(args)} exited {r.returncode}: {r.stderr.strip()}")
    return r.stdout


def parse_help(text):
    """CLI11 help -> (description, options, subcommands, positionals). Options are
    (names, value text, description); subcommands and positionals are (name, description)."""
    lines = text.splitlines()
    description = lines[0].strip() if lines and not lines[0].startswith("Usage:") else ""
    usage = next((l[len("Usage:"):].strip() for l in lines if l.startswith("Usage:")), "")
    sections = {}
    current = None
    for line in lines:
        if not line.strip():
            current = None
            continue
        m = SECTION.match(line)
        if m and not line.startswith("Usage:"):
            current = sections.setdefault(m.group(1), [])
            continue
        if current is None:
            continue
        m = ENTRY.match(line)
        if m:
            current.append([m.group(1), m.group(2) or ""])
        elif current:  # a continuation line: the description of the entry above
            sep = " " if current[-1][1] else ""
            current[-1][1] += sep + line.strip()
    options, subcommands, positionals = [], [], []
    for name, entries in sections.items():
        for head, desc in entries:
            if name == "Subcommands":
                # "NAME, ALIAS...": CLI11 lists a command's aliases after it; the man page has
                # one section per command (prestart and createRuntime are two commands)
                subcommands.append((head.split()[0].rstrip(","), desc))
            elif name == "Positionals":
                positionals.append((head.split()[0], desc))
            else:
                names, _, value = head.partition(" ")
                options.append((names.split(","), value.strip(), desc))
    return description, options, subcommands, positionals, usage


def roff(text):
    return text.replace("\\", "\\e").replace("-", "\\-")


def option_entries(options, skip_help):
    out = []
    for names, value, desc in options:
        if skip_help and "--help" in names:
            continue
        head = ", ".join(f"\\fB{roff(n)}\\fR" for n in names)
        m = re.match(r"^(.*?)\s*\[(.*)\]\s*$", value)
        default = None
        if m:
            value, default = m.group(1), m.group(2)
        if value:
            head += f" \\fI{roff(value)}\\fR"
        body = roff(desc) if desc else ""
        if default is not None:
            body += f" (default: {roff(default)})"
        out += [".TP", head, body.strip() or "."]
    return out


def commands(binary, path, out):
    subs = parse_help(run(binary, [*path, "--help"]))[2]
    for name, summary in subs:
        sub = [*path, name]
        desc, options, _, positionals, usage = parse_help(run(binary, [*sub, "--help"]))
        out += [f'.SS "dvdi\\-hook {roff(" ".join(sub))}"', roff(desc or summary) or "."]
        if usage:
            out += [".PP", f"Usage: \\fB{roff(usage)}\\fR"]
        for pname, pdesc in positionals:
            out += [".TP", f"\\fI{roff(pname)}\\fR", roff(pdesc) or "."]
        out += option_entries(options, skip_help=True)
        commands(binary, sub, out)
    return out


def config_keys(binary):
    with tempfile.NamedTemporaryFile("w", suffix=".json") as empty:
        empty.write("{}")
        empty.flush()
        return set(json.loads(run(binary, ["--config", empty.name, "config"])))


def documented_keys(template):
    section = template.split(".SH CONFIGURATION", 1)[1].split("\n.SH ", 1)[0]
    return set(re.findall(r"^\.TP\n\.B (\S+)$", section, re.M))


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: gen-man.py BINARY TEMPLATE")
    binary, template_path = sys.argv[1:]
    with open(template_path, encoding="utf-8") as f:
        template = f.read()
    keys, documented = config_keys(binary), documented_keys(template)
    if keys != documented:
        sys.exit(f"gen-man: the CONFIGURATION section of {template_path} is out of date: "
                 f"undocumented {sorted(keys - documented)}, unknown {sorted(documented - keys)}")
    version = run(binary, ["version"]).splitlines()[0].split()[-1]
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    date = datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc).strftime("%Y-%m-%d") if epoch else ""
    global_options = parse_help(run(binary, ["--help"]))[1]
    page = (template.replace("@DATE@", date)
            .replace("@VERSION@", roff(version))
            .replace("@GLOBAL_OPTIONS@", "\n".join(option_entries(global_options, skip_help=False)))
            .replace("@COMMANDS@", "\n".join(commands(binary, [], []))))
    sys.stdout.write(page)


if __name__ == "__main__":
    main()
