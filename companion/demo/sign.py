#!/usr/bin/env python3
"""Signs the SYNTHETIC demo PECs of this folder with a throw-away demo CA.

Each demo file is a PEC envelope or receipt (`multipart/signed`); this script replaces its
`smime.p7s` with a real detached S/MIME signature over the first part, made by a demo
provider certificate issued by a demo root CA (`demo-ca.pem`, committed; the private keys are
generated in a temp folder and thrown away). `pecdesk inspect --ca-bundle
companion/demo/demo-ca.pem companion/demo/*.eml` then reports the signatures as valid, and the
companion trusts that CA in demo mode only.

Run from anywhere: python3 companion/demo/sign.py   (needs the openssl CLI)
"""
import base64
import pathlib
import re
import subprocess
import tempfile

HERE = pathlib.Path(__file__).resolve().parent


def run(*args: str) -> None:
    subprocess.run(args, check=True, capture_output=True)


def make_keys(tmp: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path]:
    ca_key, provider_key = tmp / "ca.key", tmp / "provider.key"
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "36500",
        "-subj", "/C=IT/O=PEC Demo S.p.A./CN=PEC Demo Root CA (solo dimostrazione)",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        "-keyout", str(ca_key), "-out", str(HERE / "demo-ca.pem"))
    ext = tmp / "leaf.ext"
    ext.write_text("basicConstraints=critical,CA:FALSE\n"
                   "keyUsage=critical,digitalSignature,nonRepudiation\n")
    csr = tmp / "provider.csr"
    run("openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes",
        "-subj", "/C=IT/O=PEC Demo S.p.A./CN=Posta Certificata PEC Demo",
        "-keyout", str(provider_key), "-out", str(csr))
    provider = tmp / "provider.pem"
    run("openssl", "x509", "-req", "-in", str(csr), "-CA", str(HERE / "demo-ca.pem"),
        "-CAkey", str(ca_key), "-set_serial", "4242", "-days", "36500", "-sha256",
        "-extfile", str(ext), "-out", str(provider))
    return provider, provider_key


def sign_file(path: pathlib.Path, provider: pathlib.Path, key: pathlib.Path,
              tmp: pathlib.Path) -> None:
    raw = path.read_bytes()
    boundary = re.search(rb'multipart/signed;[^\n]*boundary="([^"]+)"', raw, re.I)
    if not boundary:
        raise SystemExit(f"{path.name}: not multipart/signed")
    delim = b"--" + boundary.group(1)
    start = raw.index(delim + b"\n") + len(delim) + 1
    p7s_at = raw.index(b"\n" + delim, start)
    # The signed bytes: the first part as it stands, minus the line break before the next
    # boundary, with every line end as CRLF (RFC 5751 canonical form).
    content = raw[start:p7s_at].replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    (tmp / "content").write_bytes(content)
    run("openssl", "smime", "-sign", "-binary", "-md", "sha256", "-outform", "DER",
        "-in", str(tmp / "content"), "-signer", str(provider), "-inkey", str(key),
        "-out", str(tmp / "sig.der"))
    b64 = base64.encodebytes((tmp / "sig.der").read_bytes())
    after = raw[p7s_at + 1:]
    head_end = after.index(b"\n\n", len(delim)) + 2
    end = after.index(b"\n" + delim + b"--")
    path.write_bytes(raw[:p7s_at + 1] + after[:head_end] + b64 + after[end:])


def main() -> None:
    with tempfile.TemporaryDirectory() as t:
        tmp = pathlib.Path(t)
        provider, key = make_keys(tmp)
        for eml in sorted(HERE.glob("*.eml")):
            if b"multipart/signed" not in eml.read_bytes():
                # A message as sent (the Sent folder's copy): no provider signs it.
                print("left as sent", eml.name)
                continue
            sign_file(eml, provider, key, tmp)
            print("signed", eml.name)


if __name__ == "__main__":
    main()
