"""A tiny reader for the YAML that `kubectl kustomize` and `drwatch rbac` print (no PyYAML in
the tests: Python's standard library only). It reads block mappings and sequences by their
indentation, plain, single- and double-quoted scalars, literal block scalars (`|`, `|-`, `|+`,
with an indentation indicator), empty flow collections and flow sequences of scalars
(`["get", "list"]`), `---` between documents and whole-line comments. Scalars stay strings;
anything else (anchors, tags, folded scalars, multi-line plain scalars, flow mappings with
content) raises ValueError rather than be read wrong."""
import json
import re

__all__ = ["load_all"]


class _Lines:
    def __init__(self, text):
        self.lines = text.split("\n")

    def significant(self, i):
        """The index of the first line from i that is neither blank nor a comment."""
        while i < len(self.lines):
            s = self.lines[i].strip()
            if s and not s.startswith("#"):
                return i
            i += 1
        return i


def _indent(line):
    return len(line) - len(line.lstrip(" "))


def _split_flow(body):
    items, cur, quote = [], "", None
    for ch in body:
        if quote:
            cur += ch
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
            cur += ch
        elif ch == ",":
            items.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        items.append(cur.strip())
    return items


def _scalar(text):
    text = text.strip()
    if text.startswith('"'):
        return json.loads(text)
    if text.startswith("'"):
        if not text.endswith("'") or len(text) < 2:
            raise ValueError("unterminated single-quoted scalar: %r" % text)
        return text[1:-1].replace("''", "'")
    if text == "{}":
        return {}
    if text.startswith("["):
        if not text.endswith("]"):
            raise ValueError("unsupported flow sequence: %r" % text)
        return [_scalar(x) for x in _split_flow(text[1:-1])]
    if text[:1] in "{&*!>|%@`":
        raise ValueError("unsupported YAML: %r" % text)
    if text in ("~", "null"):
        return None
    return text


def _key_value(content):
    """(key, rest) of a mapping entry `key: rest` or `key:`, or None."""
    if content.startswith('"'):
        m = re.match(r'("(?:[^"\\]|\\.)*")\s*:(?:\s+(.*))?$', content)
    elif content.startswith("'"):
        m = re.match(r"('(?:[^']|'')*')\s*:(?:\s+(.*))?$", content)
    else:
        m = re.match(r"([^\s#][^:]*?)\s*:(?:\s+(.*))?$", content)
    if not m:
        return None
    return _scalar(m.group(1)), (m.group(2) or "").strip()


def _block_scalar(ls, i, parent_indent, header):
    m = re.match(r"\|([1-9])?([-+])?$", header) or re.match(r"\|([-+])?([1-9])?$", header)
    if not m:
        raise ValueError("unsupported block scalar header %r" % header)
    groups = [g for g in m.groups() if g]
    chomp = next((g for g in groups if g in "-+"), "")
    digit = next((g for g in groups if g.isdigit()), None)
    body = []
    indent = parent_indent + int(digit) if digit else None
    while i < len(ls.lines):
        line = ls.lines[i]
        if line.strip() == "":
            body.append("")
            i += 1
            continue
        if indent is None:
            indent = _indent(line)
            if indent <= parent_indent:
                break
        if _indent(line) < indent:
            break
        body.append(line[indent:])
        i += 1
    while body and body[-1] == "" and i >= len(ls.lines):
        body.pop()  # the text's own final newline
    trailing = 0
    while body and body[-1] == "":
        body.pop()
        trailing += 1
    text = "\n".join(body)
    if chomp == "+":
        text += "\n" * (trailing + 1)
    elif chomp == "" and body:
        text += "\n"
    return text, i


def _node(ls, i, indent):
    """The node whose lines start at i with this indentation: (value, next line)."""
    line = ls.lines[i]
    content = line[indent:]
    if content == "-" or content.startswith("- "):
        return _sequence(ls, i, indent)
    return _mapping(ls, i, indent)


def _value(ls, i, indent, rest):
    """The value after `key:` (rest), the entry at line i-1 with this indentation."""
    if rest.startswith("|"):
        return _block_scalar(ls, i, indent, rest)
    if rest:
        return _scalar(rest), i
    j = ls.significant(i)
    if j < len(ls.lines):
        child = _indent(ls.lines[j])
        content = ls.lines[j][child:]
        is_item = content == "-" or content.startswith("- ")
        if child > indent or (child == indent and is_item):
            return _node(ls, j, child)
    return None, i


def _mapping(ls, i, indent):
    out = {}
    while True:
        i = ls.significant(i)
        if i >= len(ls.lines) or ls.lines[i].strip() == "---":
            return out, i
        line = ls.lines[i]
        ind = _indent(line)
        content = line[ind:]
        if ind < indent or (ind == indent and (content == "-" or content.startswith("- "))):
            return out, i
        if ind > indent:
            raise ValueError("line %d: unexpected indentation: %r" % (i + 1, line))
        kv = _key_value(content)
        if kv is None:
            raise ValueError("line %d: not a mapping entry: %r" % (i + 1, line))
        key, rest = kv
        out[key], i = _value(ls, i + 1, indent, rest)


def _sequence(ls, i, indent):
    out = []
    while True:
        i = ls.significant(i)
        if i >= len(ls.lines) or ls.lines[i].strip() == "---":
            return out, i
        line = ls.lines[i]
        ind = _indent(line)
        content = line[ind:]
        if ind != indent or not (content == "-" or content.startswith("- ")):
            return out, i
        rest = content[1:].strip()
        if not rest:
            j = ls.significant(i + 1)
            if j < len(ls.lines) and _indent(ls.lines[j]) > indent:
                item, i = _node(ls, j, _indent(ls.lines[j]))
            else:
                item, i = None, i + 1
        elif _key_value(rest) is not None and not rest.startswith(("[", "{")):
            # `- key: value`: a mapping whose entries sit two columns right of the dash.
            ls.lines[i] = " " * (indent + 2) + rest
            item, i = _mapping(ls, i, indent + 2)
        else:
            item, i = _scalar(rest), i + 1
        out.append(item)


def load_all(text):
    """Every document of text, in order (empty documents left out)."""
    ls = _Lines(text)
    docs = []
    i = 0
    while True:
        i = ls.significant(i)
        if i >= len(ls.lines):
            return docs
        if ls.lines[i].strip() == "---":
            i += 1
            continue
        doc, i = _node(ls, i, _indent(ls.lines[i]))
        docs.append(doc)
