"""A small YAML reader and writer for the e2e harness (Python's standard library has none).

Reads the subset Kubernetes manifests and the project's deploy files use: block mappings and
sequences (indentation based, "- " items holding mappings), flow sequences and mappings
(``[a, "b"]``, ``{k: v}``), plain / single-quoted / double-quoted scalars, literal (``|``) and
folded (``>``) block scalars with chomping indicators, comments, and ``---`` document separators.
Plain scalars resolve as YAML 1.2's core schema does (null, true/false, integers, floats).
Anchors, aliases, tags and multi-line plain scalars are not supported and raise YamlError.

``dump(obj)`` writes block-style YAML whose scalars are JSON literals (a JSON string is a valid
YAML double-quoted scalar), so the output is unambiguous and readable by any YAML parser.
"""

import json
import re

__all__ = ["YamlError", "load_all", "load", "dump"]


class YamlError(ValueError):
    """Malformed or unsupported YAML; the message names the line."""


_INT = re.compile(r"^[-+]?(0|[1-9][0-9]*)$")
_HEX = re.compile(r"^0x[0-9a-fA-F]+$")
_OCT = re.compile(r"^0o[0-7]+$")
_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")


def _resolve_plain(text):
    if text in ("", "~", "null", "Null", "NULL"):
        return None
    if text in ("true", "True", "TRUE"):
        return True
    if text in ("false", "False", "FALSE"):
        return False
    if _INT.match(text):
        return int(text)
    if _HEX.match(text):
        return int(text, 16)
    if _OCT.match(text):
        return int(text[2:], 8)
    if _FLOAT.match(text):
        return float(text)
    if text in (".inf", "+.inf", ".Inf", "+.Inf"):
        return float("inf")
    if text in ("-.inf", "-.Inf"):
        return float("-inf")
    if text in (".nan", ".NaN", ".NAN"):
        return float("nan")
    return text


def _strip_comment(line):
    """The line without a trailing comment (a '#' at the start or after whitespace, outside
    quotes)."""
    quote = None
    i = 0
    while i < len(line):
        c = line[i]
        if quote:
            if quote == '"' and c == "\\":
                i += 2
                continue
            if c == quote:
                if quote == "'" and i + 1 < len(line) and line[i + 1] == "'":
                    i += 2
                    continue
                quote = None
        elif c in "\"'" and (i == 0 or line[i - 1] in " \t[{,:-"):
            quote = c
        elif c == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i].rstrip()
        i += 1
    return line.rstrip()


class _Flow:
    """Parser of one flow value (scalar, [..] or {..}) starting at text[pos]."""

    def __init__(self, text, lineno):
        self.text, self.pos, self.lineno = text, 0, lineno

    def fail(self, msg):
        raise YamlError("line %d: %s: %r" % (self.lineno, msg, self.text))

    def ws(self):
        while self.pos < len(self.text) and self.text[self.pos] in " \t":
            self.pos += 1

    def value(self, in_flow):
        self.ws()
        if self.pos >= len(self.text):
            return None
        c = self.text[self.pos]
        if c == "[":
            self.pos += 1
            out = []
            while True:
                self.ws()
                if self.pos < len(self.text) and self.text[self.pos] == "]":
                    self.pos += 1
                    return out
                out.append(self.value(True))
                self.ws()
                if self.pos < len(self.text) and self.text[self.pos] == ",":
                    self.pos += 1
                elif self.pos < len(self.text) and self.text[self.pos] == "]":
                    continue
                else:
                    self.fail("expected ',' or ']'")
        if c == "{":
            self.pos += 1
            out = {}
            while True:
                self.ws()
                if self.pos < len(self.text) and self.text[self.pos] == "}":
                    self.pos += 1
                    return out
                key = self.scalar(True, key=True)
                self.ws()
                if self.pos < len(self.text) and self.text[self.pos] == ":":
                    self.pos += 1
                    out[key] = self.value(True)
                else:
                    out[key] = None
                self.ws()
                if self.pos < len(self.text) and self.text[self.pos] == ",":
                    self.pos += 1
                elif self.pos < len(self.text) and self.text[self.pos] == "}":
                    continue
                else:
                    self.fail("expected ',' or '}'")
        return self.scalar(in_flow)

    def scalar(self, in_flow, key=False):
        self.ws()
        if self.pos >= len(self.text):
            self.fail("missing value")
        c = self.text[self.pos]
        if c == '"':
            end = self.pos + 1
            while end < len(self.text):
                if self.text[end] == "\\":
                    end += 2
                    continue
                if self.text[end] == '"':
                    break
                end += 1
            else:
                self.fail("unterminated double-quoted scalar")
            raw = self.text[self.pos:end + 1]
            self.pos = end + 1
            try:
                return json.loads(raw)
            except ValueError:
                self.fail("unsupported escape in double-quoted scalar")
        if c == "'":
            out = []
            i = self.pos + 1
            while i < len(self.text):
                if self.text[i] == "'":
                    if i + 1 < len(self.text) and self.text[i + 1] == "'":
                        out.append("'")
                        i += 2
                        continue
                    self.pos = i + 1
                    return "".join(out)
                out.append(self.text[i])
                i += 1
            self.fail("unterminated single-quoted scalar")
        if c in "&*!|>%@`":
            self.fail("unsupported YAML feature %r" % c)
        start = self.pos
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if in_flow and ch in ",]}":
                break
            if ch == ":" and (self.pos + 1 == len(self.text) or self.text[self.pos + 1] in " \t"
                              or (in_flow and self.text[self.pos + 1] in ",]}")):
                if key or in_flow:
                    break
            self.pos += 1
        text = self.text[start:self.pos].strip()
        return text if key else _resolve_plain(text)


