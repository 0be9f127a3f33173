#!/usr/bin/env python3
"""An independent Open Badges 3.0 baker (OB 3.0 §5.3 "Baked Badge").

Bakes a credential into a PNG and/or an SVG without any of accolade's code, so that
the service's reader can be checked against a second implementation:

- PNG (§5.3.1): an uncompressed ``iTXt`` chunk with keyword ``openbadgecredential``
  whose text is the compact JWS or the credential's JSON, written by Pillow.
- SVG (§5.3.2): an ``<openbadges:credential>`` element (namespace
  ``https://purl.imsglobal.org/ob/v3p0``) as the first child of ``<svg>``, written by
  ``xml.etree.ElementTree``: ``verify="<JWS>"`` for a VC-JWT, or the JSON as the
  element's (escaped) text for an embedded proof. §5.3.2 asks for the JSON to be
  wrapped in CDATA; ElementTree cannot write CDATA, so readers must also accept the
  escaped form this produces.

Usage:
    python3 bake.py --credential FILE_OR_JWS --png [in.png] out.png
    python3 bake.py --credential FILE_OR_JWS --svg [in.svg] out.svg
    python3 bake.py --credential FILE_OR_JWS --png out.png --svg out.svg

FILE_OR_JWS is a path to a file holding a compact JWS or a JSON credential, or a
compact JWS given inline. Without an input image a small one is generated. An
existing OB 3.0 credential in the input image is replaced (Pillow does not copy it;
the SVG element is removed first).

Needs Pillow for PNG (Debian: python3-pil; or pip install pillow).
"""

import argparse
import json
import os
import re
import sys
import xml.etree.ElementTree as ET

PNG_KEYWORD = "openbadgecredential"
OB3_NS = "https://purl.imsglobal.org/ob/v3p0"
SVG_NS = "http://www.w3.org/2000/svg"
COMPACT_JWS = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$")


def load_credential(arg):
    """Returns ("jwt", text) or ("json", text) for a path or an inline JWS."""
    if os.path.isfile(arg):
        with open(arg, "r", encoding="utf-8") as f:
            text = f.read()
    else:
        text = arg
    text = text.strip()
    if text.startswith("{"):
        try:
            value = json.loads(text)
        except ValueError as e:
            sys.exit(f"bake.py: the credential is not valid JSON: {e}")
        if not isinstance(value, dict):
            sys.exit("bake.py: the JSON credential is not an object")
        return "json", text
    if COMPACT_JWS.match(text):
        return "jwt", text
    sys.exit("bake.py: the credential is neither a JSON object nor a compact JWS "
             "(and no such file exists)")


def split_paths(paths, option):
    if len(paths) == 1:
        return None, paths[0]
    if len(paths) == 2:
        return paths[0], paths[1]
    sys.exit(f"bake.py: {option} takes [input] output")


def bake_png(text, src, dst):
    try:
        from PIL import Image, PngImagePlugin
    except ImportError:
        sys.exit("bake.py: Pillow is needed for PNG (apt-get install python3-pil, "
                 "or pip install --user pillow)")
    if src is None:
        image = Image.new("RGB", (64, 64), (46, 109, 180))
    else:
        image = Image.open(src)
        image.load()
    info = PngImagePlugin.PngInfo()
    # Keep the input's other text chunks; drop any earlier badge data.
    for key, value in getattr(image, "text", {}).items():
        if key in (PNG_KEYWORD, "openbadges"):
            continue
        info.add_text(key, value)
    # Uncompressed, empty language tag and translated keyword (§5.3.1).
    info.add_itxt(PNG_KEYWORD, text, lang="", tkey="", zip=False)
    image.save(dst, "PNG", pnginfo=info)


MINIMAL_SVG = (
    f'<svg xmlns="{SVG_NS}" width="64" height="64" viewBox="0 0 64 64">'
    '<circle cx="32" cy="32" r="28" fill="#2e6db4"/></svg>'
)


def bake_svg(kind, text, src, dst):
    ET.register_namespace("", SVG_NS)
    ET.register_namespace("openbadges", OB3_NS)
    parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True))
    if src is None:
        root = ET.fromstring(MINIMAL_SVG, parser=parser)
    else:
        root = ET.parse(src, parser=parser).getroot()
    if root.tag != f"{{{SVG_NS}}}svg":
        sys.exit(f"bake.py: the root element of {src} is not <svg>")
    # One credential only (§5.3.2): replace any earlier one.
    for parent in root.iter():
        for child in list(parent):
            if child.tag == f"{{{OB3_NS}}}credential":
                parent.remove(child)
    element = ET.Element(f"{{{OB3_NS}}}credential")
    if kind == "jwt":
        element.set("verify", text)
    else:
        element.text = text
    element.tail = "\n"
    root.insert(0, element)
    ET.ElementTree(root).write(dst, encoding="utf-8", xml_declaration=True)


def main():
    p = argparse.ArgumentParser(
        description="Bake an Open Badges 3.0 credential into PNG and/or SVG images.")
    p.add_argument("--credential", required=True, metavar="FILE_OR_JWS",
                   help="a file holding a compact JWS or a JSON credential, "
                        "or a compact JWS")
    p.add_argument("--png", nargs="+", metavar="PATH",
                   help="[in.png] out.png (without in.png a 64x64 image is made)")
    p.add_argument("--svg", nargs="+", metavar="PATH",
                   help="[in.svg] out.svg (without in.svg a minimal SVG is made)")
    args = p.parse_args()
    if not args.png and not args.svg:
        p.error("give --png and/or --svg")
    kind, text = load_credential(args.credential)
    if args.png:
        src, dst = split_paths(args.png, "--png")
        bake_png(text, src, dst)
        print(f"baked {kind} into {dst}")
    if args.svg:
        src, dst = split_paths(args.svg, "--svg")
        bake_svg(kind, text, src, dst)
        print(f"baked {kind} into {dst}")


if __name__ == "__main__":
    main()
