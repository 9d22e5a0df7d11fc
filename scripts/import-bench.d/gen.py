#!/usr/bin/env python3
"""Synthetic PEC messages for the import benchmark (ours, no corpus bytes): transport
envelopes (daticert.xml + postacert.eml, a text attachment of varied size) and receipts
(accettazione, avvenuta-consegna) with varied identificativo, into a Maildir.

    gen.py --out DIR --count N            # DIR/cur/*: N messages
    gen.py --big MB --out FILE.eml        # one envelope of about MB megabytes
"""
import argparse
import base64
import os
import random

FAKE_P7S = "UGVjRGVzayB0ZXN0OiBmaXJtYSBmaXR0aXppYSAvIGZha2Ugc2lnbmF0dXJl"
BOX = "protocollo@pec.demo.test"


def b64(data: bytes) -> str:
    s = base64.b64encode(data).decode()
    return "\r\n".join(s[i:i + 76] for i in range(0, len(s), 76))


def daticert(tipo, ident, msgid, sender, subject, consegna=None, ricevuta=None):
    extra = ""
    if ricevuta:
        extra += f'    <ricevuta tipo="{ricevuta}" />\n'
    if consegna:
        extra += f"    <consegna>{consegna}</consegna>\n"
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<postacert tipo="{tipo}" errore="nessuno">\n  <intestazione>\n'
        f"    <mittente>{sender}</mittente>\n"
        f'    <destinatari tipo="certificato">{BOX}</destinatari>\n'
        f"    <risposte>{sender}</risposte>\n    <oggetto>{subject}</oggetto>\n"
        "  </intestazione>\n  <dati>\n    <gestore-emittente>PEC Prova S.p.A.</gestore-emittente>\n"
        '    <data zona="+0100">\n      <giorno>16/11/2026</giorno>\n      <ora>11:20:00</ora>\n    </data>\n'
        f"    <identificativo>{ident}</identificativo>\n    <msgid>&lt;{msgid}&gt;</msgid>\n"
        f"{extra}  </dati>\n</postacert>\n"
    )


def signed(head, tag, parts):
    body = (
        f"{head}MIME-Version: 1.0\r\n"
        'Content-Type: multipart/signed; protocol="application/x-pkcs7-signature"; '
        f'micalg=sha-256; boundary="--s-{tag}"\r\n\r\nThis is a S/MIME signed message\r\n\r\n'
        f'----s-{tag}\r\nContent-Type: multipart/mixed; boundary="--m-{tag}"\r\n\r\n'
    )
    for p in parts:
        body += f"----m-{tag}\r\n{p}\r\n"
    body += (
        f"----m-{tag}--\r\n\r\n----s-{tag}\r\n"
        'Content-Type: application/x-pkcs7-signature; name="smime.p7s"\r\n'
        'Content-Disposition: attachment; filename="smime.p7s"\r\n'
        f"Content-Transfer-Encoding: base64\r\n\r\n{FAKE_P7S}\r\n\r\n----s-{tag}--\r\n"
    )
    return body.encode()


def text_part(t):
    return f"Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{t}\r\n"


def daticert_part(xml):
    return (
        'Content-Type: application/xml; name="daticert.xml"\r\n'
        'Content-Disposition: inline; filename="daticert.xml"\r\n'
        f"Content-Transfer-Encoding: base64\r\n\r\n{b64(xml.encode())}\r\n"
    )