def _split_key(content, lineno):
    """For 'key: rest' returns (key, rest); None when the line is not a mapping entry."""
    p = _Flow(content, lineno)
    if content[:1] in "[{":
        return None
    try:
        key = p.scalar(False, key=True)
    except YamlError:
        return None
    p.ws()
    if p.pos < len(content) and content[p.pos] == ":" and (
            p.pos + 1 == len(content) or content[p.pos + 1] in " \t"):
        return key, content[p.pos + 1:].strip()
    return None


class _Block:
    def __init__(self, lines):
        # (indent, content, lineno, raw) for non-blank, non-comment lines; raw kept for | blocks
        self.raw = lines
        self.i = 0

    def _next_content(self):
        """Index of the next line with content (skipping blanks and comments), or None."""
        j = self.i
        while j < len(self.raw):
            s = _strip_comment(self.raw[j])
            if s.strip():
                return j
            j += 1
        return None

    def _line(self, j):
        s = _strip_comment(self.raw[j])
        if "\t" in s[:len(s) - len(s.lstrip())]:
            raise YamlError("line %d: tab in indentation" % (j + 1))
        return len(s) - len(s.lstrip(" ")), s.strip()

    def parse_node(self, min_indent):
        """Parses the block node whose first line is the next content line, if indented at least
        min_indent; returns None (null) when there is none."""
        j = self._next_content()
        if j is None:
            self.i = len(self.raw)
            return None
        indent, content = self._line(j)
        if indent < min_indent or content == "---" or content.startswith("--- "):
            return None
        self.i = j
        if content == "-" or content.startswith("- "):
            return self.parse_seq(indent)
        if _split_key(content, j + 1) is not None:
            return self.parse_map(indent)
        self.i = j + 1
        return _Flow(content, j + 1).value(False)

    def parse_seq(self, indent):
        out = []
        while True:
            j = self._next_content()
            if j is None:
                self.i = len(self.raw)
                return out
            ind, content = self._line(j)
            if ind != indent or not (content == "-" or content.startswith("- ")):
                if ind > indent:
                    raise YamlError("line %d: bad indentation" % (j + 1))
                return out
            rest = content[1:].lstrip(" ")
            if not rest:
                self.i = j + 1
                out.append(self.parse_node(indent + 1))
                continue
            # "- key: v" starts a mapping whose keys sit at the column of "key"
            col = indent + (len(content) - len(rest))
            if _split_key(rest, j + 1) is not None or rest.startswith("- "):
                self.raw[j] = " " * col + self.raw[j].lstrip(" ")[len(content) - len(rest):]
                self.i = j
                out.append(self.parse_node(col))
                continue
            self.i = j + 1
            out.append(self.inline_value(rest, j, indent))
        return out

    def parse_map(self, indent):
        out = {}
        while True:
            j = self._next_content()
            if j is None:
                self.i = len(self.raw)
                return out
            ind, content = self._line(j)
            if ind < indent or content == "---" or content.startswith("--- "):
                return out
            if ind > indent:
                raise YamlError("line %d: bad indentation" % (j + 1))
            kv = _split_key(content, j + 1)
            if kv is None:
                if content == "-" or content.startswith("- "):
                    return out
                raise YamlError("line %d: expected 'key: value': %r" % (j + 1, content))
            key, rest = kv
            self.i = j + 1
            if rest == "":
                # value is a nested block (a sequence may sit at the key's own indent)
                nj = self._next_content()
                if nj is not None:
                    nind, ncontent = self._line(nj)
                    if nind == indent and (ncontent == "-" or ncontent.startswith("- ")):
                        out[key] = self.parse_seq(indent)
                        continue
                out[key] = self.parse_node(indent + 1)
            else:
                out[key] = self.inline_value(rest, j, indent)

    def inline_value(self, rest, j, indent):
        if rest[0] in "|>":
            return self.block_scalar(rest, j, indent)
        p = _Flow(rest, j + 1)
        v = p.value(False)
        p.ws()
        if p.pos != len(rest):
            raise YamlError("line %d: trailing text after value: %r" % (j + 1, rest))
        return v

    def block_scalar(self, header, j, indent):
        style, chomp, explicit = header[0], "clip", None
        for ch in header[1:].strip():
            if ch == "-":
                chomp = "strip"
            elif ch == "+":
                chomp = "keep"
            elif ch.isdigit():
                explicit = int(ch)
            else:
                raise YamlError("line %d: bad block scalar header %r" % (j + 1, header))
        lines = []
        k = j + 1
        block_indent = indent + explicit if explicit else None
        while k < len(self.raw):
            raw = self.raw[k].rstrip("\n")
            if raw.strip() == "":
                lines.append("")
                k += 1
                continue
            ind = len(raw) - len(raw.lstrip(" "))
            if block_indent is None:
                if ind <= indent:
                    break
                block_indent = ind
            if ind < block_indent:
                break
            lines.append(raw[block_indent:])
            k += 1
        self.i = k
        # trailing blank lines belong to chomping
        body = lines
        trailing = 0
        while body and body[-1] == "":
            body = body[:-1]
            trailing += 1
        if style == "|":
            text = "\n".join(body)
        else:
            text = ""
            prev_blank = True
            for ln in body:
                if ln == "":
                    text += "\n"
                    prev_blank = True
                elif ln.startswith(" "):
                    text += ("\n" if text and not text.endswith("\n") else "") + ln
                    prev_blank = False
                else:
                    text += ("" if prev_blank or not text else " ") + ln
                    prev_blank = False
        if not body:
            return "" if chomp != "keep" else "\n" * trailing
        if chomp == "strip":
            return text
        if chomp == "keep":
            return text + "\n" + "\n" * trailing
        return text + "\n"


