#!/usr/bin/env python3
"""md2man.py: docs/dpcc.1.md and docs/dprun.1.md, the manual pages kept as Markdown, into
roff man pages for share/man/man1 (the build runs it; no pandoc needed).

It reads only the subset those pages use: a "# NAME(1) — title" first line, "## SECTION"
headings, paragraphs, **bold** and *italic* (or _italic_), definition lists (a term line,
then lines starting ":   " for its description) and code blocks indented by four spaces.

    md2man.py PAGE.1.md OUT.1 VERSION

The pages cite files of the source tree (docs/NAME.md, tools/plot_report.py); an installation
holds them elsewhere, so the roff names them where `cmake --install` puts them, under the
installation's prefix: share/doc/dpcc/NAME.md, share/dpcc/plot_report.py.
"""
import re
import sys


def inline(text):
    text = text.replace("\\", "\\e")
    text = re.sub(r"\*\*(.+?)\*\*", r"\\fB\1\\fR", text)
    text = re.sub(r"(?<![\w*])\*(.+?)\*(?![\w*])", r"\\fI\1\\fR", text)
    text = re.sub(r"(?<![\w\\])_(.+?)_(?!\w)", r"\\fI\1\\fR", text)
    text = re.sub(r"`([^`]+)`", r"\\fB\1\\fR", text)
    text = text.replace(" — ", " \\- ")
    # a line starting with . or ' would be read as a request
    return re.sub(r"^([.'])", r"\\&\1", text)


def blocks(lines):
    """The lines between blank lines."""
    block = []
    for line in lines:
        if line.strip():
            block.append(line)
        elif block:
            yield block
            block = []
    if block:
        yield block


def code_line(line):
    return line.replace("\\", "\\e").replace("-", "\\-")


def convert(lines, version):
    m = re.match(r"#\s+(\S+)\((\d)\)\s+—\s+(.*)", lines[0])
    if not m:
        raise SystemExit("md2man: the first line must be '# NAME(1) — title'")
    name, section, title = m.groups()
    out = ['.TH %s %s "" "dpcc %s" "%s"' % (name, section, version, title)]
    current = None
    for block in blocks(lines[1:]):
        if block[0].startswith("## "):
            current = block[0][3:].strip()
            out.append(".SH " + current)
        elif all(line.startswith("    ") for line in block):
            out += [".PP", ".nf", ".RS 4"] + [code_line(line[4:]) for line in block]
            out += [".RE", ".fi"]
        elif len(block) > 1 and block[1].startswith(":   "):
            desc = " ".join(line.strip().lstrip(":").strip() for line in block[1:])
            out += [".TP", inline(block[0].strip()), inline(desc)]
        elif current == "SYNOPSIS":
            for line in block:
                out += [inline(line.strip()), ".br"]
        else:
            out += [".PP", inline(" ".join(line.strip() for line in block))]
    return "\n".join(out) + "\n"


# Source-tree paths the pages cite, and where an installation has them (CMakeLists.txt).
INSTALLED = [(re.compile(r"\bdocs/([\w.-]+\.md)\b"), r"share/doc/dpcc/\1"),
             (re.compile(r"\btools/plot_report\.py\b"), "share/dpcc/plot_report.py")]


def main():
    src, dst, version = sys.argv[1:4]
    with open(src, encoding="utf-8") as f:
        text = f.read()
    for pattern, installed in INSTALLED:
        text = pattern.sub(installed, text)
    lines = text.split("\n")
    with open(dst, "w", encoding="utf-8") as f:
        f.write(convert(lines, version))


if __name__ == "__main__":
    main()
