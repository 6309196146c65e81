#!/usr/bin/python3
"""Parses an .eml file with Python's email package and prints a JSON summary of it.

Usage: eml_summary.py MESSAGE.eml [ATTACHMENT_DIR]
With ATTACHMENT_DIR, each attachment is also saved there under its filename.
"""
import json
import os
import sys
from email import message_from_bytes, policy


def main():
    raw = open(sys.argv[1], "rb").read()
    msg = message_from_bytes(raw, policy=policy.default)
    summary = {
        "from": str(msg["From"]),
        "to": str(msg["To"]),
        "to_address": msg["To"].addresses[0].addr_spec if msg["To"] else "",
        "to_name": msg["To"].addresses[0].display_name if msg["To"] else "",
        "subject": str(msg["Subject"]),
        "date": str(msg["Date"]),
        "message_id": str(msg["Message-ID"]),
        "mime_version": str(msg["MIME-Version"]),
        "content_type": msg.get_content_type(),
        "structure": [part.get_content_type() for part in msg.walk()],
        "defects": sum(len(part.defects) for part in msg.walk()),
        "ascii": all(b < 128 for b in raw),
        "crlf": b"\n" not in raw.replace(b"\r\n", b""),
        "max_line": max(len(line) for line in raw.split(b"\r\n")),
        "max_line_except_message_id": max(len(line) for line in raw.split(b"\r\n")
                                          if not line.lower().startswith(b"message-id:")),
        "longest_line": max(raw.split(b"\r\n"), key=len).decode("ascii", "replace"),
        "attachments": [],
    }
    plain = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    summary["text"] = plain.get_content().replace("\r\n", "\n") if plain else None
    summary["html"] = html.get_content().replace("\r\n", "\n") if html else None
    for part in msg.iter_attachments():
        data = part.get_content()
        entry = {"filename": part.get_filename(), "content_type": part.get_content_type(),
                 "disposition": part.get_content_disposition(), "size": len(data)}
        if len(sys.argv) > 2:
            path = os.path.join(sys.argv[2], os.path.basename(part.get_filename()))
            with open(path, "wb") as f:
                f.write(data)
            entry["saved_as"] = path
        summary["attachments"].append(entry)
    json.dump(summary, sys.stdout)


if __name__ == "__main__":
    main()