def load_all(text):
    """Every document of a YAML stream, in order (empty documents are skipped)."""
    lines = text.replace("\r\n", "\n").split("\n")
    docs = []
    block = _Block(lines)
    while True:
        j = block._next_content()
        if j is None:
            break
        _, content = block._line(j)
        if content == "---" or content.startswith("--- "):
            block.i = j + 1
            continue
        if content.startswith("%"):
            block.i = j + 1
            continue
        doc = block.parse_node(0)
        nj = block._next_content()
        if nj is not None:
            _, c = block._line(nj)
            if not (c == "---" or c.startswith("--- ")):
                raise YamlError("line %d: unexpected content %r" % (nj + 1, c))
        if doc is not None:
            docs.append(doc)
    return docs


def load(text):
    """The single document of a YAML text (YamlError when there is not exactly one)."""
    docs = load_all(text)
    if len(docs) != 1:
        raise YamlError("expected one document, found %d" % len(docs))
    return docs[0]


_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-/]*$")


def _key(k):
    k = str(k)
    if _PLAIN_KEY.match(k) and _resolve_plain(k) == k:
        return k
    return json.dumps(k)


def dump(obj, indent=0):
    """Block-style YAML for a JSON-like value (dicts, lists, str, int, float, bool, None)."""
    pad = " " * indent
    if isinstance(obj, dict):
        if not obj:
            return pad + "{}\n"
        out = []
        for k, v in obj.items():
            if isinstance(v, dict) and v:
                out.append("%s%s:\n%s" % (pad, _key(k), dump(v, indent + 2)))
            elif isinstance(v, list) and v:
                out.append("%s%s:\n%s" % (pad, _key(k), dump(v, indent + 2)))
            else:
                out.append("%s%s: %s\n" % (pad, _key(k), json.dumps(v)))
        return "".join(out)
    if isinstance(obj, list):
        if not obj:
            return pad + "[]\n"
        out = []
        for v in obj:
            if isinstance(v, (dict, list)) and v:
                inner = dump(v, indent + 2)
                out.append(pad + "- " + inner[indent + 2:])
            else:
                out.append("%s- %s\n" % (pad, json.dumps(v)))
        return "".join(out)
    return pad + json.dumps(obj) + "\n"
