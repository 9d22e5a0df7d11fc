"""Packs the extension as the companion does (addin/README.md), for when no companion
serving /webext/pecdesk.xpi is at hand: python pack.py REPO WASM_DIR CONFIG_JSON OUT.xpi"""
import os
import sys
import zipfile

repo, wasm, config, out = sys.argv[1:5]
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
    z.write(os.path.join(repo, "manifests", "thunderbird.json"), "manifest.json")
    for base, prefix in [("addin/webext", ""), ("addin/pane", "pane/"), (wasm, "pane/wasm/")]:
        root = os.path.join(repo, base)
        if not os.path.isdir(root):
            continue
        for d, _, files in os.walk(root):
            for f in sorted(files):
                p = os.path.join(d, f)
                z.write(p, prefix + os.path.relpath(p, root))
    z.writestr("config.json", config)