def envelope(i, attach: bytes):
    ident = f"opec210.20261116{i:08d}.{i % 97}.{i % 13}.1.{i % 7}@pec.prova-gestore.test"
    msgid = f"client-{i}@mittente{i % 50}.test"
    sender = f"mittente{i % 50}@pec.altro.test"
    subject = f"Richiesta {i}: accesso agli atti (dati fittizi)"
    tag = f"e{i}"
    post = (
        'Content-Type: message/rfc822; name="postacert.eml"\r\n'
        'Content-Disposition: inline; filename="postacert.eml"\r\n\r\n'
        f"From: <{sender}>\r\nTo: <{BOX}>\r\nSubject: {subject}\r\n"
        f"Date: Mon, 16 Nov 2026 11:19:58 +0100\r\nMessage-ID: <{ident}>\r\n"
        f"X-Riferimento-Message-ID: <{msgid}>\r\nMIME-Version: 1.0\r\n"
        f'Content-Type: multipart/mixed; boundary="o-{tag}"\r\n\r\n'
        f"--o-{tag}\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n"
        f"Si trasmette quanto in oggetto, pratica {i} (dati fittizi).\r\n"
        f"--o-{tag}\r\nContent-Type: application/octet-stream; name=\"allegato-{i}.bin\"\r\n"
        f'Content-Disposition: attachment; filename="allegato-{i}.bin"\r\n'
        f"Content-Transfer-Encoding: base64\r\n\r\n{b64(attach)}\r\n--o-{tag}--\r\n"
    )
    head = (
        f'From: "Per conto di: {sender}" <posta-certificata@pec.prova-gestore.test>\r\n'
        f"Reply-To: <{sender}>\r\nTo: <{BOX}>\r\nSubject: POSTA CERTIFICATA: {subject}\r\n"
        f"Date: Mon, 16 Nov 2026 11:20:00 +0100\r\nMessage-ID: <{ident}>\r\n"
        f"X-Riferimento-Message-ID: <{msgid}>\r\nX-Trasporto: posta-certificata\r\n"
        "X-TipoRicevuta: completa\r\n"
    )
    xml = daticert("posta-certificata", ident, msgid, sender, subject, None, "completa")
    return signed(head, tag, [text_part("Messaggio di posta certificata (dati fittizi)."),
                              daticert_part(xml), post])


def receipt(i, kind):
    ident = f"opec210.20261116{i:08d}.{i % 97}.{i % 13}.1.{i % 7}@pec.prova-gestore.test"
    msgid = f"client-{i}@mittente{i % 50}.test"
    sender = BOX
    subject = f"Invio {i} (dati fittizi)"
    consegna = f"destinatario{i % 40}@pec.altro.test" if kind == "avvenuta-consegna" else None
    prefix = "CONSEGNA" if consegna else "ACCETTAZIONE"
    tipo = "X-TipoRicevuta: sintetica\r\n" if consegna else ""
    head = (
        f"From: posta-certificata@pec.prova-gestore.test\r\nTo: <{sender}>\r\n"
        f"Subject: {prefix}: {subject}\r\nDate: Mon, 16 Nov 2026 11:20:05 +0100\r\n"
        f"Message-ID: <r{i}.{kind}@pec.prova-gestore.test>\r\nX-Riferimento-Message-ID: <{msgid}>\r\n"
        f"X-Ricevuta: {kind}\r\n{tipo}"
    )
    xml = daticert(kind, ident, msgid, sender, subject, consegna, "sintetica" if consegna else None)
    return signed(head, f"r{i}", [text_part("Ricevuta (dati fittizi)."), daticert_part(xml)])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--count", type=int, default=0)
    ap.add_argument("--big", type=float, default=0)
    ap.add_argument("--seed", type=int, default=13)
    a = ap.parse_args()
    rnd = random.Random(a.seed)
    if a.big:
        # base64 grows by 4/3 (plus line breaks): about `big` MB on disk.
        raw = envelope(0, os.urandom(int(a.big * 1024 * 1024 * 0.74)))
        with open(a.out, "wb") as f:
            f.write(raw)
        return
    cur = os.path.join(a.out, "cur")
    for d in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(a.out, d), exist_ok=True)
    total = 0
    for i in range(a.count):
        r = i % 4
        if r in (0, 1):
            # Attachments of 0.5 to 24 KB, a few of 200 KB.
            size = 200 * 1024 if rnd.random() < 0.01 else rnd.randint(512, 24 * 1024)
            raw = envelope(i, rnd.randbytes(size))
        elif r == 2:
            raw = receipt(i, "accettazione")
        else:
            raw = receipt(i, "avvenuta-consegna")
        total += len(raw)
        with open(os.path.join(cur, f"{i:06d}.bench:2,S"), "wb") as f:
            f.write(raw)
    print(f"{a.count} messages, {total / 1e6:.1f} MB")


if __name__ == "__main__":
    main()
