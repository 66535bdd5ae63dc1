#!/usr/bin/env python3
"""Checks that every CloudFront Function in template.yaml carries its source file verbatim.

CloudFormation takes a CloudFront Function's code only inline (`FunctionCode`); neither
`sam build`/`sam package` nor `aws cloudformation package` uploads or inlines a local file for
AWS::CloudFront::Function. So the code lives twice: in cloudfront/*.js, where it is tested, and
inline in the template, which is what deploys. Each AWS::CloudFront::Function names its file in
`Metadata: {SourceFile: ...}`; this script fails when the inline code differs from that file
(one trailing newline aside), when a function names no file, when a cloudfront/*.js file (tests
aside) is inlined nowhere, or when the code exceeds CloudFront's 10 KB function size limit.

Usage: scripts/check-cloudfront-inline.py          check (exit 1 and a diff on any mismatch)
       scripts/check-cloudfront-inline.py --write  copy each file into the template, then check
"""
import difflib
import pathlib
import re
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"
MAX_CODE_BYTES = 10 * 1024


def child(mapping, key):
    """The (key node, value node) of `key` in a YAML mapping node, or (None, None)."""
    if isinstance(mapping, yaml.MappingNode):
        for k, v in mapping.value:
            if isinstance(k, yaml.ScalarNode) and k.value == key:
                return k, v
    return None, None


def functions(text):
    """(logical id, source file, FunctionCode key node, FunctionCode value node) per function.

    Works on the YAML node graph, so CloudFormation's short-form tags (!Ref, !Sub...) need no
    constructors and the code's position in the text is known (for --write).
    """
    root = yaml.compose(text)
    _, resources = child(root, "Resources")
    found = []
    for name_node, resource in resources.value:
        _, rtype = child(resource, "Type")
        if rtype is None or rtype.value != "AWS::CloudFront::Function":
            continue
        _, metadata = child(resource, "Metadata")
        _, source = child(metadata, "SourceFile")
        _, properties = child(resource, "Properties")
        code_key, code = child(properties, "FunctionCode")
        found.append((name_node.value, source.value if source is not None else None, code_key, code))
    return found


def strip_newline(s):
    return s[:-1] if s.endswith("\n") else s


def render_block(code, indent):
    """`code` as a YAML literal block scalar whose lines are indented by `indent` spaces."""
    if code.endswith("\n") or code[:1] in (" ", "\t"):
        raise ValueError("cannot inline code that starts with blank space or ends in blank lines")
    lines = code.split("\n")
    return "|\n" + "".join((" " * indent + line if line else "") + "\n" for line in lines)


def write(text):
    """The template with every function's FunctionCode replaced by its source file."""
    edits = []
    for name, source, code_key, code in functions(text):
        if source is None or code is None:
            continue
        wanted = strip_newline((ROOT / source).read_text(encoding="utf-8"))
        if isinstance(code, yaml.ScalarNode) and strip_newline(code.value) == wanted:
            continue
        block = render_block(wanted, code_key.start_mark.column + 2)
        edits.append((code.start_mark.index, code.end_mark.index, block))
    for start, end, block in sorted(edits, reverse=True):
        # The scalar's span ends after any blank lines that follow it; keep those as they were.
        tail = re.search(r"\n(?:[ \t]*\n)*\Z", text[start:end])
        text = text[:start] + block[:-1] + (tail.group(0) if tail else "\n") + text[end:]
    return text


def check(text):
    problems = []
    inlined = set()
    for name, source, _, code in functions(text):
        if source is None:
            problems.append(f"{name}: no Metadata.SourceFile naming its cloudfront/*.js file")
            continue
        inlined.add((ROOT / source).resolve())
        path = ROOT / source
        if not path.is_file():
            problems.append(f"{name}: SourceFile {source} does not exist")
            continue
        if not isinstance(code, yaml.ScalarNode):
            problems.append(f"{name}: FunctionCode must be the code itself, inline")
            continue
        wanted = strip_newline(path.read_text(encoding="utf-8"))
        got = strip_newline(code.value)
        if got != wanted:
            diff = difflib.unified_diff(
                wanted.splitlines(keepends=True),
                got.splitlines(keepends=True),
                fromfile=source,
                tofile=f"template.yaml {name}.FunctionCode",
            )
            problems.append(f"{name}: inline code differs from {source}:\n" + "".join(diff))
        size = len(code.value.encode("utf-8"))
        if size > MAX_CODE_BYTES:
            problems.append(f"{name}: {size} bytes of code, CloudFront allows {MAX_CODE_BYTES}")
    for path in sorted((ROOT / "cloudfront").glob("*.js")):
        if not path.name.endswith(".test.js") and path.resolve() not in inlined:
            problems.append(f"{path.relative_to(ROOT)} is inlined in no AWS::CloudFront::Function")
    return problems


def main():
    text = TEMPLATE.read_text(encoding="utf-8")
    if sys.argv[1:] == ["--write"]:
        new = write(text)
        if new != text:
            TEMPLATE.write_text(new, encoding="utf-8")
            print("template.yaml: inline CloudFront Function code updated")
        text = new
    elif sys.argv[1:]:
        sys.exit(__doc__)
    problems = check(text)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        sys.exit(1)
    print("template.yaml: inline CloudFront Function code matches cloudfront/*.js")


if __name__ == "__main__":
    main()
