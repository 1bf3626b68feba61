#!/usr/bin/env python3
"""Turns one of doc/'s program pages (Markdown: # name(N), ## SECTIONS, paragraphs, lists,
code blocks, tables) into a man page, so `man svtree` shows what doc/svtree.8.md says.

usage: md2man.py PAGE.md > PAGE.N
"""
import re
import sys


def inline(text):
    """Markdown emphasis, code and links to roff fonts; roff's own characters escaped."""
    text = text.replace("\\", "\\e")
    text = re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", text)          # [text](link) -> text
    text = re.sub(r"`([^`]+)`", r"\\fB\1\\fR", text)
    text = re.sub(r"\*\*([^*]+)\*\*", r"\\fB\1\\fR", text)
    text = re.sub(r"(?<![\w*])\*([^*\s][^*]*)\*(?![\w*])", r"\\fI\1\\fR", text)
    text = text.replace("-", "\\-")
    for character, name in UNICODE.items():
        text = text.replace(character, name)
    return text


# groff names for what the pages use beyond ASCII (man's preconv handles the rest).
UNICODE = {"\u2014": "\\(em", "\u2013": "\\(en", "\u2192": "\\(->", "\u2248": "\\(~~", "\u00d7": "\\(mu",
           "\u2265": "\\(>=", "\u2264": "\\(<=", "\u2026": "...", "\u2019": "'"}


def line_start(text):
    """A line may not begin with roff's control characters."""
    return "\\&" + text if text[:1] in (".", "'") else text


def convert(lines):
    out = []
    title = re.match(r"#\s+(\S+)\((\d)\)", lines[0]) if lines else None
    if not title:
        sys.exit("md2man: the first line must be '# name(N)'")
    out.append(f'.TH {title.group(1).upper()} {title.group(2)} "" "svtree" "svtree"')
    i = 1
    in_code = False
    while i < len(lines):
        line = lines[i].rstrip("\n")
        i += 1
        if line.startswith("```"):
            out.append(".EX" if not in_code else ".EE")
            in_code = not in_code
            continue
        if in_code:
            out.append(line_start(line.replace("\\", "\\e").replace("-", "\\-")))
            continue
        if line.startswith("## "):
            out.append(".SH " + line[3:].strip().upper())
        elif line.startswith("### "):
            out.append(".SS " + inline(line[4:].strip()))
        elif not line.strip():
            if out and out[-1] != ".PP":
                out.append(".PP")
        elif line.startswith("|"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            if all(re.fullmatch(r":?-+:?", c) for c in cells):
                continue
            out.append(".TP")
            out.append(line_start(inline(cells[0])))
            out.append(line_start(inline(" \u2014 ".join(cells[1:]))))
        elif re.match(r"\s*[-*] ", line):
            out.append(".IP \\(bu 2")
            out.append(line_start(inline(re.sub(r"^\s*[-*] ", "", line))))
        elif re.match(r"\s*\d+\. ", line):
            number = re.match(r"\s*(\d+)\. ", line).group(1)
            out.append(f".IP {number}. 4")
            out.append(line_start(inline(re.sub(r"^\s*\d+\. ", "", line))))
        else:
            out.append(line_start(inline(line.strip())))
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__.strip().splitlines()[-1])
    with open(sys.argv[1]) as f:
        sys.stdout.write(convert(f.readlines()))
